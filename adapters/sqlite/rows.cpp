#include "adapters/sqlite/rows.hpp"

#include <chrono>
#include <unordered_map>

#include "adapters/sqlite/json_codec.hpp"

namespace conveyor::sqlite {

namespace {

template <class Enum>
Enum parse_state(const std::string& name) {
  Enum result;
  if (!from_string(name, result))
    throw failure("unknown state '" + name + "' in the database");
  return result;
}

// A JSON array of the ids, for json_each: one statement whatever their number.
std::string json_array(const std::vector<build_record>& builds) {
  std::string result = "[";
  for (const auto& b : builds) {
    if (result.size() > 1)
      result += ',';
    result += std::to_string(b.id);
  }
  result += ']';
  return result;
}

} // namespace

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

int64_t or_now(int64_t at_ms) {
  return at_ms != 0 ? at_ms : now_ms();
}

build_state parse_build_state(const std::string& name) {
  return parse_state<build_state>(name);
}

job_state parse_job_state(const std::string& name) {
  return parse_state<job_state>(name);
}

std::string select_builds_sql(const std::string& tail) {
  return "SELECT b.id, b.number, b.state, b.fast_finish, b.config, "
         "b.messages, b.created_at, b.started_at, b.finished_at, "
         "r.request_id, r.source, r.repo, r.slug, r.ref, r.sha, r.branch, "
         "r.tag, r.event, r.message, r.sender, r.pull_request, r.head_repo, "
         "r.head_branch, r.fork, COALESCE(r.delivery_id, '') "
         "FROM builds b JOIN requests r ON r.request_id = b.request_id "
         + tail;
}

std::string select_jobs_sql(const std::string& tail) {
  return "SELECT j.id, j.idx, j.spec, j.allow_failure, j.state, j.attempt, "
         "j.exit_code, j.reason, j.created_at, j.started_at, j.finished_at, "
         "j.build_id, b.number FROM jobs j JOIN builds b ON b.id = j.build_id "
         + tail;
}

build_record build_from_row(const statement& row) {
  build_record x;
  x.id = row.int64(0);
  x.number = row.int64(1);
  x.state = parse_build_state(row.text(2));
  x.fast_finish = row.int64(3) != 0;
  x.config = row.text(4);
  x.messages = decode_messages(row.text(5));
  x.created_at_ms = row.int64(6);
  x.started_at_ms = row.int64(7);
  x.finished_at_ms = row.int64(8);
  auto& r = x.request;
  r.request_id = row.text(9);
  r.source = row.text(10);
  r.repo = row.text(11);
  r.slug = row.text(12);
  r.ref = row.text(13);
  r.sha = row.text(14);
  r.branch = row.text(15);
  r.tag = row.text(16);
  r.event = row.text(17);
  r.commit_message = row.text(18);
  r.sender = row.text(19);
  r.pull_request = static_cast<int32_t>(row.int64(20));
  r.head_repo = row.text(21);
  r.head_branch = row.text(22);
  r.fork = row.int64(23) != 0;
  r.delivery_id = row.text(24);
  return x;
}

job_record job_from_row(const statement& row) {
  job_record x;
  decode_spec(row.text(2), x.spec);
  x.spec.job_id = row.int64(0);
  x.spec.build_id = row.int64(11);
  x.spec.build_number = row.int64(12);
  x.spec.index = static_cast<int32_t>(row.int64(1));
  x.spec.allow_failure = row.int64(3) != 0;
  x.state = parse_job_state(row.text(4));
  x.spec.attempt = static_cast<int32_t>(row.int64(5));
  x.exit_code = static_cast<int32_t>(row.int64(6));
  x.reason = row.text(7);
  x.created_at_ms = row.int64(8);
  x.started_at_ms = row.int64(9);
  x.finished_at_ms = row.int64(10);
  return x;
}

std::vector<build_record> read_builds(database& db, statement& builds) {
  std::vector<build_record> result;
  std::unordered_map<int64_t, size_t> position;
  while (builds.step()) {
    result.push_back(build_from_row(builds));
    position.emplace(result.back().id, result.size() - 1);
  }
  if (result.empty())
    return result;
  auto jobs = db.prepare(
    select_jobs_sql("WHERE j.build_id IN (SELECT value FROM json_each(?)) "
                    "ORDER BY j.build_id, j.idx")
      .c_str());
  jobs.bind(1, json_array(result));
  while (jobs.step()) {
    auto& build = result[position.at(jobs.int64(11))];
    build.jobs.push_back(job_from_row(jobs));
  }
  return result;
}

void insert_transition(database& db, const job_state_changed& x) {
  db.prepare("INSERT INTO job_transitions (job_id, attempt, state, at, "
             "exit_code, reason) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(1, x.job_id)
    .bind(2, int64_t{x.attempt})
    .bind(3, to_string(x.state))
    .bind(4, x.at_ms)
    .bind(5, int64_t{x.exit_code})
    .bind(6, x.reason)
    .run();
}

} // namespace conveyor::sqlite
