#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conveyor::github {

/// Response headers as (name, value) pairs; names compare case-insensitively.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// How a call failed before any response arrived.
enum class transport_error {
  none,             ///< a response arrived: see its status
  timeout,          ///< no answer in time (connect, write or read)
  connection_reset, ///< the peer closed or reset the connection
  other,            ///< anything else (DNS, TLS, refused): not retried
};

/// What one attempt of a call gave.
struct attempt_result {
  transport_error error = transport_error::none;
  int status = 0;      ///< the HTTP status when `error` is `none`
  header_list headers; ///< the response headers
};

/// What to do after an attempt.
enum class retry_verdict {
  done,    ///< the call succeeded (status below 400)
  retry,   ///< try again after `retry_decision::delay`
  give_up, ///< stop: the failure is permanent or the attempts are used up
};

/// Returns the verdict's name, e.g. "give_up".
std::string to_string(retry_verdict x);

/// The decision after an attempt, with a reason for the logs.
struct retry_decision {
  retry_verdict verdict = retry_verdict::give_up;
  std::chrono::milliseconds delay{0}; ///< wait before the next attempt
  std::string reason;                 ///< e.g. "status 503", "rate limited"
};

/// Limits of the policy. The defaults suit the GitHub API.
struct retry_settings {
  int max_attempts = 5;                          ///< including the first one
  std::chrono::milliseconds base_delay{500};     ///< backoff after attempt 1
  std::chrono::milliseconds max_delay{30'000};   ///< cap of the backoff
  double jitter = 0.2; ///< the backoff varies by ± this fraction
  /// A rate limit that lifts later than this is not waited for.
  std::chrono::milliseconds max_rate_limit_wait{15 * 60 * 1000};
  /// Wait of a 429 that says nothing about when to come back (GitHub asks
  /// for at least a minute).
  std::chrono::milliseconds default_rate_limit_wait{60'000};
};

/// Decides whether and when to retry a call: 5xx, timeouts and connection
/// resets are retried with exponential backoff and jitter; a rate limit (403
/// or 429 with `Retry-After`, or with `x-ratelimit-remaining: 0` and
/// `x-ratelimit-reset`; any 429) waits as the headers say; other 4xx and other
/// transport errors are permanent. Pure: time and randomness are passed in.
class retry_policy {
public:
  /// Makes a policy; out-of-range settings are clamped to sane values.
  explicit retry_policy(retry_settings settings = {});

  /// The backoff after the `attempt`-th failed attempt (1-based):
  /// `base_delay * 2^(attempt-1)`, capped at `max_delay`, then scaled by
  /// `1 + jitter * (2 * unit - 1)` where `unit` is a random number in [0, 1]
  /// (0.5 gives the exact value).
  std::chrono::milliseconds backoff(int attempt, double unit) const;

  /// Decides what follows the `attempt`-th attempt (1-based), which gave
  /// `result`, at wall-clock time `now` (rate-limit headers are wall-clock
  /// times); `unit` is a random number in [0, 1] for the jitter.
  retry_decision decide(const attempt_result& result, int attempt,
                        std::chrono::system_clock::time_point now,
                        double unit) const;

  /// The settings in use.
  const retry_settings& settings() const {
    return settings_;
  }

private:
  retry_settings settings_;
};

/// Returns the value of header `name` (case-insensitive), if present.
std::optional<std::string_view> find_header(const header_list& headers,
                                            std::string_view name);

/// How long a rate-limited response asks to wait at `now`: `Retry-After`
/// (delay-seconds or an HTTP-date) first, else `x-ratelimit-reset` (epoch
/// seconds) when `x-ratelimit-remaining` is 0. A time in the past gives 0;
/// `std::nullopt` if the headers say nothing usable.
std::optional<std::chrono::milliseconds>
rate_limit_wait(const header_list& headers,
                std::chrono::system_clock::time_point now);

/// Parses an IMF-fixdate HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
/// (the form every current server sends; the obsolete RFC 850 and asctime
/// forms are not accepted).
std::optional<std::chrono::system_clock::time_point>
parse_http_date(std::string_view text);

} // namespace conveyor::github
