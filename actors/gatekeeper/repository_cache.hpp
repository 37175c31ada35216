#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>

#include "actors/gatekeeper/repository.hpp"

namespace conveyor {

/// Open repositories kept by their path and label, so that requests for the
/// same repository do not open it again; the least recently used one is
/// closed when the cache is full. A cached repository still sees the commits,
/// branches and tags made after it was opened (libgit2 reads refs anew and
/// refreshes its object database on a miss); see `resolve_request` for how a
/// repository that disappeared or broke is dropped.
///
/// Not thread-safe, like `repository`: the gatekeeper keeps one in its state
/// and uses it from its own thread.
class repository_cache {
public:
  /// The most repositories a cache keeps by default.
  static constexpr size_t default_capacity = 64;

  /// A cache of at most `capacity` repositories (0 keeps none).
  explicit repository_cache(size_t capacity = default_capacity);

  /// The cached repository opened with `path` and `label` (an empty label
  /// stands for `path`, as in `repository::open`), now the most recently
  /// used; nullptr if there is none. Valid until the next `insert` or `drop`.
  repository* find(const std::string& path, const std::string& label = {});

  /// Caches `repo` as the most recently used, replacing one of the same path
  /// and label, and closes the least recently used one if the cache is full.
  void insert(repository repo);

  /// Closes and forgets the repository of `path` and `label`, if cached.
  void drop(const std::string& path, const std::string& label = {});

  /// The number of cached repositories.
  size_t size() const {
    return entries_.size();
  }

private:
  using entry_list = std::list<repository>;

  entry_list entries_; ///< most recently used first
  std::unordered_map<std::string, entry_list::iterator> index_;
  size_t capacity_;
};

} // namespace conveyor
