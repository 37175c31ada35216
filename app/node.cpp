#include "app/node.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "actors/gatekeeper/gatekeeper_actor.hpp"
#include "actors/log_sequencer/log_sequencer_actor.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/worker/orphans.hpp"
#include "actors/worker/worker_actor.hpp"
#include "adapters/postgres/postgres_store_actor.hpp"
#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "messages/type_ids.hpp"
#include "supervisors/front.hpp"

namespace conveyor {

// Two nodes on one data directory would each recover the other's running
// jobs and run them again: the second one is refused.
caf::expected<std::shared_ptr<void>>
lock_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto path = dir / "lock";
  auto fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return caf::make_error(caf::sec::runtime_error,
                           "cannot open " + path.string() + ": "
                             + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return caf::make_error(caf::sec::runtime_error,
                           "another conveyor process uses " + dir.string());
  }
  // Not null, so that a holder can tell it holds a lock.
  return std::shared_ptr<void>{new int{fd}, [](void* x) {
                                 auto* fd = static_cast<int*>(x);
                                 ::close(*fd);
                                 delete fd;
                               }};
}

void configure_node_system(caf::actor_system_config& cfg) {
  register_message_types(cfg);
  cfg.set("scheduler.max-threads",
          static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  // One shared queue whose threads wait on a condition variable: with work
  // stealing, idle threads poll in 50 µs sleeps, which perf showed to be a
  // fifth of the coordinator's CPU under load.
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

namespace {

// What the factories of the node's children share: they run again on every
// restart, long after start_node has returned.
struct wiring {
  node_config cfg;
  node modules; ///< the fronts
  std::mutex workers_mtx;
  std::map<std::string, worker_actor> workers; ///< current slot incarnations

  std::vector<worker_actor> current_workers() {
    std::lock_guard<std::mutex> guard{workers_mtx};
    std::vector<worker_actor> result;
    for (auto& [name, worker] : workers)
      result.push_back(worker);
    return result;
  }
};

template <class Handle>
Handle typed_front(caf::actor_system& sys, node& n, const std::string& name) {
  auto front = spawn_front(sys, name);
  n.fronts.push_back(front);
  return caf::actor_cast<Handle>(front);
}

supervisor_config supervisor_settings(const node_config& cfg, std::string name,
                                      restart_strategy strategy) {
  supervisor_config result;
  result.name = std::move(name);
  result.strategy = strategy;
  result.max_restarts = cfg.max_restarts;
  result.max_seconds = cfg.restart_window;
  // A running job gets the kill grace to stop, plus time to report it.
  result.shutdown_timeout = cfg.kill_grace + std::chrono::seconds(5);
  return result;
}

child_spec supervisor_child(std::string id, supervisor_config cfg,
                            std::function<std::vector<child_spec>()> children) {
  child_spec spec;
  spec.id = std::move(id);
  spec.supervisor = true;
  // As in OTP: a supervisor is given all the time its children take.
  spec.shutdown = std::chrono::hours(1);
  spec.start = [cfg, children](caf::actor_system& sys) {
    return start_supervisor(sys, cfg, children());
  };
  return spec;
}

child_spec store_child(std::shared_ptr<wiring> w) {
  child_spec spec;
  spec.id = "store";
  // A database server may be away for a while (a restart, the network): try
  // again at growing intervals, at most every 5 s, which stays within the
  // restart intensity however long it takes. The messages for the store wait
  // in its front meanwhile.
  if (!w->cfg.db_url.empty())
    spec.backoff = backoff_settings{std::chrono::milliseconds{50},
                                    std::chrono::seconds{5}, 0.2};
  spec.front = caf::actor_cast<caf::actor>(w->modules.store);
  spec.start = [w](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto store = w->cfg.db_url.empty()
                   ? spawn_sqlite_store(sys, (w->cfg.data_dir / "conveyor.db")
                                               .string())
                   : spawn_postgres_store(sys, w->cfg.db_url);
    if (!store)
      return store.error();
    return caf::actor_cast<caf::actor>(*store);
  };
  return spec;
}

std::vector<child_spec> core_children(std::shared_ptr<wiring> w) {
  auto& m = w->modules;
  child_spec sequencer;
  sequencer.id = "log_sequencer";
  sequencer.front = caf::actor_cast<caf::actor>(m.sequencer);
  sequencer.start = [w](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return caf::actor_cast<caf::actor>(
      spawn_log_sequencer(sys, w->modules.store));
  };
  child_spec scheduler;
  scheduler.id = "scheduler";
  scheduler.front = caf::actor_cast<caf::actor>(m.scheduler);
  scheduler.start = [w](caf::actor_system& sys) -> caf::expected<caf::actor> {
    scheduler_config scfg;
    scfg.max_attempts = w->cfg.max_attempts;
    scfg.workers = w->current_workers();
    return caf::actor_cast<caf::actor>(
      spawn_scheduler(sys, std::move(scfg), w->modules.store));
  };
  child_spec gatekeeper;
  gatekeeper.id = "gatekeeper";
  gatekeeper.front = caf::actor_cast<caf::actor>(m.gatekeeper);
  gatekeeper.start = [w](caf::actor_system& sys) -> caf::expected<caf::actor> {
    gatekeeper_config gcfg;
    gcfg.limits = w->cfg.limits;
    gcfg.mirror_root = w->cfg.data_dir / "mirrors";
    gcfg.remote_files = w->cfg.remote_files;
    gcfg.fetch_tokens = w->cfg.fetch_tokens;
    return caf::actor_cast<caf::actor>(spawn_gatekeeper(
      sys, std::move(gcfg), w->modules.store, w->modules.scheduler));
  };
  return {sequencer, scheduler, gatekeeper};
}

// A worker slot: tells the scheduler (through its front) and the registry
// the scheduler's successor reads, each time it (re)starts.
child_spec worker_child(std::shared_ptr<wiring> w, const std::string& name) {
  child_spec spec;
  spec.id = name;
  spec.start = [w, name](caf::actor_system& sys) -> caf::expected<caf::actor> {
    worker_config wcfg;
    wcfg.name = name;
    wcfg.workspace_root = w->cfg.data_dir / "work";
    wcfg.keep_workspaces = w->cfg.keep_workspaces;
    wcfg.kill_grace = w->cfg.kill_grace;
    wcfg.noop_executor = w->cfg.noop_executor;
    wcfg.clone_auth = w->cfg.clone_auth;
    auto worker = spawn_worker(sys, wcfg, w->modules.scheduler,
                               w->modules.sequencer);
    {
      std::lock_guard<std::mutex> guard{w->workers_mtx};
      w->workers[name] = worker;
    }
    caf::anon_send(w->modules.scheduler, register_atom::value, worker);
    return caf::actor_cast<caf::actor>(worker);
  };
  return spec;
}

} // namespace

// The supervision tree of a node:
//
//   node (one_for_one)
//   ├── store
//   ├── core (one_for_one): log_sequencer, scheduler, gatekeeper
//   ├── workers (one_for_one): worker-1 … worker-N (template "worker")
//   ├── edge (one_for_one): http, extensions
//   └── integrations (one_for_one): github_status_reporter, extensions
//
// Why one_for_one everywhere: no module holds state derived from another's
// incarnation. They reach each other only through fronts, which outlive
// restarts; whatever was in flight is either a request its sender repeats
// (worker reports, log parts, store writes) or state the restarted module
// reads back from the store (the scheduler's queue and runs, after asking
// the slots what they hold; the sequencer's open logs; the gatekeeper's
// stored but unscheduled builds). Restarting a sibling along with a failed
// module would only fail more requests (DESIGN.md draws core as
// rest_for_one: that was needed while modules held each other's handles).
// Grouping still matters for the
// intensity rule: a module that keeps failing makes its group give up, and
// then the root stops the whole node instead of running half of it.
// Order matters for start and stop: the store first; the slots stop
// (finishing their reports) while core and store still run; integrations
// start last, when the HTTP API has its address for the links they send.
caf::expected<node> start_node(caf::actor_system& sys, const node_config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir / "work", ec);
  if (ec)
    return caf::make_error(caf::sec::runtime_error,
                           "cannot create " + cfg.data_dir.string() + ": "
                             + ec.message());
  auto lock = cfg.data_lock ? caf::expected<std::shared_ptr<void>>{cfg.data_lock}
                            : lock_data_dir(cfg.data_dir);
  if (!lock)
    return lock.error();
  // Jobs a crashed run of this node left behind must be gone before any
  // worker starts: their runs are requeued as new attempts.
  orphan_options orphans;
  orphans.keep_workspaces = cfg.keep_workspaces;
  auto reaped = reap_orphans(cfg.data_dir / "work", orphans);
  if (reaped.records > 0 || !reaped.errors.empty())
    spdlog::default_logger()->warn(
      "orphaned jobs from a previous run records={} groups_killed={} "
      "processes_killed={} workspaces_removed={} errors={}",
      reaped.records, reaped.groups_killed, reaped.processes_killed,
      reaped.workspaces_removed, reaped.errors.size());
  for (auto& err : reaped.errors)
    spdlog::default_logger()->error("orphan cleanup: {}", err);
  auto w = std::make_shared<wiring>();
  w->cfg = cfg;
  auto& m = w->modules;
  m.tree = spawn_front(sys, "node");
  m.fronts.push_back(m.tree);
  m.store = typed_front<store_actor>(sys, m, "store");
  m.sequencer = typed_front<log_sequencer_actor>(sys, m, "log_sequencer");
  m.scheduler = typed_front<scheduler_actor>(sys, m, "scheduler");
  m.gatekeeper = typed_front<gatekeeper_actor>(sys, m, "gatekeeper");
  auto workers_cfg = supervisor_settings(cfg, "node/workers",
                                         restart_strategy::one_for_one);
  workers_cfg.templates["worker"] = [w](const std::string& id) {
    return worker_child(w, id);
  };
  auto slots = cfg.workers;
  auto edge = cfg.edge;
  auto integrations = cfg.integrations;
  std::vector<child_spec> children;
  children.push_back(store_child(w));
  children.push_back(supervisor_child(
    "core", supervisor_settings(cfg, "node/core", restart_strategy::one_for_one),
    [w] { return core_children(w); }));
  children.push_back(supervisor_child("workers", workers_cfg, [w, slots] {
    std::vector<child_spec> result;
    for (size_t i = 0; i < slots; ++i)
      result.push_back(worker_child(w, "worker-" + std::to_string(i + 1)));
    return result;
  }));
  children.push_back(supervisor_child(
    "edge", supervisor_settings(cfg, "node/edge", restart_strategy::one_for_one),
    [w, edge] {
      std::vector<child_spec> result;
      for (auto& make : edge)
        result.push_back(make(w->modules));
      return result;
    }));
  children.push_back(supervisor_child(
    "integrations",
    supervisor_settings(cfg, "node/integrations", restart_strategy::one_for_one),
    [w, integrations] {
      std::vector<child_spec> result;
      for (auto& make : integrations)
        result.push_back(make(w->modules));
      return result;
    }));
  auto root_cfg = supervisor_settings(cfg, "node", restart_strategy::one_for_one);
  auto sup = start_supervisor(sys, root_cfg, std::move(children));
  if (!sup) {
    for (auto& front : m.fronts)
      caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    return sup.error();
  }
  caf::anon_send(m.tree, front_target_atom::value, *sup);
  node result = m;
  result.supervisor = *sup;
  result.data_lock = *lock;
  return result;
}

void stop_node(node& n) {
  if (!n.supervisor)
    return;
  caf::scoped_actor self{n.supervisor.home_system()};
  self->send_exit(n.supervisor, caf::exit_reason::user_shutdown);
  self->wait_for(n.supervisor);
  for (auto& front : n.fronts) {
    self->send_exit(front, caf::exit_reason::user_shutdown);
    self->wait_for(front);
  }
  n = node{};
}

} // namespace conveyor
