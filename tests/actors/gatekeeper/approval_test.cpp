// Whether a request is built: [ci skip], branches, gh-pages and `if:`.
#include <catch2/catch.hpp>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/travis_config.hpp"

using namespace conveyor;

namespace {

config_node config_of(const std::string& yaml) {
  auto result = load_travis_config(yaml);
  for (const auto& msg : result.messages)
    INFO(to_string(msg));
  REQUIRE_FALSE(has_error_messages(result.messages));
  return result.config;
}

config_node branches_of(const std::string& yaml) {
  return config_of(yaml).get("branches");
}

build_request push_to(const std::string& branch) {
  build_request req;
  req.slug = "octo/demo";
  req.branch = branch;
  req.event = "push";
  req.commit_message = "a change";
  req.sender = "me";
  return req;
}

} // namespace

TEST_CASE("commit messages can skip a build") {
  for (auto text : {"[skip ci]", "x [SKIP CI] y", "[skip  \t ci]", "[ci skip]",
                    "[CI skip]", "[ci:skip]", "[ci SKIP]",
                    "first line\n\n[ci skip]"}) {
    INFO(text);
    CHECK(skips_ci(text));
  }
  for (auto text : {"", "skip ci", "[skipci]", "[ci unknown-command]",
                    "[ci skip it]", "[ci-skip]", "[ci  skip]",
                    "[ci other] then [ci skip]", "[skip travis]"}) {
    INFO(text);
    CHECK_FALSE(skips_ci(text));
  }
}

TEST_CASE("branches only and except take strings lists and regexes") {
  auto only = branches_of("branches:\n  only: [master, /^release-\\d+$/]\n");
  CHECK(branch_included(only, "master"));
  CHECK(branch_included(only, "release-12"));
  CHECK_FALSE(branch_included(only, "release-x"));
  CHECK_FALSE(branch_included(only, "mast"));
  auto split = branches_of("branches:\n  only: 'master,  dev '\n");
  CHECK(branch_included(split, "dev"));
  CHECK_FALSE(branch_included(split, "master,  dev "));
  auto except = branches_of("branches:\n  except: /wip/\n");
  CHECK(branch_included(except, "anything"));
  CHECK(branch_excluded(except, "feature-wip-1"));
  CHECK_FALSE(branch_excluded(except, "feature"));
  // An invalid regular expression matches nothing.
  auto broken = branches_of("branches:\n  only: ['/[z-a]/']\n");
  CHECK_FALSE(branch_included(broken, "z"));
}

TEST_CASE("a request is rejected for [ci skip] with a reason") {
  auto req = push_to("master");
  req.commit_message = "docs [ci skip]";
  auto verdict = approve_request(req, config_of("script: make\n"));
  CHECK_FALSE(verdict.accepted);
  CHECK(verdict.code == "ci_skip");
  CHECK(verdict.reason.find("[ci skip]") != std::string::npos);
  // Even without a config.
  CHECK_FALSE(approve_request(req, config_node{}).accepted);
  req.commit_message = "docs";
  CHECK(approve_request(req, config_node{}).accepted);
}

TEST_CASE("a request for a branch not included or excluded is rejected") {
  auto cfg = config_of("script: make\n"
                       "branches:\n"
                       "  only: [master, /^v\\d/]\n"
                       "  except: [v0-old]\n");
  CHECK(approve_request(push_to("master"), cfg).accepted);
  auto verdict = approve_request(push_to("feature"), cfg);
  CHECK_FALSE(verdict.accepted);
  CHECK(verdict.code == "branch_not_included");
  CHECK(verdict.reason.find("feature") != std::string::npos);
  verdict = approve_request(push_to("v0-old"), cfg);
  CHECK(verdict.code == "branch_excluded");
  // A tag build matches the tag name.
  auto tag = push_to("");
  tag.tag = "v1.0";
  CHECK(approve_request(tag, cfg).accepted);
}

TEST_CASE("gh-pages is built only when branches.only names it") {
  auto verdict = approve_request(push_to("gh-pages"),
                                 config_of("script: make\n"));
  CHECK_FALSE(verdict.accepted);
  CHECK(verdict.code == "github_pages");
  CHECK(is_github_pages("GH_Pages"));
  CHECK_FALSE(is_github_pages("pages"));
  auto enabled = config_of("script: make\nbranches: {only: [gh-pages]}\n");
  CHECK(approve_request(push_to("gh-pages"), enabled).accepted);
}

TEST_CASE("the build condition decides with the request's data") {
  auto cfg = config_of("script: make\n"
                       "env:\n"
                       "  global: DEPLOY=yes\n"
                       "if: (branch = master OR tag IS present) AND "
                       "env(DEPLOY) = yes AND type = push\n");
  CHECK(approve_request(push_to("master"), cfg).accepted);
  auto verdict = approve_request(push_to("other"), cfg);
  CHECK_FALSE(verdict.accepted);
  CHECK(verdict.code == "build_condition");
  CHECK(verdict.reason.find("branch = master") != std::string::npos);
  auto tag = push_to("");
  tag.tag = "v1";
  CHECK(approve_request(tag, cfg).accepted);
  auto api = push_to("master");
  api.event = "api";
  CHECK_FALSE(approve_request(api, cfg).accepted);
  CHECK_FALSE(approve_request(push_to("x"), config_of("if: false\n")).accepted);
}

TEST_CASE("request data names the request's attributes") {
  build_request req;
  req.slug = "octo/demo";
  req.branch = "main";
  req.event = "pull_request";
  req.pull_request = 7;
  req.head_repo = "fork/demo";
  req.head_branch = "topic";
  req.fork = true;
  req.sender = "alice";
  req.commit_message = "msg";
  auto data = request_data(req);
  CHECK(data.get("type") == config_node::string("pull_request"));
  CHECK(data.get("repo") == config_node::string("octo/demo"));
  CHECK(data.get("branch") == config_node::string("main"));
  CHECK(data.get("head_repo") == config_node::string("fork/demo"));
  CHECK(data.get("head_branch") == config_node::string("topic"));
  CHECK(data.get("fork") == config_node::boolean(true));
  CHECK(data.get("sender") == config_node::string("alice"));
  CHECK(data.get("commit_message") == config_node::string("msg"));
  CHECK_FALSE(data.has("tag"));
  CHECK_FALSE(request_data(push_to("x")).has("fork"));
}
