// Planned configs kept by blob id must plan exactly what planning anew does.
#include <catch2/catch.hpp>

#include <caf/deep_to_string.hpp>

#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/plan_cache.hpp"
#include "actors/gatekeeper/repository_cache.hpp"
#include "messages/error.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace {

const std::string matrix_yaml = "env:\n"
                                "  global: G=1\n"
                                "  jobs: [A=1, A=2]\n"
                                "script: make\n"
                                "jobs:\n"
                                "  fast_finish: true\n"
                                "  allow_failures: [{env: A=2}]\n";

const std::string invalid_yaml = "cache: pip\nscript: {a: 1}\n";

config_file file_of(std::string content, std::string id) {
  return config_file{".conveyor.yml", std::move(content), std::move(id)};
}

build_request request() {
  build_request req;
  req.request_id = "req-1";
  req.repo = "/src/demo";
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  req.branch = "main";
  return req;
}

// The build as text, without what differs between two requests.
std::string normalized(build_record build) {
  build.request.request_id.clear();
  build.created_at_ms = 0;
  build.finished_at_ms = 0;
  for (auto& job : build.jobs) {
    job.spec.request_id.clear();
    job.created_at_ms = 0;
  }
  return caf::deep_to_string(build);
}

} // namespace

TEST_CASE("a cached plan gives the same build as planning anew") {
  job_limits limits;
  limits.timeout_ms = 1234;
  plan_cache cache;
  for (const auto& yaml : {matrix_yaml, invalid_yaml}) {
    auto file = file_of(yaml, "id-" + yaml);
    auto uncached = plan_build(request(), file, limits, 1000);
    auto first = cache.plan(file);
    auto second = cache.plan(file);
    CHECK(first == second);
    auto cached = plan_build(request(), file, *second, limits, 1000);
    CHECK(caf::deep_to_string(cached) == caf::deep_to_string(uncached));
  }
  CHECK(cache.size() == 2);
  auto build = plan_build(request(), file_of(matrix_yaml, "x"),
                          *cache.plan(file_of(matrix_yaml, "id-" + matrix_yaml)),
                          limits, 1);
  CHECK(build.state == build_state::created);
  CHECK(build.fast_finish);
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[1].spec.allow_failure);
  CHECK(build.jobs[1].spec.limits.timeout_ms == 1234);
  build = plan_build(request(), file_of(invalid_yaml, "y"),
                     *cache.plan(file_of(invalid_yaml, "id-" + invalid_yaml)),
                     limits, 1);
  CHECK(build.state == build_state::errored);
  CHECK(build.jobs.empty());
  CHECK(has_error_messages(build.messages));
}

TEST_CASE("different configs do not mix in the plan cache") {
  // A plan holds the normalized config; its jobs depend on the request too.
  auto script = [](const std::shared_ptr<const planned_config>& plan) {
    return plan->config.get("script");
  };
  auto commands = [](const char* x) {
    return config_node::list({config_node::string(x)});
  };
  plan_cache cache;
  auto a = cache.plan(file_of("script: a\n", "1"));
  auto b = cache.plan(file_of("script: b\n", "2"));
  CHECK(a != b);
  CHECK(script(a) == commands("a"));
  CHECK(script(b) == commands("b"));
  CHECK(cache.plan(file_of("script: a\n", "1")) == a);
  // An id that does not match the text is never trusted.
  auto c = cache.plan(file_of("script: c\n", "1"));
  CHECK(script(c) == commands("c"));
  auto build = plan_build(request(), file_of("script: c\n", "1"), *c,
                          job_limits{}, 1);
  REQUIRE(build.jobs.size() == 1);
  CHECK(build.jobs[0].spec.phases.script == std::vector<std::string>{"c"});
  CHECK(cache.size() == 2);
  // Without an id nothing is cached.
  auto d = cache.plan(file_of("script: d\n", ""));
  CHECK(cache.plan(file_of("script: d\n", "")) != d);
  CHECK(cache.size() == 2);
}

TEST_CASE("the plan cache drops the least recently used plans") {
  plan_cache cache{2};
  auto a = cache.plan(file_of("script: a\n", "1"));
  auto b = cache.plan(file_of("script: b\n", "2"));
  CHECK(cache.plan(file_of("script: a\n", "1")) == a);
  cache.plan(file_of("script: c\n", "3"));
  CHECK(cache.size() == 2);
  CHECK(cache.plan(file_of("script: a\n", "1")) == a);
  CHECK(cache.plan(file_of("script: b\n", "2")) != b);
  // A byte budget too small for any plan keeps none.
  plan_cache tiny{256, 16};
  tiny.plan(file_of("script: a\n", "1"));
  CHECK(tiny.size() == 0);
  CHECK(tiny.bytes() == 0);
  // The budget evicts as the count does.
  plan_cache budget;
  budget.plan(file_of("script: a\n", "1"));
  auto one = budget.bytes();
  CHECK(one > 0);
  plan_cache two_plans{256, one * 2 + one / 2};
  two_plans.plan(file_of("script: a\n", "1"));
  two_plans.plan(file_of("script: b\n", "2"));
  two_plans.plan(file_of("script: e\n", "3"));
  CHECK(two_plans.size() == 2);
  CHECK(two_plans.bytes() <= one * 2 + one / 2);
}

TEST_CASE_METHOD(test_repo, "the same request twice through the caches plans "
                            "equal builds") {
  write(".conveyor.yml", matrix_yaml);
  commit("one");
  git("checkout -q -b other");
  write(".conveyor.yml", "script: other\n");
  commit("two");
  repository_cache repos;
  plan_cache plans;
  auto build_for = [this, &repos, &plans](const std::string& ref, const std::string& id,
                       int64_t now) {
    build_request req;
    req.request_id = id;
    req.repo = path();
    req.ref = ref;
    auto resolved = resolve_request(req, {}, repos);
    REQUIRE(resolved);
    CHECK_FALSE(resolved->config.id.empty());
    return plan_build(resolved->request, resolved->config,
                      *plans.plan(resolved->config), job_limits{}, now);
  };
  auto first = build_for("main", "req-1", 1);
  auto second = build_for("main", "req-2", 2);
  CHECK(second.request.request_id == "req-2");
  CHECK(second.created_at_ms == 2);
  REQUIRE(second.jobs.size() == 2);
  CHECK(second.jobs[0].spec.request_id == "req-2");
  CHECK(normalized(first) == normalized(second));
  CHECK(plans.size() == 1);
  auto other = build_for("other", "req-3", 3);
  CHECK(plans.size() == 2);
  REQUIRE(other.jobs.size() == 1);
  CHECK(other.jobs[0].spec.phases.script == std::vector<std::string>{"other"});
  // And the same as without any cache.
  build_request req;
  req.request_id = "req-1";
  req.repo = path();
  req.ref = "main";
  auto resolved = resolve_request(req);
  REQUIRE(resolved);
  auto uncached = plan_build(resolved->request, resolved->config,
                             job_limits{}, 1);
  CHECK(caf::deep_to_string(uncached) == caf::deep_to_string(first));
}
