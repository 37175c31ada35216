// The plain SQLite store against real database files.
#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <caf/deep_to_string.hpp>

#include "adapters/sqlite/json_codec.hpp"
#include "adapters/sqlite/migrations.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

struct fixture {
  temp_dir dir;
  std::string path = dir.file("store.db");
  sqlite_store store = value_of(sqlite_store::open(path));

  int64_t count(const char* sql) {
    return query_int(path, sql);
  }

  job_record first_job(const std::string& request_id) {
    return value_of(store.create_build(sample_build(request_id))).jobs.at(0);
  }

  bool apply(int64_t job_id, int32_t attempt, job_state state, int64_t at,
             int32_t exit_code = -1, std::string reason = "") {
    return value_of(store.apply(job_state_changed{job_id, attempt, state, at,
                                                  exit_code, reason}));
  }

  std::vector<log_part> parts(int64_t job_id, int32_t attempt, int n) {
    std::vector<log_part> result;
    for (int i = 0; i < n; ++i)
      result.push_back(log_part{job_id, attempt, i,
                                "part " + std::to_string(i) + "\n", i == n - 1});
    return result;
  }
};

} // namespace

// -- migrations ---------------------------------------------------------------

TEST_CASE_METHOD(fixture, "a fresh database gets every migration") {
  CHECK(value_of(store.schema_version()) == sqlite_store::latest_schema_version());
  CHECK(sqlite_store::latest_schema_version() >= 1);
  CHECK(count("SELECT COUNT(*) FROM schema_migrations")
        == sqlite_store::latest_schema_version());
  CHECK(count("SELECT MIN(applied_at) FROM schema_migrations") > 0);
  for (auto table : {"requests", "builds", "jobs", "job_transitions",
                     "log_parts", "logs"}) {
    INFO(table);
    auto sql = std::string{"SELECT COUNT(*) FROM sqlite_master WHERE name = '"}
               + table + "'";
    CHECK(count(sql.c_str()) == 1);
  }
  auto db = sqlite::database::open(path);
  auto mode = db.prepare("PRAGMA journal_mode");
  REQUIRE(mode.step());
  CHECK(mode.text(0) == "wal");
}

TEST_CASE_METHOD(fixture, "re-opening an up-to-date database applies nothing") {
  auto applied_at = count("SELECT MAX(applied_at) FROM schema_migrations");
  store = value_of(sqlite_store::open(path));
  auto db = sqlite::database::open(path);
  CHECK(sqlite::migrate(db).empty());
  CHECK(count("SELECT COUNT(*) FROM schema_migrations")
        == sqlite_store::latest_schema_version());
  CHECK(count("SELECT MAX(applied_at) FROM schema_migrations") == applied_at);
}

TEST_CASE_METHOD(fixture, "a database newer than the code is refused") {
  auto db = sqlite::database::open(path);
  db.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 1)");
  auto err = error_of(sqlite_store::open(path));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::Contains("open failed")
                              && Catch::Contains("schema version 999")
                              && Catch::Contains("newer"));
}

TEST_CASE("later migrations are applied once to a version 1 database") {
  temp_dir dir;
  auto path = dir.file("v1.db");
  auto index_count = [&path] {
    return query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE type = "
                           "'index' AND name IN ('builds_by_state', "
                           "'builds_by_repository', 'jobs_unfinished')");
  };
  {
    // A database as the version 1 code left it, with a build and a job.
    auto db = sqlite::database::open(path);
    CHECK(sqlite::migrate(db, 1) == std::vector<int32_t>{1});
    CHECK(sqlite::schema_version(db) == 1);
    db.exec("INSERT INTO requests VALUES ('old-1', 'cli', 'api', '/srv/old', "
            "'octo/old', 'HEAD', 'abc', 'main', '', 'old build', 'me', 100);"
            "INSERT INTO builds (repository, number, request_id, state, "
            "fast_finish, config, messages, created_at, started_at) VALUES "
            "('octo/old', 1, 'old-1', 'started', 0, '.travis.yml', '[]', 100, "
            "110)");
    job_spec spec;
    spec.phases.script = {"make"};
    db.prepare("INSERT INTO jobs (build_id, idx, spec, allow_failure, state, "
               "attempt, exit_code, reason, created_at) VALUES "
               "(1, 1, ?, 0, 'queued', 1, -1, '', 100)")
      .bind(1, sqlite::encode_spec(spec))
      .run();
  }
  CHECK(index_count() == 0);
  auto store = value_of(sqlite_store::open(path));
  CHECK(value_of(store.schema_version()) == 4);
  CHECK(query_int(path, "SELECT COUNT(*) FROM schema_migrations") == 4);
  CHECK(query_int(path, "SELECT COUNT(*) FROM schema_migrations "
                        "WHERE version = 2") == 1);
  CHECK(index_count() == 3);
  // The old data is there and reachable through the new queries.
  auto listed = value_of(store.fetch_builds(build_query{"started", "octo/old",
                                                        20, 0}));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].request.commit_message == "old build");
  // Columns that version 3 added read as their defaults for old rows.
  CHECK(listed[0].request.pull_request == 0);
  CHECK(listed[0].request.delivery_id.empty());
  REQUIRE(listed[0].jobs.size() == 1);
  CHECK(listed[0].jobs[0].spec.phases.script
        == std::vector<std::string>{"make"});
  CHECK(value_of(store.fetch_unfinished()).size() == 1);
  CHECK(value_of(store.create_build(sample_build("new", "octo/old"))).number
        == 2);
  // Opening again applies nothing more.
  auto applied_at = query_int(path, "SELECT applied_at FROM schema_migrations "
                                    "WHERE version = 2");
  store = value_of(sqlite_store::open(path));
  auto db = sqlite::database::open(path);
  CHECK(sqlite::migrate(db).empty());
  CHECK(query_int(path, "SELECT COUNT(*) FROM schema_migrations") == 4);
  CHECK(query_int(path, "SELECT applied_at FROM schema_migrations "
                        "WHERE version = 2") == applied_at);
}

TEST_CASE("migrate stops at the target version") {
  temp_dir dir;
  auto db = sqlite::database::open(dir.file("target.db"));
  CHECK(sqlite::migrate(db, 0).empty());
  CHECK(sqlite::schema_version(db) == 0);
  CHECK(sqlite::migrate(db, 1) == std::vector<int32_t>{1});
  CHECK(sqlite::migrate(db, 1).empty());
  CHECK(sqlite::migrate(db) == std::vector<int32_t>{2, 3, 4});
  CHECK(sqlite::schema_version(db) == sqlite::latest_schema_version());
}

TEST_CASE("a path that cannot be opened is reported") {
  auto err = error_of(sqlite_store::open("/nonexistent/dir/store.db"));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("open failed: "));
}

TEST_CASE("a file that is not a database is reported") {
  temp_dir dir;
  auto path = dir.file("junk.db");
  std::ofstream{path} << "this is not an SQLite database, not at all\n";
  auto err = error_of(sqlite_store::open(path));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::Contains("not a database"));
}

// -- builds -------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "builds are numbered per repository") {
  auto a1 = value_of(store.create_build(sample_build("a1", "octo/a")));
  auto a2 = value_of(store.create_build(sample_build("a2", "octo/a")));
  auto b1 = value_of(store.create_build(sample_build("b1", "octo/b")));
  auto a3 = value_of(store.create_build(sample_build("a3", "octo/a")));
  CHECK(a1.number == 1);
  CHECK(a2.number == 2);
  CHECK(b1.number == 1);
  CHECK(a3.number == 3);
  std::set<int64_t> ids{a1.id, a2.id, b1.id, a3.id};
  CHECK(ids.size() == 4);
  // Without a slug, the repo path names the repository.
  auto local = sample_build("l1", "");
  local.request.repo = "/srv/repos/demo";
  CHECK(value_of(store.create_build(local)).number == 1);
  local.request.request_id = "l2";
  CHECK(value_of(store.create_build(local)).number == 2);
}

TEST_CASE_METHOD(fixture, "create_build fills in ids and numbers") {
  auto x = sample_build("req-1", "octo/demo", 3);
  for (auto& job : x.jobs)
    job.spec.index = 0;
  auto stored = value_of(store.create_build(x));
  CHECK(stored.id > 0);
  CHECK(stored.number == 1);
  REQUIRE(stored.jobs.size() == 3);
  std::set<int64_t> job_ids;
  for (size_t i = 0; i < stored.jobs.size(); ++i) {
    const auto& spec = stored.jobs[i].spec;
    CHECK(spec.job_id > 0);
    CHECK(spec.build_id == stored.id);
    CHECK(spec.build_number == stored.number);
    CHECK(spec.index == static_cast<int32_t>(i + 1));
    CHECK(spec.attempt == 1);
    job_ids.insert(spec.job_id);
  }
  CHECK(job_ids.size() == 3);
  CHECK(job_number(stored.jobs[2].spec) == "1.3");
}

TEST_CASE_METHOD(fixture, "a retried create_build returns the first build") {
  auto first = value_of(store.create_build(sample_build("same")));
  auto retry = sample_build("same");
  retry.config = ".conveyor.yml";
  auto second = value_of(store.create_build(retry));
  CHECK(second.id == first.id);
  CHECK(second.number == first.number);
  CHECK(caf::deep_to_string(second) == caf::deep_to_string(first));
  CHECK(count("SELECT COUNT(*) FROM builds") == 1);
  CHECK(count("SELECT COUNT(*) FROM jobs") == 2);
  CHECK(count("SELECT COUNT(*) FROM requests") == 1);
  CHECK(value_of(store.create_build(sample_build("other"))).number == 2);
}

TEST_CASE_METHOD(fixture, "every field of a build survives the store") {
  auto x = sample_build("round-trip", "octo/demo", 2);
  x.state = build_state::errored;
  x.started_at_ms = 1700000000100;
  x.finished_at_ms = 1700000000200;
  x.jobs[1].state = job_state::canceled;
  x.jobs[1].exit_code = 3;
  x.jobs[1].reason = "config error";
  x.jobs[1].started_at_ms = 1700000000300;
  x.jobs[1].finished_at_ms = 1700000000400;
  x.jobs[1].spec.attempt = 2;
  x.jobs[1].spec.tag = "v1.0";
  x.jobs[1].spec.name = "lint";
  auto stored = value_of(store.create_build(x));
  auto expected = x;
  expected.id = stored.id;
  expected.number = 1;
  for (size_t i = 0; i < expected.jobs.size(); ++i) {
    expected.jobs[i].spec.job_id = stored.jobs.at(i).spec.job_id;
    expected.jobs[i].spec.build_id = stored.id;
    expected.jobs[i].spec.build_number = 1;
  }
  CHECK(caf::deep_to_string(stored) == caf::deep_to_string(expected));
  auto fetched = value_of(store.fetch_build(stored.id));
  CHECK(caf::deep_to_string(fetched) == caf::deep_to_string(expected));
  // Spot checks on what a rendering could hide.
  CHECK(fetched.request.commit_message == x.request.commit_message);
  CHECK(fetched.request.commit_message.size() == 21);
  CHECK(fetched.messages.at(1).message == x.messages.at(1).message);
  CHECK(fetched.messages.at(0).column == 5);
  CHECK(fetched.jobs.at(0).spec.env == x.jobs.at(0).spec.env);
  CHECK(fetched.jobs.at(0).spec.env.at(2).value.size() == 4);
  CHECK(fetched.jobs.at(0).spec.env.at(3).value == std::string("x\0y", 3));
  CHECK(fetched.jobs.at(1).spec.phases.after_failure
        == x.jobs.at(1).spec.phases.after_failure);
  CHECK(fetched.jobs.at(1).spec.limits.max_log_bytes == 6000);
  CHECK(fetched.jobs.at(1).spec.allow_failure);
  CHECK(fetched.jobs.at(1).spec.name == "lint");
  CHECK_FALSE(fetched.jobs.at(0).spec.allow_failure);
}

TEST_CASE_METHOD(fixture, "zero timestamps at creation mean now") {
  auto x = sample_build("now");
  x.created_at_ms = 0;
  for (auto& job : x.jobs)
    job.created_at_ms = 0;
  auto stored = value_of(store.create_build(x));
  CHECK(stored.created_at_ms > 1600000000000);
  CHECK(stored.jobs.at(0).created_at_ms == stored.created_at_ms);
}

TEST_CASE_METHOD(fixture, "a build without request_id is refused") {
  auto err = error_of(store.create_build(sample_build("")));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("create_build failed: "));
  CHECK(count("SELECT COUNT(*) FROM builds") == 0);
}

TEST_CASE_METHOD(fixture, "fetching an unknown build answers unknown_build") {
  CHECK(is(error_of(store.fetch_build(42)), errc::unknown_build));
}

// -- job transitions ----------------------------------------------------------

TEST_CASE_METHOD(fixture, "a job follows its state machine with timestamps") {
  auto job = first_job("jobs");
  auto id = job.spec.job_id;
  CHECK(apply(id, 1, job_state::queued, 1000));
  CHECK(apply(id, 1, job_state::received, 2000));
  CHECK(apply(id, 1, job_state::started, 3000));
  CHECK(apply(id, 1, job_state::failed, 4000, 2, "script failed"));
  auto stored = value_of(store.fetch_build(job.spec.build_id)).jobs.at(0);
  CHECK(stored.state == job_state::failed);
  CHECK(stored.exit_code == 2);
  CHECK(stored.reason == "script failed");
  CHECK(stored.created_at_ms == job.created_at_ms);
  CHECK(stored.started_at_ms == 3000);
  CHECK(stored.finished_at_ms == 4000);
  auto history = value_of(store.fetch_transitions(id));
  REQUIRE(history.size() == 5);
  CHECK(history[0].state == job_state::created);
  CHECK(history[0].at_ms == job.created_at_ms);
  CHECK(history[1].state == job_state::queued);
  CHECK(history[1].at_ms == 1000);
  CHECK(history[3].state == job_state::started);
  CHECK(history[4].state == job_state::failed);
  CHECK(history[4].at_ms == 4000);
  CHECK(history[4].exit_code == 2);
  CHECK(history[4].reason == "script failed");
  CHECK(history[4].attempt == 1);
  // The other job is untouched.
  auto other = value_of(store.fetch_build(job.spec.build_id)).jobs.at(1);
  CHECK(other.state == job_state::created);
}

TEST_CASE_METHOD(fixture, "stale, duplicate and disallowed job news change nothing") {
  auto job = first_job("stale");
  auto id = job.spec.job_id;
  REQUIRE(apply(id, 1, job_state::queued, 1000));
  auto before = value_of(store.fetch_build(job.spec.build_id));
  CHECK_FALSE(apply(id, 1, job_state::queued, 1100));   // duplicate
  CHECK_FALSE(apply(id, 0, job_state::received, 1200)); // older attempt
  CHECK_FALSE(apply(id, 2, job_state::received, 1300)); // not the current one
  CHECK_FALSE(apply(id, 1, job_state::created, 1400));  // backwards
  CHECK_FALSE(apply(id + 1000, 1, job_state::queued, 1600)); // unknown job
  auto after = value_of(store.fetch_build(job.spec.build_id));
  CHECK(caf::deep_to_string(after) == caf::deep_to_string(before));
  CHECK(value_of(store.fetch_transitions(id)).size() == 2);
  // A finished job accepts nothing more.
  CHECK(apply(id, 1, job_state::canceled, 1700, -1, "user request"));
  CHECK_FALSE(apply(id, 1, job_state::errored, 1800, -1, "late"));
  auto stored = value_of(store.fetch_build(job.spec.build_id)).jobs.at(0);
  CHECK(stored.state == job_state::canceled);
  CHECK(stored.reason == "user request");
  CHECK(stored.finished_at_ms == 1700);
  CHECK(stored.started_at_ms == 0);
  CHECK(value_of(store.fetch_transitions(id)).size() == 3);
}

TEST_CASE_METHOD(fixture, "transitions of a later attempt apply to that attempt only") {
  auto x = sample_build("attempt-2");
  x.jobs[0].spec.attempt = 2;
  auto job = value_of(store.create_build(x)).jobs.at(0);
  CHECK_FALSE(apply(job.spec.job_id, 1, job_state::queued, 1000));
  CHECK(apply(job.spec.job_id, 2, job_state::queued, 1000));
  CHECK(value_of(store.fetch_transitions(job.spec.job_id)).back().attempt == 2);
}

// -- build transitions --------------------------------------------------------

TEST_CASE_METHOD(fixture, "a build moves forward once and stops when finished") {
  auto id = value_of(store.create_build(sample_build("build"))).id;
  auto change = [this, id](build_state s, int64_t at) {
    return value_of(store.apply(build_state_changed{id, s, at}));
  };
  CHECK_FALSE(change(build_state::created, 500));
  CHECK(change(build_state::started, 1000));
  CHECK_FALSE(change(build_state::started, 1100));
  auto started = value_of(store.fetch_build(id));
  CHECK(started.state == build_state::started);
  CHECK(started.started_at_ms == 1000);
  CHECK(started.finished_at_ms == 0);
  CHECK(change(build_state::passed, 2000));
  CHECK_FALSE(change(build_state::failed, 3000));
  CHECK_FALSE(change(build_state::started, 3100));
  auto done = value_of(store.fetch_build(id));
  CHECK(done.state == build_state::passed);
  CHECK(done.started_at_ms == 1000);
  CHECK(done.finished_at_ms == 2000);
  CHECK_FALSE(value_of(store.apply(
    build_state_changed{id + 1000, build_state::started, 1})));
}

// -- logs ---------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "duplicated and shuffled log parts are stored once") {
  auto all = parts(7, 1, 20);
  std::vector<log_part> sent;
  for (int copy = 0; copy < 3; ++copy)
    sent.insert(sent.end(), all.begin(), all.end());
  std::mt19937 rng{42};
  std::shuffle(sent.begin(), sent.end(), rng);
  int64_t added = 0;
  for (size_t i = 0; i < sent.size(); i += 7) {
    std::vector<log_part> batch(sent.begin() + i,
                                sent.begin() + std::min(i + 7, sent.size()));
    added += value_of(store.append_log_parts(batch));
  }
  CHECK(added == 20);
  CHECK(count("SELECT COUNT(*) FROM log_parts") == 20);
  CHECK(value_of(store.append_log_parts(all)) == 0);
  std::string expected;
  for (const auto& part : all)
    expected += part.content;
  CHECK(value_of(store.fetch_log(7, 1)) == expected);
  CHECK(value_of(store.fetch_log(7, 2)).empty());
}

TEST_CASE_METHOD(fixture, "the first copy of a part wins") {
  CHECK(value_of(store.append_log_parts({{1, 1, 0, "first", false}})) == 1);
  CHECK(value_of(store.append_log_parts({{1, 1, 0, "second", true},
                                         {1, 1, 1, "next", true}}))
        == 1);
  CHECK(value_of(store.fetch_log(1, 1)) == "firstnext");
}

TEST_CASE_METHOD(fixture, "complete_log aggregates in order, once") {
  auto all = parts(9, 2, 5);
  std::reverse(all.begin(), all.end());
  REQUIRE(value_of(store.append_log_parts(all)) == 5);
  REQUIRE(value_of(store.append_log_parts(parts(9, 3, 2))) == 2);
  auto done = value_of(store.complete_log(9, 2));
  const std::string expected = "part 0\npart 1\npart 2\npart 3\npart 4\n";
  CHECK(done.job_id == 9);
  CHECK(done.attempt == 2);
  CHECK(done.parts == 5);
  CHECK(done.bytes == static_cast<int64_t>(expected.size()));
  CHECK(value_of(store.fetch_log(9, 2)) == expected);
  CHECK(count("SELECT COUNT(*) FROM log_parts WHERE job_id = 9 AND attempt = 2")
        == 0);
  CHECK(count("SELECT COUNT(*) FROM log_parts WHERE job_id = 9 AND attempt = 3")
        == 2);
  auto again = value_of(store.complete_log(9, 2));
  CHECK(again.parts == done.parts);
  CHECK(again.bytes == done.bytes);
  // Late copies of a completed log's parts are ignored.
  CHECK(value_of(store.append_log_parts(parts(9, 2, 6))) == 0);
  CHECK(count("SELECT COUNT(*) FROM log_parts WHERE job_id = 9 AND attempt = 2")
        == 0);
  CHECK(value_of(store.fetch_log(9, 2)) == expected);
  CHECK(count("SELECT COUNT(*) FROM logs") == 1);
}

TEST_CASE_METHOD(fixture, "complete_log refuses an incomplete log") {
  auto err = error_of(store.complete_log(3, 1));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("complete_log failed: ")
                              && Catch::Contains("no parts"));
  REQUIRE(value_of(store.append_log_parts({{3, 1, 0, "a", false},
                                           {3, 1, 1, "b", false},
                                           {3, 1, 3, "d", true}}))
          == 3);
  CHECK_THAT(describe(error_of(store.complete_log(3, 1))),
             Catch::Contains("part 2") && Catch::Contains("missing"));
  REQUIRE(value_of(store.append_log_parts({{3, 1, 2, "c", false}})) == 1);
  REQUIRE(value_of(store.append_log_parts({{3, 2, 0, "x", false}})) == 1);
  CHECK_THAT(describe(error_of(store.complete_log(3, 2))),
             Catch::Contains("no final part"));
  CHECK(count("SELECT COUNT(*) FROM logs") == 0);
  auto done = value_of(store.complete_log(3, 1));
  CHECK(done.parts == 4);
  CHECK(value_of(store.fetch_log(3, 1)) == "abcd");
}

TEST_CASE_METHOD(fixture, "complete_log refuses parts after the final one") {
  REQUIRE(value_of(store.append_log_parts({{4, 1, 0, "a", true},
                                           {4, 1, 1, "b", false}}))
          == 2);
  CHECK_THAT(describe(error_of(store.complete_log(4, 1))),
             Catch::Contains("follows the final part"));
}

TEST_CASE_METHOD(fixture, "log content is binary-safe") {
  const std::string zero("\0\0\0", 3);
  const std::string mixed("a\0b\xff\xfe\n\x01", 7);
  REQUIRE(value_of(store.append_log_parts({{5, 1, 1, "", false},
                                           {5, 1, 0, zero, false},
                                           {5, 1, 2, mixed, true}}))
          == 3);
  CHECK(value_of(store.fetch_log(5, 1)) == zero + mixed);
  auto done = value_of(store.complete_log(5, 1));
  CHECK(done.bytes == 10);
  CHECK(value_of(store.fetch_log(5, 1)) == zero + mixed);
}

TEST_CASE_METHOD(fixture, "10,000 log parts in batches of 100 go in") {
  const int total = 10000;
  std::string expected;
  int64_t added = 0;
  for (int first = 0; first < total; first += 100) {
    std::vector<log_part> batch;
    for (int i = first; i < first + 100; ++i) {
      batch.push_back(log_part{11, 1, i, "line " + std::to_string(i) + "\n",
                               i == total - 1});
      expected += batch.back().content;
    }
    added += value_of(store.append_log_parts(batch));
  }
  CHECK(added == total);
  auto done = value_of(store.complete_log(11, 1));
  CHECK(done.parts == total);
  CHECK(done.bytes == static_cast<int64_t>(expected.size()));
  CHECK(value_of(store.fetch_log(11, 1)) == expected);
}

// -- durability ---------------------------------------------------------------

TEST_CASE("data survives closing and re-opening the database") {
  temp_dir dir;
  auto path = dir.file("durable.db");
  build_record created;
  {
    auto store = value_of(sqlite_store::open(path));
    created = value_of(store.create_build(sample_build("durable")));
    auto id = created.jobs.at(0).spec.job_id;
    REQUIRE(value_of(store.apply(job_state_changed{id, 1, job_state::queued,
                                                   1000, -1, ""})));
    REQUIRE(value_of(store.apply(build_state_changed{created.id,
                                                     build_state::started, 900})));
    REQUIRE(value_of(store.append_log_parts({{id, 1, 0, "done\n", true}})) == 1);
    REQUIRE(value_of(store.complete_log(id, 1)).parts == 1);
    REQUIRE(value_of(store.append_log_parts({{id, 2, 0, "open", false}})) == 1);
  }
  auto store = value_of(sqlite_store::open(path));
  auto fetched = value_of(store.fetch_build(created.id));
  CHECK(fetched.state == build_state::started);
  CHECK(fetched.started_at_ms == 900);
  CHECK(fetched.jobs.at(0).state == job_state::queued);
  CHECK(fetched.request.commit_message == created.request.commit_message);
  auto id = created.jobs.at(0).spec.job_id;
  CHECK(value_of(store.fetch_log(id, 1)) == "done\n");
  CHECK(value_of(store.fetch_log(id, 2)) == "open");
  CHECK(value_of(store.fetch_transitions(id)).size() == 2);
  CHECK(value_of(store.create_build(sample_build("next"))).number == 2);
}

TEST_CASE("two connections writing at once number builds without a clash") {
  temp_dir dir;
  auto path = dir.file("shared.db");
  value_of(sqlite_store::open(path));
  const int per_thread = 50;
  std::vector<std::vector<int64_t>> numbers(2);
  std::vector<std::string> errors(2);
  auto writer = [&path, &numbers, &errors, per_thread](int t) {
    auto store = sqlite_store::open(path);
    if (!store) {
      errors[t] = describe(store.error());
      return;
    }
    for (int i = 0; i < per_thread; ++i) {
      auto id = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto build = store->create_build(sample_build(id, "octo/busy", 1));
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
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == 2 * per_thread);
}
