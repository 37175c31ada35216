// Expanding normalized configs into the jobs of a build, beyond what the
// Travis fixtures cover.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "actors/gatekeeper/travis_config.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"

using namespace conveyor;

namespace {

config_node str(const std::string& x) {
  return config_node::string(x);
}

config_node config_of(const std::string& yaml) {
  auto result = load_travis_config(yaml);
  for (const auto& msg : result.messages)
    INFO(to_string(msg));
  REQUIRE_FALSE(has_error_messages(result.messages));
  return result.config;
}

config_node data_of(const std::string& branch) {
  return config_node::map({{"branch", str(branch), {}}});
}

std::vector<std::string> values(const std::vector<config_node>& jobs,
                                const std::string& key) {
  std::vector<std::string> result;
  for (const auto& job : jobs)
    result.push_back(job.get(key).scalar_text());
  return result;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("env varies fastest whatever the order of the keys") {
  auto cfg = config_of("env: [A=1, A=2]\n"
                       "language: python\n"
                       "python: ['3.8', '3.9']\n"
                       "os: [linux, windows]\n");
  auto rows = expand_travis_matrix(cfg, config_node::map()).rows;
  REQUIRE(rows.size() == 8);
  CHECK(values(rows, "os")
        == strings{"linux", "linux", "linux", "linux", "windows", "windows",
                   "windows", "windows"});
  CHECK(values(rows, "python")
        == strings{"3.8", "3.8", "3.9", "3.9", "3.8", "3.8", "3.9", "3.9"});
  CHECK(rows[1].get("env").items().at(0).get("A") == str("2"));
}

TEST_CASE("shared keys reach every job and includes override them") {
  auto cfg = config_of("language: c\n"
                       "compiler: [gcc, clang]\n"
                       "script: make\n"
                       "install: deps\n"
                       "jobs:\n"
                       "  include:\n"
                       "    - name: docs\n"
                       "      script: make docs\n");
  auto rows = expand_travis_matrix(cfg, config_node::map()).rows;
  REQUIRE(rows.size() == 3);
  CHECK(values(rows, "compiler") == strings{"gcc", "clang", "gcc"});
  CHECK(rows[0].get("script") == config_node::list({str("make")}));
  CHECK(rows[2].get("script") == config_node::list({str("make docs")}));
  CHECK(rows[2].get("install") == config_node::list({str("deps")}));
  CHECK(rows[2].get("language") == str("c"));
}

TEST_CASE("a stage carries forward and stages order the jobs") {
  auto cfg = config_of("script: make\n"
                       "stages: [lint, test, deploy]\n"
                       "jobs:\n"
                       "  include:\n"
                       "    - stage: deploy\n"
                       "      name: ship\n"
                       "    - stage: lint\n"
                       "      name: style\n"
                       "    - name: types\n"
                       "    - stage: test\n"
                       "      name: unit\n");
  auto plan = plan_travis_jobs(cfg, data_of("master"));
  CHECK(values(plan.jobs, "name") == strings{"style", "types", "unit", "ship"});
  CHECK(values(plan.jobs, "stage") == strings{"lint", "lint", "test", "deploy"});
  REQUIRE(plan.stages.size() == 3);
  CHECK(plan.stages[0].get("name") == str("lint"));
}

TEST_CASE("stage and job conditions see the request and the env") {
  auto cfg = config_of("script: make\n"
                       "env:\n"
                       "  global: TARGET=prod\n"
                       "stages:\n"
                       "  - test\n"
                       "  - name: deploy\n"
                       "    if: branch = master AND env(TARGET) = prod\n"
                       "jobs:\n"
                       "  include:\n"
                       "    - name: unit\n"
                       "    - name: nightly\n"
                       "      if: type = cron\n"
                       "    - stage: deploy\n"
                       "      name: ship\n");
  auto plan = plan_travis_jobs(cfg, data_of("master"));
  CHECK(values(plan.jobs, "name") == strings{"unit", "ship"});
  plan = plan_travis_jobs(cfg, data_of("topic"));
  CHECK(values(plan.jobs, "name") == strings{"unit"});
  REQUIRE(plan.stages.size() == 1);
  bool skipped = std::any_of(plan.messages.begin(), plan.messages.end(),
                             [](const config_message& x) {
                               return x.code == "skip_stage";
                             });
  CHECK(skipped);
}

TEST_CASE("allowed failures come last within their stage") {
  auto cfg = config_of("rvm: ['2.6', '2.7', '3.0']\n"
                       "jobs:\n"
                       "  fast_finish: true\n"
                       "  allow_failures:\n"
                       "    - rvm: '2.6'\n"
                       "    - rvm: '3.0'\n"
                       "      if: branch = master\n");
  auto plan = plan_travis_jobs(cfg, data_of("topic"));
  CHECK(plan.fast_finish);
  CHECK(values(plan.jobs, "rvm") == strings{"2.7", "3.0", "2.6"});
  CHECK(plan.jobs[2].get("allow_failure") == config_node::boolean(true));
  CHECK_FALSE(plan.jobs[0].has("allow_failure"));
  plan = plan_travis_jobs(cfg, data_of("master"));
  CHECK(values(plan.jobs, "rvm") == strings{"2.7", "2.6", "3.0"});
}

TEST_CASE("exclude rules match stage-less jobs on stage test") {
  auto cfg = config_of("env: [A=1, A=2]\n"
                       "jobs:\n"
                       "  exclude:\n"
                       "    - stage: Test\n"
                       "      env: A=2\n");
  auto rows = expand_travis_matrix(cfg, config_node::map()).rows;
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].get("env").items().at(0).get("A") == str("1"));
}

TEST_CASE("a matrix too large to expand is refused before expanding") {
  std::string yaml = "language: ruby\nrvm: [";
  for (int i = 0; i < 100; ++i)
    yaml += (i > 0 ? ", " : "") + std::to_string(i);
  yaml += "]\ngemfile: [";
  for (int i = 0; i < 100; ++i)
    yaml += (i > 0 ? ", " : "") + std::string{"g"} + std::to_string(i);
  yaml += "]\n";
  auto rows = expand_travis_matrix(config_of(yaml), config_node::map());
  CHECK(rows.rows.empty());
  REQUIRE(rows.messages.size() == 1);
  CHECK(rows.messages[0].code == "too_many_jobs");
  CHECK(rows.messages[0].message.find("10000") != std::string::npos);
}

TEST_CASE("conditions see data env first and the job's env last") {
  auto data = config_node::map(
    {{"env",
      config_node::list(
        {config_node::map({{"A", str("data"), {}}, {"B", str("data"), {}}}),
         str("C=\"quoted\" D=true")}),
      {}}});
  auto job = config_node::map(
    {{"env", config_node::list({config_node::map({{"A", str("job"), {}}})}),
      {}}});
  auto seen = condition_data_of(data, job);
  CHECK(seen.env.at("A") == condition_value{std::string{"job"}});
  CHECK(seen.env.at("B") == condition_value{std::string{"data"}});
  CHECK(seen.env.at("C") == condition_value{std::string{"quoted"}});
  CHECK(seen.env.at("D") == condition_value{true});
  std::string error;
  CHECK_FALSE(accept_condition(str("= kaput"), job, data, &error));
  CHECK_FALSE(error.empty());
  CHECK(accept_condition(config_node{}, job, data));
  CHECK(accept_condition(str("env(A) = job AND env(B) = data"), job, data));
}

TEST_CASE("costly conditions are cut off by a time budget") {
  std::string yaml = "script: make\njobs:\n  include:\n";
  for (int i = 0; i < 100; ++i)
    yaml += "    - name: j" + std::to_string(i)
            + "\n      if: commit_message =~ "
              "/([a-z]?[a-z]?[a-z]?[a-z]?){60}b/\n";
  auto cfg = config_of(yaml);
  auto data = config_node::map(
    {{"commit_message", str(std::string(200000, 'a')), {}}});
  auto start = std::chrono::steady_clock::now();
  auto plan = plan_travis_jobs(cfg, data);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - start)
                .count();
  CHECK(took < 10.0);
  CHECK(plan.jobs.empty());
  bool cut = std::any_of(plan.messages.begin(), plan.messages.end(),
                         [](const config_message& x) {
                           return x.level == "error" && x.code == "too_large"
                                  && x.key == "if";
                         });
  CHECK(cut);
}

TEST_CASE("too many exclusion checks are refused") {
  std::string yaml = "env:\n";
  for (int i = 0; i < 5000; ++i)
    yaml += "  - I=" + std::to_string(i) + "\n";
  yaml += "jobs:\n  exclude:\n";
  for (int i = 0; i < 2000; ++i)
    yaml += "    - env: I=x" + std::to_string(i) + "\n";
  auto rows = expand_travis_matrix(config_of(yaml), config_node::map());
  CHECK(rows.rows.empty());
  REQUIRE(rows.messages.size() == 1);
  CHECK(rows.messages[0].key == "jobs.exclude");
  CHECK(rows.messages[0].code == "too_large");
}
