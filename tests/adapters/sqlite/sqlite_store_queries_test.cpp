// Listings of the SQLite store: filters, paging, single jobs, recovery.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <caf/deep_to_string.hpp>

#include "adapters/sqlite/build_queries.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

struct fixture {
  temp_dir dir;
  std::string path = dir.file("queries.db");
  sqlite_store store = value_of(sqlite_store::open(path));

  build_record create(const std::string& request_id, const std::string& slug,
                      int jobs = 2) {
    return value_of(store.create_build(sample_build(request_id, slug, jobs)));
  }

  void set_build(int64_t id, build_state state, int64_t at = 5000) {
    REQUIRE(value_of(store.apply(build_state_changed{id, state, at})));
  }

  bool apply(int64_t job_id, job_state state, int64_t at = 1000) {
    return value_of(store.apply(job_state_changed{
      job_id, 1, state, at, state == job_state::passed ? 0 : -1, ""}));
  }

  // Runs job `id` (attempt 1) from created to passed.
  void pass(int64_t id) {
    REQUIRE(apply(id, job_state::queued));
    REQUIRE(apply(id, job_state::received));
    REQUIRE(apply(id, job_state::started));
    REQUIRE(apply(id, job_state::passed));
  }

  std::vector<int64_t> ids_of(const build_query& q) {
    std::vector<int64_t> result;
    for (const auto& b : value_of(store.fetch_builds(q)))
      result.push_back(b.id);
    return result;
  }

  // The plan SQLite chooses for `sql`, its steps joined by " | ".
  std::string plan_of(const std::string& sql) {
    auto db = sqlite::database::open(path);
    auto stmt = db.prepare(("EXPLAIN QUERY PLAN " + sql).c_str());
    std::string result;
    while (stmt.step())
      result += stmt.text(3) + " | ";
    return result;
  }
};

build_query query(std::string state, std::string repo, int32_t limit = 100,
                  int64_t before_id = 0) {
  return build_query{std::move(state), std::move(repo), limit, before_id};
}

std::vector<int64_t> descending(std::vector<int64_t> xs) {
  std::sort(xs.rbegin(), xs.rend());
  return xs;
}

} // namespace

// -- fetch_builds -------------------------------------------------------------

TEST_CASE_METHOD(fixture, "fetch_builds filters by state and repository") {
  std::vector<int64_t> all, in_a, passed, passed_in_a;
  for (int i = 0; i < 12; ++i) {
    auto slug = i % 2 == 0 ? "octo/a" : "octo/b";
    auto b = create("list-" + std::to_string(i), slug, i % 3);
    all.push_back(b.id);
    if (i % 2 == 0)
      in_a.push_back(b.id);
    if (i % 3 == 0) {
      set_build(b.id, build_state::started);
      set_build(b.id, build_state::passed);
      passed.push_back(b.id);
      if (i % 2 == 0)
        passed_in_a.push_back(b.id);
    }
  }
  CHECK(ids_of(query("", "")) == descending(all));
  CHECK(ids_of(query("passed", "")) == descending(passed));
  CHECK(ids_of(query("", "octo/a")) == descending(in_a));
  CHECK(ids_of(query("passed", "octo/a")) == descending(passed_in_a));
  CHECK(ids_of(query("created", "octo/b")).size() == 4);
  CHECK(ids_of(query("failed", "")).empty());
  CHECK(ids_of(query("no-such-state", "")).empty());
  CHECK(ids_of(query("", "nobody/nothing")).empty());
  // Every listed build is the build as fetch_build answers it, jobs included.
  for (const auto& b : value_of(store.fetch_builds(query("", "")))) {
    INFO("build " << b.id);
    CHECK(caf::deep_to_string(b)
          == caf::deep_to_string(value_of(store.fetch_build(b.id))));
  }
  auto with_jobs = value_of(store.fetch_builds(query("", "", 3)));
  REQUIRE(with_jobs.size() == 3);
  CHECK(with_jobs[0].jobs.size() == 2); // i = 11
  CHECK(with_jobs[1].jobs.size() == 1); // i = 10
  CHECK(with_jobs[2].jobs.empty());     // i = 9
  CHECK(with_jobs[0].jobs[1].spec.build_id == with_jobs[0].id);
  CHECK(with_jobs[0].jobs[1].spec.index == 2);
}

TEST_CASE_METHOD(fixture, "fetch_builds finds a build without slug by its repo path") {
  auto local = sample_build("local-1", "");
  local.request.repo = "/srv/repos/demo";
  auto id = value_of(store.create_build(local)).id;
  create("slugged", "octo/demo");
  CHECK(ids_of(query("", "/srv/repos/demo")) == std::vector<int64_t>{id});
}

TEST_CASE_METHOD(fixture, "paging with before_id visits every build once") {
  std::vector<int64_t> all, in_a;
  for (int i = 0; i < 23; ++i) {
    auto b = create("page-" + std::to_string(i), i % 3 == 0 ? "octo/a" : "octo/b",
                    1);
    all.push_back(b.id);
    if (i % 3 == 0)
      in_a.push_back(b.id);
  }
  auto walk = [this](const std::string& repo, int32_t page_size) {
    std::vector<int64_t> seen;
    int64_t before = 0;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = ids_of(query("", repo, page_size, before));
      CHECK(page.size() <= static_cast<size_t>(page_size));
      if (page.empty())
        break;
      seen.insert(seen.end(), page.begin(), page.end());
      before = page.back();
    }
    return seen;
  };
  for (int32_t size : {1, 5, 7, 23, 50}) {
    INFO("page size " << size);
    auto seen = walk("", size);
    CHECK(seen == descending(all));
    CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == all.size());
  }
  CHECK(walk("octo/a", 3) == descending(in_a));
  // A page starts right below before_id.
  CHECK(ids_of(query("", "", 2, all[10])) == std::vector<int64_t>{all[9], all[8]});
  CHECK(ids_of(query("", "", 5, all[0])).empty());
}

TEST_CASE_METHOD(fixture, "fetch_builds clamps the limit to 1..500") {
  for (int i = 0; i < 505; ++i)
    create("many-" + std::to_string(i), "octo/many", 0);
  CHECK(ids_of(query("", "", 0)).size() == 1);
  CHECK(ids_of(query("", "", -7)).size() == 1);
  CHECK(ids_of(query("", "", 1)).size() == 1);
  CHECK(ids_of(query("", "", 7)).size() == 7);
  CHECK(ids_of(query("", "", 500)).size() == 500);
  CHECK(ids_of(query("", "", 501)).size() == 500);
  CHECK(ids_of(query("", "", 1000000)).size() == 500);
  CHECK(sqlite_store::max_query_limit == 500);
  CHECK(sqlite::clamp_limit(0, 500) == 1);
  CHECK(sqlite::clamp_limit(600, 500) == 500);
  CHECK(sqlite::clamp_limit(20, 500) == 20);
}

TEST_CASE_METHOD(fixture, "fetch_builds of an empty store is empty") {
  CHECK(value_of(store.fetch_builds(build_query{})).empty());
}

TEST_CASE_METHOD(fixture, "listings use the indexes of migration 2") {
  create("plan", "octo/plan");
  auto by_state = plan_of(sqlite::list_builds_sql(query("passed", "", 5, 9)));
  CHECK_THAT(by_state, Catch::Contains("builds_by_state"));
  auto by_repo = plan_of(sqlite::list_builds_sql(query("", "octo/a", 5, 9)));
  CHECK_THAT(by_repo, Catch::Contains("builds_by_repository"));
  auto both = plan_of(sqlite::list_builds_sql(query("passed", "octo/a")));
  CHECK_THAT(both, Catch::Contains("builds_by_"));
  auto any = plan_of(sqlite::list_builds_sql(query("", "", 5, 9)));
  CHECK_THAT(any, Catch::Contains("INTEGER PRIMARY KEY"));
  for (const auto& plan : {by_state, by_repo, both, any}) {
    INFO(plan);
    CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE")
                       && !Catch::Contains("SCAN b"));
  }
  auto unfinished = plan_of(sqlite::unfinished_builds_sql());
  INFO(unfinished);
  CHECK_THAT(unfinished, Catch::Contains("jobs_unfinished")
                           && Catch::Contains("builds_by_state")
                           && !Catch::Contains("FOR ORDER BY"));
}

// -- fetch_job ----------------------------------------------------------------

TEST_CASE_METHOD(fixture, "fetch_job answers a job as its build shows it") {
  auto b = create("job", "octo/job", 3);
  auto id = b.jobs.at(1).spec.job_id;
  CHECK(caf::deep_to_string(value_of(store.fetch_job(id)))
        == caf::deep_to_string(b.jobs.at(1)));
  REQUIRE(apply(id, job_state::queued, 1234));
  auto job = value_of(store.fetch_job(id));
  CHECK(job.state == job_state::queued);
  CHECK(job.spec.build_id == b.id);
  CHECK(job.spec.build_number == b.number);
  CHECK(job.spec.index == 2);
  CHECK(job.spec.env == b.jobs.at(1).spec.env);
  CHECK(caf::deep_to_string(job)
        == caf::deep_to_string(value_of(store.fetch_build(b.id)).jobs.at(1)));
}

TEST_CASE_METHOD(fixture, "fetch_job of an unknown job answers unknown_job") {
  auto err = error_of(store.fetch_job(4242));
  CHECK(is(err, errc::unknown_job));
  CHECK_THAT(describe(err), Catch::Contains("4242"));
}

// -- fetch_unfinished ---------------------------------------------------------

TEST_CASE_METHOD(fixture, "fetch_unfinished answers what is left to do") {
  // A: just created.
  auto a = create("a", "octo/u");
  // B: finished, every job finished.
  auto b = create("b", "octo/u");
  pass(b.jobs[0].spec.job_id);
  REQUIRE(apply(b.jobs[1].spec.job_id, job_state::canceled));
  set_build(b.id, build_state::started);
  set_build(b.id, build_state::passed);
  // C: finished, yet one job still queued.
  auto c = create("c", "octo/u");
  pass(c.jobs[0].spec.job_id);
  REQUIRE(apply(c.jobs[1].spec.job_id, job_state::queued));
  set_build(c.id, build_state::started);
  set_build(c.id, build_state::passed);
  // D: started, every job finished.
  auto d = create("d", "octo/u");
  pass(d.jobs[0].spec.job_id);
  pass(d.jobs[1].spec.job_id);
  set_build(d.id, build_state::started);
  // E: canceled with its jobs; F: errored without jobs.
  auto e = create("e", "octo/u");
  REQUIRE(apply(e.jobs[0].spec.job_id, job_state::canceled));
  REQUIRE(apply(e.jobs[1].spec.job_id, job_state::canceled));
  set_build(e.id, build_state::canceled);
  auto f = create("f", "octo/u", 0);
  set_build(f.id, build_state::errored);
  auto unfinished = value_of(store.fetch_unfinished());
  std::vector<int64_t> ids;
  for (const auto& x : unfinished)
    ids.push_back(x.id);
  CHECK(ids == std::vector<int64_t>{a.id, c.id, d.id});
  for (const auto& x : unfinished) {
    INFO("build " << x.id);
    CHECK(x.jobs.size() == 2);
    CHECK(caf::deep_to_string(x)
          == caf::deep_to_string(value_of(store.fetch_build(x.id))));
  }
  REQUIRE(unfinished.size() == 3);
  CHECK(unfinished[1].state == build_state::passed);
  CHECK(unfinished[1].jobs[0].state == job_state::passed);
  CHECK(unfinished[1].jobs[1].state == job_state::queued);
  // Once C's job ends and D finishes, only A is left.
  REQUIRE(apply(c.jobs[1].spec.job_id, job_state::errored));
  set_build(d.id, build_state::passed);
  auto left = value_of(store.fetch_unfinished());
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == a.id);
}

TEST_CASE_METHOD(fixture, "fetch_unfinished of an empty store is empty") {
  CHECK(value_of(store.fetch_unfinished()).empty());
}
