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
