#pragma once

#include <caf/fwd.hpp>

#include "messages/scheduler.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// Settings of the scheduler.
struct scheduler_config {
  /// A job whose run is lost (its node restarted) is queued again as a new
  /// attempt, up to this many attempts in all; then it is errored.
  int32_t max_attempts = 3;
};

/// Spawns the scheduler. It first rebuilds its state from the store: created
/// jobs are queued, queued ones wait again, and runs that were in flight when
/// the node stopped are lost and queued again as a new attempt. Then it queues
/// the jobs of the builds it is given, hands them to free worker slots, stores
/// every transition a worker reports before it acts on it, derives each
/// build's state from its jobs (allow_failures and fast_finish included) and
/// tells its listeners every stored transition.
scheduler_actor spawn_scheduler(caf::actor_system& sys, scheduler_config cfg,
                                store_actor store);

} // namespace conveyor
