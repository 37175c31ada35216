#include "adapters/postgres/migrations.hpp"

#include <iterator>
#include <string>

#include <pqxx/connection>
#include <pqxx/transaction>
#include <spdlog/spdlog.h>

#include "adapters/postgres/failure.hpp"
#include "adapters/postgres/session.hpp"
#include "adapters/postgres/store_logger.hpp"

namespace conveyor::postgres {

namespace {

struct migration {
  int32_t version;
  const char* name;
  const char* sql;
};

// Append only: a released migration never changes, or databases that already
// applied it would differ from new ones.
//
// Strings that may hold any bytes (messages, reasons, the job spec, the
// request) are jsonb made by json_codec: PostgreSQL text holds neither NUL
// nor invalid UTF-8. Keys and states are text. Times are ms since the epoch,
// 0 for none, exactly as the records carry them.
const migration migrations[] = {
  {1, "initial schema", R"sql(
CREATE TABLE requests (
  request_id   text PRIMARY KEY,
  delivery_id  text UNIQUE, -- X-GitHub-Delivery; NULL if none
  repository   text NOT NULL,
  pull_request integer NOT NULL,
  fork         boolean NOT NULL,
  fields       jsonb NOT NULL, -- every field of the build_request
  created_at   bigint NOT NULL
);

-- The last build number given out per repository: numbering takes this
-- row's lock, so stores on several nodes never hand out one number twice.
CREATE TABLE repository_counters (
  repository  text PRIMARY KEY,
  last_number bigint NOT NULL
);

-- repository is the slug, or the repo path when the slug is empty: build
-- numbers count per repository.
CREATE TABLE builds (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  repository  text NOT NULL,
  number      bigint NOT NULL,
  request_id  text NOT NULL UNIQUE REFERENCES requests (request_id),
  state       text NOT NULL CHECK (state IN ('created', 'started', 'passed',
                                             'failed', 'errored', 'canceled')),
  fast_finish boolean NOT NULL,
  config      jsonb NOT NULL,
  messages    jsonb NOT NULL,
  created_at  bigint NOT NULL,
  started_at  bigint NOT NULL DEFAULT 0,
  finished_at bigint NOT NULL DEFAULT 0,
  UNIQUE (repository, number)
);

CREATE TABLE jobs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  build_id      bigint NOT NULL REFERENCES builds (id),
  idx           integer NOT NULL,
  spec          jsonb NOT NULL,
  allow_failure boolean NOT NULL,
  state         text NOT NULL CHECK (state IN ('created', 'queued', 'received',
                                               'started', 'passed', 'failed',
                                               'errored', 'canceled')),
  attempt       integer NOT NULL,
  exit_code     integer NOT NULL,
  reason        jsonb NOT NULL,
  created_at    bigint NOT NULL,
  started_at    bigint NOT NULL DEFAULT 0,
  finished_at   bigint NOT NULL DEFAULT 0,
  UNIQUE (build_id, idx)
);

CREATE TABLE job_transitions (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id    bigint NOT NULL REFERENCES jobs (id),
  attempt   integer NOT NULL,
  state     text NOT NULL,
  at        bigint NOT NULL,
  exit_code integer NOT NULL,
  reason    jsonb NOT NULL
);

CREATE INDEX job_transitions_by_job ON job_transitions (job_id, id);

-- Log tables carry no foreign key to jobs: logs are keyed by data and
-- ingested by sequencers independently of how jobs are stored.
CREATE TABLE log_parts (
  job_id  bigint NOT NULL,
  attempt integer NOT NULL,
  number  integer NOT NULL,
  content bytea NOT NULL,
  final   boolean NOT NULL,
  PRIMARY KEY (job_id, attempt, number)
);

CREATE TABLE logs (
  job_id  bigint NOT NULL,
  attempt integer NOT NULL,
  content bytea NOT NULL,
  parts   integer NOT NULL,
  bytes   bigint NOT NULL,
  PRIMARY KEY (job_id, attempt)
);
)sql"},
  {2, "indexes for listings and recovery", R"sql(
-- Listings run newest first by state or by repository; the (x, id) indexes
-- serve both the filter and the order, and before_id paging.
CREATE INDEX builds_by_state ON builds (state, id);
CREATE INDEX builds_by_repository ON builds (repository, id);

-- Only unfinished jobs are indexed, so the index stays as small as the work
-- a restarted scheduler recovers.
CREATE INDEX jobs_unfinished ON jobs (build_id)
  WHERE state NOT IN ('passed', 'failed', 'errored', 'canceled');
)sql"},
  {3, "webhook deliveries", R"sql(
-- Every webhook delivery and what became of it, built or not. seq orders
-- deliveries received in the same ms.
CREATE TABLE webhook_deliveries (
  delivery_id text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  event       jsonb NOT NULL,
  action      jsonb NOT NULL,
  outcome     jsonb NOT NULL,
  reason      jsonb NOT NULL,
  build_id    bigint NOT NULL,
  received_at bigint NOT NULL
);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at, seq);
)sql"},
  {4, "commit status outbox", R"sql(
-- The commit status last reported for a build ('': none yet).
ALTER TABLE builds ADD COLUMN reported_status text NOT NULL DEFAULT '';
)sql"},
  {5, "lz4 for completed logs", R"sql(
-- Logs are compressed once, when completed: lz4 does it several times faster
-- than the default pglz (PostgreSQL 14 and later, built with lz4). Values
-- stored before keep pglz; a server without lz4 keeps pglz for all.
DO $$
BEGIN
  IF current_setting('server_version_num')::integer >= 140000 THEN
    EXECUTE 'ALTER TABLE logs ALTER COLUMN content SET COMPRESSION lz4';
  END IF;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
)sql"},
};

constexpr const char* create_migrations_sql
  = "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at bigint NOT NULL)";

int32_t read_version(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0]
    .as<int32_t>();
}

void lock(pqxx::transaction_base& tx) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
}

} // namespace

int32_t latest_schema_version() {
  return std::end(migrations)[-1].version;
}

int32_t schema_version(pqxx::connection_base& conn) {
  pqxx::work tx{conn};
  auto exists = tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>())
    return 0;
  return read_version(tx);
}

std::vector<int32_t> migrate(pqxx::connection_base& conn) {
  return migrate(conn, latest_schema_version());
}

std::vector<int32_t> migrate(pqxx::connection_base& conn, int32_t target) {
  {
    // Two stores creating the table at once would clash in the catalog even
    // with IF NOT EXISTS: under the lock, one waits for the other.
    pqxx::work tx{conn};
    lock(tx);
    tx.exec(create_migrations_sql);
    auto current = read_version(tx);
    tx.commit();
    if (current > latest_schema_version())
      throw failure("the database has schema version "
                    + std::to_string(current) + ", newer than version "
                    + std::to_string(latest_schema_version())
                    + " that this conveyor knows; upgrade conveyor");
  }
  std::vector<int32_t> applied;
  for (const auto& m : migrations) {
    if (m.version > target)
      break;
    pqxx::work tx{conn};
    lock(tx);
    // Another store may have migrated while we waited for the lock.
    if (read_version(tx) >= m.version)
      continue;
    try {
      tx.exec(m.sql);
    } catch (const pqxx::sql_error& e) {
      throw failure("migration " + std::to_string(m.version) + " (" + m.name
                    + "): " + e.what());
    }
    tx.exec_params("INSERT INTO schema_migrations (version, name, applied_at) "
                   "VALUES ($1, $2, $3)",
                   m.version, m.name, now_ms());
    tx.commit();
    store_logger()->info("schema migration applied version={} name=\"{}\"",
                         m.version, m.name);
    applied.push_back(m.version);
  }
  return applied;
}

} // namespace conveyor::postgres
