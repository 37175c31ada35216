#include "adapters/github/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace conveyor::github {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

bool iequals(std::string_view x, std::string_view y) {
  if (x.size() != y.size())
    return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(x[i]))
        != std::tolower(static_cast<unsigned char>(y[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

// Parses all of `x` as a non-negative decimal integer.
std::optional<int64_t> to_integer(std::string_view x) {
  x = trim(x);
  if (x.empty() || x.front() == '-' || x.front() == '+')
    return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(x.data(), x.data() + x.size(), value);
  if (ec != std::errc{} || end != x.data() + x.size())
    return std::nullopt;
  return value;
}

std::optional<int> two_digits(std::string_view x) {
  if (x.size() != 2 || !std::isdigit(static_cast<unsigned char>(x[0]))
      || !std::isdigit(static_cast<unsigned char>(x[1])))
    return std::nullopt;
  return (x[0] - '0') * 10 + (x[1] - '0');
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

milliseconds until(system_clock::time_point when,
                   system_clock::time_point now) {
  if (when <= now)
    return milliseconds{0};
  return std::chrono::ceil<milliseconds>(when - now);
}

bool is_rate_limited(const attempt_result& result) {
  if (result.status == 429)
    return true;
  if (result.status != 403)
    return false;
  // A 403 is also GitHub's answer to a permission problem, which no
  // amount of waiting fixes; only these headers mark a rate limit.
  auto remaining = find_header(result.headers, "x-ratelimit-remaining");
  return find_header(result.headers, "retry-after").has_value()
         || (remaining && to_integer(*remaining) == 0);
}

std::string describe(milliseconds x) {
  return std::to_string((x.count() + 999) / 1000) + " s";
}

} // namespace

std::string to_string(retry_verdict x) {
  switch (x) {
    case retry_verdict::done:
      return "done";
    case retry_verdict::retry:
      return "retry";
    case retry_verdict::give_up:
      return "give_up";
  }
  return "unknown";
}

retry_policy::retry_policy(retry_settings settings) : settings_(settings) {
  settings_.max_attempts = std::max(settings_.max_attempts, 1);
  settings_.base_delay = std::max(settings_.base_delay, milliseconds{0});
  settings_.max_delay = std::max(settings_.max_delay, settings_.base_delay);
  if (!(settings_.jitter >= 0.0)) // also catches NaN
    settings_.jitter = 0.0;
  settings_.jitter = std::min(settings_.jitter, 1.0);
}

milliseconds retry_policy::backoff(int attempt, double unit) const {
  attempt = std::max(attempt, 1);
  if (!(unit >= 0.0)) // also catches NaN
    unit = 0.0;
  unit = std::min(unit, 1.0);
  // In double, so that a large attempt saturates at the cap, not overflows.
  auto exact = static_cast<double>(settings_.base_delay.count())
               * std::pow(2.0, std::min(attempt - 1, 62));
  auto cap = static_cast<double>(settings_.max_delay.count());
  auto capped = std::min(exact, cap);
  auto jittered = capped * (1.0 + settings_.jitter * (2.0 * unit - 1.0));
  return milliseconds{static_cast<int64_t>(std::llround(jittered))};
}

retry_decision retry_policy::decide(const attempt_result& result, int attempt,
                                    system_clock::time_point now,
                                    double unit) const {
  auto used_up = attempt >= settings_.max_attempts;
  auto transient = [this, used_up, attempt, unit](std::string why) {
    if (used_up)
      return retry_decision{retry_verdict::give_up, milliseconds{0},
                            why + "; " + std::to_string(attempt)
                              + " attempts used"};
    return retry_decision{retry_verdict::retry, backoff(attempt, unit),
                          std::move(why)};
  };
  auto permanent = [](std::string why) {
    return retry_decision{retry_verdict::give_up, milliseconds{0},
                          std::move(why)};
  };
  switch (result.error) {
    case transport_error::none:
      break;
    case transport_error::timeout:
      return transient("timeout");
    case transport_error::connection_reset:
      return transient("connection reset");
    case transport_error::other:
      return permanent("transport error");
  }
  auto status = "status " + std::to_string(result.status);
  if (result.status > 0 && result.status < 400)
    return {retry_verdict::done, milliseconds{0}, std::move(status)};
  if (is_rate_limited(result)) {
    auto wait = rate_limit_wait(result.headers, now);
    auto delay = wait ? *wait
                      : std::max(settings_.default_rate_limit_wait,
                                 backoff(attempt, unit));
    auto why = status + ": rate limited for " + describe(delay);
    if (delay > settings_.max_rate_limit_wait)
      return permanent(why + ", longer than the "
                       + describe(settings_.max_rate_limit_wait)
                       + " conveyor waits");
    if (used_up)
      return permanent(why + "; " + std::to_string(attempt)
                       + " attempts used");
    return {retry_verdict::retry, delay, std::move(why)};
  }
  if (result.status >= 500 && result.status < 600)
    return transient(std::move(status));
  return permanent(std::move(status));
}

std::optional<std::string_view> find_header(const header_list& headers,
                                            std::string_view name) {
  for (const auto& [key, value] : headers)
    if (iequals(key, name))
      return std::string_view{value};
  return std::nullopt;
}

std::optional<milliseconds> rate_limit_wait(const header_list& headers,
                                            system_clock::time_point now) {
  if (auto retry_after = find_header(headers, "retry-after")) {
    if (auto secs = to_integer(*retry_after)) {
      // Over a year is nonsense; capping keeps the arithmetic in range.
      return milliseconds{std::min<int64_t>(*secs, 366 * 86400) * 1000};
    }
    if (auto when = parse_http_date(trim(*retry_after)))
      return until(*when, now);
  }
  auto remaining = find_header(headers, "x-ratelimit-remaining");
  auto reset = find_header(headers, "x-ratelimit-reset");
  if (remaining && reset && to_integer(*remaining) == 0) {
    if (auto epoch = to_integer(*reset)) {
      auto when = system_clock::time_point{
        seconds{std::min<int64_t>(*epoch, int64_t{1} << 40)}};
      return until(when, now);
    }
  }
  return std::nullopt;
}

std::optional<system_clock::time_point> parse_http_date(std::string_view text) {
  // "Wed, 21 Oct 2015 07:28:00 GMT": fixed width, 29 characters.
  static constexpr std::array<std::string_view, 7> day_names
    = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> month_names
    = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' '
      || text[11] != ' ' || text[16] != ' ' || text[19] != ':'
      || text[22] != ':' || text.substr(25) != " GMT")
    return std::nullopt;
  if (std::find(day_names.begin(), day_names.end(), text.substr(0, 3))
      == day_names.end())
    return std::nullopt;
  auto month = std::find(month_names.begin(), month_names.end(),
                         text.substr(8, 3));
  if (month == month_names.end())
    return std::nullopt;
  auto day = two_digits(text.substr(5, 2));
  auto century = two_digits(text.substr(12, 2));
  auto year_of_century = two_digits(text.substr(14, 2));
  auto hour = two_digits(text.substr(17, 2));
  auto minute = two_digits(text.substr(20, 2));
  auto second = two_digits(text.substr(23, 2));
  if (!day || !century || !year_of_century || !hour || !minute || !second)
    return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60)
    return std::nullopt;
  auto m = static_cast<unsigned>(month - month_names.begin()) + 1;
  auto days = days_from_civil(*century * 100 + *year_of_century, m,
                              static_cast<unsigned>(*day));
  auto secs = days * 86400 + *hour * 3600 + *minute * 60 + *second;
  return system_clock::time_point{seconds{secs}};
}

} // namespace conveyor::github
