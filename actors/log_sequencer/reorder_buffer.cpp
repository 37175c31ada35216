#include "actors/log_sequencer/reorder_buffer.hpp"

namespace conveyor {

std::vector<log_part> reorder_buffer::push(log_part part) {
  std::vector<log_part> ready;
  auto number = part.number;
  auto past_final = final_number_ && number > *final_number_;
  if (number < next_ || past_final || number < 0
      || (!stored_ahead_.empty() && stored_ahead_.count(number) > 0)) {
    ++dropped_;
    return ready;
  }
  auto final = part.final;
  // A duplicate is found where it would go; a part that came from far ahead
  // may sit in far_ although its number is within the window now.
  auto offset = static_cast<int64_t>(number) - next_;
  if (offset < window) {
    auto i = static_cast<size_t>(offset);
    if ((i < near_.size() && near_[i]) || far_.count(number) > 0) {
      ++dropped_;
      return ready;
    }
    if (i >= near_.size())
      near_.resize(i + 1);
    near_[i] = std::move(part);
  } else if (!far_.try_emplace(number, std::move(part)).second) {
    ++dropped_;
    return ready;
  }
  ++waiting_;
  if (final) {
    final_number_ = number;
    drop_after(number);
  }
  if (number == next_)
    advance(ready);
  return ready;
}

void reorder_buffer::drop_after(int32_t final_number) {
  // Parts numbered after the final one can only be garbage.
  auto keep = static_cast<size_t>(final_number - next_) + 1;
  for (auto i = keep; i < near_.size(); ++i)
    if (near_[i]) {
      --waiting_;
      ++dropped_;
    }
  if (near_.size() > keep)
    near_.resize(keep);
  while (!far_.empty() && far_.rbegin()->first > final_number) {
    far_.erase(std::prev(far_.end()));
    --waiting_;
    ++dropped_;
  }
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
  // Every store holds numbers >= next_ only: the next one, if there, is
  // first in one of them.
  for (;;) {
    if (!stored_ahead_.empty() && *stored_ahead_.begin() == next_) {
      stored_ahead_.erase(stored_ahead_.begin());
    } else if (!near_.empty() && near_.front()) {
      ready.push_back(std::move(*near_.front()));
      --waiting_;
    } else if (!far_.empty() && far_.begin()->first == next_) {
      ready.push_back(std::move(far_.begin()->second));
      far_.erase(far_.begin());
      --waiting_;
    } else {
      return;
    }
    if (!near_.empty())
      near_.pop_front();
    ++next_;
  }
}

} // namespace conveyor
