#include "actors/log_sequencer/log_sequencer_actor.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/log_sequencer/reorder_buffer.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using log_key = std::pair<int64_t, int32_t>;

/// Parts per store write; more wait for the next batch.
constexpr size_t max_batch = 2000;

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

struct sequencer_state {
  static inline const char* name = "log_sequencer";

  store_actor store;
  std::map<log_key, reorder_buffer> logs;
  std::vector<log_part> unsaved;
  bool writing = false;
  std::vector<log_listener_actor> listeners;
  std::set<log_key> finished;
  std::deque<log_key> finished_order;

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
};

// The flush message is local only, so the actor's public interface stays the
// one in messages/; the extended type is what the actor really is.
using sequencer_impl
  = log_sequencer_actor::extend<caf::reacts_to<flush_atom>>;
using sequencer_ptr = sequencer_impl::stateful_pointer<sequencer_state>;

template <class Message>
void tell_listeners(sequencer_ptr self, const Message& msg) {
  for (auto& listener : self->state.listeners)
    caf::anon_send(listener, msg);
}

void finish_log(sequencer_ptr self, log_key key) {
  self->state.logs.erase(key);
  self->state.remember_finished(key);
  self->request(self->state.store, store_timeout, complete_atom::value,
                key.first, key.second)
    .then(
      [self](const log_completed& done) {
        logger()->debug("log complete job_id={} attempt={} parts={} bytes={}",
                        done.job_id, done.attempt, done.parts, done.bytes);
        tell_listeners(self, done);
      },
      [key](const caf::error& err) {
        logger()->error("aggregating log failed job_id={} attempt={} error={}",
                        key.first, key.second, describe(err));
      });
}

// Releases stored parts to listeners, in order per log.
void release(sequencer_ptr self, std::vector<log_part> stored) {
  for (auto& part : stored) {
    log_key key{part.job_id, part.attempt};
    if (self->state.is_finished(key))
      continue;
    auto& buffer = self->state.logs[key];
    for (auto& ready : buffer.push(std::move(part)))
      tell_listeners(self, ready);
    if (buffer.complete())
      finish_log(self, key);
  }
}

void write_batch(sequencer_ptr self) {
  auto& st = self->state;
  if (st.writing || st.unsaved.empty())
    return;
  std::vector<log_part> batch;
  if (st.unsaved.size() <= max_batch) {
    batch.swap(st.unsaved);
  } else {
    auto split = st.unsaved.begin() + max_batch;
    batch.assign(std::make_move_iterator(st.unsaved.begin()),
                 std::make_move_iterator(split));
    st.unsaved.erase(st.unsaved.begin(), split);
  }
  st.writing = true;
  self->request(st.store, store_timeout, batch)
    .then(
      [self, batch](int64_t) mutable {
        self->state.writing = false;
        release(self, std::move(batch));
        write_batch(self);
      },
      [self, batch](const caf::error& err) mutable {
        logger()->error("storing {} log parts failed, retrying error={}",
                        batch.size(), describe(err));
        auto& st = self->state;
        st.writing = false;
        st.unsaved.insert(st.unsaved.begin(),
                          std::make_move_iterator(batch.begin()),
                          std::make_move_iterator(batch.end()));
        self->delayed_send(self, retry_delay, flush_atom::value);
      });
}

sequencer_impl::behavior_type sequencer(sequencer_ptr self, store_actor store) {
  self->state.store = std::move(store);
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& ls = self->state.listeners;
    ls.erase(std::remove_if(ls.begin(), ls.end(),
                            [&msg](const log_listener_actor& x) {
                              return x.address() == msg.source;
                            }),
             ls.end());
  });
  return {
    [self](log_part& part) {
      if (self->state.is_finished({part.job_id, part.attempt}))
        return;
      self->state.unsaved.push_back(std::move(part));
      write_batch(self);
    },
    [self](subscribe_atom, log_listener_actor& listener) {
      self->monitor(listener);
      self->state.listeners.push_back(std::move(listener));
    },
    [self](flush_atom) { write_batch(self); },
  };
}

} // namespace

log_sequencer_actor spawn_log_sequencer(caf::actor_system& sys,
                                        store_actor store) {
  return sys.spawn(sequencer, std::move(store));
}

} // namespace conveyor
