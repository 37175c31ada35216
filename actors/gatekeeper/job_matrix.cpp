#include "actors/gatekeeper/job_matrix.hpp"

#include <algorithm>

#include "actors/gatekeeper/env_string.hpp"

namespace conveyor {

namespace {

// The most bytes of commands and variables all jobs of one build may hold
// together: every job copies the root phases.
constexpr size_t max_matrix_bytes = 64 * 1024 * 1024;

const std::vector<std::string> no_commands;

const std::vector<std::string>& pick(
  const std::optional<std::vector<std::string>>& own,
  const std::optional<std::vector<std::string>>& root) {
  if (own)
    return *own;
  if (root)
    return *root;
  return no_commands;
}

job_phases resolve(const phases_config& own, const phases_config& root) {
  job_phases result;
  result.before_install = pick(own.before_install, root.before_install);
  result.install = pick(own.install, root.install);
  result.before_script = pick(own.before_script, root.before_script);
  result.script = pick(own.script, root.script);
  result.after_success = pick(own.after_success, root.after_success);
  result.after_failure = pick(own.after_failure, root.after_failure);
  result.after_script = pick(own.after_script, root.after_script);
  return result;
}

// Applies the `git` keys a job sets, else the root's, else the defaults.
void apply_git(const git_config& own, const git_config& root,
               matrix_job& job) {
  job.clone = own.clone.value_or(root.clone.value_or(true));
  job.clone_depth = own.depth.value_or(root.depth.value_or(0));
}

size_t size_of(const std::vector<std::string>& xs) {
  size_t result = 0;
  for (const auto& x : xs)
    result += x.size() + 1;
  return result;
}

size_t size_of(const std::vector<env_var>& xs) {
  size_t result = 0;
  for (const auto& x : xs)
    result += x.name.size() + x.value.size() + 2;
  return result;
}

size_t size_of(const job_phases& x) {
  return size_of(x.before_install) + size_of(x.install)
         + size_of(x.before_script) + size_of(x.script)
         + size_of(x.after_success) + size_of(x.after_failure)
         + size_of(x.after_script);
}

bool contains(const std::vector<env_var>& haystack, const env_var& needle) {
  return std::find(haystack.begin(), haystack.end(), needle) != haystack.end();
}

std::string describe_job(size_t index, const matrix_job& job) {
  auto result = "job " + std::to_string(index);
  if (!job.name.empty())
    result += " (" + job.name + ")";
  else if (!job.own_env.empty())
    result += " (" + display_env(job) + ")";
  return result;
}

} // namespace

// -- matrix -------------------------------------------------------------------

bool matches(const job_matcher& rule, const matrix_job& job) {
  if (!rule.env && !rule.name)
    return false;
  if (rule.name && *rule.name != job.name)
    return false;
  if (rule.env)
    for (const auto& var : *rule.env)
      if (!contains(job.own_env, var))
        return false;
  return true;
}

std::vector<matrix_job> expand_matrix(const build_config& cfg,
                                      std::vector<config_message>& messages) {
  if (cfg.env.jobs.size() + cfg.jobs.include.size() > max_jobs) {
    messages.push_back({"error", "jobs", "too_many_jobs",
                        "the config lists more than "
                          + std::to_string(max_jobs) + " jobs",
                        0, 0});
    return {};
  }
  std::vector<matrix_job> result;
  std::vector<source_mark> marks;
  size_t bytes = 0;
  // Every job copies the root phases: counting as the jobs are made stops a
  // small config with a large script from multiplying into gigabytes.
  auto add = [&result, &marks, &bytes, &cfg](matrix_job job, source_mark at) {
    job.env = cfg.env.global;
    job.env.insert(job.env.end(), job.own_env.begin(), job.own_env.end());
    bytes += size_of(job.phases) + size_of(job.env);
    if (bytes > max_matrix_bytes)
      return false;
    result.push_back(std::move(job));
    marks.push_back(at);
    return true;
  };
  auto too_large = [&messages, &result]() {
    messages.push_back({"error", "jobs", "too_large",
                        "the jobs of this config hold more than "
                          + std::to_string(max_matrix_bytes / (1024 * 1024))
                          + " MB of commands and variables",
                        0, 0});
    result.clear();
    return result;
  };
  auto root_phases = resolve({}, cfg.phases);
  bool root_script = cfg.phases.script && !cfg.phases.script->empty();
  if (!cfg.env.jobs.empty()) {
    for (const auto& row : cfg.env.jobs) {
      matrix_job job;
      job.own_env = row.vars;
      job.phases = root_phases;
      apply_git({}, cfg.git, job);
      if (!add(std::move(job), row.mark))
        return too_large();
    }
  } else if (cfg.jobs.include.empty() || root_script) {
    matrix_job job;
    job.phases = root_phases;
    apply_git({}, cfg.git, job);
    if (!add(std::move(job), {}))
      return too_large();
  }
  for (const auto& entry : cfg.jobs.include) {
    matrix_job job;
    job.name = entry.name;
    job.own_env = entry.env;
    job.phases = resolve(entry.phases, cfg.phases);
    apply_git(entry.git, cfg.git, job);
    job.allow_failure = entry.allow_failure;
    if (!add(std::move(job), entry.mark))
      return too_large();
  }
  for (size_t i = result.size(); i > 0; --i) {
    const auto& job = result[i - 1];
    auto excluded = std::any_of(cfg.jobs.exclude.begin(),
                                cfg.jobs.exclude.end(),
                                [&job](const job_matcher& rule) {
                                  return matches(rule, job);
                                });
    if (excluded) {
      result.erase(result.begin() + static_cast<std::ptrdiff_t>(i - 1));
      marks.erase(marks.begin() + static_cast<std::ptrdiff_t>(i - 1));
    }
  }
  // Travis removes identical jobs; that comes with the full config language.
  // Until then duplicates are kept, so the user sees what the config says.
  for (size_t i = 0; i < result.size(); ++i) {
    auto& job = result[i];
    for (const auto& rule : cfg.jobs.allow_failures)
      if (matches(rule, job))
        job.allow_failure = true;
    if (job.phases.script.empty())
      messages.push_back({"error", "script", "missing_script",
                          describe_job(i + 1, job)
                            + " has no script: conveyor has no language "
                              "defaults yet",
                          marks[i].line, marks[i].column});
  }
  if (result.empty())
    messages.push_back({"error", "jobs", "no_jobs",
                        "the config expands to no job", 0, 0});
  return result;
}

std::string display_env(const matrix_job& job) {
  return render_env(job.own_env);
}

} // namespace conveyor
