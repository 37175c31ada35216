#include "app/config_command.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/config_yaml.hpp"
#include "actors/gatekeeper/repository.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"
#include "actors/gatekeeper/travis_schema.hpp"
#include "app/options.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

using json = nlohmann::ordered_json;

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;
constexpr int exit_usage = 2;

// The codes of `plan_build` that reject a request rather than a config.
bool is_rejection(const std::string& code) {
  return code == "ci_skip" || code == "github_pages"
         || code == "branch_not_included" || code == "branch_excluded"
         || code == "build_condition";
}

// Reads FILE ("-" for stdin), at most one byte more than the loader accepts:
// a larger file then gets the loader's `too_large` error without being read
// whole into memory.
std::optional<std::string> read_config(const std::string& path,
                                       std::string& error) {
  constexpr auto limit = max_config_text_bytes + 1;
  std::string text;
  auto read_from = [&text](std::istream& in) {
    text.resize(limit);
    in.read(text.data(), static_cast<std::streamsize>(limit));
    text.resize(static_cast<size_t>(in.gcount()));
    return !in.bad();
  };
  if (path == "-") {
    if (!read_from(std::cin)) {
      error = "cannot read the standard input";
      return std::nullopt;
    }
    return text;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    error = "cannot read " + path + ": "
            + (std::filesystem::exists(path, ec) ? "not a regular file"
                                                  : "no such file");
    return std::nullopt;
  }
  std::ifstream in{path, std::ios::binary};
  if (!in || !read_from(in)) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return text;
}

// The name `plan_build` records for a file: what it was given as.
std::string config_name(const std::string& path) {
  if (path == "-")
    return "<stdin>";
  auto name = std::filesystem::path{path}.filename().string();
  return name.empty() ? path : name;
}

// "FILE:LINE:COL: LEVEL: CODE: message", as compilers print diagnostics.
std::string render(const std::string& file, const config_message& m) {
  std::string result = file;
  if (m.line > 0) {
    result += ':' + std::to_string(m.line);
    if (m.column > 0)
      result += ':' + std::to_string(m.column);
  }
  result += ": " + m.level + ": ";
  if (!m.code.empty())
    result += m.code + ": ";
  result += m.message;
  return result;
}

json to_json_value(const config_node& x) {
  switch (x.kind()) {
    case config_node::kind_type::null:
      return nullptr;
    case config_node::kind_type::boolean:
      return x.flag();
    case config_node::kind_type::string:
      return x.text();
    case config_node::kind_type::list: {
      auto result = json::array();
      for (const auto& item : x.items())
        result.push_back(to_json_value(item));
      return result;
    }
    case config_node::kind_type::map: {
      auto result = json::object();
      for (const auto& entry : x.entries())
        result[entry.key] = to_json_value(entry.value);
      return result;
    }
  }
  return nullptr;
}

json to_json_messages(const std::vector<config_message>& messages) {
  auto result = json::array();
  for (const auto& m : messages)
    // Conveyor's findings carry their arguments in the sentence only; `args`
    // stays for the shape of travis-yml's messages.
    result.push_back(json{{"level", m.level},
                          {"key", m.key},
                          {"code", m.code},
                          {"args", json::object()},
                          {"line", m.line},
                          {"column", m.column},
                          {"message", m.message}});
  return result;
}

size_t count_level(const std::vector<config_message>& messages,
                   const std::string& level) {
  size_t n = 0;
  for (const auto& m : messages)
    if (m.level == level)
      ++n;
  return n;
}

std::string plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Parses `args` of a subcommand; prints the error and returns nullopt on bad
// usage.
std::optional<parsed_args> parse_subcommand(
  const std::string& name, const std::vector<std::string>& args,
  const std::vector<std::string>& valued) {
  auto parsed = parse_args(args, valued, {"json", "help"});
  std::string error;
  if (!parsed)
    error = describe(parsed.error());
  else if (parsed->has("help"))
    return *parsed;
  else if (parsed->positional.size() != 1)
    error = "expected one config file (or - for the standard input)";
  if (error.empty())
    return *parsed;
  std::fprintf(stderr, "conveyor config %s: %s\n(see conveyor config %s --help)\n",
               name.c_str(), error.c_str(), name.c_str());
  return std::nullopt;
}

// -- check ---------------------------------------------------------------------

// Errors that only expanding the matrix shows (too many jobs, a job without
// a script): the config is expanded once for a plain push, with its
// branch rules and its build `if:` set aside so that they cannot hide them.
std::vector<config_message> expansion_errors(const std::string& path,
                                             const std::string& text,
                                             const planned_config& plan) {
  auto probe = plan;
  probe.config.erase("if");
  probe.config.erase("branches");
  build_request req;
  req.source = "cli";
  req.event = "push";
  auto build = plan_build(req, config_file{config_name(path), text, {}}, probe,
                          job_limits{}, 0);
  std::vector<config_message> result;
  for (size_t i = plan.messages.size(); i < build.messages.size(); ++i) {
    const auto& m = build.messages[i];
    if (m.level == "error" && m.code != "no_jobs" && !is_rejection(m.code))
      result.push_back(m);
  }
  return result;
}

int check_command(const std::vector<std::string>& args) {
  auto parsed = parse_subcommand("check", args, {});
  if (!parsed)
    return exit_usage;
  if (parsed->has("help")) {
    std::fputs(config_check_usage().c_str(), stdout);
    return exit_ok;
  }
  const auto& path = parsed->positional.front();
  std::string error;
  auto text = read_config(path, error);
  if (!text) {
    std::fprintf(stderr, "conveyor config check: %s\n", error.c_str());
    return exit_usage;
  }
  auto plan = plan_config(*text);
  auto messages = plan.messages;
  if (!plan.errored) {
    auto more = expansion_errors(path, *text, plan);
    messages.insert(messages.end(), more.begin(), more.end());
  }
  bool invalid = plan.errored || has_error_messages(messages);
  if (parsed->has("json")) {
    std::cout << to_json_messages(messages).dump(2) << '\n';
  } else {
    for (const auto& m : messages)
      std::cout << render(path, m) << '\n';
    auto errors = count_level(messages, "error");
    auto warnings = count_level(messages, "warn")
                    + count_level(messages, "alert");
    std::cout << path << ": " << (invalid ? "invalid" : "valid");
    if (errors > 0 || warnings > 0) {
      std::cout << " (";
      if (errors > 0)
        std::cout << plural(errors, "error") << (warnings > 0 ? ", " : "");
      if (warnings > 0)
        std::cout << plural(warnings, "warning");
      std::cout << ")";
    }
    std::cout << '\n';
  }
  return invalid ? exit_invalid : exit_ok;
}

// -- expand --------------------------------------------------------------------

// The keys of a job shown beside its name: language, os, dist, arch and
// every other key that expands the matrix, in the schema's order.
std::vector<std::string> shown_keys() {
  std::vector<std::string> result{"language", "os", "dist", "arch"};
  for (const auto& key : travis_expand_keys())
    if (key != "env" && key != "os" && key != "arch")
      result.push_back(key);
  return result;
}

json job_json(size_t number, const job_record& job, const config_node& row,
              const std::vector<std::string>& keys) {
  json result;
  result["number"] = number;
  result["name"] = job.spec.name;
  auto stage = row.get("stage");
  result["stage"] = stage.is_scalar() ? json(stage.scalar_text()) : json();
  // The variables of the config (env.global, then the job's), later ones
  // winning as in the job's shell; TRAVIS_* variables are left out.
  auto env = json::object();
  for (const auto& entry : row.get("env").items())
    for (const auto& var : entry.entries())
      env[var.key] = var.value.scalar_text();
  result["env"] = std::move(env);
  result["allow_failure"] = job.spec.allow_failure;
  for (const auto& key : keys)
    if (auto value = row.get(key); !value.is_null())
      result[key] = to_json_value(value);
  return result;
}

void print_job_text(const json& job) {
  std::cout << '#' << job["number"].get<size_t>();
  if (auto name = job["name"].get<std::string>(); !name.empty())
    std::cout << ' ' << name;
  std::cout << '\n';
  std::string values;
  for (const auto& [key, value] : job.items()) {
    if (key == "number" || key == "name" || key == "env"
        || key == "allow_failure" || value.is_null())
      continue;
    values += (values.empty() ? "" : " ") + key + "="
              + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  if (!values.empty())
    std::cout << "  " << values << '\n';
  std::string env;
  for (const auto& [key, value] : job["env"].items()) {
    auto text = value.get<std::string>();
    if (text.empty() || text.find_first_of(" \t\"'") != std::string::npos)
      text = json(text).dump(); // quoted, as a shell would need it
    env += (env.empty() ? "" : " ") + key + "=" + text;
  }
  if (!env.empty())
    std::cout << "  env: " << env << '\n';
  if (job["allow_failure"].get<bool>())
    std::cout << "  allowed to fail\n";
}

int expand_command(const std::vector<std::string>& args) {
  auto parsed = parse_subcommand(
    "expand", args, {"branch", "event", "tag", "message", "repo", "sender"});
  if (!parsed)
    return exit_usage;
  if (parsed->has("help")) {
    std::fputs(config_expand_usage().c_str(), stdout);
    return exit_ok;
  }
  build_request req;
  req.source = "cli";
  req.event = parsed->get("event").value_or("push");
  if (req.event != "push" && req.event != "pull_request" && req.event != "api"
      && req.event != "cron") {
    std::fprintf(stderr,
                 "conveyor config expand: unknown event '%s' (push, "
                 "pull_request, api or cron)\n",
                 req.event.c_str());
    return exit_usage;
  }
  req.branch = parsed->get("branch").value_or("");
  req.tag = parsed->get("tag").value_or("");
  req.commit_message = parsed->get("message").value_or("");
  req.slug = parsed->get("repo").value_or("");
  req.sender = parsed->get("sender").value_or("");
  const auto& path = parsed->positional.front();
  std::string error;
  auto text = read_config(path, error);
  if (!text) {
    std::fprintf(stderr, "conveyor config expand: %s\n", error.c_str());
    return exit_usage;
  }
  auto plan = plan_config(*text);
  auto build = plan_build(req, config_file{config_name(path), *text, {}}, plan,
                          job_limits{}, 0);
  for (const auto& m : build.messages)
    std::cerr << render(path, m) << '\n';
  if (build.state == build_state::errored)
    return exit_invalid;
  // plan_build keeps only what a worker needs; the rows give each job's
  // stage and matrix values, in the same order.
  auto travis = plan_travis_jobs(plan.config, request_data(req), plan.options);
  if (travis.jobs.size() != build.jobs.size()) {
    std::fprintf(stderr, "conveyor config expand: the plan and its rows "
                         "disagree\n");
    return exit_usage;
  }
  auto keys = shown_keys();
  auto jobs = json::array();
  for (size_t i = 0; i < build.jobs.size(); ++i)
    jobs.push_back(job_json(i + 1, build.jobs[i], travis.jobs[i], keys));
  if (parsed->has("json")) {
    std::cout << jobs.dump(2) << '\n';
    return exit_ok;
  }
  std::cout << plural(jobs.size(), "job");
  if (!travis.stages.empty()) {
    std::cout << " in stages";
    for (size_t i = 0; i < travis.stages.size(); ++i)
      std::cout << (i == 0 ? " " : ", ")
                << travis.stages[i].get("name").scalar_text();
  }
  if (build.fast_finish)
    std::cout << " (fast_finish)";
  std::cout << '\n';
  for (const auto& job : jobs)
    print_job_text(job);
  return exit_ok;
}

} // namespace

std::string config_usage() {
  return R"(usage: conveyor config <command> FILE [options]

Reads a build config (.conveyor.yml or .travis.yml) the way the gatekeeper
does, without a node or a repository. FILE may be - for the standard input.

commands:
  check FILE    validate the config and print its findings
  expand FILE   print the jobs a build of the config would have

See conveyor config check --help and conveyor config expand --help.
)";
}

std::string config_check_usage() {
  return R"(usage: conveyor config check FILE [--json]

Reads, normalizes and validates the build config FILE (- for the standard
input) and prints each finding as

  FILE:LINE:COL: LEVEL: CODE: message

LEVEL is error (conveyor does not build the config), alert (a secret seems
to be given in clear text), warn (a key is unknown or not acted on) or info.
The matrix is also expanded once, for a push with the branch rules and the
build's if: set aside, to report errors only expansion shows (too_many_jobs,
missing_script); use conveyor config expand for a given request.

Exit status: 0 valid (warnings allowed), 1 invalid, 2 bad usage or unreadable
file.

options:
  --json        print a JSON array of {level, key, code, args, line, column,
                message} instead (line and column are 0 when unknown)
  --help        show this text
)";
}

std::string config_expand_usage() {
  return R"(usage: conveyor config expand FILE [options]

Prints the jobs a build of the config FILE (- for the standard input) would
have for the request described by the options: the matrix with its includes,
excludes and allowed failures, stages, and every if: condition, after the
request is approved ([ci skip], branches: only/except, the build's if:).
Findings go to the standard error as FILE:LINE:COL: LEVEL: CODE: message.

Exit status: 0 the build has jobs, 1 the request is rejected or the config
plans no build (the reason is printed), 2 bad usage or unreadable file.

options:
  --branch B    the branch pushed (or the base branch of a pull request)
  --event E     push (default), pull_request, api or cron
  --tag T       the tag pushed, for a tag build
  --message M   the commit message
  --repo SLUG   the repository, owner/name (the condition attribute repo)
  --sender S    who triggered the build (the condition attribute sender)
  --json        print a JSON array with one object per job: number, name,
                stage, env (the config's variables), allow_failure and the
                job's language, os, dist, arch and matrix values
  --help        show this text
)";
}

int config_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(config_usage().c_str(), stderr);
    return exit_usage;
  }
  const auto& command = args.front();
  std::vector<std::string> rest{args.begin() + 1, args.end()};
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(config_usage().c_str(), stdout);
    return exit_ok;
  }
  if (command == "check")
    return check_command(rest);
  if (command == "expand")
    return expand_command(rest);
  std::fprintf(stderr, "conveyor config: unknown command '%s'\n\n%s",
               command.c_str(), config_usage().c_str());
  return exit_usage;
}

} // namespace conveyor
