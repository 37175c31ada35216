// Build configs read through GitHub's contents API and private repositories
// cloned with the token, against a real `conveyor serve` and the fake GitHub
// (which also serves bare repositories over git's dumb HTTP protocol).
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "adapters/github/base64.hpp"
#include "tests/adapters/github/fake_github.hpp"
#include "tests/app/serve_process.hpp"

using namespace conveyor;
using namespace conveyor::test;
using json = nlohmann::json;

namespace {

const std::string fixtures = "../shared/fixtures/github-webhooks/";
const std::string slug = "octo/private";
const std::string token = "ghp_PRIVATE0token0for0tests";

json fixture(const std::string& name) {
  auto text = slurp(fixtures + name);
  INFO("fixture " << fixtures << name << " (run from the repository root)");
  REQUIRE_FALSE(text.empty());
  return json::parse(text);
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
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto build = parsed(serve.call("GET", "/api/builds/" + std::to_string(id)));
    if (build["state"] != "created" && build["state"] != "started")
      return build;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string job_log(serve_process& serve, const json& build, size_t i = 0) {
  auto id = build["jobs"][i]["id"].get<int64_t>();
  return serve.call("GET", "/api/jobs/" + std::to_string(id) + "/log").body;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A repository on the fake GitHub: a working copy with `config` as its
// .travis.yml, and the bare copy the fake serves as `<base>/octo/private.git`.
struct github_fixture {
  github::testing::fake_github fake;
  scratch_dir dir;
  std::string work;
  std::string sha;

  explicit github_fixture(const std::string& config) {
    work = config_repo(config, dir.path, "work");
    sha = head_of(work);
    auto bare = (dir.path / "bare.git").string();
    auto cmd = "git clone -q --bare " + work + " " + bare;
    REQUIRE(std::system(cmd.c_str()) == 0);
    fake.serve_repository(slug, bare);
  }

  std::string clone_url() const {
    return fake.base_url() + "/" + slug + ".git";
  }

  std::string push() const {
    auto body = fixture("push.4.json");
    body["ref"] = "refs/heads/main";
    body["after"] = sha;
    body["head_commit"]["id"] = sha;
    body["head_commit"]["message"] = "A commit";
    body["repository"]["clone_url"] = clone_url();
    body["repository"]["full_name"] = slug;
    return body.dump();
  }

  std::vector<std::string> serve_args() const {
    return {"--github-api-url", fake.base_url(), "--github-timeout", "2s"};
  }

  size_t requests_for(const std::string& target_part) const {
    size_t n = 0;
    for (auto& r : fake.requests())
      if (contains(r.target, target_part))
        ++n;
    return n;
  }
};

// Unsigned (serve has no webhook secret); the timeout covers the
// gatekeeper's retries.
http::client_response deliver(serve_process& serve, const std::string& id,
                              const std::string& body) {
  return http::fetch("127.0.0.1", serve.port(), "POST", "/webhooks/github",
                     body,
                     {{"X-GitHub-Event", "push"},
                      {"X-GitHub-Delivery", id},
                      {"Content-Type", "application/json"}},
                     std::chrono::seconds(60));
}

bool has_mirrors(const std::filesystem::path& data) {
  std::error_code ec;
  auto dir = data / "mirrors";
  return std::filesystem::exists(dir, ec)
         && !std::filesystem::is_empty(dir, ec);
}

} // namespace

TEST_CASE("github config: a webhook push is planned from the contents API "
          "without a mirror") {
  // The repository holds another config: the jobs must come from the API.
  github_fixture gh{"script: echo from-the-repository\n"};
  gh.fake.add_file(slug, gh.sha, ".travis.yml",
                   "env:\n  - WHICH=one\n  - WHICH=two\n"
                   "script: echo \"from-the-api-$WHICH\"\n");
  serve_process serve{gh.dir.path / "data", gh.serve_args(),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  auto res = deliver(serve, "d-api-1", gh.push());
  REQUIRE(res.status == 201);
  auto id = parsed(res)["build"]["id"].get<int64_t>();
  auto build = wait_finished(serve, id);
  INFO(build.dump(2) << "\n" << serve.stderr_text());
  CHECK(build["state"] == "passed");
  CHECK(build["config"] == ".travis.yml");
  REQUIRE(build["jobs"].size() == 2);
  CHECK(contains(build["jobs"][0]["env"].dump(), "WHICH=one"));
  CHECK(contains(build["jobs"][1]["env"].dump(), "WHICH=two"));
  CHECK(contains(job_log(serve, build, 0), "from-the-api-one"));
  CHECK(contains(job_log(serve, build, 1), "from-the-api-two"));
  // .conveyor.yml first (404), then .travis.yml, at the pushed sha.
  CHECK(gh.requests_for("/repos/octo/private/contents/.conveyor.yml?ref="
                        + gh.sha)
        == 1);
  CHECK(gh.requests_for("/repos/octo/private/contents/.travis.yml?ref="
                        + gh.sha)
        == 1);
  CHECK_FALSE(has_mirrors(gh.dir.path / "data"));
  // The next commit with the same config is planned again from the API
  // (the plan is cached by the file's blob id).
  res = deliver(serve, "d-api-2", gh.push());
  REQUIRE(res.status == 201);
  auto again = wait_finished(serve, parsed(res)["build"]["id"].get<int64_t>());
  CHECK(again["jobs"].size() == 2);
  CHECK(gh.requests_for("/contents/.travis.yml") == 2);
}

TEST_CASE("github config: no config file on GitHub gives the no config "
          "outcome") {
  github_fixture gh{"script: echo from-the-repository\n"};
  serve_process serve{gh.dir.path / "data", gh.serve_args(),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  auto res = deliver(serve, "d-none-1", gh.push());
  REQUIRE(res.status == 201);
  auto build = wait_finished(serve, parsed(res)["build"]["id"].get<int64_t>());
  INFO(build.dump(2));
  CHECK(build["state"] == "errored");
  CHECK(build["jobs"].empty());
  REQUIRE(build["messages"].size() == 1);
  auto& msg = build["messages"][0];
  CHECK(msg["code"] == "no_config");
  auto text = msg["message"].get<std::string>();
  CHECK(contains(text, ".conveyor.yml"));
  CHECK(contains(text, ".travis.yml"));
  CHECK(contains(text, slug));
  CHECK(contains(text, gh.sha));
  CHECK(gh.requests_for("/contents/.conveyor.yml") == 1);
  CHECK(gh.requests_for("/contents/.travis.yml") == 1);
  CHECK_FALSE(has_mirrors(gh.dir.path / "data"));
}

TEST_CASE("github config: GitHub failing past the retries errors the build "
          "with the reason") {
  github_fixture gh{"script: echo from-the-repository\n"};
  gh.fake.add_file(slug, gh.sha, ".travis.yml", "script: echo hi\n");
  serve_process serve{gh.dir.path / "data", gh.serve_args(),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  gh.fake.fail_next(1000, 500);
  auto res = deliver(serve, "d-fail-1", gh.push());
  REQUIRE(res.status == 201);
  auto id = parsed(res)["build"]["id"].get<int64_t>();
  auto build = parsed(serve.call("GET", "/api/builds/" + std::to_string(id)));
  INFO(build.dump(2));
  CHECK(build["state"] == "errored");
  CHECK(build["jobs"].empty());
  REQUIRE(build["messages"].size() == 1);
  CHECK(build["messages"][0]["code"] == "config_fetch_failed");
  auto text = build["messages"][0]["message"].get<std::string>();
  CHECK(text.rfind("could not fetch config from GitHub: ", 0) == 0);
  CHECK(contains(text, "500"));
  CHECK_FALSE(contains(text, token));
  // Retried before giving up, and .travis.yml not asked after the failure.
  CHECK(gh.requests_for("/contents/.conveyor.yml") > 1);
  CHECK(gh.requests_for("/contents/.travis.yml") == 0);
  // The request is kept: a redelivery answers the same build.
  auto again = deliver(serve, "d-fail-1", gh.push());
  CHECK(again.status == 200);
  CHECK(parsed(again)["build"]["id"] == id);
}

TEST_CASE("github config: a private repository is cloned with the token "
          "which appears nowhere") {
  github_fixture gh{"script: echo from-the-repository\n"};
  gh.fake.require_token(token);
  // The job prints its own script and environment into the log, so that
  // the log shows what a job's commands could read.
  gh.fake.add_file(slug, gh.sha, ".travis.yml",
                   "script:\n"
                   "  - git rev-parse HEAD\n"
                   "  - cat \"$HOME/.conveyor/build.sh\"\n"
                   "  - env\n"
                   "  - tr '\\0' '\\n' < /proc/$$/environ\n"
                   "  - cat .git/config\n");
  serve_process serve{gh.dir.path / "data", gh.serve_args(),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  auto res = deliver(serve, "d-private-1", gh.push());
  REQUIRE(res.status == 201);
  auto build = wait_finished(serve, parsed(res)["build"]["id"].get<int64_t>());
  auto log = job_log(serve, build);
  INFO(build.dump(2) << "\n" << log << "\n" << serve.stderr_text());
  CHECK(build["state"] == "passed");
  CHECK(contains(log, "$ git clone --quiet " + gh.clone_url()));
  CHECK(contains(log, gh.sha + "\n"));
  CHECK(contains(log, "_conveyor_git_auth")); // the script was printed
  // The clone sent the token as git does: basic auth as x-access-token.
  auto header = "basic " + github::base64_encode("x-access-token:" + token);
  size_t authed = 0;
  for (auto& r : gh.fake.requests())
    if (contains(r.target, "/octo/private.git/") && r.authorization == header)
      ++authed;
  CHECK(authed > 0);
  auto encoded = github::base64_encode("x-access-token:" + token);
  auto everywhere = log + slurp(gh.dir.path / "data.stdout")
                    + serve.stderr_text()
                    + serve.call("GET", "/api/builds/"
                                          + build["id"].dump())
                        .body;
  CHECK_FALSE(contains(everywhere, token));
  CHECK_FALSE(contains(everywhere, encoded));
  // Nothing of the job's workspace keeps it either.
  for (auto& entry : std::filesystem::recursive_directory_iterator(
         gh.dir.path / "data" / "work")) {
    if (!entry.is_regular_file())
      continue;
    auto text = slurp(entry.path());
    INFO(entry.path());
    CHECK_FALSE(contains(text, token));
    CHECK_FALSE(contains(text, encoded));
  }
}

TEST_CASE("github config: a config's env cannot reach the clone credentials") {
  github_fixture gh{"script: echo from-the-repository\n"};
  gh.fake.require_token(token);
  // Each would have shown the token: bash reads SHELLOPTS and BASH_ENV as it
  // starts, and env values are expanded by the shell that holds it.
  gh.fake.add_file(slug, gh.sha, ".travis.yml",
                   "env:\n"
                   "  global:\n"
                   "    - SHELLOPTS=xtrace\n"
                   "    - BASH_ENV='$(printenv CONVEYOR_GIT_AUTH >&2)'\n"
                   "    - PS4='+ $_conveyor_git_auth '\n"
                   "    - LEAK=\"$_conveyor_git_auth $CONVEYOR_GIT_AUTH\"\n"
                   "script:\n"
                   "  - git rev-parse HEAD\n"
                   "  - echo \"leak=[$LEAK]\"\n"
                   "  - env\n");
  serve_process serve{gh.dir.path / "data", gh.serve_args(),
                      {"CONVEYOR_GITHUB_TOKEN=" + token}};
  serve.wait_ready();
  auto res = deliver(serve, "d-private-env", gh.push());
  REQUIRE(res.status == 201);
  auto build = wait_finished(serve, parsed(res)["build"]["id"].get<int64_t>());
  auto log = job_log(serve, build);
  INFO(build.dump(2) << "\n" << log);
  REQUIRE(build["jobs"].size() == 1);
  CHECK(contains(log, gh.sha + "\n")); // cloned with the token
  CHECK(contains(log, "leak=["));
  auto encoded = github::base64_encode("x-access-token:" + token);
  CHECK_FALSE(contains(log, token));
  CHECK_FALSE(contains(log, encoded));
}

TEST_CASE("github config: without the token a private repository cannot be "
          "cloned") {
  github_fixture gh{"script: echo from-the-repository\n"};
  gh.fake.require_token(token);
  // git itself, as a job would run it without credentials.
  auto target = (gh.dir.path / "anonymous").string();
  auto cmd = "GIT_TERMINAL_PROMPT=0 git clone -q " + gh.clone_url() + " "
             + target + " 2>/dev/null";
  CHECK(std::system(cmd.c_str()) != 0);
  CHECK_FALSE(std::filesystem::exists(target + "/.git/HEAD"));
  // A node without a token has no contents API and no credentials: the
  // repository cannot even be fetched to read its config, and nothing runs.
  serve_process serve{gh.dir.path / "data", gh.serve_args()};
  serve.wait_ready();
  auto res = deliver(serve, "d-anonymous-1", gh.push());
  INFO(res.body);
  CHECK(res.status == 422);
  CHECK(gh.requests_for("/contents/") == 0);
  CHECK(parsed(serve.call("GET", "/api/builds"))["builds"].empty());
}
