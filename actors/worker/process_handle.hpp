#pragma once

#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "actors/worker/proc_stat.hpp"

namespace conveyor {

/// A handle on one process that a later process with the same pid can never
/// be mistaken for. It holds the process's `/proc/<pid>` directory open: that
/// directory stays bound to this very process (reading it fails once the
/// process is reaped, even if the pid is reused), and it serves as a pidfd
/// for `pidfd_send_signal` (Linux 5.1 and later).
class process_handle {
public:
  /// Opens a handle on the process that has the pid `pid` now; nothing if
  /// there is none.
  static std::optional<process_handle> open(pid_t pid);

  process_handle(process_handle&& other) noexcept;
  process_handle& operator=(process_handle&& other) noexcept;
  process_handle(const process_handle&) = delete;
  process_handle& operator=(const process_handle&) = delete;
  ~process_handle();

  /// Returns the process's pid.
  pid_t pid() const noexcept {
    return pid_;
  }

  /// True while the process holds its pid: until it is reaped (a zombie
  /// still counts).
  bool alive() const;

  /// Returns its `/proc/<pid>/stat`; nothing once it is reaped.
  std::optional<proc_stat> stat() const;

  /// Returns the environment it was started with (`/proc/<pid>/environ`),
  /// as `NAME=value`; empty if it cannot be read (gone, or not ours).
  std::vector<std::string> environment() const;

  /// Sends `sig` to this process and no other; false if it is gone or may
  /// not be signalled by us.
  bool signal(int sig) const;

private:
  process_handle(pid_t pid, int dirfd) noexcept : pid_(pid), dirfd_(dirfd) {
  }

  pid_t pid_ = 0;
  int dirfd_ = -1;
};

} // namespace conveyor
