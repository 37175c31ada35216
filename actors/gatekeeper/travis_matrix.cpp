#include "actors/gatekeeper/travis_matrix.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "actors/gatekeeper/travis_schema.hpp"

namespace conveyor {

namespace {

using rows = std::vector<config_node>;

// Root keys that are neither matrix keys nor copied into the jobs.
const std::vector<std::string> dropped_keys = {
  "jobs",    "import",        "stages",     "notifications",
  "version", "allow_failure", "global_env", "merge_mode"};

bool is_dropped(const std::string& key) {
  return std::find(dropped_keys.begin(), dropped_keys.end(), key)
         != dropped_keys.end();
}

std::string lower(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(), [](char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return x;
}

// Travis's `compact(x).empty?`: blank once empty values are removed, deeply.
bool deep_blank(const config_node& x) {
  switch (x.kind()) {
    case config_node::kind_type::null: return true;
    case config_node::kind_type::boolean: return false;
    case config_node::kind_type::string: return x.text().empty();
    case config_node::kind_type::list:
      return std::all_of(x.items().begin(), x.items().end(), deep_blank);
    case config_node::kind_type::map:
      return std::all_of(x.entries().begin(), x.entries().end(),
                         [](const config_entry& e) {
                           return deep_blank(e.value);
                         });
  }
  return true;
}

// Ruby's `obj.is_a?(Array) ? obj : [obj]`, nil included.
std::vector<config_node> ruby_wrap(const config_node& x) {
  if (x.is_list())
    return x.items();
  return {x};
}

// The jobs section's list at `key`, its map entries only.
std::vector<config_node> job_rules(const config_node& config,
                                   const char* key) {
  std::vector<config_node> result;
  auto jobs = config.find("jobs");
  if (jobs == nullptr || !jobs->is_map())
    return result;
  for (const auto& x : ruby_wrap(jobs->get(key)))
    if (x.is_map())
      result.push_back(x);
  return result;
}

// `env.global` of the root config, as a list.
std::vector<config_node> global_env(const config_node& config) {
  auto env = config.find("env");
  if (env == nullptr || !env->is_map())
    return {};
  auto global = env->get("global");
  if (global.is_string())
    return {global};
  return global.items();
}

// Ruby's `Array#-`: the items of `xs` not in `ys`.
std::vector<config_node> minus(const std::vector<config_node>& xs,
                               const std::vector<config_node>& ys) {
  std::unordered_multimap<std::size_t, const config_node*> index;
  for (const auto& y : ys)
    index.emplace(y.hash(), &y);
  std::vector<config_node> result;
  for (const auto& x : xs) {
    auto range = index.equal_range(x.hash());
    bool found = std::any_of(range.first, range.second,
                             [&x](const auto& y) { return *y.second == x; });
    if (!found)
      result.push_back(x);
  }
  return result;
}

// Adds the variables of one env entry (a map or a `K=V` string).
void add_env(condition_data& out, const config_node& entry) {
  if (entry.is_string()) {
    out.add_env_string(entry.text());
    return;
  }
  for (const auto& var : entry.entries()) {
    const auto& v = var.value;
    if (v.is_string())
      out.env[var.key] = v.text();
    else if (v.is_bool())
      out.env[var.key] = v.flag();
    else
      out.env[var.key] = std::monostate{};
  }
}

// Adds the env of a job (a list of entries) or of a root config (a map of
// `global` and `jobs`) or of data (a list, or a map of variables).
void add_env_of(condition_data& out, const config_node& env) {
  if (env.is_map()
      && (env.has("global") || env.has("jobs") || env.has("matrix"))) {
    for (const auto* key : {"global", "jobs", "matrix"})
      for (const auto& entry : wrap(env.get(key)))
        add_env(out, entry);
    return;
  }
  for (const auto& entry : wrap(env))
    add_env(out, entry);
}

// The build attributes a condition can name (the parser's `var`): the only
// ones its evaluation reads.
bool is_condition_attribute(std::string_view key) {
  static const std::unordered_set<std::string_view> names = {
    "type",  "repo", "head_repo", "os",     "dist",   "group",
    "sudo",  "language", "sender", "fork",  "draft",  "branch",
    "head_branch", "tag", "commit_message"};
  return names.count(key) > 0;
}

// Adds the scalar entries of `x` but `env` as attributes (all of them, or
// with `readable_only` those a condition can read).
void add_attributes(condition_data& out, const config_node& x,
                    bool readable_only = false) {
  for (const auto& entry : x.entries()) {
    if (entry.key == "env")
      continue;
    if (readable_only && !is_condition_attribute(entry.key))
      continue;
    const auto& v = entry.value;
    if (v.is_string())
      out.attributes[entry.key] = v.text();
    else if (v.is_bool())
      out.attributes[entry.key] = v.flag();
    else
      out.attributes.erase(entry.key);
  }
}

std::string condition_text(const config_node& cond) {
  return cond.scalar_text();
}

// Rows keep their order; a row equal to an earlier one is dropped.
rows unique(rows xs) {
  std::unordered_multimap<std::size_t, std::size_t> seen;
  rows result;
  result.reserve(xs.size());
  for (auto& x : xs) {
    auto h = x.hash();
    auto range = seen.equal_range(h);
    bool dup = std::any_of(range.first, range.second,
                           [&result, &x](const auto& y) {
                             return result[y.second] == x;
                           });
    if (dup)
      continue;
    seen.emplace(h, result.size());
    result.push_back(std::move(x));
  }
  return result;
}

config_message too_many(std::size_t n, std::size_t limit,
                        const char* when) {
  return {"error",
          "jobs",
          "too_many_jobs",
          "the config expands to " + std::to_string(n) + " jobs" + when
            + "; at most " + std::to_string(limit) + " are allowed",
          0,
          0};
}

// The most keys and env entries all rows of a matrix may hold together.
constexpr std::size_t max_matrix_cells = 2'000'000;

// The most work jobs.exclude or jobs.allow_failures may make us do: for
// each job, the keys and env entries of every rule; beyond it the config is
// refused as too large.
constexpr std::size_t max_rule_checks = 20'000'000;

// The work one job costs the rules: their keys and env entries.
std::size_t rule_work(const std::vector<config_node>& rules) {
  std::size_t result = 0;
  for (const auto& rule : rules)
    result += 1 + rule.size() + rule.get("env").size();
  return result;
}

config_message too_many_checks(const char* key, std::size_t rules,
                               std::size_t jobs) {
  return {"error",
          key,
          "too_large",
          "'" + std::string{key} + "' has " + std::to_string(rules)
            + " rules for " + std::to_string(jobs)
            + " jobs: more than conveyor checks",
          0,
          0};
}

// Bounds the time one step spends evaluating conditions: a regular
// expression may cost a third of a second on a long commit message, and a
// matrix may have thousands of jobs. Past the budget every condition is
// false and the step reports an error.
class condition_budget {
public:
  condition_budget() : deadline_(clock::now() + budget) {
    // nop
  }

  bool accept(const config_node& cond, const config_node& subject,
              const config_node& data) {
    if (!cond.is_scalar())
      return true;
    if (spent_)
      return false;
    // As `accept_condition`, but each distinct condition is parsed once per
    // step (a root `if:` is copied into every job), and the data holds only
    // the attributes a condition can read: jobs carry their commands too.
    auto text = cond.scalar_text();
    auto parsed = parsed_.find(text);
    if (parsed == parsed_.end())
      parsed = parsed_.emplace(text, parse_condition(text)).first;
    bool result = false;
    if (parsed->second.cond) {
      condition_data seen;
      add_attributes(seen, data, true);
      add_attributes(seen, subject, true);
      add_env_of(seen, data.get("env"));
      add_env_of(seen, subject.get("env"));
      auto value = evaluate(*parsed->second.cond, seen);
      result = !value.error && value.value;
    }
    if (clock::now() > deadline_)
      spent_ = true;
    return result;
  }

  // Adds an error to `messages` if the budget was spent.
  void report(std::vector<config_message>& messages) const {
    if (spent_)
      messages.push_back(
        {"error", "if", "too_large",
         "evaluating the conditions ('if:') of this config takes more than "
           + std::to_string(budget.count()) + " seconds",
         0, 0});
  }

  bool spent() const {
    return spent_;
  }

private:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds budget{3};
  clock::time_point deadline_;
  bool spent_ = false;
  std::unordered_map<std::string, condition_parse_result> parsed_;
};

// -- the matrix ---------------------------------------------------------------

class matrix {
public:
  matrix(const config_node& config, const config_node& data)
    : config_(config), data_(data) {
    // nop
  }

  travis_rows run() {
    travis_rows result;
    keys_ = axis_keys();
    auto size = expanded_size();
    auto jobs = job_rules(config_, "include");
    if (size + jobs.size() > max_matrix_rows) {
      result.messages.push_back(
        too_many(size + jobs.size(), max_matrix_rows,
                 " before exclusions and conditions"));
      return result;
    }
    // Every job copies the shared keys and env.global: bound the copies.
    auto width = shared().size() + keys_.size() + global_env(config_).size()
                 + 1;
    auto cells = (size + jobs.size() + 1) * width;
    if (cells > max_matrix_cells) {
      result.messages.push_back(
        {"error", "jobs", "too_large",
         "the config's " + std::to_string(size + jobs.size())
           + " jobs would hold " + std::to_string(cells)
           + " values together; at most " + std::to_string(max_matrix_cells)
           + " are allowed",
         0, 0});
      return result;
    }
    auto xs = expand(size);
    xs = with_included(std::move(xs), with_stages(std::move(jobs)));
    if (xs.empty())
      xs.push_back(shared());
    xs = with_shared(std::move(xs));
    xs = with_global(std::move(xs));
    xs = with_env(std::move(xs));
    xs = without_excluded(std::move(xs), result.messages);
    xs = without_unsupported(std::move(xs));
    xs = unique(std::move(xs));
    result.rows = filter(std::move(xs), result.messages);
    budget_.report(result.messages);
    if (budget_.spent())
      result.rows.clear();
    return result;
  }

private:
  // The matrix keys the config sets and its language/os/arch supports, in
  // the schema's order.
  std::vector<std::string> axis_keys() const {
    std::vector<std::string> result;
    for (const auto& key : travis_expand_keys()) {
      auto value = config_.find(key);
      if (value != nullptr && !deep_blank(*value)
          && supports_key(config_, key))
        result.push_back(key);
    }
    return result;
  }

  std::vector<config_node> axis_values(const std::string& key) const {
    auto value = config_.get(key);
    if (key == "env" && value.is_map() && value.has("jobs")) {
      auto jobs = value.get("jobs");
      if (!jobs.is_null() && !(jobs.is_bool() && !jobs.flag()))
        value = jobs;
    }
    return ruby_wrap(value);
  }

  std::size_t expanded_size() const {
    if (keys_.empty())
      return 0;
    std::size_t result = 1;
    for (const auto& key : keys_) {
      auto n = axis_values(key).size();
      if (n == 0)
        return 0;
      // Saturates rather than overflows; anything this large is refused.
      constexpr std::size_t huge = std::size_t{1} << 40;
      if (result > huge / n)
        return huge;
      result *= n;
    }
    return result;
  }

  // The cartesian product, the first key outermost.
  rows expand(std::size_t size) const {
    rows result;
    if (size == 0)
      return result;
    std::vector<std::vector<config_node>> values;
    for (const auto& key : keys_)
      values.push_back(axis_values(key));
    std::vector<std::size_t> at(keys_.size(), 0);
    result.reserve(size);
    for (std::size_t n = 0; n < size; ++n) {
      std::vector<config_entry> entries;
      entries.reserve(keys_.size());
      for (std::size_t i = 0; i < keys_.size(); ++i)
        entries.push_back({keys_[i], values[i][at[i]], {}});
      // A job is shown where its fastest-varying value is written.
      auto mark = values.back()[at.back()].mark();
      result.push_back(config_node::map(std::move(entries), mark));
      for (auto i = keys_.size(); i > 0; --i) {
        if (++at[i - 1] < values[i - 1].size())
          break;
        at[i - 1] = 0;
      }
    }
    return result;
  }

  // A stage carries forward to the following includes that have none.
  static rows with_stages(rows jobs) {
    config_node stage;
    for (auto& job : jobs) {
      auto own = job.get("stage");
      if (!own.is_null() && !(own.is_bool() && !own.flag()))
        stage = own;
      else if (!stage.is_null())
        job.set("stage", stage);
    }
    return jobs;
  }

  // A lone expanded job is dropped when there are includes: it is most
  // likely a duplicate of them.
  rows with_included(rows xs, rows included) const {
    if (xs.size() == 1 && !included.empty()) {
      bool single = true;
      for (const auto& key : keys_)
        if (auto v = xs.front().find(key); v && ruby_wrap(*v).size() != 1)
          single = false;
      if (single)
        return included;
    }
    xs.insert(xs.end(), included.begin(), included.end());
    return xs;
  }

  config_node shared() const {
    config_node result = config_node::map();
    for (const auto& entry : config_.entries())
      if (expand_key_index(entry.key) < 0 && !is_dropped(entry.key)
          && !entry.value.blank())
        result.set(entry.key, entry.value, entry.key_mark);
    return result;
  }

  // `base` with the entries of `x` set over it, in one pass.
  static config_node merged(
    const config_node& base,
    const std::unordered_map<std::string, std::size_t>& index,
    const config_node& x) {
    auto entries = base.entries();
    for (const auto& entry : x.entries()) {
      if (auto i = index.find(entry.key); i != index.end())
        entries[i->second].value = entry.value;
      else
        entries.push_back(entry);
    }
    return config_node::map(std::move(entries), x.mark());
  }

  static std::unordered_map<std::string, std::size_t>
  index_of(const config_node& x) {
    std::unordered_map<std::string, std::size_t> result;
    for (std::size_t i = 0; i < x.entries().size(); ++i)
      result.emplace(x.entries()[i].key, i);
    return result;
  }

  rows with_shared(rows xs) const {
    auto base = shared();
    auto index = index_of(base);
    for (auto& x : xs)
      x = merged(base, index, x);
    return xs;
  }

  rows with_global(rows xs) const {
    config_node global = config_node::map();
    for (const auto& key : keys_) {
      if (key == "env")
        continue;
      auto values = ruby_wrap(config_.get(key));
      global.set(key, values.empty() ? config_node{} : values.front());
    }
    auto index = index_of(global);
    for (auto& x : xs)
      x = merged(global, index, x);
    return xs;
  }

  // -- env --------------------------------------------------------------------

  static std::vector<config_node> env_array(const config_node& env) {
    std::vector<config_node> result;
    if (env.is_map()) {
      auto vars = env;
      vars.erase("global");
      if (!vars.blank())
        result.push_back(vars);
    } else if (env.is_list()) {
      for (const auto& item : env.items())
        for (auto& x : env_array(item))
          result.push_back(std::move(x));
    } else {
      result.push_back(env);
    }
    return result;
  }

  config_node first_env() const {
    auto env = config_.get("env");
    if (env.is_list())
      return env.size() > 0 ? env.items().front() : config_node{};
    if (env.is_map()) {
      auto jobs = env.get("jobs");
      if (jobs.is_list())
        return jobs.size() > 0 ? jobs.items().front() : config_node{};
      return {};
    }
    return {};
  }

  // Each job's env as a list of entries: its own (or the first of the env
  // matrix if it has none), after env.global. Computed whole, then set once:
  // every `set` copies the job's entries.
  rows with_env(rows xs) const {
    auto first = first_env();
    auto env = config_.get("env");
    bool has_global = env.is_map() && env.has("global");
    auto global = has_global ? global_env(config_) : std::vector<config_node>{};
    for (auto& x : xs) {
      const auto* own_env = x.find("env");
      config_node own;
      bool changed = false;
      if (own_env != nullptr && !own_env->is_null()
          && !(own_env->is_bool() && !own_env->flag())) {
        own = config_node::list(env_array(*own_env), own_env->mark());
        changed = true;
      } else if (own_env != nullptr) {
        own = *own_env;
      }
      if (!first.is_null() && (own_env == nullptr || own_env->is_null())) {
        own = config_node::list({first});
        changed = true;
      }
      if (has_global) {
        std::vector<config_node> vars;
        vars.reserve(global.size() + own.size());
        std::unordered_multimap<std::size_t, std::size_t> seen;
        auto add = [&vars, &seen](const config_node& item) {
          auto h = item.hash();
          auto range = seen.equal_range(h);
          for (auto i = range.first; i != range.second; ++i)
            if (vars[i->second] == item)
              return;
          seen.emplace(h, vars.size());
          vars.push_back(item);
        };
        for (const auto& item : global)
          add(item);
        for (const auto& item : own.items())
          add(item);
        own = config_node::list(std::move(vars));
        changed = true;
      }
      if (changed)
        x.set("env", std::move(own));
    }
    return xs;
  }

  // -- exclude ----------------------------------------------------------------

  // `own_env` is the job's env without env.global; null if it has none.
  bool applies(const config_node& rule, const config_node& job,
               const config_node& own_env) const {
    for (const auto& entry : rule.entries()) {
      const auto& key = entry.key;
      const auto& value = entry.value;
      if (key == "if")
        continue;
      if (key == "env") {
        if (own_env.is_null() || !(own_env == value))
          return false;
      } else if (key == "stage") {
        auto stage = job.find("stage");
        bool same = stage != nullptr && *stage == value;
        bool test = (stage == nullptr || stage->is_null())
                    && lower(value.scalar_text()) == "test";
        if (!same && !test)
          return false;
      } else if (ruby_wrap(job.get(key)) != ruby_wrap(value)) {
        return false;
      }
    }
    return true;
  }

  rows without_excluded(rows xs, std::vector<config_message>& messages) {
    auto rules = job_rules(config_, "exclude");
    if (rules.empty())
      return xs;
    if (rule_work(rules) * xs.size() > max_rule_checks) {
      messages.push_back(
        too_many_checks("jobs.exclude", rules.size(), xs.size()));
      return {};
    }
    auto global = global_env(config_);
    rows result;
    for (auto& x : xs) {
      auto env = x.find("env");
      auto own = env == nullptr || env->is_null()
                   ? config_node{}
                   : config_node::list(minus(env->items(), global));
      bool excluded = std::any_of(
        rules.begin(), rules.end(),
        [this, &x, &own](const config_node& rule) {
          return applies(rule, x, own)
                 && budget_.accept(rule.get("if"), x, data_);
        });
      if (!excluded)
        result.push_back(std::move(x));
    }
    return result;
  }

  // -- support ----------------------------------------------------------------

  static rows without_unsupported(rows xs) {
    for (auto& x : xs) {
      std::vector<config_entry> kept;
      bool all = true;
      for (const auto& entry : x.entries()) {
        if (supports(x, entry.key, entry.value))
          kept.push_back(entry);
        else
          all = false;
      }
      if (!all)
        x = config_node::map(std::move(kept), x.mark());
    }
    return xs;
  }

  // -- conditions -------------------------------------------------------------

  rows filter(rows xs, std::vector<config_message>& messages) {
    rows result;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      auto cond = xs[i].get("if");
      if (budget_.accept(cond, xs[i], data_)) {
        result.push_back(std::move(xs[i]));
        continue;
      }
      messages.push_back({"info", "jobs.include", "skip_job",
                          "skipping job #" + std::to_string(i + 1)
                            + " because its condition does not match: "
                            + condition_text(cond),
                          cond.mark().line, cond.mark().column});
    }
    return result;
  }

  const config_node& config_;
  const config_node& data_;
  std::vector<std::string> keys_;
  condition_budget budget_;
};

// -- stages -------------------------------------------------------------------

std::string stage_of(const config_node& job) {
  auto stage = job.find("stage");
  return stage != nullptr && stage->is_string() ? stage->text()
                                                : std::string{};
}

bool has_stage(const config_node& job) {
  auto stage = job.find("stage");
  return stage != nullptr && stage->is_string();
}

} // namespace

// -- conditions ---------------------------------------------------------------

condition_data condition_data_of(const config_node& data,
                                 const config_node& subject) {
  condition_data result;
  add_attributes(result, data);
  add_attributes(result, subject);
  add_env_of(result, data.get("env"));
  add_env_of(result, subject.get("env"));
  return result;
}

bool accept_condition(const config_node& cond, const config_node& subject,
                      const config_node& data, std::string* error) {
  if (!cond.is_scalar())
    return true;
  auto result = evaluate_condition(cond.scalar_text(),
                                   condition_data_of(data, subject));
  if (result.error) {
    if (error != nullptr)
      *error = to_string(*result.error);
    return false;
  }
  return result.value;
}

// -- steps --------------------------------------------------------------------

travis_rows expand_travis_matrix(const config_node& config,
                                 const config_node& data,
                                 const travis_options& opts) {
  // The limit on jobs applies to the build (see plan_travis_jobs), not to
  // the rows, which jobs.exclude and conditions may still thin out.
  (void) opts;
  return matrix{config, data}.run();
}

travis_stages apply_travis_stages(const config_node& config,
                                  std::vector<config_node> jobs,
                                  const config_node& data) {
  travis_stages result;
  std::vector<config_node> configs;
  for (const auto& x : ruby_wrap(config.get("stages")))
    if (x.is_map())
      configs.push_back(x);
  bool any = !configs.empty()
             || std::any_of(jobs.begin(), jobs.end(), has_stage);
  if (!any) {
    result.jobs = std::move(jobs);
    return result;
  }
  // The default name is "test", spelled as the config or a job spells it.
  std::string name = "test";
  auto spelled = [&name](const std::string& x) {
    if (lower(x) == "test") {
      name = x;
      return true;
    }
    return false;
  };
  bool found = false;
  for (const auto& x : configs)
    if (!found && x.get("name").is_string())
      found = spelled(x.get("name").text());
  for (const auto& job : jobs)
    if (!found && has_stage(job))
      found = spelled(stage_of(job));
  for (auto& job : jobs) {
    if (has_stage(job))
      name = stage_of(job);
    else
      job.set("stage", config_node::string(name));
  }
  // The stages section, then stages first named by jobs; the first of
  // names equal but for case wins.
  std::vector<config_node> stages;
  std::unordered_set<std::string> seen;
  auto add = [&stages, &seen](const config_node& stage) {
    if (seen.insert(lower(stage.get("name").scalar_text())).second)
      stages.push_back(stage);
  };
  for (const auto& x : configs)
    add(x);
  for (const auto& job : jobs) {
    auto stage = stage_of(job);
    if (seen.count(lower(stage)) == 0)
      add(config_node::map({{"name", config_node::string(stage), {}}}));
  }
  // Stages without jobs are dropped, and jobs without a stage.
  std::unordered_set<std::string> used;
  for (const auto& job : jobs)
    if (has_stage(job))
      used.insert(lower(stage_of(job)));
  std::unordered_set<std::string> kept;
  condition_budget budget;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    auto cond = stages[i].get("if");
    if (!budget.accept(cond, config, data)) {
      result.messages.push_back(
        {"info", "stages", "skip_stage",
         "skipping stage #" + std::to_string(i + 1)
           + " because its condition does not match: " + condition_text(cond),
         cond.mark().line, cond.mark().column});
      continue;
    }
    auto key = lower(stages[i].get("name").scalar_text());
    if (used.count(key) > 0) {
      result.stages.push_back(stages[i]);
      kept.insert(key);
    }
  }
  for (auto& job : jobs)
    if (has_stage(job) && kept.count(lower(stage_of(job))) > 0)
      result.jobs.push_back(std::move(job));
  budget.report(result.messages);
  if (budget.spent())
    result.jobs.clear();
  return result;
}

std::vector<config_node> apply_allow_failures(
  const config_node& config, std::vector<config_node> jobs,
  const config_node& data, std::vector<config_message>& messages) {
  auto global = global_env(config);
  // `own` is the job's env without env.global, null if the job has no env.
  // Beside equality, a rule also matches if what it has beyond the job's
  // own vars is all in env.global: the matrix has mixed the two.
  auto matches_env = [&global](const config_node& own,
                               const config_node& rule_env) {
    if (own.is_null())
      return false;
    if (own == rule_env)
      return true;
    auto others = minus(wrap(rule_env), own.items());
    return !others.empty() && minus(others, global).empty();
  };
  auto matches = [&data, &matches_env](const config_node& rule,
                                       const config_node& job,
                                       const config_node& own) {
    for (const auto& entry : rule.entries()) {
      if (entry.key == "if")
        continue;
      bool ok = false;
      if (entry.key == "branch")
        ok = data.get("branch") == entry.value;
      else if (entry.key == "env")
        ok = matches_env(own, entry.value);
      else
        ok = job.get(entry.key) == entry.value;
      if (!ok)
        return false;
    }
    return true;
  };
  auto rules = job_rules(config, "allow_failures");
  if (rule_work(rules) * jobs.size() > max_rule_checks) {
    messages.push_back(
      too_many_checks("jobs.allow_failures", rules.size(), jobs.size()));
    return jobs;
  }
  std::vector<config_node> owns;
  owns.reserve(jobs.size());
  for (const auto& job : jobs) {
    auto env = job.find("env");
    owns.push_back(env == nullptr || env->is_null()
                     ? config_node{}
                     : config_node::list(minus(wrap(*env), global)));
  }
  condition_budget budget;
  std::size_t number = 0;
  for (const auto& rule : rules) {
    ++number;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto& job = jobs[i];
      if (!matches(rule, job, owns[i]))
        continue;
      auto cond = rule.get("if");
      if (budget.accept(cond, job, data)) {
        job.set("allow_failure", config_node::boolean(true));
        continue;
      }
      messages.push_back(
        {"info", "jobs.allow_failures", "skip_allow_failure",
         "skipping jobs allow failure rule #" + std::to_string(number)
           + " because its condition does not match: " + condition_text(cond),
         cond.mark().line, cond.mark().column});
    }
  }
  budget.report(messages);
  return jobs;
}

std::vector<config_node> reorder_travis_jobs(
  const std::vector<config_node>& stages, std::vector<config_node> jobs) {
  std::vector<std::string> names;
  for (const auto& stage : stages)
    names.push_back(lower(stage.get("name").scalar_text()));
  struct key {
    std::size_t stage; // 0: none, else position + 1
    int allowed;
    std::size_t index;
  };
  std::vector<std::pair<key, std::size_t>> order;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto stage = lower(jobs[i].get("stage").scalar_text());
    auto at = std::find(names.begin(), names.end(), stage);
    std::size_t pos = at == names.end()
                        ? 0
                        : static_cast<std::size_t>(at - names.begin()) + 1;
    auto flag = jobs[i].get("allow_failure");
    int allowed = flag.is_bool() ? (flag.flag() ? 1 : 0)
                                 : (flag.is_null() ? 0 : 1);
    order.push_back({key{pos, allowed, i}, i});
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.stage, a.first.allowed, a.first.index)
           < std::tie(b.first.stage, b.first.allowed, b.first.index);
  });
  std::vector<config_node> result;
  result.reserve(jobs.size());
  for (const auto& [k, i] : order)
    result.push_back(std::move(jobs[i]));
  return result;
}

std::vector<config_node> unique_jobs(std::vector<config_node> jobs) {
  return unique(std::move(jobs));
}

// -- the whole ----------------------------------------------------------------

travis_plan plan_travis_jobs(const config_node& config,
                             const config_node& data,
                             const travis_options& opts) {
  travis_plan result;
  auto expanded = expand_travis_matrix(config, data, opts);
  result.messages = std::move(expanded.messages);
  auto staged = apply_travis_stages(config, std::move(expanded.rows), data);
  result.messages.insert(result.messages.end(), staged.messages.begin(),
                         staged.messages.end());
  // The steps below neither add nor merge jobs: refuse too many at once.
  if (staged.jobs.size() > opts.max_jobs) {
    result.messages.push_back(too_many(staged.jobs.size(), opts.max_jobs, ""));
    result.stages = std::move(staged.stages);
    return result;
  }
  auto jobs = apply_allow_failures(config, std::move(staged.jobs), data,
                                   result.messages);
  jobs = reorder_travis_jobs(staged.stages, std::move(jobs));
  jobs = unique(std::move(jobs));
  auto fast_finish = config.get("jobs").get("fast_finish");
  result.fast_finish = fast_finish.is_bool() && fast_finish.flag();
  result.stages = std::move(staged.stages);
  if (jobs.size() > opts.max_jobs) {
    result.messages.push_back(too_many(jobs.size(), opts.max_jobs, ""));
    return result;
  }
  result.jobs = std::move(jobs);
  return result;
}

} // namespace conveyor
