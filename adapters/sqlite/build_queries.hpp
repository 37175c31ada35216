#pragma once

#include <cstdint>
#include <string>

#include "adapters/sqlite/database.hpp"
#include "messages/store.hpp"

/// The SQL of the store's build listings, apart so that tests can check that
/// SQLite answers them from the indexes of migration 2. Private to the SQLite
/// adapter.
namespace conveyor::sqlite {

/// Returns `limit` clamped to 1..`max`.
int32_t clamp_limit(int32_t limit, int32_t max);

/// Returns the SQL listing the builds of `q`, newest first, in the form of
/// `select_builds_sql`. Its parameters, in order: the state if `q.state` is
/// not empty, the repository if `q.repo` is not empty, `q.before_id` if it is
/// above 0, and the limit.
std::string list_builds_sql(const build_query& q);

/// Prepares `list_builds_sql(q)` with its parameters bound, the limit clamped
/// to 1..`max_limit`.
statement prepare_list_builds(database& db, const build_query& q,
                              int32_t max_limit);

/// Returns the SQL selecting every build that is not finished or has a job
/// that is not finished, oldest first, in the form of `select_builds_sql`.
std::string unfinished_builds_sql();

} // namespace conveyor::sqlite
