#pragma once

#include <caf/fwd.hpp>

#include "messages/scheduler.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// Spawns the scheduler. It queues the jobs of the builds it is given, hands
/// them to free worker slots, stores every transition a worker reports before
/// it acts on it, derives each build's state from its jobs (allow_failures and
/// fast_finish included) and tells its listeners every stored transition.
scheduler_actor spawn_scheduler(caf::actor_system& sys, store_actor store);

} // namespace conveyor
