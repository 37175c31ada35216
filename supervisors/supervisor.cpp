#include "supervisors/supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

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

struct running_child {
  std::string id;
  caf::actor handle;
};

struct supervisor_state {
  static inline const char* name = "supervisor";

  supervisor_config cfg;
  std::vector<running_child> children; ///< in start order
  bool stopping = false;
  caf::error exit_reason;              ///< why the supervisor will exit
  size_t stop_round = 0;               ///< tells stale stop timeouts apart
};

using supervisor_ptr = caf::stateful_actor<supervisor_state>*;

// Stops the last running child, then (on its down message) the one before,
// and quits when none is left.
void stop_next(supervisor_ptr self) {
  auto& st = self->state;
  if (st.children.empty()) {
    logger()->info("stopped supervisor={} reason={}", st.cfg.name,
                   caf::to_string(st.exit_reason));
    self->quit(st.exit_reason);
    return;
  }
  auto& child = st.children.back();
  logger()->info("stopping child supervisor={} child={}", st.cfg.name,
                 child.id);
  self->send_exit(child.handle, caf::exit_reason::user_shutdown);
  self->delayed_send(self, st.cfg.shutdown_timeout, stop_timeout_atom::value,
                     ++st.stop_round);
}

void begin_stop(supervisor_ptr self, caf::error reason) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.exit_reason = std::move(reason);
  stop_next(self);
}

void on_child_down(supervisor_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = std::find_if(st.children.begin(), st.children.end(),
                        [&msg](const running_child& x) {
                          return x.handle.address() == msg.source;
                        });
  if (i == st.children.end())
    return;
  auto id = i->id;
  auto was_last = std::next(i) == st.children.end();
  st.children.erase(i);
  if (st.stopping) {
    if (was_last)
      stop_next(self);
    return;
  }
  if (msg.reason == caf::exit_reason::normal) {
    logger()->info("child ended supervisor={} child={}", st.cfg.name, id);
    return;
  }
  logger()->error("child failed, escalating supervisor={} child={} reason={}",
                  st.cfg.name, id, caf::to_string(msg.reason));
  begin_stop(self, msg.reason);
}

caf::behavior supervisor(supervisor_ptr self, supervisor_config cfg,
                         std::vector<running_child> children) {
  self->state.cfg = std::move(cfg);
  self->state.children = std::move(children);
  for (auto& child : self->state.children)
    self->monitor(child.handle);
  self->set_down_handler(
    [self](const caf::down_msg& msg) { on_child_down(self, msg); });
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    begin_stop(self, msg.reason);
  });
  return {
    [self](stop_timeout_atom, size_t round) {
      auto& st = self->state;
      if (round != st.stop_round || st.children.empty())
        return;
      logger()->warn("child did not stop in time, killing supervisor={} "
                     "child={}",
                     st.cfg.name, st.children.back().id);
      self->send_exit(st.children.back().handle, caf::exit_reason::kill);
    },
  };
}

void stop_now(caf::actor_system& sys, std::vector<running_child>& children) {
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
  std::vector<running_child> started;
  for (auto& spec : children) {
    auto handle = spec.start(sys);
    if (!handle) {
      logger()->error("child failed to start supervisor={} child={} error={}",
                      cfg.name, spec.id, caf::to_string(handle.error()));
      stop_now(sys, started);
      return handle.error();
    }
    logger()->info("started child supervisor={} child={}", cfg.name, spec.id);
    started.push_back({spec.id, std::move(*handle)});
  }
  return sys.spawn(supervisor, std::move(cfg), std::move(started));
}

} // namespace conveyor
