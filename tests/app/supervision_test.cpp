// The node's supervision tree through a real `conveyor serve`: visible on the
// API, restarting what fails, and losing nothing while its modules crash
// again and again under load.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;

namespace {

const std::map<std::string, std::string> admin{{"Authorization", "Bearer s3cret"}};

json parsed(const http::client_response& res) {
  auto result = json::parse(res.body, nullptr, false);
  INFO("status " << res.status << " body: " << res.body);
  REQUIRE_FALSE(result.is_discarded());
  return result;
}

json child_of(const json& tree, const std::string& path) {
  for (auto& child : tree["children"])
    if (child["path"] == path)
      return child;
  FAIL("no child " << path << " in " << tree.dump());
  return {};
}

/// Polls the tree until `path` runs with at least `restarts` restarts.
json wait_restarted(serve_process& serve, const std::string& path, int restarts) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto child = child_of(parsed(serve.call("GET", "/api/supervision")), path);
    if (child["state"] == "running" && child["restarts"].get<int>() >= restarts)
      return child;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Submits a build, asking again with the same request id while a module is
/// restarting: the store makes one build per request id.
int64_t submit(serve_process& serve, const std::string& repo, int n) {
  auto headers = admin;
  headers["X-Request-Id"] = "crash-test-" + std::to_string(n);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump(), headers);
    if (res.status == 201)
      return parsed(res)["id"].get<int64_t>();
    INFO("status " << res.status << " body: " << res.body);
    REQUIRE((res.status == 503 || res.status == 504 || res.status == 500));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("serve: the supervision tree is on the API and a crashed module comes back") {
  scratch_dir dir;
  auto repo = config_repo("script: echo supervised\n", dir.path);
  serve_process serve{dir.path / "data", {"--enable-fault-injection"},
                      {"CONVEYOR_API_TOKEN=s3cret"}};
  serve.wait_ready();
  auto tree = parsed(serve.call("GET", "/api/supervision"));
  CHECK(tree["root"] == "node");
  for (auto path : {"node/store", "node/core", "node/core/log_sequencer",
                    "node/core/scheduler", "node/core/gatekeeper",
                    "node/workers", "node/workers/worker-1",
                    "node/workers/worker-2", "node/edge", "node/edge/http"}) {
    auto child = child_of(tree, path);
    CHECK(child["state"] == "running");
    CHECK(child["restarts"] == 0);
    CHECK(child["last_exit"].is_null());
  }
  CHECK(child_of(tree, "node/core")["is_supervisor"] == true);
  CHECK(child_of(tree, "node/workers/worker-1")["dynamic"] == false);
  CHECK(child_of(tree, "node/core/scheduler")["strategy"] == "one_for_one");
  // Only with the token, only for a child, only one that exists.
  CHECK(serve.call("POST", "/api/debug/crash", R"({"child":"scheduler"})").status == 401);
  CHECK(serve.call("POST", "/api/debug/crash", R"({"child":"nope"})", admin).status == 404);
  CHECK(serve.call("POST", "/api/debug/crash", R"({"child":"core"})", admin).status == 409);
  CHECK(serve.call("POST", "/api/debug/crash", "[]", admin).status == 400);
  auto crashed = serve.call("POST", "/api/debug/crash", R"({"child":"scheduler"})", admin);
  REQUIRE(crashed.status == 202);
  CHECK(parsed(crashed)["crashed"] == "core/scheduler");
  auto scheduler = wait_restarted(serve, "node/core/scheduler", 1);
  CHECK(contains(scheduler["last_exit"]["reason"].get<std::string>(), "injected fault"));
  CHECK(scheduler["last_exit"]["at_ms"].get<int64_t>() > 0);
  // The others were left alone (one_for_one).
  tree = parsed(serve.call("GET", "/api/supervision"));
  CHECK(child_of(tree, "node/core/gatekeeper")["restarts"] == 0);
  CHECK(child_of(tree, "node/store")["restarts"] == 0);
  auto metrics = serve.call("GET", "/metrics").body;
  CHECK(contains(metrics, "conveyor_supervisor_child_restarts_total{child=\"node/core/scheduler\"} 1"));
  CHECK(contains(metrics, "conveyor_supervisor_child_up{child=\"node/store\"} 1"));
  CHECK(contains(serve.stderr_text(), "restarting supervisor=node/core child=scheduler"));
  // And the node still builds.
  auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump(), admin);
  REQUIRE(res.status == 201);
  auto id = parsed(res)["id"].get<int64_t>();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (parsed(serve.call("GET", "/api/builds/" + std::to_string(id)))["state"] != "passed") {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST_CASE("serve: fault injection is off unless asked for") {
  scratch_dir dir;
  serve_process serve{dir.path / "data", {}, {"CONVEYOR_API_TOKEN=s3cret"}};
  serve.wait_ready();
  auto res = serve.call("POST", "/api/debug/crash", R"({"child":"scheduler"})", admin);
  CHECK(res.status == 404);
  CHECK(contains(res.body, "--enable-fault-injection"));
}

TEST_CASE("serve: a node whose module keeps failing gives up and exits non-zero") {
  scratch_dir dir;
  serve_process serve{dir.path / "data",
                      {"--enable-fault-injection", "--max-restarts", "2",
                       "--restart-window", "60s"},
                      {"CONVEYOR_API_TOKEN=s3cret"}};
  serve.wait_ready();
  for (int i = 1; i <= 2; ++i) {
    REQUIRE(serve.call("POST", "/api/debug/crash", R"({"child":"store"})", admin).status == 202);
    wait_restarted(serve, "node/store", i);
  }
  serve.call("POST", "/api/debug/crash", R"({"child":"store"})", admin);
  CHECK(serve.wait_exit(std::chrono::seconds(30)) == 1);
  CHECK(contains(serve.stderr_text(), "gave up"));
  CHECK(contains(serve.stderr_text(), "restart limit reached"));
}

TEST_CASE("serve: 200 builds end right while scheduler sequencer gatekeeper and store keep crashing") {
  scratch_dir dir;
  auto runs = dir.path / "runs";
  auto repo = config_repo(
    "script:\n"
    "  - echo \"start $CONVEYOR_JOB_ID\" >> " + runs.string() + "\n"
    "  - for i in $(seq 1 15); do echo \"line $i\"; done\n"
    "  - sleep 0.1\n"
    "  - echo \"end $CONVEYOR_JOB_ID\" >> " + runs.string() + "\n",
    dir.path);
  serve_process serve{dir.path / "data",
                      {"--workers", "4", "--enable-fault-injection",
                       "--max-restarts", "1000"},
                      {"CONVEYOR_API_TOKEN=s3cret"}};
  serve.wait_ready();
  // One crash every 200 ms, in turn, until every build has ended.
  std::atomic<bool> done{false};
  std::atomic<int> crashes{0};
  std::thread crasher{[&serve, &done, &crashes] {
    const std::vector<std::string> victims{"scheduler", "log_sequencer",
                                           "gatekeeper", "store"};
    for (size_t i = 0; !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto body = json{{"child", victims[i % victims.size()]}}.dump();
      if (serve.call("POST", "/api/debug/crash", body, admin).status == 202)
        crashes.fetch_add(1);
    }
  }};
  std::vector<int64_t> builds;
  for (int i = 0; i < 200; ++i)
    builds.push_back(submit(serve, repo, i));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  std::map<int64_t, json> finished;
  while (finished.size() < builds.size() && std::chrono::steady_clock::now() < deadline) {
    for (auto id : builds) {
      if (finished.count(id) > 0)
        continue;
      auto res = serve.call("GET", "/api/builds/" + std::to_string(id));
      if (res.status != 200)
        continue; // the store is restarting
      auto build = parsed(res);
      auto state = build["state"].get<std::string>();
      if (state != "created" && state != "started")
        finished[id] = build;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  done.store(true);
  crasher.join();
  INFO("crashes: " << crashes.load());
  REQUIRE(finished.size() == builds.size());
  CHECK(crashes.load() >= 20);
  // Every build passed; no job ran twice (attempt 1 throughout); every log is
  // whole, in order, each line once.
  std::set<int64_t> jobs;
  for (auto& [id, build] : finished) {
    INFO("build " << id << ": " << build.dump());
    CHECK(build["state"] == "passed");
    REQUIRE(build["jobs"].size() == 1);
    auto job = build["jobs"][0];
    auto job_id = job["id"].get<int64_t>();
    if (job["attempt"] != 1) {
      // What the server said about the job, to tell why it ran again.
      std::istringstream log_lines{serve.stderr_text()};
      std::string said;
      auto needle = "job_id=" + std::to_string(job_id) + " ";
      for (std::string line; std::getline(log_lines, line);)
        if (contains(line + " ", needle) || contains(line, "restart"))
          said += line + "\n";
      INFO(said);
      CHECK(job["attempt"] == 1);
    }
    jobs.insert(job_id);
    std::string log;
    for (int tries = 0; tries < 100; ++tries) {
      auto res = serve.call("GET", "/api/jobs/" + std::to_string(job_id) + "/log");
      if (res.status == 200 && contains(res.body, "Done. Your build exited with 0.")) {
        log = res.body;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    size_t at = 0;
    for (int i = 1; i <= 15; ++i) {
      auto line = "line " + std::to_string(i) + "\n";
      auto next = log.find(line, at);
      REQUIRE(next != std::string::npos);
      CHECK(log.find(line, next + 1) == std::string::npos);
      at = next;
    }
    CHECK(contains(log, "Done. Your build exited with 0."));
  }
  CHECK(jobs.size() == builds.size());
  // Each job ran once: one start and one end, in that order.
  std::map<std::string, int> starts;
  std::map<std::string, int> ends;
  std::istringstream in{slurp(runs)};
  for (std::string word, job; in >> word >> job;) {
    if (word == "start") {
      CHECK(starts[job] == ends[job]); // not started again while running
      starts[job] += 1;
    } else {
      ends[job] += 1;
    }
  }
  CHECK(starts.size() == builds.size());
  for (auto& [job, count] : starts) {
    INFO("job " << job);
    CHECK(count == 1);
    CHECK(ends[job] == 1);
  }
  auto tree = parsed(serve.call("GET", "/api/supervision"));
  for (auto path : {"node/core/scheduler", "node/core/log_sequencer",
                    "node/core/gatekeeper", "node/store"})
    CHECK(child_of(tree, path)["restarts"].get<int>() >= 4);
}
