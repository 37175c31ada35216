#include "app/node.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "actors/gatekeeper/gatekeeper_actor.hpp"
#include "actors/log_sequencer/log_sequencer_actor.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/worker/orphans.hpp"
#include "actors/worker/worker_actor.hpp"
#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

// Two nodes on one data directory would each recover the other's running
// jobs and run them again: the second one is refused.
caf::expected<std::shared_ptr<void>>
lock_data_dir(const std::filesystem::path& dir) {
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
  return std::shared_ptr<void>{nullptr, [fd](void*) { ::close(fd); }};
}

template <class Handle>
caf::expected<caf::actor> untyped(const Handle& handle) {
  return caf::actor_cast<caf::actor>(handle);
}

} // namespace

void configure_node_system(caf::actor_system_config& cfg) {
  register_message_types(cfg);
  cfg.set("scheduler.max-threads",
          static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  // One shared queue whose threads wait on a condition variable: with work
  // stealing, idle threads poll in 50 µs sleeps, which perf showed to be a
  // fifth of the coordinator's CPU under load.
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

caf::expected<node> start_node(caf::actor_system& sys, const node_config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir / "work", ec);
  if (ec)
    return caf::make_error(caf::sec::runtime_error,
                           "cannot create " + cfg.data_dir.string() + ": "
                             + ec.message());
  auto lock = lock_data_dir(cfg.data_dir);
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
  // The factories run in order, so each one can use the handles made before.
  node n;
  std::vector<child_spec> children;
  children.push_back({"store", [&n, &cfg](caf::actor_system& s)
                                 -> caf::expected<caf::actor> {
                        auto path = (cfg.data_dir / "conveyor.db").string();
                        auto store = spawn_sqlite_store(s, path);
                        if (!store)
                          return store.error();
                        n.store = *store;
                        return untyped(n.store);
                      }});
  children.push_back({"log_sequencer", [&n](caf::actor_system& s) {
                        n.sequencer = spawn_log_sequencer(s, n.store);
                        return untyped(n.sequencer);
                      }});
  children.push_back({"scheduler", [&n, &cfg](caf::actor_system& s) {
                        scheduler_config scfg;
                        scfg.max_attempts = cfg.max_attempts;
                        n.scheduler = spawn_scheduler(s, scfg, n.store);
                        return untyped(n.scheduler);
                      }});
  for (size_t i = 0; i < cfg.workers; ++i) {
    auto name = "worker-" + std::to_string(i + 1);
    children.push_back({name, [&n, &cfg, name](caf::actor_system& s) {
                          worker_config wcfg;
                          wcfg.name = name;
                          wcfg.workspace_root = cfg.data_dir / "work";
                          wcfg.keep_workspaces = cfg.keep_workspaces;
                          wcfg.kill_grace = cfg.kill_grace;
                          wcfg.noop_executor = cfg.noop_executor;
                          auto worker = spawn_worker(s, wcfg, n.scheduler,
                                                     n.sequencer);
                          caf::anon_send(n.scheduler, register_atom::value,
                                         worker);
                          return untyped(worker);
                        }});
  }
  children.push_back({"gatekeeper", [&n, &cfg](caf::actor_system& s) {
                        gatekeeper_config gcfg;
                        gcfg.limits = cfg.limits;
                        gcfg.mirror_root = cfg.data_dir / "mirrors";
                        n.gatekeeper = spawn_gatekeeper(s, gcfg, n.store,
                                                        n.scheduler);
                        return untyped(n.gatekeeper);
                      }});
  supervisor_config sup_cfg;
  sup_cfg.name = "node";
  // A running job gets the kill grace to stop, plus time to report it.
  sup_cfg.shutdown_timeout = cfg.kill_grace + std::chrono::seconds(5);
  auto sup = start_supervisor(sys, sup_cfg, std::move(children));
  if (!sup)
    return sup.error();
  n.supervisor = *sup;
  n.data_lock = *lock;
  return n;
}

void stop_node(node& n) {
  if (!n.supervisor)
    return;
  caf::scoped_actor self{n.supervisor.home_system()};
  self->send_exit(n.supervisor, caf::exit_reason::user_shutdown);
  self->wait_for(n.supervisor);
  n = node{};
}

} // namespace conveyor
