#include "adapters/postgres/rows.hpp"

#include <unordered_map>

#include "adapters/postgres/json_codec.hpp"

namespace conveyor::postgres {

namespace {

template <class Enum>
Enum parse_state(const std::string& name) {
  Enum result;
  if (!from_string(name, result))
    throw failure("unknown state '" + name + "' in the database");
  return result;
}

// A build and its jobs in one statement: a row per job in index order (one
// row with NULL jobs if it has none), the build's columns first and then the
// columns of CONVEYOR_PG_SELECT_JOBS. The big columns of the build (config,
// messages, request) are only on the first row, so that a large matrix does
// not send them once per job.
constexpr prepared_statement build_with_jobs{
  "build_with_jobs",
  "SELECT b.id, b.number, b.state, b.fast_finish, "
  "CASE WHEN row_number() OVER w = 1 THEN b.config END, "
  "CASE WHEN row_number() OVER w = 1 THEN b.messages END, "
  "b.created_at, b.started_at, b.finished_at, "
  "CASE WHEN row_number() OVER w = 1 THEN r.fields END, "
  "j.id, j.idx, j.spec, j.allow_failure, j.state, j.attempt, j.exit_code, "
  "j.reason, j.created_at, j.started_at, j.finished_at, j.build_id, b.number "
  "FROM builds b JOIN requests r ON r.request_id = b.request_id "
  "LEFT JOIN jobs j ON j.build_id = b.id "
  "WHERE b.id = $1 WINDOW w AS (ORDER BY j.idx) ORDER BY j.idx"};

// Where the columns of the job begin in a row of build_with_jobs.
constexpr pqxx::row::size_type first_job_column = 10;

// The condition on b.id as well: the planner does not carry "= ANY" across
// the join, and would hash all builds (a scan that grows with the table).
constexpr prepared_statement jobs_of_builds{
  "jobs_of_builds",
  CONVEYOR_PG_SELECT_JOBS "WHERE j.build_id = ANY($1::bigint[]) "
                          "AND b.id = ANY($1::bigint[]) "
                          "ORDER BY j.build_id, j.idx"};

constexpr prepared_statement insert_transition_sql{
  "insert_transition",
  "INSERT INTO job_transitions (job_id, attempt, state, at, exit_code, "
  "reason) VALUES ($1, $2, $3, $4, $5, $6)"};

// A PostgreSQL array literal of the builds' ids, e.g. {1,2,3}.
std::string id_array(const std::vector<build_record>& builds) {
  std::string result = "{";
  for (const auto& b : builds) {
    if (result.size() > 1)
      result += ',';
    result += std::to_string(b.id);
  }
  result += '}';
  return result;
}

} // namespace

build_state parse_build_state(const std::string& name) {
  return parse_state<build_state>(name);
}

job_state parse_job_state(const std::string& name) {
  return parse_state<job_state>(name);
}

build_record build_from_row(const pqxx::row& row) {
  build_record x;
  x.id = row[0].as<int64_t>();
  x.number = row[1].as<int64_t>();
  x.state = parse_build_state(row[2].as<std::string>());
  x.fast_finish = row[3].as<bool>();
  x.config = decode_string(row[4].as<std::string>());
  x.messages = decode_messages(row[5].as<std::string>());
  x.created_at_ms = row[6].as<int64_t>();
  x.started_at_ms = row[7].as<int64_t>();
  x.finished_at_ms = row[8].as<int64_t>();
  x.request = decode_request(row[9].as<std::string>());
  return x;
}

job_record job_from_row(const pqxx::row& row) {
  job_record x;
  decode_spec(row[2].as<std::string>(), x.spec);
  x.spec.job_id = row[0].as<int64_t>();
  x.spec.index = row[1].as<int32_t>();
  x.spec.allow_failure = row[3].as<bool>();
  x.state = parse_job_state(row[4].as<std::string>());
  x.spec.attempt = row[5].as<int32_t>();
  x.exit_code = row[6].as<int32_t>();
  x.reason = decode_string(row[7].as<std::string>());
  x.created_at_ms = row[8].as<int64_t>();
  x.started_at_ms = row[9].as<int64_t>();
  x.finished_at_ms = row[10].as<int64_t>();
  x.spec.build_id = row[11].as<int64_t>();
  x.spec.build_number = row[12].as<int64_t>();
  return x;
}

std::vector<build_record> read_builds(session& s, pqxx::transaction_base& tx,
                                      const pqxx::result& rows) {
  std::vector<build_record> result;
  std::unordered_map<int64_t, size_t> position;
  result.reserve(rows.size());
  for (const auto& row : rows) {
    result.push_back(build_from_row(row));
    position.emplace(result.back().id, result.size() - 1);
  }
  if (result.empty())
    return result;
  for (const auto& row : run(s, tx, jobs_of_builds, id_array(result))) {
    auto& build = result[position.at(row[11].as<int64_t>())];
    build.jobs.push_back(job_from_row(row));
  }
  return result;
}

std::optional<build_record> find_build(session& s, pqxx::transaction_base& tx,
                                       int64_t build_id) {
  auto rows = run(s, tx, build_with_jobs, build_id);
  if (rows.empty())
    return std::nullopt;
  auto result = build_from_row(rows[0]);
  if (rows[0][first_job_column].is_null())
    return result; // no jobs: the one row of the LEFT JOIN
  auto width = rows.columns();
  result.jobs.reserve(rows.size());
  for (const auto& row : rows)
    result.jobs.push_back(job_from_row(row.slice(first_job_column, width)));
  return result;
}

build_record read_build(session& s, pqxx::transaction_base& tx,
                        int64_t build_id) {
  auto result = find_build(s, tx, build_id);
  if (!result)
    throw failure("build " + std::to_string(build_id) + " vanished");
  return std::move(*result);
}

void insert_transition(session& s, pqxx::transaction_base& tx,
                       const job_state_changed& x) {
  run(s, tx, insert_transition_sql, x.job_id, x.attempt, to_string(x.state),
      x.at_ms, x.exit_code, encode_string(x.reason));
}

} // namespace conveyor::postgres
