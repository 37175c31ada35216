#include "adapters/postgres/postgres_store_actor.hpp"

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

#include "adapters/postgres/postgres_store.hpp"
#include "adapters/postgres/store_logger.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

/// Sent by the store actor to itself: commit the writes it holds. Local to
/// the adapter, it never travels.
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// The store actor as spawned: `store_actor` plus its own `flush` and the
/// fault injection of `crash`.
using batching_store_actor
  = store_actor::extend<caf::reacts_to<flush_atom>, caf::reacts_to<crash_atom>>;

using store_ptr = std::shared_ptr<postgres_store>;

/// The most writes committed in one transaction.
constexpr size_t max_batch = 1000;

// -- held writes --------------------------------------------------------------

class held_completion;

// A write waiting for its batch: applied inside the batch's transaction,
// answered once the batch committed (or failed).
class held_write {
public:
  virtual ~held_write() = default;

  virtual void apply(postgres_store& store) = 0;

  // This write if it completes a log, else nullptr.
  virtual held_completion* as_completion() {
    return nullptr;
  }

  // Answers the write's own result, or `batch_error` if there is one.
  virtual void deliver(const caf::error& batch_error) = 0;
};

// Answers a held write: the batch's error, else its own result.
template <class T>
void deliver_result(caf::typed_response_promise<T>& promise,
                    const caf::error& batch_error,
                    std::optional<caf::expected<T>>& result) {
  if (batch_error)
    promise.deliver(batch_error);
  else if (!result) // not reached: write_batch applies all or fails
    promise.deliver(make_error(errc::store_failure, "write not applied"));
  else if (*result)
    promise.deliver(std::move(**result));
  else
    promise.deliver(result->error());
}

template <class T>
class held_write_of : public held_write {
public:
  using function_type = std::function<caf::expected<T>(postgres_store&)>;

  held_write_of(caf::typed_response_promise<T> promise, function_type fun)
    : promise_(std::move(promise)), fun_(std::move(fun)) {
    // nop
  }

  void apply(postgres_store& store) override {
    result_ = fun_(store);
  }

  void deliver(const caf::error& batch_error) override {
    deliver_result(promise_, batch_error, result_);
  }

private:
  caf::typed_response_promise<T> promise_;
  function_type fun_;
  std::optional<caf::expected<T>> result_;
};

// The completion of a log: consecutive ones in a batch are applied together
// (`postgres_store::complete_logs`), each answered with its own result.
class held_completion : public held_write {
public:
  held_completion(caf::typed_response_promise<log_completed> promise,
                  int64_t job_id, int32_t attempt)
    : promise_(std::move(promise)), key_(job_id, attempt) {
    // nop
  }

  void apply(postgres_store& store) override {
    result_ = store.complete_log(key_.first, key_.second);
  }

  held_completion* as_completion() override {
    return this;
  }

  const std::pair<int64_t, int32_t>& key() const {
    return key_;
  }

  void set_result(caf::expected<log_completed> x) {
    result_ = std::move(x);
  }

  void deliver(const caf::error& batch_error) override {
    deliver_result(promise_, batch_error, result_);
  }

private:
  caf::typed_response_promise<log_completed> promise_;
  std::pair<int64_t, int32_t> key_;
  std::optional<caf::expected<log_completed>> result_;
};

// Applies a run of consecutive completions with one `complete_logs`.
void apply_completions(postgres_store& store,
                       const std::vector<held_completion*>& xs) {
  std::vector<std::pair<int64_t, int32_t>> keys;
  keys.reserve(xs.size());
  for (auto* x : xs)
    keys.push_back(x->key());
  auto results = store.complete_logs(keys);
  for (size_t i = 0; i < xs.size(); ++i)
    xs[i]->set_result(std::move(results[i]));
}

// Group commit: holds the writes that arrive, and commits all of them in one
// transaction once the actor has taken every message waiting before its
// `flush`. Answers after COMMIT only, so that nobody acts on a write that a
// crash could still undo.
class write_batcher {
public:
  explicit write_batcher(store_ptr store) : store_(std::move(store)) {
    // nop
  }

  postgres_store& store() {
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

  // Holds the completion of a log and answers its promise.
  caf::result<log_completed> hold_completion(batching_store_actor::pointer self,
                                             int64_t job_id, int32_t attempt) {
    auto promise = self->make_response_promise<log_completed>();
    held_.push_back(std::make_unique<held_completion>(promise, job_id,
                                                      attempt));
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
    // A run of consecutive completions is one write of the batch: the logs
    // completed in one statement. (Consecutive only: the writes keep their
    // order.)
    std::vector<std::vector<held_write*>> steps;
    for (auto& x : batch) {
      if (x->as_completion() != nullptr && !steps.empty()
          && steps.back().front()->as_completion() != nullptr)
        steps.back().push_back(x.get());
      else
        steps.push_back({x.get()});
    }
    auto err = store_->write_batch(steps.size(), [this, &steps](size_t i) {
      const auto& step = steps[i];
      if (step.size() == 1) {
        step.front()->apply(*store_);
        return;
      }
      std::vector<held_completion*> xs;
      xs.reserve(step.size());
      for (auto* x : step)
        xs.push_back(x->as_completion());
      apply_completions(*store_, xs);
    }, count);
    for (auto& x : batch)
      x->deliver(err);
  }

  store_ptr store_;
  std::vector<std::unique_ptr<held_write>> held_;
  bool flush_scheduled_ = false;
};

using batcher_ptr = std::shared_ptr<write_batcher>;

// Stops the actor once its connection is lost: it cannot recover, and its
// supervisor restarts it with a new one. Writes held until then are answered
// with errors by the functor attached at start.
void stop_if_disconnected(batching_store_actor::pointer self,
                          const store_ptr& store) {
  if (store->connected())
    return;
  postgres::store_logger()->error("store connection lost url={}",
                                  store->safe_url());
  self->quit(make_error(errc::store_failure,
                        "the connection to PostgreSQL was lost"));
}

// Answers a read after committing the held writes, so that it sees them.
template <class T, class F>
caf::result<T> read_after_writes(batching_store_actor::pointer self,
                                 const batcher_ptr& b, const store_ptr& store,
                                 F fun) {
  b->flush_all();
  auto result = fun(*store);
  stop_if_disconnected(self, store);
  if (!result)
    return std::move(result.error());
  return std::move(*result);
}

// -- the actor ----------------------------------------------------------------

// Failures are logged by postgres_store itself, with the operation and its ids.
batching_store_actor::behavior_type
postgres_store_actor(batching_store_actor::pointer self, store_ptr store) {
  postgres::store_logger()->info("store started actor_id={} url={}",
                                 self->id(), store->safe_url());
  auto b = std::make_shared<write_batcher>(store);
  // A bug ends the actor with its message, for the supervisor's report.
  self->set_exception_handler(
    [](std::exception_ptr& eptr) { return exit_reason_of(eptr); });
  self->attach_functor([b, store](const caf::error& reason) {
    // Writes held when the actor stops are still committed and answered.
    b->flush_all();
    postgres::store_logger()->info("store stopped url={} reason=\"{}\"",
                                   store->safe_url(), caf::to_string(reason));
  });
  return {
    // Writes: held for the next batch.
    [self, b](create_atom, build_record& x) -> caf::result<build_record> {
      // Copied, not moved, into the store: a batch may run its writes twice.
      return b->hold<build_record>(
        self, [x = std::move(x)](postgres_store& s) {
          return s.create_build(x);
        });
    },
    [self, b](const job_state_changed& x) -> caf::result<bool> {
      return b->hold<bool>(self, [x](postgres_store& s) { return s.apply(x); });
    },
    [self, b](const build_state_changed& x) -> caf::result<bool> {
      return b->hold<bool>(self, [x](postgres_store& s) { return s.apply(x); });
    },
    [self, b](std::vector<log_part>& xs) -> caf::result<int64_t> {
      return b->hold<int64_t>(self, [xs = std::move(xs)](postgres_store& s) {
        return s.append_log_parts(xs);
      });
    },
    [self, b](complete_atom, int64_t job_id,
              int32_t attempt) -> caf::result<log_completed> {
      return b->hold_completion(self, job_id, attempt);
    },
    // Reads: commit the held writes first, so that they are seen.
    [self, b, store](fetch_atom, build_atom,
                     int64_t id) -> caf::result<build_record> {
      return read_after_writes<build_record>(
        self, b, store, [id](postgres_store& s) { return s.fetch_build(id); });
    },
    [self, b, store](fetch_atom, log_atom, int64_t job_id,
                     int32_t attempt) -> caf::result<std::string> {
      return read_after_writes<std::string>(
        self, b, store, [job_id, attempt](postgres_store& s) {
          return s.fetch_log(job_id, attempt);
        });
    },
    [self, b, store](fetch_atom, log_atom, int64_t job_id, int32_t attempt,
                     int32_t below) -> caf::result<std::string> {
      return read_after_writes<std::string>(
        self, b, store, [job_id, attempt, below](postgres_store& s) {
          return s.fetch_log(job_id, attempt, below);
        });
    },
    [self, b, store](fetch_atom, log_atom, unfinished_atom)
      -> caf::result<std::vector<log_progress>> {
      return read_after_writes<std::vector<log_progress>>(
        self, b, store, [](postgres_store& s) { return s.fetch_open_logs(); });
    },
    [self, b, store](fetch_atom, const build_query& q)
      -> caf::result<std::vector<build_record>> {
      return read_after_writes<std::vector<build_record>>(
        self, b, store, [&q](postgres_store& s) { return s.fetch_builds(q); });
    },
    [self, b, store](fetch_atom, job_atom,
                     int64_t id) -> caf::result<job_record> {
      return read_after_writes<job_record>(
        self, b, store, [id](postgres_store& s) { return s.fetch_job(id); });
    },
    [self, b, store](fetch_atom, unfinished_atom)
      -> caf::result<std::vector<build_record>> {
      return read_after_writes<std::vector<build_record>>(
        self, b, store,
        [](postgres_store& s) { return s.fetch_unfinished(); });
    },
    [self, b](const webhook_delivery& x) -> caf::result<bool> {
      return b->hold<bool>(self, [x](postgres_store& s) {
        return s.record_delivery(x);
      });
    },
    [self, b, store](fetch_atom, delivery_atom, int32_t limit)
      -> caf::result<std::vector<webhook_delivery>> {
      return read_after_writes<std::vector<webhook_delivery>>(
        self, b, store,
        [limit](postgres_store& s) { return s.fetch_deliveries(limit); });
    },
    [self, b, store](fetch_atom, outbox_atom, int32_t limit)
      -> caf::result<std::vector<build_record>> {
      return read_after_writes<std::vector<build_record>>(
        self, b, store,
        [limit](postgres_store& s) { return s.fetch_status_outbox(limit); });
    },
    [self, b](outbox_atom, int64_t build_id,
              std::string& state) -> caf::result<bool> {
      return b->hold<bool>(self, [build_id, state](postgres_store& s) {
        return s.mark_status_reported(build_id, state);
      });
    },
    [self, b](const job_requeue& x) -> caf::result<job_record> {
      return b->hold<job_record>(self, [x](postgres_store& s) {
        return s.requeue(x);
      });
    },
    [b](fetch_atom, metrics_atom) -> caf::result<metric_families> {
      b->flush_all();
      return b->store().metrics();
    },
    [self, b, store](flush_atom) {
      b->on_flush(self);
      stop_if_disconnected(self, store);
    },
    [](crash_atom) { throw std::runtime_error("injected fault in store"); },
  };
}

} // namespace

caf::expected<store_actor> spawn_postgres_store(caf::actor_system& sys,
                                                const std::string& url) {
  auto store = postgres_store::open(url);
  if (!store)
    return std::move(store.error());
  auto ptr = std::make_shared<postgres_store>(std::move(*store));
  // Detached: every handler blocks on the database, which must never stall
  // the shared scheduler's threads; the connection lives on this one thread.
  return caf::actor_cast<store_actor>(
    sys.spawn<caf::detached>(postgres_store_actor, std::move(ptr)));
}

} // namespace conveyor
