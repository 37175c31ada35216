#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "actors/gatekeeper/config_node.hpp"
#include "actors/gatekeeper/repository.hpp"
#include "actors/gatekeeper/travis_config.hpp"
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

/// The options real builds are planned with: at most 200 jobs per build, and
/// no Travis defaults (a config without `language`, `os` or `dist` gets
/// none: conveyor's workers run every job on their own system).
travis_options gatekeeper_travis_options();

/// What a config text plans, whatever the request: the findings and the
/// normalized config (see travis_config.hpp). Depends on the text alone, so
/// it can be cached by the config's blob id (see `plan_cache`). The jobs
/// depend on the request too (`if:` conditions, branches): `plan_build`
/// expands them.
struct planned_config {
  std::vector<config_message> messages; ///< findings about the config
  bool fast_finish = false;             ///< `jobs.fast_finish`
  bool errored = false;   ///< `messages` has an error: no jobs
  config_node config;     ///< the normalized config; null if errored
  travis_options options; ///< how `config` was read and is expanded
};

/// Reads, checks and normalizes the text of a build config.
planned_config plan_config(std::string_view content,
                           const travis_options& opts
                           = gatekeeper_travis_options());

/// Makes the build to store for a resolved request, with Travis's semantics:
///
/// - a request that is not approved (`[ci skip]`, `branches: only/except`,
///   the gh-pages branch, a build-level `if:` that does not hold; see
///   approval.hpp) gives an `errored` build without jobs whose messages end
///   with an "error" naming the rule (code `ci_skip`, `branch_not_included`,
///   `branch_excluded`, `github_pages` or `build_condition`) and the reason;
/// - no config, or a config with errors, gives an `errored` build without
///   jobs and the findings;
/// - otherwise the build is `created` with one job per job of the Travis
///   plan (matrix, includes, excludes, `if:`, stages, allow_failures, in
///   Travis's order; ids left 0 for the store), warnings in `messages`.
///
/// A job without a script is an error `missing_script` (conveyor has no
/// language defaults), unless its script is `skip`: as in Travis, a phase
/// given as just `skip` or `ignore` is not run. A config that expands to no
/// job (every `if:` false) is an error `no_jobs`.
///
/// Each job gets `env.global` and its own variables, after the variables
/// Travis derives from the job: `TRAVIS_OS_NAME`, `TRAVIS_DIST`,
/// `TRAVIS_CPU_ARCH`, `TRAVIS_OSX_IMAGE`, `TRAVIS_LANGUAGE`,
/// `TRAVIS_JOB_NAME`, `TRAVIS_BUILD_STAGE_NAME`, `TRAVIS_COMPILER` (and `CC`
/// / `CXX` for C and C++) and the version of its language
/// (`TRAVIS_RUBY_VERSION` for `rvm`, `TRAVIS_PYTHON_VERSION`, ...). Its name
/// is the `name` it is given, else the matrix values that set it apart from
/// the build's other jobs (e.g. `rvm: 2.7, os: osx`), prefixed by its stage
/// (`deploy: ship`) when the build has stages.
build_record plan_build(const build_request& req, const config_file& file,
                        const job_limits& limits, int64_t now_ms);

/// Like `plan_build` above, with `plan` the `plan_config` of `file.content`
/// (ignored when `file.name` is empty). Gives the same build.
build_record plan_build(const build_request& req, const config_file& file,
                        const planned_config& plan, const job_limits& limits,
                        int64_t now_ms);

} // namespace conveyor
