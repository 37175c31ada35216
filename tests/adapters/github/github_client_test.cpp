// The GitHub API client against the fake GitHub on loopback: files,
// statuses, retries, timeouts, rate limits, the breaker, and that the token
// never leaks into error or log text.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "adapters/github/github_client.hpp"
#include "fake_github.hpp"
#include "test_hooks.hpp"

using namespace conveyor::github;
using namespace conveyor::github::testing;
using namespace std::chrono_literals;

namespace {

const std::string secret_token = "ghp_TOPSECRET0123456789";

// Settings for the fake: quick timeouts, three attempts, backoff 500 ms.
client_settings fake_settings(const fake_github& fake) {
  client_settings s;
  s.base_url = fake.base_url();
  s.timeout = 2s;
  s.retry.max_attempts = 3;
  s.retry.base_delay = 500ms;
  s.breaker.failure_threshold = 3;
  s.breaker.cool_down = 10s;
  return s;
}

std::shared_ptr<token_source> pat(const std::string& token = secret_token) {
  return std::make_shared<static_token_source>(token);
}

// A TCP listener that reads a request and closes the connection without
// answering (with an RST), as a crashed proxy does.
class resetting_listener {
public:
  resetting_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { loop(); }};
  }

  ~resetting_listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  uint16_t port() const {
    return port_;
  }

  int accepted() const {
    return accepted_;
  }

private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0)
        continue;
      ++accepted_;
      char buf[4096];
      pollfd q{conn, POLLIN, 0};
      if (::poll(&q, 1, 1000) > 0)
        (void) ::recv(conn, buf, sizeof(buf), 0);
      linger l{1, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      ::close(conn);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Captures what the "github" logger writes while it lives.
class log_capture {
public:
  log_capture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::drop("github");
    logger_ = std::make_shared<spdlog::logger>("github", sink);
    logger_->set_level(spdlog::level::trace);
    spdlog::register_logger(logger_);
  }

  ~log_capture() {
    spdlog::drop("github");
  }

  std::string text() {
    logger_->flush();
    return out_.str();
  }

private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
};

} // namespace

// -- base URLs --------------------------------------------------------------------

TEST_CASE("base URLs give scheme host port and path prefix") {
  auto github = parse_api_url("https://api.github.com");
  REQUIRE(github);
  CHECK(github->tls);
  CHECK(github->host == "api.github.com");
  CHECK(github->port == 443);
  CHECK(github->prefix.empty());
  CHECK(github->authority() == "api.github.com:443");
  auto ghe = parse_api_url("HTTPS://ghe.example.com:8443/api/v3/");
  REQUIRE(ghe);
  CHECK(ghe->port == 8443);
  CHECK(ghe->prefix == "/api/v3");
  auto plain = parse_api_url("http://127.0.0.1:1234");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->port == 1234);
  auto v6 = parse_api_url("http://[::1]:99/x");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->authority() == "[::1]:99");
  CHECK(parse_api_url("http://[::1]")->port == 80);
}

TEST_CASE("malformed base URLs are refused") {
  CHECK_FALSE(parse_api_url("ftp://api.github.com"));
  CHECK_FALSE(parse_api_url("api.github.com"));
  CHECK_FALSE(parse_api_url("https://"));
  CHECK_FALSE(parse_api_url("https://host:0"));
  CHECK_FALSE(parse_api_url("https://host:70000"));
  CHECK_FALSE(parse_api_url("https://host:"));
  CHECK_FALSE(parse_api_url("https://user@host"));
  CHECK_FALSE(parse_api_url("https://host/?q=1"));
  client_settings s;
  s.base_url = "gopher://x";
  CHECK_THROWS_AS(github_client{s}, std::invalid_argument);
  s.base_url = "https://localhost";
  s.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_AS(github_client{s}, std::invalid_argument);
}

// -- files ----------------------------------------------------------------------------

TEST_CASE("fetch_file returns the raw file and sends GitHub's headers") {
  fake_github fake;
  fake.add_file("octo/demo", "abc123", ".travis.yml", "language: cpp\n");
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc123");
  REQUIRE(got.status == fetch_status::found);
  CHECK(got.content == "language: cpp\n");
  CHECK(got.attempts == 1);
  auto seen = fake.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/repos/octo/demo/contents/.travis.yml?ref=abc123");
  CHECK(seen[0].authorization == "Bearer " + secret_token);
  CHECK(seen[0].user_agent == "conveyor");
  CHECK(seen[0].accept == "application/vnd.github.raw");
  CHECK(seen[0].api_version == "2022-11-28");
  CHECK(seen[0].host == "127.0.0.1:" + std::to_string(fake.port()));
}

TEST_CASE("fetch_file decodes base64 content when the raw type is ignored") {
  fake_github fake;
  fake.serve_base64_only(true);
  std::string long_text(500, 'x');
  long_text += "\nend: \xc3\xa9\n"; // lines of base64 and non-ASCII bytes
  fake.add_file("octo/demo", "abc", "ci/.conveyor.yml", long_text);
  github_client client{fake_settings(fake), pat()};
  auto got = client.fetch_file("octo/demo", "/ci/.conveyor.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  CHECK(got.content == long_text);
}

TEST_CASE("a missing file is no_such_file and not a failure") {
  fake_github fake;
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".conveyor.yml", "abc");
  CHECK(got.status == fetch_status::no_such_file);
  CHECK(got.error.kind == call_failure::none);
  CHECK(got.attempts == 1);
  CHECK(time.sleeps().empty());
  auto stats = client.stats();
  CHECK(stats.calls == 1);
  CHECK(stats.failures == 0);
  REQUIRE(stats.hosts.size() == 1);
  CHECK(stats.hosts[0].counters.successes == 1);
}

TEST_CASE("path segments and the ref are percent-encoded") {
  fake_github fake;
  fake.add_file("octo/my.repo", "feature/x y", "dir/a b.yml", "ok");
  github_client client{fake_settings(fake), pat()};
  auto got = client.fetch_file("octo/my.repo", "dir/a b.yml", "feature/x y");
  REQUIRE(got.status == fetch_status::found);
  CHECK(fake.requests().at(0).target
        == "/repos/octo/my.repo/contents/dir/a%20b.yml?ref=feature%2Fx%20y");
}

TEST_CASE("malformed arguments fail without a request") {
  fake_github fake;
  github_client client{fake_settings(fake), pat()};
  auto got = client.fetch_file("octo", ".travis.yml", "abc");
  CHECK(got.status == fetch_status::failed);
  CHECK(got.error.kind == call_failure::invalid_argument);
  CHECK(got.error.message.find("owner/name") != std::string::npos);
  CHECK(client.fetch_file("o/r/x", "f", "abc").error.kind
        == call_failure::invalid_argument);
  CHECK(client.fetch_file("o/r", "", "abc").error.kind
        == call_failure::invalid_argument);
  CHECK(client.post_status("o/r", "abc", status_state::success, "", "d", "")
          .error.kind
        == call_failure::invalid_argument);
  CHECK(fake.request_count() == 0);
}

// -- retries ----------------------------------------------------------------------------

TEST_CASE("two 500 answers then 200 succeed after backoff") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "script: make");
  fake.fail_next(2, 500);
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  CHECK(got.content == "script: make");
  CHECK(got.attempts == 3);
  CHECK(time.sleeps() == std::vector<std::chrono::milliseconds>{500ms, 1000ms});
  auto stats = client.stats();
  CHECK(stats.requests == 3);
  CHECK(stats.retries == 2);
  CHECK(stats.failures == 0);
  CHECK(stats.hosts.at(0).state == breaker_state::closed);
  CHECK(stats.hosts.at(0).counters.failures == 2);
}

TEST_CASE("a file read with a budget of its own retries and waits by that budget") {
  fake_github fake;
  fake.fail_next(10, 502);
  manual_time time;
  auto settings = fake_settings(fake);
  settings.breaker.failure_threshold = 10;
  github_client client{settings, pat(), time.hooks()};
  api_request budget;
  budget.retry = retry_settings{};
  budget.retry->max_attempts = 2;
  budget.retry->base_delay = 100ms;
  budget.retry->jitter = 0;
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc", {}, budget);
  CHECK(got.status == fetch_status::failed);
  CHECK(got.attempts == 2);
  CHECK(time.sleeps() == std::vector<std::chrono::milliseconds>{100ms});
  // The client's own budget is untouched.
  auto again = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(again.attempts == 3);
}

TEST_CASE("a file read with a timeout of its own gives up after it") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "script: make");
  fake.set_delay(1500ms);
  auto settings = fake_settings(fake); // 2 s per attempt
  settings.retry.max_attempts = 1;
  github_client client{settings, pat()};
  api_request budget;
  budget.timeout = 200ms;
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc", {}, budget);
  fake.set_delay(0ms);
  CHECK(got.status == fetch_status::failed);
  CHECK(got.error.kind == call_failure::timeout);
  CHECK(got.error.message.find("timed out after 200ms") != std::string::npos);
}

TEST_CASE("a 5xx that persists fails after the last attempt") {
  fake_github fake;
  fake.fail_next(10, 502);
  manual_time time;
  auto settings = fake_settings(fake);
  settings.breaker.failure_threshold = 10;
  github_client client{settings, pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.status == fetch_status::failed);
  CHECK(got.error.kind == call_failure::status);
  CHECK(got.error.status == 502);
  CHECK(got.attempts == 3);
  CHECK(got.error.message
        == "could not fetch .travis.yml of octo/demo@abc from GitHub: GitHub "
           "answered 502: Server Error (3 attempts)");
  CHECK(fake.request_count() == 3);
  CHECK(client.stats().failures == 1);
}

TEST_CASE("a 4xx is not retried") {
  fake_github fake;
  fake.answer_next(1, {422, {}, R"({"message":"Validation Failed"})"});
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.post_status("octo/demo", "abc", status_state::success,
                                "ci/conveyor", "passed", "");
  CHECK_FALSE(got.ok());
  CHECK(got.error.kind == call_failure::status);
  CHECK(got.attempts == 1);
  CHECK(got.error.message.find("GitHub answered 422: Validation Failed")
        != std::string::npos);
  CHECK(time.sleeps().empty());
  // A 4xx proves the host alive: it counts as a success for the breaker.
  CHECK(client.stats().hosts.at(0).consecutive_failures == 0);
}

TEST_CASE("a connection reset without an answer is retried as a reset") {
  resetting_listener listener;
  client_settings s;
  s.base_url = "http://127.0.0.1:" + std::to_string(listener.port());
  s.timeout = 2s;
  s.retry.max_attempts = 2;
  manual_time time;
  github_client client{s, pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::connection_reset);
  CHECK(got.attempts == 2);
  CHECK(time.sleeps().size() == 1);
  CHECK(got.error.message.find("connection reset by 127.0.0.1:")
        != std::string::npos);
  CHECK(got.error.message.find("(2 attempts)") != std::string::npos);
  CHECK(listener.accepted() == 2);
}

// -- timeouts ------------------------------------------------------------------------

TEST_CASE("a slow server times out after the configured timeout") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  fake.set_delay(5s);
  auto settings = fake_settings(fake);
  settings.timeout = 200ms;
  settings.retry.max_attempts = 2;
  manual_time time;
  github_client client{settings, pat(), time.hooks()};
  auto start = std::chrono::steady_clock::now();
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(got.status == fetch_status::failed);
  CHECK(got.error.kind == call_failure::timeout);
  CHECK(got.error.message
        == "could not fetch .travis.yml of octo/demo@abc from GitHub: timed "
           "out after 200ms (2 attempts)");
  CHECK(took >= 400ms);
  CHECK(took < 2s);
  CHECK(fake.request_count() == 2);
}

// -- rate limits ------------------------------------------------------------------------

TEST_CASE("a 429 with Retry-After waits as told") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  fake.answer_next(1, {429, {{"Retry-After", "7"}},
                       R"({"message":"secondary rate limit"})"});
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  CHECK(time.sleeps() == std::vector<std::chrono::milliseconds>{7000ms});
  // A rate limit is an answer: the breaker does not count it.
  CHECK(client.stats().hosts.at(0).counters.failures == 0);
}

TEST_CASE("a 403 with an exhausted rate limit waits until its reset") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  manual_time time;
  auto reset = std::chrono::duration_cast<std::chrono::seconds>(
                 time.wall().time_since_epoch())
                 .count()
               + 30;
  fake.answer_next(1, {403,
                       {{"x-ratelimit-remaining", "0"},
                        {"x-ratelimit-reset", std::to_string(reset)}},
                       R"({"message":"API rate limit exceeded"})"});
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  CHECK(time.sleeps() == std::vector<std::chrono::milliseconds>{30'000ms});
}

TEST_CASE("a rate limit that lifts too late fails at once") {
  fake_github fake;
  fake.answer_next(1, {429, {{"Retry-After", "3600"}}, "{}"});
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::rate_limited);
  CHECK(got.error.status == 429);
  CHECK(got.attempts == 1);
  CHECK(time.sleeps().empty());
  CHECK(got.error.message.find("GitHub answered 429, rate limited for 3600 s")
        != std::string::npos);
}

TEST_CASE("a 403 without rate limit headers is a permission error") {
  fake_github fake;
  fake.answer_next(1, {403, {}, R"({"message":"Resource not accessible"})"});
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.post_status("octo/demo", "abc", status_state::pending,
                                "ci", "", "");
  CHECK(got.error.kind == call_failure::status);
  CHECK(got.attempts == 1);
  CHECK(time.sleeps().empty());
}

// -- the breaker ----------------------------------------------------------------------------

TEST_CASE("a down host opens the breaker then a probe closes it") {
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  fake.go_down();
  for (int i = 0; i < 3; ++i) {
    auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
    CHECK(got.error.kind == call_failure::transport);
    CHECK(got.attempts == 1); // a refused connection is not retried
    CHECK(got.error.message.find("could not connect to 127.0.0.1:")
          != std::string::npos);
  }
  auto stats = client.stats();
  REQUIRE(stats.hosts.size() == 1);
  CHECK(stats.hosts[0].state == breaker_state::open);
  CHECK(stats.requests == 3);
  // Back up, but the breaker is open: no request reaches the host.
  fake.come_back();
  auto fast = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(fast.error.kind == call_failure::breaker_open);
  CHECK(fast.attempts == 0);
  CHECK(fast.error.message
        == "could not fetch .travis.yml of octo/demo@abc from GitHub: the "
           "circuit breaker for 127.0.0.1:"
             + std::to_string(fake.port())
             + " is open after 3 consecutive failures, so no request was "
               "sent");
  CHECK(fake.request_count() == 0);
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().rejected == 1);
  // After the cool-down one probe goes out; its success closes the breaker.
  time.advance(10s);
  auto probe = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(probe.status == fetch_status::found);
  CHECK(fake.request_count() == 1);
  stats = client.stats();
  CHECK(stats.hosts[0].state == breaker_state::closed);
  CHECK(stats.hosts[0].counters.times_opened == 1);
  CHECK(stats.hosts[0].counters.rejections == 1);
}

TEST_CASE("a failed half-open probe opens the breaker again") {
  fake_github fake;
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  fake.go_down();
  for (int i = 0; i < 3; ++i)
    client.fetch_file("octo/demo", ".travis.yml", "abc");
  time.advance(10s);
  auto probe = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(probe.error.kind == call_failure::transport);
  CHECK(client.stats().hosts.at(0).state == breaker_state::open);
  CHECK(client.fetch_file("octo/demo", ".travis.yml", "abc").error.kind
        == call_failure::breaker_open);
}

TEST_CASE("retries stop when the breaker opens during a call") {
  fake_github fake;
  fake.fail_next(10, 503);
  manual_time time;
  auto settings = fake_settings(fake);
  settings.retry.max_attempts = 5;
  settings.breaker.failure_threshold = 2;
  github_client client{settings, pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::breaker_open);
  CHECK(got.attempts == 2);
  CHECK(fake.request_count() == 2);
  CHECK(got.error.message.find("no request was sent (2 attempts)")
        != std::string::npos);
}

namespace {

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size()))
    ++n;
  return n;
}

} // namespace

TEST_CASE("each change of the breaker's state is logged once") {
  log_capture logs;
  fake_github fake;
  fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto host = "host=127.0.0.1:" + std::to_string(fake.port());
  fake.go_down();
  for (int i = 0; i < 5; ++i) // 3 failures open it, 2 calls fail fast
    client.fetch_file("octo/demo", ".travis.yml", "abc", "req-1");
  auto text = logs.text();
  CHECK(occurrences(text, "breaker opened") == 1);
  CHECK(text.find("breaker opened " + host + " from=closed "
                  "consecutive_failures=3 last_failure=\"could not connect "
                  "to 127.0.0.1:")
        != std::string::npos);
  CHECK(text.find("open_for_ms=10000 request_id=req-1") != std::string::npos);
  CHECK(occurrences(text, "breaker half-open") == 0);
  // The probe fails: half-open, then open again.
  time.advance(10s);
  client.fetch_file("octo/demo", ".travis.yml", "abc", "req-2");
  text = logs.text();
  CHECK(occurrences(text, "breaker half-open") == 1);
  CHECK(text.find("breaker half-open " + host + " from=open "
                  "consecutive_failures=3")
        != std::string::npos);
  CHECK(text.find("was_open_ms=10000 request_id=req-2") != std::string::npos);
  CHECK(occurrences(text, "breaker opened") == 2);
  CHECK(text.find("breaker opened " + host + " from=half_open "
                  "consecutive_failures=4")
        != std::string::npos);
  // Back up: the next probe closes it.
  fake.come_back();
  time.advance(10s);
  REQUIRE(client.fetch_file("octo/demo", ".travis.yml", "abc", "req-3").status
          == fetch_status::found);
  client.fetch_file("octo/demo", ".travis.yml", "abc", "req-4");
  text = logs.text();
  CHECK(occurrences(text, "breaker half-open") == 2);
  CHECK(occurrences(text, "breaker opened") == 2);
  CHECK(occurrences(text, "breaker closed") == 1);
  CHECK(text.find("breaker closed " + host + " from=half_open "
                  "request_id=req-3")
        != std::string::npos);
}

TEST_CASE("a 5xx that opens the breaker is named as its last failure") {
  log_capture logs;
  fake_github fake;
  fake.fail_next(3, 503);
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(logs.text().find("last_failure=\"GitHub answered 503\"")
        != std::string::npos);
  CHECK(client.stats().hosts.at(0).state == breaker_state::open);
}

// -- statuses ----------------------------------------------------------------------------

TEST_CASE("post_status posts statuses in order") {
  fake_github fake;
  github_client client{fake_settings(fake), pat()};
  REQUIRE(client
            .post_status("octo/demo", "abc", status_state::pending,
                         "ci/conveyor", "build queued",
                         "https://ci.example.com/builds/7")
            .ok());
  std::string long_text(200, 'd');
  auto done = client.post_status("octo/demo", "abc", status_state::failure,
                                 "ci/conveyor", long_text, "");
  REQUIRE(done.ok());
  CHECK(done.response.status == 201);
  auto seen = fake.statuses();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].repo == "octo/demo");
  CHECK(seen[0].sha == "abc");
  CHECK(seen[0].state == "pending");
  CHECK(seen[0].context == "ci/conveyor");
  CHECK(seen[0].description == "build queued");
  CHECK(seen[0].target_url == "https://ci.example.com/builds/7");
  CHECK(seen[0].authorization == "Bearer " + secret_token);
  CHECK(seen[1].state == "failure");
  CHECK(seen[1].target_url.empty());
  // 139 characters and an ellipsis: GitHub refuses more than 140.
  CHECK(seen[1].description == std::string(139, 'd') + "\xe2\x80\xa6");
  CHECK(fake.requests().at(0).target == "/repos/octo/demo/statuses/abc");
}

TEST_CASE("the token scheme can be token instead of Bearer") {
  fake_github fake;
  auto settings = fake_settings(fake);
  settings.auth_scheme = "token";
  github_client client{settings, pat()};
  REQUIRE(client.post_status("o/r", "abc", status_state::success, "ci", "",
                             "")
            .ok());
  CHECK(fake.statuses().at(0).authorization == "token " + secret_token);
}

TEST_CASE("concurrent calls all arrive and share the counters") {
  fake_github fake;
  github_client client{fake_settings(fake), pat()};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&client, &ok, i] {
      for (int j = 0; j < 5; ++j)
        if (client
              .post_status("o/r", "abc", status_state::pending, "ci",
                           std::to_string(i) + "." + std::to_string(j), "")
              .ok())
          ++ok;
    });
  for (auto& t : threads)
    t.join();
  CHECK(ok == 20);
  CHECK(fake.statuses().size() == 20);
  CHECK(client.stats().calls == 20);
  CHECK(client.stats().requests == 20);
}

// -- secrets -------------------------------------------------------------------------------

TEST_CASE("the token never appears in error texts or logs") {
  log_capture logs;
  fake_github fake;
  manual_time time;
  auto settings = fake_settings(fake);
  settings.timeout = 200ms;
  settings.retry.max_attempts = 2;
  settings.breaker.failure_threshold = 7;
  github_client client{settings, pat(), time.hooks()};
  std::vector<std::string> errors;
  // GitHub echoing the credential in an error body.
  fake.answer_next(1, {401, {},
                       R"({"message":"Bad credentials: )" + secret_token
                         + R"("})"});
  errors.push_back(
    client.fetch_file("octo/demo", ".travis.yml", "abc").error.message);
  fake.fail_next(2, 500);
  errors.push_back(client
                     .post_status("octo/demo", "abc", status_state::error,
                                  "ci", "x", "")
                     .error.message);
  fake.set_delay(3s);
  errors.push_back(
    client.fetch_file("octo/demo", ".travis.yml", "abc").error.message);
  fake.set_delay(0ms);
  fake.go_down();
  // Failures 5 to 7 open the breaker; the fourth call fails fast.
  for (int i = 0; i < 4; ++i)
    errors.push_back(
      client.fetch_file("octo/demo", ".travis.yml", "abc").error.message);
  REQUIRE(errors.size() == 7);
  CHECK(errors[0].find("Bad credentials: [redacted] (1 attempt)")
        != std::string::npos);
  CHECK(errors[2].find("timed out after 200ms") != std::string::npos);
  CHECK(errors[6].find("circuit breaker") != std::string::npos);
  for (const auto& e : errors) {
    CHECK_FALSE(e.empty());
    CHECK(e.find(secret_token) == std::string::npos);
    CHECK(e.find("TOPSECRET") == std::string::npos);
  }
  auto text = logs.text();
  CHECK(text.find("retrying") != std::string::npos);
  CHECK(text.find("breaker opened") != std::string::npos);
  CHECK(text.find("TOPSECRET") == std::string::npos);
}

TEST_CASE("a refused personal token is not sent twice") {
  fake_github fake;
  fake.require_token("ghp_other");
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::status);
  CHECK(got.error.status == 401);
  CHECK(got.attempts == 1);
  CHECK(got.error.message.find("GitHub answered 401: Bad credentials")
        != std::string::npos);
  CHECK(fake.request_count() == 1);
}

TEST_CASE("a token source that fails stops the call before any request") {
  fake_github fake;
  github_client client{fake_settings(fake), pat("")};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::no_token);
  CHECK(got.error.message.find("no GitHub token is configured")
        != std::string::npos);
  CHECK(fake.request_count() == 0);
  github_client bad{fake_settings(fake), pat("abc\r\nX-Evil: 1")};
  CHECK(bad.fetch_file("octo/demo", ".travis.yml", "abc").error.kind
        == call_failure::no_token);
  CHECK(fake.request_count() == 0);
}

// -- metrics --------------------------------------------------------------------------------

TEST_CASE("the stats render as Prometheus families") {
  fake_github fake;
  fake.fail_next(1, 500);
  manual_time time;
  github_client client{fake_settings(fake), pat(), time.hooks()};
  client.fetch_file("octo/demo", ".travis.yml", "abc");
  auto families = to_metric_families(client.stats());
  auto value = [&families](const std::string& name,
                           const std::string& state = {}) {
    for (const auto& f : families)
      if (f.name == name)
        for (const auto& s : f.samples)
          if (state.empty()
              || (s.labels.size() == 2 && s.labels[1].value == state))
            return s.value;
    return -1.0;
  };
  CHECK(value("conveyor_github_calls_total") == 1);
  CHECK(value("conveyor_github_call_failures_total") == 0);
  CHECK(value("conveyor_github_requests_total") == 2);
  CHECK(value("conveyor_github_retries_total") == 1);
  CHECK(value("conveyor_github_breaker_state", "closed") == 1);
  CHECK(value("conveyor_github_breaker_state", "open") == 0);
  CHECK(value("conveyor_github_breaker_opened_total") == 0);
  CHECK(value("conveyor_github_breaker_rejections_total") == 0);
  CHECK(value("conveyor_github_breaker_consecutive_failures") == 0);
}
