#pragma once

// Travis CI's job matrix, from a normalized config (see travis_config.hpp)
// to the jobs of a build, following travis-yml step by step:
//
// 1. `expand_travis_matrix` (`Travis::Yml::Matrix#rows`): the cartesian
//    product of the matrix keys (schema order, `env` last and fastest),
//    `jobs.include` (a stage carries forward; a lone expanded job is dropped
//    when there are includes), the default job, shared root keys, the first
//    value of each matrix key for includes, `env.global` first,
//    `jobs.exclude`, keys the job's language/os/arch does not support,
//    duplicates, and jobs whose `if:` does not hold;
// 2. `apply_travis_stages` (`Configs::Stages`): stage names for stage-less
//    jobs, the stage list, stage `if:`, empty stages;
// 3. `apply_allow_failures` (`Configs::AllowFailures`);
// 4. `reorder_travis_jobs` (`Configs::Reorder`): by stage, then allowed
//    failures last, then as listed; then duplicates are removed.
//
// `plan_travis_jobs` runs them all, as `Travis::Yml::Configs#load` does.
//
// A job ("row") is a flat map: matrix keys hold one string each, `env` a
// list of variable maps (`env.global` entries first), and the shared root
// keys (`language`, `script`, `git`, ...) are copied in.
//
// `data` is what conditions see besides the job (branch, repo, type, tag,
// sender, env from repository settings as a list of one-variable maps...);
// an empty map still means conditions are evaluated.

#include <string>
#include <vector>

#include "actors/gatekeeper/condition.hpp"
#include "actors/gatekeeper/config_node.hpp"
#include "actors/gatekeeper/travis_config.hpp"
#include "messages/build.hpp"

namespace conveyor {

// -- limits -------------------------------------------------------------------

/// The most jobs the matrix may expand to before `jobs.exclude`, `if:` and
/// deduplication; more is an error `too_many_jobs` (nothing is expanded).
/// Beside it, an error `too_large` stops a matrix whose jobs would copy more
/// than 2 million keys and env entries together, `jobs.exclude` or
/// `jobs.allow_failures` rules that would take more than 20 million checks,
/// and conditions that take more than 3 seconds to evaluate in one step.
constexpr std::size_t max_matrix_rows = 5000;

// -- conditions ---------------------------------------------------------------

/// What a condition sees for `subject` (a job, or the root config for stage
/// and build conditions): `data` deep-merged with `subject`, the subject
/// winning. Env vars are those of `data` then the subject's (`env.global`
/// and `env.jobs` of a root config), the later winning.
condition_data condition_data_of(const config_node& data,
                                 const config_node& subject);

/// Travis's `Condition#accept?`: true if `cond` is null; otherwise whether
/// the condition holds for `subject` and `data`. An invalid condition does
/// not hold; its error is stored in `error` if given.
bool accept_condition(const config_node& cond, const config_node& subject,
                      const config_node& data, std::string* error = nullptr);

// -- steps --------------------------------------------------------------------

/// The matrix rows and the findings made while expanding them.
struct travis_rows {
  std::vector<config_node> rows;        ///< the jobs, in order
  std::vector<config_message> messages; ///< e.g. `skip_job`, `too_many_jobs`
};

/// Expands a normalized config into its rows (step 1 above).
travis_rows expand_travis_matrix(const config_node& config,
                                 const config_node& data,
                                 const travis_options& opts = {});

/// The stages of a build and its jobs with their stages.
struct travis_stages {
  std::vector<config_node> stages; ///< `{name, if?}` maps, in order
  std::vector<config_node> jobs;   ///< each with its `stage`
  std::vector<config_message> messages; ///< `skip_stage`
};

/// Assigns stages (step 2 above); `config` is the root config, whose
/// `stages` section is read and against which stage conditions run.
travis_stages apply_travis_stages(const config_node& config,
                                  std::vector<config_node> jobs,
                                  const config_node& data);

/// Sets `allow_failure: true` on the jobs matched by a rule of
/// `jobs.allow_failures` whose `if:` holds (step 3 above).
std::vector<config_node> apply_allow_failures(
  const config_node& config, std::vector<config_node> jobs,
  const config_node& data, std::vector<config_message>& messages);

/// Orders jobs by their stage's position in `stages`, then allowed failures
/// after the others, then as given (step 4 above).
std::vector<config_node> reorder_travis_jobs(
  const std::vector<config_node>& stages, std::vector<config_node> jobs);

/// Removes repeated jobs, keeping the first of each.
std::vector<config_node> unique_jobs(std::vector<config_node> jobs);

// -- the whole ----------------------------------------------------------------

/// The jobs of a build as Travis plans them.
struct travis_plan {
  std::vector<config_node> stages; ///< `{name, if?}` maps, in order
  std::vector<config_node> jobs;   ///< in the order they run
  bool fast_finish = false; ///< `jobs.fast_finish`
  /// Findings; an error `too_many_jobs` if the build has more than
  /// `max_jobs` jobs (then `jobs` is empty).
  std::vector<config_message> messages;
};

/// Runs all steps above on a normalized config.
travis_plan plan_travis_jobs(const config_node& config,
                             const config_node& data,
                             const travis_options& opts = {});

} // namespace conveyor
