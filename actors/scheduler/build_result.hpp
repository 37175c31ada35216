#pragma once

#include <optional>
#include <vector>

#include "messages/build.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// A job as far as its build's result is concerned.
struct job_outcome {
  job_state state = job_state::created;
  bool allow_failure = false;
};

/// Decides a build's result from its jobs, with Travis CI's rules: only the
/// jobs that may not fail count, and among them canceled wins over errored,
/// errored over failed, failed over passed. Without `fast_finish` the build
/// waits for every job, allowed failures included; with it, the result is
/// decided as soon as the required jobs are done or one of them broke.
/// Returns nothing while undecided.
std::optional<build_state> decide_build(const std::vector<job_outcome>& jobs,
                                        bool fast_finish);

} // namespace conveyor
