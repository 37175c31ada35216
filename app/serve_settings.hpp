#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "messages/job.hpp"

namespace conveyor {

/// Everything `conveyor serve` can be told. Each setting comes, from lowest
/// to highest precedence, from its default, the config file (`--config`),
/// the environment (`CONVEYOR_<NAME>`) and the command line (`--name`).
struct serve_settings {
  std::filesystem::path data_dir = "conveyor-data";
  /// Empty: SQLite in the data directory; else a PostgreSQL URL without a
  /// password (that comes from PGPASSWORD, ~/.pgpass or --db-password-file).
  std::string db_url;
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;
  size_t workers = 2;
  job_limits limits;
  std::chrono::milliseconds kill_grace{5000};
  std::chrono::milliseconds shutdown_grace{30000};
  int32_t max_attempts = 3;
  size_t max_body_bytes = 1024 * 1024;
  std::string api_token; ///< only from CONVEYOR_API_TOKEN or a token file
  std::string log_level = "info";
  bool noop_executor = false;
  /// Restart intensity of each supervisor: more restarts than this within
  /// the window and the supervisor gives up (the root's giving up stops the
  /// node with a non-zero exit).
  size_t max_restarts = 10;
  std::chrono::seconds restart_window{10};
  /// POST /api/debug/crash works (with the API token): for tests and drills.
  bool fault_injection = false;
  /// Secrets GitHub webhook deliveries may be signed with; only from
  /// CONVEYOR_GITHUB_WEBHOOK_SECRET (comma-separated) or a file (one a line).
  std::vector<std::string> webhook_secrets;
  /// The GitHub API (commit statuses): its base URL, and a token (from
  /// CONVEYOR_GITHUB_TOKEN or a file) or a GitHub App (id, key file,
  /// installation). Neither: no statuses are sent.
  std::string github_api_url = "https://api.github.com";
  std::string github_token;
  std::string github_app_id;
  std::string github_app_key; ///< the PEM text, read from the key file
  uint64_t github_app_installation = 0;
  std::chrono::milliseconds github_timeout{20000};
  /// Consecutive failures that open a GitHub host's breaker.
  uint32_t github_breaker_failures = 5;
  /// How long an open breaker waits before its probe.
  std::chrono::milliseconds github_breaker_open_for{30000};
  /// Base of the links on commit statuses; empty: http://HOST:PORT.
  std::string public_url;
};

/// Reads the settings from `args` (after `serve`), the environment (through
/// `getenv`) and the config file they name. A `--help` in `args` answers an
/// empty error-free result with `help` set.
struct serve_settings_result {
  serve_settings settings;
  bool help = false;
};

caf::expected<serve_settings_result>
load_serve_settings(const std::vector<std::string>& args,
                    const std::function<const char*(const char*)>& getenv);

/// The text of `conveyor serve --help`: every setting with its default.
std::string serve_usage();

} // namespace conveyor
