#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace conveyor {

/// Command-line arguments split into flags and positional words. Flags are
/// `--name value`, `--name=value`, or bare `--name` when declared a switch.
struct parsed_args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;

  /// Returns the flag's value, if given.
  std::optional<std::string> get(const std::string& name) const;

  /// True if the flag was given.
  bool has(const std::string& name) const {
    return flags.count(name) > 0;
  }
};

/// Splits `args`; `valued` lists flags that take a value, `switches` those
/// that do not. Anything else starting with `--` is an error naming it.
caf::expected<parsed_args> parse_args(const std::vector<std::string>& args,
                                      const std::vector<std::string>& valued,
                                      const std::vector<std::string>& switches);

/// Parses a duration such as "50m", "10s", "1m30s", "500ms", "1h" or a plain
/// number of seconds; answers milliseconds.
caf::expected<int64_t> parse_duration_ms(const std::string& text);

/// Parses a size such as "4MiB", "64KiB", "1GiB", "512KB", "100B" or a plain
/// number of bytes; answers bytes.
caf::expected<int64_t> parse_size(const std::string& text);

/// Parses a positive count such as "4".
caf::expected<int64_t> parse_count(const std::string& text);

} // namespace conveyor
