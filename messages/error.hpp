#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace conveyor {

/// Expected domain failures, carried as `caf::error` with category "conveyor".
/// The error's context holds the human-readable detail.
enum class errc : uint8_t {
  invalid_config = 1, ///< the build config is not valid YAML or not a valid config
  no_config,          ///< the commit has neither .conveyor.yml nor .travis.yml
  unknown_repository, ///< the repository cannot be opened
  unknown_ref,        ///< the ref or commit does not exist in the repository
  unknown_build,      ///< no build with that id
  unknown_job,        ///< no job with that id
  store_failure,      ///< the store could not complete the operation
  no_worker,          ///< a worker slot is busy or gone
  conflict,           ///< the request does not fit the current state
  unavailable,        ///< the node is starting, recovering or stopping
  unknown_child,      ///< no supervised child with that path
};

/// Returns the enumerator's name, e.g. "invalid_config".
std::string to_string(errc x);

/// The error category atom of `errc`.
constexpr caf::atom_value errc_category = caf::atom("conveyor");

/// Makes an error of category "conveyor" carrying `detail` for the user.
inline caf::error make_error(errc code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), errc_category,
                    caf::make_message(std::move(detail))};
}

/// Returns the detail text an error carries, or else its rendering by CAF.
std::string describe(const caf::error& err);

/// Returns the message of an exception (what a bug threw), for logs and
/// exit reasons; "unknown exception" if it is not a std::exception.
std::string describe(const std::exception_ptr& eptr);

/// The exit reason of an actor ended by an exception: `sec::runtime_error`
/// carrying its message, which CAF's default handler drops.
caf::error exit_reason_of(const std::exception_ptr& eptr);

} // namespace conveyor
