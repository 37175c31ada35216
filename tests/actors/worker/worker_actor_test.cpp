#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/worker/worker_actor.hpp"
#include "messages/type_ids.hpp"
#include "test_support.hpp"

using namespace conveyor;
using namespace std::chrono_literals;

namespace {

using event = std::variant<job_state_changed, log_part>;

// What the fake core received, readable from the test thread.
struct recorder {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<event> events;

  void add(event x) {
    std::lock_guard<std::mutex> guard{mtx};
    events.push_back(std::move(x));
    cv.notify_all();
  }

  // Waits until `n` terminal job events arrived; returns a copy of all.
  std::vector<event> wait_terminal(size_t n, std::chrono::seconds limit = 10s) {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait_for(guard, limit, [this, n] { return terminal_count() >= n; });
    return events;
  }

  size_t terminal_count() const {
    size_t result = 0;
    for (const auto& x : events)
      if (auto ev = std::get_if<job_state_changed>(&x))
        result += is_terminal(ev->state) ? 1 : 0;
    return result;
  }
};

// Stands for the scheduler and the log sequencer at once, so that one mailbox
// shows the order in which the worker sent its messages. Untyped and cast to
// both interfaces: it handles only what a worker sends, so it need not change
// each time those interfaces grow.
caf::behavior fake(caf::event_based_actor*, std::shared_ptr<recorder> rec) {
  return {
    [rec](const job_state_changed& x) {
      rec->add(x);
      return true;
    },
    [rec](const log_part& x) {
      rec->add(x);
      return true;
    },
  };
}

std::vector<job_state_changed> states_of(const std::vector<event>& xs,
                                         int64_t job_id) {
  std::vector<job_state_changed> result;
  for (const auto& x : xs)
    if (auto ev = std::get_if<job_state_changed>(&x); ev && ev->job_id == job_id)
      result.push_back(*ev);
  return result;
}

std::vector<log_part> parts_of(const std::vector<event>& xs, int64_t job_id) {
  std::vector<log_part> result;
  for (const auto& x : xs)
    if (auto p = std::get_if<log_part>(&x); p && p->job_id == job_id)
      result.push_back(*p);
  return result;
}

struct fixture {
  test::temp_dir tmp;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<recorder> rec = std::make_shared<recorder>();
  caf::actor core;
  worker_actor worker;

  fixture() {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    core = sys->spawn(fake, rec);
    worker = spawn(config());
  }

  worker_config config() const {
    worker_config wc;
    wc.name = "worker-test";
    wc.workspace_root = tmp.path() / "ws";
    wc.kill_grace = 500ms;
    return wc;
  }

  worker_actor spawn(worker_config wc) {
    return spawn_worker(*sys, std::move(wc),
                        caf::actor_cast<scheduler_actor>(core),
                        caf::actor_cast<log_sequencer_actor>(core));
  }

  ~fixture() {
    caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(core, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  static job_spec job(int64_t id, std::vector<std::string> script) {
    job_spec spec;
    spec.job_id = id;
    spec.build_id = 1;
    spec.build_number = 1;
    spec.index = static_cast<int32_t>(id);
    spec.request_id = "req-" + std::to_string(id);
    spec.phases.script = std::move(script);
    return spec;
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "the worker reports received, started, passed "
                          "after every part",
                 "[worker_actor]") {
  caf::anon_send(worker, run_atom::value,
                 job(1, {"for i in 1 2 3; do echo line $i; sleep 0.1; done",
                         "head -c 20000 /dev/zero | tr '\\0' x"}));
  auto events = rec->wait_terminal(1);
  auto states = states_of(events, 1);
  REQUIRE(states.size() == 3);
  CHECK(states[0].state == job_state::received);
  CHECK(states[1].state == job_state::started);
  CHECK(states[2].state == job_state::passed);
  CHECK(states[2].exit_code == 0);
  CHECK(states[0].attempt == 1);
  CHECK(states[2].at_ms >= states[0].at_ms);
  CHECK(states[0].at_ms > 1600000000000);
  auto parts = parts_of(events, 1);
  REQUIRE(parts.size() >= 3);
  for (size_t i = 0; i < parts.size(); ++i) {
    CHECK(parts[i].number == static_cast<int32_t>(i));
    CHECK(parts[i].final == (i + 1 == parts.size()));
  }
  // Every part, the final one included, came before the terminal event.
  CHECK(std::holds_alternative<job_state_changed>(events.back()));
  auto log = test::joined(parts);
  CHECK(log.find("line 3\n") != std::string::npos);
  CHECK(test::last_line(log) == "Done. Your build exited with 0.");
}

TEST_CASE_METHOD(fixture, "a busy worker refuses, ignores a duplicate, and a "
                          "cancel stops the job",
                 "[worker_actor]") {
  caf::anon_send(worker, run_atom::value, job(1, {"echo go; sleep 1000"}));
  caf::anon_send(worker, run_atom::value, job(2, {"true"}));
  caf::anon_send(worker, run_atom::value, job(1, {"echo go; sleep 1000"}));
  std::this_thread::sleep_for(200ms);
  caf::anon_send(worker, cancel_atom::value, int64_t{1}, int32_t{2});
  caf::anon_send(worker, cancel_atom::value, int64_t{1}, int32_t{1});
  auto events = rec->wait_terminal(2);
  auto busy = states_of(events, 2);
  REQUIRE(busy.size() == 1);
  CHECK(busy[0].state == job_state::errored);
  CHECK(busy[0].reason == "worker busy");
  auto first = states_of(events, 1);
  REQUIRE(first.size() == 3);
  CHECK(first[2].state == job_state::canceled);
  CHECK(first[2].reason == "canceled");
  auto parts = parts_of(events, 1);
  REQUIRE_FALSE(parts.empty());
  CHECK(parts.back().final);
  CHECK(test::last_line(test::joined(parts)) == "Done. The job was canceled.");
  // Free again once the attempt is over.
  caf::anon_send(worker, run_atom::value, job(3, {"true"}));
  events = rec->wait_terminal(3);
  auto third = states_of(events, 3);
  REQUIRE(third.size() == 3);
  CHECK(third[2].state == job_state::passed);
}

TEST_CASE_METHOD(fixture, "a terminating worker stops its job first",
                 "[worker_actor]") {
  auto pidfile = tmp.path() / "shell.pid";
  caf::anon_send(worker, run_atom::value,
                 job(1, {"echo $$ > '" + pidfile.string() + "'; sleep 1000"}));
  auto pid = test::wait_for_pid(pidfile);
  REQUIRE(pid > 0);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  auto events = rec->wait_terminal(1);
  auto states = states_of(events, 1);
  REQUIRE(states.size() == 3);
  CHECK(states[2].state == job_state::canceled);
  CHECK(states[2].reason == "worker stopped");
  CHECK(test::pid_gone(pid));
  CHECK(parts_of(events, 1).back().final);
}

namespace {

// What one job's messages were, in the order the fake core received them.
std::vector<std::string> trace_of(const std::vector<event>& xs,
                                  int64_t job_id) {
  std::vector<std::string> result;
  for (const auto& x : xs) {
    if (auto ev = std::get_if<job_state_changed>(&x); ev && ev->job_id == job_id)
      result.push_back(to_string(ev->state));
    else if (auto p = std::get_if<log_part>(&x); p && p->job_id == job_id)
      result.push_back("part");
  }
  return result;
}

} // namespace

TEST_CASE_METHOD(fixture, "a no-op worker runs nothing and passes every job "
                          "at once",
                 "[worker_actor]") {
  auto wc = config();
  wc.name = "worker-noop";
  wc.workspace_root = tmp.path() / "noop-ws";
  wc.noop_executor = true;
  auto noop = spawn(wc);
  constexpr int64_t jobs = 50;
  // A script that would fail, and runs back to back on one slot: neither
  // matters when nothing runs.
  for (int64_t id = 1; id <= jobs; ++id)
    caf::anon_send(noop, run_atom::value,
                   job(id, {"exit 1", "echo never > '"
                                        + (tmp.path() / "ran").string()
                                        + "'"}));
  auto events = rec->wait_terminal(jobs);
  caf::anon_send_exit(noop, caf::exit_reason::user_shutdown);
  for (int64_t id = 1; id <= jobs; ++id) {
    INFO("job " << id);
    CHECK(trace_of(events, id)
          == std::vector<std::string>{"received", "started", "part",
                                      "passed"});
    auto states = states_of(events, id);
    REQUIRE(states.size() == 3);
    CHECK(states[2].exit_code == 0);
    CHECK(states[2].reason.empty());
    CHECK(states[2].attempt == 1);
    auto parts = parts_of(events, id);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].number == 0);
    CHECK(parts[0].attempt == 1);
    CHECK(parts[0].final);
    CHECK(parts[0].content == "Done. Your build exited with 0.\n");
  }
  CHECK_FALSE(std::filesystem::exists(wc.workspace_root));
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "ran"));
}
