#include "adapters/sqlite/sqlite_store_actor.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/sqlite/store_logger.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

/// Sent by the store actor to itself: commit the writes it holds. Local to
/// the adapter, it never travels.
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// The store actor as spawned: `store_actor` plus its own `flush`.
using batching_store_actor
  = store_actor::extend<caf::reacts_to<flush_atom>, caf::reacts_to<crash_atom>>;

using store_ptr = std::shared_ptr<sqlite_store>;

/// The most writes committed in one transaction.
constexpr size_t max_batch = 1000;

// -- held writes --------------------------------------------------------------

// A write waiting for its batch: applied inside the batch's transaction,
// answered once the batch committed (or failed).
class held_write {
public:
  virtual ~held_write() = default;

  virtual void apply(sqlite_store& store) = 0;

  // Answers the write's own result, or `batch_error` if there is one.
  virtual void deliver(const caf::error& batch_error) = 0;
};

template <class T>
class held_write_of : public held_write {
public:
  using function_type = std::function<caf::expected<T>(sqlite_store&)>;

  held_write_of(caf::typed_response_promise<T> promise, function_type fun)
    : promise_(std::move(promise)), fun_(std::move(fun)) {
    // nop
  }

  void apply(sqlite_store& store) override {
    result_ = fun_(store);
  }

  void deliver(const caf::error& batch_error) override {
    if (batch_error)
      promise_.deliver(batch_error);
    else if (!result_) // not reached: write_batch applies all or fails
      promise_.deliver(make_error(errc::store_failure, "write not applied"));
    else if (*result_)
      promise_.deliver(std::move(**result_));
    else
      promise_.deliver(result_->error());
  }

private:
  caf::typed_response_promise<T> promise_;
  function_type fun_;
  std::optional<caf::expected<T>> result_;
};

// Group commit: holds the writes that arrive, and commits all of them in one
// transaction once the actor has taken every message waiting before its
// `flush`. Answers after COMMIT only, so that nobody acts on a write that a
// crash could still undo.
class write_batcher {
public:
  explicit write_batcher(store_ptr store) : store_(std::move(store)) {
    // nop
  }

  sqlite_store& store() {
    return *store_;
  }

  // Holds the write `fun` of the current request and answers its promise.
  template <class T>
  caf::result<T> hold(batching_store_actor::pointer self,
                      typename held_write_of<T>::function_type fun) {
    auto promise = self->make_response_promise<T>();
    held_.push_back(std::make_unique<held_write_of<T>>(promise,
                                                       std::move(fun)));
    schedule_flush(self);
    return promise;
  }

  // Handles the actor's `flush`: commits a batch, and asks for another
  // flush if writes remain.
  void on_flush(batching_store_actor::pointer self) {
    flush_scheduled_ = false;
    commit_batch();
    if (!held_.empty())
      schedule_flush(self);
  }

  // Commits every held write: a read must see every write before it.
  void flush_all() {
    while (!held_.empty())
      commit_batch();
  }

private:
  void schedule_flush(batching_store_actor::pointer self) {
    if (flush_scheduled_)
      return;
    // The mailbox is FIFO: the flush comes after every message already
    // waiting, so that all the writes among them share the transaction.
    self->send(self, flush_atom::value);
    flush_scheduled_ = true;
  }

  void commit_batch() {
    auto count = std::min(held_.size(), max_batch);
    if (count == 0)
      return;
    std::vector<std::unique_ptr<held_write>> batch;
    batch.reserve(count);
    auto last = held_.begin() + static_cast<std::ptrdiff_t>(count);
    std::move(held_.begin(), last, std::back_inserter(batch));
    held_.erase(held_.begin(), last);
    auto err = store_->write_batch(count, [this, &batch](size_t i) {
      batch[i]->apply(*store_);
    });
    for (auto& x : batch)
      x->deliver(err);
  }

  store_ptr store_;
  std::vector<std::unique_ptr<held_write>> held_;
  bool flush_scheduled_ = false;
};

using batcher_ptr = std::shared_ptr<write_batcher>;

// -- the actor ----------------------------------------------------------------

// Failures are logged by sqlite_store itself, with the operation and its ids.
batching_store_actor::behavior_type
sqlite_store_actor(batching_store_actor::pointer self, store_ptr store) {
  sqlite::store_logger()->info("store started actor_id={} path={}", self->id(),
                               store->path());
  auto b = std::make_shared<write_batcher>(store);
  // A bug ends the actor with its message, for the supervisor's report.
  self->set_exception_handler(
    [](std::exception_ptr& eptr) { return exit_reason_of(eptr); });
  self->attach_functor([b, store](const caf::error& reason) {
    // Writes held when the actor stops are still committed and answered.
    b->flush_all();
    sqlite::store_logger()->info("store stopped path={} reason=\"{}\"",
                                 store->path(), caf::to_string(reason));
  });
  return {
    // Writes: held for the next batch.
    [self, b](create_atom, build_record& x) -> caf::result<build_record> {
      return b->hold<build_record>(
        self, [x = std::move(x)](sqlite_store& s) mutable {
          return s.create_build(std::move(x));
        });
    },
    [self, b](const job_state_changed& x) -> caf::result<bool> {
      return b->hold<bool>(self, [x](sqlite_store& s) { return s.apply(x); });
    },
    [self, b](const build_state_changed& x) -> caf::result<bool> {
      return b->hold<bool>(self, [x](sqlite_store& s) { return s.apply(x); });
    },
    [self, b](std::vector<log_part>& xs) -> caf::result<int64_t> {
      return b->hold<int64_t>(self, [xs = std::move(xs)](sqlite_store& s) {
        return s.append_log_parts(xs);
      });
    },
    [self, b](complete_atom, int64_t job_id,
              int32_t attempt) -> caf::result<log_completed> {
      return b->hold<log_completed>(self, [job_id, attempt](sqlite_store& s) {
        return s.complete_log(job_id, attempt);
      });
    },
    // Reads: commit the held writes first, so that they are seen.
    [b](fetch_atom, build_atom, int64_t id) -> caf::result<build_record> {
      b->flush_all();
      return b->store().fetch_build(id);
    },
    [b](fetch_atom, log_atom, int64_t job_id,
        int32_t attempt) -> caf::result<std::string> {
      b->flush_all();
      return b->store().fetch_log(job_id, attempt);
    },
    [b](fetch_atom, log_atom, int64_t job_id, int32_t attempt,
        int32_t below) -> caf::result<std::string> {
      b->flush_all();
      return b->store().fetch_log(job_id, attempt, below);
    },
    [b](fetch_atom, log_atom,
        unfinished_atom) -> caf::result<std::vector<log_progress>> {
      b->flush_all();
      return b->store().fetch_open_logs();
    },
    [b](fetch_atom,
        const build_query& q) -> caf::result<std::vector<build_record>> {
      b->flush_all();
      return b->store().fetch_builds(q);
    },
    [b](fetch_atom, job_atom, int64_t id) -> caf::result<job_record> {
      b->flush_all();
      return b->store().fetch_job(id);
    },
    [b](fetch_atom, unfinished_atom) -> caf::result<std::vector<build_record>> {
      b->flush_all();
      return b->store().fetch_unfinished();
    },
    [self, b](const webhook_delivery& x) -> caf::result<bool> {
      return b->hold<bool>(self,
                           [x](sqlite_store& s) { return s.record_delivery(x); });
    },
    [b](fetch_atom, delivery_atom,
        int32_t limit) -> caf::result<std::vector<webhook_delivery>> {
      b->flush_all();
      return b->store().fetch_deliveries(limit);
    },
    [b](fetch_atom, outbox_atom,
        int32_t limit) -> caf::result<std::vector<build_record>> {
      b->flush_all();
      return b->store().fetch_status_outbox(limit);
    },
    [self, b](outbox_atom, int64_t build_id,
              std::string& state) -> caf::result<bool> {
      return b->hold<bool>(self, [build_id, state](sqlite_store& s) {
        return s.mark_status_reported(build_id, state);
      });
    },
    [self, b](const job_requeue& x) -> caf::result<job_record> {
      return b->hold<job_record>(self,
                                 [x](sqlite_store& s) { return s.requeue(x); });
    },
    [b](fetch_atom, metrics_atom) -> caf::result<metric_families> {
      b->flush_all();
      return b->store().metrics();
    },
    [self, b](flush_atom) { b->on_flush(self); },
    [](crash_atom) { throw std::runtime_error("injected fault in store"); },
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
  return caf::actor_cast<store_actor>(
    sys.spawn<caf::detached>(sqlite_store_actor, std::move(ptr)));
}

} // namespace conveyor
