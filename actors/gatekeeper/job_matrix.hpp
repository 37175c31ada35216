#pragma once

// Superseded for planning builds: `plan_build` (build_plan.hpp) reads configs
// with Travis's semantics through travis_config.hpp and travis_matrix.hpp.
// This older, smaller model is no longer used by the gatekeeper.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/gatekeeper/build_config.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"

namespace conveyor {

// -- matrix -------------------------------------------------------------------

/// One job of an expanded build config.
struct matrix_job {
  std::string name;             ///< from `jobs.include`, else empty
  std::vector<env_var> own_env; ///< the job's own matrix variables
  std::vector<env_var> env;     ///< `env.global` first, then `own_env`
  job_phases phases;
  bool clone = true;        ///< `git.clone`
  int32_t clone_depth = 0;  ///< `git.depth`; 0: the whole history
  bool allow_failure = false;
};

/// Expands `cfg` into its jobs, in order: one job per `env.jobs` row (or one
/// job without matrix variables if there is none), then one per
/// `jobs.include` entry, which inherits the root phases and `git` keys it does
/// not set. As in
/// Travis, the root job is left out when there are includes, no env rows and
/// no root script. `jobs.exclude` removes the jobs it matches and
/// `jobs.allow_failures` flags them. Appends an error `missing_script` for
/// each job without a script, and `no_jobs` / `too_many_jobs` / `too_large`
/// when the result is empty or too big.
std::vector<matrix_job> expand_matrix(const build_config& cfg,
                                      std::vector<config_message>& messages);

/// True if `rule` matches `job` (see job_matcher).
bool matches(const job_matcher& rule, const matrix_job& job);

/// Renders the job's own matrix variables for display, e.g. `FOO=a BAR='b c'`.
std::string display_env(const matrix_job& job);

} // namespace conveyor
