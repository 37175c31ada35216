#include "actors/worker/job_runner.hpp"

#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <csignal>
#include <cstring>

#include "actors/worker/build_script.hpp"
#include "actors/worker/group_record.hpp"
#include "actors/worker/job_environment.hpp"
#include "actors/worker/process.hpp"
#include "actors/worker/remove_tree.hpp"

namespace conveyor {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

struct workspace_paths {
  fs::path root;
  fs::path build_dir;
  fs::path script;
  fs::path result_file;
};

workspace_paths paths_of(const fs::path& ws) {
  return {ws, ws / "build", ws / ".conveyor" / "build.sh",
          ws / ".conveyor" / "result"};
}

std::optional<std::string> prepare(const workspace_paths& ws,
                                   const std::string& script) {
  std::error_code ec;
  remove_tree(ws.root); // a stale copy of the same attempt
  fs::create_directories(ws.script.parent_path(), ec);
  if (ec)
    return "cannot create " + ws.script.parent_path().string() + ": "
           + ec.message();
  std::ofstream out{ws.script, std::ios::binary | std::ios::trunc};
  out << script;
  out.close();
  if (!out)
    return "cannot write " + ws.script.string();
  return std::nullopt;
}

std::optional<script_result> read_result(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_script_result(text.str());
}

// Travis writes durations as "10m 0s"; sub-second limits keep their fraction.
std::string minutes_seconds(milliseconds d) {
  auto ms = d.count();
  auto result = std::to_string(ms / 60000) + "m "
                + std::to_string(ms % 60000 / 1000);
  if (auto frac = ms % 1000; frac != 0) {
    auto digits = std::to_string(1000 + frac).substr(1);
    digits.erase(digits.find_last_not_of('0') + 1);
    result += "." + digits;
  }
  return result + "s";
}

std::string done_line(int code) {
  return "Done. Your build exited with " + std::to_string(code) + ".";
}

// The outcome, and the text that ends the log.
std::pair<job_outcome, std::string>
conclude(const job_spec& spec, const process_result& proc,
         const fs::path& result_file) {
  const auto& lim = spec.limits;
  job_outcome out;
  switch (proc.how) {
    case process_end::failed_to_start:
      out.reason = "could not start the build script: " + proc.error;
      return {out, "The build script could not be started: " + proc.error
                     + "."};
    case process_end::canceled:
      out.state = job_state::canceled;
      out.reason = "canceled";
      return {out, "Done. The job was canceled."};
    case process_end::timed_out:
      out.reason = "exceeded the time limit of "
                   + minutes_seconds(milliseconds{lim.timeout_ms});
      return {out, "The job exceeded the maximum time limit for jobs, and has "
                   "been terminated."};
    case process_end::silent: {
      auto quiet = minutes_seconds(milliseconds{lim.no_output_timeout_ms});
      out.reason = "no output for " + quiet;
      return {out, "No output has been received in the last " + quiet
                     + ", this potentially indicates a stalled build or "
                       "something wrong with the build itself.\n"
                       "The build has been terminated."};
    }
    case process_end::log_too_large:
      out.reason = "exceeded the log limit of "
                   + std::to_string(lim.max_log_bytes) + " bytes";
      return {out, "The job exceeded the maximum log length, and has been "
                   "terminated."};
    case process_end::exited:
    case process_end::signaled:
      break;
  }
  if (auto recorded = read_result(result_file)) {
    out.state = recorded->state;
    out.exit_code = recorded->exit_code;
    if (out.state == job_state::failed)
      out.reason = "a script command failed";
    else if (out.state == job_state::errored)
      out.reason = recorded->phase + " failed (exit "
                   + std::to_string(recorded->exit_code) + ")";
    return {out, done_line(out.exit_code)};
  }
  if (proc.how == process_end::signaled) {
    auto sig = std::to_string(proc.signal);
    out.reason = "the build script was killed by signal " + sig;
    return {out, "The build script was killed by signal " + sig + " ("
                   + strsignal(proc.signal) + ").\nDone. Your build has been "
                   "terminated."};
  }
  out.exit_code = proc.exit_code;
  out.reason = "the build script ended early (exit "
               + std::to_string(proc.exit_code) + ")";
  return {out, "The build script ended before its result was known (did a "
               "command call exit?).\n"
                 + done_line(proc.exit_code)};
}

process_limits limits_of(const job_spec& spec, milliseconds kill_grace) {
  process_limits result;
  result.timeout = milliseconds{spec.limits.timeout_ms};
  result.no_output_timeout = milliseconds{spec.limits.no_output_timeout_ms};
  result.max_output_bytes = spec.limits.max_log_bytes;
  result.kill_grace = kill_grace;
  return result;
}

std::optional<std::string> record_group(const job_spec& spec,
                                        const fs::path& ws, pid_t pgid) {
  auto rec = describe_group(pgid, spec.job_id, spec.attempt, ws);
  if (!rec)
    return "cannot read /proc/" + std::to_string(pgid) + "/stat";
  return write_group_record(*rec);
}

template <class Emit>
std::pair<job_outcome, std::string>
run_script(const job_spec& spec, const job_runner_config& cfg,
           const std::atomic<bool>& cancel, const job_callbacks& cb,
           const workspace_paths& ws, log_chunker& chunker, Emit& emit) {
  auto script = make_build_script(spec, {ws.build_dir, ws.result_file});
  if (auto err = prepare(ws, script)) {
    job_outcome out;
    out.reason = "cannot prepare the workspace: " + *err;
    return {out, "The worker could not prepare the workspace: " + *err + "."};
  }
  if (cb.on_started)
    cb.on_started();
  process_options opts;
  opts.argv = {"bash", ws.script.string()};
  opts.env = job_environment(spec, ws.root, ws.build_dir);
  opts.cwd = ws.root;
  opts.limits = limits_of(spec, cfg.kill_grace);
  opts.cancel = &cancel;
  opts.on_output = [&chunker, &emit](std::string_view bytes,
                                     process_options::clock::time_point now) {
    emit(chunker.write(bytes, now));
  };
  opts.on_tick = [&chunker, &emit](process_options::clock::time_point now) {
    emit(chunker.tick(now));
  };
  bool recorded = false;
  opts.on_spawned = [&spec, &ws, &chunker, &emit, &recorded](pid_t pgid) {
    auto err = record_group(spec, ws.root, pgid);
    recorded = !err;
    if (err)
      emit(chunker.write("Warning: the worker could not record the job's "
                         "processes, so a crash of the server would leave "
                         "them running: " + *err + ".\n",
                         process_options::clock::now()));
  };
  auto proc = run_process(opts);
  // A record left behind keeps the workspace for reap_orphans.
  if (recorded && !proc.group_survived) {
    std::error_code ec;
    fs::remove(group_record_path(ws.root), ec);
  }
  return conclude(spec, proc, ws.result_file);
}

} // namespace

fs::path workspace_of(const fs::path& root, const job_spec& spec) {
  return root
         / (std::to_string(spec.job_id) + "-" + std::to_string(spec.attempt));
}

job_outcome run_job(const job_spec& spec, const job_runner_config& cfg,
                    const std::atomic<bool>& cancel, const job_callbacks& cb) {
  log_chunker chunker{spec.job_id, spec.attempt, cfg.chunks};
  auto emit = [&cb](std::vector<log_part> parts) {
    if (cb.on_part)
      for (auto& part : parts)
        cb.on_part(std::move(part));
  };
  auto ws = paths_of(workspace_of(cfg.workspace_root, spec));
  std::pair<job_outcome, std::string> end;
  // Whatever goes wrong, the log still gets its final part.
  try {
    ws = paths_of(fs::absolute(ws.root));
    end = run_script(spec, cfg, cancel, cb, ws, chunker, emit);
  } catch (const std::exception& e) {
    end.first = job_outcome{};
    end.first.reason = std::string{"worker failure: "} + e.what();
    end.second = "The worker failed: " + std::string{e.what()} + ".";
  }
  emit(chunker.finish("\n" + end.second));
  std::error_code ec;
  if (!cfg.keep_workspace && !fs::exists(group_record_path(ws.root), ec))
    remove_tree(ws.root);
  return end.first;
}

job_outcome run_noop_job(const job_spec& spec, const job_callbacks& cb) {
  if (cb.on_started)
    cb.on_started();
  if (cb.on_part) {
    log_chunker chunker{spec.job_id, spec.attempt};
    for (auto& part : chunker.finish(done_line(0)))
      cb.on_part(std::move(part));
  }
  job_outcome out;
  out.state = job_state::passed;
  out.exit_code = 0;
  return out;
}

} // namespace conveyor
