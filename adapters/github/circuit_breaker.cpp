#include "adapters/github/circuit_breaker.hpp"

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
  switch (state_) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      if (now - opened_at_ >= settings_.cool_down) {
        state_ = breaker_state::half_open;
        probe_in_flight_ = true;
        probe_started_at_ = now;
        return true;
      }
      break;
    case breaker_state::half_open:
      // A probe whose caller never reported back must not keep the breaker
      // half-open (and every call rejected) forever.
      if (!probe_in_flight_
          || now - probe_started_at_ >= settings_.cool_down) {
        probe_in_flight_ = true;
        probe_started_at_ = now;
        return true;
      }
      break;
  }
  ++counters_.rejections;
  return false;
}

void circuit_breaker::record_success(clock::time_point) {
  ++counters_.successes;
  switch (state_) {
    case breaker_state::closed:
      consecutive_failures_ = 0;
      break;
    case breaker_state::half_open:
      state_ = breaker_state::closed;
      consecutive_failures_ = 0;
      probe_in_flight_ = false;
      break;
    case breaker_state::open:
      // A call that went out before the breaker opened: the host may be
      // back, but only a probe after the cool-down decides.
      break;
  }
}

void circuit_breaker::record_failure(clock::time_point now) {
  ++counters_.failures;
  switch (state_) {
    case breaker_state::closed:
      if (++consecutive_failures_ >= settings_.failure_threshold)
        open(now);
      break;
    case breaker_state::half_open:
      ++consecutive_failures_;
      open(now);
      break;
    case breaker_state::open:
      // A late result of a call from before the breaker opened; extending
      // the cool-down for it would punish the host twice.
      ++consecutive_failures_;
      break;
  }
}

void circuit_breaker::open(clock::time_point now) {
  state_ = breaker_state::open;
  opened_at_ = now;
  probe_in_flight_ = false;
  ++counters_.times_opened;
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
