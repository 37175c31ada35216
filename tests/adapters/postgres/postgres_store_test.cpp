// What only the PostgreSQL store has: its migrations on a shared server,
// several nodes on one database, its connection string and its connection.
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <pqxx/connection>
#include <pqxx/transaction>

#include "adapters/postgres/connection_url.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/postgres_store.hpp"
#include "adapters/postgres/postgres_store_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "tests/adapters/postgres/pg_test_database.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

template <class T>
T value_of(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << describe(x.error()));
  return std::move(*x);
}

template <class T>
caf::error error_of(caf::expected<T> x) {
  if (x)
    FAIL("expected an error, got a value");
  return std::move(x.error());
}

bool is(const caf::error& err, errc code) {
  return err.category() == errc_category
         && err.code() == static_cast<uint8_t>(code);
}

build_record small_build(const std::string& request_id,
                         const std::string& slug = "octo/pg") {
  build_record x;
  x.request.request_id = request_id;
  x.request.source = "webhook";
  x.request.repo = "https://example.com/" + slug + ".git";
  x.request.slug = slug;
  x.request.event = "pull_request";
  x.request.pull_request = 42;
  x.request.head_repo = "fork/pg";
  x.request.head_branch = "topic";
  x.request.fork = true;
  x.request.delivery_id = "delivery-" + request_id;
  x.config = ".travis.yml";
  job_record job;
  job.spec.request_id = request_id;
  job.spec.phases.script = {"true"};
  x.jobs.push_back(job);
  return x;
}

} // namespace

// -- connection strings -------------------------------------------------------

TEST_CASE("secrets are found in every form of connection string") {
  using postgres::redact;
  using postgres::scrub;
  CHECK(redact("postgresql://conveyor:s3cret@db:5432/ci")
        == "postgresql://conveyor:***@db:5432/ci");
  CHECK(redact("postgres://u:p%40ss@h/db?sslmode=require")
        == "postgres://u:***@h/db?sslmode=require");
  CHECK(scrub("token p@ss here", "postgres://u:p%40ss@h/db")
        == "token *** here");
  CHECK(redact("postgresql://h/db?user=u&password=hunter2&sslmode=disable")
        == "postgresql://h/db?user=u&password=***&sslmode=disable");
  CHECK(redact("host=db user=u password=hunter2 dbname=ci")
        == "host=db user=u password=*** dbname=ci");
  CHECK(redact("host=db password = 'with space' dbname=ci")
        == "host=db password = '***' dbname=ci");
  CHECK(redact("postgresql://u@h/db") == "postgresql://u@h/db");
  CHECK(postgres::secrets_of("postgresql://h/db").empty());
}

TEST_CASE("a server that cannot be reached fails without showing the password") {
  // Nothing listens on port 1.
  std::string url = "postgresql://conveyor:Sup3rS3cret@127.0.0.1:1/conveyor"
                    "?connect_timeout=2";
  auto err = error_of(postgres_store::open(url));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("open failed: "));
  CHECK_THAT(describe(err), !Catch::Contains("Sup3rS3cret"));
  // libpq quotes a malformed URI's parts back in its message.
  auto bad = error_of(postgres_store::open(
    "postgresql://conveyor:Sup3r%ZZS3cret@127.0.0.1:1/conveyor"));
  CHECK(is(bad, errc::store_failure));
  CHECK_THAT(describe(bad), !Catch::Contains("Sup3r"));
  CHECK_THAT(describe(bad), !Catch::Contains("S3cret"));
}

TEST_CASE("a refused login fails without showing the password") {
  pg_database db;
  // The test server trusts every login: a role without LOGIN is refused
  // whatever its password. Roles are per server: the name is the test's own.
  auto role = db.name() + "_nologin";
  db.exec("CREATE ROLE " + role + " NOLOGIN PASSWORD 'right-one'");
  auto url = db.url();
  auto scheme_end = url.find("://") + 3;
  auto at = url.find('@', scheme_end);
  auto with_user = url.substr(0, scheme_end) + role + ":Wr0ngPassw0rd"
                   + url.substr(at);
  auto err = error_of(postgres_store::open(with_user));
  db.exec("DROP ROLE " + role);
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::Contains(role));
  CHECK_THAT(describe(err), !Catch::Contains("Wr0ngPassw0rd"));
}

// -- migrations ---------------------------------------------------------------

TEST_CASE("a fresh database gets every migration once") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  CHECK(value_of(store.schema_version())
        == postgres_store::latest_schema_version());
  CHECK(postgres_store::latest_schema_version() >= 3);
  CHECK(db.query_int("SELECT COUNT(*) FROM schema_migrations")
        == postgres_store::latest_schema_version());
  CHECK(db.query_int("SELECT MIN(applied_at) FROM schema_migrations") > 0);
  for (auto table : {"requests", "repository_counters", "builds", "jobs",
                     "job_transitions", "log_parts", "logs",
                     "webhook_deliveries"}) {
    INFO(table);
    CHECK(db.query_int(std::string{"SELECT COUNT(*) FROM "} + table) == 0);
  }
  // Opening again applies nothing.
  auto again = value_of(postgres_store::open(db.url()));
  CHECK(db.query_int("SELECT COUNT(*) FROM schema_migrations")
        == postgres_store::latest_schema_version());
}

TEST_CASE("stores starting at once on one database migrate it once") {
  pg_database db;
  const int n = 4;
  std::vector<std::string> errors(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&db, &errors, i] {
      auto store = postgres_store::open(db.url());
      if (!store)
        errors[i] = describe(store.error());
    });
  for (auto& t : threads)
    t.join();
  for (const auto& e : errors)
    CHECK(e.empty());
  CHECK(db.query_int("SELECT COUNT(*) FROM schema_migrations")
        == postgres_store::latest_schema_version());
  CHECK(db.query_int("SELECT COUNT(DISTINCT version) FROM schema_migrations")
        == postgres_store::latest_schema_version());
}

TEST_CASE("a database newer than the code is refused") {
  pg_database db;
  value_of(postgres_store::open(db.url()));
  db.exec("INSERT INTO schema_migrations VALUES (999, 'from the future', 1)");
  auto err = error_of(postgres_store::open(db.url()));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::Contains("newer") && Catch::Contains("999"));
}

TEST_CASE("migrate stops at the target version and resumes later") {
  pg_database db;
  pqxx::connection conn{db.url()};
  CHECK(postgres::migrate(conn, 1) == std::vector<int32_t>{1});
  CHECK(postgres::schema_version(conn) == 1);
  CHECK(db.query_int("SELECT (to_regclass('builds_by_state') IS NULL)::int")
        == 1);
  auto rest = postgres::migrate(conn);
  CHECK(rest.front() == 2);
  CHECK(postgres::schema_version(conn)
        == postgres::latest_schema_version());
  CHECK(postgres::migrate(conn).empty());
}

// -- rows ---------------------------------------------------------------------

TEST_CASE("request fields are columns and jsonb a person can query") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto build = value_of(store.create_build(small_build("pr-1")));
  CHECK(db.query_int("SELECT pull_request FROM requests") == 42);
  CHECK(db.query_int("SELECT fork::int FROM requests") == 1);
  CHECK(db.query_int("SELECT COUNT(*) FROM requests WHERE delivery_id = "
                     "'delivery-pr-1' AND fields->>'head_branch' = 'topic'")
        == 1);
  CHECK(db.query_int("SELECT last_number FROM repository_counters "
                     "WHERE repository = 'octo/pg'")
        == build.number);
  CHECK(db.query_int("SELECT COUNT(*) FROM job_transitions") == 1);
}

TEST_CASE("keys that are not text are refused with a clear message") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto err = error_of(store.create_build(small_build(std::string("r\0x", 3))));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::Contains("request_id is not valid UTF-8"));
  auto slug = small_build("slug");
  slug.request.slug = "octo/\xff";
  CHECK_THAT(describe(error_of(store.create_build(slug))),
             Catch::Contains("repository"));
  // Filters that are not text match nothing.
  CHECK(value_of(store.fetch_builds(build_query{"\xff", "", 10, 0})).empty());
  CHECK(value_of(store.fetch_builds(build_query{"", std::string("\0", 1), 10,
                                                0}))
          .empty());
  CHECK(db.query_int("SELECT COUNT(*) FROM builds") == 0);
}

TEST_CASE("transitions are kept in the job's history") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto id = value_of(store.create_build(small_build("history"))).jobs[0]
              .spec.job_id;
  REQUIRE(value_of(store.apply(job_state_changed{id, 1, job_state::queued, 10,
                                                 -1, ""})));
  REQUIRE(value_of(store.requeue(job_requeue{id, 1, 20, "lost"})).spec.attempt
          == 2);
  auto history = value_of(store.fetch_transitions(id));
  REQUIRE(history.size() == 4);
  CHECK(history[0].state == job_state::created);
  CHECK(history[1].state == job_state::queued);
  CHECK(history[2].state == job_state::errored);
  CHECK(history[2].reason == "lost");
  CHECK(history[3].attempt == 2);
  CHECK(history[3].at_ms == 20);
  CHECK(value_of(store.fetch_transitions(id + 1000)).empty());
}

// -- the actor and its connection ---------------------------------------------

TEST_CASE("a store whose connection is lost fails its requests and stops") {
  // A database of its own: the sessions ended are this test's only.
  pg_database db{pg_database::kind::database};
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto store = value_of(spawn_postgres_store(sys, db.url()));
  caf::scoped_actor self{sys};
  std::optional<build_record> created;
  self->request(store, std::chrono::seconds(30), create_atom::value,
                small_build("before"))
    .receive([&created](build_record& x) { created = std::move(x); },
             [](caf::error& err) { FAIL(describe(err)); });
  REQUIRE(created);
  self->monitor(store);
  // What a restarted or failed-over server does to its sessions.
  db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE datname = current_database() "
          "AND application_name = 'conveyor store'");
  caf::error failed;
  self->request(store, std::chrono::seconds(30), fetch_atom::value,
                build_atom::value, created->id)
    .receive([](build_record&) { FAIL("answered on a dead connection"); },
             [&failed](caf::error& err) { failed = std::move(err); });
  CHECK(is(failed, errc::store_failure));
  CHECK_THAT(describe(failed), Catch::StartsWith("fetch_build failed: "));
  caf::error reason;
  self->receive([&reason](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(std::chrono::seconds(30)) >> [] {});
  CHECK(is(reason, errc::store_failure));
  // A new store (what the supervisor starts) works again.
  auto restarted = value_of(spawn_postgres_store(sys, db.url()));
  self->request(restarted, std::chrono::seconds(30), fetch_atom::value,
                build_atom::value, created->id)
    .receive([&created](build_record& x) { CHECK(x.id == created->id); },
             [](caf::error& err) { FAIL(describe(err)); });
  caf::anon_send_exit(restarted, caf::exit_reason::user_shutdown);
}

TEST_CASE("two stores numbering builds of one repository never clash") {
  pg_database db;
  const int per_thread = 40;
  std::vector<std::vector<int64_t>> numbers(2);
  std::vector<std::string> errors(2);
  auto writer = [&db, &numbers, &errors](int t) {
    auto store = postgres_store::open(db.url());
    if (!store) {
      errors[t] = describe(store.error());
      return;
    }
    for (int i = 0; i < per_thread; ++i) {
      auto id = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto build = store->create_build(small_build(id, "octo/busy"));
      if (!build) {
        errors[t] = describe(build.error());
        return;
      }
      numbers[t].push_back(build->number);
    }
  };
  std::thread first{writer, 0};
  std::thread second{writer, 1};
  first.join();
  second.join();
  CHECK(errors[0].empty());
  CHECK(errors[1].empty());
  std::set<int64_t> all(numbers[0].begin(), numbers[0].end());
  all.insert(numbers[1].begin(), numbers[1].end());
  CHECK(all.size() == 2 * per_thread);
  CHECK(*all.rbegin() == 2 * per_thread);
}

// -- group commit -------------------------------------------------------------

TEST_CASE("a failing statement in a batch undoes only its own write") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto id = value_of(store.create_build(small_build("savepoint"))).jobs[0]
              .spec.job_id;
  REQUIRE(value_of(store.append_log_parts({{id, 1, 0, "only\n", true}})) == 1);
  // complete_log fails on the server after it stored the log: its savepoint
  // undoes that.
  db.exec("CREATE FUNCTION keep_parts() RETURNS trigger LANGUAGE plpgsql AS "
          "$$ BEGIN RAISE EXCEPTION 'parts are kept'; END $$; "
          "CREATE TRIGGER keep_parts BEFORE DELETE ON log_parts "
          "FOR EACH ROW EXECUTE FUNCTION keep_parts()");
  std::optional<caf::expected<bool>> queued;
  std::optional<caf::expected<log_completed>> completed;
  std::optional<caf::expected<bool>> received;
  auto err = store.write_batch(3, [&](size_t i) {
    if (i == 0)
      queued = store.apply(job_state_changed{id, 1, job_state::queued, 10, -1,
                                             ""});
    else if (i == 1)
      completed = store.complete_log(id, 1);
    else
      received = store.apply(job_state_changed{id, 1, job_state::received, 20,
                                               -1, ""});
  });
  CHECK_FALSE(err);
  REQUIRE(queued);
  CHECK(value_of(std::move(*queued)));
  REQUIRE(completed);
  auto failed = error_of(std::move(*completed));
  CHECK(is(failed, errc::store_failure));
  CHECK_THAT(describe(failed), Catch::Contains("parts are kept")
                                 && Catch::Contains("SQLSTATE"));
  REQUIRE(received);
  CHECK(value_of(std::move(*received)));
  CHECK(value_of(store.fetch_job(id)).state == job_state::received);
  CHECK(db.query_int("SELECT COUNT(*) FROM logs") == 0);
  CHECK(db.query_int("SELECT COUNT(*) FROM log_parts") == 1);
}

TEST_CASE("a batch whose COMMIT fails stores nothing and answers an error") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto id = value_of(store.create_build(small_build("commit"))).jobs[0]
              .spec.job_id;
  // A deferred check fails at COMMIT, after every write answered.
  db.exec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
          "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$; "
          "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON job_transitions "
          "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()");
  std::optional<caf::expected<bool>> applied;
  std::optional<caf::expected<int64_t>> added;
  auto err = store.write_batch(2, [&](size_t i) {
    if (i == 0)
      applied = store.apply(job_state_changed{id, 1, job_state::queued, 10, -1,
                                              ""});
    else
      added = store.append_log_parts({{id, 1, 0, "x", false}});
  });
  REQUIRE(err);
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("write_batch failed: ")
                              && Catch::Contains("refused at commit"));
  // Each write had answered on its own before the COMMIT.
  REQUIRE(applied);
  CHECK(value_of(std::move(*applied)));
  REQUIRE(added);
  CHECK(value_of(std::move(*added)) == 1);
  CHECK(value_of(store.fetch_job(id)).state == job_state::created);
  CHECK(db.query_int("SELECT COUNT(*) FROM log_parts") == 0);
  auto xs = store.metrics();
  double errors = 0;
  for (const auto& family : xs)
    if (family.name == "conveyor_store_errors_total")
      for (const auto& sample : family.samples)
        errors += sample.value;
  CHECK(errors == 2);
}

TEST_CASE("a create racing another store's uncommitted create answers its build") {
  pg_database db;
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  std::optional<caf::expected<build_record>> mine;
  std::optional<caf::expected<build_record>> theirs;
  std::thread racer;
  auto err = first.write_batch(2, [&](size_t i) {
    if (i == 0) {
      mine = first.create_build(small_build("race"));
      return;
    }
    // The second store's insert of the same request waits on the first's
    // uncommitted row, then finds it taken and answers the first's build.
    racer = std::thread{[&second, &theirs] {
      theirs = second.create_build(small_build("race"));
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  });
  racer.join();
  CHECK_FALSE(err);
  REQUIRE(mine);
  REQUIRE(theirs);
  auto a = value_of(std::move(*mine));
  auto b = value_of(std::move(*theirs));
  CHECK(a.id == b.id);
  CHECK(a.number == 1);
  CHECK(db.query_int("SELECT COUNT(*) FROM builds") == 1);
  CHECK(db.query_int("SELECT last_number FROM repository_counters") == 1);
}
