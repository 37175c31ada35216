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

// A child that fails on request; `stubborn` ones ignore exit requests. A
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
              };
            });
            if (stubborn)
              handle->attach_functor([id, log] { log->add("stop " + id); });
            return handle;
          }};
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<journal> log = std::make_shared<journal>();

  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

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
