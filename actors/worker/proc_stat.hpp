#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

namespace conveyor {

/// The fields of `/proc/<pid>/stat` that place a process and tell it apart
/// from a later process with the same pid.
struct proc_stat {
  char state = '?';        ///< R, S, D, T, Z (zombie), X (dead), …
  pid_t ppid = 0;          ///< its parent
  pid_t pgrp = 0;          ///< its process group
  pid_t session = 0;       ///< its session
  uint64_t start_time = 0; ///< field 22: clock ticks after boot at its start
};

/// Parses the text of `/proc/<pid>/stat`; nothing if it is not well-formed.
/// The command name may hold spaces and parentheses.
std::optional<proc_stat> parse_proc_stat(std::string_view text);

/// Reads `/proc/<pid>/stat`; nothing if there is no such process.
std::optional<proc_stat> read_proc_stat(pid_t pid);

/// True for a process that has ended and only waits to be reaped (Z or X).
bool is_dead(const proc_stat& x);

/// Reads a whole file of /proc (their size shows as 0, so this reads until
/// EOF); `path` is relative to the directory `dirfd` unless it is absolute.
/// Nothing if it cannot be read, e.g. because the process is gone.
std::optional<std::string> read_proc_file(int dirfd, const std::string& path);

/// Returns the id of the running boot (`/proc/sys/kernel/random/boot_id`),
/// "" if unknown. Start times only compare within one boot.
std::string current_boot_id();

} // namespace conveyor
