#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/build.hpp"
#include "messages/log.hpp"

namespace conveyor {

/// The persistence port. Adapters (SQLite, PostgreSQL) implement it as an actor
/// that runs its blocking calls off the shared scheduler. Every write is
/// idempotent; failures answer `errc::store_failure`.
using store_actor = caf::typed_actor<
  /// Persists a new build and its jobs in one transaction, giving the build its
  /// id and per-repository number and each job its id; answers the stored build.
  caf::replies_to<create_atom, build_record>::with<build_record>,
  /// Applies a job transition if the attempt is current and the state machine
  /// allows it from the stored state; answers whether it was applied.
  caf::replies_to<job_state_changed>::with<bool>,
  /// Applies a build transition unless the build is already finished; answers
  /// whether it was applied.
  caf::replies_to<build_state_changed>::with<bool>,
  /// Stores log parts in one transaction, keeping the first copy of each
  /// (job, attempt, number); answers how many were new.
  caf::replies_to<std::vector<log_part>>::with<int64_t>,
  /// Aggregates the parts of a complete log into one record and drops them;
  /// answers the log's size. Idempotent.
  caf::replies_to<complete_atom, int64_t, int32_t>::with<log_completed>,
  /// Answers a build with its jobs, or `errc::unknown_build`.
  caf::replies_to<fetch_atom, build_atom, int64_t>::with<build_record>,
  /// Answers the text of a job attempt's log as stored so far.
  caf::replies_to<fetch_atom, log_atom, int64_t, int32_t>::with<std::string>>;

} // namespace conveyor
