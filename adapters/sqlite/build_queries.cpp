#include "adapters/sqlite/build_queries.hpp"

#include <algorithm>

#include "adapters/sqlite/rows.hpp"

namespace conveyor::sqlite {

int32_t clamp_limit(int32_t limit, int32_t max) {
  return std::clamp(limit, int32_t{1}, max);
}

std::string list_builds_sql(const build_query& q) {
  // Only the filters in use appear: a "(? = '' OR b.state = ?)" form would
  // keep SQLite from using the indexes.
  std::string where;
  auto add = [&where](const char* term) {
    where += where.empty() ? "WHERE " : " AND ";
    where += term;
  };
  if (!q.state.empty())
    add("b.state = ?");
  if (!q.repo.empty())
    add("b.repository = ?");
  if (q.before_id > 0)
    add("b.id < ?");
  return select_builds_sql(where + " ORDER BY b.id DESC LIMIT ?");
}

statement prepare_list_builds(database& db, const build_query& q,
                              int32_t max_limit) {
  auto result = db.prepare(list_builds_sql(q).c_str());
  int index = 0;
  if (!q.state.empty())
    result.bind(++index, q.state);
  if (!q.repo.empty())
    result.bind(++index, q.repo);
  if (q.before_id > 0)
    result.bind(++index, q.before_id);
  result.bind(++index, int64_t{clamp_limit(q.limit, max_limit)});
  return result;
}

std::string unfinished_builds_sql() {
  // The job term repeats the WHERE of the partial index jobs_unfinished
  // (migration 2) word for word, so that SQLite uses it.
  return select_builds_sql(
    "WHERE b.id IN (SELECT id FROM builds WHERE state IN ('created', 'started') "
    "UNION SELECT build_id FROM jobs "
    "WHERE state NOT IN ('passed', 'failed', 'errored', 'canceled')) "
    "ORDER BY b.id");
}

} // namespace conveyor::sqlite
