#include "app/run_printer.hpp"

#include <map>
#include <set>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

struct job_view {
  std::string number;       ///< empty until the build is known
  job_state state = job_state::created;
  bool ran = false;         ///< reached a worker, so a log will come
  bool log_done = false;
  std::string unprinted;    ///< output not yet printed (an unfinished line)
};

struct printer_state {
  static inline const char* name = "run_printer";

  caf::actor waiter;
  std::FILE* out = nullptr;
  int64_t build_id = 0;     ///< 0 until the build is known
  std::set<int64_t> finished_builds; ///< every build seen finishing
  bool reported = false;
  std::map<int64_t, job_view> jobs;

  // Prints the complete lines of a job's pending output (all of it when
  // `flush`), each with the job's number in front.
  void print(job_view& job, bool flush) {
    if (job.number.empty())
      return;
    size_t start = 0;
    for (auto nl = job.unprinted.find('\n'); nl != std::string::npos;
         nl = job.unprinted.find('\n', start)) {
      print_line(job, job.unprinted.substr(start, nl - start));
      start = nl + 1;
    }
    job.unprinted.erase(0, start);
    if (flush && !job.unprinted.empty()) {
      print_line(job, job.unprinted);
      job.unprinted.clear();
    }
    std::fflush(out);
  }

  void print_line(const job_view& job, const std::string& line) {
    std::fprintf(out, "[%s] %s\n", job.number.c_str(), line.c_str());
  }

  // Other builds (recovered from an earlier run on the same --data) may run
  // beside this one: only this build's jobs, which have a number, count.
  bool done() const {
    if (build_id == 0 || finished_builds.count(build_id) == 0)
      return false;
    for (auto& [id, job] : jobs)
      if (!job.number.empty()
          && (!is_terminal(job.state) || (job.ran && !job.log_done)))
        return false;
    return true;
  }
};

using printer_ptr = run_printer_actor::stateful_pointer<printer_state>;

void report_if_done(printer_ptr self) {
  auto& st = self->state;
  if (st.reported || !st.done())
    return;
  st.reported = true;
  caf::anon_send(st.waiter, complete_atom::value, st.build_id);
}

run_printer_actor::behavior_type printer(printer_ptr self, caf::actor waiter,
                                         std::FILE* out) {
  self->state.waiter = std::move(waiter);
  self->state.out = out;
  return {
    [self](log_part& part) {
      auto& job = self->state.jobs[part.job_id];
      job.ran = true;
      job.unprinted += part.content;
      self->state.print(job, false);
    },
    [self](const log_completed& done) {
      auto& job = self->state.jobs[done.job_id];
      job.log_done = true;
      self->state.print(job, true);
      report_if_done(self);
    },
    [self](const job_state_changed& event) {
      auto& job = self->state.jobs[event.job_id];
      job.state = event.state;
      job.ran = job.ran || event.state == job_state::received
                || event.state == job_state::started;
      report_if_done(self);
    },
    [self](const build_state_changed& event) {
      if (is_terminal(event.state))
        self->state.finished_builds.insert(event.build_id);
      report_if_done(self);
    },
    [self](const build_record& build) {
      auto& st = self->state;
      st.build_id = build.id;
      if (is_terminal(build.state))
        st.finished_builds.insert(build.id);
      for (auto& record : build.jobs) {
        auto& job = st.jobs[record.spec.job_id];
        job.number = job_number(record.spec);
        if (job.state < record.state)
          job.state = record.state;
        st.print(job, job.log_done);
      }
      report_if_done(self);
    },
  };
}

} // namespace

run_printer_actor spawn_run_printer(caf::actor_system& sys, caf::actor waiter,
                                    std::FILE* out) {
  return sys.spawn(printer, std::move(waiter), out);
}

} // namespace conveyor
