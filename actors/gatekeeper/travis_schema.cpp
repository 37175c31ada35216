#include "actors/gatekeeper/travis_schema.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace conveyor {

namespace {

using strings = std::vector<std::string>;

// travis-yml's schema.json, key `expand` (without `jobs`), then `env`.
const strings expand_keys = {
  "os", "arch", "compiler", "osx_image", "jdk", "crystal", "dotnet", "mono",
  "solution", "d", "dart", "dart_task", "elixir", "otp_release", "elm",
  "node_js", "go", "hhvm", "php", "ghc", "haxe", "julia", "matlab", "nix",
  "perl", "perl6", "python", "r", "rvm", "gemfile", "xcode_scheme",
  "xcode_sdk", "rust", "scala", "smalltalk", "smalltalk_config",
  "smalltalk_vm", "env"};

// The language-specific keys of schema.json and the languages defining them.
const std::map<std::string, strings, std::less<>> language_keys = {
  {"android", {"android"}},
  {"apt_packages", {"r"}},
  {"bioc", {"r"}},
  {"bioc_check", {"r"}},
  {"bioc_packages", {"r"}},
  {"bioc_required", {"r"}},
  {"bioc_use_devel", {"r"}},
  {"brew_packages", {"r"}},
  {"bundler_args", {"objective-c", "ruby"}},
  {"composer_args", {"php"}},
  {"cran", {"r"}},
  {"crystal", {"crystal"}},
  {"d", {"d"}},
  {"dart", {"dart"}},
  {"dart_task", {"dart"}},
  {"disable_homebrew", {"r"}},
  {"dotnet", {"csharp"}},
  {"elixir", {"elixir"}},
  {"elm", {"elm"}},
  {"elm_format", {"elm"}},
  {"elm_test", {"elm"}},
  {"gemfile", {"objective-c", "ruby"}},
  {"ghc", {"haskell"}},
  {"gimme_config", {"go"}},
  {"go", {"go"}},
  {"go_import_path", {"go"}},
  {"gobuild_args", {"go"}},
  {"haxe", {"haxe"}},
  {"hhvm", {"hack"}},
  {"hxml", {"haxe"}},
  {"jdk", {"android", "clojure", "groovy", "java", "ruby", "scala"}},
  {"julia", {"julia"}},
  {"latex", {"r"}},
  {"lein", {"clojure"}},
  {"matlab", {"matlab"}},
  {"mono", {"csharp"}},
  {"neko", {"haxe"}},
  {"nix", {"nix"}},
  {"node_js", {"elm", "node_js"}},
  {"npm_args", {"node_js"}},
  {"otp_release", {"elixir", "erlang"}},
  {"pandoc", {"r"}},
  {"pandoc_version", {"r"}},
  {"perl", {"perl"}},
  {"perl6", {"perl6"}},
  {"php", {"hack", "php"}},
  {"podfile", {"objective-c"}},
  {"python", {"python"}},
  {"r", {"r"}},
  {"r_binary_packages", {"r"}},
  {"r_build_args", {"r"}},
  {"r_check_args", {"r"}},
  {"r_check_revdep", {"r"}},
  {"r_github_packages", {"r"}},
  {"r_packages", {"r"}},
  {"remotes", {"r"}},
  {"repos", {"r"}},
  {"rust", {"rust"}},
  {"rvm", {"objective-c", "ruby"}},
  {"sbt_args", {"scala"}},
  {"scala", {"scala"}},
  {"smalltalk", {"smalltalk"}},
  {"smalltalk_config", {"smalltalk"}},
  {"smalltalk_edge", {"smalltalk"}},
  {"smalltalk_vm", {"smalltalk"}},
  {"solution", {"csharp"}},
  {"virtualenv", {"python"}},
  {"warnings_are_errors", {"r"}},
  {"with_content_shell", {"dart"}},
  {"xcode_destination", {"objective-c"}},
  {"xcode_project", {"objective-c"}},
  {"xcode_scheme", {"objective-c"}},
  {"xcode_sdk", {"objective-c"}},
  {"xcode_workspace", {"objective-c"}},
  {"xctool_args", {"objective-c"}},
};

const std::map<std::string, std::string, std::less<>> root_key_aliases = {
  {"matrix", "jobs"},     {"ruby", "rvm"},        {"rbenv", "rvm"},
  {"node", "node_js"},    {"gemfiles", "gemfile"},
  {"virtual_env", "virtualenv"},                  {"use_bioc", "bioc_required"},
  {"branch", "branches"},
};

const std::map<std::string, std::string, std::less<>> job_key_aliases = {
  {"ruby", "rvm"},        {"rbenv", "rvm"},       {"node", "node_js"},
  {"gemfiles", "gemfile"}, {"virtual_env", "virtualenv"},
  {"use_bioc", "bioc_required"},
};

const strings languages = {
  "android", "c", "clojure", "cpp", "crystal", "csharp", "d", "dart",
  "elixir", "elm", "erlang", "generic", "go", "groovy", "hack", "haskell",
  "haxe", "java", "julia", "matlab", "nix", "node_js", "perl", "perl6",
  "php", "python", "r", "ruby", "objective-c", "rust", "scala", "shell",
  "smalltalk"};

const std::map<std::string, std::string, std::less<>> language_aliases = {
  {"c++", "cpp"},        {"golang", "go"},        {"jvm", "java"},
  {"javascript", "node_js"}, {"js", "node_js"},  {"node", "node_js"},
  {"objective_c", "objective-c"}, {"swift", "objective-c"},
  {"bash", "shell"},     {"minimal", "shell"},    {"sh", "shell"},
};

const strings oss = {"linux", "osx", "windows", "freebsd", "linux-ppc64le"};

const std::map<std::string, std::string, std::less<>> os_aliases = {
  {"ubuntu", "linux"}, {"mac", "osx"},     {"macos", "osx"},
  {"macosx", "osx"},   {"ios", "osx"},     {"win", "windows"},
  {"bsd", "freebsd"},
};

const strings archs = {"amd64", "arm64", "arm64-graviton2", "ppc64le",
                       "i386", "s390x"};

const std::map<std::string, std::string, std::less<>> arch_aliases = {
  {"x86_64", "amd64"}, {"x64", "amd64"}, {"power", "ppc64le"},
  {"ppc", "ppc64le"},  {"ppc64", "ppc64le"}, {"x86", "i386"},
};

const strings dists = {"trusty", "precise", "xenial", "bionic", "focal",
                       "jammy", "noble", "server-2016", "rhel8"};

bool contains(const strings& xs, std::string_view x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::string lower(std::string_view x) {
  std::string result{x};
  std::transform(result.begin(), result.end(), result.begin(), [](char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return result;
}

// -- support rules ------------------------------------------------------------

// A support rule of the schema: the key or value is supported only where the
// job's `language`, `os` or `arch` is one of `only` (if given) and not all
// of it is in `except`.
struct travis_support {
  std::vector<std::pair<std::string, strings>> only;
  std::vector<std::pair<std::string, strings>> except;
};

travis_support only(std::string key, strings values) {
  travis_support result;
  result.only.emplace_back(std::move(key), std::move(values));
  return result;
}

travis_support except(std::string key, strings values) {
  travis_support result;
  result.except.emplace_back(std::move(key), std::move(values));
  return result;
}

// The support of a key, if it has one.
std::optional<travis_support> key_support(std::string_view key) {
  if (auto i = language_keys.find(key); i != language_keys.end())
    return only("language", i->second);
  if (key == "compiler")
    return only("language", {"c", "cpp"});
  if (key == "osx_image")
    return only("os", {"osx"});
  if (key == "arch")
    return only("os", {"linux"});
  return std::nullopt;
}

// The support of a value of a key, if it has one.
std::optional<travis_support> value_support(std::string_view key,
                                            std::string_view value) {
  if (key == "os") {
    if (value == "linux" || value == "windows" || value == "freebsd")
      return except("language", {"objective-c"});
    return std::nullopt;
  }
  if (key == "dist") {
    if (value == "xenial" || value == "focal")
      return only("os", {"linux", "linux-ppc64le"});
    if (value == "server-2016")
      return only("os", {"windows"});
    if (contains(dists, value))
      return only("os", {"linux"});
  }
  return std::nullopt;
}

// The job's values of `key` (language, os or arch): one string or a list.
strings supporting(const config_node& job, std::string_view key) {
  strings result;
  auto value = job.find(key);
  if (value == nullptr)
    return result;
  for (const auto& x : wrap(*value))
    if (x.is_scalar())
      result.push_back(x.scalar_text());
  return result;
}

// travis-yml's `Doc::Value::Support`: the values of the job that make the
// rule fail; empty if the rule holds. A job without the key passes.
strings violations(const travis_support& rule, const config_node& job) {
  strings result;
  for (const auto& [key, allowed] : rule.only) {
    auto have = supporting(job, key);
    auto any = std::any_of(have.begin(), have.end(),
                           [&values = allowed](const std::string& x) {
                             return contains(values, x);
                           });
    if (any)
      continue;
    for (const auto& x : have)
      result.push_back(key + " " + x);
  }
  for (const auto& [key, excluded] : rule.except) {
    auto have = supporting(job, key);
    auto any = std::any_of(have.begin(), have.end(),
                           [&values = excluded](const std::string& x) {
                             return !contains(values, x);
                           });
    if (any)
      continue;
    for (const auto& x : have)
      if (contains(excluded, x))
        result.push_back(key + " " + x);
  }
  return result;
}

} // namespace

// -- keys ---------------------------------------------------------------------

const std::vector<std::string>& travis_expand_keys() {
  return expand_keys;
}

int expand_key_index(std::string_view key) {
  auto i = std::find(expand_keys.begin(), expand_keys.end(), key);
  return i == expand_keys.end() ? -1
                                : static_cast<int>(i - expand_keys.begin());
}

bool is_language_key(std::string_view key) {
  return language_keys.count(key) > 0;
}

std::string_view key_alias(std::string_view key, bool root) {
  const auto& table = root ? root_key_aliases : job_key_aliases;
  auto i = table.find(key);
  return i == table.end() ? std::string_view{} : std::string_view{i->second};
}

// -- values -------------------------------------------------------------------

const std::vector<std::string>& travis_languages() {
  return languages;
}

std::string canonical_value(std::string_view key, std::string_view value) {
  const std::map<std::string, std::string, std::less<>>* aliases = nullptr;
  if (key == "language")
    aliases = &language_aliases;
  else if (key == "os")
    aliases = &os_aliases;
  else if (key == "arch")
    aliases = &arch_aliases;
  else if (key != "dist")
    return std::string{value};
  auto result = lower(value);
  if (aliases != nullptr)
    if (auto i = aliases->find(result); i != aliases->end())
      return i->second;
  return result;
}

bool known_value(std::string_view key, std::string_view value) {
  if (key == "language")
    return contains(languages, value);
  if (key == "os")
    return contains(oss, value);
  if (key == "arch")
    return contains(archs, value);
  if (key == "dist")
    return contains(dists, value);
  return true;
}

// -- support ------------------------------------------------------------------

bool supports_key(const config_node& job, std::string_view key) {
  auto rule = key_support(key);
  return !rule || violations(*rule, job).empty();
}

bool supports(const config_node& job, std::string_view key,
              const config_node& value) {
  if (value.is_null() || (value.is_bool() && !value.flag()))
    return true;
  if (!supports_key(job, key))
    return false;
  if (!value.is_string())
    return true;
  auto rule = value_support(key, value.text());
  return !rule || violations(*rule, job).empty();
}

std::string unsupported_on(const config_node& job, std::string_view key,
                           const config_node& value) {
  if (auto rule = key_support(key)) {
    auto found = violations(*rule, job);
    if (!found.empty())
      return found.front();
  }
  if (value.is_string())
    if (auto rule = value_support(key, value.text())) {
      auto found = violations(*rule, job);
      if (!found.empty())
        return found.front();
    }
  return {};
}

// -- defaults -----------------------------------------------------------------

std::vector<std::string> add_travis_defaults(config_node& config) {
  std::vector<std::string> added;
  using candidate = std::pair<const char*, travis_support>;
  auto first_supported = [&config](std::vector<candidate> candidates) {
    for (auto& [value, rule] : candidates)
      if (violations(rule, config).empty())
        return std::string{value};
    return std::string{};
  };
  if (!config.has("language")) {
    auto value = first_supported(
      {{"ruby", except("os", {"osx"})},
                   {"objective-c", only("os", {"osx"})}});
    if (!value.empty()) {
      config.set("language", config_node::string(value));
      added.emplace_back("language");
    }
  }
  if (!config.has("os")) {
    auto value = first_supported(
      {{"linux", except("language", {"objective-c"})},
             {"osx", only("language", {"objective-c"})}});
    if (!value.empty()) {
      config.set("os", config_node::list({config_node::string(value)}));
      added.emplace_back("os");
    }
  }
  if (!config.has("dist")) {
    auto value = first_supported(
      {{"focal", only("os", {"linux", "linux-ppc64le"})}});
    if (!value.empty()) {
      config.set("dist", config_node::string(value));
      added.emplace_back("dist");
    }
  }
  return added;
}

} // namespace conveyor
