// From a build request and a real repository to the build to store.
#include <catch2/catch.hpp>

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
  REQUIRE(build.messages.size() == 1);
  CHECK(build.messages[0].level == "info");
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
  CHECK(build.jobs[0].spec.env == vars{{"G", "1"}, {"A", "1"}});
  CHECK(build.jobs[1].spec.env == vars{{"G", "1"}, {"A", "2"}});
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

  file.content = "install: make\n";
  build = plan_build(req, file, job_limits{}, 5);
  CHECK(build.state == build_state::errored);
  REQUIRE(build.messages.size() == 1);
  CHECK(build.messages[0].code == "missing_script");

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
  CHECK(build.jobs[1].spec.env == vars{{"X", "2"}});
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
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.jobs[0].spec.clone);
  CHECK(build.jobs[0].spec.clone_depth == 50);
  CHECK_FALSE(build.jobs[1].spec.clone);
  CHECK(build.jobs[1].spec.clone_depth == 50);
}
