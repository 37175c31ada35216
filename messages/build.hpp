#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/build_request.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// The life of a build: created → started → passed | failed | errored | canceled.
enum class build_state : uint8_t {
  created,
  started,
  passed,
  failed,
  errored,
  canceled,
};

/// Returns the state's name, e.g. "errored".
std::string to_string(build_state x);

/// Parses a state name; returns false if `name` is none.
bool from_string(const std::string& name, build_state& out);

/// True for passed, failed, errored and canceled.
bool is_terminal(build_state x);

/// A finding about a build config, with where it was found (1-based; 0 if
/// unknown). Levels: "error" makes the build errored, "warn" and "info" are kept.
struct config_message {
  std::string level;
  std::string key;     ///< the config key it is about, e.g. "env.jobs"
  std::string code;    ///< e.g. "syntax_error", "unknown_key", "invalid_type"
  std::string message; ///< the sentence shown to the user
  int32_t line = 0;
  int32_t column = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, config_message& x) {
  return f(caf::meta::type_name("conveyor::config_message"), x.level, x.key,
           x.code, x.message, x.line, x.column);
}

/// Renders a message as "error: line 3, column 5: <message> [code]".
std::string to_string(const config_message& x);

/// A build as stored: its request, state, config findings and jobs.
struct build_record {
  int64_t id = 0;
  int64_t number = 0;          ///< per repository, from 1
  build_request request;
  build_state state = build_state::created;
  bool fast_finish = false;
  std::string config;          ///< the config file's name, e.g. ".travis.yml"
  std::vector<config_message> messages;
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::vector<job_record> jobs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_record& x) {
  return f(caf::meta::type_name("conveyor::build_record"), x.id, x.number,
           x.request, x.state, x.fast_finish, x.config, x.messages,
           x.created_at_ms, x.started_at_ms, x.finished_at_ms, x.jobs);
}

/// Event: a build moved to `state` at `at_ms`. Sent by the scheduler to the
/// store and, once stored, to build listeners.
struct build_state_changed {
  int64_t build_id = 0;
  build_state state = build_state::created;
  int64_t at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_state_changed& x) {
  return f(caf::meta::type_name("conveyor::build_state_changed"), x.build_id,
           x.state, x.at_ms);
}

} // namespace conveyor
