#include "actors/gatekeeper/config_node.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace conveyor {

namespace {

const std::string no_text;
const std::vector<config_node> no_items;
const std::vector<config_entry> no_entries;

// Beyond this many entries, maps are compared by sorted keys rather than by
// looking each key up in the other map.
constexpr std::size_t small_map = 8;

bool same_entries(const std::vector<config_entry>& xs,
                  const std::vector<config_entry>& ys) {
  if (xs.size() != ys.size())
    return false;
  if (xs.size() <= small_map) {
    for (const auto& x : xs) {
      auto i = std::find_if(ys.begin(), ys.end(),
                            [&x](const config_entry& y) {
                              return y.key == x.key;
                            });
      if (i == ys.end() || !(i->value == x.value))
        return false;
    }
    return true;
  }
  auto sorted = [](const std::vector<config_entry>& entries) {
    std::vector<const config_entry*> result;
    result.reserve(entries.size());
    for (const auto& x : entries)
      result.push_back(&x);
    std::sort(result.begin(), result.end(),
              [](const config_entry* a, const config_entry* b) {
                return a->key < b->key;
              });
    return result;
  };
  auto a = sorted(xs);
  auto b = sorted(ys);
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i]->key != b[i]->key || !(a[i]->value == b[i]->value))
      return false;
  return true;
}

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (auto c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const config_node& x,
                 std::size_t max_bytes) {
  if (out.size() > max_bytes)
    return;
  switch (x.kind()) {
    case config_node::kind_type::null:
      out += "null";
      break;
    case config_node::kind_type::boolean:
      out += x.flag() ? "true" : "false";
      break;
    case config_node::kind_type::string:
      append_json_string(out, x.text());
      break;
    case config_node::kind_type::list: {
      out += '[';
      bool first = true;
      for (const auto& item : x.items()) {
        if (!first)
          out += ", ";
        first = false;
        append_json(out, item, max_bytes);
        if (out.size() > max_bytes)
          return;
      }
      out += ']';
      break;
    }
    case config_node::kind_type::map: {
      out += '{';
      bool first = true;
      for (const auto& entry : x.entries()) {
        if (!first)
          out += ", ";
        first = false;
        append_json_string(out, entry.key);
        out += ": ";
        append_json(out, entry.value, max_bytes);
        if (out.size() > max_bytes)
          return;
      }
      out += '}';
      break;
    }
  }
}

} // namespace

// -- construction -------------------------------------------------------------

config_node config_node::boolean(bool value, config_mark at) {
  config_node result;
  result.kind_ = kind_type::boolean;
  result.flag_ = value;
  result.mark_ = at;
  return result;
}

config_node config_node::string(std::string value, config_mark at) {
  config_node result;
  result.kind_ = kind_type::string;
  result.text_ = std::make_shared<const std::string>(std::move(value));
  result.mark_ = at;
  return result;
}

config_node config_node::list(std::vector<config_node> items,
                              config_mark at) {
  config_node result;
  result.kind_ = kind_type::list;
  result.items_ = std::make_shared<const std::vector<config_node>>(
    std::move(items));
  result.mark_ = at;
  return result;
}

config_node config_node::map(std::vector<config_entry> entries,
                             config_mark at) {
  config_node result;
  result.kind_ = kind_type::map;
  result.entries_ = std::make_shared<const std::vector<config_entry>>(
    std::move(entries));
  result.mark_ = at;
  return result;
}

// -- access -------------------------------------------------------------------

bool config_node::blank() const {
  switch (kind_) {
    case kind_type::null: return true;
    case kind_type::boolean: return false;
    case kind_type::string: return text().empty();
    default: return size() == 0;
  }
}

const std::string& config_node::text() const {
  return kind_ == kind_type::string && text_ ? *text_ : no_text;
}

std::string config_node::scalar_text() const {
  if (is_bool())
    return flag_ ? "true" : "false";
  return text();
}

const std::vector<config_node>& config_node::items() const {
  return kind_ == kind_type::list && items_ ? *items_ : no_items;
}

const std::vector<config_entry>& config_node::entries() const {
  return kind_ == kind_type::map && entries_ ? *entries_ : no_entries;
}

std::size_t config_node::size() const {
  if (is_list())
    return items().size();
  if (is_map())
    return entries().size();
  return 0;
}

const config_entry* config_node::find_entry(std::string_view key) const {
  for (const auto& entry : entries())
    if (entry.key == key)
      return &entry;
  return nullptr;
}

const config_node* config_node::find(std::string_view key) const {
  auto entry = find_entry(key);
  return entry != nullptr ? &entry->value : nullptr;
}

config_node config_node::get(std::string_view key) const {
  auto found = find(key);
  return found != nullptr ? *found : config_node{};
}

// -- changes ------------------------------------------------------------------

void config_node::set(std::string key, config_node value,
                      config_mark key_mark) {
  if (!is_map()) {
    auto at = mark_;
    *this = map({}, at);
  }
  auto copy = entries();
  auto i = std::find_if(copy.begin(), copy.end(),
                        [&key](const config_entry& x) { return x.key == key; });
  if (i != copy.end()) {
    i->value = std::move(value);
  } else {
    copy.push_back({std::move(key), std::move(value), key_mark});
  }
  entries_ = std::make_shared<const std::vector<config_entry>>(
    std::move(copy));
}

bool config_node::erase(std::string_view key) {
  if (find(key) == nullptr)
    return false;
  auto copy = entries();
  copy.erase(std::remove_if(copy.begin(), copy.end(),
                            [key](const config_entry& x) {
                              return x.key == key;
                            }),
             copy.end());
  entries_ = std::make_shared<const std::vector<config_entry>>(
    std::move(copy));
  return true;
}

void config_node::push_back(config_node item) {
  if (!is_list()) {
    auto at = mark_;
    *this = list({}, at);
  }
  auto copy = items();
  copy.push_back(std::move(item));
  items_ = std::make_shared<const std::vector<config_node>>(std::move(copy));
}

// -- comparison ---------------------------------------------------------------

std::size_t config_node::hash() const {
  switch (kind_) {
    case kind_type::null:
      return 0x9e3779b9u;
    case kind_type::boolean:
      return flag_ ? 0x51ed27u : 0x2545f4u;
    case kind_type::string:
      return std::hash<std::string>{}(text());
    case kind_type::list: {
      std::size_t result = 0x6a09e667u;
      for (const auto& item : items())
        result = result * 1099511628211ull ^ item.hash();
      return result;
    }
    case kind_type::map: {
      // Order-insensitive, as equality is.
      std::size_t result = 0xbb67ae85u;
      for (const auto& entry : entries())
        result += std::hash<std::string>{}(entry.key) * 31
                  ^ entry.value.hash();
      return result;
    }
  }
  return 0;
}

bool operator==(const config_node& x, const config_node& y) {
  if (x.kind_ != y.kind_)
    return false;
  switch (x.kind_) {
    case config_node::kind_type::null:
      return true;
    case config_node::kind_type::boolean:
      return x.flag_ == y.flag_;
    case config_node::kind_type::string:
      return x.text_ == y.text_ || x.text() == y.text();
    case config_node::kind_type::list:
      return x.items_ == y.items_ || x.items() == y.items();
    case config_node::kind_type::map:
      return x.entries_ == y.entries_
             || same_entries(x.entries(), y.entries());
  }
  return false;
}

// -- helpers ------------------------------------------------------------------

std::string to_json(const config_node& x, std::size_t max_bytes) {
  std::string result;
  append_json(result, x, max_bytes);
  if (result.size() > max_bytes) {
    result.resize(max_bytes);
    result += "...";
  }
  return result;
}

std::vector<config_node> wrap(const config_node& x) {
  if (x.is_list())
    return x.items();
  if (x.is_null())
    return {};
  return {x};
}

config_node deep_merge(const config_node& lhs, const config_node& rhs) {
  if (lhs.is_map() && rhs.is_map()) {
    auto result = lhs;
    for (const auto& entry : rhs.entries()) {
      auto mine = lhs.find(entry.key);
      result.set(entry.key,
                 mine != nullptr ? deep_merge(*mine, entry.value)
                                 : entry.value,
                 entry.key_mark);
    }
    return result;
  }
  if (lhs.is_list() && rhs.is_list()) {
    std::vector<config_node> items;
    items.reserve(lhs.size() + rhs.size());
    for (const auto* side : {&lhs, &rhs})
      for (const auto& item : side->items())
        if (std::find(items.begin(), items.end(), item) == items.end())
          items.push_back(item);
    return config_node::list(std::move(items), lhs.mark());
  }
  return rhs;
}

} // namespace conveyor
