#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "actors/worker/log_chunker.hpp"
#include "messages/job.hpp"
#include "messages/log.hpp"

namespace conveyor {

/// Settings of the job runner.
struct job_runner_config {
  /// Each attempt works in `<workspace_root>/<job_id>-<attempt>/`.
  std::filesystem::path workspace_root;
  /// Leaves the workspace on disk after the attempt (for debugging).
  bool keep_workspace = false;
  /// Time between SIGTERM and SIGKILL when the job is stopped.
  std::chrono::milliseconds kill_grace{5000};
  /// When log parts are cut.
  log_chunker_config chunks;
};

/// What the runner reports while a job runs.
struct job_callbacks {
  /// Called once, right before the build script starts.
  std::function<void()> on_started;
  /// Receives every log part in order, the final one last.
  std::function<void(log_part)> on_part;
};

/// How a job attempt ended.
struct job_outcome {
  /// passed, failed, errored or canceled.
  job_state state = job_state::errored;
  /// The build script's exit status (see `script_result`), -1 if none.
  int32_t exit_code = -1;
  /// Why, in a few words; empty when the job passed.
  std::string reason;
};

/// Returns the workspace of an attempt: `<root>/<job_id>-<attempt>`.
std::filesystem::path workspace_of(const std::filesystem::path& root,
                                   const job_spec& spec);

/// Runs one job attempt end to end and blocks until it is over: makes a fresh
/// workspace (the checkout in `build/`, the script and its result file in
/// `.conveyor/`), runs `bash .conveyor/build.sh` there with the environment of
/// `job_environment` and the limits of `spec.limits`, streams the output as
/// log parts, and ends the log with a final part whose last line says how the
/// attempt ended (Travis style). A hard timeout, a silence, a log over the
/// limit, a setup failure and a script that ended before recording its
/// result are errored; setting `cancel` stops the job and gives canceled.
/// While the build script's process group may live, its `group_record` is
/// kept in `.conveyor/pgid` (see `reap_orphans`). Removes the workspace
/// afterwards unless `keep_workspace` is set, or a process of the group
/// survived SIGKILL (then the record stays too).
job_outcome run_job(const job_spec& spec, const job_runner_config& cfg,
                    const std::atomic<bool>& cancel, const job_callbacks& cb);

/// Runs a job attempt without running anything, to benchmark the
/// orchestration alone: no workspace, no clone, no process. Calls `on_started`,
/// then `on_part` once with part 0, final, "Done. Your build exited with 0.\n",
/// and returns passed with exit code 0. Does not block.
job_outcome run_noop_job(const job_spec& spec, const job_callbacks& cb);

} // namespace conveyor
