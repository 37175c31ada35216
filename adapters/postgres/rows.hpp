#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/result>
#include <pqxx/row>
#include <pqxx/transaction_base>

#include "adapters/postgres/session.hpp"
#include "messages/build.hpp"
#include "messages/job.hpp"

/// How rows of builds and jobs become records, shared by the parts of the
/// store that read them. Private to the PostgreSQL adapter; failures throw.
namespace conveyor::postgres {

/// "SELECT <the columns build_from_row reads> FROM builds b JOIN requests r
/// ON ... ": append WHERE, ORDER BY and LIMIT.
#define CONVEYOR_PG_SELECT_BUILDS                                              \
  "SELECT b.id, b.number, b.state, b.fast_finish, b.config, b.messages, "      \
  "b.created_at, b.started_at, b.finished_at, r.fields "                       \
  "FROM builds b JOIN requests r ON r.request_id = b.request_id "

/// "SELECT <the columns job_from_row reads> FROM jobs j JOIN builds b ON
/// ... ": append WHERE and ORDER BY.
#define CONVEYOR_PG_SELECT_JOBS                                                \
  "SELECT j.id, j.idx, j.spec, j.allow_failure, j.state, j.attempt, "          \
  "j.exit_code, j.reason, j.created_at, j.started_at, j.finished_at, "         \
  "j.build_id, b.number FROM jobs j JOIN builds b ON b.id = j.build_id "

/// Parses a state name read from the database; throws `failure` if unknown.
build_state parse_build_state(const std::string& name);

/// Parses a state name read from the database; throws `failure` if unknown.
job_state parse_job_state(const std::string& name);

/// Reads a row of a CONVEYOR_PG_SELECT_BUILDS query (or one whose first
/// columns are the same); its jobs are left empty.
build_record build_from_row(const pqxx::row& row);

/// Reads a row of a CONVEYOR_PG_SELECT_JOBS query, or a slice of a row with
/// the same columns.
job_record job_from_row(const pqxx::row& row);

/// Answers the builds of `rows` (a CONVEYOR_PG_SELECT_BUILDS result) in row
/// order, each with its jobs in index order, read with one more query.
std::vector<build_record> read_builds(session& s, pqxx::transaction_base& tx,
                                      const pqxx::result& rows);

/// Answers the build `build_id` with its jobs, nullopt if there is none.
/// Sends one statement: outside a transaction it still sees one snapshot.
std::optional<build_record> find_build(session& s, pqxx::transaction_base& tx,
                                       int64_t build_id);

/// Answers the build `build_id` with its jobs; throws `failure` if none.
build_record read_build(session& s, pqxx::transaction_base& tx,
                        int64_t build_id);

/// Appends `x` to its job's history.
void insert_transition(session& s, pqxx::transaction_base& tx,
                       const job_state_changed& x);

} // namespace conveyor::postgres
