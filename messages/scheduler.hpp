#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"
#include "messages/worker.hpp"

namespace conveyor {

/// Receives build and job transitions after they are stored.
using build_listener_actor = caf::typed_actor<
  caf::reacts_to<build_state_changed>, caf::reacts_to<job_state_changed>>;

/// Queues jobs, assigns them to worker slots and drives their state machine.
using scheduler_actor = caf::typed_actor<
  /// A stored build whose jobs are to run (from the gatekeeper).
  caf::reacts_to<enqueue_atom, build_record>,
  /// A worker's report on a job attempt.
  caf::reacts_to<job_state_changed>,
  /// Adds a free worker slot.
  caf::reacts_to<register_atom, worker_actor>,
  /// Adds a listener for every build and job transition.
  caf::reacts_to<subscribe_atom, build_listener_actor>,
  /// Cancels every unfinished job of a build; answers false if none was left.
  caf::replies_to<cancel_atom, build_atom, int64_t>::with<bool>,
  /// Cancels one job; answers false if it had already finished.
  caf::replies_to<cancel_atom, job_atom, int64_t>::with<bool>>;

} // namespace conveyor
