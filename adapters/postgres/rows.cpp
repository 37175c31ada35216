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

constexpr prepared_statement build_by_id{
  "build_by_id", CONVEYOR_PG_SELECT_BUILDS "WHERE b.id = $1"};

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
  auto result = read_builds(s, tx, run(s, tx, build_by_id, build_id));
  if (result.empty())
    return std::nullopt;
  return std::move(result.front());
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
