#include "adapters/postgres/postgres_store.hpp"

#include <string>

#include "adapters/postgres/json_codec.hpp"
#include "adapters/postgres/rows.hpp"
#include "adapters/postgres/session.hpp"

// The requeue of postgres_store: one attempt ends, the next one is queued.

namespace conveyor {

namespace {

using postgres::job_context;
using postgres::prepared_statement;
using postgres::run;
using postgres::session;

// FOR UPDATE OF j: a requeue on another node waits for ours, then is stale.
constexpr prepared_statement lock_job_record{
  "lock_job_record", CONVEYOR_PG_SELECT_JOBS "WHERE j.id = $1 FOR UPDATE OF j"};

constexpr prepared_statement job_record_by_id{
  "job_record_by_id", CONVEYOR_PG_SELECT_JOBS "WHERE j.id = $1"};

constexpr prepared_statement queue_attempt{
  "queue_attempt",
  "UPDATE jobs SET attempt = $2, state = 'queued', exit_code = -1, "
  "reason = '\"\"'::jsonb, started_at = 0, finished_at = 0 WHERE id = $1"};

// A finished build has work again: it is started, with no finish time.
constexpr prepared_statement reopen_build{
  "reopen_build",
  "UPDATE builds SET state = 'started', finished_at = 0 WHERE id = $1 "
  "AND state IN ('passed', 'failed', 'errored', 'canceled')"};

} // namespace

// -- builds and jobs ----------------------------------------------------------

caf::expected<job_record> postgres_store::requeue(const job_requeue& x) {
  return postgres::write<job_record>(
    *s_, postgres::transaction_kind::requeue, "requeue",
    job_context(x.job_id, x.attempt),
    [this, &x](pqxx::transaction_base& tx) -> caf::expected<job_record> {
      auto& s = *s_;
      auto current = run(s, tx, lock_job_record, x.job_id);
      if (current.empty())
        return make_error(errc::unknown_job,
                          "no job with id " + std::to_string(x.job_id));
      auto job = postgres::job_from_row(current[0]);
      if (job.spec.attempt != x.attempt) {
        postgres::store_logger()->debug("requeue ignored {} stored_attempt={}",
                                        job_context(x.job_id, x.attempt),
                                        job.spec.attempt);
        return job;
      }
      auto at = postgres::or_now(x.at_ms);
      if (!is_terminal(job.state))
        postgres::insert_transition(s, tx,
                                    job_state_changed{x.job_id, x.attempt,
                                                      job_state::errored, at,
                                                      -1, x.reason});
      auto next = x.attempt + 1;
      run(s, tx, queue_attempt, x.job_id, next);
      postgres::insert_transition(s, tx,
                                  job_state_changed{x.job_id, next,
                                                    job_state::queued, at, -1,
                                                    ""});
      run(s, tx, reopen_build, job.spec.build_id);
      auto result = postgres::job_from_row(
        run(s, tx, job_record_by_id, x.job_id).at(0));
      postgres::store_logger()->info("job requeued {} next_attempt={} "
                                     "previous_state={} reason=\"{}\"",
                                     job_context(x.job_id, x.attempt),
                                     result.spec.attempt,
                                     to_string(job.state), x.reason);
      return result;
    });
}

} // namespace conveyor
