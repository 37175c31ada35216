#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

namespace conveyor {

/// The record of a job attempt's process group, kept in the attempt's
/// workspace while the group may live, so that a later start of the node can
/// find and kill what a crash of the server left running (`reap_orphans`).
///
/// On disk (`<workspace>/.conveyor/pgid`) it is one `key=value` per line, in
/// the order of the fields below; unknown keys are ignored.
struct group_record {
  /// The group's id: its leader's pid.
  pid_t pgid = 0;
  /// The leader's start time (field 22 of `/proc/<pid>/stat`, clock ticks
  /// after boot): with `pgid`, it names the leader even if the pid is reused.
  uint64_t leader_start = 0;
  /// The boot the group ran in; nothing of it survives another boot.
  std::string boot_id;
  /// The process that spawned and watches the group (the server), and its
  /// start time: while it lives, the group is not an orphan.
  pid_t owner_pid = 0;
  uint64_t owner_start = 0;
  /// The job attempt the group runs.
  int64_t job_id = 0;
  int32_t attempt = 0;
  /// The attempt's workspace, absolute: the HOME of the job's processes.
  std::filesystem::path workspace;
};

/// Returns where the record of the group working in `workspace` is kept.
std::filesystem::path group_record_path(const std::filesystem::path& workspace);

/// Returns the record as it is written to disk.
std::string to_string(const group_record& x);

/// Parses a record; nothing if a field is missing or malformed.
std::optional<group_record> parse_group_record(std::string_view text);

/// Describes the group led by `pgid`, a child of this process that it has not
/// reaped yet (so the pid cannot be reused meanwhile), owned by this process;
/// nothing if its `/proc` entry cannot be read.
std::optional<group_record>
describe_group(pid_t pgid, int64_t job_id, int32_t attempt,
               const std::filesystem::path& workspace);

/// Writes `x` to `group_record_path(x.workspace)` atomically (a temporary file,
/// then rename): a reader sees the whole record or none. Returns why it
/// failed, if it did.
std::optional<std::string> write_group_record(const group_record& x);

/// Reads the record at `file`; nothing if it is missing or malformed.
std::optional<group_record> read_group_record(const std::filesystem::path& file);

} // namespace conveyor
