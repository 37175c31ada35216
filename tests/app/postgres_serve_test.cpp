// `conveyor serve --db postgres://...` on the throwaway PostgreSQL server of
// the ctest fixture "postgres": builds run and their logs are stored there.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/adapters/postgres/pg_test_database.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST_CASE("serve: builds run on PostgreSQL and survive a restart of the node") {
  conveyor::testing::pg_database db{conveyor::testing::pg_database::kind::database};
  scratch_dir dir;
  auto repo = config_repo("env:\n  - N=1\n  - N=2\nscript: echo \"job $N on postgres\"\n",
                          dir.path);
  std::vector<int64_t> ids;
  {
    serve_process serve{dir.path / "data", {"--db", db.url()}};
    serve.wait_ready();
    CHECK(slurp(dir.path / "data.stdout").find("store: postgres") != std::string::npos);
    for (int i = 0; i < 5; ++i) {
      auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump());
      INFO(res.body);
      REQUIRE(res.status == 201);
      ids.push_back(json::parse(res.body)["id"].get<int64_t>());
    }
    CHECK(serve.stop() == 0);
  }
  // A new node on the same database finishes what the first one left.
  serve_process serve{dir.path / "data2", {"--db", db.url()}};
  serve.wait_ready();
  for (auto id : ids) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    json build;
    for (;;) {
      build = json::parse(serve.call("GET", "/api/builds/" + std::to_string(id)).body);
      if (build["state"] != "created" && build["state"] != "started")
        break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(build["state"] == "passed");
    REQUIRE(build["jobs"].size() == 2);
    for (auto& job : build["jobs"]) {
      auto log = serve.call("GET", "/api/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/log").body;
      CHECK(log.find("on postgres") != std::string::npos);
      CHECK(log.find("Done. Your build exited with 0.") != std::string::npos);
    }
  }
  CHECK(db.query_int("SELECT COUNT(*) FROM builds") == 5);
}

TEST_CASE("serve: a PostgreSQL URL with a password in it is refused") {
  scratch_dir dir;
  auto cmd = std::string{CONVEYOR_BINARY_DIR "/app/conveyor"} + " serve --data "
             + (dir.path / "d").string()
             + " --db postgres://me:secret@127.0.0.1:1/x > " + (dir.path / "out").string()
             + " 2>&1";
  CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 2);
  auto out = slurp(dir.path / "out");
  CHECK(out.find("PGPASSWORD") != std::string::npos);
}

namespace {

/// A PostgreSQL server of the test's own (the fixture's is shared), started
/// and stopped with tests/adapters/postgres/pg-server.sh.
struct own_pg_server {
  fs::path dir;

  explicit own_pg_server(fs::path where) : dir(std::move(where)) {
    // The server runs as user postgres, who must reach its directory.
    fs::permissions(dir.parent_path(),
                    fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    REQUIRE(run("start") == 0);
  }

  ~own_pg_server() {
    run("stop");
  }

  int run(const std::string& command) const {
    auto cmd = std::string{CONVEYOR_SOURCE_DIR "/tests/adapters/postgres/pg-server.sh "}
               + command + " " + dir.string() + " >/dev/null 2>&1";
    return WEXITSTATUS(std::system(cmd.c_str()));
  }

  /// Stops the server, keeps it down for `seconds`, starts it again.
  int outage(int seconds) const {
    auto cmd = std::string{CONVEYOR_SOURCE_DIR "/tests/adapters/postgres/pg-server.sh restart "}
               + dir.string() + " " + std::to_string(seconds) + " >/dev/null 2>&1";
    return WEXITSTATUS(std::system(cmd.c_str()));
  }

  std::string url() const {
    auto text = slurp(dir / "url");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
      text.pop_back();
    return text;
  }
};

json get_json(serve_process& serve, const std::string& target) {
  auto res = serve.call("GET", target);
  auto body = json::parse(res.body, nullptr, false);
  return res.status == 200 && !body.is_discarded() ? body : json{};
}

} // namespace

TEST_CASE("serve: 100 builds finish with whole logs while PostgreSQL restarts twice") {
  scratch_dir dir;
  own_pg_server pg{dir.path / "pg"};
  auto repo = config_repo(
    "script: for i in 1 2 3 4 5; do echo \"line $i\"; sleep 0.05; done\n", dir.path);
  serve_process serve{dir.path / "data", {"--db", pg.url(), "--workers", "4"}};
  serve.wait_ready();
  std::vector<int64_t> ids;
  auto submit = [&serve, &repo](int n) {
    std::map<std::string, std::string> headers{{"X-Request-Id", "pg-restart-" + std::to_string(n)}};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (;;) {
      auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump(), headers);
      if (res.status == 201)
        return json::parse(res.body)["id"].get<int64_t>();
      INFO(res.status << " " << res.body);
      REQUIRE(res.status >= 500);
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  for (int i = 0; i < 100; ++i) {
    ids.push_back(submit(i));
    if (i == 30 || i == 70)
      REQUIRE(pg.run("restart") == 0); // while jobs run and logs stream
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (auto id : ids) {
    json build;
    for (;;) {
      build = get_json(serve, "/api/builds/" + std::to_string(id));
      if (!build.is_null() && build["state"] != "created" && build["state"] != "started")
        break;
      INFO("build " << id << ": " << build.dump());
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO("build " << id << ": " << build.dump());
    CHECK(build["state"] == "passed");
    auto job = build["jobs"][0];
    auto attempt = job["attempt"].get<int>();
    auto log = serve.call("GET", "/api/jobs/" + std::to_string(job["id"].get<int64_t>())
                                   + "/log?attempt=" + std::to_string(attempt)).body;
    size_t at = 0;
    for (int i = 1; i <= 5; ++i) {
      auto line = "line " + std::to_string(i) + "\n";
      auto next = log.find(line, at);
      CHECK(next != std::string::npos);
      if (next == std::string::npos)
        break;
      CHECK(log.find(line, next + 1) == std::string::npos);
      at = next;
    }
    CHECK(log.find("Done. Your build exited with 0.") != std::string::npos);
  }
  CHECK(serve.stderr_text().find("restarting supervisor=node child=store") != std::string::npos);
  auto ready = get_json(serve, "/readyz");
  CHECK(ready["store"] == "running");
}

TEST_CASE("serve: builds finish when PostgreSQL is down for 8 seconds and readyz says so meanwhile") {
  scratch_dir dir;
  own_pg_server pg{dir.path / "pg"};
  auto repo = config_repo(
    "script: for i in 1 2 3 4 5 6 7 8 9 10; do echo \"line $i\"; sleep 0.1; done\n", dir.path);
  serve_process serve{dir.path / "data", {"--db", pg.url(), "--workers", "4"}};
  serve.wait_ready();
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto res = serve.call("POST", "/api/builds", json{{"repo", repo}}.dump());
    INFO(res.body);
    REQUIRE(res.status == 201);
    ids.push_back(json::parse(res.body)["id"].get<int64_t>());
  }
  // The database goes away while jobs run and logs stream.
  std::atomic<int> outage_status{-1};
  std::thread outage{[&pg, &outage_status] { outage_status = pg.outage(8); }};
  auto saw_not_ready = false;
  try {
    while (outage_status.load() < 0) {
      auto ready = serve.call("GET", "/readyz");
      auto body = json::parse(ready.body, nullptr, false);
      if (ready.status == 503 && !body.is_discarded() && body["store"] != "running")
        saw_not_ready = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (...) {
    outage.join();
    throw;
  }
  outage.join();
  REQUIRE(outage_status.load() == 0);
  CHECK(saw_not_ready);
  serve.wait_ready();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (auto id : ids) {
    json build;
    for (;;) {
      build = get_json(serve, "/api/builds/" + std::to_string(id));
      if (!build.is_null() && build["state"] != "created" && build["state"] != "started")
        break;
      INFO("build " << id << ": " << build.dump());
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO("build " << id << ": " << build.dump());
    CHECK(build["state"] == "passed");
    auto job = build["jobs"][0];
    auto log = serve.call("GET", "/api/jobs/" + std::to_string(job["id"].get<int64_t>())
                                   + "/log?attempt=" + std::to_string(job["attempt"].get<int>())).body;
    size_t at = 0;
    for (int i = 1; i <= 10; ++i) {
      auto line = "line " + std::to_string(i) + "\n";
      auto next = log.find(line, at);
      CHECK(next != std::string::npos);
      if (next == std::string::npos)
        break;
      CHECK(log.find(line, next + 1) == std::string::npos);
      at = next;
    }
    CHECK(log.find("Done. Your build exited with 0.") != std::string::npos);
  }
  // The leader kept its lock through the outage.
  CHECK(serve.stderr_text().find("took the leader lock back") != std::string::npos);
}

TEST_CASE("serve: a PostgreSQL restart does not move the lead to the standby") {
  scratch_dir dir;
  own_pg_server pg{dir.path / "pg"};
  serve_process leader{dir.path / "a", {"--db", pg.url()}};
  leader.wait_ready();
  serve_process standby{dir.path / "b", {"--db", pg.url()}};
  REQUIRE(standby.call("GET", "/readyz").status == 503);
  REQUIRE(pg.outage(2) == 0);
  leader.wait_ready();
  // The standby had its chance: its settle time is long past.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  CHECK(leader.call("GET", "/readyz").status == 200);
  auto ready = standby.call("GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("\"standby\"") != std::string::npos);
  CHECK(leader.stderr_text().find("took the leader lock back") != std::string::npos);
  CHECK(standby.stderr_text().find("took the leader lock") == std::string::npos);
  CHECK(leader.poll_exit() == std::nullopt);
}
