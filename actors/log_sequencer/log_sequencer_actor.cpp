#include "actors/log_sequencer/log_sequencer_actor.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/log_sequencer/batching.hpp"
#include "actors/log_sequencer/reorder_buffer.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using log_key = std::pair<int64_t, int32_t>;

struct log_key_hash {
  size_t operator()(const log_key& k) const {
    return std::hash<int64_t>{}(k.first) * 31 + std::hash<int32_t>{}(k.second);
  }
};

/// Parts per store write, and their bytes (at most one part more); more wait
/// for the next batch. Large batches keep a PostgreSQL store's round trips
/// per part few (a COPY costs three whatever its size).
constexpr size_t max_batch = 8000;
constexpr size_t max_batch_bytes = 16 * 1024 * 1024;

/// Store writes in flight at once: while the store writes one batch, the next
/// one already waits in its mailbox (and may share its transaction), so that
/// the store never idles while the sequencer handles an answer.
constexpr size_t max_batches_in_flight = 2;

/// How many finished logs to remember, so that late duplicates of their parts
/// do not open a new, never-completing log.
constexpr size_t remembered_logs = 10000;

constexpr auto store_timeout = std::chrono::seconds(30);
constexpr auto retry_delay = std::chrono::milliseconds(200);

std::shared_ptr<spdlog::logger> logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("log_sequencer"))
      return existing;
    auto created = spdlog::default_logger()->clone("log_sequencer");
    spdlog::register_logger(created);
    return created;
  }();
  return result;
}

using flush_atom = caf::atom_constant<caf::atom("flush")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;

struct sequencer_counters {
  double parts_received = 0;
  double bytes_received = 0;
  double parts_released = 0;
  double parts_dropped = 0;
  double logs_completed = 0;
  double write_batches = 0;
  double write_failures = 0;
};

/// The answer a worker waits for: its part is stored.
using ack = caf::typed_response_promise<bool>;

struct sequencer_state {
  static inline const char* name = "log_sequencer";

  store_actor store;
  bool recovered = false; ///< the open logs of a predecessor are resumed
  std::unordered_map<log_key, reorder_buffer, log_key_hash> logs;
  std::vector<log_part> unsaved;
  std::vector<ack> unsaved_acks;  ///< answers owed for `unsaved`
  /// Answers owed for the batches in flight, by batch number.
  std::map<uint64_t, std::vector<ack>> writing;
  uint64_t next_batch = 0;
  std::vector<log_listener_actor> listeners;          ///< of every log
  std::map<log_key, std::vector<log_listener_actor>> followers; ///< of one
  std::unordered_set<log_key, log_key_hash> finished;
  std::deque<log_key> finished_order;
  sequencer_counters counters;
  std::optional<caf::error> stopping; ///< why it quits once all is stored

  bool is_finished(const log_key& key) const {
    return finished.count(key) > 0;
  }

  void remember_finished(const log_key& key) {
    if (!finished.insert(key).second)
      return;
    finished_order.push_back(key);
    if (finished_order.size() > remembered_logs) {
      finished.erase(finished_order.front());
      finished_order.pop_front();
    }
  }

  template <class Message>
  void tell(const log_key& key, const Message& msg) {
    for (auto& listener : listeners)
      caf::anon_send(listener, msg);
    if (auto i = followers.find(key); i != followers.end())
      for (auto& follower : i->second)
        caf::anon_send(follower, msg);
  }

  void forget_listener(const caf::actor_addr& who) {
    auto gone = [&who](const log_listener_actor& x) {
      return x.address() == who;
    };
    listeners.erase(std::remove_if(listeners.begin(), listeners.end(), gone),
                    listeners.end());
    for (auto i = followers.begin(); i != followers.end();) {
      auto& xs = i->second;
      xs.erase(std::remove_if(xs.begin(), xs.end(), gone), xs.end());
      i = xs.empty() ? followers.erase(i) : std::next(i);
    }
  }

  size_t waiting_parts() const {
    auto result = unsaved.size();
    for (auto& [key, buffer] : logs)
      result += buffer.waiting();
    return result;
  }
};

// The flush message is local only, so the actor's public interface stays the
// one in messages/; the extended type is what the actor really is.
using sequencer_impl = log_sequencer_actor::extend<
  caf::reacts_to<flush_atom>, caf::reacts_to<complete_atom, int64_t, int32_t>,
  caf::reacts_to<recover_atom>, caf::reacts_to<crash_atom>>;
using sequencer_ptr = sequencer_impl::stateful_pointer<sequencer_state>;

// Has the store aggregate a complete log; retried until it succeeds (the
// aggregation is idempotent), so a listener waiting for it is never stranded.
void complete_log(sequencer_ptr self, log_key key) {
  self->request(self->state.store, store_timeout, complete_atom::value,
                key.first, key.second)
    .then(
      [self, key](const log_completed& done) {
        logger()->debug("log complete job_id={} attempt={} parts={} bytes={}",
                        done.job_id, done.attempt, done.parts, done.bytes);
        auto& st = self->state;
        st.counters.logs_completed += 1;
        st.tell(key, done);
        st.followers.erase(key);
      },
      [self, key](const caf::error& err) {
        logger()->error("aggregating log failed, retrying job_id={} attempt={} "
                        "error={}",
                        key.first, key.second, describe(err));
        self->delayed_send(self, retry_delay, complete_atom::value, key.first,
                           key.second);
      });
}

void finish_log(sequencer_ptr self, log_key key) {
  auto& st = self->state;
  st.counters.parts_dropped += st.logs[key].dropped();
  st.logs.erase(key);
  st.remember_finished(key);
  complete_log(self, key);
}

// Releases stored parts to listeners, in order per log.
void release(sequencer_ptr self, std::vector<log_part> stored) {
  auto& st = self->state;
  for (auto& part : stored) {
    log_key key{part.job_id, part.attempt};
    if (st.is_finished(key))
      continue;
    auto& buffer = st.logs[key];
    for (auto& ready : buffer.push(std::move(part))) {
      st.counters.parts_released += 1;
      st.tell(key, ready);
    }
    if (buffer.complete())
      finish_log(self, key);
  }
}

void write_batch(sequencer_ptr self);

// Sends the next batch of unsaved parts to the store.
void send_batch(sequencer_ptr self) {
  auto& st = self->state;
  auto count = next_batch_size(st.unsaved, max_batch, max_batch_bytes);
  std::vector<log_part> batch;
  std::vector<ack> acks;
  if (count == st.unsaved.size()) {
    batch.swap(st.unsaved);
    acks.swap(st.unsaved_acks);
  } else {
    auto split = st.unsaved.begin() + static_cast<std::ptrdiff_t>(count);
    batch.assign(std::make_move_iterator(st.unsaved.begin()),
                 std::make_move_iterator(split));
    st.unsaved.erase(st.unsaved.begin(), split);
    auto acks_split = st.unsaved_acks.begin()
                      + static_cast<std::ptrdiff_t>(count);
    acks.assign(std::make_move_iterator(st.unsaved_acks.begin()),
                std::make_move_iterator(acks_split));
    st.unsaved_acks.erase(st.unsaved_acks.begin(), acks_split);
  }
  auto id = st.next_batch++;
  st.writing.emplace(id, std::move(acks));
  st.counters.write_batches += 1;
  // The message gets the one copy; both handlers share the batch.
  auto parts = std::make_shared<std::vector<log_part>>(std::move(batch));
  self->request(st.store, store_timeout, *parts)
    .then(
      [self, id, parts](int64_t) {
        auto& st = self->state;
        auto i = st.writing.find(id);
        for (auto& x : i->second)
          x.deliver(true);
        st.writing.erase(i);
        release(self, std::move(*parts));
        write_batch(self);
      },
      [self, id, parts](const caf::error& err) {
        logger()->error("storing {} log parts failed, retrying error={}",
                        parts->size(), describe(err));
        auto& st = self->state;
        auto i = st.writing.find(id);
        st.counters.write_failures += 1;
        st.unsaved.insert(st.unsaved.begin(),
                          std::make_move_iterator(parts->begin()),
                          std::make_move_iterator(parts->end()));
        st.unsaved_acks.insert(st.unsaved_acks.begin(),
                               std::make_move_iterator(i->second.begin()),
                               std::make_move_iterator(i->second.end()));
        st.writing.erase(i);
        self->delayed_send(self, retry_delay, flush_atom::value);
      });
}

void write_batch(sequencer_ptr self) {
  auto& st = self->state;
  // Until the open logs are resumed, parts wait: released now, they would
  // open logs at number 0 whose start is in the store already.
  if (!st.recovered)
    return;
  while (!st.unsaved.empty() && st.writing.size() < max_batches_in_flight)
    send_batch(self);
  if (st.unsaved.empty() && st.writing.empty() && st.stopping)
    self->quit(*st.stopping);
}

// Resumes the logs a predecessor left open (what the store holds of them),
// completes those that are whole, then lets the waiting parts through.
void recover(sequencer_ptr self) {
  self->request(self->state.store, store_timeout, fetch_atom::value,
                log_atom::value, unfinished_atom::value)
    .then(
      [self](const std::vector<log_progress>& open) {
        auto& st = self->state;
        for (auto& log : open) {
          log_key key{log.job_id, log.attempt};
          auto& buffer = st.logs[key];
          buffer.resume(log.stored, log.final_number);
          if (buffer.complete())
            finish_log(self, key);
        }
        st.recovered = true;
        logger()->info("resumed open_logs={} waiting_parts={}", open.size(),
                       st.unsaved.size());
        write_batch(self);
      },
      [self](const caf::error& err) {
        logger()->error("resuming open logs failed, retrying error={}",
                        describe(err));
        self->delayed_send(self, retry_delay, recover_atom::value);
      });
}

metric_families metrics_of(const sequencer_state& st) {
  auto counter = [](std::string name, std::string help, double value) {
    return metric_family{std::move(name), std::move(help), "counter",
                         {metric_sample{"", {}, value}}};
  };
  auto& c = st.counters;
  return {
    counter("conveyor_log_parts_received_total",
            "Log parts received from workers, duplicates included.",
            c.parts_received),
    counter("conveyor_log_bytes_received_total",
            "Bytes of log content received from workers.", c.bytes_received),
    counter("conveyor_log_parts_released_total",
            "Log parts stored and told to listeners in order.",
            c.parts_released),
    counter("conveyor_log_parts_dropped_total",
            "Duplicate log parts and parts past a final one.", c.parts_dropped),
    counter("conveyor_logs_completed_total",
            "Logs whose every part is stored and aggregated.", c.logs_completed),
    counter("conveyor_log_write_batches_total",
            "Batches of log parts sent to the store.", c.write_batches),
    counter("conveyor_log_write_failures_total",
            "Batches the store failed to write (retried).", c.write_failures),
    metric_family{"conveyor_log_parts_waiting",
                  "Log parts not yet stored or waiting for a gap to fill.",
                  "gauge",
                  {metric_sample{"", {}, static_cast<double>(st.waiting_parts())}}},
    metric_family{"conveyor_logs_open", "Logs that are not complete yet.",
                  "gauge",
                  {metric_sample{"", {}, static_cast<double>(st.logs.size())}}},
  };
}

sequencer_impl::behavior_type sequencer(sequencer_ptr self, store_actor store) {
  self->state.store = std::move(store);
  self->set_down_handler([self](const caf::down_msg& msg) {
    self->state.forget_listener(msg.source);
  });
  // Whatever kills it, the workers waiting for their parts to be stored are
  // answered, so that they send them again to its successor at once.
  self->set_exception_handler([self](std::exception_ptr& eptr) -> caf::error {
    auto what = describe(eptr);
    auto& st = self->state;
    auto unstored = st.unsaved_acks.size();
    for (auto& [id, acks] : st.writing)
      unstored += acks.size();
    logger()->error("failing error=\"{}\" unstored_parts={}", what,
                    unstored);
    auto err = make_error(errc::unavailable, "the log sequencer failed");
    for (auto& x : st.unsaved_acks)
      x.deliver(err);
    for (auto& [id, acks] : st.writing)
      for (auto& x : acks)
        x.deliver(err);
    st.unsaved_acks.clear();
    st.writing.clear();
    return exit_reason_of(eptr);
  });
  // Asked to stop, it first stores the parts it holds: nothing half-written.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::kill) {
      self->quit(msg.reason);
      return;
    }
    auto& st = self->state;
    if (!st.recovered) {
      // Nothing can be stored yet: the workers send their parts again.
      for (auto& x : st.unsaved_acks)
        x.deliver(make_error(errc::unavailable, "the log sequencer stopped"));
      st.unsaved_acks.clear();
      self->quit(msg.reason);
      return;
    }
    logger()->info("stopping after storing {} pending parts",
                   st.unsaved.size());
    st.stopping = msg.reason;
    write_batch(self);
  });
  recover(self);
  return {
    [self](log_part& part) -> caf::result<bool> {
      auto& st = self->state;
      st.counters.parts_received += 1;
      st.counters.bytes_received += static_cast<double>(part.content.size());
      if (st.is_finished({part.job_id, part.attempt})) {
        st.counters.parts_dropped += 1;
        return true;
      }
      st.unsaved.push_back(std::move(part));
      st.unsaved_acks.push_back(self->make_response_promise<bool>());
      write_batch(self);
      return st.unsaved_acks.back();
    },
    [self](subscribe_atom, log_listener_actor& listener) {
      self->monitor(listener);
      self->state.listeners.push_back(std::move(listener));
      return true;
    },
    [self](subscribe_atom, log_atom, int64_t job_id, int32_t attempt,
           log_listener_actor& listener) -> int32_t {
      auto& st = self->state;
      log_key key{job_id, attempt};
      if (st.is_finished(key))
        return -1;
      self->monitor(listener);
      st.followers[key].push_back(std::move(listener));
      auto i = st.logs.find(key);
      return i == st.logs.end() ? 0 : i->second.next_expected();
    },
    [self](fetch_atom, metrics_atom) { return metrics_of(self->state); },
    [self](flush_atom) { write_batch(self); },
    [self](complete_atom, int64_t job_id, int32_t attempt) {
      complete_log(self, {job_id, attempt});
    },
    [self](recover_atom) { recover(self); },
    [](crash_atom) {
      throw std::runtime_error("injected fault in log sequencer");
    },
  };
}

} // namespace

log_sequencer_actor spawn_log_sequencer(caf::actor_system& sys,
                                        store_actor store) {
  return caf::actor_cast<log_sequencer_actor>(
    sys.spawn(sequencer, std::move(store)));
}

} // namespace conveyor
