#include "adapters/github/circuit_breaker.hpp"

#include <utility>

namespace conveyor::github {

std::string to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "unknown";
}

circuit_breaker::circuit_breaker(breaker_settings settings)
  : settings_(settings) {
  // A threshold of 0 would open the breaker before any call.
  if (settings_.failure_threshold == 0)
    settings_.failure_threshold = 1;
}

bool circuit_breaker::allow(clock::time_point now) {
  return admit(now).allowed;
}

breaker_admission circuit_breaker::admit(clock::time_point now) {
  breaker_admission result;
  switch (state_) {
    case breaker_state::closed:
      result.allowed = true;
      return result;
    case breaker_state::open:
      if (now - opened_at_ >= settings_.cool_down) {
        result.transition = change_to(breaker_state::half_open);
        result.transition->open_for = now - opened_at_;
        probe_in_flight_ = true;
        probe_started_at_ = now;
        result.allowed = true;
        return result;
      }
      break;
    case breaker_state::half_open:
      // A probe whose caller never reported back must not keep the breaker
      // half-open (and every call rejected) forever.
      if (!probe_in_flight_
          || now - probe_started_at_ >= settings_.cool_down) {
        probe_in_flight_ = true;
        probe_started_at_ = now;
        result.allowed = true;
        return result;
      }
      break;
  }
  ++counters_.rejections;
  return result;
}

std::optional<breaker_transition>
circuit_breaker::record_success(clock::time_point) {
  ++counters_.successes;
  switch (state_) {
    case breaker_state::closed:
      consecutive_failures_ = 0;
      break;
    case breaker_state::half_open:
      consecutive_failures_ = 0;
      probe_in_flight_ = false;
      return change_to(breaker_state::closed);
    case breaker_state::open:
      // A call that went out before the breaker opened: the host may be
      // back, but only a probe after the cool-down decides.
      break;
  }
  return std::nullopt;
}

std::optional<breaker_transition>
circuit_breaker::record_failure(clock::time_point now, std::string reason) {
  ++counters_.failures;
  last_failure_ = std::move(reason);
  switch (state_) {
    case breaker_state::closed:
      if (++consecutive_failures_ >= settings_.failure_threshold)
        return open(now);
      break;
    case breaker_state::half_open:
      ++consecutive_failures_;
      return open(now);
    case breaker_state::open:
      // A late result of a call from before the breaker opened; extending
      // the cool-down for it would punish the host twice.
      ++consecutive_failures_;
      break;
  }
  return std::nullopt;
}

breaker_transition circuit_breaker::open(clock::time_point now) {
  auto result = change_to(breaker_state::open);
  result.open_for = settings_.cool_down;
  opened_at_ = now;
  probe_in_flight_ = false;
  ++counters_.times_opened;
  return result;
}

breaker_transition circuit_breaker::change_to(breaker_state to) {
  breaker_transition result;
  result.from = state_;
  result.to = to;
  result.consecutive_failures = consecutive_failures_;
  result.last_failure = last_failure_;
  state_ = to;
  return result;
}

host_breakers::host_breakers(breaker_settings settings) : settings_(settings) {
  // nop
}

circuit_breaker& host_breakers::of(const std::string& host) {
  auto i = breakers_.find(host);
  if (i == breakers_.end())
    i = breakers_.emplace(host, circuit_breaker{settings_}).first;
  return i->second;
}

} // namespace conveyor::github
