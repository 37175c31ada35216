#include "adapters/sqlite/sqlite_store.hpp"

#include <string>
#include <vector>

#include "adapters/sqlite/boundary.hpp"
#include "adapters/sqlite/build_queries.hpp"
#include "adapters/sqlite/rows.hpp"

// The listing half of sqlite_store: many builds, single jobs, recovery.

namespace conveyor {

namespace {

using sqlite::counted;
using sqlite::transaction;
using sqlite::transaction_kind;

std::string query_context(const build_query& q) {
  return "state=\"" + q.state + "\" repo=\"" + q.repo
         + "\" limit=" + std::to_string(q.limit)
         + " before_id=" + std::to_string(q.before_id);
}

} // namespace

// -- builds and jobs ----------------------------------------------------------

caf::expected<std::vector<build_record>>
sqlite_store::fetch_builds(const build_query& q) {
  using result_type = std::vector<build_record>;
  return counted<result_type>(metrics_, transaction_kind::query,
                              "fetch_builds", query_context(q), [this, &q] {
    transaction tx{db_, transaction::kind::read};
    auto builds = sqlite::prepare_list_builds(db_, q, max_query_limit);
    return sqlite::read_builds(db_, builds);
  });
}

caf::expected<job_record> sqlite_store::fetch_job(int64_t job_id) {
  auto context = "job_id=" + std::to_string(job_id);
  return counted<job_record>(metrics_, transaction_kind::query, "fetch_job",
                             context,
                             [this, job_id]() -> caf::expected<job_record> {
    auto job = db_.prepare(sqlite::select_jobs_sql("WHERE j.id = ?").c_str());
    job.bind(1, job_id);
    if (!job.step())
      return make_error(errc::unknown_job,
                        "no job with id " + std::to_string(job_id));
    return sqlite::job_from_row(job);
  });
}

caf::expected<std::vector<build_record>> sqlite_store::fetch_unfinished() {
  using result_type = std::vector<build_record>;
  return counted<result_type>(metrics_, transaction_kind::query,
                              "fetch_unfinished", "", [this] {
    transaction tx{db_, transaction::kind::read};
    auto builds = db_.prepare(sqlite::unfinished_builds_sql().c_str());
    return sqlite::read_builds(db_, builds);
  });
}

caf::expected<bool> sqlite_store::record_delivery(const webhook_delivery& x) {
  return counted<bool>(metrics_, transaction_kind::delivery, "record_delivery",
                       "delivery_id=" + x.delivery_id, [this, &x] {
    transaction tx{db_, transaction::kind::write};
    db_.prepare("INSERT OR IGNORE INTO webhook_deliveries (delivery_id, event, "
                "action, outcome, reason, build_id, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, x.delivery_id)
      .bind(2, x.event)
      .bind(3, x.action)
      .bind(4, x.outcome)
      .bind(5, x.reason)
      .bind(6, x.build_id)
      .bind(7, x.received_at_ms)
      .run();
    auto added = db_.changes() > 0;
    tx.commit();
    return added;
  });
}

caf::expected<std::vector<webhook_delivery>>
sqlite_store::fetch_deliveries(int32_t limit) {
  return counted<std::vector<webhook_delivery>>(
    metrics_, transaction_kind::query, "fetch_deliveries", "", [this, limit] {
      transaction tx{db_, transaction::kind::read};
      auto rows = db_.prepare(
        "SELECT delivery_id, event, action, outcome, reason, build_id, "
        "received_at FROM webhook_deliveries "
        "ORDER BY received_at DESC, rowid DESC LIMIT ?");
      rows.bind(1, int64_t{limit});
      std::vector<webhook_delivery> result;
      while (rows.step())
        result.push_back({rows.text(0), rows.text(1), rows.text(2),
                          rows.text(3), rows.text(4), rows.int64(5),
                          rows.int64(6)});
      return result;
    });
}

caf::expected<std::vector<build_record>>
sqlite_store::fetch_status_outbox(int32_t limit) {
  return counted<std::vector<build_record>>(
    metrics_, transaction_kind::query, "fetch_status_outbox", "",
    [this, limit] {
      transaction tx{db_, transaction::kind::read};
      auto rows = db_.prepare(
        "SELECT b.id FROM builds b JOIN requests r "
        "ON r.request_id = b.request_id WHERE r.source = 'webhook' "
        "AND b.reported_status != CASE b.state "
        "WHEN 'created' THEN 'pending' WHEN 'started' THEN 'pending' "
        "WHEN 'passed' THEN 'success' WHEN 'failed' THEN 'failure' "
        "ELSE 'error' END ORDER BY b.id LIMIT ?");
      rows.bind(1, int64_t{limit});
      std::vector<int64_t> ids;
      while (rows.step())
        ids.push_back(rows.int64(0));
      std::vector<build_record> result;
      for (auto id : ids)
        result.push_back(read_build(id));
      return result;
    });
}

caf::expected<bool> sqlite_store::mark_status_reported(int64_t build_id,
                                                       const std::string& state) {
  return counted<bool>(metrics_, transaction_kind::delivery,
                       "mark_status_reported",
                       "build_id=" + std::to_string(build_id),
                       [this, build_id, &state] {
    transaction tx{db_, transaction::kind::write};
    db_.prepare("UPDATE builds SET reported_status = ? WHERE id = ?")
      .bind(1, state)
      .bind(2, build_id)
      .run();
    tx.commit();
    return true;
  });
}

} // namespace conveyor
