#include "actors/gatekeeper/build_config.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <new>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "actors/gatekeeper/env_string.hpp"

namespace conveyor {

namespace {

using yaml_node = YAML::Node;

// Keys of the Travis language that conveyor reads but does not act on yet. They
// get a warning rather than `unknown_key`, so the user knows the key is valid
// Travis and simply not implemented.
const std::set<std::string> unsupported_root_keys{
  "addons", "after_deploy", "arch", "before_cache", "before_deploy",
  "branches", "cache", "compiler", "conditions", "deploy", "filter_secrets",
  "group", "if", "import", "merge_mode", "notifications", "osx_image",
  "services", "stages", "sudo", "trace", "version", "virt", "vm"};

// Language version keys: in Travis each one is a matrix axis.
const std::set<std::string> language_keys{
  "android", "bioc_packages", "bundler_args", "cran", "crystal", "d", "dart",
  "dart_task", "dotnet", "elixir", "elm", "gemfile", "ghc", "go",
  "go_import_path", "gobuild_args", "haxe", "hhvm", "jdk", "julia", "lein",
  "matlab", "mono", "nix", "node_js", "otp_release", "perl", "perl6", "php",
  "podfile", "python", "r", "r_github_packages", "r_packages", "ruby", "rvm",
  "rust", "scala", "smalltalk", "smalltalk_config", "smalltalk_vm",
  "solution", "xcode_destination", "xcode_project", "xcode_scheme",
  "xcode_sdk", "xcode_workspace"};

// Keys a job of `jobs.include` may have in Travis beyond the ones read here.
const std::set<std::string> unsupported_job_keys{
  "addons", "after_deploy", "arch", "before_cache", "before_deploy", "cache",
  "compiler", "deploy", "dist", "filter_secrets", "group", "if",
  "language", "os", "osx_image", "services", "stage", "sudo", "trace", "virt",
  "vm", "workspaces"};

// Keys of Travis's `git` section beyond `clone` and `depth`. `submodules` and
// `quiet` are also checked to be booleans.
const std::set<std::string> unsupported_git_keys{
  "autocrlf", "lfs_skip_smudge", "quiet", "sparse_checkout", "strategy",
  "submodules", "submodules_depth", "symlinks"};

// Keys an allow_failures/exclude entry may have in Travis beyond env and name.
const std::set<std::string> unsupported_matcher_keys{
  "arch", "branch", "compiler", "dist", "if", "language", "os", "osx_image",
  "stage"};

// Bounds the work spent on YAML merge keys (`<<`), which may nest and repeat
// through aliases.
constexpr int max_merge_depth = 16;
constexpr int max_merges = 1024;

// Bounds the findings kept for one config; the rest are counted in a summary.
constexpr size_t max_messages = 100;

using phase_member = std::optional<std::vector<std::string>> phases_config::*;

struct phase_key {
  const char* name;
  phase_member member;
};

const phase_key phase_keys[] = {
  {"before_install", &phases_config::before_install},
  {"install", &phases_config::install},
  {"before_script", &phases_config::before_script},
  {"script", &phases_config::script},
  {"after_success", &phases_config::after_success},
  {"after_failure", &phases_config::after_failure},
  {"after_script", &phases_config::after_script},
};

phase_member find_phase(const std::string& key) {
  for (const auto& x : phase_keys)
    if (key == x.name)
      return x.member;
  return nullptr;
}

source_mark mark_of(const yaml_node& x) {
  auto m = x.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0)
    return {};
  return {m.line + 1, m.column + 1};
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string quoted(const std::string& key) {
  return "'" + key + "'";
}

// One key of a YAML map with its value, after duplicates and merge keys are
// resolved.
struct map_entry {
  std::string key;
  yaml_node value;
  source_mark key_mark;
};

// Sees where each YAML document starts, and nothing else.
class document_probe : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& at) override {
    starts.push_back(at);
  }
  void OnDocumentEnd() override {
  }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
  }
  void OnSequenceEnd() override {
  }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
  }
  void OnMapEnd() override {
  }
};

// Lists where the documents of `input` start (the first two) and throws a
// ParserException for a syntax error in any of them. yaml-cpp 0.7's LoadAll
// never returns on a stray ',' at document level: it yields the same empty
// document forever, at the same position. A document that starts where the
// previous one started is therefore a syntax error here; every other document
// consumes input, so the loop ends.
std::vector<YAML::Mark> document_starts(const std::string& input) {
  std::istringstream in{input};
  YAML::Parser parser{in};
  document_probe probe;
  std::vector<YAML::Mark> result;
  while (parser.HandleNextDocument(probe)) {
    auto n = probe.starts.size();
    if (n >= 2 && probe.starts[n - 1].pos == probe.starts[n - 2].pos) {
      auto at = probe.starts[n - 1];
      auto pos = static_cast<size_t>(at.pos);
      auto what = pos < input.size()
                    ? "unexpected '" + input.substr(pos, 1) + "'"
                    : std::string{"unexpected end"};
      throw YAML::ParserException(at, what);
    }
    if (result.size() < 2)
      result.push_back(probe.starts.back());
    probe.starts.erase(probe.starts.begin(), probe.starts.end() - 1);
  }
  return result;
}

class parser {
public:
  void run(std::string_view text) {
    std::string input{text};
    std::vector<YAML::Mark> documents;
    yaml_node doc;
    try {
      documents = document_starts(input);
      if (!documents.empty())
        doc = YAML::Load(input);
    } catch (const YAML::Exception& e) {
      syntax_error(e);
      return;
    }
    if (doc.IsNull()) {
      error("", "empty_config", "the config is empty", {});
      return;
    }
    if (documents.size() > 1)
      warn("", "multiple_documents",
           "the file holds several YAML documents: only the first one is read",
           {documents[1].line + 1, documents[1].column + 1});
    if (!doc.IsMap()) {
      error("", "invalid_type", "the config must be a map of keys to values",
            mark_of(doc));
      return;
    }
    root(doc);
  }

  void syntax_error(const YAML::Exception& e) {
    result_ = config_result{};
    suppressed_ = 0;
    suppressed_errors_ = 0;
    source_mark at;
    if (!e.mark.is_null())
      at = {e.mark.line + 1, e.mark.column + 1};
    // yaml-cpp says "bad file" when nesting exceeds its depth limit.
    auto text = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr
                  ? std::string{"nested too deeply"}
                  : e.msg;
    add("error", "", "syntax_error", "invalid YAML: " + text, at);
  }

  void internal_error(const std::string& what) {
    add("error", "", "internal_error",
        "the config could not be read: " + what, {});
  }

  config_result take_result() {
    // The summary is an error if it hides one, so that a long list of
    // warnings cannot make an invalid config look valid.
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
           std::string text, source_mark at) {
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
             source_mark at) {
    add("error", key, code, std::move(text), at);
  }

  void warn(const std::string& key, const char* code, std::string text,
            source_mark at) {
    add("warn", key, code, std::move(text), at);
  }

  void info(const std::string& key, const char* code, std::string text,
            source_mark at) {
    add("info", key, code, std::move(text), at);
  }

  void invalid_type(const std::string& path, const std::string& expected,
                    const yaml_node& x) {
    error(path, "invalid_type", quoted(path) + " must be " + expected,
          mark_of(x));
  }

  void empty(const std::string& path, const yaml_node& x) {
    info(path, "empty", quoted(path) + " is empty and is ignored", mark_of(x));
  }

  void unknown_key(const std::string& path, const map_entry& x) {
    warn(path, "unknown_key",
         quoted(path) + " is not a known key and is ignored", x.key_mark);
  }

  void unsupported_key(const std::string& path, const map_entry& x,
                       const std::string& why) {
    warn(path, "unsupported_key",
         quoted(path) + " is not supported yet and is ignored" + why,
         x.key_mark);
  }

  // -- budget -----------------------------------------------------------------

  // Charges `text` to the budget of the whole config; false once it is spent,
  // so that aliases repeating a large node cannot exhaust memory.
  bool charge(const std::string& text, const std::string& path,
              const yaml_node& x) {
    if (over_budget_)
      return false;
    bytes_ += text.size() + 1;
    if (bytes_ > max_config_bytes) {
      over_budget_ = true;
      error(path, "too_large",
            "the config holds more than "
              + std::to_string(max_config_bytes / (1024 * 1024))
              + " MB of commands and variables once aliases are expanded",
            mark_of(x));
      return false;
    }
    return true;
  }

  bool count_job(const std::string& path, const yaml_node& x) {
    if (++jobs_seen_ <= max_jobs)
      return true;
    if (jobs_seen_ == max_jobs + 1)
      error(path, "too_many_jobs",
            "the config lists more than " + std::to_string(max_jobs) + " jobs",
            mark_of(x));
    return false;
  }

  // -- maps -------------------------------------------------------------------

  // Lists the entries of a map: a repeated key warns and the last one wins (as
  // in Ruby's YAML loader, which Travis uses); merge keys `<<` add the entries
  // of the merged maps that the map does not set itself.
  std::vector<map_entry> entries(const yaml_node& map,
                                 const std::string& path) {
    std::vector<map_entry> result;
    collect(map, path, result, false, 0);
    return result;
  }

  void collect(const yaml_node& map, const std::string& path,
               std::vector<map_entry>& out, bool merged, int depth) {
    std::vector<yaml_node> merges;
    for (auto i = map.begin(); i != map.end(); ++i) {
      yaml_node key = i->first;
      yaml_node value = i->second;
      if (!key.IsScalar()) {
        error(path, "invalid_type", "a key must be a string", mark_of(key));
        continue;
      }
      const auto& name = key.Scalar();
      if (name == "<<" && key.Tag() == "?") {
        merges.push_back(value);
        continue;
      }
      auto same = std::find_if(out.begin(), out.end(),
                               [&name](const map_entry& x) {
                                 return x.key == name;
                               });
      if (same == out.end()) {
        out.push_back({name, value, mark_of(key)});
      } else if (!merged) {
        warn(join(path, name), "duplicate_key",
             quoted(join(path, name))
               + " is given more than once: the last one is used",
             mark_of(key));
        same->value = value;
        same->key_mark = mark_of(key);
      }
    }
    for (const auto& x : merges)
      merge(x, path, out, depth);
  }

  void merge(const yaml_node& x, const std::string& path,
             std::vector<map_entry>& out, int depth) {
    if (depth >= max_merge_depth || ++merges_ > max_merges) {
      if (!merge_limit_hit_)
        error(join(path, "<<"), "too_large",
              "merge keys ('<<') nest or repeat too often", mark_of(x));
      merge_limit_hit_ = true;
      return;
    }
    if (x.IsMap()) {
      collect(x, path, out, true, depth + 1);
    } else if (x.IsSequence()) {
      for (const auto& item : x) {
        if (item.IsMap())
          collect(item, path, out, true, depth + 1);
        else
          invalid_type(join(path, "<<"), "a map or a list of maps", item);
      }
    } else {
      invalid_type(join(path, "<<"), "a map or a list of maps", x);
    }
  }

  // -- root -------------------------------------------------------------------

  void root(const yaml_node& doc) {
    bool seen_jobs = false;
    for (const auto& x : entries(doc, "")) {
      const auto& key = x.key;
      if (key == "env") {
        env(x.value);
      } else if (key == "jobs" || key == "matrix") {
        if (seen_jobs)
          warn(key, "duplicate_key",
               "both 'jobs' and 'matrix' are given: 'matrix' is another name "
               "for 'jobs', their entries are merged",
               x.key_mark);
        seen_jobs = true;
        jobs(x.value, key);
      } else if (auto member = find_phase(key)) {
        result_.config.phases.*member = commands(x.value, key);
      } else if (key == "git") {
        git(x.value, key, result_.config.git);
      } else {
        root_extra(x);
      }
    }
  }

  void root_extra(const map_entry& x) {
    const auto& key = x.key;
    if (key == "language") {
      info(key, "unsupported_key",
           "'language' is ignored for now: jobs run with the tools installed "
           "on the worker, and there are no language defaults",
           x.key_mark);
    } else if (key == "dist") {
      info(key, "unsupported_key",
           "'dist' is ignored for now: jobs run on the worker's own system",
           x.key_mark);
    } else if (key == "os" && x.value.IsScalar()
               && x.value.Scalar() == "linux") {
      info(key, "unsupported_key", "'os: linux' is the only os conveyor runs",
           x.key_mark);
    } else if (key == "os") {
      unsupported_key(key, x, ": jobs run on the worker's own system");
    } else if (language_keys.count(key) > 0) {
      unsupported_key(key, x,
                      " (it does not expand the matrix; jobs use the tools "
                      "installed on the worker)");
    } else if (unsupported_root_keys.count(key) > 0) {
      unsupported_key(key, x, "");
    } else {
      unknown_key(key, x);
    }
  }

  // -- phases -----------------------------------------------------------------

  std::optional<std::vector<std::string>> commands(const yaml_node& x,
                                                   const std::string& path) {
    if (x.IsNull()) {
      empty(path, x);
      return std::nullopt;
    }
    if (x.IsScalar()) {
      if (!charge(x.Scalar(), path, x))
        return std::nullopt;
      return std::vector<std::string>{x.Scalar()};
    }
    if (!x.IsSequence()) {
      invalid_type(path, "a string or a list of strings", x);
      return std::nullopt;
    }
    std::vector<std::string> result;
    for (const auto& item : x) {
      if (item.IsScalar()) {
        if (!charge(item.Scalar(), path, item))
          break;
        result.push_back(item.Scalar());
      } else if (item.IsNull()) {
        warn(path, "empty", "an entry of " + quoted(path)
                              + " is empty and is ignored",
             mark_of(item));
      } else {
        error(path, "invalid_type",
              "each entry of " + quoted(path) + " must be a string",
              mark_of(item));
      }
    }
    return result;
  }

  // -- git --------------------------------------------------------------------

  void git(const yaml_node& x, const std::string& path, git_config& out) {
    if (x.IsNull()) {
      empty(path, x);
      return;
    }
    if (!x.IsMap()) {
      invalid_type(path, "a map", x);
      return;
    }
    for (const auto& entry : entries(x, path)) {
      auto sub = join(path, entry.key);
      bool known = entry.key == "clone" || entry.key == "depth"
                   || unsupported_git_keys.count(entry.key) > 0;
      if (known && entry.value.IsNull()) {
        empty(sub, entry.value);
      } else if (entry.key == "clone") {
        if (auto flag = boolean(entry.value, sub))
          out.clone = *flag;
      } else if (entry.key == "depth") {
        if (auto depth = clone_depth(entry.value, sub))
          out.depth = *depth;
      } else if (entry.key == "submodules" || entry.key == "quiet") {
        if (boolean(entry.value, sub))
          unsupported_key(sub, entry, "");
      } else if (known) {
        unsupported_key(sub, entry, "");
      } else {
        unknown_key(sub, entry);
      }
    }
  }

  // Reads `git.depth`: a positive number of commits, or false for the whole
  // history (0). `true` means nothing to git, so it is an error too.
  std::optional<int32_t> clone_depth(const yaml_node& x,
                                     const std::string& path) {
    if (auto flag = boolean_word(x); flag && !*flag)
      return 0;
    if (x.IsScalar()) {
      const auto& text = x.Scalar();
      constexpr int64_t max_depth = std::numeric_limits<int32_t>::max();
      bool digits = !text.empty() && text.size() <= 10
                    && text.find_first_not_of("0123456789")
                         == std::string::npos;
      if (digits) {
        auto n = std::stoll(text);
        if (n > 0 && n <= max_depth)
          return static_cast<int32_t>(n);
      }
    }
    invalid_type(path, "a positive whole number or false", x);
    return std::nullopt;
  }

  // -- env --------------------------------------------------------------------

  static bool is_env_section(const std::string& key) {
    return key == "global" || key == "jobs" || key == "matrix";
  }

  void env(const yaml_node& x) {
    if (x.IsNull()) {
      empty("env", x);
    } else if (x.IsScalar() || x.IsSequence()) {
      env_rows(x, "env");
    } else if (x.IsMap() && has_env_section(x)) {
      env_sections(x);
    } else if (x.IsMap()) {
      env_rows(x, "env");
    } else {
      invalid_type("env", "a string, a list or a map", x);
    }
  }

  static bool has_env_section(const yaml_node& map) {
    for (auto i = map.begin(); i != map.end(); ++i)
      if (i->first.IsScalar() && is_env_section(i->first.Scalar()))
        return true;
    return false;
  }

  void env_sections(const yaml_node& map) {
    bool seen_jobs = false;
    for (const auto& x : entries(map, "env")) {
      auto path = join("env", x.key);
      if (x.key == "global") {
        auto vars = own_env(x.value, path);
        auto& global = result_.config.env.global;
        global.insert(global.end(), vars.begin(), vars.end());
      } else if (is_env_section(x.key)) {
        if (seen_jobs)
          warn(path, "duplicate_key",
               "both 'env.jobs' and 'env.matrix' are given: 'matrix' is "
               "another name for 'jobs', their entries are merged",
               x.key_mark);
        seen_jobs = true;
        env_rows(x.value, path);
      } else {
        warn(path, "unknown_key",
             quoted(path)
               + " is ignored: beside 'global' and 'jobs', 'env' takes no keys",
             x.key_mark);
      }
    }
  }

  // Reads the matrix rows: a list gives one job per entry, a string or a map
  // gives one job.
  void env_rows(const yaml_node& x, const std::string& path) {
    if (x.IsNull()) {
      empty(path, x);
      return;
    }
    if (!x.IsSequence()) {
      env_row_of(x, path);
      return;
    }
    for (const auto& item : x) {
      if (item.IsNull())
        warn(path, "empty",
             "an entry of " + quoted(path) + " is empty and is ignored",
             mark_of(item));
      else if (item.IsSequence())
        invalid_type(path, "a list of strings or maps", item);
      else if (!env_row_of(item, path))
        return;
    }
  }

  bool env_row_of(const yaml_node& x, const std::string& path) {
    if (!count_job(path, x))
      return false;
    env_row row;
    row.mark = mark_of(x);
    if (auto vars = env_entry(x, path))
      row.vars = std::move(*vars);
    result_.config.env.jobs.push_back(std::move(row));
    return true;
  }

  // Reads the variables of one job or of `env.global`: a string, a map, or a
  // list of those, concatenated.
  std::vector<env_var> own_env(const yaml_node& x, const std::string& path) {
    std::vector<env_var> result;
    if (x.IsNull()) {
      empty(path, x);
    } else if (x.IsSequence()) {
      for (const auto& item : x) {
        if (item.IsSequence()) {
          invalid_type(path, "a string, a map or a list of those", item);
        } else if (auto vars = env_entry(item, path)) {
          result.insert(result.end(), vars->begin(), vars->end());
        }
      }
    } else if (auto vars = env_entry(x, path)) {
      result = std::move(*vars);
    }
    return result;
  }

  // Reads one entry: `FOO=a BAR="b c"` or `{FOO: a, BAR: b c}`.
  std::optional<std::vector<env_var>> env_entry(const yaml_node& x,
                                                const std::string& path) {
    if (x.IsNull())
      return std::vector<env_var>{};
    if (x.IsScalar()) {
      if (!charge(x.Scalar(), path, x))
        return std::nullopt;
      auto parsed = parse_env_string(x.Scalar());
      if (!parsed.error.empty()) {
        error(path, "invalid_env",
              "invalid variables in " + quoted(path) + ": " + parsed.error,
              mark_of(x));
        return std::nullopt;
      }
      return std::move(parsed.vars);
    }
    if (!x.IsMap()) {
      invalid_type(path, "a string or a map", x);
      return std::nullopt;
    }
    std::vector<env_var> result;
    for (const auto& var : entries(x, path)) {
      if (var.key == "secure") {
        warn(path, "unsupported",
             "secure (encrypted) variables are not supported yet: this one is "
             "left out",
             var.key_mark);
      } else if (!is_env_name(var.key)) {
        error(path, "invalid_env",
              quoted(var.key) + " is not a valid variable name", var.key_mark);
      } else if (var.value.IsNull()) {
        result.push_back({var.key, ""});
      } else if (var.value.IsScalar()) {
        if (!charge(var.value.Scalar(), path, var.value))
          break;
        result.push_back({var.key, var.value.Scalar()});
      } else {
        error(path, "invalid_type",
              "the value of " + var.key + " must be a string",
              mark_of(var.value));
      }
    }
    return result;
  }

  // -- jobs -------------------------------------------------------------------

  void jobs(const yaml_node& x, const std::string& path) {
    if (x.IsNull()) {
      empty(path, x);
      return;
    }
    if (x.IsSequence()) {
      info(path, "list_as_include",
           "a list under " + quoted(path) + " is read as "
             + quoted(path + ".include"),
           mark_of(x));
      includes(x, join(path, "include"));
      return;
    }
    if (!x.IsMap()) {
      invalid_type(path, "a map", x);
      return;
    }
    auto& cfg = result_.config.jobs;
    for (const auto& entry : entries(x, path)) {
      auto sub = join(path, entry.key);
      if (entry.key == "include") {
        includes(entry.value, sub);
      } else if (entry.key == "exclude") {
        matchers(entry.value, sub, cfg.exclude);
      } else if (entry.key == "allow_failures") {
        matchers(entry.value, sub, cfg.allow_failures);
      } else if (entry.key == "fast_finish") {
        if (auto flag = boolean(entry.value, sub))
          cfg.fast_finish = *flag;
      } else {
        unknown_key(sub, entry);
      }
    }
  }

  // Reads YAML 1.1's words for true and false, in any case.
  static std::optional<bool> boolean_word(const yaml_node& x) {
    if (!x.IsScalar())
      return std::nullopt;
    auto text = x.Scalar();
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
      return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    if (text == "true" || text == "yes" || text == "on")
      return true;
    if (text == "false" || text == "no" || text == "off")
      return false;
    return std::nullopt;
  }

  std::optional<bool> boolean(const yaml_node& x, const std::string& path) {
    if (auto flag = boolean_word(x))
      return flag;
    invalid_type(path, "true or false", x);
    return std::nullopt;
  }

  // Calls `fn` for each map of a list (or for a single map), reporting entries
  // of another shape.
  template <class Fn>
  void each_map(const yaml_node& x, const std::string& path, Fn fn) {
    if (x.IsNull()) {
      empty(path, x);
    } else if (x.IsMap()) {
      fn(x);
    } else if (x.IsSequence()) {
      for (const auto& item : x) {
        if (item.IsMap()) {
          if (!fn(item))
            return;
        } else if (item.IsNull()) {
          warn(path, "empty",
               "an entry of " + quoted(path) + " is empty and is ignored",
               mark_of(item));
        } else {
          invalid_type(path, "a list of maps", item);
        }
      }
    } else {
      invalid_type(path, "a list of maps", x);
    }
  }

  void includes(const yaml_node& x, const std::string& path) {
    each_map(x, path, [this, &path](const yaml_node& item) {
      if (!count_job(path, item))
        return false;
      result_.config.jobs.include.push_back(include_entry(item, path));
      return true;
    });
  }

  include_config include_entry(const yaml_node& x, const std::string& path) {
    include_config result;
    result.mark = mark_of(x);
    for (const auto& entry : entries(x, path)) {
      auto sub = join(path, entry.key);
      if (entry.key == "name") {
        if (auto name = name_of(entry.value, sub))
          result.name = std::move(*name);
      } else if (entry.key == "env") {
        result.env = own_env(entry.value, sub);
      } else if (auto member = find_phase(entry.key)) {
        result.phases.*member = commands(entry.value, sub);
      } else if (entry.key == "git") {
        git(entry.value, sub, result.git);
      } else if (entry.key == "allow_failure") {
        if (auto flag = boolean(entry.value, sub))
          result.allow_failure = *flag;
      } else if (unsupported_job_keys.count(entry.key) > 0
                 || language_keys.count(entry.key) > 0) {
        unsupported_key(sub, entry, "");
      } else {
        unknown_key(sub, entry);
      }
    }
    return result;
  }

  std::optional<std::string> name_of(const yaml_node& x,
                                     const std::string& path) {
    if (x.IsScalar() && charge(x.Scalar(), path, x))
      return x.Scalar();
    if (!x.IsScalar())
      invalid_type(path, "a string", x);
    return std::nullopt;
  }

  void matchers(const yaml_node& x, const std::string& path,
                std::vector<job_matcher>& out) {
    each_map(x, path, [this, &path, &out](const yaml_node& item) {
      out.push_back(matcher(item, path));
      return true;
    });
  }

  job_matcher matcher(const yaml_node& x, const std::string& path) {
    job_matcher result;
    result.mark = mark_of(x);
    for (const auto& entry : entries(x, path)) {
      auto sub = join(path, entry.key);
      if (entry.key == "env") {
        result.env = own_env(entry.value, sub);
      } else if (entry.key == "name") {
        result.name = name_of(entry.value, sub);
      } else if (unsupported_matcher_keys.count(entry.key) > 0
                 || language_keys.count(entry.key) > 0) {
        unsupported_key(sub, entry, ": entries match on env and name only");
      } else {
        unknown_key(sub, entry);
      }
    }
    if (!result.env && !result.name)
      warn(path, "matches_nothing",
           "this entry of " + quoted(path)
             + " has no env and no name, so it matches no job",
           result.mark);
    return result;
  }

  config_result result_;
  size_t bytes_ = 0;
  bool over_budget_ = false;
  size_t jobs_seen_ = 0;
  int merges_ = 0;
  bool merge_limit_hit_ = false;
  size_t suppressed_ = 0;
  size_t suppressed_errors_ = 0;
};

} // namespace

// -- parsing ------------------------------------------------------------------

config_result parse_build_config(std::string_view yaml) {
  parser p;
  // The parser reports YAML syntax errors itself; anything else escaping it is
  // a bug or memory exhaustion, which must still not take the gatekeeper down.
  try {
    p.run(yaml);
  } catch (const std::bad_alloc&) {
    p.internal_error("out of memory");
  } catch (const std::exception& e) {
    p.internal_error(e.what());
  } catch (...) {
    p.internal_error("unknown failure");
  }
  return p.take_result();
}

bool has_errors(const std::vector<config_message>& messages) {
  return std::any_of(messages.begin(), messages.end(),
                     [](const config_message& x) {
                       return x.level == "error";
                     });
}

} // namespace conveyor
