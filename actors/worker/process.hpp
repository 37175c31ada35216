#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace conveyor {

/// The limits `run_process` enforces; a zero or negative value disables one.
struct process_limits {
  /// Longest run time.
  std::chrono::milliseconds timeout{0};
  /// Longest time without any output.
  std::chrono::milliseconds no_output_timeout{0};
  /// Most output bytes; the process is stopped when it writes more.
  int64_t max_output_bytes = 0;
  /// Time between SIGTERM and SIGKILL when the process group is stopped.
  std::chrono::milliseconds kill_grace{5000};
};

/// What to run and how to watch it.
struct process_options {
  /// The clock of the callbacks and of `process_result`.
  using clock = std::chrono::steady_clock;
  /// The program and its arguments; `argv[0]` is looked up in the caller's PATH.
  std::vector<std::string> argv;
  /// The whole environment of the process, as `NAME=value`; nothing else is
  /// inherited.
  std::vector<std::string> env;
  /// The working directory; the caller's if empty.
  std::filesystem::path cwd;
  /// The limits to enforce.
  process_limits limits;
  /// Set to true (from any thread) to stop the process; checked every 50 ms.
  const std::atomic<bool>* cancel = nullptr;
  /// Called once the process runs, before any other callback, with its
  /// process group id (its pid). The leader is not reaped before `run_process`
  /// returns, so the id cannot be reused meanwhile. If this throws, the group
  /// is killed.
  std::function<void(pid_t pgid)> on_spawned;
  /// Receives stdout and stderr, interleaved as written, when they come.
  std::function<void(std::string_view bytes, clock::time_point now)> on_output;
  /// Called at least every 50 ms while the process runs (e.g. to flush logs).
  std::function<void(clock::time_point now)> on_tick;
};

/// How a process ended.
enum class process_end {
  exited,         ///< the process exited by itself (see `exit_code`)
  signaled,       ///< a signal nobody here sent killed it (see `signal`)
  timed_out,      ///< it ran longer than `timeout` and was stopped
  silent,         ///< it wrote nothing for `no_output_timeout` and was stopped
  log_too_large,  ///< it wrote more than `max_output_bytes` and was stopped
  canceled,       ///< `cancel` was set and it was stopped
  failed_to_start ///< it could not be started (see `error`)
};

/// Returns the name of `x`, e.g. "timed_out".
std::string to_string(process_end x);

/// How and when a process ended.
struct process_result {
  process_end how = process_end::failed_to_start;
  /// The exit status of the main process if it exited, -1 otherwise.
  int exit_code = -1;
  /// The signal that ended the main process, 0 if none.
  int signal = 0;
  /// Output bytes delivered to `on_output`.
  int64_t output_bytes = 0;
  /// When it started and when the last process of its group was gone.
  process_options::clock::time_point started_at;
  process_options::clock::time_point ended_at;
  /// Why it could not be started, for `failed_to_start`.
  std::string error;
  /// True if a process of its group outlived SIGKILL for longer than this
  /// call waits (stuck in the kernel) and was left behind.
  bool group_survived = false;
};

/// Runs a program as the leader of its own process group, with stdin from
/// /dev/null and stdout and stderr on one pipe, and blocks until it and every
/// process left in its group are gone (reaped). A limit or `cancel` stops the
/// group: SIGTERM, then SIGKILL after `kill_grace`. When the main process
/// ends by itself, what is left in its group is stopped the same way, and a
/// leftover holding the pipe never keeps this call waiting. Processes that
/// leave the group (setsid) are out of reach. The first call makes this
/// process a child subreaper (PR_SET_CHILD_SUBREAPER), so orphaned
/// grandchildren are reparented to it and reaped here.
process_result run_process(const process_options& opts);

} // namespace conveyor
