#pragma once

// Reading YAML text into config nodes the way Travis CI's loader does:
// `true` / `false` are booleans, `~` / `null` / nothing is null, and every
// other scalar is a string exactly as written (`3.10` stays "3.10", `yes`
// stays "yes", dates stay text). Keys are strings. Merge keys (`<<`) work;
// a repeated key warns and the last value wins.
//
// Hostile input is cut off with an error in bounded time and memory: the
// text, the nesting depth and the size of the config once YAML aliases are
// expanded are all limited (aliases are shared, never copied, so "billion
// laughs" costs nothing until the limit stops it).

#include <cstddef>
#include <string_view>
#include <vector>

#include "actors/gatekeeper/config_node.hpp"
#include "messages/build.hpp"

namespace conveyor {

// -- limits -------------------------------------------------------------------

/// The largest config text read, in bytes; a larger one is an error
/// `too_large` without being parsed.
constexpr std::size_t max_config_text_bytes = 2 * 1024 * 1024;

/// The deepest nesting of lists and maps; deeper is an error `too_deep`.
constexpr std::size_t max_config_depth = 64;

/// The most values a config may hold once its aliases are expanded; more is
/// an error `too_large`.
constexpr std::size_t max_config_nodes = 200'000;

/// The most bytes of keys and scalars a config may hold once its aliases are
/// expanded; more is an error `too_large`.
constexpr std::size_t max_config_expanded_bytes = 16 * 1024 * 1024;

// -- loading ------------------------------------------------------------------

/// A config read from YAML and what was found on the way.
struct yaml_load_result {
  /// The first document; null if the text is empty or could not be read.
  config_node root;
  /// Errors (`syntax_error`, `too_large`, `too_deep`, `invalid_type` for a
  /// key that is not a scalar, `recursive_alias`), warnings
  /// (`duplicate_key`, `multiple_documents`).
  std::vector<config_message> messages;
};

/// Reads the first YAML document of `text`. Never throws.
yaml_load_result load_config_yaml(std::string_view text);

} // namespace conveyor
