// GitHub webhooks into a real `conveyor serve`: signatures, every kind of
// delivery, redeliveries, and builds made from them.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "adapters/github/webhook_signature.hpp"
#include "tests/adapters/github/fake_github.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;

namespace {

const std::string fixtures = "../shared/fixtures/github-webhooks/";

json fixture(const std::string& name) {
  auto text = slurp(fixtures + name);
  INFO("fixture " << fixtures << name << " (run from the repository root)");
  REQUIRE_FALSE(text.empty());
  return json::parse(text);
}

http::client_response deliver(serve_process& serve, const std::string& event,
                              const std::string& delivery, const std::string& body,
                              const std::string& secret = "second") {
  std::map<std::string, std::string> headers{
    {"X-GitHub-Event", event},
    {"X-GitHub-Delivery", delivery},
    {"Content-Type", "application/json"}};
  if (!secret.empty())
    headers["X-Hub-Signature-256"] = github::signature_of(secret, body);
  return serve.call("POST", "/webhooks/github", body, headers);
}

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

json wait_finished(serve_process& serve, int64_t id) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto build = parsed(serve.call("GET", "/api/builds/" + std::to_string(id)));
    if (build["state"] != "created" && build["state"] != "started")
      return build;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct webhook_fixture {
  scratch_dir dir;
  std::string repo = config_repo("script: echo \"event=$TRAVIS_EVENT_TYPE branch=$TRAVIS_BRANCH tag=$TRAVIS_TAG\"\n",
                                 dir.path);
  serve_process serve{dir.path / "data", {},
                      {"CONVEYOR_GITHUB_WEBHOOK_SECRET=first, second"}};

  webhook_fixture() {
    serve.wait_ready();
  }

  // A push fixture pointed at the local repository.
  json push(const std::string& ref) {
    auto body = fixture("push.4.json");
    body["ref"] = ref;
    body["after"] = head_of(repo);
    body["head_commit"]["id"] = body["after"];
    body["repository"]["clone_url"] = "file://" + repo;
    return body;
  }
};

} // namespace

TEST_CASE_METHOD(webhook_fixture, "webhooks: signatures are checked with every secret of a rotation") {
  auto ping = fixture("ping.0.json").dump();
  CHECK(deliver(serve, "ping", "d-ping-1", ping, "first").status == 200);
  CHECK(deliver(serve, "ping", "d-ping-2", ping, "second").status == 200);
  auto wrong = deliver(serve, "ping", "d-ping-3", ping, "wrong");
  CHECK(wrong.status == 401);
  CHECK(parsed(wrong)["error"].get<std::string>().find("mismatch") != std::string::npos);
  auto unsigned_ = deliver(serve, "ping", "d-ping-4", ping, "");
  CHECK(unsigned_.status == 401);
  // A body changed after signing fails too.
  std::map<std::string, std::string> headers{
    {"X-GitHub-Event", "ping"}, {"X-GitHub-Delivery", "d-ping-5"},
    {"X-Hub-Signature-256", github::signature_of("first", ping)}};
  CHECK(serve.call("POST", "/webhooks/github", ping + " ", headers).status == 401);
  CHECK(deliver(serve, "push", "d-bad-json", "{not json").status == 400);
  CHECK(deliver(serve, "", "d-no-event", ping).status == 400);
  // Over 25 MB: refused before it is read.
  std::string huge(25 * 1024 * 1024 + 1, ' ');
  CHECK(deliver(serve, "push", "d-huge", huge).status == 413);
  // The API's own limit is unchanged for other routes.
  auto big = serve.call("POST", "/api/builds", std::string(2 * 1024 * 1024, ' '));
  CHECK(big.status == 413);
}

TEST_CASE_METHOD(webhook_fixture, "webhooks: a push builds once however often it is delivered") {
  auto body = push("refs/heads/main").dump();
  auto first = deliver(serve, "push", "d-push-1", body);
  REQUIRE(first.status == 201);
  auto build = parsed(first)["build"];
  CHECK(parsed(first)["duplicate"] == false);
  CHECK(build["event"] == "push");
  CHECK(build["branch"] == "main");
  CHECK(build["source"] == "webhook");
  auto again = deliver(serve, "push", "d-push-1", body);
  REQUIRE(again.status == 200);
  CHECK(parsed(again)["duplicate"] == true);
  CHECK(parsed(again)["build"]["id"] == build["id"]);
  auto done = wait_finished(serve, build["id"].get<int64_t>());
  CHECK(done["state"] == "passed");
  auto log = serve.call("GET", "/api/jobs/" + std::to_string(done["jobs"][0]["id"].get<int64_t>()) + "/log").body;
  CHECK(log.find("event=push branch=main tag=") != std::string::npos);
  // A second delivery id for the same commit is a second build, as on GitHub.
  auto other = deliver(serve, "push", "d-push-2", body);
  REQUIRE(other.status == 201);
  CHECK(parsed(other)["build"]["id"] != build["id"]);
}

TEST_CASE_METHOD(webhook_fixture, "webhooks: a tag push makes a tag build and a deleted ref is ignored") {
  REQUIRE(std::system(("git -C " + repo + " tag v1.0").c_str()) == 0);
  auto res = deliver(serve, "push", "d-tag", push("refs/tags/v1.0").dump());
  REQUIRE(res.status == 201);
  auto build = parsed(res)["build"];
  CHECK(build["tag"] == "v1.0");
  CHECK(build["branch"] == "");
  auto done = wait_finished(serve, build["id"].get<int64_t>());
  CHECK(done["state"] == "passed");
  auto deleted = deliver(serve, "push", "d-deleted", fixture("push.1.json").dump());
  CHECK(deleted.status == 202);
  CHECK(parsed(deleted)["ignored"] == true);
}

TEST_CASE_METHOD(webhook_fixture, "webhooks: a pull request builds its head commit") {
  auto body = fixture("pull_request.opened.0.json");
  body["pull_request"]["head"]["sha"] = head_of(repo);
  body["pull_request"]["base"]["ref"] = "main";
  body["repository"]["clone_url"] = "file://" + repo;
  auto res = deliver(serve, "pull_request", "d-pr-1", body.dump());
  REQUIRE(res.status == 201);
  auto build = parsed(res)["build"];
  CHECK(build["event"] == "pull_request");
  CHECK(build["sha"] == head_of(repo));
  CHECK(wait_finished(serve, build["id"].get<int64_t>())["state"] == "passed");
}

TEST_CASE_METHOD(webhook_fixture, "webhooks: every fixture that builds nothing is answered and recorded") {
  int ignored = 0;
  for (auto& entry : std::filesystem::directory_iterator(fixtures)) {
    auto name = entry.path().filename().string();
    if (entry.path().extension() != ".json")
      continue;
    auto event = name.substr(0, name.find('.'));
    auto body = fixture(name);
    auto builds = (event == "push" && !body.value("deleted", false))
                  || (event == "pull_request"
                      && (body["action"] == "opened" || body["action"] == "synchronize"
                          || body["action"] == "reopened"));
    if (builds)
      continue; // their clone URLs point at github.com, not reachable here
    auto res = deliver(serve, event, "fixture-" + name, body.dump());
    INFO(name << ": " << res.status << " " << res.body);
    if (event == "ping") {
      CHECK(res.status == 200);
    } else {
      CHECK(res.status == 202);
      CHECK_FALSE(parsed(res)["reason"].get<std::string>().empty());
      ++ignored;
    }
  }
  CHECK(ignored >= 30);
  auto list = parsed(serve.call("GET", "/api/webhooks/deliveries?limit=500"))["deliveries"];
  int recorded_ignored = 0;
  for (auto& d : list)
    if (d["outcome"] == "ignored") {
      ++recorded_ignored;
      CHECK_FALSE(d["reason"].get<std::string>().empty());
      CHECK(d["build_id"].is_null());
    }
  CHECK(recorded_ignored == ignored);
  auto closed = std::find_if(list.begin(), list.end(), [](const json& d) {
    return d["delivery_id"] == "fixture-pull_request.closed.3.json";
  });
  REQUIRE(closed != list.end());
  CHECK((*closed)["action"] == "closed");
  CHECK(serve.call("GET", "/metrics").body.find("conveyor_webhook_deliveries_total{outcome=\"ignored\"}") != std::string::npos);
}

namespace {

/// Polls the fake until it holds `count` statuses.
std::vector<github::testing::posted_status>
wait_statuses(github::testing::fake_github& fake, size_t count,
              serve_process& serve) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto statuses = fake.statuses();
    if (statuses.size() >= count)
      return statuses;
    INFO("statuses so far: " << statuses.size() << "\n" << serve.stderr_text());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace

TEST_CASE("webhooks: a push's build reports its commit statuses in order and none is lost while GitHub is down") {
  github::testing::fake_github fake;
  fake.require_token("ghp_test_token");
  scratch_dir dir;
  // Long enough for the reporter (a round each 500 ms) to see it running.
  auto repo = config_repo("script: echo statuses; sleep 1.5\n", dir.path);
  serve_process serve{dir.path / "data",
                      {"--github-api-url", fake.base_url(),
                       "--github-timeout", "500ms"},
                      {"CONVEYOR_GITHUB_TOKEN=ghp_test_token"}};
  serve.wait_ready();
  auto push = [&repo](const std::string& ref) {
    auto body = fixture("push.4.json");
    body["ref"] = ref;
    body["after"] = head_of(repo);
    body["head_commit"]["id"] = body["after"];
    body["repository"]["clone_url"] = "file://" + repo;
    return body.dump();
  };
  auto res = deliver(serve, "push", "d-status-1", push("refs/heads/main"), "");
  REQUIRE(res.status == 201);
  auto id = parsed(res)["build"]["id"].get<int64_t>();
  auto statuses = wait_statuses(fake, 2, serve);
  // Pending while it ran, then success; never pending after the final one.
  REQUIRE(statuses.size() == 2);
  CHECK(statuses.front().state == "pending");
  CHECK(statuses.back().state == "success");
  for (auto& st : statuses) {
    CHECK(st.repo == "Codertocat/Hello-World");
    CHECK(st.sha == head_of(repo));
    CHECK(st.context == "conveyor/push");
    CHECK(st.authorization.find("ghp_test_token") != std::string::npos);
    CHECK(st.target_url.find("/api/builds/" + std::to_string(id)) != std::string::npos);
  }
  // GitHub stops answering in time: the next build still runs and ends; its
  // statuses wait in the outbox and go out once GitHub is back. (Slow rather
  // than gone: a port given up can be taken by someone else meanwhile.)
  fake.set_delay(std::chrono::seconds(2));
  auto before = fake.statuses().size();
  res = deliver(serve, "push", "d-status-2", push("refs/heads/main"), "");
  REQUIRE(res.status == 201);
  auto second = parsed(res)["build"]["id"].get<int64_t>();
  CHECK(wait_finished(serve, second)["state"] == "passed");
  CHECK(fake.statuses().size() == before);
  // Let the calls time out a few times.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto metrics = serve.call("GET", "/metrics").body;
  CHECK(metrics.find("conveyor_github_call_failures_total") != std::string::npos);
  CHECK(metrics.find("conveyor_github_breaker_state") != std::string::npos);
  fake.set_delay(std::chrono::milliseconds(0));
  // The second build's success arrives (a pending that GitHub took while
  // too slow to answer may come before it), and nothing after it.
  auto link = "/api/builds/" + std::to_string(second);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto after = fake.statuses();
    if (!after.empty() && after.back().state == "success"
        && after.back().target_url.find(link) != std::string::npos)
      break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto final_statuses = fake.statuses();
  CHECK(final_statuses.back().state == "success");
  CHECK(final_statuses.back().target_url.find(link) != std::string::npos);
  CHECK(serve.stderr_text().find("ghp_test_token") == std::string::npos);
}
