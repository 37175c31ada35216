#pragma once

#include <nlohmann/json.hpp>

#include "messages/build.hpp"
#include "messages/job.hpp"

namespace conveyor {

/// The JSON a client sees of a job: id, number, state, attempt, env, name,
/// timing, result and links.
nlohmann::json to_json_view(const job_record& job);

/// The JSON a client sees of a build: id, number, request, state, config
/// findings, timing, and (if `with_jobs`) its jobs.
nlohmann::json to_json_view(const build_record& build, bool with_jobs);

} // namespace conveyor
