#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "messages/store.hpp"

namespace conveyor {

/// Opens and migrates the SQLite database at `path` on the calling thread, so
/// that a bad path or a too-new schema is reported at once, then spawns a
/// detached `store_actor` that owns the connection and answers every request of
/// the interface in messages/store.hpp. Fails with `errc::store_failure`.
/// The actor stops on an exit message or once its last handle is gone.
caf::expected<store_actor> spawn_sqlite_store(caf::actor_system& sys,
                                              const std::string& path);

} // namespace conveyor
