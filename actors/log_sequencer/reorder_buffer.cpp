#include "actors/log_sequencer/reorder_buffer.hpp"

namespace conveyor {

std::vector<log_part> reorder_buffer::push(log_part part) {
  std::vector<log_part> ready;
  auto past_final = final_number_ && part.number > *final_number_;
  if (part.number < next_ || past_final || waiting_.count(part.number) > 0
      || stored_ahead_.count(part.number) > 0 || part.number < 0) {
    ++dropped_;
    return ready;
  }
  if (part.final) {
    final_number_ = part.number;
    // Parts numbered after the final one can only be garbage.
    while (!waiting_.empty() && waiting_.rbegin()->first > part.number) {
      waiting_.erase(std::prev(waiting_.end()));
      ++dropped_;
    }
  }
  waiting_.emplace(part.number, std::move(part));
  advance(ready);
  return ready;
}

void reorder_buffer::resume(const std::vector<int32_t>& stored,
                            int32_t final_number) {
  if (final_number >= 0)
    final_number_ = final_number;
  for (auto number : stored)
    if (number >= next_)
      stored_ahead_.insert(number);
  std::vector<log_part> none;
  advance(none);
}

void reorder_buffer::advance(std::vector<log_part>& ready) {
  for (;;) {
    if (auto i = stored_ahead_.find(next_); i != stored_ahead_.end()) {
      stored_ahead_.erase(i);
      ++next_;
    } else if (auto j = waiting_.find(next_); j != waiting_.end()) {
      ready.push_back(std::move(j->second));
      waiting_.erase(j);
      ++next_;
    } else {
      return;
    }
  }
}

} // namespace conveyor
