#include "app/summary.hpp"

#include <string>

namespace conveyor {

namespace {

std::string short_sha(const std::string& sha) {
  return sha.substr(0, 8);
}

// The job's name and env, as the config gives them: "lint: FOO=1 BAR=2".
std::string job_text(const job_spec& spec) {
  std::string env;
  for (auto& var : spec.env) {
    if (!env.empty())
      env += ' ';
    env += var.name + '=' + var.value;
  }
  auto result = spec.name.empty() ? env
                : env.empty()     ? spec.name
                                  : spec.name + ": " + env;
  if (result.size() > 60)
    result = result.substr(0, 57) + "...";
  return result.empty() ? "-" : result;
}

std::string duration_text(int64_t from_ms, int64_t to_ms) {
  if (from_ms <= 0 || to_ms < from_ms)
    return "-";
  char buf[32];
  auto ms = to_ms - from_ms;
  if (ms < 60'000)
    std::snprintf(buf, sizeof(buf), "%.1fs", ms / 1000.0);
  else
    std::snprintf(buf, sizeof(buf), "%lldm%02llds",
                  static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  return buf;
}

} // namespace

void print_build_header(std::FILE* out, const build_record& build) {
  auto& req = build.request;
  auto where = req.tag.empty() ? req.branch : "tag " + req.tag;
  std::fprintf(out, "Build #%lld of %s (%s%s%s), %zu job%s, request %s\n",
               static_cast<long long>(build.number), req.slug.c_str(),
               where.c_str(), where.empty() ? "" : " @ ",
               short_sha(req.sha).c_str(), build.jobs.size(),
               build.jobs.size() == 1 ? "" : "s", req.request_id.c_str());
  for (auto& msg : build.messages)
    std::fprintf(out, "%s%s%s\n", build.config.c_str(),
                 build.config.empty() ? "" : ": ", to_string(msg).c_str());
  if (build.state == build_state::errored)
    std::fprintf(out, "The build errored before any job ran.\n");
  std::fflush(out);
}

void print_summary(std::FILE* out, const build_record& build) {
  std::fprintf(out, "\n%-8s %-9s %-9s %s\n", "JOB", "STATE", "DURATION",
               "NAME / ENV");
  for (auto& job : build.jobs)
    std::fprintf(out, "%-8s %-9s %-9s %s%s\n", job_number(job.spec).c_str(),
                 to_string(job.state).c_str(),
                 duration_text(job.started_at_ms, job.finished_at_ms).c_str(),
                 job_text(job.spec).c_str(),
                 job.spec.allow_failure ? " (allowed to fail)" : "");
  std::fprintf(out, "\nBuild #%lld %s in %s.\n",
               static_cast<long long>(build.number),
               to_string(build.state).c_str(),
               duration_text(build.created_at_ms, build.finished_at_ms).c_str());
  std::fflush(out);
}

} // namespace conveyor
