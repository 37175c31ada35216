// `conveyor config check` and `conveyor config expand`: the real binary on
// small config files.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/app/test_support.hpp"

namespace fs = std::filesystem;

namespace {

using conveyor::test::scratch_dir;
using conveyor::test::slurp;
using json = nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs `conveyor ARGS...` with stdout and stderr in files under `dir`.
outcome run_conveyor(const std::vector<std::string>& args,
                     const scratch_dir& dir) {
  auto out_path = dir.path / "stdout";
  auto err_path = dir.path / "stderr";
  auto pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::vector<char*> argv;
    std::string binary = CONVEYOR_BINARY_DIR "/app/conveyor";
    argv.push_back(binary.data());
    for (auto& arg : args)
      argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("conveyor did not finish in 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  outcome result;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  UNSCOPED_INFO("exit " << result.code << "\nstdout:\n"
                        << result.out << "\nstderr:\n"
                        << result.err);
  return result;
}

/// Writes `text` to `dir/name`; answers the path.
std::string write_file(const scratch_dir& dir, const std::string& name,
                       const std::string& text) {
  auto path = dir.path / name;
  std::ofstream{path} << text;
  return path.string();
}

constexpr const char* valid_config = R"(language: cpp
os: linux
compiler:
  - gcc
  - clang
env:
  - OPT=-O0
  - OPT=-O2
script: make test
)";

// Line 3 has an unknown key (a warning), line 5 an invalid condition (an
// error) at column 5.
constexpr const char* invalid_config = R"(language: cpp
script: make test
colour: blue
jobs:
  include:
    - if: branch = (master
      script: make deploy
)";

constexpr const char* conditional_config = R"(language: ruby
rvm:
  - "3.2"
  - "3.3"
script: rake
stages:
  - test
  - name: deploy
    if: branch = main
jobs:
  include:
    - stage: deploy
      name: ship
      script: ./ship.sh
    - stage: test
      name: edge
      rvm: head
      if: branch =~ ^release-
  allow_failures:
    - rvm: head
)";

const json* find_job(const json& jobs, const std::string& name) {
  for (const auto& job : jobs)
    if (job.at("name") == name)
      return &job;
  return nullptr;
}

} // namespace

TEST_CASE("config check accepts a valid config with exit code 0") {
  scratch_dir dir;
  auto file = write_file(dir, "valid.yml", valid_config);
  auto result = run_conveyor({"config", "check", file}, dir);
  CHECK(result.code == 0);
  CHECK(contains(result.out, file + ": valid"));
  CHECK_FALSE(contains(result.out, ": error: "));
}

TEST_CASE("config check reports errors and warnings with line and column") {
  scratch_dir dir;
  auto file = write_file(dir, "invalid.yml", invalid_config);
  auto result = run_conveyor({"config", "check", file}, dir);
  CHECK(result.code == 1);
  CHECK(contains(result.out, file + ":3:1: warn: unknown_key: "));
  CHECK(contains(result.out, file + ":6:"));
  CHECK(contains(result.out, ": error: invalid_condition: "));
  CHECK(contains(result.out, file + ": invalid (1 error, 1 warning)"));
}

TEST_CASE("config check keeps warnings from failing the check") {
  scratch_dir dir;
  auto file = write_file(dir, "warn.yml",
                         std::string{valid_config} + "colour: blue\n");
  auto result = run_conveyor({"config", "check", file}, dir);
  CHECK(result.code == 0);
  CHECK(contains(result.out, file + ":10:1: warn: unknown_key: "));
  CHECK(contains(result.out, file + ": valid (1 warning)"));
}

TEST_CASE("config check reports a YAML syntax error with its position") {
  scratch_dir dir;
  auto file = write_file(dir, "broken.yml", "script: [make\nos: linux\n");
  auto result = run_conveyor({"config", "check", file}, dir);
  CHECK(result.code == 1);
  CHECK(contains(result.out, ": error: syntax_error: "));
  CHECK(contains(result.out, file + ":"));
}

TEST_CASE("config check finds errors only the expansion shows") {
  scratch_dir dir;
  auto file = write_file(dir, "noscript.yml", "language: cpp\nos: linux\n");
  auto result = run_conveyor({"config", "check", file}, dir);
  CHECK(result.code == 1);
  CHECK(contains(result.out, ": error: missing_script: "));
}

TEST_CASE("config check --json prints a parsable array of messages") {
  scratch_dir dir;
  auto file = write_file(dir, "invalid.yml", invalid_config);
  auto result = run_conveyor({"config", "check", file, "--json"}, dir);
  CHECK(result.code == 1);
  auto messages = json::parse(result.out);
  REQUIRE(messages.is_array());
  REQUIRE(messages.size() == 2);
  for (const auto& m : messages)
    for (const char* field :
         {"level", "key", "code", "args", "line", "column", "message"})
      CHECK(m.contains(field));
  CHECK(messages[0]["level"] == "warn");
  CHECK(messages[0]["code"] == "unknown_key");
  CHECK(messages[0]["line"] == 3);
  CHECK(messages[0]["column"] == 1);
  CHECK(messages[1]["level"] == "error");
  CHECK(messages[1]["code"] == "invalid_condition");
  CHECK(messages[1]["line"] == 6);
  CHECK(messages[1]["column"].get<int>() > 0);

  auto valid = write_file(dir, "valid.yml", valid_config);
  auto ok = run_conveyor({"config", "check", "--json", valid}, dir);
  CHECK(ok.code == 0);
  CHECK(json::parse(ok.out) == json::array());
}

TEST_CASE("config check exits with 2 on bad usage and unreadable files") {
  scratch_dir dir;
  CHECK(run_conveyor({"config", "check"}, dir).code == 2);
  CHECK(run_conveyor({"config", "check", (dir.path / "missing.yml").string()},
                     dir)
          .code
        == 2);
  CHECK(run_conveyor({"config", "check", dir.path.string()}, dir).code == 2);
  auto file = write_file(dir, "valid.yml", valid_config);
  CHECK(run_conveyor({"config", "check", file, "--bogus"}, dir).code == 2);
  CHECK(run_conveyor({"config", "frobnicate", file}, dir).code == 2);
  CHECK(run_conveyor({"config"}, dir).code == 2);
}

TEST_CASE("config commands have help texts") {
  scratch_dir dir;
  auto top = run_conveyor({"--help"}, dir);
  CHECK(top.code == 0);
  CHECK(contains(top.out, "config check FILE"));
  auto config = run_conveyor({"config", "--help"}, dir);
  CHECK(config.code == 0);
  CHECK(contains(config.out, "usage: conveyor config"));
  auto check = run_conveyor({"config", "check", "--help"}, dir);
  CHECK(check.code == 0);
  CHECK(contains(check.out, "FILE:LINE:COL: LEVEL: CODE: message"));
  auto expand = run_conveyor({"config", "expand", "--help"}, dir);
  CHECK(expand.code == 0);
  CHECK(contains(expand.out, "--branch B"));
}

TEST_CASE("config expand prints the matrix as JSON") {
  scratch_dir dir;
  auto file = write_file(dir, "valid.yml", valid_config);
  auto result = run_conveyor({"config", "expand", file, "--json"}, dir);
  REQUIRE(result.code == 0);
  auto jobs = json::parse(result.out);
  REQUIRE(jobs.is_array());
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0]["number"] == 1);
  CHECK(jobs[3]["number"] == 4);
  CHECK(jobs[0]["compiler"] == "gcc");
  CHECK(jobs[0]["env"] == json{{"OPT", "-O0"}});
  CHECK(jobs[1]["compiler"] == "gcc");
  CHECK(jobs[1]["env"] == json{{"OPT", "-O2"}});
  CHECK(jobs[2]["compiler"] == "clang");
  CHECK(jobs[0]["os"] == "linux");
  CHECK(jobs[0]["language"] == "cpp");
  CHECK(jobs[0]["allow_failure"] == false);
  CHECK(jobs[0]["stage"].is_null());
  CHECK(jobs[0]["name"] == "compiler: gcc");
}

TEST_CASE("config expand honours branch conditions on stages and jobs") {
  scratch_dir dir;
  auto file = write_file(dir, "cond.yml", conditional_config);

  auto on_main = run_conveyor(
    {"config", "expand", file, "--branch", "main", "--json"}, dir);
  REQUIRE(on_main.code == 0);
  auto main_jobs = json::parse(on_main.out);
  REQUIRE(main_jobs.size() == 3);
  CHECK(main_jobs[0]["stage"] == "test");
  CHECK(main_jobs[0]["rvm"] == "3.2");
  CHECK(main_jobs[1]["rvm"] == "3.3");
  auto ship = find_job(main_jobs, "deploy: ship");
  REQUIRE(ship != nullptr);
  CHECK((*ship)["stage"] == "deploy");
  CHECK((*ship)["number"] == 3);
  CHECK(find_job(main_jobs, "test: edge") == nullptr);

  auto on_release = run_conveyor(
    {"config", "expand", file, "--branch=release-1.0", "--json"}, dir);
  REQUIRE(on_release.code == 0);
  auto release_jobs = json::parse(on_release.out);
  REQUIRE(release_jobs.size() == 3);
  CHECK(find_job(release_jobs, "deploy: ship") == nullptr);
  auto edge = find_job(release_jobs, "test: edge");
  REQUIRE(edge != nullptr);
  CHECK((*edge)["rvm"] == "head");
  CHECK((*edge)["allow_failure"] == true);
  CHECK((*edge)["number"] == 3);
}

TEST_CASE("config expand prints the jobs as text by default") {
  scratch_dir dir;
  auto file = write_file(dir, "cond.yml", conditional_config);
  auto result = run_conveyor({"config", "expand", file, "--branch", "main"},
                             dir);
  CHECK(result.code == 0);
  CHECK(contains(result.out, "3 jobs in stages test, deploy"));
  CHECK(contains(result.out, "#3 deploy: ship"));
}

TEST_CASE("config expand prints why a request is rejected and exits with 1") {
  scratch_dir dir;
  auto file = write_file(dir, "only.yml",
                         std::string{valid_config}
                           + "branches:\n  only:\n    - main\n");
  auto rejected = run_conveyor(
    {"config", "expand", file, "--branch", "feature", "--json"}, dir);
  CHECK(rejected.code == 1);
  CHECK(rejected.out.empty());
  CHECK(contains(rejected.err, file + ":10:1: error: branch_not_included: "));
  CHECK(contains(rejected.err, "'feature' is not included"));

  auto skipped = run_conveyor({"config", "expand", file, "--branch", "main",
                               "--message", "docs [ci skip]"},
                              dir);
  CHECK(skipped.code == 1);
  CHECK(contains(skipped.err, "ci_skip"));

  auto accepted = run_conveyor(
    {"config", "expand", file, "--branch", "main", "--json"}, dir);
  CHECK(accepted.code == 0);
  CHECK(json::parse(accepted.out).size() == 4);
}

TEST_CASE("config expand honours the event and tag of the request") {
  scratch_dir dir;
  auto file = write_file(dir, "events.yml", R"(script: make
jobs:
  include:
    - name: nightly
      if: type = cron
    - name: release
      if: tag IS present
    - name: always
)");
  auto cron = run_conveyor(
    {"config", "expand", file, "--event", "cron", "--json"}, dir);
  REQUIRE(cron.code == 0);
  auto cron_jobs = json::parse(cron.out);
  CHECK(find_job(cron_jobs, "nightly") != nullptr);
  CHECK(find_job(cron_jobs, "release") == nullptr);

  auto tag = run_conveyor(
    {"config", "expand", file, "--tag", "v1.0", "--json"}, dir);
  REQUIRE(tag.code == 0);
  auto tag_jobs = json::parse(tag.out);
  CHECK(find_job(tag_jobs, "nightly") == nullptr);
  CHECK(find_job(tag_jobs, "release") != nullptr);
  CHECK(find_job(tag_jobs, "always") != nullptr);

  CHECK(run_conveyor({"config", "expand", file, "--event", "webhook"}, dir).code
        == 2);
}
