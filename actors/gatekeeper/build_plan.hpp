#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "actors/gatekeeper/job_matrix.hpp"
#include "actors/gatekeeper/repository.hpp"
#include "messages/build.hpp"
#include "messages/build_request.hpp"
#include "messages/job.hpp"

namespace conveyor {

class repository_cache;

// -- requests -----------------------------------------------------------------

/// A request completed from its repository, with the config at its commit.
struct resolved_request {
  build_request request;
  config_file config; ///< `config.name` is empty if the commit has none
};

/// Opens the repository of `req.repo` and resolves `req.sha` if set, else
/// `req.ref` (HEAD if empty). Fills the full sha, the commit message, the
/// branch or tag (from the repository, or from a `refs/heads/...` /
/// `refs/tags/...` ref when a sha is given), the slug and the event ("push")
/// where the request leaves them empty, then reads the build config at that
/// commit.
///
/// A local path is opened as it is; its slug is the repository's name. A URL
/// (see `is_repository_url`) is first fetched into its mirror under
/// `mirror_root` (see `update_mirror`), which is then read the same way; its
/// slug is `owner/name` from the URL, and `req.repo` stays the URL, which the
/// worker clones. Blocks while fetching.
///
/// Fails with `errc::unknown_repository` (also for any URL when `mirror_root`
/// is empty, and when the fetch fails) or `errc::unknown_ref`.
caf::expected<resolved_request>
resolve_request(build_request req,
                const std::filesystem::path& mirror_root = {});

/// Like `resolve_request` above, but reads the repository (or the mirror,
/// still fetched every time) through `repos`, which keeps it open for the
/// next request. If the cached repository fails the request, it is dropped and
/// the request is tried once more with a freshly opened one, so that a
/// repository deleted, replaced or broken since it was cached gives the same
/// answer as without a cache.
caf::expected<resolved_request>
resolve_request(build_request req, const std::filesystem::path& mirror_root,
                repository_cache& repos);

// -- builds -------------------------------------------------------------------

/// What a config text plans, whatever the request: the findings and the
/// expanded jobs. Depends on the text alone, so it can be cached by the
/// config's blob id (see `plan_cache`).
struct planned_config {
  std::vector<config_message> messages;
  bool fast_finish = false;
  bool errored = false; ///< `messages` has an error: no jobs
  std::vector<matrix_job> jobs;
};

/// Parses, checks and expands the text of a build config.
planned_config plan_config(std::string_view content);

/// Makes the build to store for a resolved request: `created` with one job per
/// expanded matrix job (ids left 0 for the store), warnings in `messages`; or
/// `errored` without jobs when there is no config or it has errors.
build_record plan_build(const build_request& req, const config_file& file,
                        const job_limits& limits, int64_t now_ms);

/// Like `plan_build` above, with `plan` the `plan_config` of `file.content`
/// (ignored when `file.name` is empty). Gives the same build.
build_record plan_build(const build_request& req, const config_file& file,
                        const planned_config& plan, const job_limits& limits,
                        int64_t now_ms);

} // namespace conveyor
