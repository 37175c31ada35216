// Parsing .conveyor.yml / .travis.yml text into a build_config and findings.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "actors/gatekeeper/build_config.hpp"

using namespace conveyor;

namespace {

using strings = std::vector<std::string>;
using vars = std::vector<env_var>;

// Parses `yaml` and requires that it has no message at all.
build_config clean(const std::string& yaml) {
  auto result = parse_build_config(yaml);
  for (const auto& msg : result.messages)
    FAIL_CHECK("unexpected message: " << to_string(msg));
  return result.config;
}

// Returns the only message with `code`, failing if there is not exactly one.
config_message only(const config_result& result, const std::string& code) {
  std::vector<config_message> found;
  for (const auto& msg : result.messages)
    if (msg.code == code)
      found.push_back(msg);
  INFO("code " << code);
  for (const auto& msg : result.messages)
    INFO(to_string(msg));
  REQUIRE(found.size() == 1);
  return found.front();
}

bool is_level(const std::string& x) {
  return x == "error" || x == "warn" || x == "info";
}

size_t count(const config_result& result, const std::string& level) {
  size_t n = 0;
  for (const auto& msg : result.messages)
    if (msg.level == level)
      ++n;
  return n;
}

} // namespace

// -- env ----------------------------------------------------------------------

TEST_CASE("env as a string is one job with its variables") {
  auto cfg = clean("env: FOO=a BAR=\"b c\" BAZ='x y'\nscript: make\n");
  REQUIRE(cfg.env.jobs.size() == 1);
  CHECK(cfg.env.jobs[0].vars
        == vars{{"FOO", "a"}, {"BAR", "b c"}, {"BAZ", "x y"}});
  CHECK(cfg.env.jobs[0].mark.line == 1);
  CHECK(cfg.env.jobs[0].mark.column == 6);
  CHECK(cfg.env.global.empty());
}

TEST_CASE("env as a list is one job per entry") {
  auto cfg = clean("env:\n"
                   "  - FOO=1\n"
                   "  - FOO=2 BAR=x\n"
                   "  - {FOO: 3, BAR: 'y z'}\n"
                   "script: make\n");
  REQUIRE(cfg.env.jobs.size() == 3);
  CHECK(cfg.env.jobs[0].vars == vars{{"FOO", "1"}});
  CHECK(cfg.env.jobs[1].vars == vars{{"FOO", "2"}, {"BAR", "x"}});
  CHECK(cfg.env.jobs[2].vars == vars{{"FOO", "3"}, {"BAR", "y z"}});
  CHECK(cfg.env.jobs[1].mark.line == 3);
}

TEST_CASE("env as a map has global and jobs sections") {
  auto cfg = clean("env:\n"
                   "  global:\n"
                   "    - CI=true\n"
                   "    - LANG=C A=1\n"
                   "    - {B: 2}\n"
                   "  jobs:\n"
                   "    - FOO=1\n"
                   "    - FOO=2\n"
                   "script: make\n");
  CHECK(cfg.env.global
        == vars{{"CI", "true"}, {"LANG", "C"}, {"A", "1"}, {"B", "2"}});
  REQUIRE(cfg.env.jobs.size() == 2);
  CHECK(cfg.env.jobs[1].vars == vars{{"FOO", "2"}});
}

TEST_CASE("env.matrix is another name for env.jobs") {
  auto cfg = clean("env:\n"
                   "  global: G=1\n"
                   "  matrix: [FOO=1, FOO=2]\n"
                   "script: make\n");
  CHECK(cfg.env.global == vars{{"G", "1"}});
  REQUIRE(cfg.env.jobs.size() == 2);
  CHECK(cfg.env.jobs[0].vars == vars{{"FOO", "1"}});
}

TEST_CASE("env as a plain map is one job") {
  auto cfg = clean("env: {FOO: a, EMPTY: ~, NUM: 1.10}\nscript: make\n");
  REQUIRE(cfg.env.jobs.size() == 1);
  CHECK(cfg.env.jobs[0].vars
        == vars{{"FOO", "a"}, {"EMPTY", ""}, {"NUM", "1.10"}});
}

TEST_CASE("env with only global makes no matrix rows") {
  auto cfg = clean("env:\n  global: [A=1, B=2]\nscript: make\n");
  CHECK(cfg.env.global == vars{{"A", "1"}, {"B", "2"}});
  CHECK(cfg.env.jobs.empty());
}

TEST_CASE("secure variables warn and are left out") {
  auto result = parse_build_config("env:\n"
                                   "  global:\n"
                                   "    - CI=true\n"
                                   "    - secure: abcdef==\n"
                                   "  jobs:\n"
                                   "    - FOO=1\n"
                                   "    - secure: xyz\n"
                                   "script: make\n");
  CHECK(result.config.env.global == vars{{"CI", "true"}});
  REQUIRE(result.config.env.jobs.size() == 2);
  CHECK(result.config.env.jobs[1].vars.empty());
  REQUIRE(result.messages.size() == 2);
  for (const auto& msg : result.messages) {
    CHECK(msg.level == "warn");
    CHECK(msg.code == "unsupported");
  }
  CHECK(result.messages[0].key == "env.global");
  CHECK(result.messages[0].line == 4);
  CHECK(result.messages[0].column == 7);
  CHECK(result.messages[1].key == "env.jobs");
  CHECK(result.messages[1].line == 7);
}

TEST_CASE("invalid env strings and names are errors") {
  auto result = parse_build_config("env:\n  - FOO=1\n  - BAR='open\n"
                                   "script: make\n");
  auto msg = only(result, "invalid_env");
  CHECK(msg.level == "error");
  CHECK(msg.key == "env");
  CHECK(msg.line == 3);
  CHECK(msg.column == 5);
  CHECK(msg.message.find("unterminated single quote") != std::string::npos);

  result = parse_build_config("env: {1X: a}\nscript: make\n");
  msg = only(result, "invalid_env");
  CHECK(msg.message == "'1X' is not a valid variable name");

  result = parse_build_config("env: {X: [a]}\nscript: make\n");
  CHECK(only(result, "invalid_type").message
        == "the value of X must be a string");

  result = parse_build_config("env:\n  jobs:\n    - [A=1]\nscript: make\n");
  CHECK(only(result, "invalid_type").key == "env.jobs");

  result = parse_build_config("env:\n  global: 1\n  other: x\nscript: make\n");
  CHECK(only(result, "invalid_env").key == "env.global");
  CHECK(only(result, "unknown_key").key == "env.other");
}

// -- phases -------------------------------------------------------------------

TEST_CASE("phases are a string or a list of strings") {
  auto cfg = clean("before_install: sudo true\n"
                   "install:\n  - make deps\n  - ./configure\n"
                   "before_script: []\n"
                   "script:\n"
                   "  - make\n"
                   "  - |\n"
                   "    if true; then\n"
                   "      echo multi\n"
                   "    fi\n"
                   "after_success: echo ok\n"
                   "after_failure: [echo ko]\n"
                   "after_script: echo done\n");
  const auto& p = cfg.phases;
  CHECK(p.before_install == strings{"sudo true"});
  CHECK(p.install == strings{"make deps", "./configure"});
  CHECK(p.before_script == strings{});
  CHECK(p.script == strings{"make", "if true; then\n  echo multi\nfi\n"});
  CHECK(p.after_success == strings{"echo ok"});
  CHECK(p.after_failure == strings{"echo ko"});
  CHECK(p.after_script == strings{"echo done"});
}

TEST_CASE("phases that are not set stay unset") {
  auto cfg = clean("script: make\n");
  CHECK(cfg.phases.script == strings{"make"});
  CHECK_FALSE(cfg.phases.install.has_value());
  CHECK_FALSE(cfg.phases.after_script.has_value());
}

TEST_CASE("a phase of the wrong type is an error with its position") {
  auto result = parse_build_config("language: c\nscript: {a: 1}\n");
  auto msg = only(result, "invalid_type");
  CHECK(msg.level == "error");
  CHECK(msg.key == "script");
  CHECK(msg.line == 2);
  CHECK(msg.column == 9);
  CHECK(msg.message == "'script' must be a string or a list of strings");
  CHECK(has_errors(result.messages));

  result = parse_build_config("script:\n  - make\n  - {a: 1}\n");
  msg = only(result, "invalid_type");
  CHECK(msg.line == 3);
  CHECK(msg.column == 5);
  CHECK(result.config.phases.script == strings{"make"});
}

TEST_CASE("empty phases and entries are reported, not silently dropped") {
  auto result = parse_build_config("install:\nscript:\n  - make\n  -\n");
  REQUIRE(result.messages.size() == 2);
  CHECK(result.messages[0].code == "empty");
  CHECK(result.messages[0].key == "install");
  CHECK(result.messages[0].level == "info");
  CHECK(result.messages[1].code == "empty");
  CHECK(result.messages[1].key == "script");
  CHECK(result.messages[1].level == "warn");
  // yaml-cpp marks an empty entry where its value would have started.
  CHECK(result.messages[1].line == 5);
  CHECK_FALSE(result.config.phases.install.has_value());
  CHECK(result.config.phases.script == strings{"make"});
}

// -- jobs ---------------------------------------------------------------------

TEST_CASE("jobs has include, allow_failures, exclude and fast_finish") {
  auto cfg = clean("script: make\n"
                   "jobs:\n"
                   "  fast_finish: true\n"
                   "  include:\n"
                   "    - name: docs\n"
                   "      env: DOCS=1\n"
                   "      script: make docs\n"
                   "    - env: [A=1, B=2]\n"
                   "      install: make deps\n"
                   "      allow_failure: true\n"
                   "  allow_failures:\n"
                   "    - env: A=1\n"
                   "    - name: docs\n"
                   "  exclude:\n"
                   "    - env: {X: y}\n"
                   "      name: n\n");
  CHECK(cfg.jobs.fast_finish);
  REQUIRE(cfg.jobs.include.size() == 2);
  const auto& docs = cfg.jobs.include[0];
  CHECK(docs.name == "docs");
  CHECK(docs.env == vars{{"DOCS", "1"}});
  CHECK(docs.phases.script == strings{"make docs"});
  CHECK_FALSE(docs.phases.install.has_value());
  CHECK_FALSE(docs.allow_failure);
  CHECK(docs.mark.line == 5);
  CHECK(docs.mark.column == 7);
  const auto& second = cfg.jobs.include[1];
  CHECK(second.name.empty());
  CHECK(second.env == vars{{"A", "1"}, {"B", "2"}});
  CHECK(second.phases.install == strings{"make deps"});
  CHECK_FALSE(second.phases.script.has_value());
  CHECK(second.allow_failure);
  REQUIRE(cfg.jobs.allow_failures.size() == 2);
  CHECK(cfg.jobs.allow_failures[0].env == vars{{"A", "1"}});
  CHECK_FALSE(cfg.jobs.allow_failures[0].name.has_value());
  CHECK(cfg.jobs.allow_failures[1].name == std::string{"docs"});
  CHECK_FALSE(cfg.jobs.allow_failures[1].env.has_value());
  REQUIRE(cfg.jobs.exclude.size() == 1);
  CHECK(cfg.jobs.exclude[0].env == vars{{"X", "y"}});
  CHECK(cfg.jobs.exclude[0].name == std::string{"n"});
}

TEST_CASE("matrix is another name for jobs") {
  auto cfg = clean("script: make\n"
                   "matrix:\n"
                   "  fast_finish: yes\n"
                   "  include:\n"
                   "    - env: X=1\n");
  CHECK(cfg.jobs.fast_finish);
  REQUIRE(cfg.jobs.include.size() == 1);
  CHECK(cfg.jobs.include[0].env == vars{{"X", "1"}});
}

TEST_CASE("fast_finish defaults to false and must be a boolean") {
  CHECK_FALSE(clean("script: make\n").jobs.fast_finish);
  CHECK_FALSE(
    clean("script: make\njobs: {fast_finish: false}\n").jobs.fast_finish);
  auto result = parse_build_config("script: make\n"
                                   "jobs:\n"
                                   "  fast_finish: maybe\n");
  auto msg = only(result, "invalid_type");
  CHECK(msg.level == "error");
  CHECK(msg.key == "jobs.fast_finish");
  CHECK(msg.line == 3);
  CHECK(msg.column == 16);
  CHECK(msg.message == "'jobs.fast_finish' must be true or false");
}

TEST_CASE("a single include map and a list under jobs are accepted") {
  auto cfg = parse_build_config("script: make\n"
                                "jobs:\n"
                                "  include: {name: one}\n")
               .config;
  REQUIRE(cfg.jobs.include.size() == 1);
  CHECK(cfg.jobs.include[0].name == "one");
  auto result = parse_build_config("script: make\n"
                                   "jobs:\n"
                                   "  - name: a\n"
                                   "  - name: b\n");
  CHECK(only(result, "list_as_include").level == "info");
  REQUIRE(result.config.jobs.include.size() == 2);
  CHECK(result.config.jobs.include[1].name == "b");
}

TEST_CASE("jobs entries of the wrong shape are errors") {
  auto result = parse_build_config("script: make\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - FOO=1\n"
                                   "  allow_failures: x\n");
  size_t n = 0;
  for (const auto& msg : result.messages)
    if (msg.code == "invalid_type")
      ++n;
  CHECK(n == 2);
  CHECK(result.messages.at(0).key == "jobs.include");
  CHECK(result.messages.at(0).line == 4);
  CHECK(result.messages.at(1).key == "jobs.allow_failures");
  CHECK(parse_build_config("script: make\njobs: 3\n").messages.at(0).code
        == "invalid_type");
}

TEST_CASE("allow_failures entries without env or name match nothing") {
  auto result = parse_build_config("script: make\n"
                                   "jobs:\n"
                                   "  allow_failures:\n"
                                   "    - rvm: 2.2\n");
  CHECK(only(result, "unsupported_key").key == "jobs.allow_failures.rvm");
  auto msg = only(result, "matches_nothing");
  CHECK(msg.level == "warn");
  CHECK(msg.line == 4);
}

// -- git ----------------------------------------------------------------------

TEST_CASE("git is unset by default: clone everything") {
  auto cfg = clean("script: make\n");
  CHECK_FALSE(cfg.git.clone);
  CHECK_FALSE(cfg.git.depth);
}

TEST_CASE("git.clone and git.depth are read") {
  auto cfg = clean("git:\n  clone: false\n  depth: 3\nscript: make\n");
  CHECK(cfg.git.clone == false);
  CHECK(cfg.git.depth == 3);
  cfg = clean("git: {clone: yes, depth: false}\nscript: make\n");
  CHECK(cfg.git.clone == true);
  CHECK(cfg.git.depth == 0);
  cfg = clean("git: {depth: 2147483647}\nscript: make\n");
  CHECK_FALSE(cfg.git.clone);
  CHECK(cfg.git.depth == 2147483647);
}

TEST_CASE("git keys of the wrong type are errors with their position") {
  struct wrong {
    const char* yaml;
    const char* key;
    int32_t column;
  };
  wrong cases[] = {
    {"git: {clone: maybe}\n", "git.clone", 14},
    {"git: {clone: [true]}\n", "git.clone", 14},
    {"git: {depth: true}\n", "git.depth", 14},
    {"git: {depth: 0}\n", "git.depth", 14},
    {"git: {depth: -5}\n", "git.depth", 14},
    {"git: {depth: 1.5}\n", "git.depth", 14},
    {"git: {depth: fifty}\n", "git.depth", 14},
    {"git: {depth: 2147483648}\n", "git.depth", 14},
    {"git: {depth: 99999999999999999999}\n", "git.depth", 14},
    {"git: {depth: {a: 1}}\n", "git.depth", 14},
    {"git: {submodules: sometimes}\n", "git.submodules", 19},
    {"git: {quiet: [1]}\n", "git.quiet", 14},
    {"git: false\n", "git", 6},
    {"git: [clone]\n", "git", 6},
  };
  for (const auto& x : cases) {
    INFO(x.yaml);
    auto result = parse_build_config(std::string{x.yaml} + "script: make\n");
    auto msg = only(result, "invalid_type");
    CHECK(msg.level == "error");
    CHECK(msg.key == x.key);
    CHECK(msg.line == 1);
    CHECK(msg.column == x.column);
    CHECK(has_errors(result.messages));
  }
  auto result = parse_build_config("script: make\ngit:\n  depth: true\n");
  auto msg = only(result, "invalid_type");
  CHECK(msg.line == 3);
  CHECK(msg.column == 10);
  CHECK(msg.message == "'git.depth' must be a positive whole number or false");
  CHECK_FALSE(result.config.git.depth);
}

TEST_CASE("git.submodules, git.quiet and other Travis git keys warn") {
  auto result = parse_build_config("git:\n"
                                   "  submodules: false\n"
                                   "  quiet: true\n"
                                   "  strategy: tarball\n"
                                   "  depth: 10\n"
                                   "  colour: red\n"
                                   "script: make\n");
  REQUIRE(result.messages.size() == 4);
  CHECK_FALSE(has_errors(result.messages));
  CHECK(result.messages[0].code == "unsupported_key");
  CHECK(result.messages[0].level == "warn");
  CHECK(result.messages[0].key == "git.submodules");
  CHECK(result.messages[0].line == 2);
  CHECK(result.messages[0].column == 3);
  CHECK(result.messages[0].message
        == "'git.submodules' is not supported yet and is ignored");
  CHECK(result.messages[1].code == "unsupported_key");
  CHECK(result.messages[1].key == "git.quiet");
  CHECK(result.messages[2].code == "unsupported_key");
  CHECK(result.messages[2].key == "git.strategy");
  CHECK(result.messages[3].code == "unknown_key");
  CHECK(result.messages[3].key == "git.colour");
  CHECK(result.config.git.depth == 10);
}

TEST_CASE("an empty git section or key is reported and ignored") {
  auto result = parse_build_config("git:\nscript: make\n");
  CHECK(only(result, "empty").key == "git");
  CHECK_FALSE(has_errors(result.messages));
  result = parse_build_config("git: {clone: , depth: }\nscript: make\n");
  REQUIRE(result.messages.size() == 2);
  CHECK(result.messages[0].code == "empty");
  CHECK(result.messages[0].key == "git.clone");
  CHECK(result.messages[1].key == "git.depth");
  CHECK_FALSE(result.config.git.clone);
  CHECK_FALSE(result.config.git.depth);
}

TEST_CASE("jobs.include entries have their own git keys") {
  auto cfg = clean("git: {depth: 5}\n"
                   "script: make\n"
                   "jobs:\n"
                   "  include:\n"
                   "    - name: plain\n"
                   "    - name: no checkout\n"
                   "      git: {clone: false}\n"
                   "    - name: full\n"
                   "      git:\n"
                   "        depth: false\n");
  REQUIRE(cfg.jobs.include.size() == 3);
  CHECK(cfg.git.depth == 5);
  CHECK_FALSE(cfg.jobs.include[0].git.clone);
  CHECK_FALSE(cfg.jobs.include[0].git.depth);
  CHECK(cfg.jobs.include[1].git.clone == false);
  CHECK_FALSE(cfg.jobs.include[1].git.depth);
  CHECK(cfg.jobs.include[2].git.depth == 0);
  auto result = parse_build_config("script: make\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - git: {depth: deep}\n");
  auto msg = only(result, "invalid_type");
  CHECK(msg.key == "jobs.include.git.depth");
  CHECK(msg.line == 4);
  CHECK(msg.column == 20);
}

// -- keys ---------------------------------------------------------------------

TEST_CASE("known Travis keys that are not supported warn") {
  auto result = parse_build_config("language: python\n"
                                   "os: linux\n"
                                   "dist: focal\n"
                                   "python: ['3.8', '3.9']\n"
                                   "cache: pip\n"
                                   "sudo: false\n"
                                   "notifications: {email: false}\n"
                                   "script: make\n");
  REQUIRE(result.messages.size() == 7);
  CHECK(count(result, "info") == 3);
  CHECK(count(result, "warn") == 4);
  for (const auto& msg : result.messages)
    CHECK(msg.code == "unsupported_key");
  CHECK(result.messages[0].key == "language");
  CHECK(result.messages[0].level == "info");
  CHECK(result.messages[3].key == "python");
  CHECK(result.messages[3].level == "warn");
  CHECK(result.messages[3].line == 4);
  CHECK(result.messages[3].column == 1);
  CHECK(result.messages[4].message
        == "'cache' is not supported yet and is ignored");
  CHECK_FALSE(has_errors(result.messages));
}

TEST_CASE("os other than linux warns") {
  auto result = parse_build_config("os: osx\nscript: make\n");
  CHECK(only(result, "unsupported_key").level == "warn");
  result = parse_build_config("os: [linux, osx]\nscript: make\n");
  CHECK(only(result, "unsupported_key").level == "warn");
}

TEST_CASE("unknown keys warn with their position") {
  auto result = parse_build_config("script: make\n"
                                   "scirpt: typo\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - name: x\n"
                                   "      stage: test\n"
                                   "      colour: red\n"
                                   "  retries: 3\n");
  REQUIRE(result.messages.size() == 4);
  CHECK(result.messages[0].code == "unknown_key");
  CHECK(result.messages[0].key == "scirpt");
  CHECK(result.messages[0].level == "warn");
  CHECK(result.messages[0].line == 2);
  CHECK(result.messages[0].column == 1);
  CHECK(result.messages[0].message
        == "'scirpt' is not a known key and is ignored");
  CHECK(result.messages[1].code == "unsupported_key");
  CHECK(result.messages[1].key == "jobs.include.stage");
  CHECK(result.messages[2].code == "unknown_key");
  CHECK(result.messages[2].key == "jobs.include.colour");
  CHECK(result.messages[2].line == 7);
  CHECK(result.messages[2].column == 7);
  CHECK(result.messages[3].key == "jobs.retries");
  CHECK_FALSE(has_errors(result.messages));
}

TEST_CASE("duplicate keys warn and the last one wins") {
  auto result = parse_build_config("script: a\nscript: b\n");
  auto msg = only(result, "duplicate_key");
  CHECK(msg.line == 2);
  CHECK(result.config.phases.script == strings{"b"});

  result = parse_build_config("jobs: {fast_finish: true}\n"
                              "matrix: {include: [{name: x}]}\n"
                              "script: s\n");
  CHECK(only(result, "duplicate_key").key == "matrix");
  CHECK(result.config.jobs.fast_finish);
  CHECK(result.config.jobs.include.size() == 1);
}

TEST_CASE("YAML anchors, aliases and merge keys work") {
  auto result = parse_build_config("defaults: &defaults\n"
                                   "  install: make deps\n"
                                   "  script: make test\n"
                                   "script: make\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - <<: *defaults\n"
                                   "      name: a\n"
                                   "      script: override\n"
                                   "    - *defaults\n");
  CHECK(only(result, "unknown_key").key == "defaults");
  const auto& include = result.config.jobs.include;
  REQUIRE(include.size() == 2);
  CHECK(include[0].name == "a");
  CHECK(include[0].phases.install == strings{"make deps"});
  CHECK(include[0].phases.script == strings{"override"});
  CHECK(include[1].phases.script == strings{"make test"});
}

// -- invalid documents --------------------------------------------------------

TEST_CASE("invalid YAML is one syntax error with line and column") {
  auto result = parse_build_config("script: make\nenv: a\n bad: x\n");
  REQUIRE(result.messages.size() == 1);
  const auto& msg = result.messages[0];
  CHECK(msg.level == "error");
  CHECK(msg.code == "syntax_error");
  CHECK(msg.line == 3);
  CHECK(msg.column == 5);
  CHECK(msg.message == "invalid YAML: illegal map value");
  CHECK(result.config.phases.script == std::nullopt);

  // yaml-cpp reports an unclosed flow sequence where the input ends.
  result = parse_build_config("script: [a, b\n");
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "syntax_error");
  CHECK(result.messages[0].line == 2);
  CHECK(result.messages[0].column == 1);

  result = parse_build_config("script: make\n\tinstall: x\n");
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "syntax_error");
  CHECK(result.messages[0].line == 2);

  result = parse_build_config(std::string(10000, '['));
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].message == "invalid YAML: nested too deeply");
}

TEST_CASE("an empty config or one that is not a map is an error") {
  for (auto text : {"", "\n\n", "# only a comment\n", "~\n", "---\n"}) {
    auto result = parse_build_config(text);
    INFO(text);
    REQUIRE(result.messages.size() == 1);
    CHECK(result.messages[0].level == "error");
    CHECK(result.messages[0].code == "empty_config");
  }
  for (auto text : {"just a string", "- a\n- b\n", "42"}) {
    auto result = parse_build_config(text);
    INFO(text);
    REQUIRE(result.messages.size() == 1);
    CHECK(result.messages[0].code == "invalid_type");
    CHECK(result.messages[0].line == 1);
    CHECK(result.messages[0].column == 1);
  }
}

TEST_CASE("only the first YAML document is read") {
  auto result = parse_build_config("script: a\n---\nscript: b\n");
  auto msg = only(result, "multiple_documents");
  CHECK(msg.level == "warn");
  CHECK(result.config.phases.script == strings{"a"});
}

TEST_CASE("garbage never crashes the parser") {
  std::vector<std::string> inputs{
    ":", "[", "]", "{", "- - -", "&a [*a]", "a: &x {b: *x}", "? [a]\n: b",
    "<<: *nope", "a: &a\n  <<: *a\n", "\t", "%YAML 9.9\n---\na: 1",
    "!!binary aGVsbG8=", "script: !!map x", "env: !!seq", "\xff\xfe\x00\x01",
    std::string("script: a\0b", 11), "key: \"unterminated", "\xef\xbb\xbf",
    "jobs: {include: [*x]}", "env: {global: {jobs: {global: 1}}}",
    std::string(10000, '['), std::string(10000, '{'), std::string(5000, '-')};
  std::string bin;
  std::mt19937 rng{42};
  for (int i = 0; i < 4096; ++i)
    bin += static_cast<char>(rng() & 0xff);
  inputs.push_back(bin);
  for (const auto& text : inputs) {
    auto result = parse_build_config(text);
    INFO(text.substr(0, 40));
    for (const auto& msg : result.messages)
      CHECK(is_level(msg.level));
  }
  // Tags are not checked: these read as plain values.
  CHECK(parse_build_config("script: !!map x").config.phases.script
        == strings{"x"});
}

TEST_CASE("a stray comma at document level is a syntax error") {
  // yaml-cpp 0.7 loops forever on this in LoadAll.
  for (auto text : {",", ",a: b", ", a", "script: x\n---\n,"}) {
    auto result = parse_build_config(text);
    INFO(text);
    REQUIRE(result.messages.size() == 1);
    CHECK(result.messages[0].code == "syntax_error");
    CHECK(result.messages[0].message == "invalid YAML: unexpected ','");
  }
  auto result = parse_build_config("script: x\n---\n,");
  CHECK(result.messages[0].line == 3);
  CHECK(result.messages[0].column == 1);
}

TEST_CASE("random mutations of a valid config never crash the parser") {
  const std::string base = "language: c\n"
                           "env:\n"
                           "  global: [A=1]\n"
                           "  jobs:\n"
                           "    - FOO=1 BAR=\"x y\"\n"
                           "    - {FOO: 2}\n"
                           "script:\n"
                           "  - make\n"
                           "jobs:\n"
                           "  fast_finish: true\n"
                           "  include:\n"
                           "    - &j {name: n, env: X=1, script: s}\n"
                           "    - <<: *j\n"
                           "  allow_failures: [{env: FOO=1}]\n";
  const std::string alphabet = ":-[]{}&*!|>'\"#,? \n\tabc=<";
  std::mt19937 rng{7};
  for (int i = 0; i < 3000; ++i) {
    auto text = base;
    auto edits = 1 + rng() % 4;
    for (size_t e = 0; e < edits; ++e) {
      auto pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 3); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
      if (text.empty())
        text = "x";
    }
    auto result = parse_build_config(text);
    for (const auto& msg : result.messages) {
      CHECK(is_level(msg.level));
      CHECK(msg.line >= 0);
    }
  }
}

TEST_CASE("a 1 MB config is parsed") {
  std::string text = "script:\n";
  size_t lines = 0;
  while (text.size() < 1024 * 1024) {
    text += "  - echo line " + std::to_string(lines++) + "\n";
  }
  auto result = parse_build_config(text);
  CHECK(result.messages.empty());
  REQUIRE(result.config.phases.script);
  CHECK(result.config.phases.script->size() == lines);
  CHECK(result.config.phases.script->back()
        == "echo line " + std::to_string(lines - 1));

  std::string big = "script: |\n";
  while (big.size() < 1024 * 1024)
    big += "  echo some rather long line of shell to fill the file\n";
  result = parse_build_config(big);
  CHECK(result.messages.empty());
  REQUIRE(result.config.phases.script);
  CHECK(result.config.phases.script->front().size() > 900 * 1024);
}

TEST_CASE("aliases cannot blow a config up") {
  std::string text = "a: &a \"" + std::string(64 * 1024, 'x') + "\"\nscript:\n";
  for (int i = 0; i < 1000; ++i)
    text += "  - *a\n";
  auto result = parse_build_config(text);
  CHECK(only(result, "too_large").level == "error");
  CHECK(result.config.phases.script->size() < 300);

  std::string jobs = "script: s\njobs:\n  include:\n";
  for (int i = 0; i < 250; ++i)
    jobs += "    - name: j" + std::to_string(i) + "\n";
  result = parse_build_config(jobs);
  CHECK(only(result, "too_many_jobs").line == 204);
  CHECK(result.config.jobs.include.size() == max_jobs);
}

TEST_CASE("findings are capped, and the cap never hides an error") {
  std::string text = "script: s\n";
  for (int i = 0; i < 150; ++i)
    text += "unknown" + std::to_string(i) + ": x\n";
  auto result = parse_build_config(text);
  REQUIRE(result.messages.size() == 101);
  CHECK(result.messages.back().code == "too_many_messages");
  CHECK(result.messages.back().level == "info");
  CHECK(result.messages.back().message
        == "50 more findings are not shown (0 of them errors)");
  CHECK_FALSE(has_errors(result.messages));

  text += "install: {a: 1}\n";
  result = parse_build_config(text);
  REQUIRE(result.messages.size() == 101);
  CHECK(result.messages.back().level == "error");
  CHECK(result.messages.back().message
        == "51 more findings are not shown (1 of them errors)");
  CHECK(has_errors(result.messages));
}
