#pragma once

#include <cstddef>
#include <vector>

#include "messages/log.hpp"

namespace conveyor {

/// How many of the parts waiting in `xs` (oldest first) go into the next
/// store write: up to `max_parts`, and no more once they hold `max_bytes`
/// (so a part larger than that still goes, alone).
inline size_t next_batch_size(const std::vector<log_part>& xs,
                              size_t max_parts, size_t max_bytes) {
  size_t count = 0;
  size_t bytes = 0;
  while (count < xs.size() && count < max_parts && bytes < max_bytes)
    bytes += xs[count++].content.size();
  return count;
}

} // namespace conveyor
