#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/sqlite/database.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"

/// How rows of builds and jobs become records, shared by the parts of the
/// store that read them. Private to the SQLite adapter; failures throw
/// `failure`.
namespace conveyor::sqlite {

/// Returns ms since the epoch.
int64_t now_ms();

/// Returns `at_ms`, or now if it is 0.
int64_t or_now(int64_t at_ms);

/// Parses a state name read from the database; throws `failure` if unknown.
build_state parse_build_state(const std::string& name);

/// Parses a state name read from the database; throws `failure` if unknown.
job_state parse_job_state(const std::string& name);

/// Returns "SELECT <the columns build_from_row reads> FROM builds b JOIN
/// requests r ON ... " followed by `tail` (WHERE, ORDER BY, LIMIT).
std::string select_builds_sql(const std::string& tail);

/// Returns "SELECT <the columns job_from_row reads> FROM jobs j JOIN builds b
/// ON ... " followed by `tail`.
std::string select_jobs_sql(const std::string& tail);

/// Reads the current row of a statement made with `select_builds_sql`;
/// the build's jobs are left empty.
build_record build_from_row(const statement& row);

/// Reads the current row of a statement made with `select_jobs_sql`.
job_record job_from_row(const statement& row);

/// Steps through `builds` (made with `select_builds_sql`) and answers its
/// builds in row order, each with its jobs in index order, reading the jobs
/// of all of them with one more query.
std::vector<build_record> read_builds(database& db, statement& builds);

/// Appends `x` to its job's history.
void insert_transition(database& db, const job_state_changed& x);

} // namespace conveyor::sqlite
