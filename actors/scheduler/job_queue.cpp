#include "actors/scheduler/job_queue.hpp"

#include <algorithm>

namespace conveyor {

void job_queue::push(job_spec job) {
  jobs_.push_back(std::move(job));
}

std::optional<job_spec> job_queue::pop() {
  if (jobs_.empty())
    return std::nullopt;
  auto job = std::move(jobs_.front());
  jobs_.pop_front();
  return job;
}

bool job_queue::remove(int64_t job_id) {
  auto i = std::find_if(jobs_.begin(), jobs_.end(), [job_id](const job_spec& x) {
    return x.job_id == job_id;
  });
  if (i == jobs_.end())
    return false;
  jobs_.erase(i);
  return true;
}

} // namespace conveyor
