// `conveyor serve` over real HTTP on loopback: the API, its errors, the live
// tail, metrics, graceful shutdown and recovery after kill -9.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;

namespace {

json body_of(const http::client_response& res) {
  auto result = json::parse(res.body, nullptr, false);
  INFO("body: " << res.body);
  REQUIRE_FALSE(result.is_discarded());
  return result;
}

json post_build(serve_process& serve, const std::string& repo,
                std::map<std::string, std::string> headers = {}) {
  auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump(),
                        headers);
  INFO("body: " << res.body);
  REQUIRE(res.status == 201);
  return body_of(res);
}

/// Polls a build until it is finished; answers it.
json wait_finished(serve_process& serve, int64_t build_id,
                   std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto build = body_of(serve.call("GET", "/api/builds/" + std::to_string(build_id)));
    auto state = build["state"].get<std::string>();
    if (state != "created" && state != "started")
      return build;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

/// Polls a job until `done(job)` holds.
template <class Predicate>
json wait_job(serve_process& serve, int64_t job_id, Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto job = body_of(serve.call("GET", "/api/jobs/" + std::to_string(job_id)));
    if (done(job))
      return job;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// True if `pid` names a process that is not a zombie (a zombie runs nothing;
/// whoever inherited it may simply not have reaped it yet).
bool alive(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size()
         && text[close + 2] != 'Z';
}

/// Polls a log until it holds `text`.
void wait_log(serve_process& serve, const std::string& target,
              const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!contains(serve.call("GET", target).body, text)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

} // namespace

TEST_CASE("serve: a build submitted over HTTP runs and is visible") {
  scratch_dir dir;
  auto repo = example_repo("demo", dir.path);
  serve_process serve{dir.path / "data", {"--workers", "3"}};
  auto health = serve.call("GET", "/healthz");
  CHECK(health.status == 200);
  CHECK_FALSE(health.headers["x-request-id"].empty());
  serve.wait_ready();
  auto created = post_build(serve, repo);
  CHECK(created["state"] == "created");
  CHECK(created["jobs"].size() == 3);
  CHECK(created["number"] == 1);
  CHECK(created["branch"] == "main");
  auto id = created["id"].get<int64_t>();
  auto build = wait_finished(serve, id);
  CHECK(build["state"] == "passed");
  REQUIRE(build["jobs"].size() == 3);
  CHECK(build["jobs"][2]["state"] == "failed");
  CHECK(build["jobs"][2]["allow_failure"] == true);
  auto job_id = build["jobs"][0]["id"].get<int64_t>();
  auto job = body_of(serve.call("GET", "/api/jobs/" + std::to_string(job_id)));
  CHECK(job["number"] == "1.1");
  CHECK(job["state"] == "passed");
  CHECK(job["attempt"] == 1);
  auto log = serve.call("GET", "/api/jobs/" + std::to_string(job_id) + "/log");
  CHECK(log.status == 200);
  CHECK(contains(log.body, "unit test 3 ... ok"));
  CHECK(contains(log.body, "Done. Your build exited with 0."));
  auto list = body_of(serve.call("GET", "/api/builds?state=passed"));
  REQUIRE(list["builds"].size() == 1);
  CHECK(list["builds"][0]["id"] == id);
  auto none = body_of(serve.call("GET", "/api/builds?state=failed"));
  CHECK(none["builds"].empty());
  // The client's request id comes back.
  auto echoed = serve.call("GET", "/healthz", {}, {{"X-Request-Id", "abc-123"}});
  CHECK(echoed.headers["x-request-id"] == "abc-123");
}

TEST_CASE("serve: builds are listed newest first, page by page") {
  scratch_dir dir;
  auto repo = config_repo("script: true\n", dir.path);
  serve_process serve{dir.path / "data"};
  serve.wait_ready();
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(post_build(serve, repo)["id"].get<int64_t>());
  auto first = body_of(serve.call("GET", "/api/builds?limit=2"));
  REQUIRE(first["builds"].size() == 2);
  CHECK(first["builds"][0]["id"] == ids[4]);
  CHECK(first["builds"][1]["id"] == ids[3]);
  auto next = first["next_before"].get<int64_t>();
  auto second = body_of(serve.call("GET", "/api/builds?limit=2&before="
                                            + std::to_string(next)));
  REQUIRE(second["builds"].size() == 2);
  CHECK(second["builds"][0]["id"] == ids[2]);
  auto by_repo = body_of(serve.call("GET", "/api/builds?repo=repo&limit=10"));
  CHECK(by_repo["builds"].size() == 5);
}

TEST_CASE("serve: bad input gets a 4xx with a message") {
  scratch_dir dir;
  serve_process serve{dir.path / "data", {"--max-body-size", "64KiB"}};
  serve.wait_ready();
  auto check_error = [&](const std::string& method, const std::string& target,
                         const std::string& body, int status,
                         const std::string& words) {
    auto res = serve.call(method, target, body);
    INFO(method << " " << target << " -> " << res.status << " " << res.body);
    CHECK(res.status == status);
    if (status != 413) {
      auto parsed = json::parse(res.body, nullptr, false);
      REQUIRE_FALSE(parsed.is_discarded());
      CHECK(contains(parsed["error"].get<std::string>(), words));
      CHECK(parsed["request_id"] == res.headers["x-request-id"]);
    }
  };
  check_error("POST", "/api/builds", "{not json", 400, "JSON object");
  check_error("POST", "/api/builds", "[1,2]", 400, "JSON object");
  check_error("POST", "/api/builds", "{}", 400, "'repo'");
  check_error("POST", "/api/builds", R"({"repo": 5})", 400, "'repo'");
  check_error("POST", "/api/builds", R"({"repo": "/x", "ref": []})", 400, "'ref'");
  check_error("POST", "/api/builds", R"({"repo": "/nonexistent/repo"})", 400,
              "/nonexistent/repo");
  check_error("GET", "/api/builds/999", "", 404, "999");
  check_error("GET", "/api/builds/abc", "", 404, "abc");
  check_error("GET", "/api/jobs/999", "", 404, "999");
  check_error("GET", "/api/jobs/999/log", "", 404, "999");
  check_error("POST", "/api/builds/999/cancel", "", 404, "999");
  check_error("POST", "/api/jobs/999/restart", "", 404, "999");
  check_error("GET", "/api/builds?limit=0", "", 400, "limit");
  check_error("GET", "/api/builds?state=bogus", "", 400, "bogus");
  check_error("GET", "/api/builds?before=x", "", 400, "before");
  check_error("GET", "/nope", "", 404, "");
  auto wrong_method = serve.call("DELETE", "/api/builds");
  CHECK(wrong_method.status == 405);
  CHECK(contains(wrong_method.headers["allow"], "GET"));
  CHECK(serve.call("POST", "/api/builds", std::string(100 * 1024, 'x')).status
        == 413);
  // Still serving.
  CHECK(serve.call("GET", "/healthz").status == 200);
}

TEST_CASE("serve: a bearer token guards the mutating calls") {
  scratch_dir dir;
  auto repo = config_repo("script: true\n", dir.path);
  serve_process serve{dir.path / "data", {}, {"CONVEYOR_API_TOKEN=s3cret"}};
  serve.wait_ready();
  auto body = json{{"repo", repo}}.dump();
  CHECK(serve.call("POST", "/api/builds", body).status == 401);
  CHECK(serve.call("POST", "/api/builds", body, {{"Authorization", "Bearer nope"}})
          .status
        == 401);
  auto ok = serve.call("POST", "/api/builds", body,
                       {{"Authorization", "Bearer s3cret"}});
  CHECK(ok.status == 201);
  CHECK(serve.call("POST", "/api/builds/1/cancel").status == 401);
  CHECK(serve.call("GET", "/api/builds/1").status == 200);
  CHECK_FALSE(contains(serve.stderr_text(), "s3cret"));
}

TEST_CASE("serve: cancel and restart over HTTP keep every attempt's log") {
  scratch_dir dir;
  auto repo = config_repo(R"(
script:
  - echo "attempt $CONVEYOR_JOB_ATTEMPT"; sleep 600
)", dir.path);
  serve_process serve{dir.path / "data", {"--kill-grace", "300ms"}};
  serve.wait_ready();
  auto build = post_build(serve, repo);
  auto job_id = build["jobs"][0]["id"].get<int64_t>();
  auto job_path = "/api/jobs/" + std::to_string(job_id);
  wait_log(serve, job_path + "/log", "attempt 1");
  // Restarting a running job is a conflict.
  CHECK(serve.call("POST", job_path + "/restart").status == 409);
  auto canceled = serve.call("POST", job_path + "/cancel");
  CHECK(canceled.status == 202);
  wait_job(serve, job_id, [](const json& j) { return j["state"] == "canceled"; });
  CHECK(wait_finished(serve, build["id"].get<int64_t>())["state"] == "canceled");
  auto again = serve.call("POST", job_path + "/cancel");
  CHECK(again.status == 200);
  CHECK(body_of(again)["canceled"] == false);
  auto restarted = serve.call("POST", job_path + "/restart");
  REQUIRE(restarted.status == 202);
  CHECK(body_of(restarted)["attempt"] == 2);
  wait_job(serve, job_id, [](const json& j) { return j["state"] == "started"; });
  CHECK(body_of(serve.call("GET", "/api/builds/" + std::to_string(build["id"].get<int64_t>())))["state"]
        == "started");
  auto first_log = serve.call("GET", job_path + "/log?attempt=1");
  CHECK(contains(first_log.body, "attempt 1"));
  CHECK(contains(first_log.body, "Done. The job was canceled."));
  CHECK(serve.call("GET", job_path + "/log?attempt=3").status == 404);
  wait_log(serve, job_path + "/log?attempt=2", "attempt 2");
  CHECK(serve.call("POST", job_path + "/cancel").status == 202);
  wait_job(serve, job_id, [](const json& j) { return j["state"] == "canceled"; });
  CHECK(contains(serve.call("GET", job_path + "/log?attempt=2").body, "attempt 2"));
  CHECK(contains(serve.call("GET", job_path + "/log").body, "attempt 2"));
}

TEST_CASE("serve: the live tail starts with what exists and ends with the log") {
  scratch_dir dir;
  auto repo = config_repo(R"(
script:
  - for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.25; done
)", dir.path);
  serve_process serve{dir.path / "data"};
  serve.wait_ready();
  auto build = post_build(serve, repo);
  auto job_id = build["jobs"][0]["id"].get<int64_t>();
  auto job_path = "/api/jobs/" + std::to_string(job_id);
  wait_job(serve, job_id, [](const json& j) { return j["state"] == "started"; });
  std::vector<std::string> chunks;
  auto res = http::fetch_stream("127.0.0.1", serve.port(), "GET",
                                job_path + "/log?follow=1",
                                [&chunks](std::string_view chunk) {
                                  chunks.emplace_back(chunk);
                                  return true;
                                },
                                {}, {}, std::chrono::seconds(30));
  CHECK(res.status == 200);
  std::string followed;
  for (auto& chunk : chunks)
    followed += chunk;
  CHECK(chunks.size() > 2);
  CHECK(contains(followed, "tick 1"));
  CHECK(contains(followed, "tick 8"));
  CHECK(contains(followed, "Done. Your build exited with 0."));
  auto stored = serve.call("GET", job_path + "/log");
  CHECK(followed == stored.body);
  // A finished log is served whole, and ends at once.
  std::string whole;
  auto again = http::fetch_stream("127.0.0.1", serve.port(), "GET",
                                  job_path + "/log?follow=1",
                                  [&whole](std::string_view chunk) {
                                    whole += chunk;
                                    return true;
                                  },
                                  {}, {}, std::chrono::seconds(10));
  CHECK(again.status == 200);
  CHECK(whole == stored.body);
}

TEST_CASE("serve: odd bytes and odd methods cannot break the API") {
  scratch_dir dir;
  auto repo = config_repo("script: true\n", dir.path);
  auto cmd = "cd " + repo + " && git -c user.name=t -c user.email=t@t.invalid"
             " commit -q --allow-empty -m \"caf$(printf '\\351')\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  serve_process serve{dir.path / "data"};
  serve.wait_ready();
  auto build = post_build(serve, repo);
  CHECK(wait_finished(serve, build["id"].get<int64_t>())["state"] == "passed");
  CHECK(serve.call("GET", "/api/builds").status == 200);
  for (int i = 0; i < 20; ++i)
    serve.call("M" + std::to_string(i), "/api/builds");
  auto metrics = serve.call("GET", "/metrics").body;
  CHECK(contains(metrics, "method=\"other\""));
  CHECK_FALSE(contains(metrics, "method=\"M1\""));
}

TEST_CASE("serve: one node per data directory") {
  scratch_dir dir;
  serve_process first{dir.path / "data"};
  first.wait_ready();
  auto second = dir.path / "second.out";
  auto cmd = std::string{CONVEYOR_BINARY_DIR "/app/conveyor serve --data "}
             + (dir.path / "data").string() + " --http 127.0.0.1:0 > "
             + second.string() + " 2>&1";
  auto rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 1);
  CHECK(contains(slurp(second), "another conveyor process uses"));
}

TEST_CASE("serve: /metrics passes promtool and counts what happened") {
  scratch_dir dir;
  auto repo = config_repo("script: echo hello\n", dir.path);
  serve_process serve{dir.path / "data"};
  serve.wait_ready();
  auto build = post_build(serve, repo);
  CHECK(wait_finished(serve, build["id"].get<int64_t>())["state"] == "passed");
  auto metrics = serve.call("GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(contains(metrics.headers["content-type"], "text/plain"));
  CHECK(contains(metrics.body, "conveyor_builds_finished_total{state=\"passed\"} 1"));
  CHECK(contains(metrics.body, "conveyor_jobs_finished_total{state=\"passed\"} 1"));
  CHECK(contains(metrics.body, "conveyor_worker_slots{state=\"free\"}"));
  CHECK(contains(metrics.body, "conveyor_queue_depth 0"));
  CHECK(contains(metrics.body, "conveyor_log_parts_received_total"));
  CHECK(contains(metrics.body, "conveyor_store_transaction_seconds_bucket"));
  CHECK(contains(metrics.body, "conveyor_http_requests_total{method=\"POST\",route=\"/api/builds\",status=\"201\"} 1"));
  CHECK(contains(metrics.body, "process_resident_memory_bytes"));
  auto file = dir.path / "metrics.txt";
  std::ofstream{file} << metrics.body;
  auto cmd = "promtool check metrics < " + file.string() + " > "
             + (dir.path / "promtool.out").string() + " 2>&1";
  auto rc = std::system(cmd.c_str());
  INFO("promtool: " << slurp(dir.path / "promtool.out"));
  CHECK(rc == 0);
}

TEST_CASE("serve: SIGTERM lets running jobs finish and then cancels them") {
  scratch_dir dir;
  auto repo = config_repo(R"(
env: [D=0.3, D=600]
script: echo "sleeping $D"; sleep $D
)", dir.path);
  auto data = dir.path / "data";
  int64_t build_id = 0;
  {
    serve_process serve{data, {"--shutdown-grace", "2s", "--kill-grace", "300ms"}};
    serve.wait_ready();
    auto build = post_build(serve, repo);
    build_id = build["id"].get<int64_t>();
    for (auto& job : build["jobs"])
      wait_job(serve, job["id"].get<int64_t>(),
               [](const json& j) { return j["state"] == "started"; });
    CHECK(serve.stop(SIGTERM) == 0);
  }
  serve_process again{data};
  again.wait_ready();
  auto build = body_of(again.call("GET", "/api/builds/" + std::to_string(build_id)));
  CHECK(build["jobs"][0]["state"] == "passed");
  CHECK(build["jobs"][1]["state"] == "canceled");
  CHECK(build["state"] == "canceled");
}

TEST_CASE("serve: after kill -9 every accepted build finishes with exact logs") {
  scratch_dir dir;
  auto repo = config_repo(R"(
script:
  - echo $$ >> "$HOME/../pids"; for i in $(seq 1 15); do echo "line $i"; sleep 0.05; done
)", dir.path);
  auto data = dir.path / "data";
  std::vector<int64_t> builds;
  {
    serve_process serve{data, {"--workers", "4"}};
    serve.wait_ready();
    for (int i = 0; i < 50; ++i)
      builds.push_back(post_build(serve, repo)["id"].get<int64_t>());
    // Let some jobs run, and kill the server while others run.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      auto passed = body_of(serve.call("GET", "/api/builds?state=passed&limit=500"));
      if (passed["builds"].size() >= 4)
        break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    serve.crash();
  }
  auto pids_before = slurp(data / "work" / "pids");
  serve_process serve{data, {"--workers", "4"}};
  serve.wait_ready();
  // The restart found the jobs the crash left running, and killed them: no
  // process of the crashed server's jobs survives.
  CHECK(contains(serve.stderr_text(), "orphaned jobs from a previous run"));
  std::istringstream in{pids_before};
  for (pid_t pid; in >> pid;)
    CHECK_FALSE(alive(pid));
  int requeued = 0;
  for (auto id : builds) {
    auto build = wait_finished(serve, id);
    CHECK(build["state"] == "passed");
    auto job = build["jobs"][0];
    auto job_path = "/api/jobs/" + std::to_string(job["id"].get<int64_t>());
    for (int attempt = 1; attempt <= job["attempt"].get<int>(); ++attempt) {
      auto log = serve.call("GET", job_path + "/log?attempt=" + std::to_string(attempt)).body;
      // In order, nothing twice: line k is followed by line k + 1.
      size_t at = 0;
      int lines = 0;
      for (int i = 1; i <= 15; ++i) {
        auto next = log.find("line " + std::to_string(i) + "\n", at);
        if (next == std::string::npos)
          break;
        CHECK(log.find("line " + std::to_string(i) + "\n", next + 1) == std::string::npos);
        at = next;
        ++lines;
      }
      if (attempt == job["attempt"].get<int>()) {
        CHECK(lines == 15);
        CHECK(contains(log, "Done. Your build exited with 0."));
      } else {
        ++requeued;
      }
    }
  }
  CHECK(requeued > 0);
}

TEST_CASE("serve: a repository given as a URL is built through a mirror") {
  scratch_dir dir;
  auto repo = config_repo("script: cat README.md\n", dir.path, "origin");
  {
    std::ofstream{fs::path{repo} / "README.md"} << "from the origin\n";
    auto cmd = "cd " + repo + " && git add -A && git -c user.name=t"
               " -c user.email=t@t.invalid commit -qm readme";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  auto data = dir.path / "data";
  serve_process serve{data};
  serve.wait_ready();
  auto build = post_build(serve, "file://" + repo);
  CHECK(build["slug"] != "");
  auto done = wait_finished(serve, build["id"].get<int64_t>());
  CHECK(done["state"] == "passed");
  auto job_path = "/api/jobs/" + std::to_string(done["jobs"][0]["id"].get<int64_t>());
  CHECK(contains(serve.call("GET", job_path + "/log").body, "from the origin"));
  CHECK(fs::exists(data / "mirrors"));
  auto unreachable = serve.call("POST", "/api/builds",
                                json{{"repo", "file:///nonexistent/repo.git"}}.dump());
  CHECK(unreachable.status == 400);
}
