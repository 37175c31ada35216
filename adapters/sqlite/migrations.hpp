#pragma once

#include <cstdint>
#include <vector>

namespace conveyor::sqlite {

class database;

/// Returns the schema version this code creates and understands.
int32_t latest_schema_version();

/// Returns the highest migration recorded in `db`, 0 for a new database.
int32_t schema_version(database& db);

/// Brings `db` up to `latest_schema_version()`, each missing migration in its
/// own transaction, and returns the versions it applied (none if up to date).
/// Throws `failure` if a migration fails or `db` is newer than this code.
std::vector<int32_t> migrate(database& db);

/// Like `migrate(db)`, but stops at version `target`: how tests make a
/// database of an older schema.
std::vector<int32_t> migrate(database& db, int32_t target);

} // namespace conveyor::sqlite
