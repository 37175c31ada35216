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
/// Writes are committed in groups: the writes waiting in the mailbox together
/// (up to 1000) share one transaction, each in its own savepoint, and are
/// answered after the COMMIT, each with its own result (all with the error if
/// the COMMIT fails). A read first commits the writes received before it.
/// The actor stops on an exit message or once its last handle is gone; writes
/// it holds then are still committed and answered.
caf::expected<store_actor> spawn_sqlite_store(caf::actor_system& sys,
                                              const std::string& path);

} // namespace conveyor
