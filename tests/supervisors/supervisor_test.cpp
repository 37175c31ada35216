#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/error.hpp"
#include "supervisors/supervisor.hpp"

using namespace conveyor;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

/// Records the order in which children start and stop.
struct journal {
  std::mutex mtx;
  std::vector<std::string> events;

  void add(std::string x) {
    std::lock_guard<std::mutex> guard{mtx};
    events.push_back(std::move(x));
  }

  // CAF runs an actor's attached functors newest first, so the news that a
  // child stopped can overtake the functor that logs it: wait for the entry.
  std::vector<std::string> get(size_t expected = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      {
        std::lock_guard<std::mutex> guard{mtx};
        if (events.size() >= expected
            || std::chrono::steady_clock::now() > deadline)
          return events;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
};

// A child that fails (or, on `done`, ends normally) on request; `stubborn` ones ignore exit requests. A
// child logs its stop itself before it quits, so the entry is written before
// its supervisor hears of it; a killed one can only be logged afterwards.
child_spec child(std::string id, std::shared_ptr<journal> log,
                 bool stubborn = false) {
  return {id, [id, log, stubborn](caf::actor_system& sys)
                -> caf::expected<caf::actor> {
            log->add("start " + id);
            auto handle = sys.spawn([id, log, stubborn](
                                      caf::event_based_actor* self)
                                      -> caf::behavior {
              self->set_exit_handler(
                [self, id, log, stubborn](const caf::exit_msg& msg) {
                  if (stubborn)
                    return;
                  log->add("stop " + id);
                  self->quit(msg.reason);
                });
              return {
                [self, id, log](fail_atom) {
                  log->add("stop " + id);
                  self->quit(make_error(errc::store_failure, "boom"));
                },
                [self, id, log](done_atom) {
                  log->add("stop " + id);
                  self->quit();
                },
              };
            });
            if (stubborn)
              handle->attach_functor([id, log] { log->add("stop " + id); });
            return handle;
          }};
}

child_spec with(child_spec spec, restart_type restart) {
  spec.restart = restart;
  return spec;
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<journal> log = std::make_shared<journal>();

  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  /// Asks `sup` for the current handle of child `id`.
  caf::expected<caf::actor> lookup(const caf::actor& sup, const std::string& id) {
    caf::scoped_actor self{*sys};
    caf::expected<caf::actor> result{caf::actor{}};
    self->request(sup, std::chrono::seconds(5), caf::get_atom::value, id)
      .receive([&result](const caf::actor& x) { result = x; },
               [&result](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Waits until child `id` runs with a handle other than `old`.
  caf::actor restarted(const caf::actor& sup, const std::string& id,
                       const caf::actor& old) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto x = lookup(sup, id);
      if (x && *x && *x != old)
        return *x;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return {};
  }

  /// Waits until the supervisor reports child `id` as not running.
  bool not_running(const caf::actor& sup, const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!lookup(sup, id))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  /// Stops `sup` and waits for it.
  void shutdown(const caf::actor& sup) {
    caf::scoped_actor self{*sys};
    self->send_exit(sup, caf::exit_reason::user_shutdown);
    self->wait_for(sup);
  }
};

supervisor_config restarting(restart_strategy strategy, size_t max_restarts = 5) {
  supervisor_config cfg;
  cfg.name = "test";
  cfg.strategy = strategy;
  cfg.max_restarts = max_restarts;
  cfg.max_seconds = std::chrono::seconds(10);
  return cfg;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE_METHOD(fixture, "children start in order and stop in reverse order") {
  auto sup = start_supervisor(*sys, {},
                              {child("a", log), child("b", log), child("c", log)});
  REQUIRE(sup);
  CHECK(log->get(3) == strings{"start a", "start b", "start c"});
  caf::scoped_actor self{*sys};
  self->send_exit(*sup, caf::exit_reason::user_shutdown);
  self->wait_for(*sup);
  CHECK(log->get(6)
        == strings{"start a", "start b", "start c", "stop c", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "a failing child stops the others and escalates") {
  caf::actor middle;
  auto spec = child("b", log);
  auto keep_handle = [&middle, spec](caf::actor_system& s)
    -> caf::expected<caf::actor> {
    auto handle = spec.start(s);
    if (handle)
      middle = *handle;
    return handle;
  };
  auto sup = start_supervisor(*sys, {},
                              {child("a", log), {"b", keep_handle},
                               child("c", log)});
  REQUIRE(sup);
  caf::scoped_actor self{*sys};
  self->monitor(*sup);
  self->send(middle, fail_atom::value);
  caf::error reason;
  self->receive([&](const caf::down_msg& msg) { reason = msg.reason; });
  CHECK(describe(reason) == "boom");
  CHECK(log->get(6)
        == strings{"start a", "start b", "start c", "stop b", "stop c", "stop a"});
}

TEST_CASE_METHOD(fixture, "a child that fails to start stops those before it") {
  child_spec broken{"broken", [](caf::actor_system&) -> caf::expected<caf::actor> {
                      return make_error(errc::store_failure, "cannot open");
                    }};
  auto sup = start_supervisor(*sys, {}, {child("a", log), child("b", log), broken});
  REQUIRE_FALSE(sup);
  CHECK(describe(sup.error()) == "cannot open");
  CHECK(log->get(4) == strings{"start a", "start b", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "a child that does not stop in time is killed") {
  supervisor_config cfg;
  cfg.shutdown_timeout = std::chrono::milliseconds(100);
  auto sup = start_supervisor(*sys, cfg,
                              {child("a", log), child("stubborn", log, true)});
  REQUIRE(sup);
  caf::scoped_actor self{*sys};
  self->send_exit(*sup, caf::exit_reason::user_shutdown);
  self->wait_for(*sup);
  // The kill is logged after the fact, so only the set of entries is sure.
  auto entries = log->get(4);
  std::sort(entries.begin(), entries.end());
  CHECK(entries
        == strings{"start a", "start stubborn", "stop a", "stop stubborn"});
}

TEST_CASE_METHOD(fixture, "one_for_one restarts only the failed child") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::one_for_one),
                              {child("a", log), child("b", log), child("c", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  auto b = lookup(*sup, "b");
  auto c = lookup(*sup, "c");
  REQUIRE((a && b && c));
  caf::anon_send(*b, fail_atom::value);
  auto new_b = restarted(*sup, "b", *b);
  CHECK(new_b);
  CHECK(lookup(*sup, "a") == a);
  CHECK(lookup(*sup, "c") == c);
  CHECK(log->get(5)
        == strings{"start a", "start b", "start c", "stop b", "start b"});
  shutdown(*sup);
  CHECK(log->get(8)
        == strings{"start a", "start b", "start c", "stop b", "start b",
                   "stop c", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "one_for_all stops the others in reverse order and "
                          "restarts all in order") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::one_for_all),
                              {child("a", log), child("b", log), child("c", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  auto b = lookup(*sup, "b");
  REQUIRE((a && b));
  caf::anon_send(*b, fail_atom::value);
  CHECK(restarted(*sup, "b", *b));
  CHECK(log->get(9)
        == strings{"start a", "start b", "start c", "stop b", "stop c",
                   "stop a", "start a", "start b", "start c"});
  auto new_a = lookup(*sup, "a");
  REQUIRE(new_a);
  CHECK(*new_a != *a);
  shutdown(*sup);
  CHECK(log->get(12).size() == 12);
}

TEST_CASE_METHOD(fixture, "rest_for_one restarts the failed child and those "
                          "after it") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::rest_for_one),
                              {child("a", log), child("b", log), child("c", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  auto b = lookup(*sup, "b");
  auto c = lookup(*sup, "c");
  REQUIRE((a && b && c));
  caf::anon_send(*b, fail_atom::value);
  CHECK(restarted(*sup, "b", *b));
  CHECK(log->get(7)
        == strings{"start a", "start b", "start c", "stop b", "stop c",
                   "start b", "start c"});
  CHECK(lookup(*sup, "a") == a);
  auto new_c = lookup(*sup, "c");
  REQUIRE(new_c);
  CHECK(*new_c != *c);
  shutdown(*sup);
}

TEST_CASE_METHOD(fixture, "restart types decide which exits are restarted") {
  auto sup = start_supervisor(
    *sys, restarting(restart_strategy::one_for_one, 10),
    {with(child("p", log), restart_type::permanent),
     with(child("t1", log), restart_type::transient),
     with(child("t2", log), restart_type::transient),
     with(child("x", log), restart_type::temporary)});
  REQUIRE(sup);
  // permanent: restarted even after a normal exit
  auto p = lookup(*sup, "p");
  REQUIRE(p);
  caf::anon_send(*p, done_atom::value);
  CHECK(restarted(*sup, "p", *p));
  // transient: restarted after an abnormal exit only
  auto t2 = lookup(*sup, "t2");
  REQUIRE(t2);
  caf::anon_send(*t2, fail_atom::value);
  CHECK(restarted(*sup, "t2", *t2));
  auto t1 = lookup(*sup, "t1");
  REQUIRE(t1);
  caf::anon_send(*t1, done_atom::value);
  CHECK(not_running(*sup, "t1"));
  // temporary: never restarted
  auto x = lookup(*sup, "x");
  REQUIRE(x);
  caf::anon_send(*x, fail_atom::value);
  CHECK(not_running(*sup, "x"));
  CHECK(log->get(10)
        == strings{"start p", "start t1", "start t2", "start x", "stop p",
                   "start p", "stop t2", "start t2", "stop t1", "stop x"});
  shutdown(*sup);
  CHECK(log->get(12).size() == 12);
  CHECK(log->get(12).back() == "stop p");
}

TEST_CASE_METHOD(fixture, "more restarts than allowed escalate") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::one_for_one, 2),
                              {child("a", log), child("b", log), child("c", log)});
  REQUIRE(sup);
  caf::scoped_actor self{*sys};
  self->monitor(*sup);
  for (int i = 0; i < 2; ++i) {
    auto b = lookup(*sup, "b");
    REQUIRE(b);
    caf::anon_send(*b, fail_atom::value);
    REQUIRE(restarted(*sup, "b", *b));
  }
  auto b = lookup(*sup, "b");
  REQUIRE(b);
  caf::anon_send(*b, fail_atom::value);
  caf::error reason;
  self->receive([&reason](const caf::down_msg& msg) { reason = msg.reason; });
  CHECK(describe(reason) == "boom");
  CHECK(log->get(10)
        == strings{"start a", "start b", "start c", "stop b", "start b",
                   "stop b", "start b", "stop b", "stop c", "stop a"});
}

TEST_CASE_METHOD(fixture, "a permanent child ending normally escalates "
                          "abnormally without restarts") {
  auto sup = start_supervisor(*sys, {}, {child("a", log), child("b", log)});
  REQUIRE(sup);
  caf::scoped_actor self{*sys};
  self->monitor(*sup);
  auto b = lookup(*sup, "b");
  REQUIRE(b);
  caf::anon_send(*b, done_atom::value);
  caf::error reason;
  self->receive([&reason](const caf::down_msg& msg) { reason = msg.reason; });
  CHECK(reason);
  CHECK(reason != caf::exit_reason::normal);
  CHECK(log->get(4) == strings{"start a", "start b", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "a child's own shutdown timeout overrides the "
                          "supervisor's") {
  supervisor_config cfg;
  cfg.shutdown_timeout = std::chrono::seconds(30);
  auto stubborn = child("stubborn", log, true);
  stubborn.shutdown = std::chrono::milliseconds(50);
  auto brutal = child("brutal", log, true);
  brutal.shutdown = std::chrono::milliseconds(0);
  auto sup = start_supervisor(*sys, cfg, {stubborn, brutal});
  REQUIRE(sup);
  auto t0 = std::chrono::steady_clock::now();
  shutdown(*sup);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  auto entries = log->get(4);
  std::sort(entries.begin(), entries.end());
  CHECK(entries
        == strings{"start brutal", "start stubborn", "stop brutal",
                   "stop stubborn"});
}

TEST_CASE_METHOD(fixture, "backoff delays restarts, doubling each time") {
  auto cfg = restarting(restart_strategy::one_for_one);
  cfg.backoff_initial = std::chrono::milliseconds(100);
  cfg.backoff_max = std::chrono::milliseconds(1000);
  auto sup = start_supervisor(*sys, cfg, {child("a", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  REQUIRE(a);
  auto t0 = std::chrono::steady_clock::now();
  caf::anon_send(*a, fail_atom::value);
  CHECK(not_running(*sup, "a")); // waiting for its backoff
  auto a2 = restarted(*sup, "a", *a);
  REQUIRE(a2);
  auto t1 = std::chrono::steady_clock::now();
  CHECK(t1 - t0 >= std::chrono::milliseconds(100));
  caf::anon_send(a2, fail_atom::value);
  REQUIRE(restarted(*sup, "a", a2));
  CHECK(std::chrono::steady_clock::now() - t1 >= std::chrono::milliseconds(200));
  shutdown(*sup);
}

TEST_CASE_METHOD(fixture, "stopping during a backoff cancels the restart") {
  auto cfg = restarting(restart_strategy::rest_for_one);
  cfg.backoff_initial = std::chrono::seconds(10);
  auto sup = start_supervisor(*sys, cfg, {child("a", log), child("b", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  REQUIRE(a);
  caf::anon_send(*a, fail_atom::value);
  CHECK(log->get(4) == strings{"start a", "start b", "stop a", "stop b"});
  CHECK(not_running(*sup, "b"));
  auto t0 = std::chrono::steady_clock::now();
  shutdown(*sup);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(log->get().size() == 4);
}

TEST_CASE_METHOD(fixture, "the lookup answers the current handle or an error") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::one_for_one),
                              {child("a", log)});
  REQUIRE(sup);
  auto unknown = lookup(*sup, "nope");
  REQUIRE_FALSE(unknown);
  CHECK(describe(unknown.error()) == "supervisor test has no child nope");
  auto a = lookup(*sup, "a");
  REQUIRE(a);
  caf::anon_send(*a, fail_atom::value);
  auto a2 = restarted(*sup, "a", *a);
  REQUIRE(a2);
  CHECK(lookup(*sup, "a") == a2);
  shutdown(*sup);
}

TEST_CASE_METHOD(fixture, "a temporary sibling stopped by a group restart is "
                          "not restarted") {
  auto sup = start_supervisor(*sys, restarting(restart_strategy::one_for_all),
                              {child("a", log),
                               with(child("x", log), restart_type::temporary),
                               child("b", log)});
  REQUIRE(sup);
  auto a = lookup(*sup, "a");
  REQUIRE(a);
  caf::anon_send(*a, fail_atom::value);
  CHECK(restarted(*sup, "a", *a));
  CHECK(log->get(8)
        == strings{"start a", "start x", "start b", "stop a", "stop b",
                   "stop x", "start a", "start b"});
  CHECK(not_running(*sup, "x"));
  shutdown(*sup);
}
