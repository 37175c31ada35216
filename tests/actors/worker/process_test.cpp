#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "actors/worker/process.hpp"
#include "test_support.hpp"

using namespace conveyor;
using namespace std::chrono_literals;

namespace {

struct run {
  process_result result;
  std::string output;
};

run sh(const std::string& script, process_limits limits = {},
       const std::atomic<bool>* cancel = nullptr) {
  if (limits.kill_grace == 5000ms)
    limits.kill_grace = 500ms;
  run r;
  process_options opts;
  opts.argv = {"/bin/sh", "-c", script};
  opts.env = {"PATH=/usr/bin:/bin", "ONLY_THIS=1"};
  opts.limits = limits;
  opts.cancel = cancel;
  opts.on_output = [&r](std::string_view bytes, process_options::clock::time_point) {
    r.output.append(bytes.data(), bytes.size());
  };
  r.result = run_process(opts);
  return r;
}

std::chrono::milliseconds took(const process_result& r) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(r.ended_at
                                                               - r.started_at);
}

} // namespace

TEST_CASE("output streams on one pipe and the exit code is kept",
          "[process]") {
  auto r = sh("echo out; echo err >&2; echo $ONLY_THIS; cat; exit 3");
  CHECK(r.result.how == process_end::exited);
  CHECK(r.result.exit_code == 3);
  CHECK(r.output == "out\nerr\n1\n");
  CHECK(r.result.output_bytes == 10);
}

TEST_CASE("only the given environment is passed", "[process]") {
  ::setenv("CONVEYOR_PROCESS_TEST_SECRET", "hunter2", 1);
  auto r = sh("env");
  CHECK(r.output.find("hunter2") == std::string::npos);
  CHECK(r.output.find("ONLY_THIS=1") != std::string::npos);
}

TEST_CASE("only stdin stdout and stderr are passed", "[process]") {
  // A descriptor opened without O_CLOEXEC, as libraries (Asio's sockets) do:
  // a job, or a daemon it leaves behind, must not hold it.
  int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked > 2);
  auto fd = std::to_string(leaked);
  auto r = sh("if [ -e /proc/$$/fd/" + fd + " ]; then echo inherited; else echo closed; fi");
  ::close(leaked);
  CHECK(r.output == "closed\n");
}

TEST_CASE("the working directory is set", "[process]") {
  test::temp_dir tmp;
  process_options opts;
  opts.argv = {"pwd"};
  opts.cwd = tmp.path();
  std::string out;
  opts.on_output = [&out](std::string_view bytes, process_options::clock::time_point) {
    out.append(bytes.data(), bytes.size());
  };
  auto r = run_process(opts);
  CHECK(r.how == process_end::exited);
  CHECK(out == tmp.path().string() + "\n");
}

TEST_CASE("a program that cannot start is reported", "[process]") {
  process_options opts;
  opts.argv = {"/nonexistent/program"};
  auto r = run_process(opts);
  CHECK(r.how == process_end::failed_to_start);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("death by signal is told apart from an exit code", "[process]") {
  auto r = sh("kill -9 $$");
  CHECK(r.result.how == process_end::signaled);
  CHECK(r.result.signal == SIGKILL);
  CHECK(r.result.exit_code == -1);
  auto e = sh("exit 9");
  CHECK(e.result.how == process_end::exited);
  CHECK(e.result.exit_code == 9);
}

TEST_CASE("a background child holding the pipe is killed, not waited for",
          "[process]") {
  test::temp_dir tmp;
  auto pidfile = tmp.path() / "bg.pid";
  auto r = sh("sleep 1000 & echo $! > '" + pidfile.string() + "'; echo done");
  CHECK(r.result.how == process_end::exited);
  CHECK(r.result.exit_code == 0);
  CHECK(r.output == "done\n");
  CHECK(took(r.result) < 2s);
  auto pid = test::wait_for_pid(pidfile, 0);
  REQUIRE(pid > 0);
  CHECK(test::pid_gone(pid));
}

TEST_CASE("a leftover that ignores SIGTERM is killed after the grace",
          "[process]") {
  test::temp_dir tmp;
  auto pidfile = tmp.path() / "bg.pid";
  process_limits lim;
  lim.kill_grace = 300ms;
  // The leader waits until the leftover ignores TERM (an ignored signal stays
  // ignored across exec), or TERM could come first.
  auto file = "'" + pidfile.string() + "'";
  auto r = sh("(trap '' TERM; exec sh -c 'echo $$ > " + pidfile.string()
                + "; exec sleep 1000') & while [ ! -s " + file
                + " ]; do sleep 0.01; done",
              lim);
  CHECK(r.result.how == process_end::exited);
  CHECK(took(r.result) >= 300ms);
  CHECK(took(r.result) < 3s);
  auto pid = test::wait_for_pid(pidfile, 0);
  REQUIRE(pid > 0);
  CHECK(test::pid_gone(pid));
}

TEST_CASE("the hard timeout stops the group", "[process]") {
  process_limits lim;
  lim.timeout = 300ms;
  auto r = sh("while true; do echo tick; sleep 0.05; done", lim);
  CHECK(r.result.how == process_end::timed_out);
  CHECK(took(r.result) >= 300ms);
  CHECK(took(r.result) < 2s);
  CHECK(r.output.find("tick") != std::string::npos);
}

TEST_CASE("silence stops the group", "[process]") {
  process_limits lim;
  lim.no_output_timeout = 300ms;
  auto r = sh("echo start; sleep 0.1; echo more; sleep 1000", lim);
  CHECK(r.result.how == process_end::silent);
  CHECK(took(r.result) >= 400ms);
  CHECK(took(r.result) < 2s);
  CHECK(r.output == "start\nmore\n");
}

TEST_CASE("too much output stops the group; the excess is dropped",
          "[process]") {
  process_limits lim;
  lim.max_output_bytes = 64 * 1024;
  auto r = sh("yes 0123456789", lim);
  CHECK(r.result.how == process_end::log_too_large);
  CHECK(r.output.size() == 64 * 1024);
  CHECK(r.result.output_bytes == 64 * 1024);
}

TEST_CASE("cancellation stops the whole group, SIGKILL after the grace",
          "[process]") {
  test::temp_dir tmp;
  auto pidfile = tmp.path() / "stubborn.pid";
  std::atomic<bool> cancel{false};
  std::thread canceler{[&cancel, pidfile] {
    test::wait_for_pid(pidfile);
    cancel = true;
  }};
  process_limits lim;
  lim.kill_grace = 200ms;
  auto r = sh("(trap '' TERM; exec sleep 1000) & echo $! > '"
                + pidfile.string() + "'; sleep 1000",
              lim, &cancel);
  canceler.join();
  CHECK(r.result.how == process_end::canceled);
  CHECK(took(r.result) < 3s);
  auto pid = test::wait_for_pid(pidfile, 0);
  REQUIRE(pid > 0);
  CHECK(test::pid_gone(pid));
}

TEST_CASE("the tick callback keeps coming while the process is quiet",
          "[process]") {
  process_options opts;
  opts.argv = {"sleep", "0.3"};
  int ticks = 0;
  opts.on_tick = [&ticks](process_options::clock::time_point) { ++ticks; };
  auto r = run_process(opts);
  CHECK(r.how == process_end::exited);
  CHECK(ticks >= 4);
}

TEST_CASE("the spawn callback gets the group id before any output",
          "[process]") {
  process_options opts;
  opts.argv = {"/bin/sh", "-c", "echo $$"};
  std::vector<std::string> calls;
  opts.on_spawned = [&calls](pid_t pgid) {
    calls.push_back(std::to_string(pgid) + "\n");
  };
  opts.on_output = [&calls](std::string_view bytes,
                            process_options::clock::time_point) {
    calls.emplace_back(bytes);
  };
  auto r = run_process(opts);
  CHECK(r.how == process_end::exited);
  CHECK_FALSE(r.group_survived);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == calls[1]);
}

TEST_CASE("a spawn callback that throws gets the group killed", "[process]") {
  process_options opts;
  opts.argv = {"sleep", "1000"};
  pid_t seen = 0;
  opts.on_spawned = [&seen](pid_t pgid) {
    seen = pgid;
    throw std::runtime_error("cannot record");
  };
  CHECK_THROWS_AS(run_process(opts), std::runtime_error);
  REQUIRE(seen > 0);
  CHECK(test::pid_gone(seen));
}
