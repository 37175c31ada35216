#include "adapters/sqlite/sqlite_store.hpp"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/boundary.hpp"
#include "adapters/sqlite/json_codec.hpp"
#include "adapters/sqlite/migrations.hpp"
#include "adapters/sqlite/store_logger.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

using sqlite::failure;
using sqlite::guarded;
using sqlite::job_context;
using sqlite::store_logger;
using sqlite::transaction;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

int64_t or_now(int64_t at_ms) {
  return at_ms != 0 ? at_ms : now_ms();
}

template <class Enum>
Enum parse_state(const std::string& name) {
  Enum result;
  if (!from_string(name, result))
    throw failure("unknown state '" + name + "' in the database");
  return result;
}

// -- SQL ----------------------------------------------------------------------

constexpr const char* select_build_sql
  = "SELECT b.id, b.number, b.state, b.fast_finish, b.config, b.messages, "
    "b.created_at, b.started_at, b.finished_at, r.request_id, r.source, "
    "r.repo, r.slug, r.ref, r.sha, r.branch, r.tag, r.event, r.message, "
    "r.sender FROM builds b JOIN requests r ON r.request_id = b.request_id "
    "WHERE b.id = ?";

constexpr const char* select_jobs_sql
  = "SELECT id, idx, spec, allow_failure, state, attempt, exit_code, reason, "
    "created_at, started_at, finished_at FROM jobs WHERE build_id = ? "
    "ORDER BY idx";

constexpr const char* insert_request_sql
  = "INSERT OR IGNORE INTO requests (request_id, source, event, repo, slug, "
    "ref, sha, branch, tag, message, sender, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr const char* insert_build_sql
  = "INSERT INTO builds (repository, number, request_id, state, fast_finish, "
    "config, messages, created_at, started_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr const char* insert_job_sql
  = "INSERT INTO jobs (build_id, idx, spec, allow_failure, state, attempt, "
    "exit_code, reason, created_at, started_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr const char* insert_transition_sql
  = "INSERT INTO job_transitions (job_id, attempt, state, at, exit_code, "
    "reason) VALUES (?, ?, ?, ?, ?, ?)";

// -- rows ---------------------------------------------------------------------

build_record build_from_row(const sqlite::statement& row) {
  build_record x;
  x.id = row.int64(0);
  x.number = row.int64(1);
  x.state = parse_state<build_state>(row.text(2));
  x.fast_finish = row.int64(3) != 0;
  x.config = row.text(4);
  x.messages = sqlite::decode_messages(row.text(5));
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
  return x;
}

job_record job_from_row(const sqlite::statement& row, const build_record& b) {
  job_record x;
  sqlite::decode_spec(row.text(2), x.spec);
  x.spec.job_id = row.int64(0);
  x.spec.build_id = b.id;
  x.spec.build_number = b.number;
  x.spec.index = static_cast<int32_t>(row.int64(1));
  x.spec.allow_failure = row.int64(3) != 0;
  x.state = parse_state<job_state>(row.text(4));
  x.spec.attempt = static_cast<int32_t>(row.int64(5));
  x.exit_code = static_cast<int32_t>(row.int64(6));
  x.reason = row.text(7);
  x.created_at_ms = row.int64(8);
  x.started_at_ms = row.int64(9);
  x.finished_at_ms = row.int64(10);
  return x;
}

void insert_request(sqlite::database& db, const build_request& r,
                    int64_t created_at) {
  db.prepare(insert_request_sql)
    .bind(1, r.request_id)
    .bind(2, r.source)
    .bind(3, r.event)
    .bind(4, r.repo)
    .bind(5, r.slug)
    .bind(6, r.ref)
    .bind(7, r.sha)
    .bind(8, r.branch)
    .bind(9, r.tag)
    .bind(10, r.commit_message)
    .bind(11, r.sender)
    .bind(12, created_at)
    .run();
}

void insert_transition(sqlite::database& db, const job_state_changed& x) {
  db.prepare(insert_transition_sql)
    .bind(1, x.job_id)
    .bind(2, int64_t{x.attempt})
    .bind(3, to_string(x.state))
    .bind(4, x.at_ms)
    .bind(5, int64_t{x.exit_code})
    .bind(6, x.reason)
    .run();
}

int64_t next_build_number(sqlite::database& db, const std::string& repository) {
  auto stmt = db.prepare(
    "SELECT COALESCE(MAX(number), 0) + 1 FROM builds WHERE repository = ?");
  stmt.bind(1, repository);
  stmt.step();
  return stmt.int64(0);
}

// Inserts the build and its jobs; `x` gets the ids the database chose.
void insert_build(sqlite::database& db, build_record& x) {
  const auto& repository = x.request.slug.empty() ? x.request.repo
                                                  : x.request.slug;
  x.number = next_build_number(db, repository);
  db.prepare(insert_build_sql)
    .bind(1, repository)
    .bind(2, x.number)
    .bind(3, x.request.request_id)
    .bind(4, to_string(x.state))
    .bind(5, int64_t{x.fast_finish})
    .bind(6, x.config)
    .bind(7, sqlite::encode_messages(x.messages))
    .bind(8, x.created_at_ms)
    .bind(9, x.started_at_ms)
    .bind(10, x.finished_at_ms)
    .run();
  x.id = db.last_insert_rowid();
  auto insert_job = db.prepare(insert_job_sql);
  int32_t position = 0;
  for (auto& job : x.jobs) {
    ++position;
    auto& spec = job.spec;
    spec.build_id = x.id;
    spec.build_number = x.number;
    if (spec.index == 0)
      spec.index = position;
    if (job.created_at_ms == 0)
      job.created_at_ms = x.created_at_ms;
    insert_job.bind(1, x.id)
      .bind(2, int64_t{spec.index})
      .bind(3, sqlite::encode_spec(spec))
      .bind(4, int64_t{spec.allow_failure})
      .bind(5, to_string(job.state))
      .bind(6, int64_t{spec.attempt})
      .bind(7, int64_t{job.exit_code})
      .bind(8, job.reason)
      .bind(9, job.created_at_ms)
      .bind(10, job.started_at_ms)
      .bind(11, job.finished_at_ms)
      .run();
    spec.job_id = db.last_insert_rowid();
    insert_transition(db, job_state_changed{spec.job_id, spec.attempt,
                                            job.state, job.created_at_ms,
                                            job.exit_code, job.reason});
  }
}

} // namespace

// -- constructors -------------------------------------------------------------

sqlite_store::sqlite_store(sqlite::database db) : db_(std::move(db)) {
  // nop
}

caf::expected<sqlite_store> sqlite_store::open(const std::string& path) {
  return guarded<sqlite_store>("open", "path=" + path, [&path] {
    auto db = sqlite::database::open(path);
    sqlite::migrate(db);
    return sqlite_store{std::move(db)};
  });
}

// -- builds and jobs ----------------------------------------------------------

caf::expected<build_record> sqlite_store::create_build(build_record x) {
  auto context = "request_id=" + x.request.request_id;
  return guarded<build_record>("create_build", context, [this, &x] {
    if (x.request.request_id.empty())
      throw failure("the build's request has no request_id");
    transaction tx{db_, transaction::kind::write};
    auto existing = db_.prepare("SELECT id FROM builds WHERE request_id = ?");
    existing.bind(1, x.request.request_id);
    if (existing.step()) {
      auto result = read_build(existing.int64(0));
      existing.reset();
      tx.commit();
      return result;
    }
    x.created_at_ms = or_now(x.created_at_ms);
    insert_request(db_, x.request, x.created_at_ms);
    insert_build(db_, x);
    auto result = read_build(x.id);
    tx.commit();
    store_logger()->info("build created request_id={} build_id={} number={} "
                         "jobs={}",
                         x.request.request_id, x.id, x.number, x.jobs.size());
    return result;
  });
}

caf::expected<bool> sqlite_store::apply(const job_state_changed& x) {
  return guarded<bool>("apply job_state_changed",
                       job_context(x.job_id, x.attempt), [this, &x] {
    transaction tx{db_, transaction::kind::write};
    auto current = db_.prepare("SELECT state, attempt FROM jobs WHERE id = ?");
    current.bind(1, x.job_id);
    if (!current.step()) {
      store_logger()->debug("job news ignored, unknown job {} state={}",
                            job_context(x.job_id, x.attempt),
                            to_string(x.state));
      return false;
    }
    auto stored = parse_state<job_state>(current.text(0));
    auto stored_attempt = current.int64(1);
    current.reset();
    if (stored_attempt != x.attempt || !is_allowed(stored, x.state)) {
      // Stale or duplicate news is expected (requeues, retries), not an error.
      store_logger()->debug("job news ignored {} state={} stored_attempt={} "
                            "stored_state={}",
                            job_context(x.job_id, x.attempt),
                            to_string(x.state), stored_attempt,
                            to_string(stored));
      return false;
    }
    auto event = x;
    event.at_ms = or_now(x.at_ms);
    db_.prepare("UPDATE jobs SET state = ?, exit_code = ?, reason = ?, "
                "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE id = ?")
      .bind(1, to_string(event.state))
      .bind(2, int64_t{event.exit_code})
      .bind(3, event.reason)
      .bind(4, int64_t{event.state == job_state::started})
      .bind(5, event.at_ms)
      .bind(6, int64_t{is_terminal(event.state)})
      .bind(7, event.at_ms)
      .bind(8, event.job_id)
      .run();
    insert_transition(db_, event);
    tx.commit();
    return true;
  });
}

caf::expected<bool> sqlite_store::apply(const build_state_changed& x) {
  return guarded<bool>("apply build_state_changed",
                       "build_id=" + std::to_string(x.build_id), [this, &x] {
    transaction tx{db_, transaction::kind::write};
    auto current = db_.prepare("SELECT state FROM builds WHERE id = ?");
    current.bind(1, x.build_id);
    if (!current.step())
      return false;
    auto stored = parse_state<build_state>(current.text(0));
    current.reset();
    if (is_terminal(stored) || stored == x.state)
      return false;
    auto at = or_now(x.at_ms);
    db_.prepare("UPDATE builds SET state = ?, "
                "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE id = ?")
      .bind(1, to_string(x.state))
      .bind(2, int64_t{x.state == build_state::started})
      .bind(3, at)
      .bind(4, int64_t{is_terminal(x.state)})
      .bind(5, at)
      .bind(6, x.build_id)
      .run();
    tx.commit();
    return true;
  });
}

caf::expected<build_record> sqlite_store::fetch_build(int64_t build_id) {
  auto context = "build_id=" + std::to_string(build_id);
  return guarded<build_record>("fetch_build", context,
                               [this, build_id]() -> caf::expected<build_record> {
    transaction tx{db_, transaction::kind::read};
    auto found = db_.prepare("SELECT 1 FROM builds WHERE id = ?");
    found.bind(1, build_id);
    if (!found.step())
      return make_error(errc::unknown_build,
                        "no build with id " + std::to_string(build_id));
    return read_build(build_id);
  });
}

caf::expected<std::vector<job_state_changed>>
sqlite_store::fetch_transitions(int64_t job_id) {
  using result_type = std::vector<job_state_changed>;
  auto context = "job_id=" + std::to_string(job_id);
  return guarded<result_type>("fetch_transitions", context, [this, job_id] {
    auto stmt = db_.prepare("SELECT attempt, state, at, exit_code, reason "
                            "FROM job_transitions WHERE job_id = ? ORDER BY id");
    stmt.bind(1, job_id);
    result_type result;
    while (stmt.step())
      result.push_back(job_state_changed{
        job_id, static_cast<int32_t>(stmt.int64(0)),
        parse_state<job_state>(stmt.text(1)), stmt.int64(2),
        static_cast<int32_t>(stmt.int64(3)), stmt.text(4)});
    return result;
  });
}

build_record sqlite_store::read_build(int64_t build_id) {
  auto build = db_.prepare(select_build_sql);
  build.bind(1, build_id);
  if (!build.step())
    throw failure("build " + std::to_string(build_id) + " vanished");
  auto result = build_from_row(build);
  auto jobs = db_.prepare(select_jobs_sql);
  jobs.bind(1, build_id);
  while (jobs.step())
    result.jobs.push_back(job_from_row(jobs, result));
  return result;
}

// -- schema -------------------------------------------------------------------

caf::expected<int32_t> sqlite_store::schema_version() {
  return guarded<int32_t>("schema_version", "path=" + db_.path(),
                          [this] { return sqlite::schema_version(db_); });
}

int32_t sqlite_store::latest_schema_version() {
  return sqlite::latest_schema_version();
}

} // namespace conveyor
