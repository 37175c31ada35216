#pragma once

// Travis CI's build config language, read the way travis-yml normalizes it
// before expanding the matrix (`Travis::Yml.apply(...).serialize`):
//
// - `matrix:` is `jobs:`, `env.matrix` is `env.jobs`, a plain `env` (string,
//   list or map of variables) is `env.jobs`, and a list under `jobs` is
//   `jobs.include`;
// - env strings such as `FOO=a BAR="b c"` become maps of variables, in order;
//   `env.global` and `env.jobs` are lists of such maps;
// - matrix keys given as one value (`rvm: 2.2`, `os: linux`) become lists;
//   in `jobs.include`, `exclude` and `allow_failures` they are single values;
// - boolean `if:` conditions become strings (`if: false` → "false");
// - `language`, `os`, `arch` and `dist` are lower-cased and their aliases
//   resolved (`mac` → `osx`), as are key aliases (`ruby:` → `rvm:`);
// - empty values are dropped.
//
// Every key is either understood, kept with a warning that conveyor does not
// act on it, or reported as unknown; nothing is dropped without a message.
// Messages carry the line and column of what they are about.

#include <cstddef>
#include <string_view>
#include <vector>

#include "actors/gatekeeper/config_node.hpp"
#include "messages/build.hpp"

namespace conveyor {

// -- options ------------------------------------------------------------------

/// How a config is read and expanded.
struct travis_options {
  /// Adds Travis's defaults for missing keys: `language: ruby` (objective-c
  /// on osx), `os: linux` (osx for objective-c) and `dist: focal` on linux.
  /// Travis's production gatekeeper does; its specs mostly do not.
  bool defaults = false;

  /// The most jobs one build may have; a config that expands to more gets an
  /// error `too_many_jobs`.
  std::size_t max_jobs = 200;
};

// -- normalizing --------------------------------------------------------------

/// A normalized config and the findings about it.
struct travis_config {
  /// The normalized config: a map, or null if the text could not be read
  /// as a config at all (then `messages` holds an error).
  config_node config;

  /// Findings, each with a level: "error" (the config is wrong: conveyor
  /// does not build it), "alert" (a secret seems to be given in clear text),
  /// "warn" (a key is unknown or not acted on) or "info". Codes include
  /// `syntax_error`, `too_large`, `too_deep`, `empty_config`,
  /// `unknown_key`, `unsupported_key`, `unknown_value`, `unsupported_value`,
  /// `invalid_type`, `invalid_env_var`, `invalid_condition`,
  /// `duplicate_key`, `alias_key`, `unexpected_seq`, `default`, `empty`.
  std::vector<config_message> messages;
};

/// Normalizes a config read by `load_config_yaml`. Never throws.
travis_config normalize_travis_config(const config_node& raw,
                                      const travis_options& opts = {});

/// Reads (see config_yaml.hpp) and normalizes the YAML text of a config.
/// Never throws.
travis_config load_travis_config(std::string_view yaml,
                                 const travis_options& opts = {});

/// True if `messages` holds one of level "error".
bool has_error_messages(const std::vector<config_message>& messages);

} // namespace conveyor
