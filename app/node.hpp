#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "messages/gatekeeper.hpp"
#include "messages/job.hpp"
#include "messages/log_sequencer.hpp"
#include "messages/scheduler.hpp"
#include "messages/store.hpp"
#include "messages/worker.hpp"
#include "supervisors/supervisor.hpp"

namespace conveyor {

/// Settings of a node: where it keeps its data, how many jobs it runs at
/// once, and the limits every job gets.
struct node_config {
  std::filesystem::path data_dir;          ///< holds conveyor.db and work/
  size_t workers = 2;                      ///< local worker slots
  job_limits limits;                       ///< per-job time and log limits
  bool keep_workspaces = false;            ///< keep work/<job>-<attempt>/
  std::chrono::milliseconds kill_grace{5000}; ///< TERM → KILL on cancel
  int32_t max_attempts = 3;                ///< runs of a job lost to restarts
  bool noop_executor = false;              ///< run nothing (benchmarks)
};

/// The modules of a running node, wired together, under one supervisor.
struct node {
  caf::actor supervisor;
  store_actor store;
  log_sequencer_actor sequencer;
  scheduler_actor scheduler;
  gatekeeper_actor gatekeeper;
  /// Held while the node runs: one node per data directory.
  std::shared_ptr<void> data_lock;
};

/// Prepares the config of an actor system that runs a node: the message
/// types, a thread per core (at least 2) and the scheduling policy.
void configure_node_system(caf::actor_system_config& cfg);

/// Starts a node's modules under a supervisor, in dependency order: store,
/// log sequencer, scheduler, worker slots, gatekeeper. Fails if the store
/// cannot be opened. If a module fails, the supervisor stops the node and
/// exits with the module's reason: monitor `node::supervisor` to know.
caf::expected<node> start_node(caf::actor_system& sys, const node_config& cfg);

/// Stops a node's modules in reverse start order and waits for them; running
/// jobs are canceled by their worker slots as they stop.
void stop_node(node& n);

} // namespace conveyor
