#include "actors/gatekeeper/build_plan.hpp"

#include <utility>

#include "actors/gatekeeper/build_config.hpp"
#include "actors/gatekeeper/job_matrix.hpp"
#include "actors/gatekeeper/mirror.hpp"
#include "actors/gatekeeper/repository_cache.hpp"

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

job_record make_job(const build_request& req, const matrix_job& job,
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
  spec.env = job.env;
  spec.phases = job.phases;
  spec.clone = job.clone;
  spec.clone_depth = job.clone_depth;
  spec.allow_failure = job.allow_failure;
  spec.name = job.name;
  spec.limits = limits;
  result.created_at_ms = now_ms;
  return result;
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

planned_config plan_config(std::string_view content) {
  planned_config result;
  auto parsed = parse_build_config(content);
  result.messages = std::move(parsed.messages);
  result.fast_finish = parsed.config.jobs.fast_finish;
  if (has_errors(result.messages)) {
    result.errored = true;
    return result;
  }
  result.jobs = expand_matrix(parsed.config, result.messages);
  if (has_errors(result.messages)) {
    result.errored = true;
    result.jobs.clear();
  }
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
  if (file.name.empty()) {
    build.messages.push_back({"error", "", "no_config",
                              "no .conveyor.yml or .travis.yml found at commit "
                                + req.sha.substr(0, 7),
                              0, 0});
    return errored(std::move(build), now_ms);
  }
  build.messages = plan.messages;
  build.fast_finish = plan.fast_finish;
  if (plan.errored)
    return errored(std::move(build), now_ms);
  build.jobs.reserve(plan.jobs.size());
  for (size_t i = 0; i < plan.jobs.size(); ++i)
    build.jobs.push_back(make_job(build.request, plan.jobs[i],
                                  static_cast<int32_t>(i + 1), limits, now_ms));
  return build;
}

} // namespace conveyor
