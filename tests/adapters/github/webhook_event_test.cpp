// Mapping GitHub webhook deliveries (every fixture payload, and broken ones)
// to pong / build / ignored / invalid.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/github/webhook_event.hpp"

using namespace conveyor;
using namespace conveyor::github;
using json = nlohmann::json;

namespace fs = std::filesystem;

namespace {

const fs::path fixture_dir = "../shared/fixtures/github-webhooks";

std::string read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in.good());
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

json fixture(const std::string& name) {
  REQUIRE(fs::is_directory(fixture_dir));
  auto result = json::parse(read_file(fixture_dir / name));
  REQUIRE(result.is_object());
  return result;
}

// "pull_request.opened.12.json" -> {"pull_request", "opened"};
// "push.3.json" -> {"push", ""}.
std::pair<std::string, std::string> event_and_action(const std::string& name) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  for (auto dot = name.find('.'); dot != std::string::npos;
       dot = name.find('.', start)) {
    parts.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(name.substr(start));
  REQUIRE((parts.size() == 3 || parts.size() == 4));
  REQUIRE(parts.back() == "json");
  return {parts[0], parts.size() == 4 ? parts[1] : std::string{}};
}

bool starts_with(const std::string& x, const std::string& prefix) {
  return x.compare(0, prefix.size(), prefix) == 0;
}

webhook_outcome interpret(const std::string& event, const json& body) {
  return interpret_webhook(event, "delivery-1", body.dump());
}

void check_push_build(const json& body, const webhook_outcome& out) {
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.reason.empty());
  const auto& req = out.request;
  auto ref = body.at("ref").get<std::string>();
  CHECK(req.source == "webhook");
  CHECK(req.event == "push");
  CHECK(req.delivery_id == "delivery-1");
  CHECK(req.request_id.empty());
  CHECK(req.ref == ref);
  CHECK(req.sha == body.at("after").get<std::string>());
  CHECK(req.sha.size() == 40);
  CHECK(req.repo == body.at("repository").at("clone_url").get<std::string>());
  CHECK(req.slug == body.at("repository").at("full_name").get<std::string>());
  CHECK(req.sender == body.at("sender").at("login").get<std::string>());
  const auto& head = body.at("head_commit");
  CHECK(req.commit_message
        == (head.is_object() ? head.at("message").get<std::string>() : ""));
  if (starts_with(ref, "refs/heads/")) {
    CHECK(req.branch == ref.substr(11));
    CHECK(req.tag.empty());
  } else {
    REQUIRE(starts_with(ref, "refs/tags/"));
    CHECK(req.tag == ref.substr(10));
    CHECK(req.branch.empty());
  }
  CHECK(req.pull_request == 0);
  CHECK(req.head_repo.empty());
  CHECK(req.head_branch.empty());
  CHECK_FALSE(req.fork);
}

void check_pull_request_build(const json& body, const webhook_outcome& out) {
  REQUIRE(out.action == webhook_action::build);
  const auto& req = out.request;
  const auto& pr = body.at("pull_request");
  auto number = body.at("number").get<int32_t>();
  CHECK(req.source == "webhook");
  CHECK(req.event == "pull_request");
  CHECK(req.delivery_id == "delivery-1");
  CHECK(req.pull_request == number);
  CHECK(req.ref == "refs/pull/" + std::to_string(number) + "/head");
  CHECK(req.sha == pr.at("head").at("sha").get<std::string>());
  CHECK(req.branch == pr.at("base").at("ref").get<std::string>());
  CHECK(req.tag.empty());
  CHECK(req.head_branch == pr.at("head").at("ref").get<std::string>());
  CHECK(req.head_repo
        == pr.at("head").at("repo").at("full_name").get<std::string>());
  CHECK(req.repo == body.at("repository").at("clone_url").get<std::string>());
  CHECK(req.slug == body.at("repository").at("full_name").get<std::string>());
  CHECK(req.fork
        == (pr.at("head").at("repo").at("full_name")
            != pr.at("base").at("repo").at("full_name")));
  CHECK(req.sender == body.at("sender").at("login").get<std::string>());
}

} // namespace

// -- every fixture ------------------------------------------------------------

TEST_CASE("every fixture payload gets the outcome its event asks for") {
  INFO("fixtures at " << fs::absolute(fixture_dir).string()
                      << " (tests run from the repository root)");
  REQUIRE(fs::is_directory(fixture_dir));
  std::map<std::string, int> seen;
  int files = 0;
  for (const auto& entry : fs::directory_iterator{fixture_dir}) {
    auto name = entry.path().filename().string();
    if (entry.path().extension() != ".json")
      continue;
    ++files;
    INFO("fixture " << name);
    auto raw = read_file(entry.path());
    auto body = json::parse(raw, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    auto [event, action] = event_and_action(name);
    auto out = interpret_webhook(event, "delivery-1", raw);
    INFO("outcome " << to_string(out.action) << ": " << out.reason);
    CHECK(out.action != webhook_action::invalid);
    if (event == "ping") {
      CHECK(out.action == webhook_action::pong);
      ++seen["ping"];
    } else if (event == "push") {
      auto ref = body.at("ref").get<std::string>();
      if (body.value("deleted", false)) {
        CHECK(out.action == webhook_action::ignored);
        auto what = starts_with(ref, "refs/tags/")
                      ? "tag '" + ref.substr(10) + "'"
                      : "branch '" + ref.substr(11) + "'";
        CHECK(out.reason == "push deleted " + what + ", nothing to build");
        ++seen["push deleted"];
      } else {
        check_push_build(body, out);
        ++seen[starts_with(ref, "refs/tags/") ? "push tag" : "push branch"];
      }
    } else if (event == "pull_request") {
      REQUIRE(body.at("action") == action);
      if (action == "opened" || action == "synchronize"
          || action == "reopened") {
        check_pull_request_build(body, out);
        ++seen["pull_request build"];
      } else {
        CHECK(out.action == webhook_action::ignored);
        CHECK(out.reason
              == "pull_request action '" + action
                   + "' does not trigger builds");
        ++seen["pull_request ignored"];
      }
    } else if (event == "create" || event == "delete") {
      CHECK(out.action == webhook_action::ignored);
      CHECK(out.reason == "event '" + event + "' does not trigger builds");
      ++seen["other event"];
    } else {
      FAIL("no expectation for event '" << event << "'");
    }
  }
  // Every kind of outcome must have been exercised by a real payload.
  CHECK(files >= 40);
  for (auto kind : {"ping", "push deleted", "push tag", "push branch",
                    "pull_request build", "pull_request ignored",
                    "other event"}) {
    INFO("kind " << kind);
    CHECK(seen[kind] > 0);
  }
}

TEST_CASE("a push of a branch builds its after commit") {
  auto out = interpret("push", fixture("push.4.json"));
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.branch == "master");
  CHECK(out.request.ref == "refs/heads/master");
  CHECK(out.request.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  CHECK(out.request.repo == "https://github.com/Codertocat/Hello-World.git");
  CHECK(out.request.slug == "Codertocat/Hello-World");
  CHECK(out.request.commit_message == "Initial commit");
  CHECK(out.request.sender == "Codertocat");
}

TEST_CASE("a push of a tag is a tag build without branch") {
  auto out = interpret("push", fixture("push.0.json"));
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.tag == "simple-tag");
  CHECK(out.request.branch.empty());
  CHECK(out.request.ref == "refs/tags/simple-tag");
}

TEST_CASE("branch and tag names keep their slashes") {
  auto body = fixture("push.4.json");
  body["ref"] = "refs/heads/feature/x/y";
  CHECK(interpret("push", body).request.branch == "feature/x/y");
  body["ref"] = "refs/tags/release/1.0";
  CHECK(interpret("push", body).request.tag == "release/1.0");
}

TEST_CASE("a deleted branch is ignored with a reason") {
  auto body = fixture("push.4.json");
  body["deleted"] = true;
  body["after"] = std::string(40, '0');
  body["head_commit"] = nullptr;
  auto out = interpret("push", body);
  CHECK(out.action == webhook_action::ignored);
  CHECK(out.reason == "push deleted branch 'master', nothing to build");
}

TEST_CASE("a deleted ref is ignored even when other fields are gone") {
  auto body = json{{"ref", "refs/tags/v1"}, {"deleted", true}};
  auto out = interpret("push", body);
  CHECK(out.action == webhook_action::ignored);
  CHECK(out.reason == "push deleted tag 'v1', nothing to build");
}

TEST_CASE("a push to a ref that is neither branch nor tag is ignored") {
  auto body = fixture("push.4.json");
  body["ref"] = "refs/notes/commits";
  auto out = interpret("push", body);
  CHECK(out.action == webhook_action::ignored);
  CHECK(out.reason
        == "push to 'refs/notes/commits' is neither a branch nor a tag");
}

TEST_CASE("a push without head commit builds with an empty message") {
  auto body = fixture("push.4.json");
  body["head_commit"] = nullptr;
  auto out = interpret("push", body);
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.commit_message.empty());
  body.erase("head_commit");
  CHECK(interpret("push", body).action == webhook_action::build);
}

TEST_CASE("a push without sender builds with an empty sender") {
  auto body = fixture("push.4.json");
  body.erase("sender");
  auto out = interpret("push", body);
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.sender.empty());
}

TEST_CASE("broken push payloads are invalid and name the field") {
  struct broken_case {
    std::string pointer;
    json value;
    std::string reason;
  };
  std::vector<broken_case> cases{
    {"/ref", 42, "push payload: field 'ref' is not a non-empty string"},
    {"/ref", "", "push payload: field 'ref' is not a non-empty string"},
    {"/ref", nullptr, "push payload: field 'ref' is missing"},
    {"/ref", "refs/heads/",
     "push payload: field 'ref' names no branch or tag: 'refs/heads/'"},
    {"/deleted", "no", "push payload: field 'deleted' is not a boolean"},
    {"/after", "main", "push payload: field 'after' is not a commit sha"},
    {"/after", std::string(40, 'G'),
     "push payload: field 'after' is not a commit sha"},
    {"/after", 7, "push payload: field 'after' is not a non-empty string"},
    {"/repository/clone_url", nullptr,
     "push payload: field 'repository.clone_url' is missing"},
    {"/repository", "Codertocat/Hello-World",
     "push payload: field 'repository.clone_url' is missing"},
    {"/repository/full_name", json::array(),
     "push payload: field 'repository.full_name' is not a non-empty string"},
    {"/head_commit/message", 3,
     "push payload: field 'head_commit.message' is not a string"},
    {"/sender/login", false,
     "push payload: field 'sender.login' is not a string"},
  };
  for (const auto& c : cases) {
    INFO(c.pointer << " = " << c.value.dump());
    auto body = fixture("push.4.json");
    body[json::json_pointer{c.pointer}] = c.value;
    auto out = interpret("push", body);
    CHECK(out.action == webhook_action::invalid);
    CHECK(out.reason == c.reason);
  }
}

TEST_CASE("a missing field is reported by the first one read") {
  auto body = fixture("push.4.json");
  body.erase("after");
  body["repository"].erase("clone_url");
  auto out = interpret("push", body);
  CHECK(out.action == webhook_action::invalid);
  CHECK(out.reason == "push payload: field 'after' is missing");
}

// -- pull requests ------------------------------------------------------------

TEST_CASE("an opened pull request builds its head commit") {
  auto out = interpret("pull_request", fixture("pull_request.opened.0.json"));
  REQUIRE(out.action == webhook_action::build);
  const auto& req = out.request;
  CHECK(req.event == "pull_request");
  CHECK(req.pull_request == 2);
  CHECK(req.ref == "refs/pull/2/head");
  CHECK(req.sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  CHECK(req.branch == "master");
  CHECK(req.head_branch == "changes");
  CHECK(req.head_repo == "Codertocat/Hello-World");
  CHECK(req.repo == "https://github.com/Codertocat/Hello-World.git");
  CHECK(req.slug == "Codertocat/Hello-World");
  CHECK_FALSE(req.fork);
  CHECK(req.tag.empty());
  // The payload has no commit message; the gatekeeper reads it at `sha`.
  CHECK(req.commit_message.empty());
}

TEST_CASE("synchronize and reopened build and the others do not") {
  auto body = fixture("pull_request.opened.0.json");
  for (auto action : {"opened", "synchronize", "reopened"}) {
    body["action"] = action;
    INFO("action " << action);
    CHECK(interpret("pull_request", body).action == webhook_action::build);
  }
  for (std::string action : {"closed", "edited", "labeled", "synchronized",
                             "ready_for_review", "some_future_action"}) {
    body["action"] = action;
    auto out = interpret("pull_request", body);
    CHECK(out.action == webhook_action::ignored);
    CHECK(out.reason
          == "pull_request action '" + action + "' does not trigger builds");
  }
}

TEST_CASE("a pull request from a fork is marked as fork") {
  auto body = fixture("pull_request.opened.0.json");
  body["pull_request"]["head"]["repo"]["full_name"] = "Mallory/Hello-World";
  body["pull_request"]["head"]["ref"] = "patch-1";
  auto out = interpret("pull_request", body);
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.fork);
  CHECK(out.request.head_repo == "Mallory/Hello-World");
  CHECK(out.request.head_branch == "patch-1");
  // The build still clones the base repository.
  CHECK(out.request.repo == "https://github.com/Codertocat/Hello-World.git");
  CHECK(out.request.slug == "Codertocat/Hello-World");
}

TEST_CASE("a pull request whose head repository was deleted is a fork") {
  auto body = fixture("pull_request.synchronize.22.json");
  body["pull_request"]["head"]["repo"] = nullptr;
  auto out = interpret("pull_request", body);
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.fork);
  CHECK(out.request.head_repo.empty());
}

TEST_CASE("broken pull request payloads are invalid and name the field") {
  struct broken_case {
    std::string pointer;
    json value;
    std::string reason;
  };
  const std::string prefix = "pull_request payload: field ";
  std::vector<broken_case> cases{
    {"/action", nullptr, prefix + "'action' is missing"},
    {"/action", 1, prefix + "'action' is not a non-empty string"},
    {"/number", nullptr, prefix + "'number' is missing"},
    {"/number", "2", prefix + "'number' is not an integer"},
    {"/number", 2.5, prefix + "'number' is not an integer"},
    {"/number", 0, prefix + "'number' is out of range"},
    {"/number", -3, prefix + "'number' is out of range"},
    {"/number", 4294967296LL, prefix + "'number' is out of range"},
    {"/number", 18446744073709551615ULL, prefix + "'number' is out of range"},
    {"/pull_request", nullptr, prefix + "'pull_request.head.sha' is missing"},
    {"/pull_request/head/sha", "abc",
     prefix + "'pull_request.head.sha' is not a commit sha"},
    {"/pull_request/head/ref", nullptr,
     prefix + "'pull_request.head.ref' is missing"},
    {"/pull_request/base/ref", 5,
     prefix + "'pull_request.base.ref' is not a non-empty string"},
    {"/pull_request/head/repo/full_name", nullptr,
     prefix + "'pull_request.head.repo.full_name' is missing"},
    {"/repository/clone_url", nullptr,
     prefix + "'repository.clone_url' is missing"},
  };
  for (const auto& c : cases) {
    INFO(c.pointer << " = " << c.value.dump());
    auto body = fixture("pull_request.opened.0.json");
    body[json::json_pointer{c.pointer}] = c.value;
    auto out = interpret("pull_request", body);
    CHECK(out.action == webhook_action::invalid);
    CHECK(out.reason == c.reason);
  }
}

TEST_CASE("a pull request number is taken as it is") {
  auto body = fixture("pull_request.opened.0.json");
  body["number"] = 2147483647;
  auto out = interpret("pull_request", body);
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.pull_request == 2147483647);
  CHECK(out.request.ref == "refs/pull/2147483647/head");
}

// -- other events and broken deliveries ----------------------------------------

TEST_CASE("ping is answered with pong") {
  auto out = interpret("ping", fixture("ping.0.json"));
  CHECK(out.action == webhook_action::pong);
  CHECK(interpret("ping", json::object()).action == webhook_action::pong);
}

TEST_CASE("other events are ignored with a reason") {
  for (std::string event : {"issues", "create", "delete", "release",
                            "workflow_run", "check_suite"}) {
    auto out = interpret(event, fixture("push.4.json"));
    CHECK(out.action == webhook_action::ignored);
    CHECK(out.reason == "event '" + event + "' does not trigger builds");
  }
}

TEST_CASE("a delivery without event name is invalid") {
  auto out = interpret("", fixture("push.4.json"));
  CHECK(out.action == webhook_action::invalid);
  CHECK(out.reason == "the delivery has no X-GitHub-Event header");
}

TEST_CASE("a body that is not a JSON object is invalid") {
  for (std::string body : {"", "{", "not json", "[1, 2]", "\"push\"", "null",
                           "42", "{\"ref\": }"}) {
    INFO("body " << body);
    auto out = interpret_webhook("push", "d", body);
    CHECK(out.action == webhook_action::invalid);
    CHECK(starts_with(out.reason, "the body of a 'push' event is not"));
  }
}

TEST_CASE("a parsed body can be interpreted directly") {
  auto out = interpret_payload("push", "d-7", fixture("push.5.json"));
  REQUIRE(out.action == webhook_action::build);
  CHECK(out.request.delivery_id == "d-7");
}

TEST_CASE("every truncation of a payload is handled without throwing") {
  auto raw = read_file(fixture_dir / "pull_request.opened.0.json");
  for (std::size_t n = 0; n < raw.size(); n += 97) {
    webhook_outcome out;
    REQUIRE_NOTHROW(out = interpret_webhook("pull_request", "d",
                                            std::string_view{raw}.substr(0, n)));
    CHECK(out.action == webhook_action::invalid);
  }
}

TEST_CASE("any field of a payload may have any type without a crash") {
  // Replaces every value, one at a time, by values of other types: the result
  // is always an outcome, and a build always has what a build needs.
  for (auto [event, file] : {std::pair{"push", "push.4.json"},
                             std::pair{"pull_request",
                                       "pull_request.opened.0.json"}}) {
    auto original = fixture(file);
    auto flat = original.flatten();
    std::vector<std::string> pointers;
    for (const auto& item : flat.items()) {
      // Every prefix of a leaf's pointer is a value worth replacing too.
      const auto& key = item.key();
      for (auto slash = key.find('/', 1); slash != std::string::npos;
           slash = key.find('/', slash + 1))
        pointers.push_back(key.substr(0, slash));
      pointers.push_back(key);
    }
    int builds = 0;
    for (const auto& pointer : pointers) {
      for (const auto& value : {json(nullptr), json(42), json("x"),
                                json::array(), json::object(), json(true)}) {
        auto body = original;
        body[json::json_pointer{pointer}] = value;
        webhook_outcome out;
        INFO(file << " " << pointer << " = " << value.dump());
        REQUIRE_NOTHROW(out = interpret(event, body));
        if (out.action == webhook_action::build) {
          ++builds;
          CHECK(out.request.sha.size() == 40);
          CHECK_FALSE(out.request.repo.empty());
          CHECK_FALSE(out.request.slug.empty());
          CHECK_FALSE(out.request.ref.empty());
        } else {
          CHECK_FALSE(out.reason.empty());
        }
      }
    }
    CHECK(builds > 0);
  }
}

TEST_CASE("webhook actions have names") {
  CHECK(to_string(webhook_action::pong) == "pong");
  CHECK(to_string(webhook_action::build) == "build");
  CHECK(to_string(webhook_action::ignored) == "ignored");
  CHECK(to_string(webhook_action::invalid) == "invalid");
}
