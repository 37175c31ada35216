#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "messages/job.hpp"

namespace conveyor {

/// Where a build script works. Both paths are absolute.
struct build_layout {
  /// The checkout the phases run in (TRAVIS_BUILD_DIR).
  std::filesystem::path build_dir;
  /// Where the script records its result; must be outside `build_dir`.
  std::filesystem::path result_file;
};

/// What a build script records once its result is known.
///
/// The script writes one line, `<state> <exit code> <phase>`, to the result
/// file as soon as the result is decided: after the `script` phase, or when a
/// setup command fails. The `after_*` phases run afterwards and cannot change
/// it. When the file is missing, the script ended before its result was known
/// (a command called `exit`, `exec` or `set -e`, or the shell was killed): the
/// runner reports such an attempt as errored.
struct script_result {
  /// passed, failed or errored.
  job_state state = job_state::errored;
  /// The script's exit status: 0 (passed), 1 (failed) or the exit status of
  /// the failing setup command (errored).
  int exit_code = -1;
  /// The phase that decided: "script", or the setup phase that failed
  /// ("clone", "before_install", "install" or "before_script").
  std::string phase;
};

/// Returns `x` as one shell word: unchanged if it has no special characters,
/// single-quoted otherwise (a `'` becomes `'\''`).
std::string shell_word(std::string_view x);

/// True if `x` can name an environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
bool is_valid_env_name(std::string_view x);

/// The variable of the job's environment that holds the value of the HTTP
/// `Authorization` header git sends to the repository's host while it
/// clones and fetches a private repository, e.g. `basic <base64>`.
///
/// Only the worker sets it (`set_git_auth`): one of that name in a config's
/// `env` is dropped. The script never writes its value: it is not exported
/// nor echoed, the clone and fetch commands read it from the environment
/// (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`, so it is in
/// no command line either) for the URL's origin only, with git's tracing
/// switched off, and it is unset before the first command of the config
/// runs.
constexpr const char* git_auth_variable = "CONVEYOR_GIT_AUTH";

/// Drops any `git_auth_variable` from `spec.env`, then adds it with
/// `header` unless `header` is empty.
void set_git_auth(job_spec& spec, std::string header);

/// The origin of an `http://` or `https://` URL, `scheme://authority/`
/// (without user info); empty for any other URL or a path.
std::string http_origin(std::string_view url);

/// Generates the bash script of one job attempt, with Travis CI's semantics:
/// the job's env is exported (values literally, never expanded: the config
/// layer un-quotes Travis's `FOO="b c"` into the value `b c`; names that are
/// not valid are skipped with a warning in the log), `spec.repo` is cloned into
/// `where.build_dir` and `spec.sha` checked out (no clone if `spec.repo` is
/// empty, no checkout if `spec.sha` is empty), then the phases run in that
/// directory, each command echoed as `$ command` and run with `eval` in the
/// same shell, so `export` and `cd` persist across commands and phases.
/// - A failing clone, `before_install`, `install` or `before_script` command
///   stops the build: errored; only `after_script` still runs.
/// - Every `script` command runs; any failure makes the result failed.
///   TRAVIS_TEST_RESULT (0 or 1) is exported after each of them.
/// - Then `after_success` or `after_failure` (not for errored), then
///   `after_script`; their failures change nothing.
/// With a `git_auth_variable` in `spec.env` and an http(s) `spec.repo`, the
/// clone authenticates with it (see `git_auth_variable`).
/// The script exits with the recorded exit code; see `script_result`.
std::string make_build_script(const job_spec& spec, const build_layout& where);

/// Parses the content of a result file; nothing if it is not well-formed.
std::optional<script_result> parse_script_result(std::string_view text);

} // namespace conveyor
