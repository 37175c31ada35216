#include "actors/gatekeeper/repository_cache.hpp"

#include <utility>

namespace conveyor {

namespace {

// The same repository directory read for two labels (a path, a URL) gives
// errors with different names, so both are part of the key.
std::string key_of(const std::string& path, const std::string& label) {
  std::string result = path;
  result += '\0';
  result += label.empty() ? path : label;
  return result;
}

} // namespace

repository_cache::repository_cache(size_t capacity) : capacity_(capacity) {
  // nop
}

repository* repository_cache::find(const std::string& path,
                                   const std::string& label) {
  auto i = index_.find(key_of(path, label));
  if (i == index_.end())
    return nullptr;
  entries_.splice(entries_.begin(), entries_, i->second);
  return &entries_.front();
}

void repository_cache::insert(repository repo) {
  if (capacity_ == 0)
    return;
  auto key = key_of(repo.path(), repo.label());
  drop(repo.path(), repo.label());
  while (entries_.size() >= capacity_) {
    index_.erase(key_of(entries_.back().path(), entries_.back().label()));
    entries_.pop_back();
  }
  entries_.push_front(std::move(repo));
  index_.emplace(std::move(key), entries_.begin());
}

void repository_cache::drop(const std::string& path, const std::string& label) {
  auto i = index_.find(key_of(path, label));
  if (i == index_.end())
    return;
  entries_.erase(i->second);
  index_.erase(i);
}

} // namespace conveyor
