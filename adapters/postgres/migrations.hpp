#pragma once

#include <cstdint>
#include <vector>

namespace pqxx {
class connection_base;
} // namespace pqxx

/// The versioned schema of the PostgreSQL store. Private to the adapter.
namespace conveyor::postgres {

/// The key of the advisory lock that every migration transaction takes:
/// stores starting at once on one database migrate one after the other.
constexpr int64_t migration_lock_key = 0x636f6e7665796f72; // "conveyor"

/// Returns the schema version this code creates and understands.
int32_t latest_schema_version();

/// Returns the highest migration recorded in the database, 0 if none.
int32_t schema_version(pqxx::connection_base& conn);

/// Brings the database up to `latest_schema_version()`, each missing
/// migration in its own transaction that first takes the advisory lock
/// `migration_lock_key` and then checks again what is applied; returns the
/// versions it applied (none if up to date). Throws `failure` if the database
/// is newer than this code, libpqxx's exceptions if a migration fails.
std::vector<int32_t> migrate(pqxx::connection_base& conn);

/// Like `migrate(conn)`, but stops at version `target`.
std::vector<int32_t> migrate(pqxx::connection_base& conn, int32_t target);

} // namespace conveyor::postgres
