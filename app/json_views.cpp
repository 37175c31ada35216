#include "app/json_views.hpp"

namespace conveyor {

namespace {

// Zero means "not yet": null is clearer to a client than 0.
nlohmann::json time_or_null(int64_t ms) {
  return ms > 0 ? nlohmann::json(ms) : nlohmann::json(nullptr);
}

} // namespace

nlohmann::json to_json_view(const job_record& job) {
  auto& spec = job.spec;
  auto env = nlohmann::json::array();
  for (auto& var : spec.env)
    env.push_back(var.name + "=" + var.value);
  auto id = std::to_string(spec.job_id);
  return {
    {"id", spec.job_id},
    {"build_id", spec.build_id},
    {"number", job_number(spec)},
    {"name", spec.name},
    {"state", to_string(job.state)},
    {"attempt", spec.attempt},
    {"allow_failure", spec.allow_failure},
    {"env", env},
    {"exit_code", job.exit_code >= 0 ? nlohmann::json(job.exit_code)
                                     : nlohmann::json(nullptr)},
    {"reason", job.reason},
    {"created_at", time_or_null(job.created_at_ms)},
    {"started_at", time_or_null(job.started_at_ms)},
    {"finished_at", time_or_null(job.finished_at_ms)},
    {"log_url", "/api/jobs/" + id + "/log"},
  };
}

nlohmann::json to_json_view(const build_record& build, bool with_jobs) {
  auto& req = build.request;
  auto messages = nlohmann::json::array();
  for (auto& msg : build.messages)
    messages.push_back({{"level", msg.level},
                        {"key", msg.key},
                        {"code", msg.code},
                        {"message", msg.message},
                        {"line", msg.line},
                        {"column", msg.column}});
  nlohmann::json result{
    {"id", build.id},
    {"number", build.number},
    {"state", to_string(build.state)},
    {"repo", req.repo},
    {"slug", req.slug},
    {"ref", req.ref},
    {"sha", req.sha},
    {"branch", req.branch},
    {"tag", req.tag},
    {"event", req.event},
    {"commit_message", req.commit_message},
    {"request_id", req.request_id},
    {"source", req.source},
    {"config", build.config},
    {"fast_finish", build.fast_finish},
    {"messages", messages},
    {"created_at", time_or_null(build.created_at_ms)},
    {"started_at", time_or_null(build.started_at_ms)},
    {"finished_at", time_or_null(build.finished_at_ms)},
  };
  if (with_jobs) {
    auto jobs = nlohmann::json::array();
    for (auto& job : build.jobs)
      jobs.push_back(to_json_view(job));
    result["jobs"] = jobs;
  }
  return result;
}

} // namespace conveyor
