#include "adapters/sqlite/sqlite_store.hpp"

#include <string>

#include "adapters/sqlite/boundary.hpp"
#include "adapters/sqlite/rows.hpp"

// The requeue of sqlite_store: one attempt ends, the next one is queued.

namespace conveyor {

namespace {

using sqlite::counted;
using sqlite::job_context;
using sqlite::transaction;
using sqlite::transaction_kind;

// Makes the job hold attempt `x.attempt + 1`, queued, and records that.
void queue_next_attempt(sqlite::database& db, const job_requeue& x,
                        int64_t at) {
  auto next = x.attempt + 1;
  db.prepare("UPDATE jobs SET attempt = ?, state = ?, exit_code = -1, "
             "reason = '', started_at = 0, finished_at = 0 WHERE id = ?")
    .bind(1, int64_t{next})
    .bind(2, to_string(job_state::queued))
    .bind(3, x.job_id)
    .run();
  sqlite::insert_transition(db, job_state_changed{x.job_id, next,
                                                  job_state::queued, at, -1,
                                                  ""});
}

// Reopens the job's build if it is finished: it has work again.
void reopen_build(sqlite::database& db, int64_t build_id) {
  auto build = db.prepare("SELECT state FROM builds WHERE id = ?");
  build.bind(1, build_id);
  if (!build.step())
    throw sqlite::failure("build " + std::to_string(build_id) + " of a job "
                          "vanished");
  auto state = sqlite::parse_build_state(build.text(0));
  build.reset();
  if (!is_terminal(state))
    return;
  db.prepare("UPDATE builds SET state = ?, finished_at = 0 WHERE id = ?")
    .bind(1, to_string(build_state::started))
    .bind(2, build_id)
    .run();
}

} // namespace

// -- builds and jobs ----------------------------------------------------------

caf::expected<job_record> sqlite_store::requeue(const job_requeue& x) {
  return counted<job_record>(metrics_, transaction_kind::requeue, "requeue",
                             job_context(x.job_id, x.attempt),
                             [this, &x]() -> caf::expected<job_record> {
    auto select = sqlite::select_jobs_sql("WHERE j.id = ?");
    transaction tx{db_, transaction::kind::write};
    auto current = db_.prepare(select.c_str());
    current.bind(1, x.job_id);
    if (!current.step())
      return make_error(errc::unknown_job,
                        "no job with id " + std::to_string(x.job_id));
    auto job = sqlite::job_from_row(current);
    current.reset();
    if (job.spec.attempt != x.attempt) {
      sqlite::store_logger()->debug("requeue ignored {} stored_attempt={}",
                                    job_context(x.job_id, x.attempt),
                                    job.spec.attempt);
      return job;
    }
    auto at = sqlite::or_now(x.at_ms);
    if (!is_terminal(job.state))
      sqlite::insert_transition(db_, job_state_changed{x.job_id, x.attempt,
                                                       job_state::errored, at,
                                                       -1, x.reason});
    queue_next_attempt(db_, x, at);
    reopen_build(db_, job.spec.build_id);
    current.bind(1, x.job_id);
    if (!current.step())
      throw sqlite::failure("job " + std::to_string(x.job_id) + " vanished");
    auto result = sqlite::job_from_row(current);
    current.reset();
    tx.commit();
    sqlite::store_logger()->info("job requeued {} next_attempt={} "
                                 "previous_state={} reason=\"{}\"",
                                 job_context(x.job_id, x.attempt),
                                 result.spec.attempt, to_string(job.state),
                                 x.reason);
    return result;
  });
}

} // namespace conveyor
