#include "actors/scheduler/scheduler_actor.hpp"

#include <chrono>
#include <map>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/scheduler/build_result.hpp"
#include "actors/scheduler/job_queue.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

constexpr auto store_timeout = std::chrono::seconds(30);

std::shared_ptr<spdlog::logger> logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("scheduler"))
      return existing;
    auto created = spdlog::default_logger()->clone("scheduler");
    spdlog::register_logger(created);
    return created;
  }();
  return result;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

struct tracked_job {
  job_spec spec;
  job_state state = job_state::created;
  std::optional<size_t> slot; ///< the worker slot running it
};

struct tracked_build {
  std::string request_id;
  bool fast_finish = false;
  build_state state = build_state::created;
  std::vector<int64_t> job_ids;
};

struct worker_slot {
  worker_actor worker;
  std::optional<int64_t> job_id; ///< the job it runs, if busy
};

struct scheduler_state {
  static inline const char* name = "scheduler";

  store_actor store;
  job_queue queue;
  std::map<int64_t, tracked_job> jobs;
  std::map<int64_t, tracked_build> builds;
  std::vector<worker_slot> slots;
  std::vector<build_listener_actor> listeners;
};

using scheduler_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

template <class Event>
void tell_listeners(scheduler_ptr self, const Event& event) {
  for (auto& listener : self->state.listeners)
    caf::anon_send(listener, event);
}

void persist_job(scheduler_ptr self, job_state_changed event);

// -- slots and dispatch -------------------------------------------------------

// Pops queued jobs until one is still waiting to run (a job canceled while its
// queued transition was being stored can still be in the queue).
std::optional<job_spec> next_runnable(scheduler_state& st) {
  while (auto next = st.queue.pop()) {
    auto tracked = st.jobs.find(next->job_id);
    if (tracked != st.jobs.end() && tracked->second.state == job_state::queued)
      return next;
  }
  return std::nullopt;
}

void dispatch(scheduler_ptr self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.slots.size() && st.queue.size() > 0; ++i) {
    auto& slot = st.slots[i];
    if (slot.job_id || !slot.worker)
      continue;
    auto next = next_runnable(st);
    if (!next)
      return;
    slot.job_id = next->job_id;
    st.jobs.at(next->job_id).slot = i;
    logger()->info("assigning job request_id={} job_id={} number={} slot={}",
                   next->request_id, next->job_id, job_number(*next), i);
    self->send(slot.worker, run_atom::value, *next);
  }
}

void free_slot_of(scheduler_ptr self, int64_t job_id) {
  auto& st = self->state;
  for (auto& slot : st.slots)
    if (slot.job_id == job_id)
      slot.job_id.reset();
  if (auto i = st.jobs.find(job_id); i != st.jobs.end())
    i->second.slot.reset();
  dispatch(self);
}

// -- builds -------------------------------------------------------------------

void forget_if_done(scheduler_ptr self, int64_t build_id) {
  auto& st = self->state;
  auto build = st.builds.find(build_id);
  if (build == st.builds.end() || !is_terminal(build->second.state))
    return;
  for (auto id : build->second.job_ids)
    if (auto job = st.jobs.find(id);
        job != st.jobs.end() && !is_terminal(job->second.state))
      return;
  for (auto id : build->second.job_ids)
    st.jobs.erase(id);
  st.builds.erase(build);
}

void persist_build(scheduler_ptr self, build_state_changed event) {
  self->request(self->state.store, store_timeout, event)
    .then(
      [self, event](bool applied) {
        if (!applied)
          return;
        logger()->info("build {} build_id={}", to_string(event.state),
                       event.build_id);
        tell_listeners(self, event);
        forget_if_done(self, event.build_id);
      },
      [event](const caf::error& err) {
        logger()->error("storing build state failed build_id={} error={}",
                        event.build_id, describe(err));
      });
}

void update_build(scheduler_ptr self, int64_t build_id) {
  auto& st = self->state;
  auto i = st.builds.find(build_id);
  if (i == st.builds.end())
    return;
  auto& build = i->second;
  if (is_terminal(build.state)) {
    forget_if_done(self, build_id);
    return;
  }
  std::vector<job_outcome> outcomes;
  auto any_started = false;
  for (auto id : build.job_ids) {
    auto& job = st.jobs.at(id);
    outcomes.push_back({job.state, job.spec.allow_failure});
    any_started = any_started || job.state >= job_state::started;
  }
  if (auto result = decide_build(outcomes, build.fast_finish)) {
    build.state = *result;
    persist_build(self, {build_id, *result, now_ms()});
  } else if (any_started && build.state == build_state::created) {
    build.state = build_state::started;
    persist_build(self, {build_id, build_state::started, now_ms()});
  }
}

// -- jobs ---------------------------------------------------------------------

// Acts on a transition the store has applied.
void on_job_changed(scheduler_ptr self, const job_state_changed& event) {
  auto& st = self->state;
  auto i = st.jobs.find(event.job_id);
  if (i == st.jobs.end())
    return;
  auto& job = i->second;
  job.state = event.state;
  logger()->info("job {} request_id={} job_id={} number={}{}{}",
                 to_string(event.state), job.spec.request_id, event.job_id,
                 job_number(job.spec), event.reason.empty() ? "" : " reason=",
                 event.reason);
  tell_listeners(self, event);
  if (event.state == job_state::queued) {
    st.queue.push(job.spec);
    dispatch(self);
  }
  update_build(self, job.spec.build_id);
}

void persist_job(scheduler_ptr self, job_state_changed event) {
  self->request(self->state.store, store_timeout, event)
    .then(
      [self, event](bool applied) {
        if (is_terminal(event.state))
          free_slot_of(self, event.job_id);
        if (applied)
          on_job_changed(self, event);
        else
          logger()->debug("ignoring stale news job_id={} attempt={} state={}",
                          event.job_id, event.attempt, to_string(event.state));
      },
      [self, event](const caf::error& err) {
        logger()->error("storing job state failed job_id={} state={} error={}",
                        event.job_id, to_string(event.state), describe(err));
        if (is_terminal(event.state))
          free_slot_of(self, event.job_id);
      });
}

void enqueue(scheduler_ptr self, const build_record& build) {
  auto& st = self->state;
  if (st.builds.count(build.id) > 0)
    return;
  auto& tracked = st.builds[build.id];
  tracked.request_id = build.request.request_id;
  tracked.fast_finish = build.fast_finish;
  tracked.state = build.state;
  for (auto& job : build.jobs) {
    tracked.job_ids.push_back(job.spec.job_id);
    st.jobs[job.spec.job_id] = tracked_job{job.spec, job.state, std::nullopt};
  }
  logger()->info("build enqueued request_id={} build_id={} jobs={}",
                 build.request.request_id, build.id, build.jobs.size());
  for (auto& job : build.jobs)
    if (job.state == job_state::created)
      persist_job(self, {job.spec.job_id, job.spec.attempt, job_state::queued,
                         now_ms(), -1, ""});
  update_build(self, build.id);
}

bool cancel_job(scheduler_ptr self, int64_t job_id, const std::string& why) {
  auto& st = self->state;
  auto i = st.jobs.find(job_id);
  if (i == st.jobs.end() || is_terminal(i->second.state))
    return false;
  auto& job = i->second;
  if (job.slot) {
    self->send(st.slots[*job.slot].worker, cancel_atom::value, job_id,
               job.spec.attempt);
  } else {
    st.queue.remove(job_id);
    persist_job(self, {job_id, job.spec.attempt, job_state::canceled, now_ms(),
                       -1, why});
  }
  return true;
}

// -- monitors -----------------------------------------------------------------

void on_down(scheduler_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto& ls = st.listeners;
  ls.erase(std::remove_if(ls.begin(), ls.end(),
                          [&msg](const build_listener_actor& x) {
                            return x.address() == msg.source;
                          }),
           ls.end());
  for (size_t i = 0; i < st.slots.size(); ++i) {
    if (st.slots[i].worker.address() != msg.source)
      continue;
    // A lost slot's job cannot finish: it is errored (requeueing as a new
    // attempt comes with supervision).
    if (auto job_id = st.slots[i].job_id) {
      auto& job = st.jobs.at(*job_id);
      persist_job(self, {*job_id, job.spec.attempt, job_state::errored,
                         now_ms(), -1, "worker lost"});
    }
    st.slots[i].job_id.reset();
    st.slots[i].worker = nullptr;
  }
}

scheduler_actor::behavior_type scheduler(scheduler_ptr self, store_actor store) {
  self->state.store = std::move(store);
  self->set_down_handler([self](const caf::down_msg& msg) { on_down(self, msg); });
  return {
    [self](enqueue_atom, const build_record& build) { enqueue(self, build); },
    [self](job_state_changed& event) { persist_job(self, std::move(event)); },
    [self](register_atom, worker_actor& worker) {
      self->monitor(worker);
      self->state.slots.push_back({std::move(worker), std::nullopt});
      dispatch(self);
    },
    [self](subscribe_atom, build_listener_actor& listener) {
      self->monitor(listener);
      self->state.listeners.push_back(std::move(listener));
    },
    [self](cancel_atom, build_atom, int64_t build_id) {
      auto i = self->state.builds.find(build_id);
      if (i == self->state.builds.end())
        return false;
      auto any = false;
      for (auto job_id : i->second.job_ids)
        any = cancel_job(self, job_id, "build canceled") || any;
      return any;
    },
    [self](cancel_atom, job_atom, int64_t job_id) {
      return cancel_job(self, job_id, "job canceled");
    },
  };
}

} // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys, store_actor store) {
  return sys.spawn(scheduler, std::move(store));
}

} // namespace conveyor
