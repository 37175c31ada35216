#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "app/serve_settings.hpp"
#include "messages/error.hpp"

using namespace conveyor;

namespace {

/// A fake environment: only what a test puts in it.
struct environment {
  std::map<std::string, std::string> vars;

  std::function<const char*(const char*)> getter() const {
    return [this](const char* name) -> const char* {
      auto i = vars.find(name);
      return i == vars.end() ? nullptr : i->second.c_str();
    };
  }
};

std::string write_file(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path()
              / ("conveyor-settings-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream{path} << text;
  return path.string();
}

} // namespace

TEST_CASE("serve settings have documented defaults") {
  environment env;
  auto loaded = load_serve_settings({}, env.getter());
  REQUIRE(loaded);
  auto& s = loaded->settings;
  CHECK(s.data_dir == "conveyor-data");
  CHECK(s.http_host == "127.0.0.1");
  CHECK(s.http_port == 8080);
  CHECK(s.workers == 2);
  CHECK(s.limits.timeout_ms == 50 * 60 * 1000);
  CHECK(s.limits.no_output_timeout_ms == 10 * 60 * 1000);
  CHECK(s.limits.max_log_bytes == 4 * 1024 * 1024);
  CHECK(s.shutdown_grace == std::chrono::seconds(30));
  CHECK(s.api_token.empty());
  CHECK_FALSE(s.noop_executor);
  auto usage = serve_usage();
  CHECK(usage.find("--workers") != std::string::npos);
  CHECK(usage.find("(default: 50m)") != std::string::npos);
  CHECK(usage.find("CONVEYOR_API_TOKEN") != std::string::npos);
  // Long help texts are shown whole.
  CHECK(usage.find("--db-password-file) (default: sqlite)") != std::string::npos);
}

TEST_CASE("flags beat the environment, which beats the config file") {
  auto file = write_file("precedence.yml", "workers: 3\ntimeout: 20m\n"
                                           "http: 0.0.0.0:9000\n");
  environment env;
  env.vars["CONVEYOR_TIMEOUT"] = "5m";
  env.vars["CONVEYOR_NO_OUTPUT_TIMEOUT"] = "90s";
  auto loaded = load_serve_settings({"--config", file, "--no-output-timeout",
                                     "30s", "--executor=noop"},
                                    env.getter());
  REQUIRE(loaded);
  auto& s = loaded->settings;
  CHECK(s.workers == 3);
  CHECK(s.http_host == "0.0.0.0");
  CHECK(s.http_port == 9000);
  CHECK(s.limits.timeout_ms == 5 * 60 * 1000);
  CHECK(s.limits.no_output_timeout_ms == 30 * 1000);
  CHECK(s.noop_executor);
  std::filesystem::remove(file);
}

TEST_CASE("the API token comes from the environment or a file only") {
  auto token_file = write_file("token", "from-file\n");
  environment env;
  auto from_file = load_serve_settings({"--api-token-file", token_file},
                                       env.getter());
  REQUIRE(from_file);
  CHECK(from_file->settings.api_token == "from-file");
  env.vars["CONVEYOR_API_TOKEN"] = "from-env";
  auto from_env = load_serve_settings({}, env.getter());
  REQUIRE(from_env);
  CHECK(from_env->settings.api_token == "from-env");
  auto flag = load_serve_settings({"--api-token", "x"}, env.getter());
  REQUIRE_FALSE(flag);
  CHECK(describe(flag.error()) == "unknown option --api-token");
  std::filesystem::remove(token_file);
}

TEST_CASE("bad settings are refused with the setting's name") {
  environment env;
  auto bad_port = load_serve_settings({"--http", "localhost:99999"}, env.getter());
  REQUIRE_FALSE(bad_port);
  CHECK(describe(bad_port.error()).find("--http") != std::string::npos);
  env.vars["CONVEYOR_WORKERS"] = "many";
  auto bad_env = load_serve_settings({}, env.getter());
  REQUIRE_FALSE(bad_env);
  CHECK(describe(bad_env.error()).find("invalid count 'many'") != std::string::npos);
  env.vars.clear();
  auto file = write_file("unknown.yml", "wokers: 3\n");
  auto unknown = load_serve_settings({"--config", file}, env.getter());
  REQUIRE_FALSE(unknown);
  CHECK(describe(unknown.error()).find("unknown setting 'wokers'") != std::string::npos);
  auto missing = load_serve_settings({"--config", "/nonexistent.yml"}, env.getter());
  REQUIRE_FALSE(missing);
  CHECK(load_serve_settings({"--help"}, env.getter())->help);
  auto no_breaker = load_serve_settings({"--github-breaker-failures", "0"}, env.getter());
  REQUIRE_FALSE(no_breaker);
  CHECK(describe(no_breaker.error()).find("--github-breaker-failures") != std::string::npos);
  std::filesystem::remove(file);
}

TEST_CASE("the GitHub breaker's threshold and cool-down are settings") {
  environment env;
  auto defaults = load_serve_settings({}, env.getter());
  REQUIRE(defaults);
  CHECK(defaults->settings.github_breaker_failures == 5);
  CHECK(defaults->settings.github_breaker_open_for == std::chrono::seconds(30));
  env.vars["CONVEYOR_GITHUB_BREAKER_OPEN_FOR"] = "2m";
  auto set = load_serve_settings({"--github-breaker-failures", "3"}, env.getter());
  REQUIRE(set);
  CHECK(set->settings.github_breaker_failures == 3);
  CHECK(set->settings.github_breaker_open_for == std::chrono::minutes(2));
}
