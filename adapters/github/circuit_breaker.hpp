#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace conveyor::github {

/// The states of a circuit breaker.
enum class breaker_state {
  closed,    ///< calls go out; consecutive failures are counted
  open,      ///< calls are rejected until the cool-down has passed
  half_open, ///< one probe call may go out; its result decides
};

/// Returns the state's name, e.g. "half_open".
std::string to_string(breaker_state x);

/// When a breaker opens and how long it stays open.
struct breaker_settings {
  uint32_t failure_threshold = 5; ///< consecutive failures that open it
  std::chrono::steady_clock::duration cool_down = std::chrono::seconds{30};
};

/// Totals since the breaker was made, for metrics.
struct breaker_counters {
  uint64_t failures = 0;     ///< calls reported as failed
  uint64_t successes = 0;    ///< calls reported as succeeded
  uint64_t rejections = 0;   ///< calls `allow` refused
  uint64_t times_opened = 0; ///< transitions to `open`
};

/// A change of a breaker's state, reported by the call that made it so that
/// its owner can log it (each change is reported once).
struct breaker_transition {
  breaker_state from = breaker_state::closed;
  breaker_state to = breaker_state::closed;
  /// Consecutive failures when it changed (0 once closed again).
  uint32_t consecutive_failures = 0;
  /// The reason given with the last failure, if any.
  std::string last_failure;
  /// To `open`: how long it stays open before a probe may go out. To
  /// `half_open`: how long it was open.
  std::chrono::steady_clock::duration open_for{0};
};

/// The answer of `circuit_breaker::admit`.
struct breaker_admission {
  bool allowed = false; ///< whether the call may go out
  /// Set when admitting the call turned the breaker half-open.
  std::optional<breaker_transition> transition;
};

/// A circuit breaker for the calls to one host. Closed, it opens after
/// `failure_threshold` consecutive failures; open, it rejects calls until
/// `cool_down` has passed, then lets one probe through (half-open); the
/// probe's success closes it, its failure opens it again. The caller asks
/// `allow` before each call and reports the call's result. Time is passed in,
/// so the breaker is deterministic under test. Not thread-safe: one owner.
class circuit_breaker {
public:
  using clock = std::chrono::steady_clock;

  /// Makes a closed breaker.
  explicit circuit_breaker(breaker_settings settings = {});

  /// Returns whether a call may go out at `now`; counts a rejection if not.
  /// An open breaker whose cool-down has passed turns half-open and allows
  /// one probe; a probe whose result never comes is given up after another
  /// cool-down, and a new probe is allowed.
  bool allow(clock::time_point now);

  /// Like `allow`, and also tells whether this turned the breaker
  /// half-open (open -> half_open).
  breaker_admission admit(clock::time_point now);

  /// Reports that a call allowed earlier succeeded; answers the transition
  /// it made (half_open -> closed), if any.
  std::optional<breaker_transition> record_success(clock::time_point now);

  /// Reports that a call allowed earlier failed, with a reason for the logs
  /// (e.g. "timed out"); answers the transition it made (closed -> open or
  /// half_open -> open), if any.
  std::optional<breaker_transition> record_failure(clock::time_point now,
                                                   std::string reason = {});

  /// The current state. An open breaker stays `open` until `allow` is
  /// called after its cool-down.
  breaker_state state() const {
    return state_;
  }

  /// Failures since the last success (or since the breaker closed).
  uint32_t consecutive_failures() const {
    return consecutive_failures_;
  }

  /// Totals, for metrics.
  const breaker_counters& counters() const {
    return counters_;
  }

  /// The reason given with the last failure ("" if none was given).
  const std::string& last_failure() const {
    return last_failure_;
  }

private:
  breaker_transition open(clock::time_point now);

  breaker_transition change_to(breaker_state to);

  breaker_settings settings_;
  breaker_state state_ = breaker_state::closed;
  uint32_t consecutive_failures_ = 0;
  clock::time_point opened_at_;
  bool probe_in_flight_ = false;
  clock::time_point probe_started_at_;
  breaker_counters counters_;
  std::string last_failure_;
};

/// One breaker per host, made on first use with the same settings.
class host_breakers {
public:
  /// Makes an empty set whose breakers use `settings`.
  explicit host_breakers(breaker_settings settings = {});

  /// Returns the breaker of `host`, making a closed one if there is none.
  circuit_breaker& of(const std::string& host);

  /// All breakers by host, e.g. to export their states and counters.
  const std::map<std::string, circuit_breaker>& all() const {
    return breakers_;
  }

private:
  breaker_settings settings_;
  std::map<std::string, circuit_breaker> breakers_;
};

} // namespace conveyor::github
