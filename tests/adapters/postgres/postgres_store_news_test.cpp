// News of jobs and builds checked in one statement, racing the uncommitted
// writes of another store (another node) on the same rows; a build and its
// jobs read in one statement.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "adapters/postgres/postgres_store.hpp"
#include "messages/error.hpp"
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

build_record news_build(const std::string& request_id, size_t jobs = 1) {
  build_record x;
  x.request.request_id = request_id;
  x.request.source = "api";
  x.request.repo = "https://example.com/octo/news.git";
  x.request.slug = "octo/news";
  x.config = "script: true";
  x.messages.push_back({"warn", "os", "unknown_key", "ignored", 1, 2});
  for (size_t i = 0; i < jobs; ++i) {
    job_record job;
    job.spec.request_id = request_id;
    job.spec.phases.script = {"echo " + std::to_string(i)};
    x.jobs.push_back(job);
  }
  return x;
}

// Runs `mine` in a batch of `first` and, while that batch is still open,
// `theirs` on another thread; commits the batch once `theirs` waits for a
// lock (or is done: it did not wait), then answers what `theirs` answered.
template <class T>
T race(const pg_database& db, postgres_store& first,
       const std::function<void()>& mine, const std::function<T()>& theirs) {
  std::optional<T> result;
  std::atomic<bool> done{false};
  std::thread racer;
  auto err = first.write_batch(1, [&](size_t) {
    mine();
    racer = std::thread{[&result, &done, &theirs] {
      result.emplace(theirs());
      done = true;
    }};
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < deadline
           && db.query_int("SELECT COUNT(*) FROM pg_stat_activity "
                           "WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
                == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  racer.join();
  CHECK_FALSE(err);
  REQUIRE(result);
  return std::move(*result);
}

} // namespace

TEST_CASE("job news made valid by another store's open write waits for it") {
  pg_database db{pg_database::kind::database};
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  auto id = value_of(first.create_build(news_build("valid"))).jobs[0]
              .spec.job_id;
  // received is allowed from queued, not from created.
  auto applied = race<caf::expected<bool>>(
    db, first,
    [&first, id] {
      CHECK(value_of(first.apply(job_state_changed{id, 1, job_state::queued,
                                                   10, -1, ""})));
    },
    [&second, id] {
      return second.apply(job_state_changed{id, 1, job_state::received, 20,
                                            -1, ""});
    });
  CHECK(value_of(std::move(applied)));
  CHECK(value_of(first.fetch_job(id)).state == job_state::received);
  auto history = value_of(first.fetch_transitions(id));
  REQUIRE(history.size() == 3);
  CHECK(history[2].state == job_state::received);
}

TEST_CASE("job news of the next attempt waits for another store's requeue") {
  pg_database db{pg_database::kind::database};
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  auto id = value_of(first.create_build(news_build("next"))).jobs[0]
              .spec.job_id;
  REQUIRE(value_of(first.apply(job_state_changed{id, 1, job_state::queued, 10,
                                                 -1, ""})));
  auto applied = race<caf::expected<bool>>(
    db, first,
    [&first, id] {
      CHECK(value_of(first.requeue(job_requeue{id, 1, 20, "lost"})).spec.attempt
            == 2);
    },
    [&second, id] {
      return second.apply(job_state_changed{id, 2, job_state::received, 30,
                                            -1, ""});
    });
  CHECK(value_of(std::move(applied)));
  auto job = value_of(first.fetch_job(id));
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::received);
}

TEST_CASE("job news made stale by another store's open write is ignored") {
  pg_database db{pg_database::kind::database};
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  auto id = value_of(first.create_build(news_build("stale"))).jobs[0]
              .spec.job_id;
  for (auto state : {job_state::queued, job_state::started})
    REQUIRE(value_of(first.apply(job_state_changed{id, 1, state, 10, -1, ""})));
  auto applied = race<caf::expected<bool>>(
    db, first,
    [&first, id] {
      CHECK(value_of(first.apply(job_state_changed{id, 1, job_state::passed,
                                                   20, 0, ""})));
    },
    [&second, id] {
      return second.apply(job_state_changed{id, 1, job_state::failed, 30, 1,
                                            ""});
    });
  CHECK_FALSE(value_of(std::move(applied)));
  auto job = value_of(first.fetch_job(id));
  CHECK(job.state == job_state::passed);
  CHECK(job.exit_code == 0);
  CHECK(job.finished_at_ms == 20);
  CHECK(value_of(first.fetch_transitions(id)).size() == 4);
  // Unknown jobs and other attempts change nothing either.
  CHECK_FALSE(value_of(first.apply(job_state_changed{id + 1000, 1,
                                                     job_state::queued, 40,
                                                     -1, ""})));
  CHECK_FALSE(value_of(first.apply(job_state_changed{id, 2,
                                                     job_state::canceled, 40,
                                                     -1, ""})));
  CHECK(value_of(first.fetch_transitions(id)).size() == 4);
}

TEST_CASE("build news waits for another store's requeue that reopens it") {
  pg_database db{pg_database::kind::database};
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  auto build = value_of(first.create_build(news_build("reopen")));
  auto job_id = build.jobs[0].spec.job_id;
  for (auto state : {job_state::queued, job_state::started, job_state::failed})
    REQUIRE(value_of(first.apply(job_state_changed{job_id, 1, state, 10, 1,
                                                   ""})));
  REQUIRE(value_of(first.apply(build_state_changed{build.id,
                                                   build_state::started, 10})));
  REQUIRE(value_of(first.apply(build_state_changed{build.id,
                                                   build_state::failed, 20})));
  // A finished build takes no news, unless a requeue reopened it.
  CHECK_FALSE(value_of(second.apply(build_state_changed{build.id,
                                                        build_state::passed,
                                                        25})));
  auto applied = race<caf::expected<bool>>(
    db, first,
    [&first, job_id] {
      CHECK(value_of(first.requeue(job_requeue{job_id, 1, 30, "retry"}))
              .spec.attempt
            == 2);
    },
    [&second, &build] {
      return second.apply(build_state_changed{build.id, build_state::passed,
                                              40});
    });
  CHECK(value_of(std::move(applied)));
  auto stored = value_of(first.fetch_build(build.id));
  CHECK(stored.state == build_state::passed);
  CHECK(stored.finished_at_ms == 40);
}

TEST_CASE("build news made stale by another store's open write is ignored") {
  pg_database db{pg_database::kind::database};
  auto first = value_of(postgres_store::open(db.url()));
  auto second = value_of(postgres_store::open(db.url()));
  auto build = value_of(first.create_build(news_build("finished")));
  REQUIRE(value_of(first.apply(build_state_changed{build.id,
                                                   build_state::started, 10})));
  auto applied = race<caf::expected<bool>>(
    db, first,
    [&first, &build] {
      CHECK(value_of(first.apply(build_state_changed{build.id,
                                                     build_state::passed,
                                                     20})));
    },
    [&second, &build] {
      return second.apply(build_state_changed{build.id, build_state::errored,
                                              30});
    });
  CHECK_FALSE(value_of(std::move(applied)));
  auto stored = value_of(first.fetch_build(build.id));
  CHECK(stored.state == build_state::passed);
  CHECK(stored.finished_at_ms == 20);
  CHECK_FALSE(value_of(first.apply(build_state_changed{build.id + 1000,
                                                       build_state::started,
                                                       40})));
}

TEST_CASE("a build and its jobs are read whole in one statement") {
  pg_database db;
  auto store = value_of(postgres_store::open(db.url()));
  auto created = value_of(store.create_build(news_build("matrix", 3)));
  auto none = value_of(store.create_build(news_build("empty", 0)));
  auto read = value_of(store.fetch_build(created.id));
  CHECK(read.number == 1);
  CHECK(read.config == "script: true");
  REQUIRE(read.messages.size() == 1);
  CHECK(read.messages[0].code == "unknown_key");
  CHECK(read.request.request_id == "matrix");
  CHECK(read.request.slug == "octo/news");
  REQUIRE(read.jobs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const auto& job = read.jobs[i];
    CHECK(job.spec.index == static_cast<int32_t>(i + 1));
    CHECK(job.spec.job_id == created.jobs[i].spec.job_id);
    CHECK(job.spec.build_id == created.id);
    CHECK(job.spec.build_number == 1);
    REQUIRE(job.spec.phases.script.size() == 1);
    CHECK(job.spec.phases.script[0] == "echo " + std::to_string(i));
  }
  auto empty = value_of(store.fetch_build(none.id));
  CHECK(empty.number == 2);
  CHECK(empty.config == "script: true");
  CHECK(empty.request.request_id == "empty");
  CHECK(empty.jobs.empty());
  CHECK_FALSE(store.fetch_build(none.id + 1000));
}
