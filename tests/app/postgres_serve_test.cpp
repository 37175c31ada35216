// `conveyor serve --db postgres://...` on the throwaway PostgreSQL server of
// the ctest fixture "postgres": builds run and their logs are stored there.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/adapters/postgres/pg_test_database.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;

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
