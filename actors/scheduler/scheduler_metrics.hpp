#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "messages/build.hpp"
#include "messages/job.hpp"
#include "messages/metrics.hpp"

namespace conveyor {

/// What the scheduler counts, and the gauges it reports, as plain numbers.
struct scheduler_metrics {
  std::map<build_state, double> builds_finished; ///< by final state
  std::map<job_state, double> jobs_finished;     ///< by final state
  double transitions_applied = 0;
  double transitions_ignored = 0; ///< stale or not allowed
  double jobs_requeued = 0;       ///< new attempts after a lost run or restart

  // Gauges, filled in when the metrics are asked for.
  std::map<build_state, double> builds_open; ///< created, started
  std::map<job_state, double> jobs_open;     ///< created … started
  double queue_depth = 0;
  double slots_busy = 0;
  double slots_free = 0;
};

/// Renders the numbers as Prometheus metric families.
metric_families to_families(const scheduler_metrics& x);

} // namespace conveyor
