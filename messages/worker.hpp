#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// A worker slot: runs one job attempt at a time. It reports `received`,
/// `started` and a terminal `job_state_changed` to the scheduler it serves, and
/// streams the attempt's output as `log_part`s to the log sequencer.
using worker_actor = caf::typed_actor<
  /// Runs a job attempt. A busy slot answers with an errored job event.
  caf::reacts_to<run_atom, job_spec>,
  /// Stops the attempt (job id, attempt) if it runs here: TERM, grace, KILL.
  caf::reacts_to<cancel_atom, int64_t, int32_t>>;

} // namespace conveyor
