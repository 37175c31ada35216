#include "actors/worker/worker_actor.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <thread>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/worker/build_script.hpp"
#include "actors/worker/job_runner.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

std::shared_ptr<spdlog::logger> worker_logger() {
  if (auto log = spdlog::get("worker"))
    return log;
  // A clone of the default logger writes where the application sends logs
  // (stderr for `conveyor run`, whose stdout is the build's output).
  auto created = spdlog::default_logger()->clone("worker");
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it between our two calls.
    return spdlog::get("worker");
  }
  return created;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

job_state_changed make_event(const job_spec& spec, job_state state,
                             int32_t exit_code = -1, std::string reason = {}) {
  return {spec.job_id, spec.attempt, state, now_ms(), exit_code,
          std::move(reason)};
}

// Shared by the actor and the thread that runs the attempt; the actor joins
// the thread before it lets go of this.
struct running_job {
  int64_t job_id = 0;
  int32_t attempt = 0;
  std::string request_id;
  std::atomic<bool> cancel{false};
  std::atomic<bool> stopping{false}; // the worker itself is going away
  std::atomic<bool> done{false};
  std::thread thread;
};

/// The worker as spawned: its interface, plus the news of its job thread
/// (events and log parts it then reports, and repeats until answered) and
/// fault injection.
using retry_atom = caf::atom_constant<caf::atom("retry")>;

using worker_impl = worker_actor::extend<
  caf::reacts_to<job_state_changed>, caf::reacts_to<log_part>,
  caf::reacts_to<retry_atom, job_state_changed>,
  caf::reacts_to<retry_atom, log_part>, caf::reacts_to<crash_atom>>;

/// How long a report may go unanswered before it is sent again, and the pause
/// before a report that failed (its receiver restarting) is sent again.
constexpr auto report_timeout = std::chrono::seconds(30);
constexpr auto report_retry = std::chrono::milliseconds(100);

// What the job thread needs; copies, so it never touches the actor's state.
struct attempt_context {
  job_spec spec;
  job_runner_config runner;
  std::function<std::string(const std::string&)> clone_auth;
  std::string worker;
  worker_impl self; ///< the worker, which reports for the thread
  std::shared_ptr<spdlog::logger> log;
};

// The spec the attempt runs: a config's own git_auth_variable is dropped,
// the worker's credentials for the clone added (never logged).
job_spec with_clone_auth(const attempt_context& ctx) {
  auto spec = ctx.spec;
  std::string header;
  if (ctx.clone_auth && spec.clone && !spec.repo.empty()) {
    try {
      header = ctx.clone_auth(spec.repo);
    } catch (const std::exception& e) {
      ctx.log->warn("worker={} request_id={} job_id={} attempt={} "
                    "event=no_clone_credentials error=\"{}\"",
                    ctx.worker, spec.request_id, spec.job_id, spec.attempt,
                    e.what());
    }
  }
  set_git_auth(spec, std::move(header));
  return spec;
}

void run_attempt(running_job* job, const attempt_context& ctx) {
  const auto spec = with_clone_auth(ctx);
  job_callbacks cb;
  cb.on_started = [&ctx, &spec] {
    ctx.log->info("worker={} request_id={} job_id={} attempt={} event=started",
                  ctx.worker, spec.request_id, spec.job_id, spec.attempt);
    caf::anon_send(ctx.self, make_event(spec, job_state::started));
  };
  cb.on_part = [&ctx](log_part part) {
    caf::anon_send(ctx.self, std::move(part));
  };
  auto out = run_job(spec, ctx.runner, job->cancel, cb);
  if (out.state == job_state::canceled && job->stopping.load())
    out.reason = "worker stopped";
  ctx.log->info("worker={} request_id={} job_id={} attempt={} event=finished "
                "state={} exit_code={} reason=\"{}\"",
                ctx.worker, spec.request_id, spec.job_id, spec.attempt,
                to_string(out.state), out.exit_code, out.reason);
  // Free before the news goes out: the scheduler may assign the next job as
  // soon as it hears of this one.
  job->done.store(true);
  caf::anon_send(ctx.self, make_event(spec, out.state, out.exit_code,
                                      std::move(out.reason)));
}

using worker_ptr = worker_impl::stateful_pointer<struct worker_state>;

struct worker_state {
  static inline const char* name = "worker";

  worker_ptr self = nullptr;
  worker_config cfg;
  scheduler_actor scheduler;
  log_sequencer_actor sequencer;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<running_job> job;
  /// Reports not answered yet, by attempt: the slot is not free before the
  /// scheduler has the end of its last attempt.
  std::map<std::pair<int64_t, int32_t>, size_t> unanswered;
  std::optional<caf::error> stopping; ///< quits once all is reported

  worker_state() = default;
  worker_state(const worker_state&) = delete;
  worker_state& operator=(const worker_state&) = delete;

  // Runs in on_exit: no attempt, process or thread outlives the worker.
  ~worker_state() {
    if (job && !job->done.load()) {
      log->info("worker={} request_id={} job_id={} attempt={} "
                "event=stopping_job",
                cfg.name, job->request_id, job->job_id, job->attempt);
      job->stopping.store(true);
      job->cancel.store(true);
    }
    reap();
  }

  bool busy() const {
    return job && !job->done.load();
  }

  // Busy until the actor has taken the attempt's end from its thread (the
  // thread marks itself done before it sends the end) and the scheduler has
  // acknowledged it.
  worker_status status() const {
    if (job)
      return {true, job->job_id, job->attempt};
    if (!unanswered.empty())
      return {true, unanswered.begin()->first.first,
              unanswered.begin()->first.second};
    return {};
  }

  // A report is a request repeated until it is answered: the scheduler or
  // the sequencer may be restarting (their fronts hold it meanwhile). The
  // store's state machine drops an event that arrives late.
  template <class Handle, class Message>
  void report(const Handle& to, Message msg) {
    unanswered[{msg.job_id, msg.attempt}] += 1;
    send_report(to, std::move(msg));
  }

  // A report stays unanswered until it is answered, its repetitions
  // included: the slot must not look free in between.
  template <class Handle, class Message>
  void send_report(const Handle& to, Message msg) {
    std::pair<int64_t, int32_t> key{msg.job_id, msg.attempt};
    self->request(to, report_timeout, msg)
      .then(
        [this, key](bool) { answered(key); },
        [this, key, msg](const caf::error& err) {
          log->debug("worker={} job_id={} attempt={} event=report_retry "
                     "error=\"{}\"",
                     cfg.name, key.first, key.second, caf::to_string(err));
          self->delayed_send(self, report_retry, retry_atom::value, msg);
        });
  }

  void answered(const std::pair<int64_t, int32_t>& key) {
    if (auto i = unanswered.find(key); i != unanswered.end() && --i->second == 0)
      unanswered.erase(i);
    quit_if_done();
  }

  void quit_if_done() {
    if (stopping && !busy() && unanswered.empty())
      self->quit(*stopping);
  }

  void reap() {
    if (job && job->thread.joinable())
      job->thread.join();
    job.reset();
  }

  void run(job_spec spec) {
    if (cfg.noop_executor) {
      run_noop(spec);
      return;
    }
    if (busy() && job->job_id == spec.job_id
        && job->attempt == spec.attempt) {
      // A duplicate of what runs here: answering "busy" would error it.
      log->info("worker={} request_id={} job_id={} attempt={} "
                "event=duplicate_ignored",
                cfg.name, spec.request_id, spec.job_id, spec.attempt);
      return;
    }
    if (busy()) {
      log->warn("worker={} request_id={} job_id={} attempt={} event=rejected "
                "reason=\"worker busy\" running_job_id={}",
                cfg.name, spec.request_id, spec.job_id, spec.attempt,
                job->job_id);
      caf::anon_send(scheduler, make_event(spec, job_state::errored, -1,
                                           "worker busy"));
      return;
    }
    reap(); // the previous thread only has its last message left to send
    log->info("worker={} request_id={} job_id={} attempt={} event=received",
              cfg.name, spec.request_id, spec.job_id, spec.attempt);
    report(scheduler, make_event(spec, job_state::received));
    job = std::make_unique<running_job>();
    job->job_id = spec.job_id;
    job->attempt = spec.attempt;
    job->request_id = spec.request_id;
    attempt_context ctx{std::move(spec), runner_config(), cfg.clone_auth,
                        cfg.name, caf::actor_cast<worker_impl>(self), log};
    job->thread = std::thread{
      [ptr = job.get(), ctx = std::move(ctx)] { run_attempt(ptr, ctx); }};
  }

  // Debug level: at the rates a no-op benchmark reaches, info lines would
  // cost more than the orchestration they are meant to measure.
  void run_noop(const job_spec& spec) {
    log->debug("worker={} request_id={} job_id={} attempt={} event=noop_run",
               cfg.name, spec.request_id, spec.job_id, spec.attempt);
    report(scheduler, make_event(spec, job_state::received));
    job_callbacks cb;
    cb.on_started = [this, &spec] {
      report(scheduler, make_event(spec, job_state::started));
    };
    cb.on_part = [this](log_part part) { report(sequencer, std::move(part)); };
    auto out = run_noop_job(spec, cb);
    report(scheduler, make_event(spec, out.state, out.exit_code,
                                 std::move(out.reason)));
  }

  void cancel(int64_t job_id, int32_t attempt) {
    if (!busy() || job->job_id != job_id || job->attempt != attempt) {
      log->debug("worker={} job_id={} attempt={} event=cancel_ignored",
                 cfg.name, job_id, attempt);
      return;
    }
    log->info("worker={} request_id={} job_id={} attempt={} event=cancel",
              cfg.name, job->request_id, job_id, attempt);
    job->cancel.store(true);
  }

  job_runner_config runner_config() const {
    job_runner_config result;
    result.workspace_root = cfg.workspace_root;
    result.keep_workspace = cfg.keep_workspaces;
    result.kill_grace = cfg.kill_grace;
    return result;
  }
};

worker_impl::behavior_type
worker_behavior(worker_ptr self, worker_config cfg, scheduler_actor scheduler,
                log_sequencer_actor sequencer) {
  auto& st = self->state;
  st.self = self;
  st.cfg = std::move(cfg);
  st.scheduler = std::move(scheduler);
  st.sequencer = std::move(sequencer);
  st.log = worker_logger();
  st.log->info("worker={} event=up workspace_root={} noop_executor={}",
               st.cfg.name, st.cfg.workspace_root.string(),
               st.cfg.noop_executor);
  // Asked to stop, it cancels its attempt and quits once the attempt's end
  // and its log are reported (or is killed by its supervisor's timeout).
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    auto& st = self->state;
    if (msg.reason == caf::exit_reason::kill) {
      self->quit(msg.reason);
      return;
    }
    st.stopping = msg.reason;
    if (st.busy()) {
      st.job->stopping.store(true);
      st.job->cancel.store(true);
    }
    st.quit_if_done();
  });
  return {
    [self](run_atom, job_spec& spec) { self->state.run(std::move(spec)); },
    [self](cancel_atom, int64_t job_id, int32_t attempt) {
      self->state.cancel(job_id, attempt);
    },
    [self](fetch_atom, status_atom) { return self->state.status(); },
    [self](job_state_changed& event) {
      auto& st = self->state;
      if (is_terminal(event.state) && st.job && st.job->job_id == event.job_id
          && st.job->attempt == event.attempt)
        st.reap();
      st.report(st.scheduler, std::move(event));
    },
    [self](log_part& part) {
      auto& st = self->state;
      st.report(st.sequencer, std::move(part));
    },
    [self](retry_atom, job_state_changed& event) {
      auto& st = self->state;
      st.send_report(st.scheduler, std::move(event));
    },
    [self](retry_atom, log_part& part) {
      auto& st = self->state;
      st.send_report(st.sequencer, std::move(part));
    },
    [self](crash_atom) {
      throw std::runtime_error("injected fault in worker "
                               + self->state.cfg.name);
    },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config cfg,
                          scheduler_actor scheduler,
                          log_sequencer_actor sequencer) {
  return caf::actor_cast<worker_actor>(sys.spawn(worker_behavior,
                                                  std::move(cfg),
                                                  std::move(scheduler),
                                                  std::move(sequencer)));
}

} // namespace conveyor
