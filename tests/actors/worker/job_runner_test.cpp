#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/worker/build_script.hpp"
#include "actors/worker/group_record.hpp"
#include "actors/worker/job_runner.hpp"
#include "actors/worker/proc_stat.hpp"
#include "test_support.hpp"

using namespace conveyor;
using namespace std::chrono_literals;

namespace {

struct fixture {
  test::temp_dir tmp;
  job_spec spec;
  job_runner_config cfg;
  std::atomic<bool> cancel{false};
  std::vector<log_part> parts;
  bool started = false;

  fixture() {
    spec.job_id = 42;
    spec.build_id = 7;
    spec.build_number = 3;
    spec.index = 2;
    spec.attempt = 1;
    spec.request_id = "4a1c8b52-5a4e-4c53-9a55-2b1f8e1f9d10";
    spec.slug = "octo/demo";
    spec.branch = "main";
    spec.event = "push";
    spec.commit_message = "Fix the thing";
    cfg.workspace_root = tmp.path() / "ws";
    cfg.kill_grace = 500ms;
  }

  job_outcome run() {
    job_callbacks cb;
    cb.on_started = [this] { started = true; };
    cb.on_part = [this](log_part part) { parts.push_back(std::move(part)); };
    return run_job(spec, cfg, cancel, cb);
  }

  std::string log() const {
    return test::joined(parts);
  }

  bool logged(const std::string& text) const {
    return log().find(text) != std::string::npos;
  }

  void check_parts() const {
    REQUIRE_FALSE(parts.empty());
    for (size_t i = 0; i < parts.size(); ++i) {
      CHECK(parts[i].job_id == spec.job_id);
      CHECK(parts[i].attempt == spec.attempt);
      CHECK(parts[i].number == static_cast<int32_t>(i));
      CHECK(parts[i].final == (i + 1 == parts.size()));
    }
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "a passing job clones, checks out and runs",
                 "[job_runner]") {
  auto repo = test::make_git_repo(tmp.path() / "repo");
  spec.repo = repo.dir.string();
  spec.sha = repo.sha;
  spec.phases.script = {"cat hello.txt", "git rev-parse HEAD",
                        "echo \"dir=$PWD\""};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::passed);
  CHECK(out.exit_code == 0);
  CHECK(out.reason.empty());
  CHECK(started);
  check_parts();
  CHECK(logged("$ git clone --quiet " + repo.dir.string()));
  CHECK(logged("checkout --quiet --force " + repo.sha));
  CHECK(logged("$ cat hello.txt\nhello from the repository\n"));
  CHECK(logged(repo.sha + "\n"));
  CHECK(logged("dir=" + (cfg.workspace_root / "42-1" / "build").string()));
  CHECK(logged("The command \"cat hello.txt\" exited with 0."));
  CHECK(test::last_line(log()) == "Done. Your build exited with 0.");
  CHECK_FALSE(std::filesystem::exists(cfg.workspace_root / "42-1"));
}

TEST_CASE_METHOD(fixture, "a failing script command fails the job, the next "
                          "still runs",
                 "[job_runner]") {
  spec.phases.script = {"false", "echo second-ran"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::failed);
  CHECK(out.exit_code == 1);
  CHECK(logged("The command \"false\" exited with 1."));
  CHECK(logged("second-ran\n"));
  CHECK(logged("The command \"echo second-ran\" exited with 0."));
  CHECK(test::last_line(log()) == "Done. Your build exited with 1.");
  check_parts();
}

TEST_CASE_METHOD(fixture, "a failing install stops the build before script",
                 "[job_runner]") {
  spec.phases.before_install = {"echo before-install-ran"};
  spec.phases.install = {"(exit 3)", "echo second-install-ran"};
  spec.phases.before_script = {"echo before-script-ran"};
  spec.phases.script = {"echo script-ran"};
  spec.phases.after_failure = {"echo after-failure-ran"};
  spec.phases.after_script = {"echo after-script-ran"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::errored);
  CHECK(out.exit_code == 3);
  CHECK(out.reason == "install failed (exit 3)");
  CHECK(logged("before-install-ran\n"));
  CHECK(logged("The command \"(exit 3)\" failed and exited with 3 during "
               "install.\n\nYour build has been stopped."));
  CHECK_FALSE(logged("second-install-ran"));
  CHECK_FALSE(logged("before-script-ran"));
  CHECK_FALSE(logged("\nscript-ran\n"));
  CHECK_FALSE(logged("after-failure-ran"));
  CHECK(logged("after-script-ran\n"));
  CHECK(test::last_line(log()) == "Done. Your build exited with 3.");
}

TEST_CASE_METHOD(fixture, "a clone that fails errors the job",
                 "[job_runner]") {
  spec.repo = (tmp.path() / "no-such-repo").string();
  spec.phases.script = {"echo script-ran"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::errored);
  CHECK(out.exit_code == 128);
  CHECK(out.reason == "clone failed (exit 128)");
  CHECK(logged("failed and exited with 128 during clone."));
  CHECK_FALSE(logged("script-ran"));
}

TEST_CASE_METHOD(fixture, "after_success or after_failure follows the result",
                 "[job_runner]") {
  spec.phases.after_success = {"echo after-success-ran"};
  spec.phases.after_failure = {"echo after-failure-ran"};
  spec.phases.after_script = {"echo after-script-ran result=$TRAVIS_TEST_RESULT",
                              "false"};
  SECTION("passed") {
    spec.phases.script = {"true"};
    auto out = run();
    INFO(log());
    CHECK(out.state == job_state::passed);
    CHECK(logged("after-success-ran\n"));
    CHECK_FALSE(logged("after-failure-ran"));
    CHECK(logged("after-script-ran result=0\n"));
  }
  SECTION("failed") {
    spec.phases.script = {"false"};
    spec.phases.after_failure.push_back("exit 7");
    auto out = run();
    INFO(log());
    CHECK(out.state == job_state::failed);
    CHECK(out.exit_code == 1);
    CHECK_FALSE(logged("after-success-ran"));
    CHECK(logged("after-failure-ran\n"));
    // `exit` in after_failure ends the script, but the result was recorded.
    CHECK_FALSE(logged("after-script-ran"));
  }
}

TEST_CASE_METHOD(fixture, "exports and cd persist across phases; env values "
                          "are literal",
                 "[job_runner]") {
  spec.env = {{"LITERAL", "b c $HOME 'q' \"d\""}, {"bad name", "x"}};
  spec.phases.before_install = {"export FROM_BEFORE_INSTALL=yes",
                                "mkdir -p sub && cd sub"};
  spec.phases.install = {"PLAIN=kept"};
  spec.phases.script = {"echo \"persist=$FROM_BEFORE_INSTALL $PLAIN "
                        "dir=$(basename \"$PWD\")\"",
                        "echo \"[$LITERAL]\""};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::passed);
  CHECK(logged("persist=yes kept dir=sub\n"));
  CHECK(logged("[b c $HOME 'q' \"d\"]\n"));
  CHECK(logged("Skipping the invalid environment variable name"));
}

TEST_CASE_METHOD(fixture, "commands with quotes, newlines and $ run as "
                          "written",
                 "[job_runner]") {
  spec.phases.script = {
    "echo \"it's a \\\"quote\\\" and \\$HOME is $HOME\"",
    "printf '%s\\n' 'single $quoted' \"%done\"",
    "if true; then\n  echo multi-line-ok\nfi",
    "cat <<'EOF'\nheredoc $NOT_EXPANDED\nEOF"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::passed);
  auto home = (cfg.workspace_root / "42-1").string();
  CHECK(logged("it's a \"quote\" and $HOME is " + home + "\n"));
  CHECK(logged("single $quoted\n%done\n"));
  CHECK(logged("$ if true; then\n  echo multi-line-ok\nfi\nmulti-line-ok\n"));
  CHECK(logged("heredoc $NOT_EXPANDED\n"));
}

TEST_CASE_METHOD(fixture, "the environment is scrubbed", "[job_runner]") {
  ::setenv("CONVEYOR_WORKER_TEST_SECRET", "hunter2", 1);
  spec.tag = "v1.0";
  spec.allow_failure = true;
  spec.phases.script = {"env | sort"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::passed);
  CHECK_FALSE(logged("hunter2"));
  CHECK_FALSE(logged("CONVEYOR_WORKER_TEST_SECRET"));
  auto ws = (cfg.workspace_root / "42-1").string();
  for (auto line : std::vector<std::string>{
         "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "HOME=" + ws, "LANG=C.UTF-8", "TERM=dumb", "CI=true",
         "CONTINUOUS_INTEGRATION=true", "TRAVIS=true", "CONVEYOR=true",
         "CONVEYOR_REQUEST_ID=" + spec.request_id, "CONVEYOR_BUILD_ID=7",
         "CONVEYOR_BUILD_NUMBER=3", "CONVEYOR_JOB_ID=42",
         "CONVEYOR_JOB_NUMBER=3.2", "CONVEYOR_JOB_ATTEMPT=1",
         "TRAVIS_BRANCH=main", "TRAVIS_BUILD_DIR=" + ws + "/build",
         "TRAVIS_BUILD_ID=7", "TRAVIS_BUILD_NUMBER=3", "TRAVIS_JOB_ID=42",
         "TRAVIS_JOB_NUMBER=3.2", "TRAVIS_EVENT_TYPE=push",
         "TRAVIS_PULL_REQUEST=false", "TRAVIS_TAG=v1.0",
         "TRAVIS_REPO_SLUG=octo/demo", "TRAVIS_OS_NAME=linux",
         "TRAVIS_ALLOW_FAILURE=true", "TRAVIS_COMMIT_MESSAGE=Fix the thing",
         "USER=", "LOGNAME="})
    CHECK(logged("\n" + line));
}

TEST_CASE_METHOD(fixture, "a script that calls exit ends errored",
                 "[job_runner]") {
  spec.phases.script = {"echo before", "exit 0", "echo never"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::errored);
  CHECK(out.exit_code == 0);
  CHECK(out.reason == "the build script ended early (exit 0)");
  CHECK_FALSE(logged("never\n"));
  CHECK(test::last_line(log()) == "Done. Your build exited with 0.");
}

TEST_CASE_METHOD(fixture, "the hard timeout errors the job", "[job_runner]") {
  spec.limits.timeout_ms = 1000;
  spec.phases.script = {"while true; do echo tick; sleep 0.1; done"};
  auto t = std::chrono::steady_clock::now();
  auto out = run();
  INFO(log());
  CHECK(std::chrono::steady_clock::now() - t < 3s);
  CHECK(out.state == job_state::errored);
  CHECK(out.exit_code == -1);
  CHECK(logged("tick\n"));
  CHECK(test::last_line(log())
        == "The job exceeded the maximum time limit for jobs, and has been "
           "terminated.");
  check_parts();
}

TEST_CASE_METHOD(fixture, "silence errors the job", "[job_runner]") {
  spec.limits.no_output_timeout_ms = 500;
  spec.phases.script = {"sleep 1000"};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::errored);
  CHECK(out.reason == "no output for 0m 0.5s");
  CHECK(logged("No output has been received in the last 0m 0.5s, this "
               "potentially indicates a stalled build or something wrong "
               "with the build itself.\nThe build has been terminated.\n"));
}

TEST_CASE_METHOD(fixture, "a log over the limit errors the job",
                 "[job_runner]") {
  spec.limits.max_log_bytes = 64 * 1024;
  spec.phases.script = {"yes 0123456789"};
  auto out = run();
  CHECK(out.state == job_state::errored);
  auto text = log();
  auto last = std::string{"The job exceeded the maximum log length, and has "
                          "been terminated."};
  CHECK(test::last_line(text) == last);
  CHECK(text.size() <= 64 * 1024 + last.size() + 3);
  CHECK(text.size() > 60 * 1024);
  check_parts();
  for (const auto& part : parts)
    CHECK(part.content.size() <= 8192);
}

TEST_CASE_METHOD(fixture, "a canceled job leaves no process behind",
                 "[job_runner]") {
  auto bg = tmp.path() / "bg.pid";
  auto shell = tmp.path() / "shell.pid";
  spec.phases.script = {"sleep 1000 & echo $! > '" + bg.string()
                        + "'; echo $$ > '" + shell.string()
                        + "'; sleep 1000"};
  std::thread canceler{[this, shell] {
    test::wait_for_pid(shell);
    cancel = true;
  }};
  auto out = run();
  canceler.join();
  INFO(log());
  CHECK(out.state == job_state::canceled);
  CHECK(test::last_line(log()) == "Done. The job was canceled.");
  auto bg_pid = test::wait_for_pid(bg, 0);
  auto shell_pid = test::wait_for_pid(shell, 0);
  REQUIRE(bg_pid > 0);
  REQUIRE(shell_pid > 0);
  CHECK(test::pid_gone(bg_pid));
  CHECK(test::pid_gone(shell_pid));
}

TEST_CASE_METHOD(fixture, "a background process of a passing job is killed",
                 "[job_runner]") {
  auto bg = tmp.path() / "bg.pid";
  spec.phases.script = {"sleep 1000 & echo $! > '" + bg.string() + "'"};
  auto t = std::chrono::steady_clock::now();
  auto out = run();
  CHECK(std::chrono::steady_clock::now() - t < 2s);
  CHECK(out.state == job_state::passed);
  auto pid = test::wait_for_pid(bg, 0);
  REQUIRE(pid > 0);
  CHECK(test::pid_gone(pid));
}

TEST_CASE_METHOD(fixture, "the workspace is kept when asked", "[job_runner]") {
  cfg.keep_workspace = true;
  spec.attempt = 2;
  spec.phases.script = {"echo kept > marker"};
  auto out = run();
  CHECK(out.state == job_state::passed);
  auto ws = cfg.workspace_root / "42-2";
  CHECK(test::read_file(ws / "build" / "marker") == "kept\n");
  CHECK(test::read_file(ws / ".conveyor" / "result") == "passed 0 script\n");
  CHECK(std::filesystem::exists(ws / ".conveyor" / "build.sh"));
}

TEST_CASE_METHOD(fixture, "a workspace left unwritable is removed anyway",
                 "[job_runner]") {
  spec.phases.script = {"mkdir -p locked/inner && touch locked/inner/f && "
                        "chmod 0 locked/inner && chmod 0 locked"};
  auto out = run();
  CHECK(out.state == job_state::passed);
  CHECK_FALSE(std::filesystem::exists(cfg.workspace_root / "42-1"));
}

TEST_CASE_METHOD(fixture, "the process group is recorded while the job runs",
                 "[job_runner]") {
  cfg.keep_workspace = true;
  auto shell = tmp.path() / "shell.pid";
  auto ws = std::filesystem::absolute(cfg.workspace_root / "42-1");
  spec.phases.script = {"echo $$ > '" + shell.string() + "'; sleep 1000"};
  std::optional<group_record> seen;
  std::optional<proc_stat> leader;
  std::thread watcher{[this, shell, ws, &seen, &leader] {
    auto pid = test::wait_for_pid(shell);
    leader = read_proc_stat(pid);
    seen = read_group_record(group_record_path(ws));
    cancel = true;
  }};
  auto out = run();
  watcher.join();
  CHECK(out.state == job_state::canceled);
  auto pid = test::wait_for_pid(shell, 0);
  REQUIRE(seen);
  REQUIRE(leader);
  CHECK(seen->pgid == pid);
  CHECK(leader->pgrp == pid);
  CHECK(seen->leader_start == leader->start_time);
  CHECK(seen->boot_id == current_boot_id());
  CHECK(seen->owner_pid == ::getpid());
  CHECK(seen->owner_start == read_proc_stat(::getpid())->start_time);
  CHECK(seen->job_id == 42);
  CHECK(seen->attempt == 1);
  CHECK(seen->workspace == ws);
  // Gone with the group; the kept workspace stays.
  CHECK_FALSE(std::filesystem::exists(group_record_path(ws)));
  CHECK_FALSE(std::filesystem::exists(ws / ".conveyor" / "pgid.tmp"));
  CHECK(std::filesystem::exists(ws / ".conveyor" / "build.sh"));
}

TEST_CASE("a no-op attempt passes with one final part and runs nothing",
          "[job_runner]") {
  job_spec spec;
  spec.job_id = 5;
  spec.attempt = 2;
  spec.phases.script = {"exit 1"};
  std::vector<log_part> parts;
  bool started = false;
  job_callbacks cb;
  cb.on_started = [&started] { started = true; };
  cb.on_part = [&parts](log_part part) { parts.push_back(std::move(part)); };
  auto out = run_noop_job(spec, cb);
  CHECK(out.state == job_state::passed);
  CHECK(out.exit_code == 0);
  CHECK(out.reason.empty());
  CHECK(started);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0] == log_part{5, 2, 0, "Done. Your build exited with 0.\n", true});
}

TEST_CASE_METHOD(fixture, "clone credentials: no command of the config can "
                          "read them",
                 "[job_runner]") {
  auto repo = test::make_git_repo(tmp.path() / "repo");
  spec.repo = "file://" + repo.dir.string();
  spec.sha = repo.sha;
  spec.env = {{"FOO", "bar"}};
  set_git_auth(spec, "basic TOPSECRETHEADER");
  spec.phases.script = {
    "cat hello.txt", "echo \"var=[${CONVEYOR_GIT_AUTH:-}]\"",
    "echo \"shell=[${_conveyor_git_auth:-}]\"", "env",
    "tr '\\0' '\\n' < /proc/$$/environ", "echo \"foo=$FOO\""};
  auto out = run();
  INFO(log());
  CHECK(out.state == job_state::passed);
  CHECK(logged("hello from the repository"));
  CHECK(logged("var=[]"));
  CHECK(logged("shell=[]"));
  CHECK(logged("foo=bar"));
  CHECK_FALSE(logged("TOPSECRETHEADER"));
  CHECK_FALSE(logged("CONVEYOR_GIT_AUTH="));
}
