#include "actors/gatekeeper/build_plan.hpp"

#include <algorithm>
#include <utility>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/mirror.hpp"
#include "actors/gatekeeper/repository_cache.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"
#include "actors/gatekeeper/travis_schema.hpp"

namespace conveyor {

namespace {

void fill_names(build_request& req, const commit_info& commit) {
  if (!req.branch.empty() || !req.tag.empty())
    return;
  req.branch = commit.branch;
  req.tag = commit.tag;
}

// Where a request's repository is read: a local path as it is, or the
// freshly fetched mirror of a URL, labelled with the URL.
struct source_dir {
  std::string path;
  std::string label;
};

caf::expected<source_dir> source_of(const std::string& repo,
                                    const std::filesystem::path& mirror_root) {
  if (!is_repository_url(repo))
    return source_dir{repo, {}};
  auto dir = update_mirror(mirror_root, repo);
  if (!dir)
    return std::move(dir.error());
  return source_dir{dir->string(), repo};
}

// Completes `req` from the open repository of its source.
caf::expected<resolved_request> resolve_in(const repository& repo,
                                           build_request req) {
  if (req.sha.empty() && req.ref.empty())
    req.ref = "HEAD";
  auto commit = repo.resolve(req.sha.empty() ? req.ref : req.sha);
  if (!commit)
    return std::move(commit.error());
  if (!req.sha.empty()) {
    // A webhook names the commit and the full ref it was pushed to; the ref
    // may have moved on since, so only its name is used.
    auto names = names_of_ref(req.ref);
    if (req.branch.empty() && req.tag.empty()) {
      req.branch = names.branch;
      req.tag = names.tag;
    }
  } else {
    fill_names(req, *commit);
  }
  req.sha = commit->sha;
  if (req.commit_message.empty())
    req.commit_message = commit->message;
  if (req.slug.empty())
    req.slug = is_repository_url(req.repo) ? url_slug(req.repo) : repo.name();
  if (req.event.empty())
    req.event = "push";
  auto file = repo.read_build_config(req.sha);
  if (!file)
    return std::move(file.error());
  return resolved_request{std::move(req), std::move(*file)};
}

build_record errored(build_record build, int64_t now_ms) {
  build.state = build_state::errored;
  build.finished_at_ms = now_ms;
  build.jobs.clear();
  return build;
}

// The most bytes of commands and variables all jobs of one build may hold
// together: every job copies the root phases.
constexpr size_t max_build_bytes = 64 * 1024 * 1024;

// Matrix keys whose value Travis exports to the job, and as what.
struct exported_key {
  const char* key;
  const char* var;
};

const exported_key exported_keys[] = {
  {"os", "TRAVIS_OS_NAME"},
  {"dist", "TRAVIS_DIST"},
  {"arch", "TRAVIS_CPU_ARCH"},
  {"osx_image", "TRAVIS_OSX_IMAGE"},
  {"language", "TRAVIS_LANGUAGE"},
  {"rvm", "TRAVIS_RUBY_VERSION"},
  {"python", "TRAVIS_PYTHON_VERSION"},
  {"jdk", "TRAVIS_JDK_VERSION"},
  {"node_js", "TRAVIS_NODE_VERSION"},
  {"php", "TRAVIS_PHP_VERSION"},
  {"go", "TRAVIS_GO_VERSION"},
  {"perl", "TRAVIS_PERL_VERSION"},
  {"perl6", "TRAVIS_PERL6_VERSION"},
  {"rust", "TRAVIS_RUST_VERSION"},
  {"scala", "TRAVIS_SCALA_VERSION"},
  {"dart", "TRAVIS_DART_VERSION"},
  {"otp_release", "TRAVIS_OTP_RELEASE"},
  {"elixir", "TRAVIS_ELIXIR_VERSION"},
  {"elm", "TRAVIS_ELM_VERSION"},
  {"ghc", "TRAVIS_HASKELL_VERSION"},
  {"haxe", "TRAVIS_HAXE_VERSION"},
  {"julia", "TRAVIS_JULIA_VERSION"},
  {"matlab", "TRAVIS_MATLAB_VERSION"},
  {"r", "TRAVIS_R_VERSION"},
  {"smalltalk", "TRAVIS_SMALLTALK_VERSION"},
  {"xcode_sdk", "TRAVIS_XCODE_SDK"},
  {"xcode_scheme", "TRAVIS_XCODE_SCHEME"},
};

std::vector<std::string> strings_of(const config_node& x) {
  std::vector<std::string> result;
  for (const auto& item : wrap(x))
    if (item.is_scalar())
      result.push_back(item.scalar_text());
  return result;
}

// As in Travis, a phase given as just `skip` (or `ignore`) is not run.
bool skipped(const config_node& job, const char* phase) {
  auto commands = strings_of(job.get(phase));
  return commands.size() == 1
         && (commands.front() == "skip" || commands.front() == "ignore");
}

std::vector<std::string> phase_of(const config_node& job, const char* phase) {
  if (skipped(job, phase))
    return {};
  return strings_of(job.get(phase));
}

job_phases phases_of(const config_node& job) {
  job_phases result;
  result.before_install = phase_of(job, "before_install");
  result.install = phase_of(job, "install");
  result.before_script = phase_of(job, "before_script");
  result.script = phase_of(job, "script");
  result.after_success = phase_of(job, "after_success");
  result.after_failure = phase_of(job, "after_failure");
  result.after_script = phase_of(job, "after_script");
  return result;
}

// A `git` key of the job, else of the root: a job of jobs.include that sets
// `git: {clone: false}` keeps the root's `depth`.
config_node git_key(const config_node& job, const config_node& root,
                    const char* key) {
  auto own = job.get("git").get(key);
  return own.is_null() ? root.get("git").get(key) : own;
}

void apply_git(const config_node& job, const config_node& root,
               job_spec& spec) {
  auto clone = git_key(job, root, "clone");
  spec.clone = !clone.is_bool() || clone.flag();
  auto depth = git_key(job, root, "depth");
  spec.clone_depth = 0;
  if (depth.is_string() && !depth.text().empty() && depth.text().size() <= 10
      && depth.text().find_first_not_of("0123456789") == std::string::npos) {
    auto n = std::stoll(depth.text());
    if (n > 0 && n <= 2147483647)
      spec.clone_depth = static_cast<int32_t>(n);
  }
}

// Ruby's `String#capitalize`, as Travis shows stage names.
std::string capitalized(std::string x) {
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = x[i];
    if (i == 0 && c >= 'a' && c <= 'z')
      x[i] = static_cast<char>(c - 'a' + 'A');
    else if (i > 0 && c >= 'A' && c <= 'Z')
      x[i] = static_cast<char>(c - 'A' + 'a');
  }
  return x;
}

// The variables Travis derives from the job, then env.global and the job's
// own, in order.
std::vector<env_var> env_of(const config_node& job, bool staged) {
  std::vector<env_var> result;
  for (const auto& x : exported_keys) {
    auto value = job.get(x.key);
    if (value.is_scalar())
      result.push_back({x.var, value.scalar_text()});
  }
  auto language = job.get("language").scalar_text();
  auto compiler = job.get("compiler");
  if (compiler.is_scalar() && (language == "c" || language == "cpp")) {
    auto name = compiler.scalar_text();
    result.push_back({"TRAVIS_COMPILER", name});
    auto starts = [&name](const char* prefix) {
      return name.rfind(prefix, 0) == 0;
    };
    if (language == "cpp") {
      auto cxx = starts("gcc") || starts("g++")       ? "g++"
                 : starts("clang") ? "clang++" : name;
      auto cc = starts("gcc") || starts("g++")        ? "gcc"
                : starts("clang") ? "clang" : name;
      result.push_back({"CXX", cxx});
      result.push_back({"CC", cc});
    } else {
      result.push_back({"CC", name});
    }
  }
  if (auto name = job.get("name"); name.is_scalar())
    result.push_back({"TRAVIS_JOB_NAME", name.scalar_text()});
  if (staged)
    result.push_back({"TRAVIS_BUILD_STAGE_NAME",
                      capitalized(job.get("stage").scalar_text())});
  for (const auto& entry : job.get("env").items())
    for (const auto& var : entry.entries())
      result.push_back({var.key, var.value.scalar_text()});
  return result;
}

// The matrix keys whose values differ between the jobs: they tell the jobs
// apart in their names.
std::vector<std::string> distinguishing_keys(
  const std::vector<config_node>& jobs) {
  std::vector<std::string> result;
  for (const auto& key : travis_expand_keys()) {
    if (key == "env" || jobs.empty())
      continue;
    auto first = jobs.front().get(key);
    bool differ = std::any_of(jobs.begin(), jobs.end(),
                              [&key, &first](const config_node& job) {
                                return job.get(key) != first;
                              });
    if (differ)
      result.push_back(key);
  }
  return result;
}

std::string name_of(const config_node& job,
                    const std::vector<std::string>& keys, bool staged) {
  std::string result;
  if (auto name = job.get("name"); name.is_scalar()) {
    result = name.scalar_text();
  } else {
    for (const auto& key : keys) {
      auto value = job.get(key);
      if (!value.is_scalar())
        continue;
      if (!result.empty())
        result += ", ";
      result += key + ": " + value.scalar_text();
    }
  }
  if (staged) {
    auto stage = job.get("stage").scalar_text();
    result = result.empty() ? stage : stage + ": " + result;
  }
  return result;
}

std::string lowered(std::string x) {
  for (auto& c : x)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return x;
}

// Sets the job's stage, as the config spells it, and the stage's position
// in `stages`, whose names compare without case as in Travis.
void apply_stage(const config_node& job, const std::vector<config_node>& stages,
                 job_spec& spec) {
  spec.stage = job.get("stage").scalar_text();
  auto key = lowered(spec.stage);
  for (size_t i = 0; i < stages.size(); ++i)
    if (lowered(stages[i].get("name").scalar_text()) == key) {
      spec.stage_index = static_cast<int32_t>(i);
      return;
    }
}

size_t size_of(const std::vector<std::string>& xs) {
  size_t result = 0;
  for (const auto& x : xs)
    result += x.size() + 1;
  return result;
}

size_t size_of(const job_spec& x) {
  const auto& p = x.phases;
  size_t result = size_of(p.before_install) + size_of(p.install)
                  + size_of(p.before_script) + size_of(p.script)
                  + size_of(p.after_success) + size_of(p.after_failure)
                  + size_of(p.after_script);
  for (const auto& var : x.env)
    result += var.name.size() + var.value.size() + 2;
  return result;
}

job_record make_job(const build_request& req, const config_node& job,
                    const config_node& root, std::string name, bool staged,
                    int32_t index, const job_limits& limits, int64_t now_ms) {
  job_record result;
  auto& spec = result.spec;
  spec.index = index;
  spec.attempt = 1;
  spec.request_id = req.request_id;
  spec.repo = req.repo;
  spec.slug = req.slug;
  spec.sha = req.sha;
  spec.branch = req.branch;
  spec.tag = req.tag;
  spec.event = req.event;
  spec.commit_message = req.commit_message;
  if (req.pull_request > 0) {
    spec.pull_request = req.pull_request;
    spec.pull_request_branch = req.head_branch;
    spec.pull_request_slug = req.head_repo;
  }
  spec.env = env_of(job, staged);
  spec.phases = phases_of(job);
  apply_git(job, root, spec);
  auto allowed = job.get("allow_failure");
  spec.allow_failure = allowed.is_bool() && allowed.flag();
  spec.name = std::move(name);
  spec.limits = limits;
  result.created_at_ms = now_ms;
  return result;
}

config_message error_message(std::string key, std::string code,
                             std::string text, config_mark at = {}) {
  return {"error", std::move(key), std::move(code), std::move(text), at.line,
          at.column};
}

// Where the rule that rejected a request is written.
std::pair<std::string, config_mark> rule_of(const approval& verdict,
                                            const config_node& config) {
  if (verdict.code == "build_condition")
    if (auto entry = config.find_entry("if"))
      return {"if", entry->key_mark};
  if (verdict.code == "branch_not_included"
      || verdict.code == "branch_excluded" || verdict.code == "github_pages")
    if (auto entry = config.find_entry("branches"))
      return {"branches", entry->key_mark};
  return {"", {}};
}

} // namespace

// -- requests -----------------------------------------------------------------

caf::expected<resolved_request>
resolve_request(build_request req, const std::filesystem::path& mirror_root) {
  auto source = source_of(req.repo, mirror_root);
  if (!source)
    return std::move(source.error());
  auto repo = repository::open(source->path, std::move(source->label));
  if (!repo)
    return std::move(repo.error());
  return resolve_in(*repo, std::move(req));
}

caf::expected<resolved_request>
resolve_request(build_request req, const std::filesystem::path& mirror_root,
                repository_cache& repos) {
  auto source = source_of(req.repo, mirror_root);
  if (!source)
    return std::move(source.error());
  if (auto cached = repos.find(source->path, source->label)) {
    if (auto result = resolve_in(*cached, req))
      return result;
    // Maybe the repository was deleted, replaced or broken since it was
    // opened: answer as a fresh open would.
    repos.drop(source->path, source->label);
  }
  auto repo = repository::open(source->path, std::move(source->label));
  if (!repo)
    return std::move(repo.error());
  auto result = resolve_in(*repo, std::move(req));
  // Kept even if the ref is unknown: the repository itself opened fine.
  repos.insert(std::move(*repo));
  return result;
}

// -- builds -------------------------------------------------------------------

travis_options gatekeeper_travis_options() {
  travis_options result;
  // Travis's production adds `language: ruby`, `os: linux` and `dist: focal`
  // to configs that lack them. Conveyor installs no language and picks no
  // image: on its workers those defaults would only be false labels (and
  // TRAVIS_* variables), and they would drop the language keys of a config
  // that names no language.
  result.defaults = false;
  result.max_jobs = 200;
  return result;
}

planned_config plan_config(std::string_view content,
                           const travis_options& opts) {
  planned_config result;
  result.options = opts;
  auto loaded = load_travis_config(content, opts);
  result.messages = std::move(loaded.messages);
  if (has_error_messages(result.messages) || loaded.config.is_null()) {
    result.errored = true;
    return result;
  }
  auto fast_finish = loaded.config.get("jobs").get("fast_finish");
  result.fast_finish = fast_finish.is_bool() && fast_finish.flag();
  result.config = std::move(loaded.config);
  return result;
}

build_record plan_build(const build_request& req, const config_file& file,
                        const job_limits& limits, int64_t now_ms) {
  if (file.name.empty())
    return plan_build(req, file, planned_config{}, limits, now_ms);
  return plan_build(req, file, plan_config(file.content), limits, now_ms);
}

build_record plan_build(const build_request& req, const config_file& file,
                        const planned_config& plan, const job_limits& limits,
                        int64_t now_ms) {
  build_record build;
  build.request = req;
  build.state = build_state::created;
  build.config = file.name;
  build.created_at_ms = now_ms;
  auto reject = [&build, now_ms](const approval& verdict,
                                 const config_node& config) {
    auto [key, at] = rule_of(verdict, config);
    build.messages.push_back(error_message(
      key, verdict.code, "the build request is rejected: " + verdict.reason,
      at));
    return errored(std::move(build), now_ms);
  };
  // Travis reads the commit message before it even fetches the config.
  if (skips_ci(req.commit_message))
    return reject(approve_request(req, config_node{}), config_node{});
  if (file.name.empty()) {
    build.messages.push_back(error_message(
      "", "no_config",
      "no .conveyor.yml or .travis.yml found at commit " + req.sha.substr(0, 7)));
    return errored(std::move(build), now_ms);
  }
  build.messages = plan.messages;
  build.fast_finish = plan.fast_finish;
  if (plan.errored)
    return errored(std::move(build), now_ms);
  if (auto verdict = approve_request(req, plan.config); !verdict.accepted)
    return reject(verdict, plan.config);
  auto travis = plan_travis_jobs(plan.config, request_data(req),
                                 plan.options);
  build.messages.insert(build.messages.end(), travis.messages.begin(),
                        travis.messages.end());
  if (has_error_messages(build.messages))
    return errored(std::move(build), now_ms);
  if (travis.jobs.empty()) {
    build.messages.push_back(error_message(
      "jobs", "no_jobs",
      "the config expands to no job (see the conditions skipped above)"));
    return errored(std::move(build), now_ms);
  }
  bool staged = !travis.stages.empty();
  auto keys = distinguishing_keys(travis.jobs);
  size_t bytes = 0;
  build.jobs.reserve(travis.jobs.size());
  for (size_t i = 0; i < travis.jobs.size(); ++i) {
    const auto& job = travis.jobs[i];
    auto name = name_of(job, keys, staged);
    auto record = make_job(build.request, job, plan.config, name, staged,
                           static_cast<int32_t>(i + 1), limits, now_ms);
    if (staged)
      apply_stage(job, travis.stages, record.spec);
    bytes += size_of(record.spec);
    if (bytes > max_build_bytes) {
      build.messages.push_back(error_message(
        "jobs", "too_large",
        "the jobs of this config hold more than "
          + std::to_string(max_build_bytes / (1024 * 1024))
          + " MB of commands and variables"));
      return errored(std::move(build), now_ms);
    }
    if (record.spec.phases.script.empty() && !skipped(job, "script"))
      build.messages.push_back(error_message(
        "script", "missing_script",
        "job " + std::to_string(i + 1) + (name.empty() ? "" : " (" + name + ")")
          + " has no script: conveyor has no language defaults yet",
        job.mark()));
    build.jobs.push_back(std::move(record));
  }
  if (has_error_messages(build.messages))
    return errored(std::move(build), now_ms);
  return build;
}

} // namespace conveyor
