#pragma once

#include <vector>

#include <caf/fwd.hpp>

#include "messages/scheduler.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// Settings of the scheduler.
struct scheduler_config {
  /// A job whose run is lost (its node restarted) is queued again as a new
  /// attempt, up to this many attempts in all; then it is errored.
  int32_t max_attempts = 3;
  /// Worker slots already running (a restarted scheduler's predecessor had
  /// them): each is asked what it holds before any run is declared lost.
  std::vector<worker_actor> workers;
};

/// Spawns the scheduler. It first asks the worker slots of `cfg.workers`
/// what they run, then rebuilds its state from the store: created jobs are
/// queued once their stage has come up, queued ones wait again, runs a slot
/// still holds go on there, and the other runs in flight are lost and queued
/// again as a new attempt. It hands out no job before that is done. Then it
/// queues the jobs of the builds it is given stage by stage (the jobs of a
/// stage once every job of the stages before it has ended; the jobs of later
/// stages are canceled when a job that may not fail breaks, see
/// stage_policy.hpp), hands them to free worker slots, stores
/// every transition a worker reports before it acts on it, derives each
/// build's state from its jobs (allow_failures and fast_finish included) and
/// tells its listeners every stored transition.
scheduler_actor spawn_scheduler(caf::actor_system& sys, scheduler_config cfg,
                                store_actor store);

} // namespace conveyor
