#include "actors/scheduler/scheduler_actor.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/scheduler/build_result.hpp"
#include "actors/scheduler/job_queue.hpp"
#include "actors/scheduler/scheduler_metrics.hpp"
#include "actors/scheduler/stage_policy.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

constexpr auto store_timeout = std::chrono::seconds(30);
constexpr auto recovery_retry = std::chrono::seconds(1);

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

using recover_atom = caf::atom_constant<caf::atom("recover")>;

using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// A transition the store failed to write is tried again after this (the
/// writes are idempotent, so a retry of one that did land changes nothing).
constexpr auto store_retry = std::chrono::milliseconds(500);

struct tracked_job {
  job_spec spec;
  job_state state = job_state::created;
  bool cancel_requested = false; ///< canceled while its queueing was stored
  bool queueing = false;         ///< its stage came up; storing its queueing
  bool finishing = false;        ///< its worker reported the end; storing it
};

struct tracked_build {
  bool fast_finish = false;
  build_state state = build_state::created;
  std::vector<int64_t> job_ids;
};

struct worker_slot {
  worker_actor worker;
  std::optional<int64_t> job_id; ///< the job it runs, if busy
  int32_t attempt = 0;           ///< and which attempt
};

struct scheduler_state {
  static inline const char* name = "scheduler";

  scheduler_config cfg;
  store_actor store;
  bool recovered = false;
  /// Builds handed over before recovery ended: adopted after it, when the
  /// slots have said what they run.
  std::vector<build_record> early_builds;
  /// Workers' reports waiting for their transition to be stored, by key: the
  /// answer is the worker's cue to stop repeating it.
  std::map<uint64_t, caf::typed_response_promise<bool>> owed;
  uint64_t next_owed = 1;
  bool draining = false;
  job_queue queue;
  std::map<int64_t, tracked_job> jobs;
  std::map<int64_t, tracked_build> builds;
  std::vector<worker_slot> slots;
  std::vector<build_listener_actor> listeners;
  scheduler_metrics metrics;

  scheduler_status status() const {
    scheduler_status result;
    result.recovered = recovered;
    result.draining = draining;
    result.queued = static_cast<int32_t>(queue.size());
    for (auto& slot : slots) {
      if (!slot.worker)
        continue;
      ++result.slots;
      if (slot.job_id)
        ++result.running;
    }
    return result;
  }

  metric_families metric_snapshot() {
    auto m = metrics;
    for (auto& [id, build] : builds)
      if (!is_terminal(build.state))
        m.builds_open[build.state] += 1;
    for (auto& [id, job] : jobs)
      if (!is_terminal(job.state))
        m.jobs_open[job.state] += 1;
    auto now = status();
    m.queue_depth = now.queued;
    m.slots_busy = now.running;
    m.slots_free = now.slots - now.running;
    return to_families(m);
  }
};

// Handles the scheduler's own (local) recovery message besides its interface.
using scheduler_impl = scheduler_actor::extend<
  caf::reacts_to<recover_atom>,
  caf::reacts_to<retry_atom, job_state_changed, bool, uint64_t>,
  caf::reacts_to<retry_atom, build_state_changed>,
  caf::reacts_to<retry_atom, job_requeue>,
  caf::reacts_to<crash_atom>>;
using scheduler_ptr = scheduler_impl::stateful_pointer<scheduler_state>;

template <class Event>
void tell_listeners(scheduler_ptr self, const Event& event) {
  for (auto& listener : self->state.listeners)
    caf::anon_send(listener, event);
}


// -- slots and dispatch -------------------------------------------------------

// Pops queued jobs until one is still waiting to run (a job canceled while its
// queued transition was being stored can still be in the queue).
std::optional<job_spec> next_runnable(scheduler_state& st) {
  while (auto next = st.queue.pop()) {
    auto tracked = st.jobs.find(next->job_id);
    if (tracked != st.jobs.end() && tracked->second.state == job_state::queued
        && tracked->second.spec.attempt == next->attempt)
      return next;
  }
  return std::nullopt;
}

void dispatch(scheduler_ptr self) {
  auto& st = self->state;
  // Before recovery, a slot may still run what it got from a predecessor.
  if (st.draining || !st.recovered)
    return;
  for (size_t i = 0; i < st.slots.size() && st.queue.size() > 0; ++i) {
    auto& slot = st.slots[i];
    if (slot.job_id || !slot.worker)
      continue;
    auto next = next_runnable(st);
    if (!next)
      return;
    slot.job_id = next->job_id;
    slot.attempt = next->attempt;
    logger()->debug("assigning job request_id={} job_id={} number={} "
                    "attempt={} slot={}",
                    next->request_id, next->job_id, job_number(*next),
                    next->attempt, i);
    self->send(slot.worker, run_atom::value, *next);
  }
}

void free_slot_of(scheduler_ptr self, int64_t job_id, int32_t attempt) {
  auto& st = self->state;
  for (auto& slot : st.slots)
    if (slot.job_id == job_id && slot.attempt == attempt)
      slot.job_id.reset();
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
        if (is_terminal(event.state))
          self->state.metrics.builds_finished[event.state] += 1;
        tell_listeners(self, event);
        forget_if_done(self, event.build_id);
      },
      [self, event](const caf::error& err) {
        logger()->error("storing build state failed, retrying build_id={} "
                        "error={}",
                        event.build_id, describe(err));
        self->delayed_send(self, store_retry, retry_atom::value, event);
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
    outcomes.push_back({job.state, job.spec.allow_failure,
                        job.spec.stage_index});
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

void persist_job(scheduler_ptr self, job_state_changed event,
                 bool from_worker = false, uint64_t owed = 0);
bool cancel_job(scheduler_ptr self, int64_t job_id, const std::string& why);

// Moves a build on stage by stage (see stage_policy.hpp): queues the created
// jobs whose stage has come up, cancels those after a broken stage. Created
// jobs of later stages stay created, in the store too, so a restarted
// scheduler finds them waiting for their stage.
void advance_stages(scheduler_ptr self, int64_t build_id) {
  auto& st = self->state;
  auto build = st.builds.find(build_id);
  if (build == st.builds.end())
    return;
  std::vector<staged_job> staged;
  staged.reserve(build->second.job_ids.size());
  for (auto id : build->second.job_ids) {
    auto& job = st.jobs.at(id);
    auto state = job.state;
    if (state == job_state::created && job.queueing)
      state = job_state::queued;
    if (job.cancel_requested && !is_terminal(state))
      state = job_state::canceled;
    staged.push_back({id, job.spec.stage_index, state, job.spec.allow_failure});
  }
  auto step = next_stage_step(staged);
  for (auto id : step.queue) {
    auto& job = st.jobs.at(id);
    job.queueing = true;
    if (!job.spec.stage.empty())
      logger()->debug("stage up request_id={} job_id={} number={} stage={}",
                      job.spec.request_id, id, job_number(job.spec),
                      job.spec.stage);
    persist_job(self, {id, job.spec.attempt, job_state::queued, now_ms(), -1,
                       ""});
  }
  if (!step.cancel.empty())
    logger()->info("canceling later stages build_id={} jobs={} reason=\"{}\"",
                   build_id, step.cancel.size(), earlier_stage_failed);
  for (auto id : step.cancel)
    cancel_job(self, id, earlier_stage_failed);
}

// Acts on a transition the store has applied.
void on_job_changed(scheduler_ptr self, const job_state_changed& event) {
  auto& st = self->state;
  auto i = st.jobs.find(event.job_id);
  if (i == st.jobs.end() || i->second.spec.attempt != event.attempt)
    return;
  auto& job = i->second;
  job.state = event.state;
  st.metrics.transitions_applied += 1;
  if (is_terminal(event.state))
    st.metrics.jobs_finished[event.state] += 1;
  logger()->info("job {} request_id={} job_id={} number={} attempt={}{}{}",
                 to_string(event.state), job.spec.request_id, event.job_id,
                 job_number(job.spec), event.attempt,
                 event.reason.empty() ? "" : " reason=", event.reason);
  tell_listeners(self, event);
  if (event.state == job_state::queued && !job.cancel_requested) {
    st.queue.push(job.spec);
    dispatch(self);
  }
  if (is_terminal(event.state))
    advance_stages(self, job.spec.build_id);
  update_build(self, job.spec.build_id);
}

void answer_owed(scheduler_ptr self, uint64_t key, bool applied) {
  auto& owed = self->state.owed;
  if (auto i = owed.find(key); i != owed.end()) {
    i->second.deliver(applied);
    owed.erase(i);
  }
}

// Acts on a queueing the store refused as a repeat, if the job is indeed
// queued at that attempt.
void requeue_if_stored(scheduler_ptr self, job_state_changed event) {
  self->request(self->state.store, store_timeout, fetch_atom::value,
                job_atom::value, event.job_id)
    .then(
      [self, event](const job_record& job) {
        auto i = self->state.jobs.find(event.job_id);
        if (i == self->state.jobs.end()
            || i->second.state != job_state::created)
          return;
        if (job.state == job_state::queued && job.spec.attempt == event.attempt)
          on_job_changed(self, event);
        else
          i->second.queueing = false; // e.g. canceled meanwhile
      },
      [self, event](const caf::error&) {
        self->delayed_send(self, store_retry, retry_atom::value, event, false,
                           uint64_t{0});
      });
}

// Stores a transition, then acts on it. Only the end of a run that a worker
// reports frees that worker's slot. `owed`: the worker's report to answer.
void persist_job(scheduler_ptr self, job_state_changed event,
                 bool from_worker, uint64_t owed) {
  auto frees_slot = from_worker && is_terminal(event.state);
  self->request(self->state.store, store_timeout, event)
    .then(
      [self, event, frees_slot, owed](bool applied) {
        answer_owed(self, owed, applied);
        if (frees_slot)
          free_slot_of(self, event.job_id, event.attempt);
        if (applied) {
          on_job_changed(self, event);
          return;
        }
        if (event.state == job_state::queued) {
          // A predecessor may have stored the same queueing just before it
          // failed: what counts is that the job is queued now.
          requeue_if_stored(self, event);
          return;
        }
        self->state.metrics.transitions_ignored += 1;
        logger()->debug("ignoring stale news job_id={} attempt={} state={}",
                        event.job_id, event.attempt, to_string(event.state));
      },
      [self, event, from_worker, owed](const caf::error& err) {
        logger()->error("storing job state failed, retrying job_id={} state={} "
                        "error={}",
                        event.job_id, to_string(event.state), describe(err));
        self->delayed_send(self, store_retry, retry_atom::value, event,
                           from_worker, owed);
      });
}

// Takes a new attempt the store has queued.
void on_requeued(scheduler_ptr self, const job_record& job) {
  auto& st = self->state;
  auto i = st.jobs.find(job.spec.job_id);
  if (i == st.jobs.end() || job.state != job_state::queued)
    return;
  i->second.spec = job.spec;
  i->second.state = job_state::queued;
  st.metrics.jobs_requeued += 1;
  logger()->info("job queued again request_id={} job_id={} number={} "
                 "attempt={}",
                 job.spec.request_id, job.spec.job_id, job_number(job.spec),
                 job.spec.attempt);
  tell_listeners(self, job_state_changed{job.spec.job_id, job.spec.attempt,
                                         job_state::queued, now_ms(), -1, ""});
  st.queue.push(job.spec);
  dispatch(self);
}

// Requeues are idempotent (a stale one changes nothing): retried until stored.
void send_requeue(scheduler_ptr self, job_requeue cmd) {
  self->request(self->state.store, store_timeout, cmd)
    .then([self](const job_record& job) { on_requeued(self, job); },
          [self, cmd](const caf::error& err) {
            logger()->error("requeue failed, retrying job_id={} error={}",
                            cmd.job_id, describe(err));
            self->delayed_send(self, store_retry, retry_atom::value, cmd);
          });
}

// A run that was in flight when the node stopped is lost: a new attempt, or
// an error once the attempts are used up.
void requeue(scheduler_ptr self, const job_spec& spec, std::string reason) {
  auto& st = self->state;
  if (spec.attempt >= st.cfg.max_attempts) {
    persist_job(self, {spec.job_id, spec.attempt, job_state::errored, now_ms(),
                       -1, reason + "; gave up after "
                             + std::to_string(spec.attempt) + " attempts"});
    return;
  }
  send_requeue(self, {spec.job_id, spec.attempt, now_ms(), std::move(reason)});
}

bool held_by_slot(const scheduler_state& st, int64_t job_id, int32_t attempt) {
  return std::any_of(st.slots.begin(), st.slots.end(),
                     [job_id, attempt](const worker_slot& x) {
                       return x.worker && x.job_id == job_id
                              && x.attempt == attempt;
                     });
}

// Tracks a stored build and moves each of its jobs on from where it stands.
// Jobs already tracked and unfinished are left as they are.
void adopt(scheduler_ptr self, const build_record& build) {
  auto& st = self->state;
  auto& tracked = st.builds[build.id];
  tracked.fast_finish = build.fast_finish;
  tracked.state = build.state;
  tracked.job_ids.clear();
  for (auto& job : build.jobs) {
    auto id = job.spec.job_id;
    tracked.job_ids.push_back(id);
    if (auto i = st.jobs.find(id);
        i != st.jobs.end() && !is_terminal(i->second.state))
      continue;
    st.jobs[id] = tracked_job{job.spec, job.state};
    if (held_by_slot(st, id, job.spec.attempt))
      continue; // its slot reports the rest
    switch (job.state) {
      case job_state::created:
        break; // queued when its stage comes up: see advance_stages
      case job_state::queued:
        st.queue.push(job.spec);
        break;
      case job_state::received:
      case job_state::started:
        requeue(self, job.spec, "the node stopped while the job ran");
        break;
      default:
        break;
    }
  }
  advance_stages(self, build.id);
  dispatch(self);
  update_build(self, build.id);
}

void recover_from_store(scheduler_ptr self) {
  self->request(self->state.store, store_timeout, fetch_atom::value,
                unfinished_atom::value)
    .then(
      [self](const std::vector<build_record>& builds) {
        size_t jobs = 0;
        for (auto& build : builds) {
          adopt(self, build);
          jobs += build.jobs.size();
        }
        auto& st = self->state;
        st.recovered = true;
        logger()->info("recovered builds={} jobs={}", builds.size(), jobs);
        for (auto& build : std::exchange(st.early_builds, {}))
          if (st.builds.count(build.id) == 0)
            adopt(self, build);
        dispatch(self);
      },
      [self](const caf::error& err) {
        logger()->error("recovery failed, retrying error={}", describe(err));
        self->delayed_send(self, recovery_retry, recover_atom::value);
      });
}

void add_slot(scheduler_ptr self, worker_actor worker) {
  auto& st = self->state;
  for (auto& slot : st.slots)
    if (slot.worker == worker)
      return;
  self->monitor(worker);
  st.slots.push_back({std::move(worker), std::nullopt, 0});
}

// Asks every known slot what it holds (a slot that does not answer is taken
// as free: its runs are requeued), then recovers from the store.
void recover(scheduler_ptr self) {
  auto& st = self->state;
  auto workers = std::move(st.cfg.workers);
  st.cfg.workers.clear();
  if (workers.empty()) {
    recover_from_store(self);
    return;
  }
  auto pending = std::make_shared<size_t>(workers.size());
  for (auto& worker : workers) {
    add_slot(self, worker);
    auto done = [self, pending] {
      if (--*pending == 0)
        recover_from_store(self);
    };
    self->request(worker, std::chrono::seconds(5), fetch_atom::value,
                  status_atom::value)
      .then(
        [self, worker, done](const worker_status& status) {
          if (status.busy)
            for (auto& slot : self->state.slots)
              if (slot.worker == worker) {
                slot.job_id = status.job_id;
                slot.attempt = status.attempt;
                logger()->info("slot holds job_id={} attempt={}",
                               status.job_id, status.attempt);
              }
          done();
        },
        [done](const caf::error& err) {
          logger()->warn("a worker slot did not say what it holds error={}",
                         describe(err));
          done();
        });
  }
}

bool cancel_job(scheduler_ptr self, int64_t job_id, const std::string& why) {
  auto& st = self->state;
  auto i = st.jobs.find(job_id);
  if (i == st.jobs.end() || is_terminal(i->second.state))
    return false;
  auto& job = i->second;
  auto running = std::find_if(st.slots.begin(), st.slots.end(),
                              [job_id](const worker_slot& x) {
                                return x.worker && x.job_id == job_id;
                              });
  if (running != st.slots.end()) {
    self->send(running->worker, cancel_atom::value, job_id, running->attempt);
  } else {
    job.cancel_requested = true;
    st.queue.remove(job_id);
    persist_job(self, {job_id, job.spec.attempt, job_state::canceled, now_ms(),
                       -1, why});
  }
  return true;
}

// A user's restart: the finished job runs again as a new attempt; its build,
// if finished and forgotten, is fetched and tracked again.
caf::result<job_record> restart(scheduler_ptr self, int64_t job_id) {
  auto& st = self->state;
  if (auto i = st.jobs.find(job_id);
      i != st.jobs.end() && !is_terminal(i->second.state))
    return make_error(errc::conflict,
                      "job " + std::to_string(job_id) + " has not finished");
  auto rp = self->make_response_promise<job_record>();
  auto fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
  self->request(st.store, store_timeout, fetch_atom::value, job_atom::value,
                job_id)
    .then(
      [self, rp, fail](const job_record& job) mutable {
        if (!is_terminal(job.state)) {
          rp.deliver(make_error(errc::conflict,
                                "job " + std::to_string(job.spec.job_id)
                                  + " has not finished"));
          return;
        }
        job_requeue cmd{job.spec.job_id, job.spec.attempt, now_ms(),
                        "restarted"};
        self->request(self->state.store, store_timeout, cmd)
          .then(
            [self, rp, fail](const job_record& queued) mutable {
              self->request(self->state.store, store_timeout,
                            fetch_atom::value, build_atom::value,
                            queued.spec.build_id)
                .then(
                  [self, rp, queued](const build_record& build) mutable {
                    self->state.metrics.jobs_requeued += 1;
                    tell_listeners(self,
                                   job_state_changed{queued.spec.job_id,
                                                     queued.spec.attempt,
                                                     job_state::queued,
                                                     now_ms(), -1, ""});
                    tell_listeners(self, build_state_changed{build.id,
                                                             build.state,
                                                             now_ms()});
                    adopt(self, build);
                    rp.deliver(queued);
                  },
                  fail);
            },
            fail);
      },
      fail);
  return rp;
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
  for (auto& slot : st.slots) {
    if (slot.worker.address() != msg.source)
      continue;
    // A job whose end is being stored is not lost: its slot frees then.
    if (slot.job_id) {
      if (auto i = st.jobs.find(*slot.job_id);
          i != st.jobs.end() && !i->second.finishing)
        requeue(self, i->second.spec, "its worker slot was lost");
    }
    slot.job_id.reset();
    slot.worker = nullptr;
  }
}

scheduler_impl::behavior_type scheduler(scheduler_ptr self,
                                        scheduler_config cfg,
                                        store_actor store) {
  self->state.cfg = cfg;
  self->state.store = std::move(store);
  self->set_down_handler([self](const caf::down_msg& msg) { on_down(self, msg); });
  // Whatever kills it, the workers' reports it owes are answered, so that
  // they send them again to its successor at once.
  self->set_exception_handler([self](std::exception_ptr& eptr) -> caf::error {
    logger()->error("failing error=\"{}\" owed_reports={}", describe(eptr),
                    self->state.owed.size());
    for (auto& [key, rp] : self->state.owed)
      rp.deliver(make_error(errc::unavailable, "the scheduler failed"));
    self->state.owed.clear();
    return exit_reason_of(eptr);
  });
  recover(self);
  return {
    [self](enqueue_atom, const build_record& build) {
      auto& st = self->state;
      if (!st.recovered) {
        st.early_builds.push_back(build);
        return;
      }
      if (st.builds.count(build.id) > 0)
        return;
      logger()->info("build enqueued request_id={} build_id={} jobs={}",
                     build.request.request_id, build.id, build.jobs.size());
      adopt(self, build);
    },
    [self](job_state_changed& event) -> caf::result<bool> {
      auto& st = self->state;
      auto i = st.jobs.find(event.job_id);
      if (i != st.jobs.end() && is_terminal(event.state)
          && i->second.spec.attempt == event.attempt)
        i->second.finishing = true;
      auto key = st.next_owed++;
      auto rp = self->make_response_promise<bool>();
      st.owed.emplace(key, rp);
      persist_job(self, std::move(event), true, key);
      return rp;
    },
    [self](register_atom, worker_actor& worker) {
      add_slot(self, std::move(worker));
      dispatch(self);
    },
    [self](subscribe_atom, build_listener_actor& listener) {
      self->monitor(listener);
      self->state.listeners.push_back(std::move(listener));
      return true;
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
    [self](restart_atom, job_atom, int64_t job_id) {
      return restart(self, job_id);
    },
    [self](drain_atom, bool cancel_running) {
      auto& st = self->state;
      if (!st.draining)
        logger()->info("draining: no more jobs are handed out");
      st.draining = true;
      if (cancel_running)
        for (auto& slot : st.slots)
          if (slot.job_id && slot.worker)
            self->send(slot.worker, cancel_atom::value, *slot.job_id,
                       slot.attempt);
      return st.status();
    },
    [self](fetch_atom, status_atom) { return self->state.status(); },
    [self](fetch_atom, metrics_atom) { return self->state.metric_snapshot(); },
    [self](recover_atom) { recover(self); },
    [self](retry_atom, job_state_changed& event, bool from_worker,
           uint64_t owed) {
      persist_job(self, std::move(event), from_worker, owed);
    },
    [self](retry_atom, build_state_changed& event) {
      persist_build(self, std::move(event));
    },
    [self](retry_atom, job_requeue& cmd) { send_requeue(self, std::move(cmd)); },
    [](crash_atom) { throw std::runtime_error("injected fault in scheduler"); },
  };
}

} // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys, scheduler_config cfg,
                                store_actor store) {
  return caf::actor_cast<scheduler_actor>(
    sys.spawn(scheduler, std::move(cfg), std::move(store)));
}

} // namespace conveyor
