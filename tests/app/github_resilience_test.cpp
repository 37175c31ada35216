// GitHub failing in the ways it does, against real `conveyor serve`
// processes and the fake GitHub on loopback: down across a restart of
// conveyor, rate limited, and too slow to answer (issue #7).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>


#include <nlohmann/json.hpp>

#include "tests/adapters/github/fake_github.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using github::testing::fake_github;
using github::testing::posted_status;
using github::testing::scripted_answer;
using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;

namespace {

const std::string fixtures = "../shared/fixtures/github-webhooks/";
const std::string token = "ghp_test_token";

json parsed(const http::client_response& res) {
  INFO("status " << res.status << " body " << res.body);
  auto result = json::parse(res.body, nullptr, false);
  REQUIRE_FALSE(result.is_discarded());
  return result;
}

std::string head_of(const std::string& repo) {
  auto out = repo + "/.head";
  auto cmd = "git -C " + repo + " rev-parse HEAD > " + out;
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto sha = slurp(out);
  std::filesystem::remove(out);
  return sha.substr(0, 40);
}

// A push of `repo`'s HEAD to main, delivered unsigned (no secret is set);
// answers the build's id.
int64_t push(serve_process& serve, const std::string& repo,
             const std::string& delivery) {
  auto text = slurp(fixtures + "push.4.json");
  INFO("fixture " << fixtures << "push.4.json (run from the repository root)");
  REQUIRE_FALSE(text.empty());
  auto body = json::parse(text);
  body["ref"] = "refs/heads/main";
  body["after"] = head_of(repo);
  body["head_commit"]["id"] = body["after"];
  body["repository"]["clone_url"] = "file://" + repo;
  auto res = serve.call("POST", "/webhooks/github", body.dump(),
                        {{"X-GitHub-Event", "push"},
                         {"X-GitHub-Delivery", delivery},
                         {"Content-Type", "application/json"}});
  REQUIRE(res.status == 201);
  return parsed(res)["build"]["id"].get<int64_t>();
}

bool terminal(const json& build) {
  return build["state"] != "created" && build["state"] != "started";
}

json wait_finished(serve_process& serve, int64_t id,
                   steady::duration limit = 30s) {
  auto deadline = steady::now() + limit;
  for (;;) {
    auto build = parsed(serve.call("GET", "/api/builds/" + std::to_string(id)));
    if (terminal(build))
      return build;
    INFO("build " << id << " still " << build["state"]);
    REQUIRE(steady::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
}

// The statuses of build `id` (by their target URL) among those the fake
// received, from the `from`-th on.
std::vector<posted_status> statuses_of(const fake_github& fake, int64_t id,
                                       std::size_t from = 0) {
  auto link = "/api/builds/" + std::to_string(id);
  std::vector<posted_status> result;
  auto all = fake.statuses();
  for (auto i = from; i < all.size(); ++i)
    if (auto& st = all[i]; st.target_url.size() >= link.size()
        && st.target_url.compare(st.target_url.size() - link.size(),
                                 link.size(), link)
             == 0)
      result.push_back(st);
  return result;
}

// Waits until build `id`'s status `state` reached the fake (as its
// `from`-th status or later).
std::vector<posted_status> wait_status(const fake_github& fake, int64_t id,
                                       const std::string& state,
                                       serve_process& serve,
                                       steady::duration limit = 30s,
                                       std::size_t from = 0) {
  auto deadline = steady::now() + limit;
  for (;;) {
    auto got = statuses_of(fake, id, from);
    if (std::any_of(got.begin(), got.end(),
                    [&state](auto& st) { return st.state == state; }))
      return got;
    INFO("statuses of build " << id << " so far: " << got.size() << "\n"
                              << serve.stderr_text());
    REQUIRE(steady::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
}

// The final status arrived exactly once, and no pending after it.
void check_final_once(const std::vector<posted_status>& got,
                      const std::string& final_state) {
  auto finals = std::count_if(got.begin(), got.end(), [](auto& st) {
    return st.state != "pending";
  });
  CHECK(finals == 1);
  REQUIRE_FALSE(got.empty());
  CHECK(got.back().state == final_state);
  for (auto& st : got)
    CHECK(st.context == "conveyor/push");
}

std::vector<std::string> serve_args(const fake_github& fake,
                                    const std::string& timeout) {
  // A short cool-down keeps the breaker tests short.
  return {"--github-api-url", fake.base_url(), "--github-timeout", timeout,
          "--github-breaker-open-for", "8s"};
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size()))
    ++n;
  return n;
}

// Value of the sample `line_start` ("name{labels}") in /metrics; -1 if none.
double metric(serve_process& serve, const std::string& line_start) {
  auto text = serve.call("GET", "/metrics").body;
  auto at = text.find("\n" + line_start + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + line_start.size() + 2));
}

/// When each request reached the fake, as seen by polling it every
/// millisecond (the fake keeps no times): request i arrived after
/// `not_before[i]` and at or before `seen[i]`.
class request_clock {
public:
  explicit request_clock(const fake_github& fake)
    : fake_(fake), thread_([this] { run(); }) {
    // nop
  }

  ~request_clock() {
    stop_ = true;
    thread_.join();
  }

  struct arrival {
    wall::time_point not_before;
    wall::time_point seen;
  };

  std::vector<arrival> arrivals() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return arrivals_;
  }

private:
  void run() {
    auto before = wall::now();
    while (!stop_) {
      auto count = fake_.request_count();
      auto now = wall::now();
      {
        std::lock_guard<std::mutex> guard{mtx_};
        while (arrivals_.size() < count)
          arrivals_.push_back({before, now});
      }
      before = now;
      std::this_thread::sleep_for(1ms);
    }
  }

  const fake_github& fake_;
  mutable std::mutex mtx_;
  std::vector<arrival> arrivals_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double ms_between(wall::time_point from, wall::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// -- outbox across a restart ------------------------------------------------------

// GitHub is down while a build runs and ends; conveyor stops with `sig`
// before any status went out; GitHub comes back; conveyor starts again on
// the same data directory and delivers the build's final status once.
void outbox_survives_restart(int sig) {
  fake_github fake;
  fake.require_token(token);
  scratch_dir dir;
  auto repo = config_repo("script: echo restart\n", dir.path);
  auto data = dir.path / "data";
  std::optional<serve_process> serve;
  serve.emplace(data, serve_args(fake, "500ms"),
                std::vector<std::string>{"CONVEYOR_GITHUB_TOKEN=" + token});
  serve->wait_ready();
  fake.go_down();
  auto id = push(*serve, repo, "d-restart-" + std::to_string(sig));
  CHECK(wait_finished(*serve, id)["state"] == "passed");
  // The reporter tried (and failed) at least once, then the breaker opened
  // after five refused connections.
  auto deadline = steady::now() + 20s;
  while (serve->stderr_text().find("breaker opened") == std::string::npos) {
    INFO(serve->stderr_text());
    REQUIRE(steady::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
  auto first_log = serve->stderr_text();
  INFO(first_log);
  CHECK(first_log.find("commit status not sent, kept in the outbox")
        != std::string::npos);
  CHECK(first_log.find("breaker opened host=127.0.0.1:"
                       + std::to_string(fake.port())
                       + " from=closed consecutive_failures=5 "
                         "last_failure=\"could not connect to")
        != std::string::npos);
  if (sig == SIGKILL)
    serve->crash();
  else
    CHECK(serve->stop(sig) == 0);
  serve.reset();
  CHECK(fake.statuses().empty());
  fake.come_back();
  serve.emplace(data, serve_args(fake, "500ms"),
                std::vector<std::string>{"CONVEYOR_GITHUB_TOKEN=" + token});
  serve->wait_ready();
  wait_status(fake, id, "success", *serve);
  // A few more rounds of the reporter: nothing else goes out.
  std::this_thread::sleep_for(1500ms);
  auto got = statuses_of(fake, id);
  INFO(serve->stderr_text());
  check_final_once(got, "success");
  // The build had ended before anything went out: the outbox collapses to
  // its final status (GitHub shows only the latest of a context).
  CHECK(got.size() == 1);
  CHECK(fake.statuses().size() == got.size());
  for (auto& st : got) {
    CHECK(st.sha == head_of(repo));
    CHECK(st.repo == "Codertocat/Hello-World");
  }
  CHECK(serve->stderr_text().find(token) == std::string::npos);
}

// -- rate limits ------------------------------------------------------------------

// The first status request of a build is answered `make_answer()` (made
// just before the push); the next request may not come before
// `not_before(first arrival)`. Then the build's statuses go out.
template <class MakeAnswer, class NotBefore>
void waits_for_rate_limit(MakeAnswer make_answer, NotBefore not_before,
                          const std::string& delivery) {
  fake_github fake;
  fake.require_token(token);
  scratch_dir dir;
  auto repo = config_repo("script: echo limited\n", dir.path);
  serve_process serve{dir.path / "data", serve_args(fake, "2s"),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  request_clock clock{fake};
  fake.answer_next(1, make_answer());
  auto id = push(serve, repo, delivery);
  CHECK(wait_finished(serve, id)["state"] == "passed");
  auto got = wait_status(fake, id, "success", serve);
  std::this_thread::sleep_for(1s);
  got = statuses_of(fake, id);
  INFO(serve.stderr_text());
  check_final_once(got, "success");
  auto requests = fake.requests();
  auto arrivals = clock.arrivals();
  REQUIRE(requests.size() >= 2);
  REQUIRE(arrivals.size() >= 2);
  // The scripted answer went to a status, and the client waited as told
  // before any other request.
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target.find("/statuses/" + head_of(repo))
        != std::string::npos);
  auto earliest = not_before(arrivals[0]);
  for (std::size_t i = 1; i < arrivals.size(); ++i) {
    INFO("request " << i << " " << requests[i].target << " seen "
                    << ms_between(earliest, arrivals[i].seen)
                    << " ms after the time it was told");
    CHECK(arrivals[i].seen >= earliest);
  }
  // ... and not much longer than told.
  CHECK(ms_between(earliest, arrivals[1].not_before) < 1500);
  CHECK(serve.stderr_text().find("rate limited for") != std::string::npos);
  // A rate limit proves the host alive: the breaker stays closed.
  CHECK(serve.stderr_text().find("breaker opened") == std::string::npos);
}

} // namespace

TEST_CASE("github resilience: the outbox survives a crash of conveyor while GitHub is down") {
  outbox_survives_restart(SIGKILL);
}

TEST_CASE("github resilience: the outbox survives a clean stop of conveyor while GitHub is down") {
  outbox_survives_restart(SIGTERM);
}

TEST_CASE("github resilience: a 403 with an exhausted rate limit holds the statuses until its reset") {
  wall::time_point reset;
  waits_for_rate_limit(
    [&reset] {
      // x-ratelimit-reset is in whole seconds: 3 s ahead, so that the limit
      // is still in force when the first status arrives (the build takes a
      // moment).
      reset = std::chrono::ceil<std::chrono::seconds>(wall::now()) + 3s;
      auto epoch = std::chrono::duration_cast<std::chrono::seconds>(
                     reset.time_since_epoch())
                     .count();
      return scripted_answer{403,
                             {{"x-ratelimit-limit", "5000"},
                              {"x-ratelimit-remaining", "0"},
                              {"x-ratelimit-reset", std::to_string(epoch)}},
                             R"({"message":"API rate limit exceeded"})"};
    },
    [&reset](const request_clock::arrival& first) {
      // The limit is only meaningful if it was still in force.
      CHECK(first.seen < reset);
      return reset;
    },
    "d-rate-403");
}

TEST_CASE("github resilience: a 429 with Retry-After holds the statuses for that long") {
  waits_for_rate_limit(
    [] {
      return scripted_answer{
        429,
        {{"Retry-After", "1"}},
        R"({"message":"You have exceeded a secondary rate limit."})"};
    },
    [](const request_clock::arrival& first) {
      // Counted from the earliest the 429 can have been answered.
      return first.not_before + 1s;
    },
    "d-rate-429");
}

// -- a slow GitHub ------------------------------------------------------------------

TEST_CASE("github resilience: a GitHub slower than the timeout neither holds builds nor loses statuses") {
  fake_github fake;
  fake.require_token(token);
  scratch_dir dir;
  auto repo = config_repo("script: echo slow\n", dir.path);
  serve_process serve{dir.path / "data", serve_args(fake, "300ms"),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  auto host = "127.0.0.1:" + std::to_string(fake.port());
  auto state_line = [&host](const std::string& state) {
    return "conveyor_github_breaker_state{host=\"" + host + "\",state=\""
           + state + "\"}";
  };
  fake.set_delay(2s);
  auto pushed = steady::now();
  auto id = push(serve, repo, "d-slow");
  // One status call takes at least 5 attempts x 300 ms + backoffs of at least
  // 0.4 + 0.8 + 1.6 + 3.2 s = 7.5 s: a build that ends well before that did
  // not wait on GitHub.
  CHECK(wait_finished(serve, id, 30s)["state"] == "passed");
  auto took = steady::now() - pushed;
  CHECK(took < 6s);
  INFO(serve.stderr_text());
  // The calls time out fast, each attempt after 300 ms.
  auto deadline = steady::now() + 30s;
  // The reporter logs the failed call after the breaker's line.
  auto both_logged = [&serve] {
    auto text = serve.stderr_text();
    return text.find("breaker opened") != std::string::npos
           && text.find("timed out after 300ms (5 attempts)") != std::string::npos;
  };
  while (!both_logged()) {
    REQUIRE(steady::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
  auto log = serve.stderr_text();
  CHECK(log.find("breaker opened host=" + host
                 + " from=closed consecutive_failures=5 "
                   "last_failure=\"read the answer of "
                 + host + ": timed out\" open_for_ms=8000")
        != std::string::npos);
  CHECK(metric(serve, state_line("open")) == 1);
  CHECK(metric(serve, state_line("closed")) == 0);
  CHECK(metric(serve,
               "conveyor_github_breaker_opened_total{host=\"" + host + "\"}")
        == 1);
  CHECK(metric(serve, "conveyor_github_breaker_consecutive_failures{host=\""
                        + host + "\"}")
        == 5);
  CHECK(metric(serve, "conveyor_github_call_failures_total") >= 1);
  // Open: calls fail fast, without a request.
  // (Well inside the 8 s cool-down, and 1.5 s past the 2 s delay of the
  // last request sent before the breaker opened.)
  auto requests_when_open = fake.request_count();
  std::this_thread::sleep_for(3500ms);
  CHECK(fake.request_count() == requests_when_open);
  // The fake, like a slow GitHub, still takes each timed-out request after
  // its delay; those have landed by now.
  auto landed_late = fake.statuses().size();
  CHECK(landed_late <= requests_when_open);
  CHECK(metric(serve, "conveyor_github_breaker_rejections_total{host=\""
                        + host + "\"}")
        >= 1);
  // GitHub is fast again: after the cool-down (8 s) a probe goes out and
  // the final status with it.
  fake.set_delay(0ms);
  wait_status(fake, id, "success", serve, 60s, landed_late);
  std::this_thread::sleep_for(1500ms);
  auto got = statuses_of(fake, id, landed_late);
  log = serve.stderr_text();
  INFO(log);
  check_final_once(got, "success");
  CHECK(got.size() == 1);
  CHECK(fake.statuses().size() == landed_late + 1);
  CHECK(occurrences(log, "breaker opened") == 1);
  CHECK(occurrences(log, "breaker half-open host=" + host
                           + " from=open consecutive_failures=") == 1);
  CHECK(occurrences(log, "breaker closed host=" + host
                           + " from=half_open") == 1);
  CHECK(metric(serve, state_line("closed")) == 1);
  CHECK(metric(serve, state_line("open")) == 0);
  CHECK(metric(serve, "conveyor_github_statuses_sent_total") >= 1);
  CHECK(metric(serve, "conveyor_github_status_outbox") == 0);
  CHECK(log.find(token) == std::string::npos);
}
