#include "actors/scheduler/stage_policy.hpp"

#include <algorithm>
#include <limits>

namespace conveyor {

bool breaks_stage(job_state state, bool allow_failure) {
  return !allow_failure
         && (state == job_state::failed || state == job_state::errored
             || state == job_state::canceled);
}

int32_t broken_stage(const std::vector<staged_job>& jobs) {
  auto result = std::numeric_limits<int32_t>::max();
  for (const auto& job : jobs)
    if (breaks_stage(job.state, job.allow_failure))
      result = std::min(result, job.stage_index);
  return result == std::numeric_limits<int32_t>::max() ? -1 : result;
}

stage_step next_stage_step(const std::vector<staged_job>& jobs) {
  stage_step result;
  auto broken = broken_stage(jobs);
  // The stage running now: the first with a job that has not ended.
  auto current = std::numeric_limits<int32_t>::max();
  for (const auto& job : jobs)
    if (!is_terminal(job.state))
      current = std::min(current, job.stage_index);
  for (const auto& job : jobs) {
    if (job.state != job_state::created)
      continue;
    if (broken >= 0 && job.stage_index > broken)
      result.cancel.push_back(job.job_id);
    else if (job.stage_index == current)
      result.queue.push_back(job.job_id);
  }
  return result;
}

} // namespace conveyor
