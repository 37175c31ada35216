// Requeues and bounded log reads of the SQLite store.
#include <string>
#include <vector>

#include <caf/deep_to_string.hpp>

#include "adapters/sqlite/sqlite_store.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

struct fixture {
  temp_dir dir;
  std::string path = dir.file("requeue.db");
  sqlite_store store = value_of(sqlite_store::open(path));
  build_record build = value_of(store.create_build(sample_build("requeue")));
  int64_t job_id = build.jobs.at(0).spec.job_id;

  bool apply(int32_t attempt, job_state state, int64_t at,
             int32_t exit_code = -1, std::string reason = "") {
    return value_of(store.apply(job_state_changed{job_id, attempt, state, at,
                                                  exit_code, reason}));
  }

  // Runs attempt `attempt` of the job up to started.
  void start(int32_t attempt, int64_t at) {
    REQUIRE(apply(attempt, job_state::queued, at));
    REQUIRE(apply(attempt, job_state::received, at + 1));
    REQUIRE(apply(attempt, job_state::started, at + 2));
  }

  job_record requeue(int32_t attempt, int64_t at, std::string reason) {
    return value_of(store.requeue(job_requeue{job_id, attempt, at,
                                              std::move(reason)}));
  }

  std::vector<log_part> parts(int32_t attempt, int n, bool last_final) {
    std::vector<log_part> result;
    for (int i = 0; i < n; ++i)
      result.push_back(log_part{job_id, attempt, i,
                                "a" + std::to_string(attempt) + "p"
                                  + std::to_string(i) + "\n",
                                last_final && i == n - 1});
    return result;
  }

  std::string text_of(const std::vector<log_part>& xs, int below) {
    std::string result;
    for (const auto& x : xs)
      if (x.number < below)
        result += x.content;
    return result;
  }
};

} // namespace

// -- requeue ------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "requeue of a running attempt errors it and queues the next") {
  REQUIRE(value_of(store.apply(build_state_changed{build.id,
                                                   build_state::started, 900})));
  start(1, 1000);
  auto old_parts = parts(1, 2, false);
  REQUIRE(value_of(store.append_log_parts(old_parts)) == 2);
  auto job = requeue(1, 5000, "worker lost");
  CHECK(job.spec.job_id == job_id);
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  CHECK(job.exit_code == -1);
  CHECK(job.reason.empty());
  CHECK(job.started_at_ms == 0);
  CHECK(job.finished_at_ms == 0);
  CHECK(job.created_at_ms == build.jobs[0].created_at_ms);
  CHECK(job.spec.env == build.jobs[0].spec.env);
  CHECK(caf::deep_to_string(job)
        == caf::deep_to_string(value_of(store.fetch_job(job_id))));
  auto history = value_of(store.fetch_transitions(job_id));
  REQUIRE(history.size() == 6);
  CHECK(history[3].state == job_state::started);
  CHECK(history[4].attempt == 1);
  CHECK(history[4].state == job_state::errored);
  CHECK(history[4].at_ms == 5000);
  CHECK(history[4].exit_code == -1);
  CHECK(history[4].reason == "worker lost");
  CHECK(history[5].attempt == 2);
  CHECK(history[5].state == job_state::queued);
  CHECK(history[5].at_ms == 5000);
  CHECK(history[5].reason.empty());
  // The old attempt's log stays, the new one starts empty.
  CHECK(value_of(store.fetch_log(job_id, 1)) == text_of(old_parts, 2));
  CHECK(value_of(store.fetch_log(job_id, 1, 1)) == text_of(old_parts, 1));
  CHECK(value_of(store.fetch_log(job_id, 2)).empty());
  // The build was not finished: it stays as it was.
  auto stored = value_of(store.fetch_build(build.id));
  CHECK(stored.state == build_state::started);
  CHECK(stored.started_at_ms == 900);
  CHECK(stored.jobs[1].state == job_state::created);
  // News of the old attempt is stale; the new attempt runs.
  CHECK_FALSE(apply(1, job_state::passed, 6000, 0));
  CHECK_FALSE(apply(1, job_state::errored, 6000));
  CHECK(apply(2, job_state::received, 6100));
  CHECK(apply(2, job_state::started, 6200));
  REQUIRE(value_of(store.append_log_parts(parts(2, 1, true))) == 1);
  CHECK(apply(2, job_state::passed, 6300, 0));
  CHECK(value_of(store.fetch_log(job_id, 2)) == "a2p0\n");
  CHECK(value_of(store.fetch_log(job_id, 1)) == text_of(old_parts, 2));
}

TEST_CASE_METHOD(fixture, "requeue of a finished job reopens its finished build") {
  REQUIRE(value_of(store.apply(build_state_changed{build.id,
                                                   build_state::started, 900})));
  start(1, 1000);
  REQUIRE(apply(1, job_state::failed, 2000, 3, "script failed"));
  REQUIRE(value_of(store.apply(build_state_changed{build.id,
                                                   build_state::failed, 2100})));
  auto old_parts = parts(1, 3, true);
  REQUIRE(value_of(store.append_log_parts(old_parts)) == 3);
  REQUIRE(value_of(store.complete_log(job_id, 1)).parts == 3);
  auto job = requeue(1, 7000, "restarted by octocat");
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  CHECK(job.exit_code == -1);
  CHECK(job.reason.empty());
  CHECK(job.started_at_ms == 0);
  CHECK(job.finished_at_ms == 0);
  auto history = value_of(store.fetch_transitions(job_id));
  REQUIRE(history.size() == 6);
  // A finished attempt keeps its own end: no errored row is added.
  CHECK(history[4].attempt == 1);
  CHECK(history[4].state == job_state::failed);
  CHECK(history[4].exit_code == 3);
  CHECK(history[5].attempt == 2);
  CHECK(history[5].state == job_state::queued);
  CHECK(history[5].at_ms == 7000);
  auto reopened = value_of(store.fetch_build(build.id));
  CHECK(reopened.state == build_state::started);
  CHECK(reopened.finished_at_ms == 0);
  CHECK(reopened.started_at_ms == 900);
  CHECK(reopened.jobs[0].spec.attempt == 2);
  // The reopened build can finish again.
  CHECK(value_of(store.apply(build_state_changed{build.id,
                                                 build_state::passed, 9000})));
  // The aggregated log of attempt 1 is untouched and readable whole.
  CHECK(value_of(store.fetch_log(job_id, 1)) == text_of(old_parts, 3));
  CHECK(value_of(store.fetch_log(job_id, 1, 1)) == text_of(old_parts, 3));
}

TEST_CASE_METHOD(fixture, "requeue of a created job errors attempt 1 and queues 2") {
  auto job = requeue(1, 3000, "worker lost");
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  auto history = value_of(store.fetch_transitions(job_id));
  REQUIRE(history.size() == 3);
  CHECK(history[1].state == job_state::errored);
  CHECK(history[1].attempt == 1);
  CHECK(history[2].state == job_state::queued);
  // The build was created, not finished: it is not touched.
  CHECK(value_of(store.fetch_build(build.id)).state == build_state::created);
}

TEST_CASE_METHOD(fixture, "a stale requeue answers the job unchanged") {
  start(1, 1000);
  auto requeued = requeue(1, 5000, "worker lost");
  REQUIRE(requeued.spec.attempt == 2);
  auto before = caf::deep_to_string(value_of(store.fetch_build(build.id)));
  auto history = value_of(store.fetch_transitions(job_id)).size();
  for (int32_t attempt : {0, 1, 3, 7}) {
    INFO("attempt " << attempt);
    auto job = requeue(attempt, 6000, "late duplicate");
    CHECK(caf::deep_to_string(job) == caf::deep_to_string(requeued));
  }
  CHECK(caf::deep_to_string(value_of(store.fetch_build(build.id))) == before);
  CHECK(value_of(store.fetch_transitions(job_id)).size() == history);
  // The current attempt can be requeued again.
  CHECK(requeue(2, 7000, "worker lost again").spec.attempt == 3);
}

TEST_CASE_METHOD(fixture, "requeue of an unknown job answers unknown_job") {
  auto err = error_of(store.requeue(job_requeue{job_id + 1000, 1, 1, "x"}));
  CHECK(is(err, errc::unknown_job));
  CHECK_THAT(describe(err), Catch::Contains(std::to_string(job_id + 1000)));
}

TEST_CASE_METHOD(fixture, "requeue at 0 means now") {
  auto job = requeue(1, 0, "worker lost");
  CHECK(job.spec.attempt == 2);
  CHECK(value_of(store.fetch_transitions(job_id)).back().at_ms > 1600000000000);
}

// -- fetch_log with a bound ---------------------------------------------------

TEST_CASE_METHOD(fixture, "fetch_log below a part number answers the parts before it") {
  auto all = parts(1, 5, true);
  std::vector<log_part> shuffled{all[3], all[0], all[4], all[2], all[1]};
  REQUIRE(value_of(store.append_log_parts(shuffled)) == 5);
  CHECK(value_of(store.fetch_log(job_id, 1, 3)) == "a1p0\na1p1\na1p2\n");
  CHECK(value_of(store.fetch_log(job_id, 1, 1)) == "a1p0\n");
  CHECK(value_of(store.fetch_log(job_id, 1, 0)).empty());
  CHECK(value_of(store.fetch_log(job_id, 1, -1)).empty());
  CHECK(value_of(store.fetch_log(job_id, 1, 5)) == text_of(all, 5));
  CHECK(value_of(store.fetch_log(job_id, 1, 1000)) == text_of(all, 5));
  CHECK(value_of(store.fetch_log(job_id, 2, 3)).empty());
  CHECK(value_of(store.fetch_log(job_id + 99, 1, 3)).empty());
  // Once aggregated, the whole log whatever the bound.
  REQUIRE(value_of(store.complete_log(job_id, 1)).parts == 5);
  CHECK(value_of(store.fetch_log(job_id, 1, 3)) == text_of(all, 5));
  CHECK(value_of(store.fetch_log(job_id, 1, 0)) == text_of(all, 5));
}

TEST_CASE_METHOD(fixture, "fetch_log with a bound is binary-safe") {
  const std::string zero("\0\xff", 2);
  REQUIRE(value_of(store.append_log_parts({{job_id, 1, 0, zero, false},
                                           {job_id, 1, 1, "x", false}}))
          == 2);
  CHECK(value_of(store.fetch_log(job_id, 1, 1)) == zero);
}
