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
