#pragma once

#include <string>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// A request to build one commit, from a webhook, the REST API or `conveyor run`.
/// `request_id` is a UUID that follows the build into every record and log line.
struct build_request {
  std::string request_id;     ///< UUID, set by whoever accepts the request
  std::string source;         ///< "cli", "api" or "webhook"
  std::string repo;           ///< local path or clone URL
  std::string slug;           ///< owner/name, for display and TRAVIS_REPO_SLUG
  std::string ref;            ///< what was asked for, e.g. HEAD or refs/heads/main
  std::string sha;            ///< the commit; empty until the gatekeeper resolves `ref`
  std::string branch;         ///< branch name, empty for a tag build
  std::string tag;            ///< tag name for a tag build
  std::string event;          ///< "push", "pull_request", "api", "cron"
  std::string commit_message; ///< the commit's message
  std::string sender;         ///< who triggered it
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_request& x) {
  return f(caf::meta::type_name("conveyor::build_request"), x.request_id,
           x.source, x.repo, x.slug, x.ref, x.sha, x.branch, x.tag, x.event,
           x.commit_message, x.sender);
}

} // namespace conveyor
