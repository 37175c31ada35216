// Travis build config conformance: every case of the fixtures converted from
// travis-yml's and travis-core's own specs (../shared/fixtures/travis/
// README.md, sections 1, 2a, 2b and 5), each checked in its own section that
// names it. The fixtures are read at test time from the repository root.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/config_node.hpp"
#include "actors/gatekeeper/travis_config.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"

using namespace conveyor;
using json = nlohmann::json;

namespace fs = std::filesystem;

namespace {

const fs::path fixture_dir = "../shared/fixtures/travis";

// Cases where conveyor deliberately answers differently from Travis, keyed
// by the case's `source` (file:line of the spec) and name, with the reason.
// Empty: every case behaves as in Travis.
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
  REQUIRE_FALSE(doc.empty());
  return cache.emplace(name, std::move(doc)).first->second;
}

// JSON as the config nodes Travis's loader gives: numbers become their text.
config_node to_node(const json& x) {
  if (x.is_null())
    return {};
  if (x.is_boolean())
    return config_node::boolean(x.get<bool>());
  if (x.is_string())
    return config_node::string(x.get<std::string>());
  if (x.is_number())
    return config_node::string(x.dump());
  if (x.is_array()) {
    std::vector<config_node> items;
    for (const auto& item : x)
      items.push_back(to_node(item));
    return config_node::list(std::move(items));
  }
  std::vector<config_entry> entries;
  for (const auto& [key, value] : x.items())
    entries.push_back({key, to_node(value), {}});
  return config_node::map(std::move(entries));
}

config_node to_list(const std::vector<config_node>& xs) {
  return config_node::list(xs);
}

travis_options options_of(const json& c) {
  travis_options opts;
  if (c.contains("opts") && c.at("opts").contains("defaults"))
    opts.defaults = c.at("opts").at("defaults").get<bool>();
  return opts;
}

// The case's identity: where the spec asserts it, and its name.
std::string key_of(const json& c) {
  return c.at("source").get<std::string>() + " "
         + c.at("name").get<std::string>();
}

// Normalizes a case's YAML, showing the findings if the check fails.
config_node normalized(const json& c) {
  auto cfg = load_travis_config(c.at("yaml").get<std::string>(),
                                options_of(c));
  for (const auto& msg : cfg.messages)
    UNSCOPED_INFO("finding: " << to_string(msg));
  return cfg.config;
}

void check_same(const config_node& actual, const json& expected) {
  INFO("expected: " << expected.dump());
  INFO("actual:   " << to_json(actual, 100000));
  CHECK(actual == to_node(expected));
}

} // namespace

TEST_CASE("travis-yml matrix fixtures") {
  const auto& cases = fixture("matrix.json");
  for (const auto& c : cases) {
    auto key = key_of(c);
    DYNAMIC_SECTION(key) {
      if (deliberately_differs(key))
        continue;
      INFO("yaml:\n" << c.at("yaml").get<std::string>());
      auto config = normalized(c);
      auto rows = expand_travis_matrix(config, to_node(c.at("data")),
                                       options_of(c));
      for (const auto& msg : rows.messages)
        UNSCOPED_INFO("finding: " << to_string(msg));
      check_same(to_list(rows.rows), c.at("expected_rows"));
    }
  }
}

TEST_CASE("travis-yml allow_failures fixtures") {
  const auto& cases = fixture("allow_failures.json");
  for (const auto& c : cases) {
    auto key = key_of(c);
    DYNAMIC_SECTION(key) {
      if (deliberately_differs(key))
        continue;
      INFO("yaml:\n" << c.at("yaml").get<std::string>());
      // The spec passes no options: defaults are off.
      auto config = normalized(c);
      auto plan = plan_travis_jobs(config, to_node(c.at("data")),
                                   options_of(c));
      for (const auto& msg : plan.messages)
        UNSCOPED_INFO("finding: " << to_string(msg));
      check_same(to_list(plan.jobs), c.at("expected_jobs"));
    }
  }
}

TEST_CASE("travis-yml stages fixtures") {
  const auto& cases = fixture("stages.json");
  for (const auto& c : cases) {
    auto key = key_of(c);
    DYNAMIC_SECTION(key) {
      if (deliberately_differs(key))
        continue;
      INFO("config: " << c.at("config").dump());
      INFO("jobs: " << c.at("jobs").dump());
      std::vector<config_node> jobs;
      for (const auto& job : c.at("jobs"))
        jobs.push_back(to_node(job));
      auto result = apply_travis_stages(to_node(c.at("config")),
                                        std::move(jobs),
                                        to_node(c.at("data")));
      auto subject = c.at("subject").get<std::string>();
      if (subject == "job_stage_names") {
        std::vector<config_node> names;
        for (const auto& job : result.jobs)
          names.push_back(job.get("stage"));
        check_same(to_list(names), c.at("expected"));
      } else if (subject == "stages") {
        check_same(to_list(result.stages), c.at("expected"));
      } else {
        REQUIRE(subject == "apply");
        check_same(to_list({to_list(result.stages), to_list(result.jobs)}),
                   c.at("expected"));
      }
    }
  }
}

TEST_CASE("travis-core ci_skip fixtures") {
  const auto& cases = fixture("ci_skip.json");
  for (const auto& c : cases) {
    auto key = key_of(c);
    DYNAMIC_SECTION(key) {
      if (deliberately_differs(key))
        continue;
      auto message = c.at("message").get<std::string>();
      INFO("message: " << message);
      CHECK(skips_ci(message) == c.at("skip").get<bool>());
    }
  }
}

TEST_CASE("travis-core branches fixtures") {
  const auto& cases = fixture("branches.json");
  for (const auto& c : cases) {
    auto key = key_of(c);
    DYNAMIC_SECTION(key) {
      if (deliberately_differs(key))
        continue;
      INFO("config: " << c.at("config").dump());
      auto branches = to_node(c.at("config"));
      auto branch = c.at("branch").get<std::string>();
      INFO("branch: " << branch);
      auto method = c.at("method").get<std::string>();
      if (method == "included?") {
        CHECK(branch_included(branches, branch)
              == c.at("included").get<bool>());
      } else {
        REQUIRE(method == "excluded?");
        CHECK(branch_excluded(branches, branch)
              == c.at("excluded").get<bool>());
      }
    }
  }
}
