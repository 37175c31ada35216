#include "actors/scheduler/scheduler_metrics.hpp"

namespace conveyor {

namespace {

template <class State>
metric_family by_state(std::string name, std::string help, std::string type,
                       const std::map<State, double>& values,
                       std::vector<State> states) {
  metric_family result{std::move(name), std::move(help), std::move(type), {}};
  for (auto state : states) {
    auto i = values.find(state);
    result.samples.push_back(
      {"", {{"state", to_string(state)}}, i == values.end() ? 0.0 : i->second});
  }
  return result;
}

metric_family single(std::string name, std::string help, std::string type,
                     double value) {
  return {std::move(name), std::move(help), std::move(type),
          {metric_sample{"", {}, value}}};
}

} // namespace

metric_families to_families(const scheduler_metrics& x) {
  using b = build_state;
  using j = job_state;
  return {
    by_state("conveyor_builds_finished_total", "Builds finished, by result.",
             "counter", x.builds_finished,
             {b::passed, b::failed, b::errored, b::canceled}),
    by_state("conveyor_jobs_finished_total",
             "Job attempts finished, by result.", "counter", x.jobs_finished,
             {j::passed, j::failed, j::errored, j::canceled}),
    by_state("conveyor_builds", "Unfinished builds, by state.", "gauge",
             x.builds_open, {b::created, b::started}),
    by_state("conveyor_jobs", "Unfinished jobs, by state.", "gauge",
             x.jobs_open, {j::created, j::queued, j::received, j::started}),
    single("conveyor_job_transitions_total",
           "Job transitions stored and acted on.", "counter",
           x.transitions_applied),
    single("conveyor_job_transitions_ignored_total",
           "Job transitions ignored as stale or not allowed.", "counter",
           x.transitions_ignored),
    single("conveyor_jobs_requeued_total",
           "Jobs queued again as a new attempt.", "counter", x.jobs_requeued),
    single("conveyor_queue_depth", "Jobs waiting for a worker slot.", "gauge",
           x.queue_depth),
    single("conveyor_jobs_running", "Jobs on a worker slot.", "gauge",
           x.slots_busy),
    metric_family{"conveyor_worker_slots", "Worker slots, busy or free.",
                  "gauge",
                  {metric_sample{"", {{"state", "busy"}}, x.slots_busy},
                   metric_sample{"", {{"state", "free"}}, x.slots_free}}},
  };
}

} // namespace conveyor
