// The store contract for listings, recovery and requeues.
#include <set>

#include <caf/deep_to_string.hpp>

#include "tests/adapters/store_contract/contract.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

std::vector<int64_t> ids_of(const std::vector<build_record>& xs) {
  std::vector<int64_t> result;
  for (const auto& x : xs)
    result.push_back(x.id);
  return result;
}

} // namespace

// -- fetch_builds -------------------------------------------------------------

STORE_CONTRACT_TEST("fetch_builds filters by state and repository newest first") {
  auto a1 = create("a1", "octo/a");
  auto b1 = create("b1", "octo/b");
  auto a2 = create("a2", "octo/a");
  REQUIRE(set_build(a1.id, build_state::started, 10));
  REQUIRE(set_build(a1.id, build_state::passed, 20));
  REQUIRE(set_build(b1.id, build_state::started, 10));
  REQUIRE(set_build(b1.id, build_state::passed, 20));
  auto all = list(build_query{});
  CHECK(ids_of(all) == std::vector<int64_t>{a2.id, b1.id, a1.id});
  REQUIRE(all.size() == 3);
  CHECK(all[2].jobs.size() == 2);
  CHECK(caf::deep_to_string(all[1]) == caf::deep_to_string(fetch_build(b1.id)));
  CHECK(ids_of(list(build_query{"passed", "", 20, 0}))
        == std::vector<int64_t>{b1.id, a1.id});
  CHECK(ids_of(list(build_query{"", "octo/a", 20, 0}))
        == std::vector<int64_t>{a2.id, a1.id});
  CHECK(ids_of(list(build_query{"passed", "octo/a", 20, 0}))
        == std::vector<int64_t>{a1.id});
  CHECK(ids_of(list(build_query{"created", "octo/a", 20, a2.id})).empty());
  CHECK(list(build_query{"no-such-state", "", 20, 0}).empty());
  CHECK(list(build_query{"", "octo/none", 20, 0}).empty());
}

STORE_CONTRACT_TEST("fetch_builds finds a build without slug by its repo path") {
  auto x = sample_build("local", "");
  x.request.repo = "/srv/repos/demo";
  auto stored = ask<build_record>(create_atom::value, x);
  CHECK(ids_of(list(build_query{"", "/srv/repos/demo", 20, 0}))
        == std::vector<int64_t>{stored.id});
}

STORE_CONTRACT_TEST("paging with before_id visits every build once") {
  std::set<int64_t> created;
  for (int i = 0; i < 7; ++i)
    created.insert(create("page-" + std::to_string(i), "octo/p", 1).id);
  std::vector<int64_t> seen;
  int64_t before = 0;
  for (int page = 0; page < 10; ++page) {
    auto xs = list(build_query{"", "octo/p", 3, before});
    if (xs.empty())
      break;
    CHECK(xs.size() <= 3);
    for (const auto& x : xs)
      seen.push_back(x.id);
    before = xs.back().id;
  }
  CHECK(seen.size() == 7);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()) == created);
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
}

STORE_CONTRACT_TEST("fetch_builds clamps the limit") {
  for (int i = 0; i < 3; ++i)
    create("limit-" + std::to_string(i), "octo/l", 0);
  CHECK(list(build_query{"", "", 0, 0}).size() == 1);
  CHECK(list(build_query{"", "", -5, 0}).size() == 1);
  CHECK(list(build_query{"", "", 2, 0}).size() == 2);
  CHECK(list(build_query{"", "", 100000, 0}).size() == 3);
}

// -- fetch_unfinished ---------------------------------------------------------

STORE_CONTRACT_TEST("fetch_unfinished answers what is left to do") {
  CHECK(unfinished().empty());
  auto pass = [this](int64_t job_id) {
    start(job_id, 1, 100);
    REQUIRE(apply(job_id, 1, job_state::passed, 200, 0));
  };
  // A: just created.
  auto a = create("a", "octo/u");
  // B: finished, every job finished.
  auto b = create("b", "octo/u");
  pass(b.jobs[0].spec.job_id);
  REQUIRE(apply(b.jobs[1].spec.job_id, 1, job_state::canceled, 10));
  REQUIRE(set_build(b.id, build_state::started, 10));
  REQUIRE(set_build(b.id, build_state::passed, 20));
  // C: finished, yet one job still queued.
  auto c = create("c", "octo/u");
  pass(c.jobs[0].spec.job_id);
  REQUIRE(apply(c.jobs[1].spec.job_id, 1, job_state::queued, 10));
  REQUIRE(set_build(c.id, build_state::started, 10));
  REQUIRE(set_build(c.id, build_state::passed, 20));
  // D: started, every job finished.
  auto d = create("d", "octo/u");
  pass(d.jobs[0].spec.job_id);
  pass(d.jobs[1].spec.job_id);
  REQUIRE(set_build(d.id, build_state::started, 10));
  // E: canceled with its jobs; F: errored without jobs.
  auto e = create("e", "octo/u");
  REQUIRE(apply(e.jobs[0].spec.job_id, 1, job_state::canceled, 10));
  REQUIRE(apply(e.jobs[1].spec.job_id, 1, job_state::canceled, 10));
  REQUIRE(set_build(e.id, build_state::canceled, 10));
  auto f = create("f", "octo/u", 0);
  REQUIRE(set_build(f.id, build_state::errored, 10));
  auto left = unfinished();
  CHECK(ids_of(left) == std::vector<int64_t>{a.id, c.id, d.id});
  for (const auto& x : left)
    CHECK(caf::deep_to_string(x) == caf::deep_to_string(fetch_build(x.id)));
  REQUIRE(left.size() == 3);
  CHECK(left[1].state == build_state::passed);
  CHECK(left[1].jobs[1].state == job_state::queued);
  // Once C's job ends and D finishes, only A is left.
  REQUIRE(apply(c.jobs[1].spec.job_id, 1, job_state::errored, 30));
  REQUIRE(set_build(d.id, build_state::passed, 30));
  CHECK(ids_of(unfinished()) == std::vector<int64_t>{a.id});
}

// -- requeue ------------------------------------------------------------------

STORE_CONTRACT_TEST("requeue of a running attempt errors it and queues the next") {
  auto build = create("requeue");
  auto id = build.jobs[0].spec.job_id;
  REQUIRE(set_build(build.id, build_state::started, 900));
  start(id, 1, 1000);
  auto old_parts = make_parts(id, 1, 2, false);
  REQUIRE(append(old_parts) == 2);
  auto job = requeue(id, 1, 5000, "worker lost");
  CHECK(job.spec.job_id == id);
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  CHECK(job.exit_code == -1);
  CHECK(job.reason.empty());
  CHECK(job.started_at_ms == 0);
  CHECK(job.finished_at_ms == 0);
  CHECK(job.created_at_ms == build.jobs[0].created_at_ms);
  CHECK(job.spec.env == build.jobs[0].spec.env);
  CHECK(caf::deep_to_string(job) == caf::deep_to_string(fetch_job(id)));
  // The old attempt's log stays, the new one starts empty.
  CHECK(log_of(id, 1) == text_of(old_parts));
  CHECK(log_of(id, 2).empty());
  // The build was not finished: it stays as it was.
  auto stored = fetch_build(build.id);
  CHECK(stored.state == build_state::started);
  CHECK(stored.started_at_ms == 900);
  CHECK(stored.jobs[1].state == job_state::created);
  // News of the old attempt is stale; the new attempt runs.
  CHECK_FALSE(apply(id, 1, job_state::passed, 6000, 0));
  CHECK_FALSE(apply(id, 1, job_state::errored, 6000));
  CHECK(apply(id, 2, job_state::received, 6100));
  CHECK(apply(id, 2, job_state::started, 6200));
  REQUIRE(append(make_parts(id, 2, 1)) == 1);
  CHECK(apply(id, 2, job_state::passed, 6300, 0));
  CHECK(log_of(id, 2) == "a2 part 0\n");
  CHECK(log_of(id, 1) == text_of(old_parts));
}

STORE_CONTRACT_TEST("requeue of a finished job reopens its finished build") {
  auto build = create("restart");
  auto id = build.jobs[0].spec.job_id;
  REQUIRE(set_build(build.id, build_state::started, 900));
  start(id, 1, 1000);
  REQUIRE(apply(id, 1, job_state::failed, 2000, 3, "script failed"));
  REQUIRE(set_build(build.id, build_state::failed, 2100));
  auto old_parts = make_parts(id, 1, 3);
  REQUIRE(append(old_parts) == 3);
  REQUIRE(ask<log_completed>(complete_atom::value, id, int32_t{1}).parts == 3);
  auto job = requeue(id, 1, 7000, "restarted by octocat");
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  CHECK(job.exit_code == -1);
  CHECK(job.reason.empty());
  auto reopened = fetch_build(build.id);
  CHECK(reopened.state == build_state::started);
  CHECK(reopened.finished_at_ms == 0);
  CHECK(reopened.started_at_ms == 900);
  CHECK(reopened.jobs[0].spec.attempt == 2);
  CHECK(ids_of(unfinished()) == std::vector<int64_t>{build.id});
  // The reopened build can finish again.
  CHECK(set_build(build.id, build_state::passed, 9000));
  // The aggregated log of attempt 1 is untouched and readable whole.
  CHECK(log_of(id, 1) == text_of(old_parts));
  CHECK(log_below(id, 1, 1) == text_of(old_parts));
}

STORE_CONTRACT_TEST("requeue of a created job queues attempt 2 and leaves the build") {
  auto build = create("created");
  auto job = requeue(build.jobs[0].spec.job_id, 1, 3000, "worker lost");
  CHECK(job.spec.attempt == 2);
  CHECK(job.state == job_state::queued);
  CHECK(fetch_build(build.id).state == build_state::created);
}

STORE_CONTRACT_TEST("a repeated or stale requeue answers the job unchanged") {
  auto build = create("stale-requeue");
  auto id = build.jobs[0].spec.job_id;
  start(id, 1, 1000);
  auto requeued = requeue(id, 1, 5000, "worker lost");
  REQUIRE(requeued.spec.attempt == 2);
  auto before = caf::deep_to_string(fetch_build(build.id));
  for (int32_t attempt : {1, 0, 3, 7}) {
    INFO("attempt " << attempt);
    CHECK(caf::deep_to_string(requeue(id, attempt, 6000, "late duplicate"))
          == caf::deep_to_string(requeued));
  }
  CHECK(caf::deep_to_string(fetch_build(build.id)) == before);
  // The current attempt can be requeued again.
  CHECK(requeue(id, 2, 7000, "worker lost again").spec.attempt == 3);
}

STORE_CONTRACT_TEST("requeue of an unknown job answers unknown_job") {
  auto err = ask_error<job_record>(job_requeue{987654, 1, 1, "x"});
  CHECK(is(err, errc::unknown_job));
  CHECK_THAT(describe(err), Catch::Contains("987654"));
}
