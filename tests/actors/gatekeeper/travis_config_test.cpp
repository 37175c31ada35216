// Reading and normalizing Travis build configs: YAML as Travis's loader reads
// it, travis-yml's normalization, findings with line and column, and hostile
// input cut off with a clear error in bounded time and memory.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <string>

#include "actors/gatekeeper/config_yaml.hpp"
#include "actors/gatekeeper/travis_config.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"

using namespace conveyor;

namespace {

using clock_type = std::chrono::steady_clock;

config_node str(const std::string& x) {
  return config_node::string(x);
}

config_node list(std::vector<config_node> xs) {
  return config_node::list(std::move(xs));
}

config_node map(std::vector<config_entry> xs) {
  return config_node::map(std::move(xs));
}

// Normalizes `yaml` and requires that it has no finding beyond infos.
config_node clean(const std::string& yaml, travis_options opts = {}) {
  auto result = load_travis_config(yaml, opts);
  for (const auto& msg : result.messages)
    if (msg.level != "info")
      FAIL_CHECK("unexpected finding: " << to_string(msg));
  return result.config;
}

// The only finding with `code`; fails unless there is exactly one.
config_message only(const travis_config& result, const std::string& code) {
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
  return x == "error" || x == "alert" || x == "warn" || x == "info";
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

} // namespace

// -- loading ------------------------------------------------------------------

TEST_CASE("version-like scalars stay strings as Travis's loader keeps them") {
  auto result = load_config_yaml("python: 3.10\n"
                                 "rvm: [2.2, 2.20, 1e3]\n"
                                 "flags: [yes, no, on, off, y, n]\n"
                                 "date: 2019-01-01\n"
                                 "t: true\n"
                                 "f: False\n"
                                 "q: 'true'\n"
                                 "nothing: ~\n"
                                 "empty:\n");
  REQUIRE(result.messages.empty());
  const auto& root = result.root;
  CHECK(root.get("python") == str("3.10"));
  CHECK(root.get("rvm") == list({str("2.2"), str("2.20"), str("1e3")}));
  CHECK(root.get("flags")
        == list({str("yes"), str("no"), str("on"), str("off"), str("y"),
                 str("n")}));
  CHECK(root.get("date") == str("2019-01-01"));
  CHECK(root.get("t") == config_node::boolean(true));
  CHECK(root.get("f") == config_node::boolean(false));
  CHECK(root.get("q") == str("true"));
  REQUIRE(root.find("nothing") != nullptr);
  CHECK(root.get("nothing").is_null());
  CHECK(root.get("empty").is_null());
}

TEST_CASE("values remember where they were written") {
  auto result = load_config_yaml("language: c\n"
                                 "env:\n"
                                 "  - FOO=1\n");
  const auto& env = result.root.get("env");
  CHECK(env.items().at(0).mark().line == 3);
  CHECK(env.items().at(0).mark().column == 5);
  auto entry = result.root.find_entry("env");
  REQUIRE(entry != nullptr);
  CHECK(entry->key_mark.line == 2);
  CHECK(entry->key_mark.column == 1);
}

TEST_CASE("maps compare like Ruby hashes") {
  auto a = map({{"x", str("1"), {}}, {"y", str("2"), {}}});
  auto b = map({{"y", str("2"), {}}, {"x", str("1"), {}}});
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK_FALSE(list({str("1"), str("2")}) == list({str("2"), str("1")}));
  CHECK_FALSE(str("true") == config_node::boolean(true));
  auto c = a;
  c.set("x", str("3"));
  CHECK(a.get("x") == str("1"));
  CHECK(c.get("x") == str("3"));
}

TEST_CASE("merge keys and aliases work and repeated keys warn") {
  auto result = load_config_yaml("base: &base {install: a, script: b}\n"
                                 "job:\n"
                                 "  <<: *base\n"
                                 "  script: c\n"
                                 "again: *base\n"
                                 "script: x\n"
                                 "script: y\n");
  const auto& job = result.root.get("job");
  CHECK(job.get("install") == str("a"));
  CHECK(job.get("script") == str("c"));
  CHECK(result.root.get("again").get("script") == str("b"));
  CHECK(result.root.get("script") == str("y"));
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "duplicate_key");
  CHECK(result.messages[0].level == "warn");
  CHECK(result.messages[0].line == 7);
}

TEST_CASE("only the first document is read and a stray comma is an error") {
  auto result = load_travis_config("script: a\n---\nscript: b\n");
  CHECK(only(result, "multiple_documents").line == 2);
  CHECK(result.config.get("script") == list({str("a")}));
  for (auto text : {",", ",a: b", "script: x\n---\n,"}) {
    INFO(text);
    auto bad = load_travis_config(text);
    REQUIRE(bad.messages.size() == 1);
    CHECK(bad.messages[0].code == "syntax_error");
    CHECK(bad.config.is_null());
  }
}

TEST_CASE("invalid YAML is one syntax error with line and column") {
  auto result = load_travis_config("script: make\nenv: a\n bad: x\n");
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].level == "error");
  CHECK(result.messages[0].code == "syntax_error");
  CHECK(result.messages[0].line == 3);
  CHECK(result.messages[0].column == 5);
  CHECK(result.config.is_null());
}

// -- normalization ------------------------------------------------------------

TEST_CASE("matrix is jobs and env.matrix is env.jobs") {
  auto result = load_travis_config("env:\n"
                                   "  global: G=1\n"
                                   "  matrix: [A=1, A=2]\n"
                                   "matrix:\n"
                                   "  include: {name: x}\n"
                                   "  allowed_failures: [{env: A=2}]\n"
                                   "  fast_failure: true\n");
  const auto& cfg = result.config;
  CHECK(cfg.get("env")
        == map({{"global", list({map({{"G", str("1"), {}}})}), {}},
                {"jobs",
                 list({map({{"A", str("1"), {}}}), map({{"A", str("2"), {}}})}),
                 {}}}));
  CHECK(cfg.get("jobs").get("include")
        == list({map({{"name", str("x"), {}}})}));
  CHECK(cfg.get("jobs").get("allow_failures")
        == list({map({{"env", list({map({{"A", str("2"), {}}})}), {}}})}));
  CHECK(cfg.get("jobs").get("fast_finish") == config_node::boolean(true));
  CHECK_FALSE(cfg.has("matrix"));
  size_t aliases = 0;
  for (const auto& msg : result.messages) {
    CHECK(msg.level == "info");
    if (msg.code == "alias_key")
      ++aliases;
  }
  CHECK(aliases == 4);
}

TEST_CASE("a plain env becomes env.jobs with ordered variable maps") {
  auto one = [](const char* name, const char* value) {
    return config_entry{name, str(value), {}};
  };
  auto cfg = clean("env: FOO=a BAR=\"b c\" BAZ='x y'\n");
  auto jobs = cfg.get("env").get("jobs");
  REQUIRE(jobs.size() == 1);
  const auto& vars = jobs.items()[0].entries();
  REQUIRE(vars.size() == 3);
  CHECK(vars[0].key == "FOO");
  CHECK(vars[1].key == "BAR");
  CHECK(vars[1].value == str("b c"));
  CHECK(vars[2].key == "BAZ");
  cfg = clean("env:\n  - FOO=1\n  - {BAR: 2, BAZ: ~}\n");
  CHECK(cfg.get("env").get("jobs")
        == list({map({one("FOO", "1")}),
                 map({one("BAR", "2"), one("BAZ", "")})}));
  cfg = clean("env: {FOO: a, BAR: b}\n");
  CHECK(cfg.get("env").get("jobs")
        == list({map({one("FOO", "a"), one("BAR", "b")})}));
  CHECK_FALSE(cfg.get("env").has("global"));
}

TEST_CASE("matrix keys become lists at the root and single values in jobs") {
  auto cfg = clean("language: ruby\n"
                   "rvm: 2.2\n"
                   "os: linux\n"
                   "gemfile: [a, b]\n"
                   "jobs:\n"
                   "  include:\n"
                   "    - rvm: 2.3\n"
                   "      os: linux\n");
  CHECK(cfg.get("rvm") == list({str("2.2")}));
  CHECK(cfg.get("os") == list({str("linux")}));
  CHECK(cfg.get("gemfile") == list({str("a"), str("b")}));
  CHECK(cfg.get("language") == str("ruby"));
  auto job = cfg.get("jobs").get("include").items().at(0);
  CHECK(job.get("rvm") == str("2.3"));
  CHECK(job.get("os") == str("linux"));
  auto result = load_travis_config("jobs:\n"
                                   "  include:\n"
                                   "    - os: [linux, osx]\n");
  auto msg = only(result, "unexpected_seq");
  CHECK(msg.level == "warn");
  CHECK(msg.line == 3);
  CHECK(result.config.get("jobs").get("include").items().at(0).get("os")
        == str("linux"));
}

TEST_CASE("boolean conditions become strings and invalid ones are errors") {
  auto cfg = clean("if: false\n"
                   "jobs:\n"
                   "  include:\n"
                   "    - if: true\n"
                   "    - if: branch = master\n");
  CHECK(cfg.get("if") == str("false"));
  auto include = cfg.get("jobs").get("include").items();
  CHECK(include.at(0).get("if") == str("true"));
  CHECK(include.at(1).get("if") == str("branch = master"));
  auto result = load_travis_config("jobs:\n"
                                   "  include:\n"
                                   "    - name: x\n"
                                   "      if: '= kaput'\n");
  auto msg = only(result, "invalid_condition");
  CHECK(msg.level == "error");
  CHECK(msg.key == "jobs.include.if");
  CHECK(msg.line == 4);
  CHECK(msg.column == 11);
  CHECK(has_error_messages(result.messages));
}

TEST_CASE("language os arch and key aliases are resolved") {
  auto result = load_travis_config("language: C++\n"
                                   "os: [mac, Ubuntu]\n"
                                   "arch: x86_64\n"
                                   "ruby: 2.5\n"
                                   "branch: master\n");
  const auto& cfg = result.config;
  CHECK(cfg.get("language") == str("cpp"));
  CHECK(cfg.get("os") == list({str("osx"), str("linux")}));
  CHECK(cfg.get("arch") == list({str("amd64")}));
  CHECK(cfg.get("rvm") == list({str("2.5")}));
  CHECK(cfg.get("branches") == map({{"only", str("master"), {}}}));
  CHECK_FALSE(has_error_messages(result.messages));
}

TEST_CASE("unknown keys and values warn with line and column") {
  auto result = load_travis_config("script: make\n"
                                   "scirpt: typo\n"
                                   "os: plan9\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - name: x\n"
                                   "      colour: red\n"
                                   "  retries: 3\n");
  auto typo = only(result, "unknown_value");
  CHECK(typo.level == "warn");
  CHECK(typo.line == 3);
  CHECK(typo.column == 5);
  std::vector<config_message> unknown;
  for (const auto& msg : result.messages)
    if (msg.code == "unknown_key")
      unknown.push_back(msg);
  REQUIRE(unknown.size() == 3);
  CHECK(unknown[0].key == "scirpt");
  CHECK(unknown[0].line == 2);
  CHECK(unknown[0].column == 1);
  CHECK(unknown[1].key == "jobs.include.colour");
  CHECK(unknown[1].line == 7);
  CHECK(unknown[1].column == 7);
  CHECK(unknown[2].key == "jobs.retries");
  // Unknown keys are kept, as Travis keeps them.
  CHECK(result.config.get("scirpt") == str("typo"));
  CHECK_FALSE(has_error_messages(result.messages));
}

TEST_CASE("values of the wrong type are errors with line and column") {
  auto result = load_travis_config("language: c\n"
                                   "script: {a: 1}\n"
                                   "git: {depth: true}\n"
                                   "jobs:\n"
                                   "  include:\n"
                                   "    - FOO=1\n"
                                   "  fast_finish: maybe\n");
  std::vector<config_message> found;
  for (const auto& msg : result.messages)
    if (msg.code == "invalid_type")
      found.push_back(msg);
  REQUIRE(found.size() == 4);
  for (const auto& msg : found)
    CHECK(msg.level == "error");
  CHECK(found[0].key == "script");
  CHECK(found[0].line == 2);
  CHECK(found[0].column == 9);
  CHECK(found[1].key == "git.depth");
  CHECK(found[2].key == "jobs.include");
  CHECK(found[2].line == 6);
  CHECK(found[3].key == "jobs.fast_finish");
  CHECK(has_error_messages(result.messages));
}

TEST_CASE("invalid env vars are errors") {
  auto result = load_travis_config("env:\n  - FOO=1\n  - BAR='open\n");
  auto msg = only(result, "invalid_env_var");
  CHECK(msg.level == "error");
  CHECK(msg.line == 3);
  result = load_travis_config("env: {1X: a}\n");
  CHECK(only(result, "invalid_env_var").level == "error");
}

TEST_CASE("keys conveyor does not act on are kept and reported") {
  auto result = load_travis_config("language: python\n"
                                   "python: 3.8\n"
                                   "cache: pip\n"
                                   "sudo: false\n"
                                   "deploy:\n"
                                   "  provider: pages\n"
                                   "  github_token: abcdef\n"
                                   "before_deploy: echo\n");
  std::vector<std::string> keys;
  for (const auto& msg : result.messages)
    if (msg.code == "unsupported_key")
      keys.push_back(msg.key);
  CHECK(keys == std::vector<std::string>{"cache", "sudo", "deploy",
                                         "before_deploy"});
  auto secret = only(result, "secure");
  CHECK(secret.level == "alert");
  CHECK(secret.key == "deploy.github_token");
  CHECK(secret.line == 7);
  CHECK(result.config.get("cache") == str("pip"));
  CHECK_FALSE(has_error_messages(result.messages));
}

TEST_CASE("every key of a config is either read or reported") {
  const std::string yaml = "language: ruby\n"
                           "rvm: 2.5\n"
                           "python: 3.8\n"
                           "bundler_args: --x\n"
                           "addons: {apt: {packages: [x]}}\n"
                           "services: [redis]\n"
                           "stages: [test]\n"
                           "branches: {only: [master]}\n"
                           "notifications: {email: false}\n"
                           "import: other.yml\n"
                           "whatever: 1\n"
                           "version: '= 0'\n"
                           "script: make\n";
  auto raw = load_config_yaml(yaml).root;
  auto result = load_travis_config(yaml);
  for (const auto& entry : raw.entries()) {
    INFO("key " << entry.key);
    bool read = result.config.has(entry.key);
    bool reported = std::any_of(result.messages.begin(),
                                result.messages.end(),
                                [&entry](const config_message& msg) {
                                  return msg.key == entry.key;
                                });
    CHECK((read || reported));
  }
  // python is not a ruby key: it is reported as such.
  auto msg = std::find_if(result.messages.begin(), result.messages.end(),
                          [](const config_message& x) {
                            return x.key == "python" && x.level == "warn";
                          });
  REQUIRE(msg != result.messages.end());
  CHECK(msg->message.find("language ruby") != std::string::npos);
}

TEST_CASE("defaults are added only when asked") {
  CHECK_FALSE(clean("script: make\n").has("language"));
  travis_options opts;
  opts.defaults = true;
  auto result = load_travis_config("script: make\n", opts);
  CHECK(result.config.get("language") == str("ruby"));
  CHECK(result.config.get("os") == list({str("linux")}));
  CHECK(result.config.get("dist") == str("focal"));
  for (const auto& msg : result.messages) {
    CHECK(msg.code == "default");
    CHECK(msg.level == "info");
  }
  result = load_travis_config("language: objective-c\n", opts);
  CHECK(result.config.get("os") == list({str("osx")}));
  CHECK_FALSE(result.config.has("dist"));
}

TEST_CASE("stages and branches are normalized") {
  auto cfg = clean("stages:\n"
                   "  - test\n"
                   "  - name: deploy\n"
                   "    if: branch = master\n"
                   "branches:\n"
                   "  except: /^wip-/\n");
  CHECK(cfg.get("stages")
        == list({map({{"name", str("test"), {}}}),
                 map({{"name", str("deploy"), {}},
                      {"if", str("branch = master"), {}}})}));
  CHECK(cfg.get("branches") == map({{"except", str("/^wip-/"), {}}}));
}

TEST_CASE("an empty config or one that is not a map is an error") {
  for (auto text : {"", "\n", "# comment\n", "~\n"}) {
    INFO(text);
    auto result = load_travis_config(text);
    REQUIRE(result.messages.size() == 1);
    CHECK(result.messages[0].code == "empty_config");
    CHECK(result.messages[0].level == "error");
  }
  for (auto text : {"just a string", "- a\n- b\n"}) {
    INFO(text);
    auto result = load_travis_config(text);
    REQUIRE(result.messages.size() == 1);
    CHECK(result.messages[0].code == "invalid_type");
    CHECK(result.messages[0].line == 1);
  }
}

// -- hostile input ------------------------------------------------------------

TEST_CASE("a 5 MB config is refused at once") {
  std::string text = "script:\n";
  while (text.size() < 5 * 1024 * 1024)
    text += "  - echo some line of a very long build script\n";
  auto start = clock_type::now();
  auto result = load_travis_config(text);
  CHECK(seconds_since(start) < 2.0);
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].level == "error");
  CHECK(result.messages[0].code == "too_large");
  CHECK(result.config.is_null());
}

TEST_CASE("a config just under the size limit is read") {
  std::string text = "script:\n";
  size_t lines = 0;
  while (text.size() < max_config_text_bytes - 100) {
    text += "  - echo line " + std::to_string(lines++) + "\n";
  }
  auto start = clock_type::now();
  auto result = load_travis_config(text);
  CHECK(seconds_since(start) < 30.0);
  CHECK_FALSE(has_error_messages(result.messages));
  CHECK(result.config.get("script").size() == lines);
}

TEST_CASE("1000 levels of nesting are an error not a crash") {
  std::string flow = "script: " + std::string(1000, '[')
                     + std::string(1000, ']') + "\n";
  std::string block;
  for (int i = 0; i < 1000; ++i)
    block += std::string(static_cast<size_t>(i), ' ') + "k" + std::to_string(i)
             + ":\n";
  for (const auto& text : {flow, block, std::string(100000, '[')}) {
    auto result = load_travis_config(text);
    REQUIRE(result.messages.size() == 1);
    INFO(to_string(result.messages[0]));
    CHECK(result.messages[0].level == "error");
    bool deep = result.messages[0].code == "too_deep"
                || result.messages[0].code == "syntax_error";
    CHECK(deep);
    CHECK(result.config.is_null());
  }
}

TEST_CASE("alias bombs are cut off") {
  // "Billion laughs": each level repeats the previous one ten times.
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    auto prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j)
      text += (j > 0 ? ", " : "") + prev;
    text += "]\n";
  }
  text += "script: *a9\n";
  auto start = clock_type::now();
  auto result = load_travis_config(text);
  CHECK(seconds_since(start) < 2.0);
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "too_large");
  CHECK(result.messages[0].level == "error");
  // A large string repeated by aliases counts every time it is used.
  std::string big = "a: &a \"" + std::string(64 * 1024, 'x') + "\"\nscript:\n";
  for (int i = 0; i < 1000; ++i)
    big += "  - *a\n";
  result = load_travis_config(big);
  REQUIRE(result.messages.size() == 1);
  CHECK(result.messages[0].code == "too_large");
  // An alias inside the value it names is refused.
  result = load_travis_config("a: &a [x, *a]\nscript: x\n");
  CHECK(only(result, "recursive_alias").level == "error");
}

TEST_CASE("a 10000 entry env list is too many jobs") {
  std::string text = "script: make\nenv:\n";
  for (int i = 0; i < 10000; ++i)
    text += "  - I=" + std::to_string(i) + "\n";
  auto start = clock_type::now();
  auto cfg = load_travis_config(text);
  REQUIRE_FALSE(has_error_messages(cfg.messages));
  auto plan = plan_travis_jobs(cfg.config, config_node::map());
  CHECK(seconds_since(start) < 5.0);
  CHECK(plan.jobs.empty());
  REQUIRE(plan.messages.size() == 1);
  CHECK(plan.messages[0].code == "too_many_jobs");
  CHECK(plan.messages[0].level == "error");
}

TEST_CASE("the most jobs a build may have is configurable") {
  auto cfg = load_travis_config("env: [A=1, A=2, A=3]\n").config;
  travis_options opts;
  opts.max_jobs = 2;
  auto plan = plan_travis_jobs(cfg, config_node::map(), opts);
  CHECK(plan.jobs.empty());
  REQUIRE(plan.messages.size() == 1);
  CHECK(plan.messages[0].code == "too_many_jobs");
  opts.max_jobs = 3;
  plan = plan_travis_jobs(cfg, config_node::map(), opts);
  CHECK(plan.jobs.size() == 3);
  CHECK(plan.messages.empty());
  CHECK(travis_options{}.max_jobs == 200);
}

TEST_CASE("findings are capped and the cap never hides an error") {
  std::string text = "script: s\n";
  for (int i = 0; i < 150; ++i)
    text += "unknown" + std::to_string(i) + ": x\n";
  text += "install: {a: 1}\n";
  auto result = load_travis_config(text);
  REQUIRE(result.messages.size() == 101);
  CHECK(result.messages.back().code == "too_many_messages");
  CHECK(result.messages.back().level == "error");
  CHECK(has_error_messages(result.messages));
}

TEST_CASE("random mutations of a valid config never crash") {
  const std::string base = "language: ruby\n"
                           "rvm: [2.5, 2.6]\n"
                           "os: [linux, osx]\n"
                           "env:\n"
                           "  global: [A=1]\n"
                           "  jobs:\n"
                           "    - FOO=1 BAR=\"x y\"\n"
                           "    - {FOO: 2}\n"
                           "script:\n"
                           "  - make\n"
                           "stages: [test, {name: deploy, if: tag IS present}]\n"
                           "jobs:\n"
                           "  fast_finish: true\n"
                           "  include:\n"
                           "    - &j {name: n, env: X=1, script: s, stage: deploy}\n"
                           "    - <<: *j\n"
                           "      if: branch = master\n"
                           "  exclude: [{rvm: 2.5, os: osx}]\n"
                           "  allow_failures: [{env: FOO=1}]\n";
  const std::string alphabet = ":-[]{}&*!|>'\"#,? \n\tabc=<";
  std::mt19937 rng{11};
  auto data = map({{"branch", str("master"), {}}});
  for (int i = 0; i < 2000; ++i) {
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
    auto result = load_travis_config(text);
    for (const auto& msg : result.messages)
      CHECK(is_level(msg.level));
    auto plan = plan_travis_jobs(result.config, data);
    CHECK(plan.jobs.size() <= 200);
  }
}
