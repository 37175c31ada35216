#pragma once

// A build config as Travis CI's YAML loader sees it: null, booleans, strings
// (every other scalar, numbers and dates included, so `python: 3.10` stays
// "3.10"), lists and maps with string keys in the order written. Each value
// remembers where it was written.
//
// Values share their contents: copying a node is cheap whatever its size, so
// matrix rows can all carry the root's commands without copying them. A node
// is never changed through another node that shares its contents (`set`,
// `erase` and `push_back` copy what they change first).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// Where something was written in a config file (1-based; 0 if unknown).
struct config_mark {
  int32_t line = 0;   ///< 1-based; 0 if unknown
  int32_t column = 0; ///< 1-based, in bytes; 0 if unknown
};

struct config_entry;

/// One value of a build config: null, a boolean, a string, a list or a map.
/// Equality follows Ruby's `Hash#==`: the order of a map's keys does not
/// matter, the order of a list's items does, and marks are ignored.
class config_node {
public:
  /// What a node holds.
  enum class kind_type : uint8_t { null, boolean, string, list, map };

  /// A null node.
  config_node() = default;

  /// A boolean.
  static config_node boolean(bool value, config_mark at = {});

  /// A string.
  static config_node string(std::string value, config_mark at = {});

  /// A list of `items`.
  static config_node list(std::vector<config_node> items = {},
                          config_mark at = {});

  /// A map of `entries`, whose keys must be distinct.
  static config_node map(std::vector<config_entry> entries = {},
                         config_mark at = {});

  /// What this node holds.
  kind_type kind() const {
    return kind_;
  }

  /// True for null.
  bool is_null() const {
    return kind_ == kind_type::null;
  }

  /// True for booleans.
  bool is_bool() const {
    return kind_ == kind_type::boolean;
  }

  /// True for strings.
  bool is_string() const {
    return kind_ == kind_type::string;
  }

  /// True for booleans and strings.
  bool is_scalar() const {
    return is_bool() || is_string();
  }

  /// True for lists.
  bool is_list() const {
    return kind_ == kind_type::list;
  }

  /// True for maps.
  bool is_map() const {
    return kind_ == kind_type::map;
  }

  /// True for null, "", an empty list and an empty map (Travis's `blank?`).
  bool blank() const;

  /// The value of a boolean; false for anything else.
  bool flag() const {
    return flag_;
  }

  /// The text of a string; empty for anything else.
  const std::string& text() const;

  /// The text of a scalar: a string's text, "true" or "false"; else empty.
  std::string scalar_text() const;

  /// The items of a list; empty for anything else.
  const std::vector<config_node>& items() const;

  /// The entries of a map, in order; empty for anything else.
  const std::vector<config_entry>& entries() const;

  /// The number of items or entries; 0 for scalars and null.
  std::size_t size() const;

  /// The entry of a map with `key`, or nullptr.
  const config_entry* find_entry(std::string_view key) const;

  /// The value of a map at `key`, or nullptr.
  const config_node* find(std::string_view key) const;

  /// The value of a map at `key`, or null.
  config_node get(std::string_view key) const;

  /// True if this is a map with `key`.
  bool has(std::string_view key) const {
    return find(key) != nullptr;
  }

  /// Sets `key` of a map (a null node becomes an empty map first): replaces
  /// the value in place if the key exists, else appends the entry.
  void set(std::string key, config_node value, config_mark key_mark = {});

  /// Removes `key` from a map; false if there was none.
  bool erase(std::string_view key);

  /// Appends to a list (a null node becomes an empty list first).
  void push_back(config_node item);

  /// Where the value starts.
  config_mark mark() const {
    return mark_;
  }

  /// Sets where the value starts.
  void mark(config_mark at) {
    mark_ = at;
  }

  /// A hash consistent with `==`.
  std::size_t hash() const;

  /// True if both hold the same contents (see the class comment).
  friend bool operator==(const config_node& x, const config_node& y);

  /// True unless both hold the same contents.
  friend bool operator!=(const config_node& x, const config_node& y) {
    return !(x == y);
  }

private:
  kind_type kind_ = kind_type::null;
  bool flag_ = false;
  std::shared_ptr<const std::string> text_;
  std::shared_ptr<const std::vector<config_node>> items_;
  std::shared_ptr<const std::vector<config_entry>> entries_;
  config_mark mark_;
};

/// One entry of a map: a key, its value and where the key was written.
struct config_entry {
  std::string key;      ///< the key, after YAML merge keys are resolved
  config_node value;    ///< its value
  config_mark key_mark; ///< where the key is written
};

/// Renders `x` as compact JSON (scalars as JSON strings and booleans), for
/// messages and test output. Output past `max_bytes` is cut with "...".
std::string to_json(const config_node& x, std::size_t max_bytes = 4096);

/// Wraps a node that is not a list into a one-item list; a null node gives
/// an empty list.
std::vector<config_node> wrap(const config_node& x);

/// Travis's deep merge (`Helper::Obj#merge`): maps merge key by key, lists
/// are concatenated without duplicates, anything else is replaced by `rhs`.
config_node deep_merge(const config_node& lhs, const config_node& rhs);

} // namespace conveyor
