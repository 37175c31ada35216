#include "actors/gatekeeper/plan_cache.hpp"

#include <utility>

namespace conveyor {

namespace {

// Roughly what a plan and its text occupy: the normalized config holds about
// what the text says (aliases are shared, not copied).
size_t size_of(const std::string& content, const planned_config& plan) {
  size_t result = sizeof(planned_config) + 3 * content.size();
  for (const auto& msg : plan.messages)
    result += sizeof(msg) + msg.level.size() + msg.key.size() + msg.code.size()
              + msg.message.size();
  return result;
}

} // namespace

plan_cache::plan_cache(size_t capacity, size_t max_bytes)
  : capacity_(capacity), max_bytes_(max_bytes) {
  // nop
}

std::shared_ptr<const planned_config>
plan_cache::plan(const config_file& file) {
  if (!file.id.empty()) {
    if (auto i = index_.find(file.id); i != index_.end()) {
      if (i->second->content == file.content) {
        entries_.splice(entries_.begin(), entries_, i->second);
        return entries_.front().plan;
      }
      bytes_ -= i->second->bytes;
      entries_.erase(i->second);
      index_.erase(i);
    }
  }
  auto result = std::make_shared<const planned_config>(
    plan_config(file.content));
  if (file.id.empty() || capacity_ == 0)
    return result;
  auto bytes = size_of(file.content, *result);
  if (bytes > max_bytes_)
    return result;
  while (!entries_.empty()
         && (entries_.size() >= capacity_ || bytes_ + bytes > max_bytes_))
    drop_last();
  entries_.push_front(entry{file.id, file.content, result, bytes});
  index_.emplace(file.id, entries_.begin());
  bytes_ += bytes;
  return result;
}

void plan_cache::drop_last() {
  bytes_ -= entries_.back().bytes;
  index_.erase(entries_.back().id);
  entries_.pop_back();
}

} // namespace conveyor
