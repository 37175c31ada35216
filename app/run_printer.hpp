#pragma once

#include <cstdio>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/build.hpp"
#include "messages/log.hpp"

namespace conveyor {

/// Prints one build's jobs' logs live, each line prefixed with its job number,
/// and tells `waiter` `(complete_atom, build_id)` once the build is finished,
/// every job has ended and every log is complete. It listens to the scheduler
/// and the log sequencer of a node that runs only this build.
using run_printer_actor = caf::typed_actor<
  caf::reacts_to<log_part>, caf::reacts_to<log_completed>,
  caf::reacts_to<build_state_changed>, caf::reacts_to<job_state_changed>,
  /// The build to watch, as the gatekeeper answered it.
  caf::reacts_to<build_record>>;

/// Spawns a printer writing to `out`.
run_printer_actor spawn_run_printer(caf::actor_system& sys, caf::actor waiter,
                                    std::FILE* out);

} // namespace conveyor
