#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "messages/job.hpp"

namespace conveyor {

/// The jobs waiting for a worker slot, first in first out. The policy lives
/// here, apart from the actor, so fairness rules can grow without touching it.
class job_queue {
public:
  /// Adds a job at the back.
  void push(job_spec job);

  /// Takes the next job to run, if any.
  std::optional<job_spec> pop();

  /// Removes a job; returns false if it was not queued.
  bool remove(int64_t job_id);

  /// How many jobs wait.
  size_t size() const {
    return jobs_.size();
  }

private:
  std::deque<job_spec> jobs_;
};

} // namespace conveyor
