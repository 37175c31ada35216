#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/gatekeeper/config_source.hpp"
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
  /// The store: empty for SQLite in `data_dir`, or a PostgreSQL URL
  /// (`postgres://user@host:port/db`; its password from PGPASSWORD or
  /// ~/.pgpass, as libpq reads them).
  std::string db_url;
  size_t workers = 2;                      ///< local worker slots
  job_limits limits;                       ///< per-job time and log limits
  bool keep_workspaces = false;            ///< keep work/<job>-<attempt>/
  std::chrono::milliseconds kill_grace{5000}; ///< TERM → KILL on cancel
  int32_t max_attempts = 3;                ///< runs of a job lost to restarts
  bool noop_executor = false;              ///< run nothing (benchmarks)
  /// Restart intensity of each supervisor of the tree: more restarts than
  /// this within `restart_window` give up, and the node stops.
  size_t max_restarts = 10;
  std::chrono::seconds restart_window{10};
  /// Children of the integrations supervisor (GitHub status reporter,
  /// extensions), made once the modules exist.
  std::vector<std::function<child_spec(const struct node&)>> integrations;
  /// Children of the edge supervisor (HTTP API, webhooks, extensions), made
  /// once the modules they talk to exist; started last, stopped first.
  std::vector<std::function<child_spec(const struct node&)>> edge;
  /// Reads build configs through the code host's API for the gatekeeper
  /// (see `gatekeeper_config::remote_files`); empty: from the repositories.
  remote_file_reader remote_files;
  /// Tokens of the gatekeeper's mirror fetches of private repositories.
  fetch_token_provider fetch_tokens;
  /// `Authorization` values of the workers' clones of private repositories
  /// (see `worker_config::clone_auth`).
  std::function<std::string(const std::string& url)> clone_auth;
  /// The lock of `data_dir` if the caller took it already (see
  /// `lock_data_dir`); empty: `start_node` takes it.
  std::shared_ptr<void> data_lock;
};

/// Takes the lock that lets one node at a time use `dir` (created if
/// missing); it is held until the last copy of the answer is gone. Fails if
/// another process holds it.
caf::expected<std::shared_ptr<void>>
lock_data_dir(const std::filesystem::path& dir);

/// The modules of a running node. Each handle is a front (see
/// supervisors/front.hpp): it stays valid while its module restarts.
struct node {
  /// The root supervisor: monitor it to know when the node gives up.
  caf::actor supervisor;
  /// A front of the root supervisor, valid before it has started: ask it
  /// for the tree (`fetch_atom, status_atom`) or to inject a fault.
  caf::actor tree;
  store_actor store;
  log_sequencer_actor sequencer;
  scheduler_actor scheduler;
  gatekeeper_actor gatekeeper;
  /// Every front, stopped after the tree.
  std::vector<caf::actor> fronts;
  /// Held while the node runs: one node per data directory.
  std::shared_ptr<void> data_lock;
};

/// Prepares the config of an actor system that runs a node: the message
/// types, a thread per core (at least 2) and the scheduling policy.
void configure_node_system(caf::actor_system_config& cfg);

/// Starts a node's modules under its supervision tree (see the comment on
/// the tree in node.cpp): store, core (log sequencer, scheduler,
/// gatekeeper), worker slots, edge. Fails if the store cannot be opened. A
/// module that fails is restarted and recovers from the store; a supervisor
/// whose restart limit is reached gives up, and once the root gives up it
/// exits with the reason: monitor `node::supervisor` to know.
caf::expected<node> start_node(caf::actor_system& sys, const node_config& cfg);

/// Stops a node's modules in reverse start order and waits for them; running
/// jobs are canceled by their worker slots as they stop.
void stop_node(node& n);

} // namespace conveyor
