// Expanding a parsed build config into its jobs.
#include <catch2/catch.hpp>

#include "actors/gatekeeper/build_config.hpp"
#include "actors/gatekeeper/job_matrix.hpp"

using namespace conveyor;

namespace {

using strings = std::vector<std::string>;
using vars = std::vector<env_var>;

struct expansion {
  std::vector<matrix_job> jobs;
  std::vector<config_message> messages;
};

// Parses and expands `yaml`; the config itself must have no error.
expansion expand(const std::string& yaml) {
  auto parsed = parse_build_config(yaml);
  for (const auto& msg : parsed.messages)
    INFO(to_string(msg));
  REQUIRE_FALSE(has_errors(parsed.messages));
  expansion result;
  result.jobs = expand_matrix(parsed.config, result.messages);
  return result;
}

// Expands `yaml` and requires that nothing was found about it.
std::vector<matrix_job> jobs_of(const std::string& yaml) {
  auto result = expand(yaml);
  for (const auto& msg : result.messages)
    FAIL_CHECK("unexpected message: " << to_string(msg));
  return result.jobs;
}

} // namespace

TEST_CASE("a config without env or include is one job") {
  auto jobs = jobs_of("install: make deps\nscript: make test\n");
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].name.empty());
  CHECK(jobs[0].env.empty());
  CHECK(jobs[0].own_env.empty());
  CHECK(jobs[0].phases.install == strings{"make deps"});
  CHECK(jobs[0].phases.script == strings{"make test"});
  CHECK(jobs[0].phases.after_script.empty());
  CHECK_FALSE(jobs[0].allow_failure);
}

TEST_CASE("an env list gives one job per entry, global env first") {
  auto jobs = jobs_of("env:\n"
                      "  global: [CI=true, LANG=C]\n"
                      "  jobs:\n"
                      "    - FOO=1\n"
                      "    - FOO=2 BAR='b c'\n"
                      "    - {}\n"
                      "script: make\n");
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].own_env == vars{{"FOO", "1"}});
  CHECK(jobs[0].env == vars{{"CI", "true"}, {"LANG", "C"}, {"FOO", "1"}});
  CHECK(jobs[1].env
        == vars{{"CI", "true"}, {"LANG", "C"}, {"FOO", "2"}, {"BAR", "b c"}});
  CHECK(jobs[2].own_env.empty());
  CHECK(jobs[2].env == vars{{"CI", "true"}, {"LANG", "C"}});
  for (const auto& job : jobs)
    CHECK(job.phases.script == strings{"make"});
  CHECK(display_env(jobs[1]) == "FOO=2 BAR='b c'");
  CHECK(display_env(jobs[2]) == "");
}

TEST_CASE("global env alone gives one job") {
  auto jobs = jobs_of("env: {global: A=1}\nscript: make\n");
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].env == vars{{"A", "1"}});
  CHECK(jobs[0].own_env.empty());
}

TEST_CASE("includes are appended and inherit the root phases they leave out") {
  auto jobs = jobs_of("env:\n"
                      "  global: G=1\n"
                      "  jobs: [FOO=1, FOO=2]\n"
                      "install: make deps\n"
                      "script: make test\n"
                      "after_script: echo root\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - name: docs\n"
                      "      env: DOCS=1\n"
                      "      script: make docs\n"
                      "      after_script: []\n"
                      "    - env: FOO=3\n"
                      "      install: [a, b]\n");
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0].own_env == vars{{"FOO", "1"}});
  CHECK(jobs[1].own_env == vars{{"FOO", "2"}});
  const auto& docs = jobs[2];
  CHECK(docs.name == "docs");
  CHECK(docs.env == vars{{"G", "1"}, {"DOCS", "1"}});
  CHECK(docs.phases.install == strings{"make deps"});
  CHECK(docs.phases.script == strings{"make docs"});
  CHECK(docs.phases.after_script.empty());
  const auto& last = jobs[3];
  CHECK(last.name.empty());
  CHECK(last.env == vars{{"G", "1"}, {"FOO", "3"}});
  CHECK(last.phases.install == strings{"a", "b"});
  CHECK(last.phases.script == strings{"make test"});
  CHECK(last.phases.after_script == strings{"echo root"});
}

TEST_CASE("with includes, no env matrix and no root script only the includes "
          "run") {
  auto jobs = jobs_of("install: make deps\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - script: make a\n"
                      "    - script: make b\n");
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].phases.script == strings{"make a"});
  CHECK(jobs[0].phases.install == strings{"make deps"});
  CHECK(jobs[1].phases.script == strings{"make b"});
}

TEST_CASE("with includes and a root script the root job runs too") {
  auto jobs = jobs_of("script: make\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - name: extra\n");
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].name.empty());
  CHECK(jobs[1].name == "extra");
  CHECK(jobs[1].phases.script == strings{"make"});
}

TEST_CASE("allow_failures match jobs by env subset") {
  auto jobs = jobs_of("env:\n"
                      "  global: G=1\n"
                      "  jobs:\n"
                      "    - FOO=1 BAR=x\n"
                      "    - FOO=2 BAR=x\n"
                      "    - FOO=1\n"
                      "script: make\n"
                      "jobs:\n"
                      "  allow_failures:\n"
                      "    - env: FOO=1\n");
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].allow_failure);
  CHECK_FALSE(jobs[1].allow_failure);
  CHECK(jobs[2].allow_failure);

  jobs = jobs_of("env: [FOO=1 BAR=x, FOO=1]\n"
                 "script: make\n"
                 "jobs:\n"
                 "  allow_failures:\n"
                 "    - env: FOO=1 BAR=x\n");
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].allow_failure);
  CHECK_FALSE(jobs[1].allow_failure);
}

TEST_CASE("allow_failures match on the job's own env, not the global one") {
  auto jobs = jobs_of("env:\n"
                      "  global: G=1\n"
                      "  jobs: [FOO=1]\n"
                      "script: make\n"
                      "jobs:\n"
                      "  allow_failures:\n"
                      "    - env: G=1\n");
  REQUIRE(jobs.size() == 1);
  CHECK_FALSE(jobs[0].allow_failure);
}

TEST_CASE("allow_failures match jobs by name, and by name and env") {
  auto jobs = jobs_of("script: make\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - name: flaky\n"
                      "      env: A=1\n"
                      "    - name: flaky\n"
                      "      env: A=2\n"
                      "    - name: solid\n"
                      "  allow_failures:\n"
                      "    - name: flaky\n"
                      "      env: A=2\n"
                      "    - name: solid\n");
  REQUIRE(jobs.size() == 4);
  CHECK_FALSE(jobs[0].allow_failure);
  CHECK_FALSE(jobs[1].allow_failure);
  CHECK(jobs[2].allow_failure);
  CHECK(jobs[3].allow_failure);
}

TEST_CASE("an include may allow its own failure") {
  auto jobs = jobs_of("script: make\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - name: x\n"
                      "      allow_failure: true\n");
  REQUIRE(jobs.size() == 2);
  CHECK_FALSE(jobs[0].allow_failure);
  CHECK(jobs[1].allow_failure);
}

TEST_CASE("exclude removes the jobs it matches") {
  auto jobs = jobs_of("env: [FOO=1, FOO=2, FOO=3]\n"
                      "script: make\n"
                      "jobs:\n"
                      "  include:\n"
                      "    - name: gone\n"
                      "  exclude:\n"
                      "    - env: FOO=2\n"
                      "    - name: gone\n");
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].own_env == vars{{"FOO", "1"}});
  CHECK(jobs[1].own_env == vars{{"FOO", "3"}});
}

TEST_CASE("duplicate jobs are kept") {
  auto jobs = jobs_of("env: [FOO=1, FOO=1]\nscript: make\n");
  CHECK(jobs.size() == 2);
}

TEST_CASE("a job without script is an error pointing at the job") {
  auto result = expand("env: [A=1]\n"
                       "install: make deps\n"
                       "jobs:\n"
                       "  include:\n"
                       "    - name: ok\n"
                       "      script: make\n"
                       "    - name: lazy\n");
  REQUIRE(result.jobs.size() == 3);
  REQUIRE(result.messages.size() == 2);
  const auto& first = result.messages[0];
  CHECK(first.level == "error");
  CHECK(first.code == "missing_script");
  CHECK(first.line == 1);
  CHECK(first.column == 7);
  CHECK(first.message
        == "job 1 (A=1) has no script: conveyor has no language defaults yet");
  const auto& second = result.messages[1];
  CHECK(second.code == "missing_script");
  CHECK(second.line == 7);
  CHECK(second.column == 7);
  CHECK(second.message
        == "job 3 (lazy) has no script: conveyor has no language defaults yet");

  result = expand("install: make deps\n");
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "missing_script");
  CHECK(result.messages[0].line == 0);
}

TEST_CASE("a config whose jobs are all excluded is an error") {
  auto result = expand("script: make\n"
                       "env: [A=1]\n"
                       "jobs:\n"
                       "  exclude: [{env: A=1}]\n");
  CHECK(result.jobs.empty());
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "no_jobs");
  CHECK(result.messages[0].level == "error");
}

TEST_CASE("fast_finish is carried by the config") {
  auto parsed = parse_build_config("script: make\n"
                                   "jobs: {fast_finish: true}\n");
  CHECK(parsed.config.jobs.fast_finish);
}

TEST_CASE("matchers") {
  matrix_job job;
  job.name = "n";
  job.own_env = {{"A", "1"}, {"B", "2"}};
  CHECK_FALSE(matches(job_matcher{}, job));
  job_matcher by_env;
  by_env.env = vars{{"B", "2"}};
  CHECK(matches(by_env, job));
  by_env.env = vars{{"B", "3"}};
  CHECK_FALSE(matches(by_env, job));
  by_env.env = vars{};
  CHECK(matches(by_env, job));
  job_matcher by_name;
  by_name.name = "n";
  CHECK(matches(by_name, job));
  by_name.name = "m";
  CHECK_FALSE(matches(by_name, job));
}

TEST_CASE("a matrix too large to hold is an error") {
  build_config cfg;
  cfg.phases.script = strings{std::string(1024 * 1024, 'x')};
  for (int i = 0; i < 100; ++i)
    cfg.env.jobs.push_back({{{"I", std::to_string(i)}}, {}});
  std::vector<config_message> messages;
  auto jobs = expand_matrix(cfg, messages);
  CHECK(jobs.empty());
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].code == "too_large");

  build_config many;
  many.phases.script = strings{"s"};
  many.env.jobs.resize(max_jobs + 1);
  messages.clear();
  CHECK(expand_matrix(many, messages).empty());
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].code == "too_many_jobs");
}

TEST_CASE("jobs take the git keys of their include entry, else the root's") {
  auto jobs = jobs_of("script: make\n");
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].clone);
  CHECK(jobs[0].clone_depth == 0);

  jobs = jobs_of("git: {depth: 7}\n"
                 "env: [A=1, A=2]\n"
                 "script: make\n"
                 "jobs:\n"
                 "  include:\n"
                 "    - name: inherits\n"
                 "    - name: no checkout\n"
                 "      git: {clone: false}\n"
                 "    - name: full\n"
                 "      git: {depth: false}\n");
  REQUIRE(jobs.size() == 5);
  for (size_t i = 0; i < 3; ++i) {
    INFO("job " << i + 1);
    CHECK(jobs[i].clone);
    CHECK(jobs[i].clone_depth == 7);
  }
  CHECK_FALSE(jobs[3].clone);
  CHECK(jobs[3].clone_depth == 7);
  CHECK(jobs[4].clone);
  CHECK(jobs[4].clone_depth == 0);

  jobs = jobs_of("git: {clone: false}\n"
                 "jobs:\n"
                 "  include:\n"
                 "    - script: a\n"
                 "    - script: b\n"
                 "      git: {clone: true, depth: 1}\n");
  REQUIRE(jobs.size() == 2);
  CHECK_FALSE(jobs[0].clone);
  CHECK(jobs[1].clone);
  CHECK(jobs[1].clone_depth == 1);
}
