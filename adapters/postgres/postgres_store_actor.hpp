#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "messages/store.hpp"

namespace conveyor {

/// Connects to the PostgreSQL database at `url` (a libpq URI such as
/// `postgresql://user:password@host:5432/conveyor`, or a key/value string)
/// and applies the schema migrations it lacks on the calling thread, so that
/// an unreachable server, a refused login or a too-new schema is reported at
/// once; then spawns a detached `store_actor` that owns the connection and
/// answers every request of the interface in messages/store.hpp, with the
/// semantics of the SQLite store. Fails with `errc::store_failure`; neither
/// errors nor log lines hold the password.
/// Writes are committed in groups: the writes waiting in the mailbox together
/// (up to 1000) share one transaction and are answered after the COMMIT, each
/// with its own result (all with the error if the COMMIT fails); a failing
/// write undoes only its own changes (see `postgres_store::write_batch`);
/// completions of logs waiting next to each other are completed with one
/// statement (`postgres_store::complete_logs`), each answered as alone. A
/// read first commits the writes received before it. The actor does not
/// reconnect: once its
/// connection is lost it answers the requests it holds with
/// `errc::store_failure` and stops with that error, for its supervisor to
/// restart it. It stops on an exit message or once its last handle is gone;
/// writes it holds then are still committed and answered.
caf::expected<store_actor> spawn_postgres_store(caf::actor_system& sys,
                                                const std::string& url);

} // namespace conveyor
