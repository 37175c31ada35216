#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// What a worker slot holds: the attempt it runs, or whose end the scheduler
/// has not acknowledged yet.
struct worker_status {
  bool busy = false;
  int64_t job_id = 0;
  int32_t attempt = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_status& x) {
  return f(caf::meta::type_name("conveyor::worker_status"), x.busy, x.job_id,
           x.attempt);
}

/// A worker slot: runs one job attempt at a time. It reports `received`,
/// `started` and a terminal `job_state_changed` to the scheduler it serves and
/// streams the attempt's output as `log_part`s to the log sequencer, both as
/// requests it repeats until they are answered: a restart of either module
/// loses none of them.
using worker_actor = caf::typed_actor<
  /// Runs a job attempt. A busy slot answers with an errored job event.
  caf::reacts_to<run_atom, job_spec>,
  /// Stops the attempt (job id, attempt) if it runs here: TERM, grace, KILL.
  caf::reacts_to<cancel_atom, int64_t, int32_t>,
  /// Answers what the slot holds (asked by a scheduler that recovers).
  caf::replies_to<fetch_atom, status_atom>::with<worker_status>>;

} // namespace conveyor
