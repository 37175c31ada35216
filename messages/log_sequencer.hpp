#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/log.hpp"
#include "messages/metrics.hpp"

namespace conveyor {

/// Receives a job attempt's log, in order and exactly once per part, and then
/// the news that the log is complete.
using log_listener_actor
  = caf::typed_actor<caf::reacts_to<log_part>, caf::reacts_to<log_completed>>;

/// Orders, persists and fans out log parts.
using log_sequencer_actor = caf::typed_actor<
  /// Takes a part in any order, any number of times (from workers); answers
  /// once the part is stored. Workers repeat a part until it is answered.
  caf::replies_to<log_part>::with<bool>,
  /// Adds a listener for every log (until the listener terminates). The answer
  /// comes from the sequencer itself: monitor its sender to know when to
  /// subscribe again.
  caf::replies_to<subscribe_atom, log_listener_actor>::with<bool>,
  /// Adds a listener for one log (job id, attempt) and answers the number of
  /// the first part it will be told; the parts before it are in the store.
  /// Answers -1 for a log that is already complete: read it from the store.
  caf::replies_to<subscribe_atom, log_atom, int64_t, int32_t,
                  log_listener_actor>::with<int32_t>,
  /// Answers the sequencer's metrics: parts and bytes ingested, duplicates.
  caf::replies_to<fetch_atom, metrics_atom>::with<metric_families>>;

} // namespace conveyor
