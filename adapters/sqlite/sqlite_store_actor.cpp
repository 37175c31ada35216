#include "adapters/sqlite/sqlite_store_actor.hpp"

#include <memory>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/sqlite/store_logger.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using store_ptr = std::shared_ptr<sqlite_store>;

// Failures are logged by sqlite_store itself, with the operation and its ids.
store_actor::behavior_type sqlite_store_actor(store_actor::pointer self,
                                              store_ptr store) {
  sqlite::store_logger()->info("store started actor_id={} path={}", self->id(),
                               store->path());
  self->attach_functor([store](const caf::error& reason) {
    sqlite::store_logger()->info("store stopped path={} reason=\"{}\"",
                                 store->path(), caf::to_string(reason));
  });
  return {
    [store](create_atom, build_record& x) -> caf::result<build_record> {
      return store->create_build(std::move(x));
    },
    [store](const job_state_changed& x) -> caf::result<bool> {
      return store->apply(x);
    },
    [store](const build_state_changed& x) -> caf::result<bool> {
      return store->apply(x);
    },
    [store](const std::vector<log_part>& xs) -> caf::result<int64_t> {
      return store->append_log_parts(xs);
    },
    [store](complete_atom, int64_t job_id,
            int32_t attempt) -> caf::result<log_completed> {
      return store->complete_log(job_id, attempt);
    },
    [store](fetch_atom, build_atom, int64_t id) -> caf::result<build_record> {
      return store->fetch_build(id);
    },
    [store](fetch_atom, log_atom, int64_t job_id,
            int32_t attempt) -> caf::result<std::string> {
      return store->fetch_log(job_id, attempt);
    },
    [store](fetch_atom, log_atom, int64_t job_id, int32_t attempt,
            int32_t below) -> caf::result<std::string> {
      return store->fetch_log(job_id, attempt, below);
    },
    [store](fetch_atom,
            const build_query& q) -> caf::result<std::vector<build_record>> {
      return store->fetch_builds(q);
    },
    [store](fetch_atom, job_atom, int64_t id) -> caf::result<job_record> {
      return store->fetch_job(id);
    },
    [store](fetch_atom,
            unfinished_atom) -> caf::result<std::vector<build_record>> {
      return store->fetch_unfinished();
    },
    [store](const job_requeue& x) -> caf::result<job_record> {
      return store->requeue(x);
    },
    [store](fetch_atom, metrics_atom) -> caf::result<metric_families> {
      return store->metrics();
    },
  };
}

} // namespace

caf::expected<store_actor> spawn_sqlite_store(caf::actor_system& sys,
                                              const std::string& path) {
  auto store = sqlite_store::open(path);
  if (!store)
    return std::move(store.error());
  auto ptr = std::make_shared<sqlite_store>(std::move(*store));
  // Detached: every handler blocks on SQLite, which must never stall the
  // shared scheduler's threads.
  return sys.spawn<caf::detached>(sqlite_store_actor, std::move(ptr));
}

} // namespace conveyor
