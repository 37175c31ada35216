// The generic supervisor on CAF's deterministic test scheduler: every job runs
// on this thread when the test says so, and time only passes when the test
// advances the simulated clock (backoff, shutdown timeouts, the intensity
// window). No sleeps, no threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "messages/atoms.hpp"
#include "messages/error.hpp"
#include "messages/supervision.hpp"
#include "messages/type_ids.hpp"
#include "supervisors/front.hpp"
#include "supervisors/supervisor.hpp"

using namespace conveyor;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

using strings = std::vector<std::string>;

/// What the children of a test did, in order; everything runs on the test's
/// thread, so no lock is needed.
struct world {
  strings events;
  std::map<std::string, int> incarnations;
  std::vector<caf::actor> spawned;

  /// The events from index `from` on.
  strings since(size_t from) const {
    return strings(events.begin() + static_cast<std::ptrdiff_t>(from),
                   events.end());
  }

  size_t count(const std::string& x) const {
    return static_cast<size_t>(std::count(events.begin(), events.end(), x));
  }
};

using world_ptr = std::shared_ptr<world>;

/// A child whose incarnations are called "<id>#<n>". It logs "start <id>" in
/// its factory and "stop <id>" when it ends, however it ends. It fails on
/// `fail` (with errc::store_failure "boom"), ends normally on `done`, throws
/// on `crash`, answers a string `s` with "<id>#<n>:<s>" and logs every int it
/// gets. A stubborn child ignores exit requests: only a kill ends it.
child_spec child(world_ptr w, std::string id,
                 restart_type restart = restart_type::permanent,
                 bool stubborn = false) {
  child_spec spec;
  spec.id = id;
  spec.restart = restart;
  spec.start = [w, id, stubborn](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    auto name = id + "#" + std::to_string(++w->incarnations[id]);
    w->events.push_back("start " + id);
    auto handle = sys.spawn([w, name, stubborn](caf::event_based_actor* self)
                              -> caf::behavior {
      self->set_exit_handler([self, stubborn](const caf::exit_msg& msg) {
        if (!stubborn)
          self->quit(msg.reason);
      });
      return {
        [self](fail_atom) {
          self->quit(make_error(errc::store_failure, "boom"));
        },
        [self](done_atom) { self->quit(); },
        [name](crash_atom) -> void {
          throw std::runtime_error("crash in " + name);
        },
        [w, name](const std::string& s) {
          w->events.push_back(name + " asked " + s);
          return name + ":" + s;
        },
        [w, name](int x) {
          w->events.push_back(name + " got " + std::to_string(x));
        },
      };
    });
    handle->attach_functor([w, id] { w->events.push_back("stop " + id); });
    w->spawned.push_back(handle);
    return handle;
  };
  return spec;
}

child_spec stubborn_child(world_ptr w, std::string id,
                          std::optional<milliseconds> shutdown) {
  auto spec = child(std::move(w), std::move(id), restart_type::permanent, true);
  spec.shutdown = shutdown;
  return spec;
}

supervisor_config config(restart_strategy strategy, size_t max_restarts = 10,
                         std::string name = "sup") {
  supervisor_config cfg;
  cfg.name = std::move(name);
  cfg.strategy = strategy;
  cfg.max_restarts = max_restarts;
  cfg.max_seconds = std::chrono::seconds(10);
  return cfg;
}

/// A child that is a supervisor itself.
child_spec nested(std::string id, supervisor_config cfg,
                  std::vector<child_spec> children) {
  child_spec spec;
  spec.id = std::move(id);
  spec.supervisor = true;
  spec.start = [cfg, children](caf::actor_system& sys) {
    return start_supervisor(sys, cfg, children);
  };
  return spec;
}

bool is(const caf::error& err, errc code) {
  return err.category() == errc_category
         && err.code() == static_cast<uint8_t>(code);
}

template <class T>
using answer = std::shared_ptr<std::optional<caf::expected<T>>>;

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  world_ptr w = std::make_shared<world>();
  std::vector<caf::actor> tracked; ///< killed when the test ends

  fixture() {
    spdlog::set_level(spdlog::level::off);
    register_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    // Never block the test thread on actors that this thread would run.
    sys->await_actors_before_shutdown(false);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~fixture() {
    for (auto& x : w->spawned)
      caf::anon_send_exit(x, caf::exit_reason::kill);
    for (auto& x : tracked)
      caf::anon_send_exit(x, caf::exit_reason::kill);
    sched->run();
    sched->clock().cancel_all();
    sched->run();
    w->spawned.clear();
    tracked.clear();
  }

  void run() {
    sched->run();
  }

  /// Lets `d` of simulated time pass, then runs what became due.
  void advance(caf::timespan d) {
    sched->clock().advance_time(d);
    run();
  }

  /// How long until the next timer (delayed message or timeout) is due.
  std::optional<milliseconds> next_timer() const {
    const auto& clock = sched->clock();
    const auto& schedule = clock.schedule();
    if (schedule.empty())
      return std::nullopt;
    return std::chrono::duration_cast<milliseconds>(schedule.begin()->first
                                                    - clock.current_time);
  }

  /// How long until each pending timer is due, soonest first.
  std::vector<milliseconds> timers() const {
    const auto& clock = sched->clock();
    std::vector<milliseconds> result;
    for (auto& entry : clock.schedule())
      result.push_back(std::chrono::duration_cast<milliseconds>(
        entry.first - clock.current_time));
    return result;
  }

  caf::actor start(supervisor_config c, std::vector<child_spec> children) {
    auto sup = start_supervisor(*sys, std::move(c), std::move(children));
    REQUIRE(sup);
    tracked.push_back(*sup);
    run();
    return *sup;
  }

  caf::actor track(caf::actor x) {
    tracked.push_back(x);
    return x;
  }

  /// Sends a request from a fresh actor; the answer shows up once the
  /// scheduler has run what it takes.
  template <class T, class... Ts>
  answer<T> ask_later(caf::actor dest, Ts... xs) {
    auto res = std::make_shared<std::optional<caf::expected<T>>>();
    auto asker = sys->spawn([res, dest, xs...](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, xs...)
        .then([res](T& x) { *res = caf::expected<T>{std::move(x)}; },
              [res](caf::error& err) { *res = caf::expected<T>{std::move(err)}; });
    });
    tracked.push_back(asker);
    return res;
  }

  template <class T, class... Ts>
  caf::expected<T> ask(caf::actor dest, Ts... xs) {
    auto res = ask_later<T>(std::move(dest), std::move(xs)...);
    run();
    REQUIRE(res->has_value());
    return std::move(**res);
  }

  /// The current handle of child `id`, or the supervisor's error.
  caf::expected<caf::actor> get(const caf::actor& sup, const std::string& id) {
    return ask<caf::actor>(sup, caf::get_atom::value, id);
  }

  /// The handle of a running child; fails the test otherwise.
  caf::actor running(const caf::actor& sup, const std::string& id) {
    auto x = get(sup, id);
    REQUIRE(x);
    REQUIRE(*x);
    return *x;
  }

  supervision_report report(const caf::actor& sup) {
    auto x = ask<supervision_report>(sup, fetch_atom::value,
                                     status_atom::value);
    REQUIRE(x);
    return *x;
  }

  /// Where the down message of `x`'s exit is kept, once it came.
  std::shared_ptr<std::optional<caf::error>> watch(const caf::actor& x) {
    auto res = std::make_shared<std::optional<caf::error>>();
    tracked.push_back(
      sys->spawn([res, x](caf::event_based_actor* self) -> caf::behavior {
        self->set_down_handler([self, res](const caf::down_msg& msg) {
          *res = msg.reason;
          self->quit();
        });
        self->monitor(x);
        return {[](int) {}};
      }));
    return res;
  }

  void fail(const caf::actor& sup, const std::string& id) {
    caf::anon_send(running(sup, id), fail_atom::value);
    run();
  }

  void stop(const caf::actor& sup) {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    run();
  }
};

const supervised_child* find_row(const supervision_report& rows,
                                 const std::string& path) {
  for (auto& row : rows)
    if (row.path == path)
      return &row;
  return nullptr;
}

strings paths(const supervision_report& rows) {
  strings result;
  for (auto& row : rows)
    result.push_back(row.path);
  return result;
}

} // namespace

// -- start and stop order ------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: children start in order and stop in reverse "
                          "order") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "a"), child(w, "b"), child(w, "c")});
  CHECK(w->events == strings{"start a", "start b", "start c"});
  auto down = watch(sup);
  run();
  CHECK_FALSE(down->has_value());
  stop(sup);
  CHECK(w->events
        == strings{"start a", "start b", "start c", "stop c", "stop b",
                   "stop a"});
  REQUIRE(down->has_value());
  CHECK(**down == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "det: a stubborn child is killed only after its own "
                          "shutdown timeout") {
  auto cfg = config(restart_strategy::one_for_one);
  cfg.shutdown_timeout = 30s;
  auto sup = start(cfg, {child(w, "a"), stubborn_child(w, "s", 100ms)});
  auto down = watch(sup);
  stop(sup);
  // s is asked first and ignores it; a waits for s.
  CHECK(w->events == strings{"start a", "start s"});
  CHECK(next_timer() == milliseconds{100});
  advance(99ms);
  CHECK(w->events == strings{"start a", "start s"});
  CHECK_FALSE(down->has_value());
  advance(1ms);
  CHECK(w->events == strings{"start a", "start s", "stop s", "stop a"});
  REQUIRE(down->has_value());
  CHECK(**down == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "det: the supervisor's shutdown timeout applies to "
                          "children without one and zero kills at once") {
  auto cfg = config(restart_strategy::one_for_one);
  cfg.shutdown_timeout = 500ms;
  auto sup = start(cfg, {stubborn_child(w, "s", std::nullopt),
                         stubborn_child(w, "k", 0ms)});
  auto down = watch(sup);
  stop(sup);
  // k is killed without waiting; then s gets the supervisor's 500 ms.
  CHECK(w->events == strings{"start s", "start k", "stop k"});
  advance(499ms);
  CHECK(w->events == strings{"start s", "start k", "stop k"});
  CHECK_FALSE(down->has_value());
  advance(1ms);
  CHECK(w->events == strings{"start s", "start k", "stop k", "stop s"});
  REQUIRE(down->has_value());
  CHECK(**down == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "det: a stubborn sibling is killed after its "
                          "timeout during a group restart") {
  auto sup = start(config(restart_strategy::one_for_all),
                   {stubborn_child(w, "s", 100ms), child(w, "a")});
  fail(sup, "a");
  CHECK(w->events == strings{"start s", "start a", "stop a"});
  advance(99ms);
  CHECK(w->events == strings{"start s", "start a", "stop a"});
  advance(1ms);
  CHECK(w->events
        == strings{"start s", "start a", "stop a", "stop s", "start s",
                   "start a"});
  running(sup, "s");
  running(sup, "a");
}

// -- strategies --------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: one_for_one restarts only the failed child") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "a"), child(w, "b"), child(w, "c")});
  auto a = running(sup, "a");
  auto b = running(sup, "b");
  auto c = running(sup, "c");
  fail(sup, "b");
  CHECK(w->events
        == strings{"start a", "start b", "start c", "stop b", "start b"});
  CHECK(running(sup, "a") == a);
  CHECK(running(sup, "b") != b);
  CHECK(running(sup, "c") == c);
}

TEST_CASE_METHOD(fixture, "det: one_for_all stops the others in reverse order "
                          "and restarts all in order") {
  auto sup = start(config(restart_strategy::one_for_all),
                   {child(w, "a"), child(w, "b"), child(w, "c"),
                    child(w, "d")});
  strings ids{"a", "b", "c", "d"};
  std::vector<caf::actor> before;
  for (auto& id : ids)
    before.push_back(running(sup, id));
  fail(sup, "b");
  CHECK(w->since(4)
        == strings{"stop b", "stop d", "stop c", "stop a", "start a",
                   "start b", "start c", "start d"});
  for (size_t i = 0; i < ids.size(); ++i)
    CHECK(running(sup, ids[i]) != before[i]);
}

TEST_CASE_METHOD(fixture, "det: rest_for_one restarts the failed child and "
                          "those after it") {
  auto sup = start(config(restart_strategy::rest_for_one),
                   {child(w, "a"), child(w, "b"), child(w, "c"),
                    child(w, "d")});
  auto a = running(sup, "a");
  auto c = running(sup, "c");
  fail(sup, "b");
  CHECK(w->since(4)
        == strings{"stop b", "stop d", "stop c", "start b", "start c",
                   "start d"});
  CHECK(running(sup, "a") == a);
  CHECK(running(sup, "c") != c);
  // The last child has nobody after it.
  fail(sup, "d");
  CHECK(w->since(10) == strings{"stop d", "start d"});
}

// -- restart types -------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: a permanent child is restarted after a normal "
                          "and an abnormal exit") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "p", restart_type::permanent)});
  caf::anon_send(running(sup, "p"), done_atom::value);
  run();
  CHECK(w->events == strings{"start p", "stop p", "start p"});
  fail(sup, "p");
  CHECK(w->events
        == strings{"start p", "stop p", "start p", "stop p", "start p"});
  auto rows = report(sup);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].restarts == 2);
  CHECK(rows[0].state == "running");
}

TEST_CASE_METHOD(fixture, "det: a transient child is restarted after an "
                          "abnormal exit only") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "t", restart_type::transient), child(w, "a")});
  auto down = watch(sup);
  fail(sup, "t");
  CHECK(w->since(2) == strings{"stop t", "start t"});
  caf::anon_send(running(sup, "t"), done_atom::value);
  run();
  CHECK(w->since(2) == strings{"stop t", "start t", "stop t"});
  auto t = get(sup, "t");
  REQUIRE_FALSE(t);
  CHECK(is(t.error(), errc::unavailable));
  auto rows = report(sup);
  auto row = find_row(rows, "sup/t");
  REQUIRE(row);
  CHECK(row->state == "stopped");
  CHECK(row->restarts == 1);
  CHECK_FALSE(down->has_value());
}

TEST_CASE_METHOD(fixture, "det: a temporary child is never restarted") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "x", restart_type::temporary),
                    child(w, "y", restart_type::temporary), child(w, "a")});
  auto down = watch(sup);
  fail(sup, "x");
  caf::anon_send(running(sup, "y"), done_atom::value);
  run();
  CHECK(w->since(3) == strings{"stop x", "stop y"});
  CHECK_FALSE(get(sup, "x"));
  CHECK_FALSE(get(sup, "y"));
  auto rows = report(sup);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].state == "stopped");
  CHECK(rows[1].state == "stopped");
  CHECK(rows[0].restarts == 0);
  CHECK(rows[1].restarts == 0);
  CHECK_FALSE(down->has_value());
}

TEST_CASE_METHOD(fixture, "det: a temporary sibling stopped by a group restart "
                          "is not restarted") {
  auto sup = start(config(restart_strategy::one_for_all),
                   {child(w, "a"), child(w, "x", restart_type::temporary),
                    child(w, "b")});
  fail(sup, "a");
  CHECK(w->since(3)
        == strings{"stop a", "stop b", "stop x", "start a", "start b"});
  CHECK_FALSE(get(sup, "x"));
  running(sup, "a");
  running(sup, "b");
}

// -- restart intensity and escalation -----------------------------------------

TEST_CASE_METHOD(fixture, "det: more restarts than allowed within the window "
                          "escalate") {
  auto sup = start(config(restart_strategy::one_for_one, 2),
                   {child(w, "a"), child(w, "b"), child(w, "c")});
  auto down = watch(sup);
  fail(sup, "b");
  fail(sup, "b");
  CHECK_FALSE(down->has_value());
  CHECK(w->count("start b") == 3);
  fail(sup, "b");
  REQUIRE(down->has_value());
  CHECK(describe(**down) == "boom");
  CHECK(is(**down, errc::store_failure));
  // The third failure is not restarted; the others stop in reverse order.
  CHECK(w->since(7) == strings{"stop b", "stop c", "stop a"});
  CHECK(w->count("start b") == 3);
}

TEST_CASE_METHOD(fixture, "det: restarts spaced out beyond the window do not "
                          "escalate") {
  auto cfg = config(restart_strategy::one_for_one, 1);
  cfg.max_seconds = std::chrono::seconds(1);
  auto sup = start(cfg, {child(w, "a")});
  auto down = watch(sup);
  for (int i = 0; i < 5; ++i) {
    auto before = running(sup, "a");
    fail(sup, "a");
    CHECK(running(sup, "a") != before);
    advance(1s);
  }
  CHECK_FALSE(down->has_value());
  CHECK(w->count("start a") == 6);
  // Just inside the window, two restarts are one too many.
  fail(sup, "a");
  advance(999ms);
  CHECK_FALSE(down->has_value());
  fail(sup, "a");
  REQUIRE(down->has_value());
  CHECK(describe(**down) == "boom");
  CHECK(w->count("start a") == 7);
}

TEST_CASE_METHOD(fixture, "det: escalation stops the other children in reverse "
                          "order with the child's reason") {
  auto sup = start(config(restart_strategy::one_for_one, 0),
                   {child(w, "a"), child(w, "b"), child(w, "c"),
                    child(w, "d")});
  auto down = watch(sup);
  fail(sup, "c");
  CHECK(w->since(4) == strings{"stop c", "stop d", "stop b", "stop a"});
  REQUIRE(down->has_value());
  CHECK(is(**down, errc::store_failure));
  CHECK(describe(**down) == "boom");
}

TEST_CASE_METHOD(fixture, "det: a permanent child ending normally escalates "
                          "with an error") {
  auto sup = start(config(restart_strategy::one_for_one, 0),
                   {child(w, "a"), child(w, "b")});
  auto down = watch(sup);
  caf::anon_send(running(sup, "b"), done_atom::value);
  run();
  CHECK(w->since(2) == strings{"stop b", "stop a"});
  REQUIRE(down->has_value());
  CHECK(is(**down, errc::unavailable));
  CHECK(**down != caf::exit_reason::normal);
}

TEST_CASE_METHOD(fixture, "det: a nested supervisor that escalates is "
                          "restarted by its parent") {
  auto inner_cfg = config(restart_strategy::one_for_one, 0, "root/inner");
  auto root = start(config(restart_strategy::one_for_one, 5, "root"),
                    {child(w, "a"),
                     nested("inner", inner_cfg,
                            {child(w, "x"), child(w, "y")})});
  auto down = watch(root);
  auto inner = running(root, "inner");
  caf::anon_send(running(inner, "x"), fail_atom::value);
  run();
  CHECK(w->since(3)
        == strings{"stop x", "stop y", "start x", "start y"});
  CHECK(running(root, "inner") != inner);
  CHECK_FALSE(down->has_value());
  auto rows = report(root);
  auto row = find_row(rows, "root/inner");
  REQUIRE(row);
  CHECK(row->restarts == 1);
  CHECK_THAT(row->last_exit_reason, Catch::Contains("boom"));
}

TEST_CASE_METHOD(fixture, "det: a failing supervisor kills its children") {
  auto sup = start(config(restart_strategy::one_for_one),
                   {child(w, "a"), stubborn_child(w, "s", 1h)});
  auto down = watch(sup);
  caf::anon_send(sup, crash_atom::value);
  run();
  REQUIRE(down->has_value());
  CHECK(**down == caf::sec::runtime_error);
  auto stopped = w->since(2);
  std::sort(stopped.begin(), stopped.end());
  CHECK(stopped == strings{"stop a", "stop s"});
}

// -- backoff ---------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: backoff doubles the delay for each restart up "
                          "to the cap") {
  auto cfg = config(restart_strategy::one_for_one, 10);
  cfg.max_seconds = std::chrono::seconds(60);
  cfg.backoff_initial = 100ms;
  cfg.backoff_max = 300ms;
  auto sup = start(cfg, {child(w, "a")});
  for (auto delay : {100ms, 200ms, 300ms, 300ms}) {
    INFO("expected delay " << delay.count() << " ms");
    auto before = running(sup, "a");
    fail(sup, "a");
    auto a = get(sup, "a");
    REQUIRE_FALSE(a);
    CHECK(is(a.error(), errc::unavailable));
    auto rows = report(sup);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].state == "restarting");
    CHECK(next_timer() == milliseconds{delay});
    advance(delay - 1ms);
    CHECK_FALSE(get(sup, "a"));
    advance(1ms);
    CHECK(running(sup, "a") != before);
  }
  CHECK(w->count("start a") == 5);
}

TEST_CASE_METHOD(fixture, "det: backoff jitter keeps each delay within its "
                          "spread") {
  auto cfg = config(restart_strategy::one_for_one, 10);
  cfg.max_seconds = std::chrono::seconds(1);
  cfg.backoff_initial = 100ms;
  cfg.backoff_jitter = 0.5;
  auto sup = start(cfg, {child(w, "a")});
  std::set<milliseconds::rep> seen;
  for (int i = 0; i < 40; ++i) {
    auto before = running(sup, "a");
    fail(sup, "a");
    auto delay = next_timer();
    REQUIRE(delay);
    CHECK(*delay >= 50ms);
    CHECK(*delay <= 150ms);
    seen.insert(delay->count());
    // The restart comes exactly when the timer is due, not before.
    advance(*delay - 1ms);
    CHECK_FALSE(get(sup, "a"));
    advance(1ms);
    CHECK(running(sup, "a") != before);
    // Past the window: the next delay starts from backoff_initial again.
    advance(1s);
  }
  // 40 draws from about 100 values: the jitter is applied.
  CHECK(seen.size() > 1);
  // Within the window the base doubles: 200 ms +/- 50 %.
  fail(sup, "a");
  auto first = next_timer();
  REQUIRE(first);
  advance(*first);
  fail(sup, "a");
  auto second = next_timer();
  REQUIRE(second);
  CHECK(*second >= 100ms);
  CHECK(*second <= 300ms);
}

TEST_CASE_METHOD(fixture, "det: stopping during a backoff cancels the "
                          "restart") {
  auto cfg = config(restart_strategy::rest_for_one);
  cfg.backoff_initial = 10s;
  auto sup = start(cfg, {child(w, "a"), child(w, "b")});
  auto down = watch(sup);
  fail(sup, "a");
  CHECK(w->events == strings{"start a", "start b", "stop a", "stop b"});
  // The restart timer, beside b's (now stale) shutdown timer.
  CHECK(timers() == std::vector<milliseconds>{5s, 10s});
  stop(sup);
  // Nothing to stop: the supervisor exits at once.
  REQUIRE(down->has_value());
  CHECK(**down == caf::exit_reason::user_shutdown);
  advance(10s);
  advance(10s);
  CHECK(w->events == strings{"start a", "start b", "stop a", "stop b"});
}

TEST_CASE_METHOD(fixture, "det: a failure during a restart waits until the "
                          "restart is done") {
  auto cfg = config(restart_strategy::one_for_one);
  cfg.backoff_initial = 100ms;
  auto sup = start(cfg, {child(w, "a"), child(w, "b")});
  fail(sup, "a");
  fail(sup, "b");
  CHECK(w->since(2) == strings{"stop a", "stop b"});
  // Both are on their way back.
  auto rows = report(sup);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].state == "restarting");
  CHECK(rows[1].state == "restarting");
  advance(100ms);
  // a comes back; only then is b's failure handled, with its own backoff.
  CHECK(w->since(2) == strings{"stop a", "stop b", "start a"});
  CHECK(next_timer() == milliseconds{100});
  advance(100ms);
  CHECK(w->since(2) == strings{"stop a", "stop b", "start a", "start b"});
  running(sup, "a");
  running(sup, "b");
}

// -- dynamic children ----------------------------------------------------------

namespace {

supervisor_config with_workers(world_ptr w) {
  auto cfg = config(restart_strategy::one_for_one);
  cfg.templates["worker"] = [w](const std::string& id) {
    return child(w, id);
  };
  return cfg;
}

} // namespace

TEST_CASE_METHOD(fixture, "det: a dynamic child starts from its template and "
                          "is restarted") {
  auto sup = start(with_workers(w), {child(w, "a")});
  auto w1 = ask<caf::actor>(sup, caf::add_atom::value, std::string{"worker"},
                            std::string{"w1"});
  REQUIRE(w1);
  CHECK(w->events == strings{"start a", "start w1"});
  CHECK(running(sup, "w1") == *w1);
  fail(sup, "w1");
  CHECK(w->since(2) == strings{"stop w1", "start w1"});
  CHECK(running(sup, "w1") != *w1);
  auto rows = report(sup);
  CHECK(paths(rows) == strings{"sup/a", "sup/w1"});
  auto row = find_row(rows, "sup/w1");
  REQUIRE(row);
  CHECK(row->dynamic);
  CHECK(row->restarts == 1);
  CHECK(row->state == "running");
  CHECK_FALSE(find_row(rows, "sup/a")->dynamic);
  // Dynamic children come after the static ones, so they stop first.
  auto w2 = ask<caf::actor>(sup, caf::add_atom::value, std::string{"worker"},
                            std::string{"w2"});
  REQUIRE(w2);
  auto mark = w->events.size();
  stop(sup);
  CHECK(w->since(mark) == strings{"stop w2", "stop w1", "stop a"});
}

TEST_CASE_METHOD(fixture, "det: deleting a dynamic child stops it for good") {
  auto sup = start(with_workers(w), {child(w, "a")});
  REQUIRE(ask<caf::actor>(sup, caf::add_atom::value, std::string{"worker"},
                          std::string{"w1"}));
  auto deleted = ask<bool>(sup, caf::delete_atom::value, std::string{"w1"});
  REQUIRE(deleted);
  CHECK(*deleted);
  CHECK(w->events == strings{"start a", "start w1", "stop w1"});
  auto gone = get(sup, "w1");
  REQUIRE_FALSE(gone);
  CHECK(is(gone.error(), errc::unavailable));
  CHECK(paths(report(sup)) == strings{"sup/a"});
  // Static and unknown children cannot be deleted.
  auto static_child = ask<bool>(sup, caf::delete_atom::value,
                                std::string{"a"});
  REQUIRE_FALSE(static_child);
  CHECK(is(static_child.error(), errc::unknown_child));
  auto unknown = ask<bool>(sup, caf::delete_atom::value, std::string{"w9"});
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), errc::unknown_child));
  CHECK(w->events == strings{"start a", "start w1", "stop w1"});
  // The id is free again.
  REQUIRE(ask<caf::actor>(sup, caf::add_atom::value, std::string{"worker"},
                          std::string{"w1"}));
  CHECK(w->since(3) == strings{"start w1"});
  CHECK(paths(report(sup)) == strings{"sup/a", "sup/w1"});
}

TEST_CASE_METHOD(fixture, "det: adding a dynamic child fails for an unknown "
                          "template or a taken id") {
  auto sup = start(with_workers(w), {child(w, "a")});
  auto unknown = ask<caf::actor>(sup, caf::add_atom::value,
                                 std::string{"nope"}, std::string{"n1"});
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), errc::unknown_child));
  auto taken_static = ask<caf::actor>(sup, caf::add_atom::value,
                                      std::string{"worker"},
                                      std::string{"a"});
  REQUIRE_FALSE(taken_static);
  CHECK(is(taken_static.error(), errc::conflict));
  REQUIRE(ask<caf::actor>(sup, caf::add_atom::value, std::string{"worker"},
                          std::string{"w1"}));
  auto taken_dynamic = ask<caf::actor>(sup, caf::add_atom::value,
                                       std::string{"worker"},
                                       std::string{"w1"});
  REQUIRE_FALSE(taken_dynamic);
  CHECK(is(taken_dynamic.error(), errc::conflict));
  CHECK(w->events == strings{"start a", "start w1"});
  CHECK(paths(report(sup)) == strings{"sup/a", "sup/w1"});
}

// -- the front -------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: the front forwards requests and messages to "
                          "the current child") {
  auto front = track(spawn_front(*sys, "svc"));
  auto spec = child(w, "svc");
  spec.front = front;
  auto sup = start(config(restart_strategy::one_for_one), {spec});
  auto answer = ask<std::string>(front, std::string{"hi"});
  REQUIRE(answer);
  CHECK(*answer == "svc#1:hi");
  caf::anon_send(front, 7);
  run();
  CHECK(w->since(1) == strings{"svc#1 asked hi", "svc#1 got 7"});
  fail(sup, "svc");
  answer = ask<std::string>(front, std::string{"again"});
  REQUIRE(answer);
  CHECK(*answer == "svc#2:again");
  caf::anon_send(front, 8);
  run();
  CHECK(w->since(3)
        == strings{"stop svc", "start svc", "svc#2 asked again",
                   "svc#2 got 8"});
}

TEST_CASE_METHOD(fixture, "det: the front holds messages while its child is "
                          "down and delivers them in order") {
  auto front = track(spawn_front(*sys, "svc"));
  auto spec = child(w, "svc");
  spec.front = front;
  auto cfg = config(restart_strategy::one_for_one);
  cfg.backoff_initial = 100ms;
  auto sup = start(cfg, {spec});
  fail(sup, "svc");
  CHECK(w->events == strings{"start svc", "stop svc"});
  caf::anon_send(front, 1);
  auto answer = ask_later<std::string>(front, std::string{"q"});
  run();
  caf::anon_send(front, 2);
  caf::anon_send(front, 3);
  run();
  CHECK(w->events == strings{"start svc", "stop svc"});
  CHECK_FALSE(answer->has_value());
  advance(100ms);
  CHECK(w->since(2)
        == strings{"start svc", "svc#2 got 1", "svc#2 asked q", "svc#2 got 2",
                   "svc#2 got 3"});
  REQUIRE(answer->has_value());
  REQUIRE(**answer);
  CHECK(***answer == "svc#2:q");
}

TEST_CASE_METHOD(fixture, "det: held requests are answered with an error when "
                          "the front stops") {
  auto front = track(spawn_front(*sys, "svc"));
  auto spec = child(w, "svc");
  spec.front = front;
  auto cfg = config(restart_strategy::one_for_one);
  cfg.backoff_initial = 10s;
  auto sup = start(cfg, {spec});
  fail(sup, "svc");
  auto answer = ask_later<std::string>(front, std::string{"q"});
  run();
  CHECK_FALSE(answer->has_value());
  caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
  run();
  REQUIRE(answer->has_value());
  REQUIRE_FALSE(**answer);
  CHECK(is(answer->value().error(), errc::unavailable));
  CHECK(describe(answer->value().error()) == "svc is not running");
}

// -- the report ------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: the report lists every child including a "
                          "nested supervisor's children") {
  auto inner_cfg = config(restart_strategy::rest_for_one, 10, "root/inner");
  auto root = start(config(restart_strategy::one_for_one, 10, "root"),
                    {child(w, "a"),
                     nested("inner", inner_cfg, {child(w, "x"), child(w, "y")}),
                     child(w, "t", restart_type::temporary)});
  fail(root, "a");
  caf::anon_send(running(root, "t"), done_atom::value);
  run();
  auto rows = report(root);
  CHECK(paths(rows)
        == strings{"root/a", "root/inner", "root/inner/x", "root/inner/y",
                   "root/t"});
  REQUIRE(rows.size() == 5);
  auto& a = rows[0];
  CHECK(a.strategy == "one_for_one");
  CHECK(a.restart == "permanent");
  CHECK_FALSE(a.supervisor);
  CHECK_FALSE(a.dynamic);
  CHECK(a.state == "running");
  CHECK(a.restarts == 1);
  CHECK_THAT(a.last_exit_reason, Catch::Contains("boom"));
  CHECK(a.last_exit_ms > 0);
  auto& inner = rows[1];
  CHECK(inner.supervisor);
  CHECK(inner.state == "running");
  CHECK(inner.restarts == 0);
  CHECK(inner.last_exit_reason.empty());
  CHECK(inner.last_exit_ms == 0);
  for (auto* x : {&rows[2], &rows[3]}) {
    CHECK(x->strategy == "rest_for_one");
    CHECK(x->state == "running");
    CHECK(x->restarts == 0);
    CHECK_FALSE(x->supervisor);
  }
  auto& t = rows[4];
  CHECK(t.restart == "temporary");
  CHECK(t.state == "stopped");
  CHECK(t.restarts == 0);
  CHECK_FALSE(t.last_exit_reason.empty());
  CHECK(t.last_exit_ms > 0);
  // A failure in the subtree shows in the nested rows.
  caf::anon_send(running(running(root, "inner"), "y"), fail_atom::value);
  run();
  rows = report(root);
  REQUIRE(rows.size() == 5);
  CHECK(rows[3].path == "root/inner/y");
  CHECK(rows[3].restarts == 1);
  CHECK_THAT(rows[3].last_exit_reason, Catch::Contains("boom"));
  CHECK(rows[1].restarts == 0);
}

TEST_CASE_METHOD(fixture, "det: the report shows a child waiting for its "
                          "backoff as restarting and an ended one as "
                          "stopped") {
  auto cfg = config(restart_strategy::one_for_one);
  cfg.backoff_initial = 100ms;
  auto sup = start(cfg, {child(w, "a"), child(w, "t", restart_type::temporary),
                         child(w, "b")});
  caf::anon_send(running(sup, "t"), done_atom::value);
  run();
  fail(sup, "a");
  auto rows = report(sup);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].state == "restarting");
  CHECK(rows[1].state == "stopped");
  CHECK(rows[2].state == "running");
  advance(100ms);
  rows = report(sup);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].state == "running");
  CHECK(rows[0].restarts == 1);
  CHECK(rows[1].state == "stopped");
}

// -- fault injection ---------------------------------------------------------------

TEST_CASE_METHOD(fixture, "det: an injected fault reaches a nested child which "
                          "then fails") {
  auto inner_cfg = config(restart_strategy::one_for_one, 10, "root/inner");
  auto root = start(config(restart_strategy::one_for_one, 10, "root"),
                    {child(w, "a"),
                     nested("inner", inner_cfg, {child(w, "x"), child(w, "y")})});
  auto inner = running(root, "inner");
  auto x = running(inner, "x");
  auto y = running(inner, "y");
  auto hit = ask<bool>(root, crash_atom::value, std::string{"inner/x"});
  REQUIRE(hit);
  CHECK(*hit);
  run();
  CHECK(w->since(3) == strings{"stop x", "start x"});
  CHECK(running(inner, "x") != x);
  CHECK(running(inner, "y") == y);
  CHECK(running(root, "inner") == inner);
  auto rows = report(root);
  auto row = find_row(rows, "root/inner/x");
  REQUIRE(row);
  CHECK(row->restarts == 1);
  // As a bug would: an uncaught exception.
  CHECK_THAT(row->last_exit_reason, Catch::Contains("runtime_error"));
  // A direct child of the root.
  hit = ask<bool>(root, crash_atom::value, std::string{"a"});
  REQUIRE(hit);
  CHECK(*hit);
  run();
  CHECK(w->since(5) == strings{"stop a", "start a"});
}

TEST_CASE_METHOD(fixture, "det: fault injection refuses unknown paths and "
                          "supervisors") {
  auto inner_cfg = config(restart_strategy::one_for_one, 10, "root/inner");
  auto root = start(config(restart_strategy::one_for_one, 10, "root"),
                    {child(w, "a"), nested("inner", inner_cfg, {child(w, "x")}),
                     child(w, "t", restart_type::temporary)});
  caf::anon_send(running(root, "t"), done_atom::value);
  run();
  auto before = w->events;
  auto crash = [&](const std::string& path) {
    return ask<bool>(root, crash_atom::value, path);
  };
  for (auto path : {"nope", "inner/nope", "a/x", "nope/x", ""}) {
    INFO("path " << path);
    auto res = crash(path);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::unknown_child));
  }
  auto sup = crash("inner");
  REQUIRE_FALSE(sup);
  CHECK(is(sup.error(), errc::conflict));
  auto stopped = crash("t");
  REQUIRE_FALSE(stopped);
  CHECK(is(stopped.error(), errc::unavailable));
  run();
  CHECK(w->events == before);
}
