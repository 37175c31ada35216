#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "messages/log.hpp"

namespace conveyor {

/// Puts the parts of one job attempt's log in order. Parts come in any order
/// and any number of times; each number is released once, in order, and only
/// when every number before it has been released.
class reorder_buffer {
public:
  /// Parts up to this far past the next expected number wait in a window
  /// indexed by number (one step per part); parts further ahead, in an
  /// ordered map.
  static constexpr int32_t window = 4096;

  /// Takes a part and returns the parts that are now in order (maybe none).
  /// Duplicates and parts past the final one are dropped (see `dropped`).
  std::vector<log_part> push(log_part part);

  /// Resumes a log from what an earlier sequencer stored: `stored` part
  /// numbers count as released already (they are never released again) and
  /// `final_number` (-1: unknown) as the final part. Call it on a new buffer.
  void resume(const std::vector<int32_t>& stored, int32_t final_number);

  /// True once the final part and every part before it have been released.
  bool complete() const {
    return final_number_ && next_ > *final_number_;
  }

  /// The number of the next part to release.
  int32_t next_expected() const {
    return next_;
  }

  /// How many parts wait for a gap before them to fill.
  size_t waiting() const {
    return waiting_;
  }

  /// How many parts were dropped as duplicates or as past the final part.
  size_t dropped() const {
    return dropped_;
  }

private:
  // Moves past every number that is stored or waiting, releasing the latter.
  void advance(std::vector<log_part>& ready);

  // Drops the waiting parts numbered after `final_number`.
  void drop_after(int32_t final_number);

  int32_t next_ = 0;
  std::optional<int32_t> final_number_;
  std::deque<std::optional<log_part>> near_; ///< near_[i] is number next_ + i
  std::map<int32_t, log_part> far_; ///< at least `window` ahead on arrival
  size_t waiting_ = 0;              ///< parts in near_ and far_
  std::set<int32_t> stored_ahead_; ///< stored by a predecessor, past next_
  size_t dropped_ = 0;
};

} // namespace conveyor
