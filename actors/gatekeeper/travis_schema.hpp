#pragma once

// What Travis CI's build config schema (travis-yml's schema.json) says about
// the keys that shape the job matrix: which keys expand it and in what order,
// which languages, operating systems and architectures support a key or a
// value, the aliases of keys and values, and the defaults. Pure data.

#include <string>
#include <string_view>
#include <vector>

#include "actors/gatekeeper/config_node.hpp"

namespace conveyor {

// -- keys ---------------------------------------------------------------------

/// The keys that expand the build matrix, in the schema's order: `os`,
/// `arch`, `compiler`, `osx_image`, `jdk`, ... `smalltalk_vm`, then `env`.
const std::vector<std::string>& travis_expand_keys();

/// The position of `key` in `travis_expand_keys()`, or -1.
int expand_key_index(std::string_view key);

/// True for the language-specific keys of the schema (`rvm`, `python`,
/// `bundler_args`, ...), whether they expand the matrix or not.
bool is_language_key(std::string_view key);

/// The key an alias stands for (`matrix` → `jobs`, `ruby` → `rvm`, `node` →
/// `node_js`, `gemfiles` → `gemfile`, ...), or empty if `key` is no alias.
/// `root` selects the aliases of root keys; otherwise those of job keys.
std::string_view key_alias(std::string_view key, bool root);

// -- values -------------------------------------------------------------------

/// The known languages (`ruby`, `python`, `cpp`, ...).
const std::vector<std::string>& travis_languages();

/// The canonical spelling of a value of `key` (one of `language`, `os`,
/// `arch`, `dist`): lower case, aliases resolved (`c++` → `cpp`, `mac` →
/// `osx`, `x86_64` → `amd64`). Other keys' values are returned as they are.
std::string canonical_value(std::string_view key, std::string_view value);

/// True if `value` is a known value of `key` (`language`, `os`, `arch` or
/// `dist`); true for any value of other keys.
bool known_value(std::string_view key, std::string_view value);

// -- support ------------------------------------------------------------------

/// True if `key` is supported on `job` (its `language`, `os` and `arch`,
/// each a string or a list of strings). As in travis-yml, a job that does
/// not say its language supports every language's keys.
bool supports_key(const config_node& job, std::string_view key);

/// True if `key` with `value` is supported on `job`: the key is, and the
/// value is (e.g. `dist: focal` only on `os: linux` or `linux-ppc64le`). A
/// null or false value is always supported.
bool supports(const config_node& job, std::string_view key,
              const config_node& value);

/// The first value of `job`'s `language`, `os` or `arch` that does not
/// support `key` (with `value`, if not null), for messages; empty if none.
std::string unsupported_on(const config_node& job, std::string_view key,
                           const config_node& value);

// -- defaults -----------------------------------------------------------------

/// Adds Travis's defaults to a normalized root config that lacks them:
/// `language: ruby` (`objective-c` on `os: osx`), `os: [linux]` (`[osx]`
/// for objective-c) and `dist: focal` where os includes linux or
/// linux-ppc64le. Returns the keys added, in order.
std::vector<std::string> add_travis_defaults(config_node& config);

} // namespace conveyor
