#include "adapters/sqlite/sqlite_store.hpp"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/boundary.hpp"
#include "adapters/sqlite/json_codec.hpp"
#include "adapters/sqlite/migrations.hpp"
#include "adapters/sqlite/rows.hpp"
#include "adapters/sqlite/store_logger.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

using sqlite::counted;
using sqlite::failure;
using sqlite::guarded;
using sqlite::job_context;
using sqlite::or_now;
using sqlite::parse_build_state;
using sqlite::parse_job_state;
using sqlite::store_logger;
using sqlite::transaction;
using sqlite::transaction_kind;

// -- SQL ----------------------------------------------------------------------

constexpr const char* insert_request_sql
  = "INSERT OR IGNORE INTO requests (request_id, source, event, repo, slug, "
    "ref, sha, branch, tag, message, sender, created_at, pull_request, "
    "head_repo, head_branch, fork, delivery_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr const char* insert_build_sql
  = "INSERT INTO builds (repository, number, request_id, state, fast_finish, "
    "config, messages, created_at, started_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr const char* insert_job_sql
  = "INSERT INTO jobs (build_id, idx, spec, allow_failure, state, attempt, "
    "exit_code, reason, created_at, started_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

// -- rows ---------------------------------------------------------------------

void insert_request(sqlite::database& db, const build_request& r,
                    int64_t created_at) {
  auto stmt = db.prepare(insert_request_sql);
  stmt.bind(1, r.request_id)
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
    .bind(13, int64_t{r.pull_request})
    .bind(14, r.head_repo)
    .bind(15, r.head_branch)
    .bind(16, int64_t{r.fork});
  if (r.delivery_id.empty())
    stmt.bind_null(17);
  else
    stmt.bind(17, r.delivery_id);
  stmt.run();
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
    sqlite::insert_transition(db, job_state_changed{spec.job_id, spec.attempt,
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
  return counted<build_record>(metrics_, transaction_kind::create_build,
                               "create_build", context, [this, &x] {
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
    existing.reset();
    if (!x.request.delivery_id.empty()) {
      auto redelivered = db_.prepare(
        "SELECT b.id FROM builds b JOIN requests r "
        "ON r.request_id = b.request_id WHERE r.delivery_id = ?");
      redelivered.bind(1, x.request.delivery_id);
      if (redelivered.step()) {
        auto result = read_build(redelivered.int64(0));
        redelivered.reset();
        tx.commit();
        return result;
      }
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
  return counted<bool>(metrics_, transaction_kind::job_transition,
                       "apply job_state_changed",
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
    auto stored = parse_job_state(current.text(0));
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
    sqlite::insert_transition(db_, event);
    tx.commit();
    return true;
  });
}

caf::expected<bool> sqlite_store::apply(const build_state_changed& x) {
  return counted<bool>(metrics_, transaction_kind::build_transition,
                       "apply build_state_changed",
                       "build_id=" + std::to_string(x.build_id), [this, &x] {
    transaction tx{db_, transaction::kind::write};
    auto current = db_.prepare("SELECT state FROM builds WHERE id = ?");
    current.bind(1, x.build_id);
    if (!current.step())
      return false;
    auto stored = parse_build_state(current.text(0));
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
  return counted<build_record>(metrics_, transaction_kind::query,
                               "fetch_build", context,
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
  return counted<result_type>(metrics_, transaction_kind::query,
                              "fetch_transitions", context, [this, job_id] {
    auto stmt = db_.prepare("SELECT attempt, state, at, exit_code, reason "
                            "FROM job_transitions WHERE job_id = ? ORDER BY id");
    stmt.bind(1, job_id);
    result_type result;
    while (stmt.step())
      result.push_back(job_state_changed{
        job_id, static_cast<int32_t>(stmt.int64(0)),
        parse_job_state(stmt.text(1)), stmt.int64(2),
        static_cast<int32_t>(stmt.int64(3)), stmt.text(4)});
    return result;
  });
}

build_record sqlite_store::read_build(int64_t build_id) {
  auto build = db_.prepare(sqlite::select_builds_sql("WHERE b.id = ?").c_str());
  build.bind(1, build_id);
  auto result = sqlite::read_builds(db_, build);
  if (result.empty())
    throw failure("build " + std::to_string(build_id) + " vanished");
  return std::move(result.front());
}

// -- batches ------------------------------------------------------------------

caf::error sqlite_store::write_batch(size_t count,
                                     const std::function<void(size_t)>& apply) {
  auto start = std::chrono::steady_clock::now();
  metrics_.begin_batch();
  auto context = "writes=" + std::to_string(count);
  auto result = guarded<bool>("write_batch", context, [this, count, &apply] {
    transaction tx{db_, transaction::kind::write};
    for (size_t i = 0; i < count; ++i) {
      apply(i);
      // After some errors (e.g. SQLITE_FULL) SQLite rolls back the whole
      // transaction: the next write would run on its own, outside the batch.
      if (!db_.in_transaction())
        throw failure("SQLite rolled back the batch at write "
                      + std::to_string(i));
    }
    tx.commit();
    return true;
  });
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now()
                                          - start;
  metrics_.end_batch(static_cast<int64_t>(count), elapsed.count(), !result);
  if (!result)
    return std::move(result.error());
  return caf::error{};
}

// -- metrics ------------------------------------------------------------------

metric_families sqlite_store::metrics() const {
  return metrics_.collect();
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
