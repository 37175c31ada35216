#pragma once

#include <caf/fwd.hpp>

#include "messages/log_sequencer.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// Spawns a log sequencer. It persists every part it receives (the store keeps
/// one copy per job, attempt and number), releases the stored parts to its
/// listeners in order and exactly once, and when a log's final part and every
/// part before it are stored, has the store aggregate the log and tells the
/// listeners `log_completed`. Writes are batched, up to two batches in flight
/// (the next waits at the store while one is written); meanwhile new parts
/// gather for the batch after. A part is answered once its batch is stored.
log_sequencer_actor spawn_log_sequencer(caf::actor_system& sys,
                                        store_actor store);

} // namespace conveyor
