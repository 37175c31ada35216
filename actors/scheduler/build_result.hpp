#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "messages/build.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// A job as far as its build's result is concerned.
struct job_outcome {
  job_state state = job_state::created;
  bool allow_failure = false;
  int32_t stage_index = 0; ///< its build stage's position, from 0
};

/// Decides a build's result from its jobs, with Travis CI's rules: only the
/// jobs that may not fail count, and among them canceled wins over errored,
/// errored over failed, failed over passed. Without `fast_finish` the build
/// waits for every job, allowed failures included; with it, the result is
/// decided as soon as the required jobs are done or one of them broke.
/// With stages, the jobs canceled because an earlier stage broke (see
/// stage_policy.hpp) do not count: that stage's failure decides, as in
/// Travis. Returns nothing while undecided.
std::optional<build_state> decide_build(const std::vector<job_outcome>& jobs,
                                        bool fast_finish);

} // namespace conveyor
