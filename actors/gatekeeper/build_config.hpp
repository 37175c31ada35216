#pragma once

// Superseded for planning builds: `plan_build` (build_plan.hpp) reads configs
// with Travis's semantics through travis_config.hpp and travis_matrix.hpp.
// This older, smaller model is no longer used by the gatekeeper.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/build.hpp"
#include "messages/job.hpp"

namespace conveyor {

// -- config model -------------------------------------------------------------

/// Where something was written in the config file (1-based; 0 if unknown).
struct source_mark {
  int32_t line = 0;
  int32_t column = 0;
};

/// The commands of each phase as the config writes them. A phase the config
/// does not set is `std::nullopt`, so that a job of `jobs.include` can inherit
/// the root's commands for exactly the phases it leaves out.
struct phases_config {
  std::optional<std::vector<std::string>> before_install;
  std::optional<std::vector<std::string>> install;
  std::optional<std::vector<std::string>> before_script;
  std::optional<std::vector<std::string>> script;
  std::optional<std::vector<std::string>> after_success;
  std::optional<std::vector<std::string>> after_failure;
  std::optional<std::vector<std::string>> after_script;
};

/// One row of `env.jobs`: the variables of one job of the matrix.
struct env_row {
  std::vector<env_var> vars;
  source_mark mark;
};

/// The `env` section: variables every job gets, and one row per matrix job.
struct env_config {
  std::vector<env_var> global; ///< `env.global`, in order
  std::vector<env_row> jobs;   ///< `env.jobs`, `env.matrix` or a plain `env`
};

/// The `git` section: how a worker checks the commit out. A key left out is
/// inherited (a job of `jobs.include` from the root) or takes conveyor's
/// default: `clone: true` and a full clone. Travis clones 50 commits deep by
/// default; conveyor clones the whole history unless `depth` asks otherwise.
/// `submodules`, `quiet` and Travis's other `git` keys are read and warned
/// about (`unsupported_key`).
struct git_config {
  std::optional<bool> clone;    ///< `git.clone`: false runs without checkout
  std::optional<int32_t> depth; ///< `git.depth`: commits to fetch; 0 (for
                                ///< `false`) fetches the whole history
};

/// One entry of `jobs.include`: a job added to the matrix.
struct include_config {
  std::string name;
  std::vector<env_var> env; ///< the job's own variables, without global ones
  phases_config phases;     ///< unset phases are inherited from the root
  git_config git;           ///< unset keys are inherited from the root
  bool allow_failure = false;
  source_mark mark;
};

/// One entry of `jobs.allow_failures` or `jobs.exclude`. It matches a job when
/// every given criterion holds: each variable of `env` is among the job's own
/// variables, and `name` equals the job's name. An entry without any criterion
/// matches no job.
struct job_matcher {
  std::optional<std::vector<env_var>> env;
  std::optional<std::string> name;
  source_mark mark;
};

/// The `jobs` section (`matrix` is its older name).
struct jobs_config {
  std::vector<include_config> include;
  std::vector<job_matcher> exclude;
  std::vector<job_matcher> allow_failures;
  bool fast_finish = false;
};

/// The supported part of a `.conveyor.yml` / `.travis.yml`, as written (not yet
/// expanded into jobs; see job_matrix.hpp).
struct build_config {
  env_config env;
  phases_config phases; ///< the root phases
  git_config git;       ///< the root `git` section
  jobs_config jobs;
};

// -- limits -------------------------------------------------------------------

/// The most jobs one build may have (Travis's limit too). A config that asks
/// for more gets an error `too_many_jobs`.
constexpr size_t max_jobs = 200;

/// The most bytes of commands and variables one config may produce once YAML
/// aliases are expanded; beyond it the config gets an error `too_large`.
constexpr size_t max_config_bytes = 16 * 1024 * 1024;

// -- parsing ------------------------------------------------------------------

/// A config and the findings about it. Messages of level "error" mean the build
/// must not run; "warn" and "info" are kept for the user.
struct config_result {
  build_config config;
  std::vector<config_message> messages;
};

/// Parses the YAML text of a build config. Never throws: invalid YAML gives
/// one "error" message with code `syntax_error` and yaml-cpp's line and
/// column; keys conveyor does not support yet give `unsupported_key`, unknown
/// keys `unknown_key` (both "warn"), values of the wrong shape `invalid_type`
/// ("error"). No key is dropped without a message.
config_result parse_build_config(std::string_view yaml);

/// True if `messages` holds a message of level "error".
bool has_errors(const std::vector<config_message>& messages);

} // namespace conveyor
