// Retrying GitHub API calls: backoff with jitter, classification of
// responses, rate-limit headers.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "adapters/github/retry_policy.hpp"

using namespace conveyor::github;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

// 2015-10-21 07:28:00 UTC.
const system_clock::time_point now = system_clock::time_point{1445412480s};

retry_settings no_jitter() {
  retry_settings settings;
  settings.jitter = 0.0;
  return settings;
}

attempt_result response(int status, header_list headers = {}) {
  return attempt_result{transport_error::none, status, std::move(headers)};
}

attempt_result failed(transport_error error) {
  return attempt_result{error, 0, {}};
}

} // namespace

// -- backoff ------------------------------------------------------------------

TEST_CASE("backoff doubles from the base delay up to the cap") {
  retry_policy policy{no_jitter()};
  CHECK(policy.backoff(1, 0.5) == 500ms);
  CHECK(policy.backoff(2, 0.5) == 1000ms);
  CHECK(policy.backoff(3, 0.5) == 2000ms);
  CHECK(policy.backoff(6, 0.5) == 16000ms);
  CHECK(policy.backoff(7, 0.5) == 30000ms);
  CHECK(policy.backoff(1000, 0.5) == 30000ms);
  CHECK(policy.backoff(0, 0.5) == 500ms);
  CHECK(policy.backoff(-5, 0.5) == 500ms);
}

TEST_CASE("jitter spreads the backoff by the fraction both ways") {
  retry_settings settings;
  settings.jitter = 0.2;
  retry_policy policy{settings};
  CHECK(policy.backoff(2, 0.0) == 800ms);
  CHECK(policy.backoff(2, 0.5) == 1000ms);
  CHECK(policy.backoff(2, 1.0) == 1200ms);
  CHECK(policy.backoff(2, 0.25) == 900ms);
  // The random number is clamped to [0, 1].
  CHECK(policy.backoff(2, -3.0) == 800ms);
  CHECK(policy.backoff(2, 7.0) == 1200ms);
  // The cap applies before the jitter, so capped delays still spread.
  CHECK(policy.backoff(100, 0.0) == 24000ms);
  CHECK(policy.backoff(100, 1.0) == 36000ms);
}

TEST_CASE("without jitter the random number does not matter") {
  retry_policy policy{no_jitter()};
  for (double unit : {0.0, 0.1, 0.9, 1.0})
    CHECK(policy.backoff(3, unit) == 2000ms);
}

TEST_CASE("out-of-range settings are clamped") {
  retry_settings settings;
  settings.max_attempts = 0;
  settings.jitter = 5.0;
  settings.base_delay = -1s;
  settings.max_delay = -2s;
  retry_policy policy{settings};
  CHECK(policy.settings().max_attempts == 1);
  CHECK(policy.settings().jitter == 1.0);
  CHECK(policy.settings().base_delay == 0ms);
  CHECK(policy.settings().max_delay == 0ms);
  CHECK(policy.backoff(3, 1.0) == 0ms);
}

// -- classification -----------------------------------------------------------

TEST_CASE("a response below 400 is done") {
  retry_policy policy;
  for (int status : {200, 201, 204, 304}) {
    auto d = policy.decide(response(status), 1, now, 0.5);
    CHECK(d.verdict == retry_verdict::done);
    CHECK(d.delay == 0ms);
    CHECK(d.reason == "status " + std::to_string(status));
  }
}

TEST_CASE("server errors are retried with backoff") {
  retry_policy policy{no_jitter()};
  for (int status : {500, 502, 503, 504}) {
    auto d = policy.decide(response(status), 2, now, 0.5);
    CHECK(d.verdict == retry_verdict::retry);
    CHECK(d.delay == 1000ms);
    CHECK(d.reason == "status " + std::to_string(status));
  }
}

TEST_CASE("timeouts and connection resets are retried") {
  retry_policy policy{no_jitter()};
  auto d = policy.decide(failed(transport_error::timeout), 1, now, 0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 500ms);
  CHECK(d.reason == "timeout");
  d = policy.decide(failed(transport_error::connection_reset), 3, now, 0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 2000ms);
  CHECK(d.reason == "connection reset");
}

TEST_CASE("other transport errors are not retried") {
  retry_policy policy;
  auto d = policy.decide(failed(transport_error::other), 1, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason == "transport error");
}

TEST_CASE("transient failures give up when the attempts are used") {
  retry_policy policy;
  REQUIRE(policy.settings().max_attempts == 5);
  auto d = policy.decide(response(503), 4, now, 0.5);
  CHECK(d.verdict == retry_verdict::retry);
  d = policy.decide(response(503), 5, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason == "status 503; 5 attempts used");
  d = policy.decide(failed(transport_error::timeout), 5, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason == "timeout; 5 attempts used");
}

TEST_CASE("client errors are not retried") {
  retry_policy policy;
  for (int status : {400, 401, 404, 409, 422}) {
    auto d = policy.decide(response(status), 1, now, 0.5);
    CHECK(d.verdict == retry_verdict::give_up);
    CHECK(d.reason == "status " + std::to_string(status));
  }
}

TEST_CASE("a 403 without rate-limit headers is a permission problem") {
  retry_policy policy;
  auto d = policy.decide(
    response(403, {{"x-ratelimit-remaining", "4999"},
                   {"x-ratelimit-reset", "1445412600"}}),
    1, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason == "status 403");
  CHECK(policy.decide(response(403), 1, now, 0.5).verdict
        == retry_verdict::give_up);
}

// -- rate limits --------------------------------------------------------------

TEST_CASE("an exhausted primary rate limit waits until the reset") {
  retry_policy policy;
  auto d = policy.decide(response(403, {{"X-RateLimit-Remaining", "0"},
                                        {"X-RateLimit-Reset", "1445412600"}}),
                         1, now, 0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 120s);
  CHECK(d.reason == "status 403: rate limited for 120 s");
}

TEST_CASE("Retry-After in seconds is obeyed by 403 and 429") {
  retry_policy policy;
  for (int status : {403, 429}) {
    auto d = policy.decide(response(status, {{"Retry-After", "42"}}), 1, now,
                           0.5);
    CHECK(d.verdict == retry_verdict::retry);
    CHECK(d.delay == 42s);
  }
}

TEST_CASE("Retry-After as an HTTP-date is obeyed") {
  retry_policy policy;
  auto d = policy.decide(
    response(429, {{"retry-after", "Wed, 21 Oct 2015 07:30:30 GMT"}}), 1, now,
    0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 150s);
}

TEST_CASE("Retry-After comes before the rate-limit reset") {
  header_list headers{{"x-ratelimit-remaining", "0"},
                      {"x-ratelimit-reset", "1445412600"},
                      {"retry-after", "5"}};
  CHECK(rate_limit_wait(headers, now) == milliseconds{5s});
}

TEST_CASE("a rate limit that lifted already waits nothing") {
  CHECK(rate_limit_wait({{"x-ratelimit-remaining", "0"},
                         {"x-ratelimit-reset", "1445412000"}},
                        now)
        == 0ms);
  CHECK(rate_limit_wait({{"retry-after", "Wed, 21 Oct 2015 07:00:00 GMT"}},
                        now)
        == 0ms);
  CHECK(rate_limit_wait({{"retry-after", "0"}}, now) == 0ms);
}

TEST_CASE("a reset is ignored while requests remain") {
  CHECK_FALSE(rate_limit_wait({{"x-ratelimit-remaining", "3"},
                               {"x-ratelimit-reset", "1445412600"}},
                              now));
  CHECK_FALSE(rate_limit_wait({{"x-ratelimit-reset", "1445412600"}}, now));
  CHECK_FALSE(rate_limit_wait({}, now));
}

TEST_CASE("unreadable rate-limit headers are ignored") {
  CHECK_FALSE(rate_limit_wait({{"retry-after", "soon"}}, now));
  CHECK_FALSE(rate_limit_wait({{"retry-after", "-5"}}, now));
  CHECK_FALSE(rate_limit_wait({{"retry-after", "1.5"}}, now));
  CHECK_FALSE(rate_limit_wait({{"x-ratelimit-remaining", "0"},
                               {"x-ratelimit-reset", "tomorrow"}},
                              now));
  // An unreadable Retry-After falls back to the reset.
  CHECK(rate_limit_wait({{"retry-after", "soon"},
                         {"x-ratelimit-remaining", "0"},
                         {"x-ratelimit-reset", "1445412490"}},
                        now)
        == 10s);
  CHECK(rate_limit_wait({{"retry-after", " 7 "}}, now) == 7s);
}

TEST_CASE("a 429 without any hint waits at least a minute") {
  retry_policy policy{no_jitter()};
  auto d = policy.decide(response(429), 1, now, 0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 60s);
  // A 403 with an exhausted limit but no reset waits the same.
  d = policy.decide(response(403, {{"x-ratelimit-remaining", "0"}}), 1, now,
                    0.5);
  CHECK(d.verdict == retry_verdict::retry);
  CHECK(d.delay == 60s);
}

TEST_CASE("a rate limit longer than the maximum wait gives up") {
  retry_policy policy;
  REQUIRE(policy.settings().max_rate_limit_wait == 15min);
  auto d = policy.decide(response(403, {{"x-ratelimit-remaining", "0"},
                                        {"x-ratelimit-reset", "1445416080"}}),
                         1, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason
        == "status 403: rate limited for 3600 s, longer than the 900 s "
           "conveyor waits");
}

TEST_CASE("rate-limit waits count as attempts") {
  retry_policy policy;
  auto d = policy.decide(response(429, {{"retry-after", "1"}}), 5, now, 0.5);
  CHECK(d.verdict == retry_verdict::give_up);
  CHECK(d.reason == "status 429: rate limited for 1 s; 5 attempts used");
}

TEST_CASE("headers are found whatever their case") {
  header_list headers{{"Content-Type", "application/json"},
                      {"X-RATELIMIT-REMAINING", "0"}};
  CHECK(find_header(headers, "x-ratelimit-remaining") == "0");
  CHECK(find_header(headers, "content-type") == "application/json");
  CHECK_FALSE(find_header(headers, "retry-after"));
}

// -- HTTP-dates ---------------------------------------------------------------

TEST_CASE("IMF-fixdate HTTP-dates are parsed") {
  auto seconds_of = [](std::string_view text) {
    auto t = parse_http_date(text);
    REQUIRE(t);
    return std::chrono::duration_cast<seconds>(t->time_since_epoch()).count();
  };
  CHECK(seconds_of("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(seconds_of("Wed, 21 Oct 2015 07:28:00 GMT") == 1445412480);
  CHECK(seconds_of("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(seconds_of("Fri, 01 Mar 2024 00:00:00 GMT") == 1709251200);
  CHECK(seconds_of("Thu, 29 Feb 2024 00:00:00 GMT") == 1709164800);
}

TEST_CASE("other date forms are rejected") {
  for (std::string text : {
         "",
         "Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850
         "Sun Nov  6 08:49:37 1994",       // asctime
         "Sun, 06 Nov 1994 08:49:37 UTC",
         "Sun, 6 Nov 1994 08:49:37 GMT",
         "Sun, 06 nov 1994 08:49:37 GMT",
         "Xyz, 06 Nov 1994 08:49:37 GMT",
         "Sun, 32 Nov 1994 08:49:37 GMT",
         "Sun, 06 Nov 1994 24:49:37 GMT",
         "Sun, 06 Nov 1994 08:60:37 GMT",
         "Sun, 06 Nov 19a4 08:49:37 GMT",
         "Sun, 06 Nov 1994 08:49:37 GMT ",
       }) {
    INFO("date '" << text << "'");
    CHECK_FALSE(parse_http_date(text));
  }
}

TEST_CASE("retry verdicts have names") {
  CHECK(to_string(retry_verdict::done) == "done");
  CHECK(to_string(retry_verdict::retry) == "retry");
  CHECK(to_string(retry_verdict::give_up) == "give_up");
}
