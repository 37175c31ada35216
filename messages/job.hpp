#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// The life of a job attempt:
/// created → queued → received → started → passed | failed | errored | canceled.
enum class job_state : uint8_t {
  created,
  queued,
  received,
  started,
  passed,
  failed,
  errored,
  canceled,
};

/// Returns the state's name, e.g. "passed".
std::string to_string(job_state x);

/// Parses a state name; returns false if `name` is none.
bool from_string(const std::string& name, job_state& out);

/// True for passed, failed, errored and canceled.
bool is_terminal(job_state x);

/// True if a job may move from `from` to `to`. Any transition not listed by the
/// state machine is stale news: whoever receives it changes nothing.
bool is_allowed(job_state from, job_state to);

/// One environment variable of a job, in the order the config gives it.
struct env_var {
  std::string name;
  std::string value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, env_var& x) {
  return f(caf::meta::type_name("conveyor::env_var"), x.name, x.value);
}

inline bool operator==(const env_var& x, const env_var& y) {
  return x.name == y.name && x.value == y.value;
}

/// The commands of a job, phase by phase, with Travis CI's semantics.
struct job_phases {
  std::vector<std::string> before_install;
  std::vector<std::string> install;
  std::vector<std::string> before_script;
  std::vector<std::string> script;
  std::vector<std::string> after_success;
  std::vector<std::string> after_failure;
  std::vector<std::string> after_script;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_phases& x) {
  return f(caf::meta::type_name("conveyor::job_phases"), x.before_install,
           x.install, x.before_script, x.script, x.after_success,
           x.after_failure, x.after_script);
}

/// Limits the worker enforces on one job attempt.
struct job_limits {
  int64_t timeout_ms = 50 * 60 * 1000;           ///< hard limit on the run time
  int64_t no_output_timeout_ms = 10 * 60 * 1000; ///< limit on silence
  int64_t max_log_bytes = 4 * 1024 * 1024;       ///< limit on the log's size
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_limits& x) {
  return f(caf::meta::type_name("conveyor::job_limits"), x.timeout_ms,
           x.no_output_timeout_ms, x.max_log_bytes);
}

/// Everything a worker needs to run one attempt of a job.
struct job_spec {
  int64_t job_id = 0;
  int64_t build_id = 0;
  int64_t build_number = 0;
  int32_t index = 0;          ///< position of the job in its build, from 1
  int32_t attempt = 1;        ///< 1 for the first run, +1 for each retry
  std::string name;           ///< the job's name from the config, if any
  std::string request_id;     ///< the UUID of the build's request
  std::string repo;           ///< local path or clone URL
  std::string slug;           ///< owner/name
  std::string sha;
  std::string branch;
  std::string tag;
  std::string event;
  std::string commit_message;
  bool clone = true;          ///< check the commit out (Travis `git: clone:`)
  int32_t clone_depth = 0;    ///< shallow clone depth (`git: depth:`); 0: full
  std::vector<env_var> env;   ///< global env first, then the job's own
  job_phases phases;
  bool allow_failure = false;
  job_limits limits;
  /// The job's build stage (Travis `stage`, as the config spells it); empty
  /// when the build has no stages. The scheduler queues the jobs of a stage
  /// only once every job of the stages before it has ended.
  std::string stage;
  int32_t stage_index = 0;    ///< the stage's position in the build, from 0
  int32_t pull_request = 0;   ///< the pull request's number; 0 if none
  std::string pull_request_branch; ///< the pull request's head branch
  std::string pull_request_slug;   ///< owner/name the pull request comes from
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_spec& x) {
  return f(caf::meta::type_name("conveyor::job_spec"), x.job_id, x.build_id,
           x.build_number, x.index, x.attempt, x.name, x.request_id, x.repo, x.slug,
           x.sha, x.branch, x.tag, x.event, x.commit_message, x.clone,
           x.clone_depth, x.env, x.phases,
           x.allow_failure, x.limits, x.stage, x.stage_index,
           x.pull_request, x.pull_request_branch, x.pull_request_slug);
}

/// Returns the job's display number, e.g. "12.3".
std::string job_number(const job_spec& x);

/// Event: a job attempt moved to `state` at `at_ms` (ms since the epoch).
/// Sent by workers to the scheduler (received, started, a terminal state), and
/// by the scheduler to the store and to build listeners once it is applied.
struct job_state_changed {
  int64_t job_id = 0;
  int32_t attempt = 0;
  job_state state = job_state::created;
  int64_t at_ms = 0;
  int32_t exit_code = -1; ///< the build script's exit status, -1 if none
  std::string reason;     ///< why, for errored and canceled
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_state_changed& x) {
  return f(caf::meta::type_name("conveyor::job_state_changed"), x.job_id,
           x.attempt, x.state, x.at_ms, x.exit_code, x.reason);
}

/// A job as stored: what to run and where it stands.
struct job_record {
  job_spec spec;
  job_state state = job_state::created;
  int32_t exit_code = -1;
  std::string reason;
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_record& x) {
  return f(caf::meta::type_name("conveyor::job_record"), x.spec, x.state,
           x.exit_code, x.reason, x.created_at_ms, x.started_at_ms,
           x.finished_at_ms);
}

} // namespace conveyor
