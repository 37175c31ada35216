#include "actors/log_sequencer/reorder_buffer.hpp"

namespace conveyor {

std::vector<log_part> reorder_buffer::push(log_part part) {
  std::vector<log_part> ready;
  auto past_final = final_number_ && part.number > *final_number_;
  if (part.number < next_ || past_final || waiting_.count(part.number) > 0
      || part.number < 0) {
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
  for (auto i = waiting_.begin(); i != waiting_.end() && i->first == next_;
       i = waiting_.erase(i)) {
    ready.push_back(std::move(i->second));
    ++next_;
  }
  return ready;
}

} // namespace conveyor
