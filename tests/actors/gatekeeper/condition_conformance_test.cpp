// Travis conditions v1 conformance: every case of the fixtures converted from
// travis-conditions' own specs (../shared/fixtures/travis/README.md, sections
// 3 and 4), each checked in its own section that names it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/gatekeeper/condition.hpp"

using namespace conveyor;
using json = nlohmann::json;

namespace fs = std::filesystem;

namespace {

const fs::path fixture_dir = "../shared/fixtures/travis";

// Cases where conveyor deliberately answers differently from Travis, keyed
// like the sections below ("passes.txt:12", "failures.txt:3", or an eval
// case's source), with the reason. Empty: every case behaves as in Travis.
const std::map<std::string, std::string> deliberate_differences = {};

// True (and says why) if the case `key` is a deliberate difference; its
// Travis expectation is then not checked.
bool deliberately_differs(const std::string& key) {
  auto i = deliberate_differences.find(key);
  if (i == deliberate_differences.end())
    return false;
  WARN(key << " deliberately differs from Travis: " << i->second);
  return true;
}

const json& fixture(const std::string& name) {
  static std::map<std::string, json> cache;
  auto i = cache.find(name);
  if (i != cache.end())
    return i->second;
  auto path = fixture_dir / name;
  INFO("fixture " << fs::absolute(path).string()
                  << " (tests run from the repository root)");
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in.good());
  auto doc = json::parse(std::string{std::istreambuf_iterator<char>{in}, {}});
  return cache.emplace(name, std::move(doc)).first->second;
}

// Fixture data as Travis' `Data` reads it. Numbers become their decimal text:
// condition data holds strings and booleans only (all the gatekeeper has).
condition_value to_value(const json& x) {
  if (x.is_boolean())
    return x.get<bool>();
  if (x.is_string())
    return x.get<std::string>();
  if (x.is_number())
    return x.dump();
  return {};
}

void add_env(condition_data& data, const json& env) {
  if (env.is_object()) {
    for (const auto& [name, value] : env.items())
      data.env[name] = to_value(value);
  } else if (env.is_array()) {
    for (const auto& entry : env)
      add_env(data, entry);
  } else if (env.is_string()) {
    data.add_env_string(env.get<std::string>());
  }
}

condition_data to_data(const json& x) {
  condition_data data;
  for (const auto& [name, value] : x.items()) {
    if (name == "env")
      add_env(data, value);
    else
      data.attributes[name] = to_value(value);
  }
  return data;
}

std::string describe(const condition_parse_result& parsed) {
  return parsed.cond ? "parsed as " + to_string(*parsed.cond)
                     : "error: " + to_string(parsed.error);
}

// The spec parses each fixture line with its newline still attached; the
// line must be read the same way without it.
void check_parse(const std::string& text, bool passes) {
  for (const auto& input : {text + "\n", text}) {
    auto parsed = parse_condition(input);
    INFO(describe(parsed));
    CHECK(parsed.cond.has_value() == passes);
  }
}

} // namespace

TEST_CASE("conditions v1 parse fixtures: passes") {
  const auto& cases = fixture("conditions_v1_parse.json").at("passes");
  const auto& lines = fixture("conditions_v1_parse.json").at("passes_lines");
  REQUIRE(cases.size() == 1307);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto text = cases[i].get<std::string>();
    auto key = "passes.txt:" + lines[i].dump();
    DYNAMIC_SECTION(key << " " << text) {
      if (!deliberately_differs(key))
        check_parse(text, true);
    }
  }
}

TEST_CASE("conditions v1 parse fixtures: failures") {
  const auto& cases = fixture("conditions_v1_parse.json").at("failures");
  const auto& lines = fixture("conditions_v1_parse.json").at("failures_lines");
  REQUIRE(cases.size() == 228);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto text = cases[i].get<std::string>();
    auto key = "failures.txt:" + lines[i].dump();
    DYNAMIC_SECTION(key << " " << text) {
      if (!deliberately_differs(key))
        check_parse(text, false);
    }
  }
}

TEST_CASE("conditions v1 parse fixtures: extra passes") {
  const auto& cases = fixture("conditions_v1_parse.json").at("extra_passes");
  REQUIRE(cases.size() == 2);
  for (const auto& c : cases) {
    auto text = c.at("cond").get<std::string>();
    auto key = c.at("source").get<std::string>();
    DYNAMIC_SECTION(key << " " << text) {
      if (deliberately_differs(key))
        continue;
      auto parsed = parse_condition(text);
      INFO(describe(parsed));
      CHECK(parsed.cond.has_value());
    }
  }
}

TEST_CASE("conditions v1 eval fixtures") {
  const auto& cases = fixture("conditions_v1_eval.json");
  REQUIRE(cases.size() == 68);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    auto source = c.at("source").get<std::string>();
    auto expr = c.at("expr").get<std::string>();
    DYNAMIC_SECTION("#" << i << " " << source << " " << expr) {
      if (deliberately_differs(source))
        continue;
      INFO("data: " << c.at("data").dump());
      auto result = evaluate_condition(expr, to_data(c.at("data")));
      INFO("error: " << (result.error ? to_string(*result.error) : "none"));
      const auto& expected = c.at("expected");
      if (expected.is_boolean()) {
        CHECK_FALSE(result.error);
        CHECK(result.value == expected.get<bool>());
      } else {
        REQUIRE(expected == "error");
        REQUIRE(result.error);
        CHECK(result.error->line == 0); // not a parse error
        if (c.contains("error"))
          CHECK(result.error->message
                == c.at("error").at("message").get<std::string>());
      }
    }
  }
}
