#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace conveyor {

/// How `reap_orphans` treats what it finds.
struct orphan_options {
  /// Leaves the orphans' workspaces on disk (their records are removed).
  bool keep_workspaces = false;
  /// How long to wait, per group, for its processes to be gone.
  std::chrono::milliseconds wait{5000};
};

/// What `reap_orphans` did, for the caller's log.
struct orphan_report {
  int records = 0;            ///< workspaces holding a process-group record
  int groups_killed = 0;      ///< groups found running and killed
  int processes_killed = 0;   ///< processes SIGKILLed in them
  int groups_in_use = 0;      ///< left alone: the server watching them lives
  int workspaces_removed = 0; ///< workspaces of dead groups removed
  /// One line per problem, naming the workspace; that workspace is kept.
  std::vector<std::string> errors;
};

/// Kills the job processes that a crash of the server left running, and
/// removes their workspaces; call it when the node starts, before any worker
/// runs. Blocks (at most `wait` per group still running). Safe to call on an
/// empty or missing root.
///
/// It visits every workspace under `workspace_root` that holds a
/// `group_record` (the runner writes one when it spawns a job's process group
/// and removes it once the group is gone); workspaces without one are left
/// alone. A group is killed only when it is provably the job's:
/// - a record from another boot, or whose server (pid and start time) still
///   lives, is not an orphan: nothing is signalled;
/// - if a process has the group's id as its pid but another start time than
///   the recorded leader, the pid was reused, and since Linux never reuses a
///   pid while a process still has it as its group id, nothing of the group
///   is left: nothing is signalled;
/// - otherwise a member of the group (a process whose group id is the
///   recorded one) is the job's if the recorded leader still holds the group
///   id when the member has been read, or, once the leader is gone, if the
///   member carries the attempt's marks in the environment it was started
///   with (CONVEYOR_JOB_ID, CONVEYOR_JOB_ATTEMPT and HOME=workspace); a member
///   so verified vouches for the others the same way as the leader.
/// Each process is signalled through a handle on that very process
/// (`process_handle`), never by a pid that could have been reused in the
/// meantime: every verified member is first stopped (SIGSTOP, so that nothing
/// forks or runs further steps), and once a look at the group finds nothing
/// new, all are SIGKILLed, the leader last. Orphans that were reparented to
/// this process (a subreaper) are reaped here. A group with processes that
/// cannot be verified is left alone and reported, as is one that is still
/// alive after `wait`; their workspaces are kept.
orphan_report reap_orphans(const std::filesystem::path& workspace_root,
                           const orphan_options& opts = {});

} // namespace conveyor
