#include "actors/log_sequencer/reorder_buffer.hpp"

namespace conveyor {

std::vector<log_part> reorder_buffer::push(log_part part) {
  std::vector<log_part> ready;
  auto past_final = final_number_ && part.number > *final_number_;
  if (part.number < next_ || past_final || part.number < 0
      || (!stored_ahead_.empty() && stored_ahead_.count(part.number) > 0)) {
    ++dropped_;
    return ready;
  }
  auto number = part.number;
  auto final = part.final;
  // One walk down the tree: a duplicate is found where it would go.
  auto [at, added] = waiting_.try_emplace(number, std::move(part));
  if (!added) {
    ++dropped_;
    return ready;
  }
  if (final) {
    final_number_ = number;
    // Parts numbered after the final one can only be garbage.
    while (waiting_.rbegin()->first > number) {
      waiting_.erase(std::prev(waiting_.end()));
      ++dropped_;
    }
  }
  if (number == next_)
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
  // Both hold numbers >= next_ only: the next one, if there, is the first.
  for (;;) {
    if (!stored_ahead_.empty() && *stored_ahead_.begin() == next_) {
      stored_ahead_.erase(stored_ahead_.begin());
      ++next_;
    } else if (!waiting_.empty() && waiting_.begin()->first == next_) {
      ready.push_back(std::move(waiting_.begin()->second));
      waiting_.erase(waiting_.begin());
      ++next_;
    } else {
      return;
    }
  }
}

} // namespace conveyor
