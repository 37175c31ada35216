#include "adapters/postgres/postgres_store.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include "adapters/postgres/json_codec.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/rows.hpp"
#include "adapters/postgres/session.hpp"

namespace conveyor {

namespace {

using postgres::counted;
using postgres::failure;
using postgres::guarded;
using postgres::job_context;
using postgres::or_now;
using postgres::prepared_statement;
using postgres::run;
using postgres::session;
using postgres::store_logger;
using postgres::transaction_kind;

// -- SQL ----------------------------------------------------------------------

// A build of this request id, or else of this delivery id (NULL: none).
constexpr prepared_statement existing_build{
  "existing_build",
  "SELECT b.id FROM requests r JOIN builds b ON b.request_id = r.request_id "
  "WHERE r.request_id = $1 OR r.delivery_id = $2 "
  "ORDER BY r.request_id = $1 DESC LIMIT 1"};

constexpr prepared_statement request_exists{
  "request_exists", "SELECT 1 FROM requests WHERE request_id = $1"};

// No row back: another store holds this request id or delivery id.
constexpr prepared_statement insert_request{
  "insert_request",
  "INSERT INTO requests (request_id, delivery_id, repository, pull_request, "
  "fork, fields, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
  "ON CONFLICT DO NOTHING RETURNING request_id"};

// Numbers the build and inserts it in one round trip. The counter row's lock
// orders concurrent creates of one repository.
constexpr prepared_statement insert_build_sql{
  "insert_numbered_build",
  "WITH n AS (INSERT INTO repository_counters AS c (repository, last_number) "
  "VALUES ($1::text, 1) ON CONFLICT (repository) "
  "DO UPDATE SET last_number = c.last_number + 1 RETURNING last_number) "
  "INSERT INTO builds (repository, number, request_id, state, fast_finish, "
  "config, messages, created_at, started_at, finished_at) "
  "SELECT $1::text, n.last_number, $2::text, $3::text, $4::boolean, "
  "$5::jsonb, $6::jsonb, $7::bigint, $8::bigint, $9::bigint FROM n "
  "RETURNING id, number"};

// A job and the first row of its history in one round trip.
constexpr prepared_statement insert_job{
  "insert_job",
  "WITH j AS (INSERT INTO jobs (build_id, idx, spec, allow_failure, state, "
  "attempt, exit_code, reason, created_at, started_at, finished_at) "
  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
  "RETURNING id, attempt, state, created_at, exit_code, reason) "
  "INSERT INTO job_transitions (job_id, attempt, state, at, exit_code, reason) "
  "SELECT id, attempt, state, created_at, exit_code, reason FROM j "
  "RETURNING job_id"};

// Checks the news of a job against its stored row, sets its state and
// appends the transition, in one round trip. $8 is the attempt the news is
// about, $9 the states the job may leave for $2 (see allowed_from). Answers
// the stored state and attempt (no row: unknown job) and whether it applied.
//
// The check is on the row that `cur` locked, not in the UPDATE's own WHERE:
// under READ COMMITTED an UPDATE skips, without waiting, a row whose version
// in its snapshot fails its WHERE, so news made valid by the uncommitted write
// of a store on another node (the job's previous state, a requeue's next
// attempt) would be dropped. FOR UPDATE waits for that write and answers the
// row's newest version, and the UPDATE then changes that version.
constexpr prepared_statement apply_job_news{
  "apply_job_news",
  "WITH cur AS (SELECT id, state, attempt FROM jobs WHERE id = $1 FOR UPDATE), "
  "u AS (UPDATE jobs j SET state = $2::text, exit_code = $3::integer, "
  "reason = $4::jsonb, "
  "started_at = CASE WHEN $5::boolean THEN $6::bigint ELSE j.started_at END, "
  "finished_at = CASE WHEN $7::boolean THEN $6::bigint ELSE j.finished_at END "
  "FROM cur WHERE j.id = cur.id AND cur.attempt = $8::integer "
  "AND cur.state = ANY($9::text[]) RETURNING j.id, j.attempt), "
  "t AS (INSERT INTO job_transitions (job_id, attempt, state, at, exit_code, "
  "reason) SELECT id, attempt, $2::text, $6::bigint, $3::integer, $4::jsonb "
  "FROM u RETURNING job_id) "
  "SELECT cur.state, cur.attempt, EXISTS (SELECT 1 FROM t) FROM cur"};

// Checks the news of a build against its stored row and sets its state, in
// one round trip; a row back if it applied. $6 holds the states a build never
// leaves. The check is on the locked row, for the reason given at
// apply_job_news (a requeue on another node may reopen a finished build).
constexpr prepared_statement apply_build_news{
  "apply_build_news",
  "WITH cur AS (SELECT id, state FROM builds WHERE id = $1 FOR UPDATE) "
  "UPDATE builds b SET state = $2::text, "
  "started_at = CASE WHEN $3::boolean THEN $4::bigint ELSE b.started_at END, "
  "finished_at = CASE WHEN $5::boolean THEN $4::bigint ELSE b.finished_at END "
  "FROM cur WHERE b.id = cur.id AND cur.state <> $2::text "
  "AND cur.state <> ALL($6::text[]) RETURNING b.id"};

constexpr prepared_statement transitions_of_job{
  "transitions_of_job",
  "SELECT attempt, state, at, exit_code, reason FROM job_transitions "
  "WHERE job_id = $1 ORDER BY id"};

// -- rows ---------------------------------------------------------------------

// A PostgreSQL array literal of the names of the states `s` of `Enum` (listed
// from 0 to `last`) for which `pred(s)` holds, e.g. {created,queued}. The
// state machines stay in messages/ and the SQL checks them.
template <class Enum, class Predicate>
std::string state_array(Enum last, Predicate pred) {
  std::string result = "{";
  for (auto i = 0; i <= static_cast<int>(last); ++i) {
    auto x = static_cast<Enum>(i);
    if (!pred(x))
      continue;
    if (result.size() > 1)
      result += ',';
    result += to_string(x);
  }
  result += '}';
  return result;
}

// The states a job may leave for `to`.
std::string allowed_from(job_state to) {
  return state_array(job_state::canceled,
                     [to](job_state from) { return is_allowed(from, to); });
}

// The states a build never leaves.
const std::string& terminal_build_states() {
  static const auto result = state_array(
    build_state::canceled, [](build_state x) { return is_terminal(x); });
  return result;
}

// The id of the build of `r`'s request id or delivery id, if there is one.
std::optional<int64_t> find_existing(session& s, pqxx::transaction_base& tx,
                                     const build_request& r) {
  const char* delivery = r.delivery_id.empty() ? nullptr
                                               : r.delivery_id.c_str();
  auto rows = run(s, tx, existing_build, r.request_id, delivery);
  if (rows.empty())
    return std::nullopt;
  return rows[0][0].as<int64_t>();
}

// Inserts the build and its jobs; `x` gets the ids the database chose.
void insert_build(session& s, pqxx::transaction_base& tx, build_record& x,
                  const std::string& repository) {
  auto row = run(s, tx, insert_build_sql, repository, x.request.request_id,
                 to_string(x.state), x.fast_finish,
                 postgres::encode_string(x.config),
                 postgres::encode_messages(x.messages), x.created_at_ms,
                 x.started_at_ms, x.finished_at_ms)
               .at(0);
  x.id = row[0].as<int64_t>();
  x.number = row[1].as<int64_t>();
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
    spec.job_id = run(s, tx, insert_job, x.id, spec.index,
                      postgres::encode_spec(spec), spec.allow_failure,
                      to_string(job.state), spec.attempt, job.exit_code,
                      postgres::encode_string(job.reason), job.created_at_ms,
                      job.started_at_ms, job.finished_at_ms)[0][0]
                    .as<int64_t>();
  }
}

} // namespace

// -- constructors -------------------------------------------------------------

postgres_store::postgres_store(std::unique_ptr<session> s) : s_(std::move(s)) {
  // nop
}

postgres_store::postgres_store(postgres_store&&) noexcept = default;

postgres_store& postgres_store::operator=(postgres_store&&) noexcept = default;

postgres_store::~postgres_store() = default;

caf::expected<postgres_store> postgres_store::open(const std::string& url) {
  auto context = "url=" + postgres::redact(url);
  return guarded<postgres_store>(url, "open", context, [&url] {
    auto s = std::make_unique<session>(url);
    postgres::migrate(s->conn);
    store_logger()->info("store connected url={} server_version={}",
                         s->safe_url, s->conn.server_version());
    return postgres_store{std::move(s)};
  });
}

// -- builds and jobs ----------------------------------------------------------

caf::expected<build_record> postgres_store::create_build(build_record x) {
  auto context = "request_id=" + x.request.request_id;
  return postgres::write<build_record>(
    *s_, transaction_kind::create_build, "create_build", context,
    [this, &x](pqxx::transaction_base& tx) {
      auto& s = *s_;
      const auto& r = x.request;
      if (r.request_id.empty())
        throw failure("the build's request has no request_id");
      const auto& repository = r.slug.empty() ? r.repo : r.slug;
      postgres::require_text("the request_id", r.request_id);
      postgres::require_text("the delivery_id", r.delivery_id);
      postgres::require_text("the repository (slug or repo)", repository);
      // The insert comes first, as the check for an existing build: a build
      // implies its request row, so a request that inserts has no build yet,
      // and a new build costs no lookup.
      x.created_at_ms = or_now(x.created_at_ms);
      const char* delivery = r.delivery_id.empty() ? nullptr
                                                   : r.delivery_id.c_str();
      auto inserted = run(s, tx, insert_request, r.request_id, delivery,
                          repository, r.pull_request, r.fork,
                          postgres::encode_request(r), x.created_at_ms);
      if (inserted.empty()) {
        // Known request or delivery. Read committed: this statement also
        // sees what a store that won a race committed, build included.
        if (auto id = find_existing(s, tx, r))
          return postgres::read_build(s, tx, *id);
        if (run(s, tx, request_exists, r.request_id).empty())
          throw failure("delivery_id " + r.delivery_id
                        + " belongs to another request");
      }
      insert_build(s, tx, x, repository);
      auto result = postgres::read_build(s, tx, x.id);
      store_logger()->info("build created request_id={} build_id={} "
                           "number={} jobs={}",
                           r.request_id, x.id, x.number, x.jobs.size());
      return result;
    });
}

caf::expected<bool> postgres_store::apply(const job_state_changed& x) {
  return postgres::write<bool>(
    *s_, transaction_kind::job_transition, "apply job_state_changed",
    job_context(x.job_id, x.attempt), [this, &x](pqxx::transaction_base& tx) {
      auto rows = run(*s_, tx, apply_job_news, x.job_id, to_string(x.state),
                      x.exit_code, postgres::encode_string(x.reason),
                      x.state == job_state::started, or_now(x.at_ms),
                      is_terminal(x.state), x.attempt, allowed_from(x.state));
      if (rows.empty()) {
        store_logger()->debug("job news ignored, unknown job {} state={}",
                              job_context(x.job_id, x.attempt),
                              to_string(x.state));
        return false;
      }
      if (!rows[0][2].as<bool>()) {
        // Stale or duplicate news is expected (requeues, retries), not an
        // error.
        store_logger()->debug("job news ignored {} state={} stored_attempt={} "
                              "stored_state={}",
                              job_context(x.job_id, x.attempt),
                              to_string(x.state), rows[0][1].as<int32_t>(),
                              rows[0][0].as<std::string>());
        return false;
      }
      return true;
    });
}

caf::expected<bool> postgres_store::apply(const build_state_changed& x) {
  return postgres::write<bool>(
    *s_, transaction_kind::build_transition, "apply build_state_changed",
    "build_id=" + std::to_string(x.build_id),
    [this, &x](pqxx::transaction_base& tx) {
      // Unknown, finished or already in that state: nothing changes.
      return !run(*s_, tx, apply_build_news, x.build_id, to_string(x.state),
                  x.state == build_state::started, or_now(x.at_ms),
                  is_terminal(x.state), terminal_build_states())
                .empty();
    });
}

caf::expected<build_record> postgres_store::fetch_build(int64_t build_id) {
  return postgres::read_statement<build_record>(
    *s_, "fetch_build", "build_id=" + std::to_string(build_id),
    [this, build_id](
      pqxx::transaction_base& tx) -> caf::expected<build_record> {
      auto build = postgres::find_build(*s_, tx, build_id);
      if (!build)
        return make_error(errc::unknown_build,
                          "no build with id " + std::to_string(build_id));
      return std::move(*build);
    });
}

caf::expected<std::vector<job_state_changed>>
postgres_store::fetch_transitions(int64_t job_id) {
  using result_type = std::vector<job_state_changed>;
  return postgres::read_statement<result_type>(
    *s_, "fetch_transitions", "job_id=" + std::to_string(job_id),
    [this, job_id](pqxx::transaction_base& tx) {
      result_type result;
      for (const auto& row : run(*s_, tx, transitions_of_job, job_id))
        result.push_back(job_state_changed{
          job_id, row[0].as<int32_t>(),
          postgres::parse_job_state(row[1].as<std::string>()),
          row[2].as<int64_t>(), row[3].as<int32_t>(),
          postgres::decode_string(row[4].as<std::string>())});
      return result;
    });
}

// -- batches ------------------------------------------------------------------

caf::error postgres_store::write_batch(size_t count,
                                       const std::function<void(size_t)>& apply,
                                       size_t requests) {
  auto start = std::chrono::steady_clock::now();
  s_->metrics.begin_batch();
  auto context = "writes=" + std::to_string(count);
  auto result = guarded<bool>(s_->url, "write_batch", context,
                              [this, count, &apply] {
    auto& s = *s_;
    // First without a savepoint per write: two round trips less for each.
    // If a write fails, that try is rolled back and the batch runs again
    // with one savepoint per write, so that a failing write undoes only its
    // own changes. Nothing is answered before the COMMIT, so the first
    // try's results are simply replaced.
    auto metrics_before = s.metrics;
    for (auto optimistic : {true, false}) {
      pqxx::work tx{s.conn, "batch"};
      s.batch = &tx;
      s.optimistic = optimistic;
      s.batch_failed = false;
      struct reset_batch {
        session& s;
        ~reset_batch() {
          s.batch = nullptr;
          s.optimistic = false;
        }
      } guard{s};
      auto spoiled = false;
      for (size_t i = 0; i < count && !spoiled; ++i) {
        apply(i);
        // Every later write would fail the same way.
        if (!s.is_open())
          throw failure("connection to PostgreSQL lost at write "
                        + std::to_string(i) + " of the batch");
        spoiled = s.batch_failed;
      }
      if (spoiled) {
        s.metrics = metrics_before; // counted again by the second try
        continue;                   // ~work rolls the try back
      }
      s.batch = nullptr;
      tx.commit();
      return true;
    }
    throw failure("write_batch: no try left"); // not reached
  });
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now()
                                          - start;
  s_->metrics.end_batch(static_cast<int64_t>(requests != 0 ? requests
                                                          : count),
                        elapsed.count(), !result);
  if (!result)
    return std::move(result.error());
  return caf::error{};
}

// -- metrics ------------------------------------------------------------------

metric_families postgres_store::metrics() const {
  return s_->metrics.collect();
}

// -- connection and schema ----------------------------------------------------

bool postgres_store::connected() const {
  return s_->is_open();
}

const std::string& postgres_store::safe_url() const {
  return s_->safe_url;
}

caf::expected<int32_t> postgres_store::schema_version() {
  return guarded<int32_t>(s_->url, "schema_version", "url=" + s_->safe_url,
                          [this] { return postgres::schema_version(s_->conn); });
}

int32_t postgres_store::latest_schema_version() {
  return postgres::latest_schema_version();
}

} // namespace conveyor
