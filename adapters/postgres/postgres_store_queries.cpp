#include "adapters/postgres/postgres_store.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "adapters/postgres/json_codec.hpp"
#include "adapters/postgres/rows.hpp"
#include "adapters/postgres/session.hpp"

// The listing half of postgres_store: many builds, single jobs, recovery.

namespace conveyor {

namespace {

using postgres::prepared_statement;
using postgres::run;

std::string query_context(const build_query& q) {
  return "state=\"" + q.state + "\" repo=\"" + q.repo
         + "\" limit=" + std::to_string(q.limit)
         + " before_id=" + std::to_string(q.before_id);
}

#define CONVEYOR_PG_LIST(name, where)                                          \
  prepared_statement {                                                         \
    name, CONVEYOR_PG_SELECT_BUILDS where " ORDER BY b.id DESC LIMIT $1"       \
  }

// One statement per combination of filters in use, indexed by a bit mask
// (1: state, 2: repository, 4: before_id): a "($2 = '' OR b.state = $2)"
// form would keep the planner from using the indexes. The limit is $1.
const std::array<prepared_statement, 8> list_builds{
  CONVEYOR_PG_LIST("list_builds_0", ""),
  CONVEYOR_PG_LIST("list_builds_1", "WHERE b.state = $2"),
  CONVEYOR_PG_LIST("list_builds_2", "WHERE b.repository = $2"),
  CONVEYOR_PG_LIST("list_builds_3", "WHERE b.state = $2 AND b.repository = $3"),
  CONVEYOR_PG_LIST("list_builds_4", "WHERE b.id < $2"),
  CONVEYOR_PG_LIST("list_builds_5", "WHERE b.state = $2 AND b.id < $3"),
  CONVEYOR_PG_LIST("list_builds_6", "WHERE b.repository = $2 AND b.id < $3"),
  CONVEYOR_PG_LIST("list_builds_7",
                   "WHERE b.state = $2 AND b.repository = $3 AND b.id < $4"),
};

#undef CONVEYOR_PG_LIST

constexpr prepared_statement job_by_id{
  "job_by_id", CONVEYOR_PG_SELECT_JOBS "WHERE j.id = $1"};

constexpr prepared_statement unfinished_builds{
  "unfinished_builds",
  CONVEYOR_PG_SELECT_BUILDS
  "WHERE b.id IN (SELECT id FROM builds WHERE state IN ('created', 'started') "
  "UNION SELECT build_id FROM jobs "
  "WHERE state NOT IN ('passed', 'failed', 'errored', 'canceled')) "
  "ORDER BY b.id"};

constexpr prepared_statement insert_delivery{
  "insert_delivery",
  "INSERT INTO webhook_deliveries (delivery_id, event, action, outcome, "
  "reason, build_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
  "ON CONFLICT DO NOTHING RETURNING delivery_id"};

// LIMIT NULL: no limit.
constexpr prepared_statement newest_deliveries{
  "newest_deliveries",
  "SELECT delivery_id, event, action, outcome, reason, build_id, received_at "
  "FROM webhook_deliveries ORDER BY received_at DESC, seq DESC LIMIT $1"};

// The status a build's state maps to on the commit.
constexpr prepared_statement status_outbox{
  "status_outbox",
  CONVEYOR_PG_SELECT_BUILDS
  "WHERE r.fields->>'source' = 'webhook' AND b.reported_status != "
  "CASE b.state WHEN 'created' THEN 'pending' WHEN 'started' THEN 'pending' "
  "WHEN 'passed' THEN 'success' WHEN 'failed' THEN 'failure' "
  "ELSE 'error' END ORDER BY b.id LIMIT $1"};

constexpr prepared_statement mark_reported{
  "mark_reported", "UPDATE builds SET reported_status = $2 WHERE id = $1"};

} // namespace

// -- builds and jobs ----------------------------------------------------------

caf::expected<std::vector<build_record>>
postgres_store::fetch_builds(const build_query& q) {
  using result_type = std::vector<build_record>;
  return postgres::read<result_type>(
    *s_, "fetch_builds", query_context(q),
    [this, &q](pqxx::transaction_base& tx) {
      auto& s = *s_;
      // A filter that is not text matches no stored build.
      if (!postgres::is_text(q.state) || !postgres::is_text(q.repo))
        return result_type{};
      auto limit = std::clamp(q.limit, int32_t{1}, max_query_limit);
      auto mask = (q.state.empty() ? 0 : 1) | (q.repo.empty() ? 0 : 2)
                  | (q.before_id > 0 ? 4 : 0);
      const auto& st = list_builds[static_cast<size_t>(mask)];
      pqxx::result rows;
      switch (mask) {
        case 0: rows = run(s, tx, st, limit); break;
        case 1: rows = run(s, tx, st, limit, q.state); break;
        case 2: rows = run(s, tx, st, limit, q.repo); break;
        case 3: rows = run(s, tx, st, limit, q.state, q.repo); break;
        case 4: rows = run(s, tx, st, limit, q.before_id); break;
        case 5: rows = run(s, tx, st, limit, q.state, q.before_id); break;
        case 6: rows = run(s, tx, st, limit, q.repo, q.before_id); break;
        default:
          rows = run(s, tx, st, limit, q.state, q.repo, q.before_id);
      }
      return postgres::read_builds(s, tx, rows);
    });
}

caf::expected<job_record> postgres_store::fetch_job(int64_t job_id) {
  return postgres::read_statement<job_record>(
    *s_, "fetch_job", "job_id=" + std::to_string(job_id),
    [this, job_id](pqxx::transaction_base& tx) -> caf::expected<job_record> {
      auto rows = run(*s_, tx, job_by_id, job_id);
      if (rows.empty())
        return make_error(errc::unknown_job,
                          "no job with id " + std::to_string(job_id));
      return postgres::job_from_row(rows[0]);
    });
}

caf::expected<std::vector<build_record>> postgres_store::fetch_unfinished() {
  using result_type = std::vector<build_record>;
  return postgres::read<result_type>(
    *s_, "fetch_unfinished", "", [this](pqxx::transaction_base& tx) {
      return postgres::read_builds(*s_, tx, run(*s_, tx, unfinished_builds));
    });
}

} // namespace conveyor

// -- webhook deliveries -------------------------------------------------------

namespace conveyor {

caf::expected<bool> postgres_store::record_delivery(const webhook_delivery& x) {
  return postgres::write<bool>(
    *s_, postgres::transaction_kind::delivery, "record_delivery",
    "delivery_id=" + x.delivery_id, [this, &x](pqxx::transaction_base& tx) {
      postgres::require_text("the delivery_id", x.delivery_id);
      using postgres::encode_string;
      return !run(*s_, tx, insert_delivery, x.delivery_id,
                  encode_string(x.event), encode_string(x.action),
                  encode_string(x.outcome), encode_string(x.reason),
                  x.build_id, x.received_at_ms)
                .empty();
    });
}

caf::expected<std::vector<webhook_delivery>>
postgres_store::fetch_deliveries(int32_t limit) {
  using result_type = std::vector<webhook_delivery>;
  return postgres::read_statement<result_type>(
    *s_, "fetch_deliveries", "limit=" + std::to_string(limit),
    [this, limit](pqxx::transaction_base& tx) {
      using postgres::decode_string;
      // A negative limit means none, as in SQLite.
      auto rows = limit >= 0 ? run(*s_, tx, newest_deliveries, limit)
                             : run(*s_, tx, newest_deliveries, nullptr);
      result_type result;
      for (const auto& row : rows)
        result.push_back({row[0].as<std::string>(),
                          decode_string(row[1].as<std::string>()),
                          decode_string(row[2].as<std::string>()),
                          decode_string(row[3].as<std::string>()),
                          decode_string(row[4].as<std::string>()),
                          row[5].as<int64_t>(), row[6].as<int64_t>()});
      return result;
    });
}

} // namespace conveyor

// -- commit status outbox -----------------------------------------------------

namespace conveyor {

caf::expected<std::vector<build_record>>
postgres_store::fetch_status_outbox(int32_t limit) {
  using result_type = std::vector<build_record>;
  return postgres::read<result_type>(
    *s_, "fetch_status_outbox", "limit=" + std::to_string(limit),
    [this, limit](pqxx::transaction_base& tx) {
      // A negative limit means none, as in SQLite.
      auto rows = limit >= 0 ? run(*s_, tx, status_outbox, limit)
                             : run(*s_, tx, status_outbox, nullptr);
      return postgres::read_builds(*s_, tx, rows);
    });
}

caf::expected<bool>
postgres_store::mark_status_reported(int64_t build_id,
                                     const std::string& state) {
  return postgres::write<bool>(
    *s_, postgres::transaction_kind::delivery, "mark_status_reported",
    "build_id=" + std::to_string(build_id),
    [this, build_id, &state](pqxx::transaction_base& tx) {
      postgres::require_text("the reported status", state);
      run(*s_, tx, mark_reported, build_id, state);
      return true;
    });
}

} // namespace conveyor
