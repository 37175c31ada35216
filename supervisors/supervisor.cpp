#include "supervisors/supervisor.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <random>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "messages/atoms.hpp"
#include "messages/error.hpp"
#include "messages/supervision.hpp"
#include "messages/type_ids.hpp"
#include "supervisors/front.hpp"

namespace conveyor {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("supervisor"))
      return existing;
    auto created = spdlog::default_logger()->clone("supervisor");
    spdlog::register_logger(created);
    return created;
  }();
  return result;
}

using stop_timeout_atom = caf::atom_constant<caf::atom("stop_tout")>;
using restart_atom = caf::atom_constant<caf::atom("sup_rstrt")>;

using clock_type = std::chrono::steady_clock;

const char* to_string(restart_strategy x) {
  switch (x) {
    case restart_strategy::one_for_all:
      return "one_for_all";
    case restart_strategy::one_for_one:
      return "one_for_one";
    case restart_strategy::rest_for_one:
      return "rest_for_one";
  }
  return "?";
}

const char* to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "?";
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

struct child_slot {
  child_spec spec;
  caf::actor handle;                      ///< invalid while not running
  std::deque<clock_type::time_point> restarts; ///< recent ones, for backoff
  int32_t restart_count = 0;              ///< since the supervisor started
  std::string last_exit_reason;
  int64_t last_exit_ms = 0;
  bool dynamic = false;                   ///< started from a template
  bool removed = false;                   ///< a deleted dynamic child
};

// Points the child's front, if any, at its new incarnation.
void tell_front(const child_slot& child) {
  if (child.spec.front)
    caf::anon_send(child.spec.front, front_target_atom::value, child.handle);
}

/// A child's exit that must wait until the current restart is done.
struct pending_failure {
  size_t index;
  caf::error reason;
};

enum class phase {
  running,    ///< watching the children
  restarting, ///< stopping a group, waiting for the backoff, then starting it
  stopping,   ///< stopping every child, then quitting
};

struct supervisor_state {
  static inline const char* name = "supervisor";

  supervisor_config cfg;
  std::vector<child_slot> children; ///< in start order
  phase mode = phase::running;
  std::deque<clock_type::time_point> restarts; ///< for the intensity rule
  std::deque<size_t> to_stop;       ///< children to stop, next first
  std::optional<size_t> target;     ///< the child being stopped
  std::vector<size_t> to_start;     ///< the group to start, in order
  std::chrono::milliseconds delay{0}; ///< backoff before starting it
  std::vector<pending_failure> deferred;
  caf::error exit_reason;           ///< why the supervisor will exit
  size_t stop_round = 0;            ///< tells stale stop timeouts apart
  size_t restart_round = 0;         ///< tells stale backoff timers apart
  std::minstd_rand rng{std::random_device{}()};
};

using supervisor_ptr = caf::stateful_actor<supervisor_state>*;

void handle_exit(supervisor_ptr self, size_t index, caf::error reason);

void prune(std::deque<clock_type::time_point>& xs, clock_type::time_point now,
           std::chrono::seconds window) {
  while (!xs.empty() && now - xs.front() >= window)
    xs.pop_front();
}

std::chrono::milliseconds backoff_delay(supervisor_state& st,
                                        const child_spec& child,
                                        size_t earlier_restarts) {
  auto cfg = child.backoff.value_or(backoff_settings{
    st.cfg.backoff_initial, st.cfg.backoff_max, st.cfg.backoff_jitter});
  if (cfg.initial.count() <= 0)
    return std::chrono::milliseconds{0};
  auto ms = static_cast<double>(cfg.initial.count())
            * std::pow(2.0, static_cast<double>(
                              std::min<size_t>(earlier_restarts, 30)));
  if (cfg.max.count() > 0)
    ms = std::min(ms, static_cast<double>(cfg.max.count()));
  // Jitter keeps children that failed together from retrying in lockstep.
  auto jitter = std::clamp(cfg.jitter, 0.0, 1.0);
  if (jitter > 0.0) {
    std::uniform_real_distribution<double> spread{-jitter, jitter};
    ms *= 1.0 + spread(st.rng);
  }
  return std::chrono::milliseconds{std::llround(ms)};
}

void process_deferred(supervisor_ptr self) {
  auto& st = self->state;
  while (st.mode == phase::running && !st.deferred.empty()) {
    auto failure = std::move(st.deferred.front());
    st.deferred.erase(st.deferred.begin());
    // A group restart since may have brought the child back already.
    if (st.children[failure.index].handle)
      continue;
    handle_exit(self, failure.index, std::move(failure.reason));
  }
}

// A factory that fails counts as a failure of its child, handled once the
// whole group has been started.
void start_child(supervisor_ptr self, size_t index) {
  auto& st = self->state;
  auto& child = st.children[index];
  auto handle = child.spec.start(self->system());
  if (!handle) {
    logger()->error("child failed to restart supervisor={} child={} error={}",
                    st.cfg.name, child.spec.id,
                    caf::to_string(handle.error()));
    st.deferred.push_back({index, std::move(handle.error())});
    return;
  }
  child.handle = std::move(*handle);
  child.restart_count += 1;
  self->monitor(child.handle);
  tell_front(child);
  logger()->info("restarted child supervisor={} child={} restarts={}",
                 st.cfg.name, child.spec.id, child.restart_count);
}

void start_group(supervisor_ptr self) {
  auto& st = self->state;
  auto group = std::move(st.to_start);
  st.to_start.clear();
  for (auto index : group)
    start_child(self, index);
  st.mode = phase::running;
  process_deferred(self);
}

// Runs once every child in `to_stop` is down.
void after_stop(supervisor_ptr self) {
  auto& st = self->state;
  if (st.mode == phase::stopping) {
    logger()->info("stopped supervisor={} reason={}", st.cfg.name,
                   caf::to_string(st.exit_reason));
    self->quit(st.exit_reason);
    return;
  }
  if (st.delay.count() > 0)
    self->delayed_send(self, st.delay, restart_atom::value,
                       ++st.restart_round);
  else
    start_group(self);
}

// Stops the next running child of `to_stop`, then (on its down message) the
// one after, and calls `after_stop` when none is left.
void stop_next(supervisor_ptr self) {
  auto& st = self->state;
  while (!st.to_stop.empty()) {
    auto index = st.to_stop.front();
    st.to_stop.pop_front();
    auto& child = st.children[index];
    if (!child.handle)
      continue;
    st.target = index;
    auto timeout = child.spec.shutdown.value_or(st.cfg.shutdown_timeout);
    if (timeout.count() <= 0) {
      logger()->info("killing child supervisor={} child={}", st.cfg.name,
                     child.spec.id);
      self->send_exit(child.handle, caf::exit_reason::kill);
      return;
    }
    logger()->info("stopping child supervisor={} child={}", st.cfg.name,
                   child.spec.id);
    self->send_exit(child.handle, caf::exit_reason::user_shutdown);
    self->delayed_send(self, timeout, stop_timeout_atom::value,
                       ++st.stop_round);
    return;
  }
  st.target.reset();
  after_stop(self);
}

void begin_stop(supervisor_ptr self, caf::error reason) {
  auto& st = self->state;
  if (st.mode == phase::stopping)
    return;
  st.mode = phase::stopping;
  st.exit_reason = std::move(reason);
  ++st.restart_round; // cancels a pending backoff
  st.to_start.clear();
  st.deferred.clear();
  st.to_stop.clear();
  for (auto i = st.children.size(); i-- > 0;)
    if (st.children[i].handle && st.target != i)
      st.to_stop.push_back(i);
  // A child being stopped for a restart is waited for first.
  if (!st.target)
    stop_next(self);
}

void escalate(supervisor_ptr self, size_t index, caf::error reason) {
  auto& st = self->state;
  const auto& id = st.children[index].spec.id;
  // Exiting normally would hide the escalation from the parent.
  if (reason == caf::exit_reason::normal)
    reason = make_error(errc::unavailable,
                        "child " + id
                          + " ended and the supervisor's restart limit is "
                            "reached");
  logger()->error("restart limit reached, escalating supervisor={} child={} "
                  "reason={} max_restarts={} max_seconds={}",
                  st.cfg.name, id, caf::to_string(reason),
                  st.cfg.max_restarts, st.cfg.max_seconds.count());
  begin_stop(self, std::move(reason));
}

// Decides what follows the exit of child `index` (already marked down) while
// the supervisor is running.
void handle_exit(supervisor_ptr self, size_t index, caf::error reason) {
  auto& st = self->state;
  auto& child = st.children[index];
  if (child.removed)
    return;
  auto abnormal = reason != caf::exit_reason::normal;
  auto restart = child.spec.restart == restart_type::permanent
                 || (child.spec.restart == restart_type::transient && abnormal);
  if (!restart) {
    logger()->info("child not restarted supervisor={} child={} restart={}",
                   st.cfg.name, child.spec.id,
                   child.spec.restart == restart_type::temporary ? "temporary"
                                                                 : "transient");
    return;
  }
  // The actor clock, the one that also times the backoff: the real one in
  // production, the simulated one under CAF's test scheduler.
  auto now = self->clock().now();
  prune(st.restarts, now, st.cfg.max_seconds);
  st.restarts.push_back(now);
  if (st.restarts.size() > st.cfg.max_restarts) {
    escalate(self, index, std::move(reason));
    return;
  }
  prune(child.restarts, now, st.cfg.max_seconds);
  st.delay = backoff_delay(st, child.spec, child.restarts.size());
  child.restarts.push_back(now);
  // The group: the failed child and, by strategy, the running siblings;
  // temporary siblings are stopped but never restarted.
  size_t first = index;
  size_t last = index + 1;
  if (st.cfg.strategy == restart_strategy::one_for_all) {
    first = 0;
    last = st.children.size();
  } else if (st.cfg.strategy == restart_strategy::rest_for_one) {
    last = st.children.size();
  }
  st.to_stop.clear();
  st.to_start.clear();
  for (auto i = first; i < last; ++i) {
    auto running = static_cast<bool>(st.children[i].handle);
    if (i == index
        || (running
            && st.children[i].spec.restart != restart_type::temporary))
      st.to_start.push_back(i);
  }
  for (auto i = last; i-- > first;)
    if (st.children[i].handle)
      st.to_stop.push_back(i);
  logger()->warn("restarting supervisor={} child={} reason={} strategy={} "
                 "children={} delay_ms={}",
                 st.cfg.name, child.spec.id, caf::to_string(reason),
                 to_string(st.cfg.strategy), st.to_start.size(),
                 st.delay.count());
  st.mode = phase::restarting;
  stop_next(self);
}

void on_child_down(supervisor_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = std::find_if(st.children.begin(), st.children.end(),
                        [&msg](const child_slot& x) {
                          return x.handle && x.handle.address() == msg.source;
                        });
  if (i == st.children.end())
    return;
  auto index = static_cast<size_t>(i - st.children.begin());
  i->handle = caf::actor{};
  i->last_exit_reason = caf::to_string(msg.reason);
  i->last_exit_ms = now_ms();
  logger()->info("child exited supervisor={} child={} reason={}", st.cfg.name,
                 i->spec.id, caf::to_string(msg.reason));
  if (st.target == index) {
    stop_next(self);
    return;
  }
  switch (st.mode) {
    case phase::stopping:
      return; // stop_next skips children that are already down
    case phase::restarting:
      if (std::find(st.to_start.begin(), st.to_start.end(), index)
          == st.to_start.end())
        st.deferred.push_back({index, msg.reason});
      return;
    case phase::running:
      handle_exit(self, index, msg.reason);
      return;
  }
}

// -- visibility and control --------------------------------------------------

std::optional<size_t> find_child(supervisor_state& st, const std::string& id) {
  for (size_t i = 0; i < st.children.size(); ++i)
    if (st.children[i].spec.id == id && !st.children[i].removed)
      return i;
  return std::nullopt;
}

// Whether child `index`, which is down, is about to be started again: it is
// in the group being restarted, or its failure waits for that restart and its
// restart type restarts it. Another child's restart does not make a child
// that ended for good (temporary, transient after a normal exit) restarting.
bool will_restart(const supervisor_state& st, size_t index) {
  if (std::find(st.to_start.begin(), st.to_start.end(), index)
      != st.to_start.end())
    return true;
  const auto& restart = st.children[index].spec.restart;
  for (const auto& failure : st.deferred)
    if (failure.index == index)
      return restart == restart_type::permanent
             || (restart == restart_type::transient
                 && failure.reason != caf::exit_reason::normal);
  return false;
}

supervised_child report_of(const supervisor_state& st, const child_slot& x) {
  auto index = static_cast<size_t>(&x - st.children.data());
  supervised_child row;
  row.path = st.cfg.name + "/" + x.spec.id;
  row.strategy = to_string(st.cfg.strategy);
  row.restart = to_string(x.spec.restart);
  row.supervisor = x.spec.supervisor;
  row.dynamic = x.dynamic;
  if (x.handle)
    row.state = "running";
  else if (st.mode == phase::restarting && !x.removed
           && will_restart(st, index))
    row.state = "restarting";
  else
    row.state = "stopped";
  row.restarts = x.restart_count;
  row.last_exit_reason = x.last_exit_reason;
  row.last_exit_ms = x.last_exit_ms;
  return row;
}

// Answers the rows of every child, with the subtrees of child supervisors
// (asked in parallel) right after their own row.
caf::result<supervision_report> report(supervisor_ptr self) {
  auto& st = self->state;
  auto rows = std::make_shared<std::vector<supervision_report>>();
  std::vector<std::pair<size_t, caf::actor>> subtrees;
  for (auto& child : st.children) {
    if (child.removed)
      continue;
    rows->push_back({report_of(st, child)});
    if (child.spec.supervisor && child.handle)
      subtrees.emplace_back(rows->size() - 1, child.handle);
  }
  auto rp = self->make_response_promise<supervision_report>();
  auto pending = std::make_shared<size_t>(subtrees.size() + 1);
  auto done = [rows, pending, rp]() mutable {
    if (--*pending > 0)
      return;
    supervision_report result;
    for (auto& group : *rows)
      result.insert(result.end(), group.begin(), group.end());
    rp.deliver(std::move(result));
  };
  for (auto& [index, handle] : subtrees)
    self->request(handle, std::chrono::seconds(2), fetch_atom::value,
                  status_atom::value)
      .then(
        [rows, index = index, done](supervision_report& sub) mutable {
          auto& group = (*rows)[index];
          group.insert(group.end(), sub.begin(), sub.end());
          done();
        },
        [done](const caf::error&) mutable { done(); });
  done();
  return rp;
}

// Routes a fault to the child at `path`, through child supervisors.
caf::result<bool> inject_fault(supervisor_ptr self, const std::string& path) {
  auto& st = self->state;
  auto slash = path.find('/');
  auto id = path.substr(0, slash);
  auto index = find_child(st, id);
  if (!index)
    return make_error(errc::unknown_child, "supervisor " + st.cfg.name
                                             + " has no child '" + id + "'");
  auto& child = st.children[*index];
  if (!child.handle)
    return make_error(errc::unavailable, "child " + st.cfg.name + "/" + id
                                           + " is not running");
  if (slash != std::string::npos) {
    if (!child.spec.supervisor)
      return make_error(errc::unknown_child, st.cfg.name + "/" + id
                                               + " has no children");
    self->delegate(child.handle, crash_atom::value, path.substr(slash + 1));
    return caf::delegated<bool>{};
  }
  if (child.spec.supervisor)
    return make_error(errc::conflict,
                      st.cfg.name + "/" + id
                        + " is a supervisor: crash one of its children");
  logger()->warn("injecting a fault supervisor={} child={}", st.cfg.name, id);
  caf::anon_send(child.handle, crash_atom::value);
  return true;
}

caf::result<caf::actor> add_dynamic(supervisor_ptr self,
                                    const std::string& kind,
                                    const std::string& id) {
  auto& st = self->state;
  auto maker = st.cfg.templates.find(kind);
  if (maker == st.cfg.templates.end())
    return make_error(errc::unknown_child, "supervisor " + st.cfg.name
                                             + " has no template '" + kind
                                             + "'");
  if (find_child(st, id))
    return make_error(errc::conflict, "supervisor " + st.cfg.name
                                        + " already has a child '" + id + "'");
  if (st.mode == phase::stopping)
    return make_error(errc::unavailable, "supervisor " + st.cfg.name
                                           + " is stopping");
  auto spec = maker->second(id);
  spec.id = id;
  auto handle = spec.start(self->system());
  if (!handle) {
    logger()->error("dynamic child failed to start supervisor={} child={} "
                    "error={}",
                    st.cfg.name, id, caf::to_string(handle.error()));
    return std::move(handle.error());
  }
  child_slot slot;
  slot.spec = std::move(spec);
  slot.handle = *handle;
  slot.dynamic = true;
  self->monitor(slot.handle);
  tell_front(slot);
  st.children.push_back(std::move(slot));
  logger()->info("started dynamic child supervisor={} child={} kind={}",
                 st.cfg.name, id, kind);
  return *handle;
}

caf::result<bool> delete_dynamic(supervisor_ptr self, const std::string& id) {
  auto& st = self->state;
  auto index = find_child(st, id);
  if (!index || !st.children[*index].dynamic)
    return make_error(errc::unknown_child, "supervisor " + st.cfg.name
                                             + " has no dynamic child '" + id
                                             + "'");
  if (st.mode != phase::running)
    return make_error(errc::unavailable, "supervisor " + st.cfg.name
                                           + " is busy restarting; retry");
  auto& child = st.children[*index];
  child.removed = true;
  logger()->info("deleting dynamic child supervisor={} child={}", st.cfg.name,
                 id);
  if (!child.handle)
    return true;
  // The stop machinery of a restart, with nothing to start afterwards.
  st.delay = std::chrono::milliseconds{0};
  st.to_start.clear();
  st.to_stop.assign(1, *index);
  st.mode = phase::restarting;
  stop_next(self);
  return true;
}

caf::behavior supervisor(supervisor_ptr self, supervisor_config cfg,
                         std::vector<child_slot> children) {
  self->state.cfg = std::move(cfg);
  self->state.children = std::move(children);
  for (auto& child : self->state.children) {
    self->monitor(child.handle);
    tell_front(child);
  }
  // A bug in the supervisor itself: its children must not outlive it, or its
  // restart would run two of each.
  self->set_exception_handler([self](std::exception_ptr& eptr) -> caf::error {
    auto what = describe(eptr);
    logger()->error("supervisor failed, killing its children supervisor={} "
                    "error=\"{}\"",
                    self->state.cfg.name, what);
    for (auto& child : self->state.children)
      if (child.handle)
        self->send_exit(child.handle, caf::exit_reason::kill);
    return exit_reason_of(eptr);
  });
  self->set_down_handler(
    [self](const caf::down_msg& msg) { on_child_down(self, msg); });
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    begin_stop(self, msg.reason);
  });
  return {
    [self](stop_timeout_atom, size_t round) {
      auto& st = self->state;
      if (round != st.stop_round || !st.target)
        return;
      auto& child = st.children[*st.target];
      logger()->warn("child did not stop in time, killing supervisor={} "
                     "child={}",
                     st.cfg.name, child.spec.id);
      self->send_exit(child.handle, caf::exit_reason::kill);
    },
    [self](restart_atom, size_t round) {
      auto& st = self->state;
      if (round != st.restart_round || st.mode != phase::restarting)
        return;
      start_group(self);
    },
    [self](caf::get_atom, const std::string& id) -> caf::result<caf::actor> {
      auto& st = self->state;
      auto index = find_child(st, id);
      if (!index)
        return make_error(errc::unavailable,
                          "supervisor " + st.cfg.name + " has no child " + id);
      auto& child = st.children[*index];
      if (!child.handle)
        return make_error(errc::unavailable, "child " + id + " of supervisor "
                                               + st.cfg.name
                                               + " is not running");
      return child.handle;
    },
    [self](fetch_atom, status_atom) { return report(self); },
    [self](crash_atom, const std::string& path) {
      return inject_fault(self, path);
    },
    [self](crash_atom) -> caf::result<bool> {
      throw std::runtime_error("injected fault in supervisor "
                               + self->state.cfg.name);
    },
    [self](caf::add_atom, const std::string& kind, const std::string& id) {
      return add_dynamic(self, kind, id);
    },
    [self](caf::delete_atom, const std::string& id) {
      return delete_dynamic(self, id);
    },
  };
}

void stop_now(caf::actor_system& sys, std::vector<child_slot>& children) {
  caf::scoped_actor self{sys};
  for (auto i = children.rbegin(); i != children.rend(); ++i) {
    self->send_exit(i->handle, caf::exit_reason::user_shutdown);
    self->wait_for(i->handle);
  }
}

} // namespace

caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           supervisor_config cfg,
                                           std::vector<child_spec> children) {
  std::vector<child_slot> started;
  for (auto& spec : children) {
    auto handle = spec.start(sys);
    if (!handle) {
      logger()->error("child failed to start supervisor={} child={} error={}",
                      cfg.name, spec.id, caf::to_string(handle.error()));
      stop_now(sys, started);
      return handle.error();
    }
    logger()->info("started child supervisor={} child={}", cfg.name, spec.id);
    child_slot slot;
    slot.spec = std::move(spec);
    slot.handle = std::move(*handle);
    started.push_back(std::move(slot));
  }
  logger()->info("started supervisor={} strategy={} max_restarts={} "
                 "max_seconds={} children={}",
                 cfg.name, to_string(cfg.strategy), cfg.max_restarts,
                 cfg.max_seconds.count(), started.size());
  return sys.spawn(supervisor, std::move(cfg), std::move(started));
}

} // namespace conveyor
