#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::github {

/// The states of a GitHub commit status.
enum class status_state {
  pending,
  success,
  failure,
  error,
};

/// Returns the name GitHub uses, e.g. "failure".
std::string to_string(status_state x);

/// Parses a name GitHub uses; returns false if `name` is none.
bool from_string(const std::string& name, status_state& out);

/// True for success, failure and error.
bool is_final(status_state x);

/// One commit status to post for a (repository, sha, context).
struct commit_status {
  status_state state = status_state::pending;
  std::string description;
  std::string target_url;
  /// Which run of the build produced it; a restart of the build increments
  /// it, so that its `pending` may replace the previous run's final state.
  int64_t generation = 0;
};

/// True if GitHub would show `x` and `y` alike: same state, description and
/// target URL (the generation is conveyor's own).
bool shows_same(const commit_status& x, const commit_status& y);

/// What the outbox does with the queue of one (repository, sha, context).
struct status_plan {
  /// The one status to post, if any. GitHub shows only the latest status of
  /// a context, so the queue collapses to it; once it is posted (or when
  /// there is nothing to post) the whole queue is done.
  std::optional<commit_status> send;
  std::size_t superseded = 0; ///< queued statuses that will never be posted
};

/// Decides what to post from the statuses queued for one (repository, sha,
/// context), oldest first, given the status GitHub shows now (`last_sent`,
/// `std::nullopt` if none was posted). The newest generation wins; within
/// it, a final state beats any `pending`, however late that `pending`
/// arrived, and the latest final state wins among finals. A `pending` never
/// replaces a posted final state of its own or a later generation, nothing
/// older than `last_sent` is posted, and neither is a status that
/// `shows_same` as it. Pure.
status_plan plan_status(const std::vector<commit_status>& queued,
                        const std::optional<commit_status>& last_sent);

} // namespace conveyor::github
