#include "adapters/sqlite/sqlite_store.hpp"

#include <string>
#include <vector>

#include "adapters/sqlite/boundary.hpp"
#include "adapters/sqlite/build_queries.hpp"
#include "adapters/sqlite/rows.hpp"

// The listing half of sqlite_store: many builds, single jobs, recovery.

namespace conveyor {

namespace {

using sqlite::counted;
using sqlite::transaction;
using sqlite::transaction_kind;

std::string query_context(const build_query& q) {
  return "state=\"" + q.state + "\" repo=\"" + q.repo
         + "\" limit=" + std::to_string(q.limit)
         + " before_id=" + std::to_string(q.before_id);
}

} // namespace

// -- builds and jobs ----------------------------------------------------------

caf::expected<std::vector<build_record>>
sqlite_store::fetch_builds(const build_query& q) {
  using result_type = std::vector<build_record>;
  return counted<result_type>(metrics_, transaction_kind::query,
                              "fetch_builds", query_context(q), [this, &q] {
    transaction tx{db_, transaction::kind::read};
    auto builds = sqlite::prepare_list_builds(db_, q, max_query_limit);
    return sqlite::read_builds(db_, builds);
  });
}

caf::expected<job_record> sqlite_store::fetch_job(int64_t job_id) {
  auto context = "job_id=" + std::to_string(job_id);
  return counted<job_record>(metrics_, transaction_kind::query, "fetch_job",
                             context,
                             [this, job_id]() -> caf::expected<job_record> {
    auto job = db_.prepare(sqlite::select_jobs_sql("WHERE j.id = ?").c_str());
    job.bind(1, job_id);
    if (!job.step())
      return make_error(errc::unknown_job,
                        "no job with id " + std::to_string(job_id));
    return sqlite::job_from_row(job);
  });
}

caf::expected<std::vector<build_record>> sqlite_store::fetch_unfinished() {
  using result_type = std::vector<build_record>;
  return counted<result_type>(metrics_, transaction_kind::query,
                              "fetch_unfinished", "", [this] {
    transaction tx{db_, transaction::kind::read};
    auto builds = db_.prepare(sqlite::unfinished_builds_sql().c_str());
    return sqlite::read_builds(db_, builds);
  });
}

} // namespace conveyor
