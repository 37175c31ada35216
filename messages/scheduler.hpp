#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"
#include "messages/metrics.hpp"
#include "messages/worker.hpp"

namespace conveyor {

/// What the scheduler is doing right now.
struct scheduler_status {
  bool recovered = false; ///< its state is rebuilt from the store
  bool draining = false;  ///< it hands out no more jobs
  int32_t queued = 0;     ///< jobs waiting for a slot
  int32_t running = 0;    ///< jobs on a slot
  int32_t slots = 0;      ///< worker slots registered
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scheduler_status& x) {
  return f(caf::meta::type_name("conveyor::scheduler_status"), x.recovered,
           x.draining, x.queued, x.running, x.slots);
}

/// Receives build and job transitions after they are stored.
using build_listener_actor = caf::typed_actor<
  caf::reacts_to<build_state_changed>, caf::reacts_to<job_state_changed>>;

/// Queues jobs, assigns them to worker slots and drives their state machine.
using scheduler_actor = caf::typed_actor<
  /// A stored build whose jobs are to run (from the gatekeeper).
  caf::reacts_to<enqueue_atom, build_record>,
  /// A worker's report on a job attempt; answered once it is stored (true) or
  /// found stale (false). Workers repeat it until it is answered.
  caf::replies_to<job_state_changed>::with<bool>,
  /// Adds a free worker slot.
  caf::reacts_to<register_atom, worker_actor>,
  /// Adds a listener for every build and job transition. The answer comes
  /// from the scheduler itself (not its front): monitor its sender to know
  /// when to subscribe again.
  caf::replies_to<subscribe_atom, build_listener_actor>::with<bool>,
  /// Cancels every unfinished job of a build; answers false if none was left.
  caf::replies_to<cancel_atom, build_atom, int64_t>::with<bool>,
  /// Cancels one job; answers false if it had already finished.
  caf::replies_to<cancel_atom, job_atom, int64_t>::with<bool>,
  /// Runs a finished job again as a new attempt (the old attempt's log is
  /// kept); answers the queued job, `errc::unknown_job`, or `errc::conflict`
  /// while it still runs.
  caf::replies_to<restart_atom, job_atom, int64_t>::with<job_record>,
  /// Stops handing out jobs (queued ones stay queued, in the store too, for
  /// the next start); with `true`, also cancels the running ones (they end
  /// canceled, as a user's cancel would). Answers the status.
  caf::replies_to<drain_atom, bool>::with<scheduler_status>,
  /// Answers what the scheduler is doing.
  caf::replies_to<fetch_atom, status_atom>::with<scheduler_status>,
  /// Answers the scheduler's metrics: builds and jobs by state, queue depth,
  /// running jobs, worker slots busy and free.
  caf::replies_to<fetch_atom, metrics_atom>::with<metric_families>>;

} // namespace conveyor
