#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "messages/log_sequencer.hpp"
#include "messages/scheduler.hpp"
#include "messages/worker.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace conveyor {

/// Settings of one worker slot.
struct worker_config {
  std::string name;                       ///< for logs, e.g. "worker-1"
  std::filesystem::path workspace_root;   ///< where job workspaces are made
  bool keep_workspaces = false;           ///< leave workspaces on disk
  std::chrono::milliseconds kill_grace{5000}; ///< SIGTERM → SIGKILL delay
  /// Runs nothing: every attempt passes at once (see `run_noop_job`), inline
  /// in the actor, to benchmark the orchestration alone.
  bool noop_executor = false;
  /// The value of the HTTP `Authorization` header git sends when a job
  /// clones the repository at `url` (e.g. `basic <base64>` for a private
  /// GitHub repository), or empty for none. Called on the attempt's thread
  /// right before it runs (it may block to get a fresh token); the value
  /// only reaches git's environment (see `git_auth_variable`). Empty: clones
  /// never authenticate.
  std::function<std::string(const std::string& url)> clone_auth;
};

/// Spawns a worker slot that runs one job attempt at a time.
///
/// On `(run_atom, job_spec)` it reports `received` to `scheduler`, runs the
/// attempt on a thread of its own, reports `started`, sends every log part
/// (the final one included) to `sequencer`, then the terminal
/// `job_state_changed` (passed, failed, errored or canceled, with exit code
/// and reason). A busy slot answers a run with an errored event, reason
/// "worker busy", except for a duplicate of the attempt it runs, which it
/// ignores. `(cancel_atom, job_id, attempt)` stops the attempt if it
/// runs here. When the actor terminates, it cancels its running attempt and
/// waits for it, so no process or thread outlives it. With `noop_executor`,
/// a run reports received, started, one final log part and passed before the
/// handler returns: the slot is never busy and there is nothing to cancel.
worker_actor spawn_worker(caf::actor_system& sys, worker_config cfg,
                          scheduler_actor scheduler,
                          log_sequencer_actor sequencer);

} // namespace conveyor
