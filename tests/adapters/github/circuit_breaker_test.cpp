// The per-host circuit breaker: closed -> open -> half-open -> closed/open,
// with time passed in.
#include <catch2/catch.hpp>

#include <chrono>

#include "adapters/github/circuit_breaker.hpp"

using namespace conveyor::github;
using namespace std::chrono_literals;

namespace {

using time_point = circuit_breaker::clock::time_point;

const time_point t0 = time_point{} + 1000h;

breaker_settings three_failures_ten_seconds() {
  breaker_settings settings;
  settings.failure_threshold = 3;
  settings.cool_down = 10s;
  return settings;
}

// Allows and fails `n` calls at `now`.
void fail_calls(circuit_breaker& breaker, int n, time_point now) {
  for (int i = 0; i < n; ++i) {
    REQUIRE(breaker.allow(now));
    breaker.record_failure(now);
  }
}

} // namespace

TEST_CASE("a new breaker is closed and lets calls through") {
  circuit_breaker breaker;
  CHECK(breaker.state() == breaker_state::closed);
  for (int i = 0; i < 100; ++i)
    CHECK(breaker.allow(t0));
  CHECK(breaker.counters().rejections == 0);
}

TEST_CASE("the default settings open after five failures for thirty seconds") {
  breaker_settings defaults;
  CHECK(defaults.failure_threshold == 5);
  CHECK(defaults.cool_down == 30s);
}

TEST_CASE("the breaker opens after the threshold of consecutive failures") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 2, t0);
  CHECK(breaker.state() == breaker_state::closed);
  CHECK(breaker.consecutive_failures() == 2);
  fail_calls(breaker, 1, t0);
  CHECK(breaker.state() == breaker_state::open);
  CHECK(breaker.counters().times_opened == 1);
  CHECK(breaker.counters().failures == 3);
}

TEST_CASE("a success resets the count of consecutive failures") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 2, t0);
  REQUIRE(breaker.allow(t0));
  breaker.record_success(t0);
  CHECK(breaker.consecutive_failures() == 0);
  fail_calls(breaker, 2, t0);
  CHECK(breaker.state() == breaker_state::closed);
  fail_calls(breaker, 1, t0);
  CHECK(breaker.state() == breaker_state::open);
}

TEST_CASE("an open breaker rejects calls until the cool-down has passed") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  CHECK_FALSE(breaker.allow(t0));
  CHECK_FALSE(breaker.allow(t0 + 5s));
  CHECK_FALSE(breaker.allow(t0 + 9999ms));
  CHECK(breaker.state() == breaker_state::open);
  CHECK(breaker.counters().rejections == 3);
}

TEST_CASE("after the cool-down exactly one probe goes out") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  CHECK(breaker.allow(t0 + 10s));
  CHECK(breaker.state() == breaker_state::half_open);
  CHECK_FALSE(breaker.allow(t0 + 10s));
  CHECK_FALSE(breaker.allow(t0 + 15s));
  CHECK(breaker.counters().rejections == 2);
}

TEST_CASE("a successful probe closes the breaker") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  REQUIRE(breaker.allow(t0 + 11s));
  breaker.record_success(t0 + 12s);
  CHECK(breaker.state() == breaker_state::closed);
  CHECK(breaker.consecutive_failures() == 0);
  CHECK(breaker.allow(t0 + 12s));
  CHECK(breaker.allow(t0 + 12s));
  // Closed again, it needs the full threshold to open.
  fail_calls(breaker, 2, t0 + 13s);
  CHECK(breaker.state() == breaker_state::closed);
}

TEST_CASE("a failed probe opens the breaker for another cool-down") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  REQUIRE(breaker.allow(t0 + 10s));
  breaker.record_failure(t0 + 12s);
  CHECK(breaker.state() == breaker_state::open);
  CHECK(breaker.counters().times_opened == 2);
  // The new cool-down counts from the probe's failure.
  CHECK_FALSE(breaker.allow(t0 + 21s));
  CHECK(breaker.allow(t0 + 22s));
  CHECK(breaker.state() == breaker_state::half_open);
}

TEST_CASE("a probe that never reports is given up after a cool-down") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  REQUIRE(breaker.allow(t0 + 10s));
  CHECK_FALSE(breaker.allow(t0 + 19s));
  CHECK(breaker.allow(t0 + 20s));
  CHECK(breaker.state() == breaker_state::half_open);
  CHECK_FALSE(breaker.allow(t0 + 20s));
}

TEST_CASE("late results of calls from before the opening change nothing") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  // Five calls go out while closed; three fail and open the breaker.
  for (int i = 0; i < 5; ++i)
    REQUIRE(breaker.allow(t0));
  for (int i = 0; i < 3; ++i)
    breaker.record_failure(t0);
  REQUIRE(breaker.state() == breaker_state::open);
  breaker.record_success(t0 + 1s);
  CHECK(breaker.state() == breaker_state::open);
  breaker.record_failure(t0 + 9s);
  CHECK(breaker.state() == breaker_state::open);
  CHECK(breaker.counters().times_opened == 1);
  // The late failure did not extend the cool-down.
  CHECK(breaker.allow(t0 + 10s));
}

TEST_CASE("counters add up over a whole cycle") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);                 // 3 failures, opened once
  CHECK_FALSE(breaker.allow(t0 + 1s));        // 1 rejection
  REQUIRE(breaker.allow(t0 + 10s));           // probe
  breaker.record_failure(t0 + 10s);           // 4 failures, opened twice
  CHECK_FALSE(breaker.allow(t0 + 11s));       // 2 rejections
  REQUIRE(breaker.allow(t0 + 20s));           // probe
  breaker.record_success(t0 + 20s);           // 1 success, closed
  REQUIRE(breaker.allow(t0 + 21s));
  breaker.record_success(t0 + 21s);           // 2 successes
  const auto& c = breaker.counters();
  CHECK(c.failures == 4);
  CHECK(c.successes == 2);
  CHECK(c.rejections == 2);
  CHECK(c.times_opened == 2);
  CHECK(breaker.state() == breaker_state::closed);
}

TEST_CASE("a threshold of zero behaves as one") {
  breaker_settings settings;
  settings.failure_threshold = 0;
  circuit_breaker breaker{settings};
  CHECK(breaker.allow(t0));
  CHECK(breaker.state() == breaker_state::closed);
  breaker.record_failure(t0);
  CHECK(breaker.state() == breaker_state::open);
}

TEST_CASE("each host has its own breaker") {
  host_breakers breakers{three_failures_ten_seconds()};
  auto& api = breakers.of("api.github.com");
  fail_calls(api, 3, t0);
  CHECK(breakers.of("api.github.com").state() == breaker_state::open);
  CHECK(&breakers.of("api.github.com") == &api);
  CHECK(breakers.of("github.example.com").state() == breaker_state::closed);
  CHECK(breakers.of("github.example.com").allow(t0));
  REQUIRE(breakers.all().size() == 2);
  CHECK(breakers.all().at("api.github.com").counters().times_opened == 1);
}

TEST_CASE("breaker states have names") {
  CHECK(to_string(breaker_state::closed) == "closed");
  CHECK(to_string(breaker_state::open) == "open");
  CHECK(to_string(breaker_state::half_open) == "half_open");
}

// -- transitions ---------------------------------------------------------------

TEST_CASE("every change of state is reported once with its details") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  // Closed: failures below the threshold and successes report nothing.
  REQUIRE(breaker.allow(t0));
  CHECK_FALSE(breaker.record_failure(t0, "status 502").has_value());
  REQUIRE(breaker.allow(t0));
  CHECK_FALSE(breaker.record_success(t0).has_value());
  REQUIRE(breaker.admit(t0).allowed);
  CHECK_FALSE(breaker.admit(t0).transition.has_value());
  CHECK_FALSE(breaker.record_failure(t0, "timed out").has_value());
  CHECK_FALSE(breaker.record_failure(t0, "timed out").has_value());
  // closed -> open, at the third consecutive failure.
  auto opened = breaker.record_failure(t0 + 1s, "connection reset");
  REQUIRE(opened.has_value());
  CHECK(opened->from == breaker_state::closed);
  CHECK(opened->to == breaker_state::open);
  CHECK(opened->consecutive_failures == 3);
  CHECK(opened->last_failure == "connection reset");
  CHECK(opened->open_for == 10s);
  CHECK(breaker.last_failure() == "connection reset");
  // Rejections and late results while open report nothing.
  auto rejected = breaker.admit(t0 + 5s);
  CHECK_FALSE(rejected.allowed);
  CHECK_FALSE(rejected.transition.has_value());
  CHECK_FALSE(breaker.record_failure(t0 + 6s, "late").has_value());
  CHECK_FALSE(breaker.record_success(t0 + 6s).has_value());
  // open -> half_open, once, by the call that becomes the probe.
  auto probe = breaker.admit(t0 + 11s);
  CHECK(probe.allowed);
  REQUIRE(probe.transition.has_value());
  CHECK(probe.transition->from == breaker_state::open);
  CHECK(probe.transition->to == breaker_state::half_open);
  CHECK(probe.transition->consecutive_failures == 4);
  CHECK(probe.transition->last_failure == "late");
  CHECK(probe.transition->open_for == 10s); // opened at t0 + 1s
  auto second = breaker.admit(t0 + 11s);
  CHECK_FALSE(second.allowed);
  CHECK_FALSE(second.transition.has_value());
  // half_open -> open when the probe fails.
  auto reopened = breaker.record_failure(t0 + 12s, "status 503");
  REQUIRE(reopened.has_value());
  CHECK(reopened->from == breaker_state::half_open);
  CHECK(reopened->to == breaker_state::open);
  CHECK(reopened->consecutive_failures == 5);
  CHECK(reopened->last_failure == "status 503");
  CHECK(reopened->open_for == 10s);
  // half_open -> closed when the next probe succeeds.
  auto again = breaker.admit(t0 + 22s);
  REQUIRE(again.transition.has_value());
  CHECK(again.transition->to == breaker_state::half_open);
  auto closed = breaker.record_success(t0 + 22s);
  REQUIRE(closed.has_value());
  CHECK(closed->from == breaker_state::half_open);
  CHECK(closed->to == breaker_state::closed);
  CHECK(closed->consecutive_failures == 0);
  CHECK_FALSE(breaker.record_success(t0 + 23s).has_value());
}

TEST_CASE("a probe given up after a cool-down is no new transition") {
  circuit_breaker breaker{three_failures_ten_seconds()};
  fail_calls(breaker, 3, t0);
  REQUIRE(breaker.admit(t0 + 10s).transition.has_value());
  auto retry = breaker.admit(t0 + 20s);
  CHECK(retry.allowed);
  CHECK_FALSE(retry.transition.has_value());
  CHECK(breaker.state() == breaker_state::half_open);
}
