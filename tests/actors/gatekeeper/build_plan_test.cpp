// From a build request and a real repository to the build to store.
#include <catch2/catch.hpp>

#include <chrono>

#include "actors/gatekeeper/build_plan.hpp"
#include "messages/error.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace {

using strings = std::vector<std::string>;
using vars = std::vector<env_var>;

build_request request_for(const std::string& repo) {
  build_request req;
  req.request_id = "req-1";
  req.source = "cli";
  req.repo = repo;
  req.sender = "me";
  return req;
}

resolved_request resolve(build_request req) {
  auto result = resolve_request(std::move(req));
  if (!result)
    FAIL(describe(result.error()));
  return std::move(*result);
}

} // namespace

TEST_CASE_METHOD(test_repo, "a request for HEAD is completed from the repo") {
  write(".travis.yml", "script: make\n");
  auto sha = commit("the message");
  auto resolved = resolve(request_for(path()));
  const auto& req = resolved.request;
  CHECK(req.request_id == "req-1");
  CHECK(req.source == "cli");
  CHECK(req.ref == "HEAD");
  CHECK(req.sha == sha);
  CHECK(req.branch == "main");
  CHECK(req.tag.empty());
  CHECK(req.slug == "demo");
  CHECK(req.event == "push");
  CHECK(req.commit_message == "the message");
  CHECK(req.sender == "me");
  CHECK(resolved.config.name == ".travis.yml");
  CHECK(resolved.config.content == "script: make\n");
}

TEST_CASE_METHOD(test_repo, "the slug of a request for `dir/.` is the "
                            "directory's name") {
  write(".travis.yml", "script: make\n");
  commit("one");
  auto resolved = resolve(request_for(path() + "/."));
  CHECK(resolved.request.slug == "demo");
  CHECK(resolved.request.repo == path() + "/.");
}

TEST_CASE_METHOD(test_repo, "a request keeps what it already says") {
  write(".conveyor.yml", "script: make\n");
  auto first = commit("first");
  git("tag v2");
  write("x", "x");
  commit("second");
  auto req = request_for(path());
  req.slug = "octo/demo";
  req.event = "api";
  req.ref = "v2";
  auto resolved = resolve(req);
  CHECK(resolved.request.slug == "octo/demo");
  CHECK(resolved.request.event == "api");
  CHECK(resolved.request.sha == first);
  CHECK(resolved.request.tag == "v2");
  CHECK(resolved.request.branch.empty());
}

TEST_CASE_METHOD(test_repo, "a request with a sha takes names from its ref") {
  write(".conveyor.yml", "script: make\n");
  auto first = commit("first");
  commit("second");
  auto req = request_for(path());
  req.sha = first.substr(0, 10);
  req.ref = "refs/heads/release";
  req.commit_message = "from the webhook";
  auto resolved = resolve(req);
  CHECK(resolved.request.sha == first);
  CHECK(resolved.request.branch == "release");
  CHECK(resolved.request.commit_message == "from the webhook");
  CHECK(resolved.request.ref == "refs/heads/release");
}

TEST_CASE_METHOD(test_repo, "unknown repositories and refs fail the request") {
  write(".conveyor.yml", "script: make\n");
  commit("first");
  auto bad_repo = request_for(root() + "/nowhere");
  auto result = resolve_request(bad_repo);
  REQUIRE_FALSE(result);
  CHECK(result.error().code()
        == static_cast<uint8_t>(errc::unknown_repository));
  auto bad_ref = request_for(path());
  bad_ref.ref = "no-such-branch";
  result = resolve_request(bad_ref);
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == static_cast<uint8_t>(errc::unknown_ref));
  CHECK(describe(result.error()).find("no-such-branch") != std::string::npos);
  auto bad_sha = request_for(path());
  bad_sha.sha = "0123456789012345678901234567890123456789";
  result = resolve_request(bad_sha);
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == static_cast<uint8_t>(errc::unknown_ref));
}

TEST_CASE("a valid config plans a created build with one job per matrix job") {
  build_request req;
  req.request_id = "req-9";
  req.repo = "/srv/demo";
  req.slug = "octo/demo";
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  req.branch = "main";
  req.event = "push";
  req.commit_message = "msg";
  job_limits limits;
  limits.timeout_ms = 1234;
  config_file file{".travis.yml", "language: c\n"
                                  "env:\n"
                                  "  global: G=1\n"
                                  "  jobs: [A=1, A=2]\n"
                                  "script: make\n"
                                  "jobs:\n"
                                  "  fast_finish: true\n"
                                  "  allow_failures: [{env: A=2}]\n",
                   ""};
  auto build = plan_build(req, file, limits, 1000);
  CHECK(build.state == build_state::created);
  CHECK(build.id == 0);
  CHECK(build.number == 0);
  CHECK(build.config == ".travis.yml");
  CHECK(build.fast_finish);
  CHECK(build.created_at_ms == 1000);
  CHECK(build.finished_at_ms == 0);
  CHECK(build.request.request_id == "req-9");
  CHECK(build.messages.empty());
  REQUIRE(build.jobs.size() == 2);
  for (int32_t i = 0; i < 2; ++i) {
    const auto& job = build.jobs[static_cast<size_t>(i)];
    const auto& spec = job.spec;
    CHECK(job.state == job_state::created);
    CHECK(job.created_at_ms == 1000);
    CHECK(spec.job_id == 0);
    CHECK(spec.build_id == 0);
    CHECK(spec.build_number == 0);
    CHECK(spec.index == i + 1);
    CHECK(spec.attempt == 1);
    CHECK(spec.request_id == "req-9");
    CHECK(spec.repo == "/srv/demo");
    CHECK(spec.slug == "octo/demo");
    CHECK(spec.sha == req.sha);
    CHECK(spec.branch == "main");
    CHECK(spec.tag.empty());
    CHECK(spec.event == "push");
    CHECK(spec.commit_message == "msg");
    CHECK(spec.phases.script == strings{"make"});
    CHECK(spec.limits.timeout_ms == 1234);
    CHECK(spec.clone);
    CHECK(spec.clone_depth == 0);
  }
  // What Travis derives from the job first, then env.global, then its own.
  const vars travis{{"TRAVIS_LANGUAGE", "c"}};
  auto env_with = [&travis](vars own) {
    auto result = travis;
    result.insert(result.end(), own.begin(), own.end());
    return result;
  };
  CHECK(build.jobs[0].spec.env == env_with({{"G", "1"}, {"A", "1"}}));
  CHECK(build.jobs[1].spec.env == env_with({{"G", "1"}, {"A", "2"}}));
  CHECK(build.jobs[0].spec.name.empty());
  CHECK_FALSE(build.jobs[0].spec.allow_failure);
  CHECK(build.jobs[1].spec.allow_failure);
}

TEST_CASE("no config plans an errored build") {
  build_request req;
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  auto build = plan_build(req, config_file{}, job_limits{}, 5);
  CHECK(build.state == build_state::errored);
  CHECK(build.config.empty());
  CHECK(build.jobs.empty());
  CHECK(build.finished_at_ms == 5);
  REQUIRE(build.messages.size() == 1);
  const auto& msg = build.messages[0];
  CHECK(msg.level == "error");
  CHECK(msg.key.empty());
  CHECK(msg.code == "no_config");
  CHECK(msg.message
        == "no .conveyor.yml or .travis.yml found at commit 0123456");
}

TEST_CASE("an invalid config plans an errored build with all findings") {
  build_request req;
  req.sha = "abc";
  config_file file{".conveyor.yml", "cache: pip\nscript: {a: 1}\n", ""};
  auto build = plan_build(req, file, job_limits{}, 5);
  CHECK(build.state == build_state::errored);
  CHECK(build.config == ".conveyor.yml");
  CHECK(build.jobs.empty());
  REQUIRE(build.messages.size() == 2);
  CHECK(build.messages[0].code == "unsupported_key");
  CHECK(build.messages[1].code == "invalid_type");
  CHECK(build.messages[1].level == "error");

  file.content = "install: make\n";
  build = plan_build(req, file, job_limits{}, 5);
  CHECK(build.state == build_state::errored);
  REQUIRE(build.messages.size() == 1);
  CHECK(build.messages.back().code == "missing_script");
  CHECK(build.messages.back().level == "error");

  file.content = "script: [\n";
  build = plan_build(req, file, job_limits{}, 5);
  CHECK(build.state == build_state::errored);
  REQUIRE(build.messages.size() == 1);
  CHECK(build.messages[0].code == "syntax_error");
}

TEST_CASE_METHOD(test_repo, "a repository's config becomes a planned build") {
  write(".conveyor.yml", "env: [X=1, X=2]\nscript: ./test.sh\n");
  write(".travis.yml", "script: travis\n");
  auto sha = commit("both configs");
  auto resolved = resolve(request_for(path()));
  auto build = plan_build(resolved.request, resolved.config, job_limits{}, 1);
  CHECK(build.state == build_state::created);
  CHECK(build.config == ".conveyor.yml");
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[1].spec.sha == sha);
  CHECK(build.jobs[1].spec.branch == "main");
  CHECK(build.jobs[1].spec.slug == "demo");
  CHECK(build.jobs[1].spec.phases.script == strings{"./test.sh"});
  CHECK(build.jobs[1].spec.env.back() == env_var{"X", "2"});
}

TEST_CASE("the git section reaches the jobs") {
  build_request req;
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  config_file file{".travis.yml", "git: {depth: 50}\n"
                                  "script: make\n"
                                  "jobs:\n"
                                  "  include:\n"
                                  "    - name: bench\n"
                                  "      git: {clone: false}\n",
                   ""};
  auto build = plan_build(req, file, job_limits{}, 1);
  CHECK(build.state == build_state::created);
  // As in Travis, no matrix key expands the root: the include is the job.
  REQUIRE(build.jobs.size() == 1);
  CHECK(build.jobs[0].spec.name == "bench");
  CHECK_FALSE(build.jobs[0].spec.clone);
  // A job's git keys fall back to the root's one by one.
  CHECK(build.jobs[0].spec.clone_depth == 50);
  file.content = "git: {depth: 7}\nscript: make\nenv: [A=1, A=2]\n";
  build = plan_build(req, file, job_limits{}, 1);
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[1].spec.clone);
  CHECK(build.jobs[1].spec.clone_depth == 7);
}

// -- Travis semantics ---------------------------------------------------------

namespace {

build_request push(const std::string& branch, const std::string& message) {
  build_request req;
  req.request_id = "req-t";
  req.repo = "/srv/demo";
  req.slug = "octo/demo";
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  req.branch = branch;
  req.event = "push";
  req.commit_message = message;
  return req;
}

std::string env_value(const job_spec& spec, const std::string& name) {
  std::string result = "<unset>";
  for (const auto& var : spec.env)
    if (var.name == name)
      result = var.value;
  return result;
}

std::vector<std::string> names_of(const build_record& build) {
  std::vector<std::string> result;
  for (const auto& job : build.jobs)
    result.push_back(job.spec.name);
  return result;
}

} // namespace

TEST_CASE("a rejected request plans an errored build that says why") {
  config_file file{".travis.yml", "script: make\n"
                                  "branches:\n"
                                  "  only: [master, /^release-/]\n"
                                  "if: type = push\n",
                   ""};
  auto build = plan_build(push("master", "fix [ci skip]"), file, job_limits{},
                          7);
  CHECK(build.state == build_state::errored);
  CHECK(build.jobs.empty());
  CHECK(build.finished_at_ms == 7);
  REQUIRE(build.messages.size() == 1);
  CHECK(build.messages[0].level == "error");
  CHECK(build.messages[0].code == "ci_skip");
  CHECK(build.messages[0].message.find("rejected") != std::string::npos);

  build = plan_build(push("feature", "fix"), file, job_limits{}, 7);
  CHECK(build.state == build_state::errored);
  REQUIRE_FALSE(build.messages.empty());
  const auto& msg = build.messages.back();
  CHECK(msg.level == "error");
  CHECK(msg.code == "branch_not_included");
  CHECK(msg.key == "branches");
  CHECK(msg.line == 2);
  CHECK(msg.message.find("'feature'") != std::string::npos);

  CHECK(plan_build(push("release-1", "fix"), file, job_limits{}, 7).state
        == build_state::created);
  auto cron = push("master", "fix");
  cron.event = "cron";
  build = plan_build(cron, file, job_limits{}, 7);
  CHECK(build.state == build_state::errored);
  CHECK(build.messages.back().code == "build_condition");
  CHECK(build.messages.back().key == "if");
  CHECK(build.messages.back().line == 4);

  build = plan_build(push("gh-pages", "fix"), config_file{".travis.yml",
                                                          "script: make\n",
                                                          ""},
                     job_limits{}, 7);
  CHECK(build.messages.back().code == "github_pages");
}

TEST_CASE("matrix values reach the jobs' env and names") {
  config_file file{".travis.yml", "language: ruby\n"
                                  "rvm: ['2.7', '3.0']\n"
                                  "os: [linux, osx]\n"
                                  "dist: focal\n"
                                  "env:\n"
                                  "  global: G=1\n"
                                  "  jobs: [A=1]\n"
                                  "script: rake\n"
                                  "jobs:\n"
                                  "  exclude:\n"
                                  "    - os: osx\n"
                                  "      rvm: '2.7'\n",
                   ""};
  auto build = plan_build(push("master", "x"), file, job_limits{}, 1);
  REQUIRE(build.state == build_state::created);
  CHECK(names_of(build)
        == std::vector<std::string>{"os: linux, rvm: 2.7",
                                    "os: linux, rvm: 3.0",
                                    "os: osx, rvm: 3.0"});
  const auto& last = build.jobs[2].spec;
  CHECK(env_value(last, "TRAVIS_OS_NAME") == "osx");
  CHECK(env_value(last, "TRAVIS_RUBY_VERSION") == "3.0");
  CHECK(env_value(last, "TRAVIS_LANGUAGE") == "ruby");
  CHECK(env_value(last, "TRAVIS_DIST") == "<unset>"); // focal is linux only
  CHECK(env_value(last, "TRAVIS_BUILD_STAGE_NAME") == "<unset>");
  CHECK(last.env.at(last.env.size() - 2) == env_var{"G", "1"});
  CHECK(last.env.back() == env_var{"A", "1"});
  CHECK(env_value(build.jobs[0].spec, "TRAVIS_DIST") == "focal");

  file.content = "language: cpp\ncompiler: [gcc, clang]\nscript: make\n";
  build = plan_build(push("master", "x"), file, job_limits{}, 1);
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[1].spec.name == "compiler: clang");
  CHECK(env_value(build.jobs[1].spec, "TRAVIS_COMPILER") == "clang");
  CHECK(env_value(build.jobs[1].spec, "CXX") == "clang++");
  CHECK(env_value(build.jobs[0].spec, "CC") == "gcc");
}

TEST_CASE("stages conditions and allowed failures shape the jobs") {
  config_file file{".travis.yml",
                   "script: make test\n"
                   "stages:\n"
                   "  - test\n"
                   "  - name: deploy\n"
                   "    if: branch = master\n"
                   "jobs:\n"
                   "  fast_finish: true\n"
                   "  include:\n"
                   "    - name: flaky\n"
                   "    - name: unit\n"
                   "    - name: nightly\n"
                   "      if: type = cron\n"
                   "    - stage: deploy\n"
                   "      name: ship\n"
                   "      script: make deploy\n"
                   "  allow_failures:\n"
                   "    - name: flaky\n",
                   ""};
  auto build = plan_build(push("master", "x"), file, job_limits{}, 1);
  REQUIRE(build.state == build_state::created);
  CHECK(build.fast_finish);
  CHECK(names_of(build)
        == std::vector<std::string>{"test: unit", "test: flaky",
                                    "deploy: ship"});
  CHECK(build.jobs[1].spec.allow_failure);
  CHECK_FALSE(build.jobs[0].spec.allow_failure);
  CHECK(env_value(build.jobs[2].spec, "TRAVIS_BUILD_STAGE_NAME") == "Deploy");
  CHECK(env_value(build.jobs[2].spec, "TRAVIS_JOB_NAME") == "ship");
  CHECK(build.jobs[2].spec.phases.script
        == std::vector<std::string>{"make deploy"});
  for (size_t i = 0; i < build.jobs.size(); ++i)
    CHECK(build.jobs[i].spec.index == static_cast<int32_t>(i + 1));
  bool skipped = false;
  for (const auto& msg : build.messages)
    skipped = skipped || msg.code == "skip_job";
  CHECK(skipped);

  build = plan_build(push("topic", "x"), file, job_limits{}, 1);
  CHECK(names_of(build)
        == std::vector<std::string>{"test: unit", "test: flaky"});
}

TEST_CASE("jobs carry their stage and its position for the scheduler") {
  config_file file{".travis.yml",
                   "script: make test\n"
                   "stages: [Test, {name: build}, deploy]\n"
                   "jobs:\n"
                   "  include:\n"
                   "    - stage: deploy\n"
                   "      script: make deploy\n"
                   "    - stage: test\n"
                   "      name: unit\n"
                   "    - name: lint\n"
                   "    - stage: Build\n"
                   "      script: make\n",
                   ""};
  auto build = plan_build(push("main", "x"), file, job_limits{}, 1);
  REQUIRE(build.state == build_state::created);
  REQUIRE(build.jobs.size() == 4);
  // In stage order; names as the config spells them, positions from 0.
  std::vector<std::pair<std::string, int32_t>> stages;
  for (const auto& job : build.jobs)
    stages.emplace_back(job.spec.stage, job.spec.stage_index);
  CHECK(stages
        == std::vector<std::pair<std::string, int32_t>>{
          {"test", 0}, {"test", 0}, {"Build", 1}, {"deploy", 2}});
  // Without stages: one stage, unnamed.
  config_file plain{".travis.yml", "env: [A=1, A=2]\nscript: make\n", ""};
  build = plan_build(push("main", "x"), plain, job_limits{}, 1);
  REQUIRE(build.jobs.size() == 2);
  for (const auto& job : build.jobs) {
    CHECK(job.spec.stage.empty());
    CHECK(job.spec.stage_index == 0);
  }
}

TEST_CASE("the jobs of a pull request build know the pull request") {
  config_file file{".travis.yml",
                   "script: make\n"
                   "jobs:\n"
                   "  include:\n"
                   "    - name: always\n"
                   "    - name: forks\n"
                   "      if: type = pull_request AND fork AND head_branch = topic\n"
                   "    - name: pushes\n"
                   "      if: type = push\n",
                   ""};
  auto req = push("main", "x");
  req.event = "pull_request";
  req.ref = "refs/pull/42/head";
  req.pull_request = 42;
  req.head_repo = "fork/demo";
  req.head_branch = "topic";
  req.fork = true;
  auto build = plan_build(req, file, job_limits{}, 1);
  REQUIRE(build.state == build_state::created);
  CHECK(names_of(build) == std::vector<std::string>{"always", "forks"});
  for (const auto& job : build.jobs) {
    CHECK(job.spec.pull_request == 42);
    CHECK(job.spec.pull_request_branch == "topic");
    CHECK(job.spec.pull_request_slug == "fork/demo");
    CHECK(job.spec.branch == "main"); // the base branch
    CHECK(job.spec.event == "pull_request");
  }
  build = plan_build(push("main", "x"), file, job_limits{}, 1);
  CHECK(names_of(build) == std::vector<std::string>{"always", "pushes"});
  for (const auto& job : build.jobs) {
    CHECK(job.spec.pull_request == 0);
    CHECK(job.spec.pull_request_branch.empty());
    CHECK(job.spec.pull_request_slug.empty());
  }
}

TEST_CASE("a config whose jobs are all skipped or too many is errored") {
  config_file file{".travis.yml", "script: make\n"
                                  "jobs:\n"
                                  "  include:\n"
                                  "    - if: branch = master\n",
                   ""};
  auto build = plan_build(push("topic", "x"), file, job_limits{}, 1);
  CHECK(build.state == build_state::errored);
  CHECK(build.messages.back().code == "no_jobs");
  std::string many = "script: make\nenv:\n";
  for (int i = 0; i < 201; ++i)
    many += "  - I=" + std::to_string(i) + "\n";
  file.content = many;
  build = plan_build(push("master", "x"), file, job_limits{}, 1);
  CHECK(build.state == build_state::errored);
  CHECK(build.jobs.empty());
  CHECK(build.messages.back().code == "too_many_jobs");
  // The limit is an option of the plan.
  travis_options opts = gatekeeper_travis_options();
  CHECK(opts.max_jobs == 200);
  opts.max_jobs = 300;
  build = plan_build(push("master", "x"), file, plan_config(many, opts),
                     job_limits{}, 1);
  CHECK(build.state == build_state::created);
  CHECK(build.jobs.size() == 201);
}

TEST_CASE("a phase given as skip is not run and needs no script") {
  config_file file{".travis.yml", "install: skip\n"
                                  "script: make\n"
                                  "after_script: [echo a]\n"
                                  "jobs:\n"
                                  "  include:\n"
                                  "    - name: deploy\n"
                                  "      script: skip\n"
                                  "    - name: plain\n"
                                  "      after_script: []\n",
                   ""};
  auto build = plan_build(push("master", "x"), file, job_limits{}, 1);
  REQUIRE(build.state == build_state::created);
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[0].spec.phases.install.empty());
  CHECK(build.jobs[0].spec.phases.script.empty());
  CHECK(build.jobs[1].spec.phases.script == std::vector<std::string>{"make"});
  // As in Travis, an empty phase is dropped: the root's is inherited.
  CHECK(build.jobs[1].spec.phases.after_script
        == std::vector<std::string>{"echo a"});
  bool reported = false;
  for (const auto& msg : build.messages)
    reported = reported
               || (msg.code == "empty" && msg.key == "jobs.include.after_script");
  CHECK(reported);
}

TEST_CASE("Travis's defaults can be asked for") {
  travis_options opts = gatekeeper_travis_options();
  CHECK_FALSE(opts.defaults);
  opts.defaults = true;
  config_file file{".travis.yml", "script: make\n", ""};
  auto build = plan_build(push("master", "x"), file,
                          plan_config(file.content, opts), job_limits{}, 1);
  REQUIRE(build.jobs.size() == 1);
  CHECK(env_value(build.jobs[0].spec, "TRAVIS_OS_NAME") == "linux");
  CHECK(env_value(build.jobs[0].spec, "TRAVIS_DIST") == "focal");
  CHECK(env_value(build.jobs[0].spec, "TRAVIS_LANGUAGE") == "ruby");
  build = plan_build(push("master", "x"), file, job_limits{}, 1);
  REQUIRE(build.jobs.size() == 1);
  CHECK(build.jobs[0].spec.env.empty());
}

TEST_CASE("hostile configs plan errored builds with a clear error") {
  std::string big = "script:\n";
  while (big.size() < 5 * 1024 * 1024)
    big += "  - echo a line of a very long build script\n";
  std::string deep = "script: " + std::string(1000, '[')
                     + std::string(1000, ']') + "\n";
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i)
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + ", *a"
            + (i > 1 ? std::to_string(i - 1) : std::string{}) + "]\n";
  bomb += "script: *a9\n";
  std::string env = "script: make\nenv:\n";
  for (int i = 0; i < 10000; ++i)
    env += "  - I=" + std::to_string(i) + "\n";
  struct hostile {
    std::string name;
    std::string yaml;
    std::string code;
  };
  std::vector<hostile> cases{{"5 MB", big, "too_large"},
                             {"1000 deep", deep, "too_deep"},
                             {"alias bomb", bomb, "too_large"},
                             {"10000 env entries", env, "too_many_jobs"}};
  for (const auto& x : cases) {
    INFO(x.name);
    auto start = std::chrono::steady_clock::now();
    auto build = plan_build(push("master", "x"),
                            config_file{".travis.yml", x.yaml, ""},
                            job_limits{}, 1);
    auto took = std::chrono::duration<double>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    CHECK(took < 5.0);
    CHECK(build.state == build_state::errored);
    CHECK(build.jobs.empty());
    REQUIRE_FALSE(build.messages.empty());
    CHECK(build.messages.back().level == "error");
    const auto& code = build.messages.back().code;
    // yaml-cpp may stop deep nesting itself, as a syntax error.
    bool deep_syntax = x.code == "too_deep" && code == "syntax_error";
    CHECK((code == x.code || deep_syntax));
  }
}
