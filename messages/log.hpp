#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// A numbered piece of a job attempt's output. Numbers start at 0 and have no
/// gaps; the last part of an attempt has `final` set. Sent by workers to the
/// log sequencer, and by the sequencer, in order, to its subscribers.
struct log_part {
  int64_t job_id = 0;
  int32_t attempt = 0;
  int32_t number = 0;
  std::string content;
  bool final = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_part& x) {
  return f(caf::meta::type_name("conveyor::log_part"), x.job_id, x.attempt,
           x.number, x.content, x.final);
}

inline bool operator==(const log_part& x, const log_part& y) {
  return x.job_id == y.job_id && x.attempt == y.attempt
         && x.number == y.number && x.content == y.content
         && x.final == y.final;
}

/// Event: every part of a job attempt's log, up to the final one, is stored.
/// Sent by the log sequencer to its subscribers after the last part.
struct log_completed {
  int64_t job_id = 0;
  int32_t attempt = 0;
  int32_t parts = 0;  ///< number of parts
  int64_t bytes = 0;  ///< total size of the log
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_completed& x) {
  return f(caf::meta::type_name("conveyor::log_completed"), x.job_id,
           x.attempt, x.parts, x.bytes);
}

/// What the store holds of a log that is not complete: the numbers of its
/// stored parts, ascending, and the number of its final part (-1: not stored
/// yet). A restarted sequencer resumes each open log from it.
struct log_progress {
  int64_t job_id = 0;
  int32_t attempt = 0;
  std::vector<int32_t> stored;
  int32_t final_number = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_progress& x) {
  return f(caf::meta::type_name("conveyor::log_progress"), x.job_id,
           x.attempt, x.stored, x.final_number);
}

} // namespace conveyor
