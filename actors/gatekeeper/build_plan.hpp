#pragma once

#include <cstdint>
#include <filesystem>

#include <caf/expected.hpp>

#include "actors/gatekeeper/repository.hpp"
#include "messages/build.hpp"
#include "messages/build_request.hpp"
#include "messages/job.hpp"

namespace conveyor {

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

// -- builds -------------------------------------------------------------------

/// Makes the build to store for a resolved request: `created` with one job per
/// expanded matrix job (ids left 0 for the store), warnings in `messages`; or
/// `errored` without jobs when there is no config or it has errors.
build_record plan_build(const build_request& req, const config_file& file,
                        const job_limits& limits, int64_t now_ms);

} // namespace conveyor
