#include <catch2/catch.hpp>

#include "actors/worker/build_script.hpp"

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
