#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "actors/worker/job_environment.hpp"

using namespace conveyor;

namespace {

// The value of `name` in `env`, or "<unset>".
std::string value_of(const std::vector<std::string>& env,
                     const std::string& name) {
  auto prefix = name + "=";
  auto i = std::find_if(env.begin(), env.end(), [&prefix](const std::string& x) {
    return x.rfind(prefix, 0) == 0;
  });
  return i == env.end() ? "<unset>" : i->substr(prefix.size());
}

job_spec sample() {
  job_spec spec;
  spec.job_id = 42;
  spec.build_id = 7;
  spec.build_number = 3;
  spec.index = 2;
  spec.slug = "octo/demo";
  spec.sha = "0123456789abcdef0123456789abcdef01234567";
  spec.branch = "main";
  spec.event = "push";
  return spec;
}

} // namespace

TEST_CASE("a push build says it is no pull request", "[job_environment]") {
  auto env = job_environment(sample(), "/ws", "/ws/build");
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST") == "false");
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_BRANCH").empty());
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_SHA").empty());
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_SLUG").empty());
  CHECK(value_of(env, "TRAVIS_BRANCH") == "main");
  CHECK(value_of(env, "TRAVIS_EVENT_TYPE") == "push");
}

TEST_CASE("a pull request build describes the pull request",
          "[job_environment]") {
  auto spec = sample();
  spec.event = "pull_request";
  spec.pull_request = 17;
  spec.pull_request_branch = "feature/x";
  spec.pull_request_slug = "fork/demo";
  auto env = job_environment(spec, "/ws", "/ws/build");
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST") == "17");
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_BRANCH") == "feature/x");
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_SHA") == spec.sha);
  CHECK(value_of(env, "TRAVIS_PULL_REQUEST_SLUG") == "fork/demo");
  // The branch is the base branch the pull request targets.
  CHECK(value_of(env, "TRAVIS_BRANCH") == "main");
  CHECK(value_of(env, "TRAVIS_COMMIT") == spec.sha);
  CHECK(value_of(env, "TRAVIS_EVENT_TYPE") == "pull_request");
  CHECK(value_of(env, "TRAVIS_REPO_SLUG") == "octo/demo");
  // Each variable once.
  CHECK(std::count_if(env.begin(), env.end(), [](const std::string& x) {
          return x.rfind("TRAVIS_PULL_REQUEST=", 0) == 0;
        })
        == 1);
}
