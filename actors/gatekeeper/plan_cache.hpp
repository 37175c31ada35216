#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/repository.hpp"

namespace conveyor {

/// Planned configs (`plan_config`) kept by the blob id of the config file, so
/// that requests for commits sharing a config read and normalize it once
/// (the jobs depend on each request's data and are expanded by `plan_build`).
/// The
/// least recently used plan is dropped when the cache holds `capacity` plans
/// or about `max_bytes` of config text, commands and variables.
///
/// Not thread-safe: the gatekeeper keeps one in its state and uses it from its
/// own thread.
class plan_cache {
public:
  /// The most plans a cache keeps by default.
  static constexpr size_t default_capacity = 256;

  /// About how many bytes of plans a cache keeps by default.
  static constexpr size_t default_max_bytes = 64 * 1024 * 1024;

  /// A cache of at most `capacity` plans and about `max_bytes` (0 keeps none).
  explicit plan_cache(size_t capacity = default_capacity,
                      size_t max_bytes = default_max_bytes);

  /// The `plan_config` of `file.content`: the cached one if `file.id` was
  /// planned before with the same text, else a new one, cached unless
  /// `file.id` is empty or the plan alone is larger than the cache.
  std::shared_ptr<const planned_config> plan(const config_file& file);

  /// The number of cached plans.
  size_t size() const {
    return entries_.size();
  }

  /// About how many bytes the cached plans hold.
  size_t bytes() const {
    return bytes_;
  }

private:
  struct entry {
    std::string id;
    std::string content; ///< compared on a hit: a wrong id never mixes plans
    std::shared_ptr<const planned_config> plan;
    size_t bytes;
  };

  using entry_list = std::list<entry>;

  void drop_last();

  entry_list entries_; ///< most recently used first
  std::unordered_map<std::string, entry_list::iterator> index_;
  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
};

} // namespace conveyor
