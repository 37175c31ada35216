#pragma once

#include <cstdint>
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
  // For a pull request, `branch` is the base branch it targets (Travis's
  // TRAVIS_BRANCH) and `ref` is refs/pull/N/head of the base repository.
  int32_t pull_request = 0;   ///< the pull request's number; 0 if none
  std::string head_repo;      ///< owner/name the pull request comes from;
                              ///< empty if that repository was deleted
  std::string head_branch;    ///< the pull request's branch in `head_repo`
  bool fork = false;          ///< true unless the head repo is the base repo
  std::string delivery_id;    ///< X-GitHub-Delivery, for deduplication
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_request& x) {
  return f(caf::meta::type_name("conveyor::build_request"), x.request_id,
           x.source, x.repo, x.slug, x.ref, x.sha, x.branch, x.tag, x.event,
           x.commit_message, x.sender, x.pull_request, x.head_repo,
           x.head_branch, x.fork, x.delivery_id);
}

} // namespace conveyor
