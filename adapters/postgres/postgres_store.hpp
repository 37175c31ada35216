#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/build.hpp"
#include "messages/job.hpp"
#include "messages/log.hpp"
#include "messages/metrics.hpp"
#include "messages/store.hpp"
#include "messages/webhook.hpp"

namespace conveyor::postgres {
struct session;
} // namespace conveyor::postgres

namespace conveyor {

/// The production store: builds, jobs, their transitions and logs in a
/// PostgreSQL database, through one connection. A plain blocking class;
/// `spawn_postgres_store` wraps it in an actor. Every operation is one
/// transaction and idempotent, with the semantics of `sqlite_store`; several
/// stores (nodes) may share one database. Failures answer
/// `errc::store_failure` with "<operation> failed: <detail>"; no exception
/// escapes, and no error or log line holds the connection's password. One
/// thread at a time may use an instance.
class postgres_store {
public:
  // -- constructors, destructors, and assignment operators --------------------

  /// Connects to `url` (a libpq URI or key/value string) and applies the
  /// schema migrations the database lacks, safely when several stores start
  /// at once. Fails if the server cannot be reached, refuses the login, or
  /// has a schema newer than this code.
  static caf::expected<postgres_store> open(const std::string& url);

  postgres_store(postgres_store&&) noexcept;

  postgres_store& operator=(postgres_store&&) noexcept;

  ~postgres_store();

  // -- builds and jobs --------------------------------------------------------

  /// Stores `x.request` (all its fields, pull request ones included), the
  /// build with the next number of its repository (the slug, or the repo
  /// when the slug is empty) and its jobs; answers the build as `fetch_build`
  /// returns it. If a build exists for the request id, or for the request's
  /// delivery id when it has one, answers that build and stores nothing.
  /// Zero timestamps mean now. Fails on an empty request_id, and when the
  /// request id, delivery id or repository is not UTF-8 text without NUL.
  caf::expected<build_record> create_build(build_record x);

  /// Applies `x` if the job exists, `x.attempt` is its current attempt and
  /// `is_allowed(stored state, x.state)`; answers whether it was applied.
  caf::expected<bool> apply(const job_state_changed& x);

  /// Applies `x` unless the build is unknown, finished, or already in that
  /// state; answers whether it was applied.
  caf::expected<bool> apply(const build_state_changed& x);

  /// Answers the build with its jobs in index order, or `errc::unknown_build`.
  caf::expected<build_record> fetch_build(int64_t build_id);

  /// Answers every transition the job went through, oldest first, starting
  /// with its state at creation; empty for an unknown job.
  caf::expected<std::vector<job_state_changed>> fetch_transitions(int64_t job_id);

  /// Answers the builds matching `q`, newest first, each with its jobs (see
  /// `sqlite_store::fetch_builds`); `q.limit` is clamped to
  /// 1..`max_query_limit`.
  caf::expected<std::vector<build_record>> fetch_builds(const build_query& q);

  /// Answers one job as `fetch_build` shows it, or `errc::unknown_job`.
  caf::expected<job_record> fetch_job(int64_t job_id);

  /// Answers every build that is not finished or has a job that is not
  /// finished, oldest first, each with all its jobs.
  caf::expected<std::vector<build_record>> fetch_unfinished();

  /// Ends attempt `x.attempt` of a job and queues attempt + 1, in one
  /// transaction (see `sqlite_store::requeue`). Answers the job as it now
  /// is: unchanged if stale, `errc::unknown_job` if there is none.
  caf::expected<job_record> requeue(const job_requeue& x);

  // -- logs -------------------------------------------------------------------

  /// Stores the parts, keeping the first copy of each (job, attempt, number)
  /// and ignoring parts of logs already completed; answers how many were
  /// new. 64 parts or more go in with one COPY, unless one of them is stored
  /// already; then, like smaller batches, with one INSERT ... SELECT FROM
  /// unnest(arrays) ... ON CONFLICT DO NOTHING per 5000 parts.
  caf::expected<int64_t> append_log_parts(const std::vector<log_part>& xs);

  /// Concatenates the parts 0..final of a job attempt into its log (on the
  /// server, in one statement) and drops them; answers the log's figures,
  /// the same ones again on later calls. Fails if there are no parts, a gap,
  /// no final part, or parts after it.
  caf::expected<log_completed> complete_log(int64_t job_id, int32_t attempt);

  /// Completes the logs `keys` (job id, attempt) in one write: the whole ones
  /// with one statement for all (one pass over their parts), the others as
  /// `complete_log` does. Answers, per key and in order, what `complete_log`
  /// would answer for it; a log that is not whole gets its error and changes
  /// nothing, the others are completed all the same. Counted as one
  /// `complete_log` transaction per key. All answer the error if the
  /// statement fails (the write is then undone).
  std::vector<caf::expected<log_completed>>
  complete_logs(const std::vector<std::pair<int64_t, int32_t>>& keys);

  /// Answers the completed log, or the parts stored so far in number order.
  caf::expected<std::string> fetch_log(int64_t job_id, int32_t attempt);

  /// Answers the parts numbered below `below`, in number order; the whole log
  /// once it is completed, whatever `below`.
  caf::expected<std::string> fetch_log(int64_t job_id, int32_t attempt,
                                       int32_t below);

  /// Records a webhook delivery unless its id is stored; answers whether it
  /// was new. Fails if the delivery id is not UTF-8 text without NUL.
  caf::expected<bool> record_delivery(const webhook_delivery& x);

  /// Answers the newest deliveries, at most `limit` (all if negative).
  caf::expected<std::vector<webhook_delivery>> fetch_deliveries(int32_t limit);

  /// Answers the builds from webhooks whose commit status is due (the status
  /// last reported differs from the one their state maps to), oldest first,
  /// at most `limit` (all if negative).
  caf::expected<std::vector<build_record>> fetch_status_outbox(int32_t limit);

  /// Notes the status last reported for a build; answers true.
  caf::expected<bool> mark_status_reported(int64_t build_id,
                                           const std::string& state);

  /// Answers every log with stored parts that is not aggregated yet.
  caf::expected<std::vector<log_progress>> fetch_open_logs();

  // -- batches ----------------------------------------------------------------

  /// Runs `count` writes in one transaction (group commit): `apply(i)` calls
  /// one write operation of this store, for i = 0..count-1 in order. Each
  /// write answers what it would answer alone; a failing write undoes only
  /// its own changes: the batch first runs without savepoints, and if a
  /// write fails, runs again from the start with each write in a savepoint
  /// of its own (so `apply(i)` may be called twice; the second answer
  /// counts). Answers an error (`errc::store_failure`, "write_batch failed:
  /// ...") if the transaction could not begin or commit or the connection
  /// was lost: then nothing of the batch is stored, whatever its writes
  /// answered. The metrics count `requests` writes (when not 0; else
  /// `count`): one `apply` may make several, e.g. `complete_logs`.
  caf::error write_batch(size_t count,
                         const std::function<void(size_t)>& apply,
                         size_t requests = 0);

  // -- metrics ----------------------------------------------------------------

  /// Answers what this instance counted since it was opened, in the families
  /// of the SQLite store.
  metric_families metrics() const;

  // -- connection and schema ---------------------------------------------------

  /// False once the connection is lost: the store cannot recover, every
  /// operation fails. It does not reconnect by itself.
  bool connected() const;

  /// Returns the URL with its password replaced by ***.
  const std::string& safe_url() const;

  /// Answers the schema version recorded in the database.
  caf::expected<int32_t> schema_version();

  /// Returns the schema version this code creates and understands.
  static int32_t latest_schema_version();

  /// The most builds `fetch_builds` answers at once.
  static constexpr int32_t max_query_limit = 500;

private:
  explicit postgres_store(std::unique_ptr<postgres::session> s);

  std::unique_ptr<postgres::session> s_;
};

} // namespace conveyor
