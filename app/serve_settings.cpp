#include "app/serve_settings.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <caf/sec.hpp>
#include <yaml-cpp/yaml.h>

#include "app/options.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

caf::error invalid(std::string what) {
  return caf::make_error(caf::sec::invalid_argument, std::move(what));
}

/// One setting: its name (flag, file key; env var after upper-casing), what
/// it means, its default as text, and how it is applied.
struct setting {
  const char* name;
  const char* help;
  const char* fallback;
  std::function<caf::error(const std::string&, serve_settings&)> apply;
};

caf::error set_duration(const std::string& text, std::chrono::milliseconds& out) {
  auto ms = parse_duration_ms(text);
  if (!ms)
    return ms.error();
  out = std::chrono::milliseconds(*ms);
  return {};
}

caf::error set_ms(const std::string& text, int64_t& out) {
  auto ms = parse_duration_ms(text);
  if (!ms)
    return ms.error();
  out = *ms;
  return {};
}

// Without surrounding blanks and line ends.
std::string trimmed(std::string text) {
  auto blank = [](char c) {
    return c == '\n' || c == '\r' || c == ' ' || c == '\t';
  };
  while (!text.empty() && blank(text.back()))
    text.pop_back();
  size_t first = 0;
  while (first < text.size() && blank(text[first]))
    ++first;
  return text.substr(first);
}

// Reads a secret (token, password, key) from the file at `path` into `out`:
// "" leaves `out` as it is; an unreadable or empty file is an error naming
// `what` ("token", "password", ...).
caf::error read_secret(const std::string& path, const std::string& what,
                       std::string& out) {
  if (path.empty())
    return caf::error{};
  std::ifstream in{path};
  if (!in)
    return invalid("cannot read the " + what + " file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto secret = trimmed(buf.str());
  if (secret.empty())
    return invalid("the " + what + " file " + path + " is empty");
  out = std::move(secret);
  return caf::error{};
}

const std::vector<setting>& settings_table() {
  static const std::vector<setting> table{
    {"data", "directory of the store and the workspaces", "conveyor-data",
     [](const std::string& x, serve_settings& s) {
       s.data_dir = x;
       return caf::error{};
     }},
    {"db", "the store: sqlite (in --data) or postgres://USER@HOST:PORT/DB "
           "(password: PGPASSWORD, ~/.pgpass or --db-password-file)",
     "sqlite",
     [](const std::string& x, serve_settings& s) {
       if (x == "sqlite" || x.empty()) {
         s.db_url.clear();
         return caf::error{};
       }
       if (x.rfind("postgres://", 0) != 0 && x.rfind("postgresql://", 0) != 0)
         return invalid("want sqlite or a postgres:// URL");
       auto at = x.find('@');
       auto userinfo = at == std::string::npos
                         ? std::string{}
                         : x.substr(x.find("://") + 3, at - x.find("://") - 3);
       if (userinfo.find(':') != std::string::npos
           || x.find("password=") != std::string::npos)
         return invalid("the URL holds a password, which would show in "
                        "process lists and logs: use PGPASSWORD, ~/.pgpass "
                        "or --db-password-file");
       s.db_url = x;
       return caf::error{};
     }},
    {"db-password-file", "file with the PostgreSQL password", "",
     [](const std::string& x, serve_settings&) {
       std::string password;
       if (auto err = read_secret(x, "password", password))
         return err;
       // libpq reads it from the environment, so it never is in the URL.
       if (!password.empty())
         ::setenv("PGPASSWORD", password.c_str(), 1);
       return caf::error{};
     }},
    {"http", "address of the HTTP API, HOST:PORT (port 0: any free port)",
     "127.0.0.1:8080",
     [](const std::string& x, serve_settings& s) {
       auto colon = x.rfind(':');
       if (colon == std::string::npos || colon == 0)
         return invalid("invalid address '" + x + "' (want HOST:PORT)");
       auto port = x.substr(colon + 1);
       if (port.empty() || port.size() > 5
           || port.find_first_not_of("0123456789") != std::string::npos
           || std::stoi(port) > 65535)
         return invalid("invalid port in '" + x + "'");
       s.http_host = x.substr(0, colon);
       s.http_port = static_cast<uint16_t>(std::stoi(port));
       return caf::error{};
     }},
    {"workers", "local worker slots (jobs run at once)", "2",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_count(x);
       if (!n)
         return n.error();
       s.workers = static_cast<size_t>(*n);
       return caf::error{};
     }},
    {"timeout", "hard time limit per job", "50m",
     [](const std::string& x, serve_settings& s) {
       return set_ms(x, s.limits.timeout_ms);
     }},
    {"no-output-timeout", "limit on a job's silence", "10m",
     [](const std::string& x, serve_settings& s) {
       return set_ms(x, s.limits.no_output_timeout_ms);
     }},
    {"max-log-size", "limit on a job's log", "4MiB",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_size(x);
       if (!n)
         return n.error();
       s.limits.max_log_bytes = *n;
       return caf::error{};
     }},
    {"kill-grace", "time between TERM and KILL when a job is stopped", "5s",
     [](const std::string& x, serve_settings& s) {
       return set_duration(x, s.kill_grace);
     }},
    {"shutdown-grace",
     "on SIGINT/SIGTERM, how long running jobs may finish before they are "
     "canceled", "30s",
     [](const std::string& x, serve_settings& s) {
       return set_duration(x, s.shutdown_grace);
     }},
    {"max-attempts", "runs of a job lost to a restart, in all, before it errors",
     "3",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_count(x);
       if (!n)
         return n.error();
       s.max_attempts = static_cast<int32_t>(*n);
       return caf::error{};
     }},
    {"max-body-size", "largest request body the API accepts", "1MiB",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_size(x);
       if (!n)
         return n.error();
       s.max_body_bytes = static_cast<size_t>(*n);
       return caf::error{};
     }},
    {"api-token-file",
     "file holding the bearer token that mutating API calls need (or set "
     "CONVEYOR_API_TOKEN); none: no token needed", "",
     [](const std::string& x, serve_settings& s) {
       return read_secret(x, "token", s.api_token);
     }},
    {"github-webhook-secret-file",
     "file with the secret(s) GitHub signs webhook deliveries with, one a "
     "line (or set CONVEYOR_GITHUB_WEBHOOK_SECRET, comma-separated); none: "
     "deliveries are not checked", "",
     [](const std::string& x, serve_settings& s) {
       if (x.empty())
         return caf::error{};
       std::ifstream in{x};
       if (!in)
         return invalid("cannot read the secret file " + x);
       for (std::string line; std::getline(in, line);)
         if (auto secret = trimmed(line); !secret.empty())
           s.webhook_secrets.push_back(secret);
       if (s.webhook_secrets.empty())
         return invalid("the secret file " + x + " is empty");
       return caf::error{};
     }},
    {"github-api-url", "base URL of the GitHub API (GitHub Enterprise: "
     "https://HOST/api/v3)", "https://api.github.com",
     [](const std::string& x, serve_settings& s) {
       if (x.rfind("https://", 0) != 0 && x.rfind("http://", 0) != 0)
         return invalid("want an http:// or https:// URL");
       s.github_api_url = x;
       return caf::error{};
     }},
    {"github-token-file",
     "file with a GitHub token for commit statuses (or set "
     "CONVEYOR_GITHUB_TOKEN)", "",
     [](const std::string& x, serve_settings& s) {
       return read_secret(x, "token", s.github_token);
     }},
    {"github-app-id", "GitHub App id, instead of a token", "",
     [](const std::string& x, serve_settings& s) {
       s.github_app_id = x;
       return caf::error{};
     }},
    {"github-app-key-file", "the GitHub App's private key (PEM)", "",
     [](const std::string& x, serve_settings& s) {
       return read_secret(x, "key", s.github_app_key);
     }},
    {"github-app-installation", "the GitHub App's installation id", "",
     [](const std::string& x, serve_settings& s) {
       if (x.empty())
         return caf::error{};
       if (x.size() > 19 || x.find_first_not_of("0123456789") != std::string::npos)
         return invalid("invalid installation id '" + x + "'");
       s.github_app_installation = std::stoull(x);
       return caf::error{};
     }},
    {"github-timeout", "time limit of one GitHub API call", "20s",
     [](const std::string& x, serve_settings& s) {
       return set_duration(x, s.github_timeout);
     }},
    {"github-breaker-failures",
     "consecutive failed GitHub calls that open a host's circuit breaker", "5",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_count(x);
       if (!n)
         return n.error();
       if (*n == 0)
         return invalid("must be at least 1");
       s.github_breaker_failures = static_cast<uint32_t>(*n);
       return caf::error{};
     }},
    {"github-breaker-open-for",
     "how long an open breaker refuses calls before one probe", "30s",
     [](const std::string& x, serve_settings& s) {
       return set_duration(x, s.github_breaker_open_for);
     }},
    {"public-url", "base of the links on commit statuses (default: "
                   "http://HOST:PORT of --http)", "",
     [](const std::string& x, serve_settings& s) {
       s.public_url = x;
       return caf::error{};
     }},
    {"log-level", "trace, debug, info, warn, error or off", "info",
     [](const std::string& x, serve_settings& s) {
       s.log_level = x;
       return caf::error{};
     }},
    {"max-restarts",
     "restarts a supervisor allows within --restart-window before it gives up",
     "10",
     [](const std::string& x, serve_settings& s) {
       auto n = parse_count(x);
       if (!n)
         return n.error();
       s.max_restarts = static_cast<size_t>(*n);
       return caf::error{};
     }},
    {"restart-window", "the window of --max-restarts", "10s",
     [](const std::string& x, serve_settings& s) {
       std::chrono::milliseconds ms{0};
       if (auto err = set_duration(x, ms))
         return err;
       if (ms < std::chrono::seconds(1))
         return invalid("must be at least 1s");
       s.restart_window = std::chrono::duration_cast<std::chrono::seconds>(ms);
       return caf::error{};
     }},
    {"executor", "how jobs run: process (real processes) or noop (nothing "
                 "runs; for benchmarks of the orchestration)", "process",
     [](const std::string& x, serve_settings& s) {
       if (x != "process" && x != "noop")
         return invalid("unknown executor '" + x + "' (want process or noop)");
       s.noop_executor = x == "noop";
       return caf::error{};
     }},
  };
  return table;
}

std::string env_name(const std::string& name) {
  std::string result = "CONVEYOR_";
  for (auto c : name)
    result += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return result;
}

caf::expected<std::map<std::string, std::string>>
read_config_file(const std::string& path) {
  std::map<std::string, std::string> result;
  try {
    auto root = YAML::LoadFile(path);
    if (root.IsNull())
      return result;
    if (!root.IsMap())
      return invalid(path + ": expected a map of settings");
    for (auto entry : root) {
      auto key = entry.first.as<std::string>();
      if (!entry.second.IsScalar())
        return invalid(path + ": '" + key + "' must be a single value");
      result[key] = entry.second.as<std::string>();
    }
  } catch (const YAML::Exception& ex) {
    return invalid(path + ": " + ex.what());
  }
  return result;
}

} // namespace

caf::expected<serve_settings_result>
load_serve_settings(const std::vector<std::string>& args,
                    const std::function<const char*(const char*)>& getenv) {
  std::vector<std::string> names{"config"};
  for (auto& s : settings_table())
    names.push_back(s.name);
  auto parsed = parse_args(args, names, {"help", "enable-fault-injection"});
  if (!parsed)
    return parsed.error();
  serve_settings_result result;
  if (parsed->has("help")) {
    result.help = true;
    return result;
  }
  if (!parsed->positional.empty())
    return invalid("unexpected argument '" + parsed->positional.front() + "'");
  // Lowest precedence first; later sources overwrite.
  std::map<std::string, std::string> values;
  for (auto& s : settings_table())
    values[s.name] = s.fallback;
  auto config_path = parsed->get("config");
  if (!config_path)
    if (auto env = getenv("CONVEYOR_CONFIG"))
      config_path = env;
  if (config_path) {
    auto file = read_config_file(*config_path);
    if (!file)
      return file.error();
    for (auto& [key, value] : *file) {
      if (values.count(key) == 0)
        return invalid(*config_path + ": unknown setting '" + key + "'");
      values[key] = value;
    }
  }
  for (auto& s : settings_table())
    if (auto env = getenv(env_name(s.name).c_str()))
      values[s.name] = env;
  for (auto& [key, value] : parsed->flags)
    if (key != "config")
      values[key] = value;
  for (auto& s : settings_table())
    if (auto err = s.apply(values[s.name], result.settings))
      return invalid("--" + std::string{s.name} + ": " + describe(err));
  if (auto token = getenv("CONVEYOR_API_TOKEN"); token && *token)
    result.settings.api_token = token;
  if (auto secrets = getenv("CONVEYOR_GITHUB_WEBHOOK_SECRET");
      secrets && *secrets) {
    std::string text = secrets;
    for (size_t at = 0; at <= text.size();) {
      auto comma = std::min(text.find(',', at), text.size());
      if (auto secret = trimmed(text.substr(at, comma - at)); !secret.empty())
        result.settings.webhook_secrets.push_back(secret);
      at = comma + 1;
    }
  }
  if (auto token = getenv("CONVEYOR_GITHUB_TOKEN"); token && *token)
    result.settings.github_token = trimmed(token);
  auto& st = result.settings;
  if (!st.github_app_id.empty()
      && (st.github_app_key.empty() || st.github_app_installation == 0))
    return invalid("--github-app-id needs --github-app-key-file and "
                   "--github-app-installation");
  auto fault_env = getenv("CONVEYOR_ENABLE_FAULT_INJECTION");
  result.settings.fault_injection
    = parsed->has("enable-fault-injection")
      || (fault_env && std::string{fault_env} == "1");
  return result;
}

std::string serve_usage() {
  std::string text = R"(usage: conveyor serve [options]

Runs a node: the coordinator, local worker slots and the HTTP API, on the
embedded SQLite store. SIGINT/SIGTERM stop it gracefully: no new builds, running
jobs get the shutdown grace to finish, then they are canceled.

Each setting comes from --NAME VALUE, else the environment CONVEYOR_NAME (upper
case, '-' as '_'), else the YAML config file (--config FILE or CONVEYOR_CONFIG;
a map of NAME: VALUE), else its default. Secrets come only from the environment
or a file: the API token from CONVEYOR_API_TOKEN or --api-token-file.

With --db postgres://..., several nodes may share one database: the node that
holds its leader lock leads, the others stand by (readyz 503) and take over
when it dies. A leader that finds its lock taken stops with status 3.

settings:
)";
  for (auto& s : settings_table()) {
    std::string name = s.name;
    name.resize(std::max<size_t>(name.size(), 18), ' ');
    text += "  --" + name + " " + s.help;
    text += std::string{" (default: "} + (*s.fallback ? s.fallback : "none")
            + ")\n";
  }
  text += "  --config FILE        settings file (YAML)\n"
          "  --enable-fault-injection\n"
          "                       allow POST /api/debug/crash {\"child\": NAME} "
          "(with the\n"
          "                       API token), which makes that module fail; or "
          "set\n"
          "                       CONVEYOR_ENABLE_FAULT_INJECTION=1\n"
          "  --help               show this text\n";
  return text;
}

} // namespace conveyor
