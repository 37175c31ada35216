#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/build.hpp"
#include "messages/log.hpp"
#include "messages/metrics.hpp"
#include "messages/webhook.hpp"

namespace conveyor {

/// Which builds to list, newest first. Empty strings match anything.
struct build_query {
  std::string state;      ///< a build state name, e.g. "passed"
  std::string repo;       ///< a repository slug (or path)
  int32_t limit = 20;     ///< at most this many builds
  int64_t before_id = 0;  ///< only builds with a smaller id (paging); 0: any
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_query& x) {
  return f(caf::meta::type_name("conveyor::build_query"), x.state, x.repo,
           x.limit, x.before_id);
}

/// Command: end attempt `attempt` of a job and queue attempt + 1. Used for a
/// lost worker (the old attempt, if unfinished, ends errored with `reason`)
/// and for a user's restart of a finished job (its finished build is
/// reopened as started). Stale when `attempt` is not the job's current one.
struct job_requeue {
  int64_t job_id = 0;
  int32_t attempt = 0;
  int64_t at_ms = 0;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_requeue& x) {
  return f(caf::meta::type_name("conveyor::job_requeue"), x.job_id, x.attempt,
           x.at_ms, x.reason);
}

/// The persistence port. Adapters (SQLite, PostgreSQL) implement it as an actor
/// that runs its blocking calls off the shared scheduler. Every write is
/// idempotent; failures answer `errc::store_failure`.
using store_actor = caf::typed_actor<
  /// Persists a new build and its jobs in one transaction, giving the build its
  /// id and per-repository number and each job its id; answers the stored build.
  /// A request id or a webhook delivery id already stored answers the build
  /// made for it then: one build per request.
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
  caf::replies_to<fetch_atom, log_atom, int64_t, int32_t>::with<std::string>,
  /// Answers the text of the stored parts numbered below the last argument
  /// (all of it once the log is aggregated): what a live tail starts with.
  caf::replies_to<fetch_atom, log_atom, int64_t, int32_t, int32_t>::with<std::string>,
  /// Answers every log that has stored parts but is not complete: what a
  /// restarted log sequencer resumes.
  caf::replies_to<fetch_atom, log_atom, unfinished_atom>::with<std::vector<log_progress>>,
  /// Answers the builds matching a query, newest first, with their jobs.
  caf::replies_to<fetch_atom, build_query>::with<std::vector<build_record>>,
  /// Answers one job, or `errc::unknown_job`.
  caf::replies_to<fetch_atom, job_atom, int64_t>::with<job_record>,
  /// Answers every build that is not finished or has unfinished jobs, with
  /// its jobs: what a scheduler recovers after a restart.
  caf::replies_to<fetch_atom, unfinished_atom>::with<std::vector<build_record>>,
  /// Applies a requeue in one transaction and answers the job as it now is
  /// (for a stale requeue: unchanged); `errc::unknown_job` if there is none.
  caf::replies_to<job_requeue>::with<job_record>,
  /// Records what became of a webhook delivery; the first record of a
  /// delivery id wins (a redelivery changes nothing). Answers whether it was
  /// new.
  caf::replies_to<webhook_delivery>::with<bool>,
  /// Answers the most recent deliveries, newest first, at most the limit.
  caf::replies_to<fetch_atom, delivery_atom, int32_t>::with<std::vector<webhook_delivery>>,
  /// Commit-status outbox: answers builds from webhooks whose status on the
  /// commit is due (its last reported state differs from what the build's
  /// state maps to: pending, success, failure or error), oldest first, at most
  /// the limit. Persisted with the build, so a restart loses none.
  caf::replies_to<fetch_atom, outbox_atom, int32_t>::with<std::vector<build_record>>,
  /// Notes that the status `state` of build `id` was reported; answers true.
  caf::replies_to<outbox_atom, int64_t, std::string>::with<bool>,
  /// Answers the store's metrics: write transactions by kind, their latency
  /// (histogram), log parts and bytes written.
  caf::replies_to<fetch_atom, metrics_atom>::with<metric_families>>;

} // namespace conveyor
