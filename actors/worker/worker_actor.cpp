#include "actors/worker/worker_actor.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/worker/job_runner.hpp"
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

// What the job thread needs; copies, so it never touches the actor's state.
struct attempt_context {
  job_spec spec;
  job_runner_config runner;
  std::string worker;
  scheduler_actor scheduler;
  log_sequencer_actor sequencer;
  std::shared_ptr<spdlog::logger> log;
};

void run_attempt(running_job* job, const attempt_context& ctx) {
  const auto& spec = ctx.spec;
  job_callbacks cb;
  cb.on_started = [&ctx, &spec] {
    ctx.log->info("worker={} request_id={} job_id={} attempt={} event=started",
                  ctx.worker, spec.request_id, spec.job_id, spec.attempt);
    caf::anon_send(ctx.scheduler, make_event(spec, job_state::started));
  };
  cb.on_part = [&ctx](log_part part) {
    caf::anon_send(ctx.sequencer, std::move(part));
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
  caf::anon_send(ctx.scheduler, make_event(spec, out.state, out.exit_code,
                                           std::move(out.reason)));
}

struct worker_state {
  static inline const char* name = "worker";

  worker_config cfg;
  scheduler_actor scheduler;
  log_sequencer_actor sequencer;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<running_job> job;

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
    caf::anon_send(scheduler, make_event(spec, job_state::received));
    job = std::make_unique<running_job>();
    job->job_id = spec.job_id;
    job->attempt = spec.attempt;
    job->request_id = spec.request_id;
    attempt_context ctx{std::move(spec), runner_config(), cfg.name,
                        scheduler, sequencer, log};
    job->thread = std::thread{
      [ptr = job.get(), ctx = std::move(ctx)] { run_attempt(ptr, ctx); }};
  }

  // Debug level: at the rates a no-op benchmark reaches, info lines would
  // cost more than the orchestration they are meant to measure.
  void run_noop(const job_spec& spec) {
    log->debug("worker={} request_id={} job_id={} attempt={} event=noop_run",
               cfg.name, spec.request_id, spec.job_id, spec.attempt);
    caf::anon_send(scheduler, make_event(spec, job_state::received));
    job_callbacks cb;
    cb.on_started = [this, &spec] {
      caf::anon_send(scheduler, make_event(spec, job_state::started));
    };
    cb.on_part = [this](log_part part) {
      caf::anon_send(sequencer, std::move(part));
    };
    auto out = run_noop_job(spec, cb);
    caf::anon_send(scheduler, make_event(spec, out.state, out.exit_code,
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

worker_actor::behavior_type
worker_behavior(worker_actor::stateful_pointer<worker_state> self,
                worker_config cfg, scheduler_actor scheduler,
                log_sequencer_actor sequencer) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.scheduler = std::move(scheduler);
  st.sequencer = std::move(sequencer);
  st.log = worker_logger();
  st.log->info("worker={} event=up workspace_root={} noop_executor={}",
               st.cfg.name, st.cfg.workspace_root.string(),
               st.cfg.noop_executor);
  return {
    [self](run_atom, job_spec& spec) { self->state.run(std::move(spec)); },
    [self](cancel_atom, int64_t job_id, int32_t attempt) {
      self->state.cancel(job_id, attempt);
    },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config cfg,
                          scheduler_actor scheduler,
                          log_sequencer_actor sequencer) {
  return sys.spawn(worker_behavior, std::move(cfg), std::move(scheduler),
                   std::move(sequencer));
}

} // namespace conveyor
