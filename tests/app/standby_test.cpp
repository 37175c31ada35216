// Two `conveyor serve` on one PostgreSQL database: the one holding the leader
// lock leads, the other stands by and takes over when the leader dies.
#include <catch2/catch.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "tests/adapters/postgres/pg_test_database.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;
namespace fs = std::filesystem;
using pg_database = conveyor::testing::pg_database;

namespace {

json get_json(serve_process& serve, const std::string& target) {
  auto res = serve.call("GET", target);
  auto body = json::parse(res.body, nullptr, false);
  return body.is_discarded() ? json{} : body;
}

// Starts a node that must stand by: it says so and is not ready.
void expect_standby(serve_process& standby, const serve_process& leader) {
  auto ready = standby.call("GET", "/readyz");
  CHECK(ready.status == 503);
  auto body = json::parse(ready.body);
  INFO(ready.body);
  CHECK(body["role"] == "standby");
  CHECK(body["leader"].get<std::string>().find(
          " pid " + std::to_string(leader.pid()))
        != std::string::npos);
  CHECK(standby.call("GET", "/healthz").status == 200);
  auto refused = standby.call("GET", "/api/builds");
  CHECK(refused.status == 503);
  CHECK(refused.body.find("standby") != std::string::npos);
}

} // namespace

TEST_CASE("standby: the standby takes over when the leader is killed during 50 builds and every build finishes") {
  pg_database db{pg_database::kind::database};
  scratch_dir dir;
  auto repo = config_repo(
    "script: for i in 1 2 3; do echo \"line $i\"; sleep 0.1; done\n", dir.path);
  serve_process leader{dir.path / "a", {"--db", db.url(), "--workers", "4"}};
  leader.wait_ready();
  serve_process standby{dir.path / "b", {"--db", db.url(), "--workers", "4"}};
  expect_standby(standby, leader);
  CHECK(slurp(dir.path / "b.stdout").find("standby") != std::string::npos);

  std::vector<int64_t> ids;
  for (int i = 0; i < 50; ++i) {
    auto res = leader.call("POST", "/api/builds", json{{"repo", repo}}.dump());
    INFO(res.body);
    REQUIRE(res.status == 201);
    ids.push_back(json::parse(res.body)["id"].get<int64_t>());
  }
  // Kill the leader once some builds are done and others run.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (get_json(leader, "/api/builds/" + std::to_string(ids[4]))["state"] != "passed") {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  leader.crash();
  auto killed = std::chrono::steady_clock::now();
  standby.wait_ready();
  std::chrono::duration<double, std::milli> takeover = std::chrono::steady_clock::now() - killed;
  std::printf("standby: ready %.0f ms after the leader was killed\n", takeover.count());

  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  auto requeued = 0;
  for (auto id : ids) {
    json build;
    for (;;) {
      build = get_json(standby, "/api/builds/" + std::to_string(id));
      if (!build.is_null() && build["state"] != "created" && build["state"] != "started")
        break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO("build " << id << ": " << build.dump());
    CHECK(build["state"] == "passed");
    REQUIRE(build["jobs"].size() == 1);
    auto job = build["jobs"][0];
    auto attempt = job["attempt"].get<int>();
    if (attempt > 1)
      ++requeued;
    auto log = standby.call("GET", "/api/jobs/" + std::to_string(job["id"].get<int64_t>())
                                     + "/log?attempt=" + std::to_string(attempt)).body;
    size_t at = 0;
    for (int i = 1; i <= 3; ++i) {
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
  // The jobs the dead leader ran were requeued, and nothing was built twice.
  CHECK(requeued > 0);
  CHECK(db.query_int("SELECT COUNT(*) FROM builds") == 50);
  CHECK(db.query_int("SELECT COUNT(*) FROM jobs") == 50);
  auto metrics = standby.call("GET", "/metrics").body;
  CHECK(metrics.find("conveyor_leader 1") != std::string::npos);
  CHECK(standby.stderr_text().find("took the leader lock") != std::string::npos);
  CHECK(standby.stop() == 0);
}

TEST_CASE("standby: a leader that lost its lock to another node stops with status 3") {
  pg_database db{pg_database::kind::database};
  scratch_dir dir;
  serve_process leader{dir.path / "a", {"--db", db.url()}};
  leader.wait_ready();
  serve_process standby{dir.path / "b", {"--db", db.url()}};
  expect_standby(standby, leader);
  // Ending the leader's lock session is what a network drop does. The leader
  // tries to take the lock back; once the standby was quicker, the old leader
  // must stop. (Either may win a round; the standby polls more often.)
  auto lock_session = "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE application_name LIKE '% pid "
                      + std::to_string(leader.pid()) + "'";
  std::optional<int> status;
  for (int round = 0; round < 30 && !status; ++round) {
    db.query_int(lock_session);
    for (int i = 0; i < 40 && !status; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      status = leader.poll_exit();
    }
  }
  REQUIRE(status);
  CHECK(*status == 3);
  CHECK(leader.stderr_text().find("another node took the leader lock")
        != std::string::npos);
  standby.wait_ready();
  CHECK(standby.call("GET", "/api/builds").status == 200);
}

TEST_CASE("standby: a standby stops at once with status 0 when asked") {
  pg_database db{pg_database::kind::database};
  scratch_dir dir;
  serve_process leader{dir.path / "a", {"--db", db.url()}};
  leader.wait_ready();
  serve_process standby{dir.path / "b", {"--db", db.url()}};
  expect_standby(standby, leader);
  CHECK(standby.stop(SIGTERM, std::chrono::seconds(5)) == 0);
  CHECK(leader.call("GET", "/readyz").status == 200);
}

TEST_CASE("standby: a second node on the leader's data directory is refused at once") {
  pg_database db{pg_database::kind::database};
  scratch_dir dir;
  serve_process leader{dir.path / "a", {"--db", db.url()}};
  leader.wait_ready();
  auto cmd = std::string{CONVEYOR_BINARY_DIR "/app/conveyor"} + " serve --data "
             + (dir.path / "a").string() + " --http 127.0.0.1:0 --db " + db.url()
             + " > " + (dir.path / "out").string() + " 2>&1";
  CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 1);
  auto out = slurp(dir.path / "out");
  INFO(out);
  CHECK(out.find("another conveyor process uses") != std::string::npos);
  CHECK(out.find("standby") == std::string::npos);
}
