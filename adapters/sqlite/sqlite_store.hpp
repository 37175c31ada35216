#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "adapters/sqlite/database.hpp"
#include "adapters/sqlite/store_metrics.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"
#include "messages/log.hpp"
#include "messages/metrics.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// The embedded store: builds, jobs, their transitions and logs in one SQLite
/// file. A plain blocking class; `spawn_sqlite_store` wraps it in an actor.
/// Every operation is one transaction and idempotent. Failures answer
/// `errc::store_failure` with "<operation> failed: <detail>"; no exception
/// escapes. One thread at a time may use an instance.
class sqlite_store {
public:
  // -- constructors, destructors, and assignment operators --------------------

  /// Opens (creating if needed) the database at `path` and applies the schema
  /// migrations it lacks. Fails if the file cannot be opened, is not a
  /// database, or has a schema newer than this code.
  static caf::expected<sqlite_store> open(const std::string& path);

  sqlite_store(sqlite_store&&) noexcept = default;

  sqlite_store& operator=(sqlite_store&&) noexcept = default;

  // -- builds and jobs --------------------------------------------------------

  /// Stores `x.request` (unless its request_id is known), the build with the
  /// next number of its repository (the slug, or the repo when the slug is
  /// empty) and its jobs; answers the build as `fetch_build` returns it, with
  /// ids, number and each job's `spec.job_id`, `spec.build_id` and
  /// `spec.build_number` filled in. A job whose `spec.index` is 0 gets its
  /// position from 1. If the request already has a build, answers that build
  /// and stores nothing. Zero timestamps mean now. Fails on an empty request_id.
  caf::expected<build_record> create_build(build_record x);

  /// Applies `x` if the job exists, `x.attempt` is its current attempt and
  /// `is_allowed(stored state, x.state)`: sets state, exit code, reason,
  /// started_at (on started), finished_at (on a terminal state) and appends to
  /// the job's history. Answers whether it was applied.
  caf::expected<bool> apply(const job_state_changed& x);

  /// Applies `x` unless the build is unknown, finished, or already in that
  /// state: sets started_at (on started), finished_at (on a terminal state).
  /// Answers whether it was applied.
  caf::expected<bool> apply(const build_state_changed& x);

  /// Answers the build with its jobs in index order, or `errc::unknown_build`.
  caf::expected<build_record> fetch_build(int64_t build_id);

  /// Answers every transition the job went through, oldest first, starting
  /// with its state at creation; empty for an unknown job.
  caf::expected<std::vector<job_state_changed>> fetch_transitions(int64_t job_id);

  /// Answers the builds matching `q`, newest (highest id) first, each with its
  /// jobs: `q.state` names a build state, `q.repo` a repository as builds are
  /// numbered by it (the slug, or the repo when the build has no slug), both
  /// matching anything when empty and nothing when unknown; `q.before_id` > 0
  /// keeps ids below it (the last id of a page asks for the next page);
  /// `q.limit` is clamped to 1..`max_query_limit`.
  caf::expected<std::vector<build_record>> fetch_builds(const build_query& q);

  /// Answers one job as `fetch_build` shows it, or `errc::unknown_job`.
  caf::expected<job_record> fetch_job(int64_t job_id);

  /// Answers every build that is not finished or has a job that is not
  /// finished, oldest first, each with all its jobs: what a restarted
  /// scheduler recovers.
  caf::expected<std::vector<build_record>> fetch_unfinished();

  /// Ends attempt `x.attempt` of a job and queues attempt + 1, in one
  /// transaction: an unfinished attempt first ends `errored` with `x.reason`
  /// at `x.at_ms` (0: now) in the job's history; the job then holds the new
  /// attempt, `queued`, with exit code -1, no reason and no start or finish
  /// time, and its history gains that transition; a finished build is
  /// reopened as `started`, with no finish time. Earlier attempts' logs stay
  /// as they are. Answers the job as it now is: unchanged if `x.attempt` is
  /// not its current attempt (stale), `errc::unknown_job` if there is none.
  caf::expected<job_record> requeue(const job_requeue& x);

  // -- logs -------------------------------------------------------------------

  /// Stores the parts, keeping the first copy of each (job, attempt, number)
  /// and ignoring parts of logs already completed; answers how many were new.
  caf::expected<int64_t> append_log_parts(const std::vector<log_part>& xs);

  /// Concatenates the parts 0..final of a job attempt into its log and drops
  /// them; answers the log's figures, the same ones again on later calls.
  /// Fails if there are no parts, a gap, no final part, or parts after it.
  caf::expected<log_completed> complete_log(int64_t job_id, int32_t attempt);

  /// Answers the completed log, or the parts stored so far in number order;
  /// empty if there are none.
  caf::expected<std::string> fetch_log(int64_t job_id, int32_t attempt);

  /// Answers the parts numbered below `below`, in number order (empty if
  /// `below` <= 0); the whole log once it is completed, whatever `below`.
  caf::expected<std::string> fetch_log(int64_t job_id, int32_t attempt,
                                       int32_t below);

  /// Records a webhook delivery unless its id is stored; answers whether it
  /// was new.
  caf::expected<bool> record_delivery(const webhook_delivery& x);

  /// Answers the newest deliveries, at most `limit`.
  caf::expected<std::vector<webhook_delivery>> fetch_deliveries(int32_t limit);

  /// Answers webhook builds whose commit status is due, oldest first.
  caf::expected<std::vector<build_record>> fetch_status_outbox(int32_t limit);

  /// Notes the status last reported for a build.
  caf::expected<bool> mark_status_reported(int64_t build_id,
                                           const std::string& state);

  /// Answers every log with stored parts that is not aggregated yet.
  caf::expected<std::vector<log_progress>> fetch_open_logs();

  // -- batches ----------------------------------------------------------------

  /// Runs `count` writes in one transaction (group commit): `apply(i)` calls
  /// one write operation of this store, for i = 0..count-1 in order. Each
  /// write runs in a savepoint of its own and answers what it would answer
  /// alone; a failing write undoes only its own changes. Answers an error
  /// (`errc::store_failure`, "write_batch failed: ...") if the transaction
  /// could not begin or commit, or if SQLite abandoned it: then nothing of
  /// the batch is stored, whatever its writes answered, and the writes after
  /// the point of failure did not run. Counted as one write transaction in
  /// the latency histogram and as `count` writes in the batch size histogram.
  caf::error write_batch(size_t count,
                         const std::function<void(size_t)>& apply);

  // -- metrics ----------------------------------------------------------------

  /// Answers what this instance counted since it was opened: transactions by
  /// kind, failures, write latency, log parts and bytes newly stored.
  metric_families metrics() const;

  // -- schema -----------------------------------------------------------------

  /// Answers the schema version recorded in the database.
  caf::expected<int32_t> schema_version();

  /// Returns the schema version this code creates and understands.
  static int32_t latest_schema_version();

  /// The most builds `fetch_builds` answers at once.
  static constexpr int32_t max_query_limit = 500;

  /// Returns the path the store was opened with.
  const std::string& path() const {
    return db_.path();
  }

private:
  explicit sqlite_store(sqlite::database db);

  build_record read_build(int64_t build_id);

  sqlite::database db_;
  sqlite::store_metrics metrics_;
};

} // namespace conveyor
