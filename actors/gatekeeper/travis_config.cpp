#include "actors/gatekeeper/travis_config.hpp"

#include <algorithm>
#include <exception>
#include <new>
#include <set>
#include <string>
#include <utility>

#include "actors/gatekeeper/condition.hpp"
#include "actors/gatekeeper/config_yaml.hpp"
#include "actors/gatekeeper/env_string.hpp"
#include "actors/gatekeeper/travis_schema.hpp"

namespace conveyor {

namespace {

using strings = std::set<std::string, std::less<>>;

// Bounds the findings kept for one config; the rest are counted in a summary.
constexpr std::size_t max_messages = 100;

// Bounds what every job of the matrix copies and compares. Real configs use
// a few dozen keys and variables; beyond these the config is refused.
constexpr std::size_t max_keys = 200;      // of the root and of each job
constexpr std::size_t max_env_items = 1000; // entries of an env list
constexpr std::size_t max_env_vars = 1000;  // variables of one entry
constexpr std::size_t max_list_items = 1000; // stages, branches

const strings phase_keys = {
  "before_install", "install",       "before_script", "script",
  "after_success",  "after_failure", "after_script"};

// Phases of Travis that conveyor reads but does not run.
const strings unrun_phase_keys = {"before_cache", "before_deploy",
                                  "after_deploy"};

// Root keys of the schema that conveyor keeps but does not act on, and what
// the user should know about each.
const std::vector<std::pair<std::string, std::string>> inert_root_keys = {
  {"addons", "addons are not installed"},
  {"cache", "nothing is cached between builds"},
  {"services", "services are not started"},
  {"deploy", "nothing is deployed"},
  {"notifications", "no notifications are sent"},
  {"import", "configs are not imported: the jobs they add are missing"},
  {"group", ""},
  {"sudo", ""},
  {"vm", ""},
  {"virt", ""},
  {"stack", ""},
  {"keys", ""},
  {"workspaces", "workspaces are not shared between jobs"},
  {"filter_secrets", ""},
  {"trace", ""},
  {"perforce_test_path", ""},
  {"vault", "secrets are not read from Vault"},
  {"keep_netrc", ""},
  {"merge_mode", ""},
};

// Keys an entry of jobs.include (or exclude, allow_failures) may have that
// conveyor keeps but does not act on.
const strings inert_job_keys = {"addons", "cache",     "services",
                                "deploy", "group",     "sudo",
                                "vm",     "virt",      "keys",
                                "workspaces", "keep_netrc", "vault",
                                "branches"};

// Keys of Travis's `git` section beyond `clone` and `depth`, and those of
// them that take a boolean.
const strings other_git_keys = {"autocrlf",        "lfs_skip_smudge",
                                "quiet",           "sparse_checkout",
                                "strategy",        "submodules",
                                "submodules_depth", "symlinks"};
const strings boolean_git_keys = {"lfs_skip_smudge", "quiet", "submodules",
                                  "symlinks"};

// Keys whose plain-text value in deploy, notifications or addons is a
// secret that should be encrypted.
const strings secret_keys = {"api_key",    "api_token",  "access_token",
                             "auth_token", "github_token", "password",
                             "secret_access_key", "token", "secret"};

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string quoted(const std::string& x) {
  return "'" + x + "'";
}

// Matrix keys naming a version of a language or runtime to install.
bool names_version(std::string_view key) {
  static const strings keys = {
    "jdk",  "crystal", "dotnet", "mono",   "d",     "dart",  "elixir",
    "otp_release", "elm", "node_js", "go", "hhvm",  "php",   "ghc",
    "haxe", "julia",   "matlab", "nix",    "perl",  "perl6", "python",
    "r",    "rvm",     "rust",   "scala",  "smalltalk", "smalltalk_vm",
    "xcode_sdk"};
  return keys.count(key) > 0;
}

bool is_matrix_value_key(std::string_view key) {
  return key == "os" || key == "arch" || key == "dist" || key == "language"
         || key == "osx_image" || key == "compiler"
         || (expand_key_index(key) >= 0 && key != "env");
}

// What kind of entry of `jobs` a job map is.
enum class job_kind { include, exclude, allow_failure };

class normalizer {
public:
  explicit normalizer(const travis_options& opts) : opts_(opts) {
    // nop
  }

  void run(const config_node& raw) {
    if (raw.is_null()) {
      error("", "empty_config", "the config is empty", raw.mark());
      return;
    }
    if (!raw.is_map()) {
      error("", "invalid_type", "the config must be a map of keys to values",
            raw.mark());
      return;
    }
    auto config = root(raw);
    if (config.is_null())
      return;
    if (opts_.defaults)
      for (const auto& key : add_travis_defaults(config))
        info(key, "default",
             "missing " + quoted(key) + ", using the default "
               + to_json(config.get(key)),
             {});
    unsupported_root_keys(config);
    result_.config = std::move(config);
  }

  void internal_error(const std::string& what) {
    result_.config = config_node{};
    add("error", "", "internal_error",
        "the config could not be read: " + what, {});
  }

  void take_messages(std::vector<config_message> xs) {
    for (auto& x : xs) {
      config_mark at{x.line, x.column};
      add(x.level.c_str(), x.key, x.code.c_str(), std::move(x.message), at);
    }
  }

  travis_config take_result() {
    // The summary is an error if it hides one, so that many warnings cannot
    // make an invalid config look valid.
    if (suppressed_ > 0)
      result_.messages.push_back(
        {suppressed_errors_ > 0 ? "error" : "info", "", "too_many_messages",
         std::to_string(suppressed_) + " more findings are not shown ("
           + std::to_string(suppressed_errors_) + " of them errors)",
         0, 0});
    return std::move(result_);
  }

private:
  // -- messages ---------------------------------------------------------------

  void add(const char* level, const std::string& key, const char* code,
           std::string text, config_mark at) {
    if (std::string_view{level} == "error")
      ++errors_;
    if (result_.messages.size() >= max_messages) {
      ++suppressed_;
      if (std::string_view{level} == "error")
        ++suppressed_errors_;
      return;
    }
    result_.messages.push_back(
      {level, key, code, std::move(text), at.line, at.column});
  }

  void error(const std::string& key, const char* code, std::string text,
             config_mark at) {
    add("error", key, code, std::move(text), at);
  }

  void warn(const std::string& key, const char* code, std::string text,
            config_mark at) {
    add("warn", key, code, std::move(text), at);
  }

  void info(const std::string& key, const char* code, std::string text,
            config_mark at) {
    add("info", key, code, std::move(text), at);
  }

  void invalid_type(const std::string& path, const std::string& expected,
                    const config_node& x) {
    error(path, "invalid_type",
          quoted(path) + " must be " + expected + ", not "
            + to_json(x, 60) + ": it is ignored",
          x.mark());
  }

  void empty(const std::string& path, config_mark at) {
    info(path, "empty", quoted(path) + " is empty and is ignored", at);
  }

  void unknown_key(const std::string& path, config_mark at) {
    warn(path, "unknown_key",
         quoted(path) + " is not a known key: conveyor ignores it", at);
  }

  // True (with an error) if the map `x` at `path` has more than `limit`
  // entries.
  bool too_wide(const std::string& path, const config_node& x,
                std::size_t limit, const char* what) {
    if (x.size() <= limit)
      return false;
    error(path, "too_large",
          (path.empty() ? std::string{"the config"} : quoted(path))
            + " has " + std::to_string(x.size()) + " " + what
            + "; at most " + std::to_string(limit) + " are read",
          x.mark());
    return true;
  }

  // A list of what was read; null if nothing was, because of errors (which
  // are reported: the list is not also reported as empty).
  config_node list_of(std::vector<config_node> items, config_mark at,
                      std::size_t errors_before) const {
    if (items.empty() && errors_ > errors_before)
      return {};
    return config_node::list(std::move(items), at);
  }

  // -- root -------------------------------------------------------------------

  // Resolves a key alias, with a message.
  std::string canonical_key(const std::string& path, const config_entry& x,
                            bool root) {
    auto alias = key_alias(x.key, root);
    if (alias.empty())
      return x.key;
    std::string key{alias};
    info(join(path, key), "alias_key",
         "the key " + quoted(x.key) + " is an alias for " + quoted(key)
           + ", using " + quoted(key),
         x.key_mark);
    return key;
  }

  config_node root(const config_node& raw) {
    if (too_wide("", raw, max_keys, "keys"))
      return {};
    config_node result = config_node::map({}, raw.mark());
    for (const auto& x : raw.entries()) {
      auto key = canonical_key("", x, true);
      if (x.value.is_null()) {
        empty(key, x.key_mark);
        continue;
      }
      auto value = root_value(key, x);
      if (value.blank()) {
        // Null means the value was wrong and is reported already.
        if (!value.is_null())
          empty(key, x.key_mark);
        continue;
      }
      if (auto previous = result.find(key)) {
        warn(key, "duplicate_key",
             quoted(key) + " is given more than once (maybe through an "
               + "alias): the last one is used",
             x.key_mark);
        if (key == "jobs" && previous->is_map() && value.is_map()) {
          auto merged = *previous;
          for (const auto& entry : value.entries())
            merged.set(entry.key, entry.value, entry.key_mark);
          value = merged;
        }
      }
      result.set(key, std::move(value), x.key_mark);
    }
    return result;
  }

  config_node root_value(const std::string& key, const config_entry& x) {
    const auto& value = x.value;
    if (key == "language")
      return single_value(key, value, true);
    if (key == "dist")
      return single_value(key, value, true);
    if (names_version(key))
      info(key, "unsupported_value",
           "conveyor does not install what " + quoted(key)
             + " names: each job gets its value in its name and env, and "
               "uses the tools installed on the worker",
           x.key_mark);
    if (key == "os" || key == "arch" || key == "osx_image"
        || key == "compiler"
        || (expand_key_index(key) >= 0 && key != "env"))
      return matrix_values(key, value);
    if (key == "env")
      return env_section(value);
    if (key == "jobs")
      return jobs_section(value);
    if (key == "stages")
      return stages_section(value);
    if (key == "if")
      return condition_value(key, value);
    if (key == "branches")
      return branches_section(key, value);
    if (phase_keys.count(key) > 0)
      return commands(key, value);
    if (unrun_phase_keys.count(key) > 0) {
      warn(key, "unsupported_key",
           quoted(key) + " is not run by conveyor", x.key_mark);
      return commands(key, value);
    }
    if (key == "git")
      return git_section(key, value);
    if (key == "version" || key == "conditions")
      return plain_string(key, value, x);
    config_entry renamed = x;
    renamed.key = key;
    return other_key(key, renamed, true);
  }

  config_node plain_string(const std::string& key, const config_node& value,
                           const config_entry& x) {
    if (!value.is_scalar()) {
      invalid_type(key, "a string", value);
      return {};
    }
    auto text = value.scalar_text();
    if (key == "conditions" && text != "v1")
      warn(key, "unsupported_value",
           "conveyor evaluates conditions of version v1 only, not "
             + quoted(text),
           x.key_mark);
    return config_node::string(text, value.mark());
  }

  // A key conveyor keeps without acting on it, or does not know.
  config_node other_key(const std::string& path, const config_entry& x,
                        bool root) {
    const auto& key = x.key;
    auto inert = std::find_if(inert_root_keys.begin(), inert_root_keys.end(),
                              [&key](const auto& y) { return y.first == key; });
    bool known = root ? inert != inert_root_keys.end()
                      : inert_job_keys.count(key) > 0;
    if (known) {
      std::string why;
      if (inert != inert_root_keys.end() && !inert->second.empty())
        why = " (" + inert->second + ")";
      bool serious = inert != inert_root_keys.end() && !inert->second.empty();
      add(serious ? "warn" : "info", path, "unsupported_key",
          quoted(path) + " is not acted on by conveyor" + why, x.key_mark);
      if (key == "deploy" || key == "notifications" || key == "addons")
        alert_secrets(path, x.value, 0);
    } else if (is_language_key(key) || unrun_phase_keys.count(key) > 0) {
      info(path, "unsupported_key",
           quoted(path)
             + " is not acted on by conveyor: jobs use the tools installed "
               "on the worker",
           x.key_mark);
    } else {
      unknown_key(path, x.key_mark);
    }
    return x.value;
  }

  // Flags secrets given in plain text where Travis expects `secure:`.
  void alert_secrets(const std::string& path, const config_node& x,
                     std::size_t depth) {
    if (depth > max_config_depth)
      return;
    if (x.is_list()) {
      for (const auto& item : x.items())
        alert_secrets(path, item, depth + 1);
      return;
    }
    for (const auto& entry : x.entries()) {
      auto sub = join(path, entry.key);
      const auto& v = entry.value;
      if (secret_keys.count(entry.key) > 0 && v.is_string()
          && !v.text().empty() && v.text().front() != '$')
        add("alert", sub, "secure",
            quoted(sub)
              + " looks like a secret in plain text: encrypt it (secure:) "
                "or set it in the repository's settings",
            v.mark());
      else
        alert_secrets(sub, v, depth + 1);
    }
  }

  // Warns about root keys the root's language, os or arch does not support:
  // they do not expand the matrix and do not reach any job.
  void unsupported_root_keys(const config_node& config) {
    for (const auto& x : config.entries()) {
      auto on = unsupported_on(config, x.key, config_node{});
      if (!on.empty())
        warn(x.key, "unsupported_key",
             quoted(x.key) + " is not supported on " + on
               + ": it is ignored",
             x.key_mark);
    }
  }

  // -- values -----------------------------------------------------------------

  // The text of a scalar matrix value, canonical for language, os, arch and
  // dist; warns about unknown values of those.
  std::string value_text(const std::string& path, const std::string& key,
                         const config_node& x) {
    auto text = canonical_value(key, x.scalar_text());
    if (text != x.scalar_text() && x.text() != text
        && (key == "language" || key == "os" || key == "arch"))
      info(path, "alias_value",
           "the value " + quoted(x.scalar_text()) + " is an alias for "
             + quoted(text) + ", using " + quoted(text),
           x.mark());
    if (!known_value(key, text))
      warn(path, "unknown_value",
           quoted(text) + " is not a known value of " + quoted(key),
           x.mark());
    else if (key == "os" && text != "linux" && seen_os_.insert(text).second)
      info(path, "unsupported_value",
           "conveyor runs every job on its workers' own system: 'os: "
             + text + "' only labels the job",
           x.mark());
    return text;
  }

  // One scalar value; a list gives its first value, with a warning.
  config_node single_value(const std::string& path, const config_node& x,
                           bool canonical) {
    auto key = path.substr(path.rfind('.') + 1);
    auto value = x;
    if (value.is_list()) {
      if (value.size() == 0) {
        empty(path, x.mark());
        return {};
      }
      warn(path, "unexpected_seq",
           "unexpected list, using the first value ("
             + to_json(value.items().front(), 60) + ")",
           x.mark());
      value = value.items().front();
    }
    if (value.is_null())
      return {};
    if (!value.is_scalar()) {
      invalid_type(path, "a string", value);
      return {};
    }
    auto text = canonical ? value_text(path, key, value)
                          : value.scalar_text();
    return config_node::string(std::move(text), value.mark());
  }

  // A matrix key of the root: a list of strings.
  config_node matrix_values(const std::string& key, const config_node& x) {
    auto errors_before = errors_;
    std::vector<config_node> result;
    bool canonical = key == "os" || key == "arch";
    for (const auto& item : wrap(x)) {
      if (item.is_null()) {
        warn(key, "empty",
             "an entry of " + quoted(key) + " is empty and is ignored",
             item.mark());
      } else if (item.is_scalar()) {
        auto text = canonical ? value_text(key, key, item)
                              : item.scalar_text();
        result.push_back(config_node::string(std::move(text), item.mark()));
      } else if (key == "dart_task" && item.is_map()) {
        result.push_back(item);
      } else {
        invalid_type(key, "a string or a list of strings", item);
      }
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  config_node commands(const std::string& path, const config_node& x) {
    auto errors_before = errors_;
    std::vector<config_node> result;
    for (const auto& item : wrap(x)) {
      if (item.is_null()) {
        warn(path, "empty",
             "an entry of " + quoted(path) + " is empty and is ignored",
             item.mark());
      } else if (item.is_scalar()) {
        result.push_back(config_node::string(item.scalar_text(), item.mark()));
      } else {
        error(path, "invalid_type",
              "each entry of " + quoted(path) + " must be a string, not "
                + to_json(item, 60),
              item.mark());
      }
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  config_node condition_value(const std::string& path, const config_node& x) {
    if (!x.is_scalar()) {
      invalid_type(path, "a condition (a string)", x);
      return {};
    }
    auto text = x.scalar_text();
    auto parsed = parse_condition(text);
    if (!parsed.cond)
      error(path, "invalid_condition",
            "invalid condition " + quoted(text) + ": "
              + to_string(parsed.error),
            x.mark());
    return config_node::string(std::move(text), x.mark());
  }

  // -- env --------------------------------------------------------------------

  config_node env_section(const config_node& x) {
    if (x.is_map() && too_wide("env", x, max_env_vars, "variables"))
      return {};
    config_node result = config_node::map({}, x.mark());
    if (x.is_map() && (x.has("global") || x.has("jobs") || x.has("matrix"))) {
      for (const auto& entry : x.entries()) {
        auto path = join("env", entry.key);
        if (entry.value.is_null()) {
          empty(path, entry.key_mark);
          continue;
        }
        if (entry.key == "global") {
          auto vars = env_vars(path, entry.value);
          if (vars.size() > 0)
            result.set("global", std::move(vars), entry.key_mark);
        } else if (entry.key == "jobs" || entry.key == "matrix") {
          if (entry.key == "matrix")
            info("env.jobs", "alias_key",
                 "the key 'env.matrix' is an alias for 'env.jobs', using "
                 "'env.jobs'",
                 entry.key_mark);
          auto vars = env_vars("env.jobs", entry.value);
          if (result.has("jobs"))
            warn("env.jobs", "duplicate_key",
                 "both 'env.jobs' and 'env.matrix' are given: the last one "
                 "is used",
                 entry.key_mark);
          if (vars.size() > 0)
            result.set("jobs", std::move(vars), entry.key_mark);
        } else {
          warn(path, "unknown_key",
               quoted(path)
                 + " is ignored: beside 'global' and 'jobs', 'env' takes no "
                   "keys",
               entry.key_mark);
        }
      }
      return result;
    }
    if (!x.is_scalar() && !x.is_list() && !x.is_map()) {
      invalid_type("env", "a string, a list or a map", x);
      return {};
    }
    auto vars = env_vars("env", x);
    if (vars.size() > 0)
      result.set("jobs", std::move(vars), x.mark());
    return result;
  }

  // A list of variable maps: one per string or map given.
  config_node env_vars(const std::string& path, const config_node& x) {
    if (path != "env.jobs" && path != "env" && x.is_list()
        && too_wide(path, x, max_env_items, "entries"))
      return {};
    auto errors_before = errors_;
    std::vector<config_node> result;
    for (const auto& item : wrap(x)) {
      if (item.is_null()) {
        warn(path, "empty",
             "an entry of " + quoted(path) + " is empty and is ignored",
             item.mark());
      } else if (item.is_scalar()) {
        result.push_back(env_string(path, item));
      } else if (item.is_map()) {
        result.push_back(env_map(path, item));
      } else {
        invalid_type(path, "a string, a map or a list of those", item);
      }
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  config_node env_string(const std::string& path, const config_node& x) {
    std::vector<config_entry> vars;
    auto parsed = parse_env_string(x.scalar_text());
    if (!parsed.error.empty()) {
      error(path, "invalid_env_var",
            "invalid env var " + quoted(x.scalar_text()) + ": "
              + parsed.error,
            x.mark());
      return config_node::map({}, x.mark());
    }
    if (parsed.vars.size() > max_env_vars) {
      error(path, "too_large",
            "an entry of " + quoted(path) + " has "
              + std::to_string(parsed.vars.size())
              + " variables; at most " + std::to_string(max_env_vars)
              + " are read",
            x.mark());
      return config_node::map({}, x.mark());
    }
    for (auto& var : parsed.vars) {
      auto i = std::find_if(vars.begin(), vars.end(),
                            [&var](const config_entry& y) {
                              return y.key == var.name;
                            });
      auto value = config_node::string(std::move(var.value), x.mark());
      if (i != vars.end())
        i->value = std::move(value);
      else
        vars.push_back({var.name, std::move(value), x.mark()});
    }
    return config_node::map(std::move(vars), x.mark());
  }

  config_node env_map(const std::string& path, const config_node& x) {
    std::vector<config_entry> vars;
    if (too_wide(path, x, max_env_vars, "variables"))
      return config_node::map({}, x.mark());
    for (const auto& var : x.entries()) {
      if (var.key == "secure") {
        warn(path, "unsupported",
             "secure (encrypted) variables are not supported yet: this one "
             "is left out",
             var.key_mark);
      } else if (!is_env_name(var.key)) {
        error(path, "invalid_env_var",
              quoted(var.key) + " is not a valid variable name",
              var.key_mark);
      } else if (var.value.is_null()) {
        vars.push_back({var.key, config_node::string("", var.value.mark()),
                        var.key_mark});
      } else if (var.value.is_scalar()) {
        vars.push_back(var);
      } else {
        error(path, "invalid_type",
              "the value of " + var.key + " must be a string, not "
                + to_json(var.value, 60),
              var.value.mark());
      }
    }
    return config_node::map(std::move(vars), x.mark());
  }

  // -- jobs -------------------------------------------------------------------

  config_node jobs_section(const config_node& x) {
    config_node result = config_node::map({}, x.mark());
    if (x.is_list()) {
      info("jobs", "list_as_include",
           "a list under 'jobs' is read as 'jobs.include'", x.mark());
      auto include = job_list("jobs.include", x, job_kind::include);
      if (include.size() > 0)
        result.set("include", std::move(include), x.mark());
      return result;
    }
    if (!x.is_map()) {
      invalid_type("jobs", "a map", x);
      return {};
    }
    if (too_wide("jobs", x, max_keys, "keys"))
      return {};
    for (const auto& entry : x.entries()) {
      auto key = entry.key;
      if (key == "allowed_failures" || key == "fast_failure") {
        auto to = key == "allowed_failures" ? "allow_failures"
                                             : "fast_finish";
        info(join("jobs", to), "alias_key",
             "the key " + quoted(key) + " is an alias for " + quoted(to)
               + ", using " + quoted(to),
             entry.key_mark);
        key = to;
      }
      auto path = join("jobs", key);
      if (entry.value.is_null()) {
        empty(path, entry.key_mark);
        continue;
      }
      config_node value;
      if (key == "include") {
        value = job_list(path, entry.value, job_kind::include);
      } else if (key == "exclude") {
        value = job_list(path, entry.value, job_kind::exclude);
      } else if (key == "allow_failures") {
        value = job_list(path, entry.value, job_kind::allow_failure);
      } else if (key == "fast_finish") {
        value = boolean(path, entry.value);
      } else {
        unknown_key(path, entry.key_mark);
        value = entry.value;
      }
      if (!value.is_null() && !(value.is_list() && value.size() == 0))
        result.set(key, std::move(value), entry.key_mark);
    }
    return result;
  }

  config_node boolean(const std::string& path, const config_node& x) {
    if (x.is_bool())
      return x;
    invalid_type(path, "true or false", x);
    return {};
  }

  config_node job_list(const std::string& path, const config_node& x,
                       job_kind kind) {
    auto errors_before = errors_;
    std::vector<config_node> result;
    for (const auto& item : wrap(x)) {
      if (item.is_map()) {
        result.push_back(job(path, item, kind));
      } else if (item.is_null()) {
        warn(path, "empty",
             "an entry of " + quoted(path) + " is empty and is ignored",
             item.mark());
      } else {
        invalid_type(path, "a map or a list of maps", item);
      }
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  config_node job(const std::string& list_path, const config_node& x,
                  job_kind kind) {
    if (too_wide(list_path, x, max_keys, "keys in one entry"))
      return config_node::map({}, x.mark());
    config_node result = config_node::map({}, x.mark());
    for (const auto& entry : x.entries()) {
      auto key = canonical_key(list_path, entry, false);
      auto path = join(list_path, key);
      if (entry.value.is_null()) {
        empty(path, entry.key_mark);
        continue;
      }
      config_node value;
      if (is_matrix_value_key(key)) {
        bool canonical = key == "language" || key == "os" || key == "arch"
                         || key == "dist";
        if (key == "dart_task" && entry.value.is_map())
          value = entry.value;
        else
          value = single_value(path, entry.value, canonical);
      } else if (key == "env") {
        value = env_vars(path, entry.value);
      } else if (key == "name" || key == "stage"
                 || (key == "branch" && kind == job_kind::allow_failure)) {
        if (key == "branch")
          info(path, "deprecated_key",
               "'branch' in allow_failures is deprecated: use 'if: branch = "
               "...'",
               entry.key_mark);
        value = single_value(path, entry.value, false);
      } else if (key == "if") {
        value = condition_value(path, entry.value);
      } else if (key == "allow_failure" && kind == job_kind::include) {
        value = boolean(path, entry.value);
      } else if (phase_keys.count(key) > 0) {
        value = commands(path, entry.value);
      } else if (unrun_phase_keys.count(key) > 0) {
        warn(path, "unsupported_key",
             quoted(path) + " is not run by conveyor", entry.key_mark);
        value = commands(path, entry.value);
      } else if (key == "git") {
        value = git_section(path, entry.value);
      } else {
        config_entry renamed = entry;
        renamed.key = key;
        value = other_key(path, renamed, false);
      }
      if (value.blank()) {
        if (!value.is_null())
          empty(path, entry.key_mark);
        continue;
      }
      if (result.has(key))
        warn(path, "duplicate_key",
             quoted(path) + " is given more than once (maybe through an "
               + "alias): the last one is used",
             entry.key_mark);
      result.set(key, std::move(value), entry.key_mark);
    }
    return result;
  }

  // -- stages -----------------------------------------------------------------

  config_node stages_section(const config_node& x) {
    if (too_wide("stages", x, max_list_items, "entries"))
      return {};
    auto errors_before = errors_;
    std::vector<config_node> result;
    for (const auto& item : wrap(x)) {
      if (item.is_scalar()) {
        result.push_back(config_node::map(
          {{"name", config_node::string(item.scalar_text(), item.mark()),
            item.mark()}},
          item.mark()));
      } else if (item.is_map()) {
        if (auto stage = stage_entry(item); stage.is_map())
          result.push_back(std::move(stage));
      } else if (item.is_null()) {
        warn("stages", "empty", "an entry of 'stages' is empty and is ignored",
             item.mark());
      } else {
        invalid_type("stages", "a list of names or maps", item);
      }
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  config_node stage_entry(const config_node& x) {
    if (too_wide("stages", x, max_keys, "keys in one entry"))
      return {};
    config_node result = config_node::map({}, x.mark());
    for (const auto& entry : x.entries()) {
      auto path = join("stages", entry.key);
      if (entry.value.is_null()) {
        empty(path, entry.key_mark);
      } else if (entry.key == "name") {
        auto name = single_value(path, entry.value, false);
        if (!name.is_null())
          result.set("name", std::move(name), entry.key_mark);
      } else if (entry.key == "if") {
        auto cond = condition_value(path, entry.value);
        if (!cond.is_null())
          result.set("if", std::move(cond), entry.key_mark);
      } else {
        unknown_key(path, entry.key_mark);
      }
    }
    if (!result.has("name")) {
      error("stages", "invalid_type",
            "a stage needs a name: this one is ignored", x.mark());
      return {};
    }
    return result;
  }

  // -- branches ---------------------------------------------------------------

  config_node branches_section(const std::string& path, const config_node& x) {
    if (x.is_scalar() || x.is_list()) {
      info(path, "prefix_key",
           quoted(path) + " given a branch list is read as "
             + quoted(path + ".only"),
           x.mark());
      auto only = branch_list(join(path, "only"), x);
      if (only.is_null())
        return {};
      return config_node::map({{"only", std::move(only), x.mark()}},
                              x.mark());
    }
    if (!x.is_map()) {
      invalid_type(path, "a map with 'only' or 'except'", x);
      return {};
    }
    if (too_wide(path, x, max_keys, "keys"))
      return {};
    config_node result = config_node::map({}, x.mark());
    for (const auto& entry : x.entries()) {
      auto key = entry.key == "exclude" ? std::string{"except"} : entry.key;
      auto sub = join(path, key);
      if (entry.key == "exclude")
        info(sub, "alias_key",
             "the key 'exclude' is an alias for 'except', using 'except'",
             entry.key_mark);
      if (key != "only" && key != "except") {
        unknown_key(sub, entry.key_mark);
        continue;
      }
      if (entry.value.is_null()) {
        empty(sub, entry.key_mark);
        continue;
      }
      auto value = branch_list(sub, entry.value);
      if (!value.is_null())
        result.set(key, std::move(value), entry.key_mark);
    }
    return result;
  }

  // Keeps a string (split on commas when used) or a list of strings.
  config_node branch_list(const std::string& path, const config_node& x) {
    auto errors_before = errors_;
    if (x.is_scalar()) {
      auto text = x.scalar_text();
      auto parts = std::count(text.begin(), text.end(), ',') + 1;
      if (static_cast<std::size_t>(parts) > max_list_items) {
        error(path, "too_large",
              quoted(path) + " names " + std::to_string(parts)
                + " branches; at most " + std::to_string(max_list_items)
                + " are read",
              x.mark());
        return {};
      }
      return config_node::string(std::move(text), x.mark());
    }
    if (!x.is_list()) {
      invalid_type(path, "a string or a list of strings", x);
      return {};
    }
    if (too_wide(path, x, max_list_items, "entries"))
      return {};
    std::vector<config_node> result;
    for (const auto& item : x.items()) {
      if (item.is_scalar())
        result.push_back(config_node::string(item.scalar_text(), item.mark()));
      else
        invalid_type(path, "a list of strings", item);
    }
    return list_of(std::move(result), x.mark(), errors_before);
  }

  // -- git --------------------------------------------------------------------

  config_node git_section(const std::string& path, const config_node& x) {
    if (!x.is_map()) {
      invalid_type(path, "a map", x);
      return {};
    }
    if (too_wide(path, x, max_keys, "keys"))
      return {};
    config_node result = config_node::map({}, x.mark());
    for (const auto& entry : x.entries()) {
      auto sub = join(path, entry.key);
      const auto& v = entry.value;
      if (v.is_null()) {
        empty(sub, entry.key_mark);
        continue;
      }
      if (entry.key == "clone") {
        if (v.is_bool())
          result.set(entry.key, v, entry.key_mark);
        else
          invalid_type(sub, "true or false", v);
      } else if (entry.key == "depth") {
        if (valid_depth(v))
          result.set(entry.key, v, entry.key_mark);
        else
          invalid_type(sub, "a positive whole number or false", v);
      } else if (other_git_keys.count(entry.key) > 0) {
        if (boolean_git_keys.count(entry.key) > 0 && !v.is_bool()) {
          invalid_type(sub, "true or false", v);
          continue;
        }
        warn(sub, "unsupported_key",
             quoted(sub) + " is not acted on by conveyor", entry.key_mark);
        result.set(entry.key, v, entry.key_mark);
      } else {
        unknown_key(sub, entry.key_mark);
        result.set(entry.key, v, entry.key_mark);
      }
    }
    return result;
  }

  static bool valid_depth(const config_node& x) {
    if (x.is_bool())
      return !x.flag();
    if (!x.is_string())
      return false;
    const auto& text = x.text();
    if (text.empty() || text.size() > 10
        || text.find_first_not_of("0123456789") != std::string::npos)
      return false;
    auto n = std::stoll(text);
    return n > 0 && n <= 2147483647;
  }

  const travis_options& opts_;
  travis_config result_;
  std::set<std::string> seen_os_;
  std::size_t suppressed_ = 0;
  std::size_t suppressed_errors_ = 0;
  std::size_t errors_ = 0;
};

} // namespace

// -- normalizing --------------------------------------------------------------

travis_config normalize_travis_config(const config_node& raw,
                                      const travis_options& opts) {
  normalizer n{opts};
  // Anything escaping the normalizer is a bug or memory exhaustion, which
  // must still not take the gatekeeper down.
  try {
    n.run(raw);
  } catch (const std::bad_alloc&) {
    n.internal_error("out of memory");
  } catch (const std::exception& e) {
    n.internal_error(e.what());
  }
  return n.take_result();
}

travis_config load_travis_config(std::string_view yaml,
                                 const travis_options& opts) {
  auto loaded = load_config_yaml(yaml);
  bool failed = has_error_messages(loaded.messages) && loaded.root.is_null();
  if (failed) {
    travis_config result;
    result.messages = std::move(loaded.messages);
    return result;
  }
  normalizer n{opts};
  n.take_messages(std::move(loaded.messages));
  try {
    n.run(loaded.root);
  } catch (const std::bad_alloc&) {
    n.internal_error("out of memory");
  } catch (const std::exception& e) {
    n.internal_error(e.what());
  }
  return n.take_result();
}

bool has_error_messages(const std::vector<config_message>& messages) {
  return std::any_of(messages.begin(), messages.end(),
                     [](const config_message& x) {
                       return x.level == "error";
                     });
}

} // namespace conveyor
