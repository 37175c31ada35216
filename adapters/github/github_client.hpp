#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/github/app_auth.hpp"
#include "adapters/github/circuit_breaker.hpp"
#include "adapters/github/retry_policy.hpp"
#include "adapters/github/status_outbox.hpp"
#include "messages/metrics.hpp"

namespace conveyor::github {

/// Where the API is and how calls to it behave.
struct client_settings {
  /// `https://host[:port][/prefix]` or `http://…` (tests, GitHub Enterprise
  /// behind a proxy); GitHub Enterprise Server is
  /// `https://HOST/api/v3`.
  std::string base_url = "https://api.github.com";
  /// Bound of each attempt: resolving, connecting, the TLS handshake,
  /// writing the request and reading the answer must all end within it.
  std::chrono::milliseconds timeout{20'000};
  /// When to retry and how long to wait.
  retry_settings retry;
  /// When the host's breaker opens and for how long.
  breaker_settings breaker;
  /// PEM file of the certificates to trust for `https://`; empty trusts the
  /// system's default store. Either way the peer's certificate and host name
  /// are verified.
  std::string ca_file;
  /// Scheme of the `Authorization` header: "Bearer" or "token".
  std::string auth_scheme = "Bearer";
  /// Largest answer body read; a larger one fails the attempt.
  std::size_t max_response_bytes = 16 << 20;
};

/// What the client takes from its surroundings; tests replace these. Empty
/// members get the real thing.
struct client_hooks {
  /// Waits between attempts (default: `std::this_thread::sleep_for`).
  std::function<void(std::chrono::milliseconds)> sleep;
  /// Time of the breakers (default: `steady_clock::now`).
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  /// Wall clock for rate-limit headers (default: `system_clock::now`).
  std::function<std::chrono::system_clock::time_point()> wall_now;
  /// A random number in [0, 1] for the backoff's jitter.
  std::function<double()> random_unit;
};

/// The parts of a base URL.
struct api_endpoint {
  bool tls = true;    ///< https
  std::string host;   ///< name or address (IPv6 without brackets)
  uint16_t port = 0;  ///< explicit or the scheme's default
  std::string prefix; ///< path before every API path, without a final '/'

  /// "host:port", the key of the host's breaker.
  std::string authority() const;
};

/// Parses a base URL such as "https://ghe.example.com/api/v3"; returns
/// `std::nullopt` for another scheme, a missing host, a bad port, a query
/// or a fragment.
std::optional<api_endpoint> parse_api_url(std::string_view url);

/// One API request.
struct api_request {
  std::string method = "GET";
  /// Path (and query) below the base URL, e.g. "/repos/o/r/statuses/1a2b".
  std::string target;
  /// JSON body (sent with `Content-Type: application/json`), or empty.
  std::string body;
  /// Extra header fields; these replace the defaults of the same name
  /// (`Accept`, ...).
  header_list headers;
  /// Sent as the `Authorization` value instead of the token source's (the
  /// App JWT of a token exchange).
  std::optional<std::string> authorization;
  /// Error statuses that are answers, not failures (404 when asking for a
  /// file): not retried, not counted against the breaker, returned as `ok`.
  std::vector<int> expected_statuses;
  /// What the call does, for the error text: "could not <what>: <why>".
  /// Empty gives "call GitHub (<method> <path>)".
  std::string what;
  /// The request UUID to put on log lines, if any.
  std::string log_id;
  /// For a call someone waits for, a budget of its own instead of the
  /// client's: the time limit of each attempt, and when to retry.
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<retry_settings> retry;
};

/// An answer of the API.
struct api_response {
  int status = 0;      ///< HTTP status; 0 when none arrived
  header_list headers; ///< as sent by the server
  std::string body;
};

/// Why a call failed.
enum class call_failure {
  none,             ///< it did not
  invalid_argument, ///< a malformed repository, path or sha: nothing sent
  breaker_open,     ///< the host's breaker is open: nothing (more) sent
  no_token,         ///< the token source failed: nothing sent
  timeout,          ///< the last attempt timed out
  connection_reset, ///< the last attempt's connection was closed or reset
  transport,        ///< DNS, refused connection, TLS, malformed answer
  status,           ///< an error status (after retries for 5xx)
  rate_limited,     ///< a rate limit that lifts too late, or too often
};

/// Returns the failure's name, e.g. "breaker_open".
std::string to_string(call_failure x);

/// A failed call. `message` is a sentence for people, such as "could not
/// fetch .travis.yml of octo/demo@1a2b3c from GitHub: timed out after 20s (3
/// attempts)"; it never contains the token (nor the App JWT).
struct call_error {
  call_failure kind = call_failure::none;
  int status = 0; ///< the last HTTP status, 0 if none arrived
  std::string message;
};

/// The outcome of `github_client::call`.
struct call_result {
  /// The last answer, also when it was an error status (status 0 if none).
  api_response response;
  call_error error;  ///< `kind` is `none` on success
  int attempts = 0;  ///< requests sent

  /// Whether the call succeeded (a status below 400 or an expected one).
  bool ok() const {
    return error.kind == call_failure::none;
  }
};

/// What asking for a file found.
enum class fetch_status {
  found,        ///< `content` holds the file
  no_such_file, ///< 404: no such file at that commit (or no access to it)
  failed,       ///< see `error`
};

/// The outcome of `github_client::fetch_file`.
struct fetch_result {
  fetch_status status = fetch_status::failed;
  std::string content; ///< the file's bytes when `found`
  call_error error;    ///< when `failed`
  int attempts = 0;    ///< requests sent
};

/// State and totals of one host's breaker.
struct host_stats {
  std::string host; ///< "host:port"
  breaker_state state = breaker_state::closed;
  uint32_t consecutive_failures = 0;
  breaker_counters counters;
};

/// Totals of a client since it was made, for metrics.
struct client_stats {
  uint64_t calls = 0;    ///< calls started (every `call`, `fetch_file`, ...)
  uint64_t failures = 0; ///< calls that ended failed (404 of a file is not)
  uint64_t requests = 0; ///< HTTP requests sent, retries included
  uint64_t retries = 0;  ///< requests beyond the first of their call
  uint64_t rejected = 0; ///< calls failed fast by an open breaker
  std::vector<host_stats> hosts; ///< by host name
};

/// A blocking client of the GitHub REST API on Boost.Beast and OpenSSL.
/// Every call blocks its thread for up to (attempts × timeout + waits), so
/// run it on a `caf::detached` actor's thread or a thread of its own,
/// never on CAF's shared scheduler or an Asio thread. Thread-safe: calls
/// from several threads run in parallel (one connection each, closed after
/// the answer) and share the breakers and counters.
///
/// Each attempt asks the host's circuit breaker first (open: the call fails
/// fast, naming the breaker, without a request), sends the request with
/// `Authorization: <scheme> <token>`, `User-Agent: conveyor`, `Accept:
/// application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28`,
/// reports transport errors and 5xx to the breaker as failures (any other
/// answer proves the host alive), logs every change of the breaker's state
/// once on the "github" logger ("breaker opened", "breaker half-open",
/// "breaker closed", with host, failures, last failure and time), and lets
/// `retry_policy` decide whether to wait and try again. A 401 for a token
/// from the token source makes the source drop it; if the source then gives
/// another token, the call is tried once more with it.
class github_client {
public:
  /// Makes a client; `tokens` may be null (no `Authorization` unless a
  /// request brings its own). Throws std::invalid_argument for a malformed
  /// base URL or a CA file that cannot be read.
  explicit github_client(client_settings settings = {},
                         std::shared_ptr<token_source> tokens = nullptr,
                         client_hooks hooks = {});

  ~github_client();

  github_client(const github_client&) = delete;
  github_client& operator=(const github_client&) = delete;

  /// Makes one API call with the breaker, retries and waits described above.
  call_result call(const api_request& req);

  /// Reads `path` of `owner_repo` ("owner/name") at commit `sha` through the
  /// contents API (`GET /repos/{owner}/{repo}/contents/{path}?ref={sha}`,
  /// raw media type; a base64 JSON answer is decoded too). 404 gives
  /// `no_such_file`, which is not a failure.
  /// `budget` (its `timeout` and `retry`) replaces the client's for this
  /// call if set.
  fetch_result fetch_file(std::string_view owner_repo, std::string_view path,
                          std::string_view sha, std::string_view log_id = {},
                          const api_request& budget = {});

  /// Sets a commit status (`POST /repos/{owner}/{repo}/statuses/{sha}`).
  /// `description` is cut to GitHub's 140 characters; an empty `target_url`
  /// is left out.
  call_result post_status(std::string_view owner_repo, std::string_view sha,
                          status_state state, std::string_view context,
                          std::string_view description,
                          std::string_view target_url,
                          std::string_view log_id = {});

  /// A snapshot of the counters and breakers.
  client_stats stats() const;

  /// The endpoint calls go to.
  const api_endpoint& endpoint() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Renders `stats` in Prometheus's model: `conveyor_github_calls_total`,
/// `conveyor_github_call_failures_total`, `conveyor_github_requests_total`,
/// `conveyor_github_retries_total`, `conveyor_github_breaker_rejections_total`
/// (calls failed fast), `conveyor_github_breaker_state{host,state}` (1 for
/// the current state, 0 for the others),
/// `conveyor_github_breaker_opened_total{host}` and
/// `conveyor_github_breaker_consecutive_failures{host}`.
metric_families to_metric_families(const client_stats& stats);

} // namespace conveyor::github
