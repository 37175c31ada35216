#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/log.hpp"

namespace conveyor {

/// Receives a job attempt's log, in order and exactly once per part, and then
/// the news that the log is complete.
using log_listener_actor
  = caf::typed_actor<caf::reacts_to<log_part>, caf::reacts_to<log_completed>>;

/// Orders, persists and fans out log parts.
using log_sequencer_actor = caf::typed_actor<
  /// Takes a part in any order, any number of times (from workers).
  caf::reacts_to<log_part>,
  /// Adds a listener for every log (until the listener terminates).
  caf::reacts_to<subscribe_atom, log_listener_actor>>;

} // namespace conveyor
