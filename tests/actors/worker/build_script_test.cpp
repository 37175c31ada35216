#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "actors/worker/build_script.hpp"
#include "test_support.hpp"

using namespace conveyor;

TEST_CASE("shell words are quoted only when needed", "[build_script]") {
  CHECK(shell_word("plain/path-1.2_x") == "plain/path-1.2_x");
  CHECK(shell_word("") == "''");
  CHECK(shell_word("a b") == "'a b'");
  CHECK(shell_word("it's $HOME") == "'it'\\''s $HOME'");
  CHECK(shell_word("two\nlines") == "'two\nlines'");
}

TEST_CASE("environment names are checked", "[build_script]") {
  CHECK(is_valid_env_name("FOO_1"));
  CHECK(is_valid_env_name("_x"));
  CHECK_FALSE(is_valid_env_name(""));
  CHECK_FALSE(is_valid_env_name("1FOO"));
  CHECK_FALSE(is_valid_env_name("A-B"));
  CHECK_FALSE(is_valid_env_name("A B"));
}

TEST_CASE("result lines are parsed", "[build_script]") {
  auto r = parse_script_result("errored 3 install\n");
  REQUIRE(r);
  CHECK(r->state == job_state::errored);
  CHECK(r->exit_code == 3);
  CHECK(r->phase == "install");
  CHECK(parse_script_result("passed 0 script")->state == job_state::passed);
  CHECK(parse_script_result("failed 1 script")->exit_code == 1);
  CHECK_FALSE(parse_script_result(""));
  CHECK_FALSE(parse_script_result("started 0 script"));
  CHECK_FALSE(parse_script_result("passed x script"));
}

TEST_CASE("the script names its result file and skips cloning without a "
          "repository",
          "[build_script]") {
  job_spec spec;
  spec.phases.script = {"echo 'hi'"};
  auto text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(text.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(text.find("_conveyor_result_file=/ws/.conveyor/result\n")
        != std::string::npos);
  CHECK(text.find("git clone") == std::string::npos);
  CHECK(text.find("mkdir -p -- /ws/build\n") != std::string::npos);
  CHECK(text.find("eval 'echo '\\''hi'\\'''\n") != std::string::npos);
}

TEST_CASE("git clone: false skips the checkout, git depth makes it shallow",
          "[build_script]") {
  job_spec spec;
  spec.repo = "/srv/repo";
  spec.sha = "abc123";
  spec.branch = "main";
  spec.phases.script = {"true"};
  spec.clone = false;
  auto skipped = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(skipped.find("git clone") == std::string::npos);
  CHECK(skipped.find("mkdir -p -- /ws/build\n") != std::string::npos);
  spec.clone = true;
  spec.clone_depth = 3;
  auto shallow = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(shallow.find("git clone --quiet --depth=3 --branch=main file:///srv/repo "
                     "/ws/build")
        != std::string::npos);
  spec.clone_depth = 0;
  auto full = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(full.find("git clone --quiet /srv/repo /ws/build") != std::string::npos);
}

// -- pull requests ------------------------------------------------------------

namespace {

// Runs the build script of `spec` in `dir`; returns its output.
std::string run_script(const job_spec& spec, const std::filesystem::path& dir) {
  build_layout where{dir / "build", dir / "result"};
  test::write_file(dir / "script.sh", make_build_script(spec, where));
  return test::shell("bash '" + (dir / "script.sh").string() + "' 2>&1");
}

} // namespace

TEST_CASE("a pull request's head is fetched when the clone lacks it",
          "[build_script]") {
  job_spec spec;
  spec.repo = "/srv/repo";
  spec.sha = "abc123";
  spec.branch = "main";
  spec.pull_request = 7;
  spec.phases.script = {"true"};
  auto text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  std::string fetch = "git -C /ws/build cat-file -e 'abc123^{commit}' "
                      "2>/dev/null || git -C /ws/build fetch --quiet origin "
                      "+refs/pull/7/head:refs/remotes/origin/pull/7/head || "
                      "printf '%s\\n' 'Could not fetch refs/pull/7/head: "
                      "checking out the commit as cloned.'";
  auto at = text.find("eval " + shell_word(fetch) + "\n");
  REQUIRE(at != std::string::npos);
  // After the clone, before the checkout.
  CHECK(text.find("git clone") < at);
  CHECK(at < text.find("checkout --quiet --force abc123"));
  // Shallow clones fetch as deep.
  spec.clone_depth = 5;
  text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(text.find("fetch --quiet --depth=5 origin +refs/pull/7/head:")
        != std::string::npos);
  // Not for a push.
  spec.pull_request = 0;
  text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(text.find("refs/pull/") == std::string::npos);
}

TEST_CASE("a pull request whose commit is on no branch is checked out",
          "[build_script]") {
  test::temp_dir tmp;
  auto repo = test::make_git_repo(tmp.path() / "repo");
  auto d = "'" + repo.dir.string() + "'";
  // The head of the pull request: a commit on no branch, only under
  // refs/pull/3/head, as GitHub keeps the heads of pull requests from forks.
  test::shell("git -C " + d + " checkout -q -b topic && echo pr > "
              + d + "/pr.txt && git -C " + d + " add pr.txt && git -C " + d
              + " -c user.name=t -c user.email=t@example.com commit -q -m pr");
  auto head = test::shell("git -C " + d + " rev-parse HEAD");
  head.erase(head.find_last_not_of("\n") + 1);
  test::shell("git -C " + d + " update-ref refs/pull/3/head " + head
              + " && git -C " + d + " checkout -q main && git -C " + d
              + " branch -q -D topic");
  job_spec spec;
  // Through git's transport, which copies only what refs reach (a clone of a
  // plain path would copy every object).
  spec.repo = "file://" + repo.dir.string();
  spec.sha = head;
  spec.branch = "main";
  spec.pull_request = 3;
  spec.phases.script = {"cat pr.txt"};
  SECTION("through refs/pull/N/head") {
    auto out = run_script(spec, tmp.path());
    INFO(out);
    CHECK(out.find("\npr\n") != std::string::npos);
    CHECK(test::read_file(tmp.path() / "result") == "passed 0 script\n");
    CHECK(test::shell("git -C '" + (tmp.path() / "build").string()
                      + "' rev-parse refs/remotes/origin/pull/3/head")
          == head + "\n");
  }
  SECTION("a remote without the ref falls back to the clone") {
    spec.sha = repo.sha; // on main: already cloned
    spec.phases.script = {"git rev-parse HEAD"};
    test::shell("git -C " + d + " update-ref -d refs/pull/3/head");
    auto out = run_script(spec, tmp.path());
    INFO(out);
    CHECK(out.find(repo.sha + "\n") != std::string::npos);
    CHECK(test::read_file(tmp.path() / "result") == "passed 0 script\n");
  }
  SECTION("a commit nowhere errors the clone phase, after a clear note") {
    test::shell("git -C " + d + " update-ref -d refs/pull/3/head");
    build_layout where{tmp.path() / "build", tmp.path() / "result"};
    test::write_file(tmp.path() / "script.sh", make_build_script(spec, where));
    auto status = std::system(
      ("bash '" + (tmp.path() / "script.sh").string() + "' >"
       + (tmp.path() / "out").string() + " 2>&1")
        .c_str());
    CHECK(status != 0);
    auto out = test::read_file(tmp.path() / "out");
    INFO(out);
    CHECK(out.find("Could not fetch refs/pull/3/head") != std::string::npos);
    CHECK(test::read_file(tmp.path() / "result").rfind("errored ", 0) == 0);
    CHECK(test::read_file(tmp.path() / "result").find(" clone") != std::string::npos);
  }
}

TEST_CASE("clone credentials: http origins of repository URLs",
          "[build_script]") {
  CHECK(http_origin("https://github.com/octo/demo.git")
        == "https://github.com/");
  CHECK(http_origin("http://127.0.0.1:8080/octo/demo.git")
        == "http://127.0.0.1:8080/");
  CHECK(http_origin("https://user:pw@ghe.example.com/a/b")
        == "https://ghe.example.com/");
  CHECK(http_origin("file:///srv/repo").empty());
  CHECK(http_origin("git@github.com:octo/demo.git").empty());
  CHECK(http_origin("/srv/repo").empty());
}

TEST_CASE("clone credentials: only the worker sets the variable",
          "[build_script]") {
  job_spec spec;
  spec.env = {{"A", "1"}, {git_auth_variable, "from the config"}, {"B", "2"}};
  set_git_auth(spec, "");
  REQUIRE(spec.env.size() == 2);
  CHECK(spec.env[0].name == "A");
  CHECK(spec.env[1].name == "B");
  set_git_auth(spec, "basic c2VjcmV0");
  REQUIRE(spec.env.size() == 3);
  CHECK(spec.env.back().name == git_auth_variable);
  CHECK(spec.env.back().value == "basic c2VjcmV0");
}

TEST_CASE("clone credentials: the script never holds the header",
          "[build_script]") {
  job_spec spec;
  spec.repo = "https://github.com/octo/private.git";
  spec.sha = "abc123";
  spec.pull_request = 7;
  spec.env = {{"FOO", "bar"}};
  spec.phases.script = {"make test"};
  set_git_auth(spec, "basic VERYSECRETVALUE");
  auto text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(text.find("VERYSECRETVALUE") == std::string::npos);
  CHECK(text.find("export CONVEYOR_GIT_AUTH") == std::string::npos);
  // Handed over to a fresh bash through a pipe, then read into a variable.
  CHECK(text.find("exec /usr/bin/env -u CONVEYOR_GIT_AUTH") != std::string::npos);
  // Clone and pull request fetch send it, for github.com only.
  auto key = std::string{"GIT_CONFIG_KEY_0="}
             + shell_word("http.https://github.com/.extraHeader");
  auto first = text.find(key);
  REQUIRE(first != std::string::npos);
  CHECK(text.find(key, first + 1) != std::string::npos);
  CHECK(text.find("git clone --quiet https://github.com/octo/private.git")
        != std::string::npos);
  // The log shows the plain command.
  CHECK(text.find("printf '%s\\n' '$ git clone --quiet "
                  "https://github.com/octo/private.git /ws/build'")
        != std::string::npos);
  // Gone before the first command of the config.
  auto unset = text.find("unset _conveyor_git_auth CONVEYOR_GIT_AUTH\n");
  REQUIRE(unset != std::string::npos);
  CHECK(unset < text.find("make test"));
}

TEST_CASE("clone credentials: no variable, no change to the script",
          "[build_script]") {
  job_spec spec;
  spec.repo = "https://github.com/octo/public.git";
  spec.phases.script = {"true"};
  auto text = make_build_script(spec, {"/ws/build", "/ws/.conveyor/result"});
  CHECK(text.find("GIT_CONFIG_KEY_0") == std::string::npos);
  CHECK(text.find("exec env") == std::string::npos);
  CHECK(text.find("Setting environment variables") == std::string::npos);
}
