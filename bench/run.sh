#!/bin/sh
# Runs the serve benchmark: real processes with 8 worker slots, then the no-op
# executor (orchestration alone). Usage: bench/run.sh [BUILDS]
set -eu
cd "$(dirname "$0")/.."
builds=${1:-1000}
cmake --build build -j"$(nproc)" --target conveyor serve_bench >/dev/null
echo "machine: $(nproc) cores, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
build/bench/serve_bench --conveyor build/app/conveyor --executor process \
  --workers 8 --builds "$builds" --idle 100
build/bench/serve_bench --conveyor build/app/conveyor --executor noop \
  --workers 8 --builds "$((builds * 5))" --idle 100 | tail -n 1

# With a PostgreSQL server (CONVEYOR_BENCH_PG_URL; a throwaway one:
# tests/adapters/postgres/pg-server.sh start DIR, then the URL in DIR/url):
# the no-op burst on PostgreSQL and on SQLite, then log ingestion through the
# sequencer into PostgreSQL against a raw COPY.
if [ -n "${CONVEYOR_BENCH_PG_URL:-}" ]; then
  cmake --build build -j"$(nproc)" --target pg_ingest_bench >/dev/null
  for db in "$CONVEYOR_BENCH_PG_URL" sqlite; do
    build/bench/serve_bench --conveyor build/app/conveyor --executor noop \
      --workers 8 --builds "$((builds * 2))" --idle 50 --db "$db" | tail -n 1
  done
  build/bench/pg_ingest_bench --runs 3
fi
