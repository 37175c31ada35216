#include "actors/scheduler/build_result.hpp"

#include <algorithm>

#include "actors/scheduler/stage_policy.hpp"

namespace conveyor {

namespace {

bool broke(job_state x) {
  return x == job_state::failed || x == job_state::errored
         || x == job_state::canceled;
}

build_state worst_of(const std::vector<job_outcome>& jobs) {
  auto any = [&jobs](job_state wanted) {
    return std::any_of(jobs.begin(), jobs.end(), [wanted](const job_outcome& x) {
      return !x.allow_failure && x.state == wanted;
    });
  };
  if (any(job_state::canceled))
    return build_state::canceled;
  if (any(job_state::errored))
    return build_state::errored;
  if (any(job_state::failed))
    return build_state::failed;
  // A build whose jobs were all canceled before any ran is canceled, even if
  // every job was allowed to fail.
  auto all_canceled = !jobs.empty()
                      && std::all_of(jobs.begin(), jobs.end(),
                                     [](const job_outcome& x) {
                                       return x.state == job_state::canceled;
                                     });
  return all_canceled ? build_state::canceled : build_state::passed;
}

// The jobs that count: without those canceled because an earlier stage
// broke (they never ran).
std::vector<job_outcome> counted(const std::vector<job_outcome>& jobs) {
  std::vector<staged_job> staged;
  staged.reserve(jobs.size());
  for (const auto& job : jobs)
    staged.push_back({0, job.stage_index, job.state, job.allow_failure});
  auto broken = broken_stage(staged);
  if (broken < 0)
    return jobs;
  std::vector<job_outcome> result;
  for (const auto& job : jobs)
    if (job.state != job_state::canceled || job.stage_index <= broken)
      result.push_back(job);
  return result;
}

} // namespace

std::optional<build_state> decide_build(const std::vector<job_outcome>& all,
                                        bool fast_finish) {
  auto jobs = counted(all);
  auto all_done = std::all_of(jobs.begin(), jobs.end(), [](const job_outcome& x) {
    return is_terminal(x.state);
  });
  if (all_done)
    return worst_of(jobs);
  if (!fast_finish)
    return std::nullopt;
  auto required_done = true;
  auto required_broke = false;
  for (auto& job : jobs) {
    if (job.allow_failure)
      continue;
    required_done = required_done && is_terminal(job.state);
    required_broke = required_broke || broke(job.state);
  }
  if (required_done || required_broke)
    return worst_of(jobs);
  return std::nullopt;
}

} // namespace conveyor
