#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/log.hpp"

namespace conveyor {

/// When the chunker cuts a part.
struct log_chunker_config {
  /// A part is cut as soon as this many bytes are pending; no part is larger.
  size_t max_part_bytes = 8 * 1024;
  /// A part is cut when its oldest pending byte is this old.
  std::chrono::milliseconds max_delay{200};
};

/// Cuts the output of one job attempt into `log_part`s numbered 0, 1, 2, …
/// without gaps. Pure: the caller passes the time, so tests are deterministic.
class log_chunker {
public:
  /// The clock the caller reads `now` from.
  using clock = std::chrono::steady_clock;

  /// Makes a chunker for attempt `attempt` of job `job_id`.
  log_chunker(int64_t job_id, int32_t attempt, log_chunker_config cfg = {});

  /// Appends `bytes` received at `now`; returns the parts that are now due
  /// (full parts, then the rest if its oldest byte is `max_delay` old).
  std::vector<log_part> write(std::string_view bytes, clock::time_point now);

  /// Returns the pending bytes as one part if the oldest is `max_delay` old
  /// at `now`; nothing otherwise.
  std::vector<log_part> tick(clock::time_point now);

  /// Returns the remaining bytes followed by `last_text` (started on a line of
  /// its own and ended by a newline); the last returned part is the only one
  /// with `final` set. Always returns at least one part, even for an empty log.
  /// Afterwards, the chunker returns no more parts.
  std::vector<log_part> finish(std::string_view last_text);

  /// Returns the number the next part will get.
  int32_t next_number() const noexcept {
    return next_number_;
  }

  /// Returns how many bytes were written so far (without the last text).
  int64_t bytes_written() const noexcept {
    return bytes_written_;
  }

  /// Returns true if bytes wait for a cut.
  bool has_pending() const noexcept {
    return !pending_.empty();
  }

  /// Returns when the pending bytes fall due; meaningless if none is pending.
  clock::time_point due_at() const noexcept {
    return oldest_ + cfg_.max_delay;
  }

private:
  log_part make_part(std::string content, bool final);
  void cut_full_parts(std::vector<log_part>& out);

  int64_t job_id_;
  int32_t attempt_;
  log_chunker_config cfg_;
  std::string pending_;
  clock::time_point oldest_;
  int32_t next_number_ = 0;
  int64_t bytes_written_ = 0;
  bool ends_with_newline_ = true;
  bool finished_ = false;
};

} // namespace conveyor
