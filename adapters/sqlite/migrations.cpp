#include "adapters/sqlite/migrations.hpp"

#include <chrono>
#include <string>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/database.hpp"
#include "adapters/sqlite/store_logger.hpp"

namespace conveyor::sqlite {

namespace {

struct migration {
  int32_t version;
  const char* name;
  const char* sql;
};

// Append only: a released migration never changes, or databases that already
// applied it would differ from new ones.
const migration migrations[] = {
  {1, "initial schema", R"sql(
CREATE TABLE requests (
  request_id TEXT PRIMARY KEY NOT NULL,
  source     TEXT NOT NULL,
  event      TEXT NOT NULL,
  repo       TEXT NOT NULL,
  slug       TEXT NOT NULL,
  ref        TEXT NOT NULL,
  sha        TEXT NOT NULL,
  branch     TEXT NOT NULL,
  tag        TEXT NOT NULL,
  message    TEXT NOT NULL,
  sender     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- repository is the slug, or the repo path when the slug is empty: build
-- numbers count per repository.
CREATE TABLE builds (
  id          INTEGER PRIMARY KEY,
  repository  TEXT NOT NULL,
  number      INTEGER NOT NULL,
  request_id  TEXT NOT NULL UNIQUE REFERENCES requests (request_id),
  state       TEXT NOT NULL,
  fast_finish INTEGER NOT NULL,
  config      TEXT NOT NULL,
  messages    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (repository, number)
);

CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY,
  build_id      INTEGER NOT NULL REFERENCES builds (id),
  idx           INTEGER NOT NULL,
  spec          TEXT NOT NULL,
  allow_failure INTEGER NOT NULL,
  state         TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  exit_code     INTEGER NOT NULL,
  reason        TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  started_at    INTEGER NOT NULL DEFAULT 0,
  finished_at   INTEGER NOT NULL DEFAULT 0,
  UNIQUE (build_id, idx)
);

CREATE TABLE job_transitions (
  id        INTEGER PRIMARY KEY,
  job_id    INTEGER NOT NULL REFERENCES jobs (id),
  attempt   INTEGER NOT NULL,
  state     TEXT NOT NULL,
  at        INTEGER NOT NULL,
  exit_code INTEGER NOT NULL,
  reason    TEXT NOT NULL
);

CREATE INDEX job_transitions_by_job ON job_transitions (job_id, id);

-- Log tables carry no foreign key to jobs: logs are keyed by data and
-- ingested by sequencers independently of how jobs are stored.
CREATE TABLE log_parts (
  job_id  INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  number  INTEGER NOT NULL,
  content BLOB NOT NULL,
  final   INTEGER NOT NULL,
  PRIMARY KEY (job_id, attempt, number)
) WITHOUT ROWID;

CREATE TABLE logs (
  job_id  INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  content BLOB NOT NULL,
  parts   INTEGER NOT NULL,
  bytes   INTEGER NOT NULL,
  PRIMARY KEY (job_id, attempt)
);
)sql"},
  {2, "indexes for listings and recovery", R"sql(
-- Listings run newest first by state or by repository; the (x, id) indexes
-- serve both the filter and the order, and before_id paging.
CREATE INDEX builds_by_state ON builds (state, id);
CREATE INDEX builds_by_repository ON builds (repository, id);

-- Only unfinished jobs are indexed, so the index stays as small as the work
-- a restarted scheduler recovers. Queries must repeat this WHERE term word
-- for word, or SQLite will not use the index.
CREATE INDEX jobs_unfinished ON jobs (build_id)
  WHERE state NOT IN ('passed', 'failed', 'errored', 'canceled');
)sql"},
  {3, "pull requests and webhook deliveries", R"sql(
ALTER TABLE requests ADD COLUMN pull_request INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN head_repo TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN head_branch TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN fork INTEGER NOT NULL DEFAULT 0;
-- NULL unless the request came from a webhook: a redelivery finds its build.
ALTER TABLE requests ADD COLUMN delivery_id TEXT;
CREATE UNIQUE INDEX requests_by_delivery ON requests (delivery_id)
  WHERE delivery_id IS NOT NULL;

-- Every webhook delivery and what became of it, built or not.
CREATE TABLE webhook_deliveries (
  delivery_id TEXT PRIMARY KEY NOT NULL,
  event       TEXT NOT NULL,
  action      TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  reason      TEXT NOT NULL,
  build_id    INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
)sql"},
  {4, "commit status outbox", R"sql(
-- The commit status last reported for a build ('' : none yet).
ALTER TABLE builds ADD COLUMN reported_status TEXT NOT NULL DEFAULT '';
)sql"},
};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

bool is_applied(database& db, int32_t version) {
  auto stmt = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
  stmt.bind(1, int64_t{version});
  return stmt.step();
}

} // namespace

int32_t latest_schema_version() {
  return std::end(migrations)[-1].version;
}

int32_t schema_version(database& db) {
  auto stmt = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  stmt.step();
  return static_cast<int32_t>(stmt.int64(0));
}

std::vector<int32_t> migrate(database& db) {
  return migrate(db, latest_schema_version());
}

std::vector<int32_t> migrate(database& db, int32_t target) {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version INTEGER PRIMARY KEY NOT NULL, "
          "applied_at INTEGER NOT NULL)");
  auto current = schema_version(db);
  if (current > latest_schema_version())
    throw failure("database " + db.path() + " has schema version "
                  + std::to_string(current) + ", newer than version "
                  + std::to_string(latest_schema_version())
                  + " that this conveyor knows; upgrade conveyor");
  std::vector<int32_t> applied;
  for (const auto& m : migrations) {
    if (m.version <= current || m.version > target)
      continue;
    transaction tx{db, transaction::kind::write};
    // Another process may have migrated while we waited for the write lock.
    if (is_applied(db, m.version))
      continue;
    try {
      db.exec(m.sql);
    } catch (const failure& e) {
      throw failure("migration " + std::to_string(m.version) + " (" + m.name
                    + "): " + e.what());
    }
    auto insert = db.prepare(
      "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    insert.bind(1, int64_t{m.version}).bind(2, now_ms()).run();
    tx.commit();
    store_logger()->info("schema migration applied path={} version={} name=\"{}\"",
                         db.path(), m.version, m.name);
    applied.push_back(m.version);
  }
  return applied;
}

} // namespace conveyor::sqlite
