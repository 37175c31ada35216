#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "messages/job.hpp"

namespace conveyor {

// -- parsing ------------------------------------------------------------------

/// The outcome of reading an env string: the variables in order, or the reason
/// the string is not a list of `NAME=value` words (then `vars` is empty).
struct env_string_result {
  std::vector<env_var> vars;
  std::string error; ///< empty on success
};

/// Reads a Travis env string such as `FOO=a BAR="b c" BAZ='x y'` with
/// shell-like quoting: words split on unquoted blanks, `'...'` is literal,
/// `"..."` and bare words honour backslash escapes. Values are taken
/// literally: `$HOME` stays `$HOME` (no expansion happens here). Never throws.
env_string_result parse_env_string(std::string_view text);

/// True if `name` is a valid variable name: `[A-Za-z_][A-Za-z0-9_]*`.
bool is_env_name(std::string_view name);

// -- rendering ----------------------------------------------------------------

/// Renders variables as one env string, quoting values where the shell needs
/// it, e.g. `FOO=a BAR='b c'`. `parse_env_string` reads the result back.
std::string render_env(const std::vector<env_var>& vars);

} // namespace conveyor
