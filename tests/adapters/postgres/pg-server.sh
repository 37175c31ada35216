#!/bin/bash
# A throwaway PostgreSQL server for the tests, run by ctest as the fixture
# "postgres" (FIXTURES_SETUP / FIXTURES_CLEANUP).
#
#   pg-server.sh start DIR [PORT]   initdb DIR/data, start the server on
#                                   127.0.0.1:PORT (a free port if none or 0),
#                                   create the database "conveyor" and write
#                                   its URL to DIR/url
#   pg-server.sh restart DIR [SECS] restart the server, data kept; with SECS,
#                                   it stays down that long (an outage)
#   pg-server.sh stop DIR           stop the server and remove DIR/data, DIR/url
#
# PostgreSQL refuses to run as root: as root, the server runs as the user
# "postgres" (runuser). The binaries are taken from PG_BIN, else from the
# newest /usr/lib/postgresql/*/bin. fsync is off: the data is thrown away.
# Any failure exits non-zero with the server's log, so that the tests that
# require the fixture fail (they are never skipped).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [PORT] | restart DIR [SECS] | stop DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
port=${3:-0}
data=$dir/data
sock=$dir/sock
log=$dir/server.log

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    if [ ! -x "$PG_BIN/pg_ctl" ]; then
      echo "pg-server: no pg_ctl in PG_BIN=$PG_BIN" >&2
      exit 1
    fi
    echo "$PG_BIN"
    return
  fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$found" ] || [ ! -x "$found/pg_ctl" ]; then
    echo "pg-server: no PostgreSQL server binaries (install postgresql, or set PG_BIN)" >&2
    exit 1
  fi
  echo "$found"
}

bin=$(find_bin)

# Runs a command as the server's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

owner_dir() {
  if [ "$(id -u)" -eq 0 ]; then
    install -d -m 700 -o postgres -g postgres "$1"
  else
    install -d -m 700 "$1"
  fi
}

stop_server() {
  if [ -f "$data/postmaster.pid" ]; then
    # Immediate: the data is thrown away, no checkpoint is worth waiting for.
    as_owner "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
      || true
  fi
}

# True if something accepts connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

fail() {
  echo "pg-server: $*" >&2
  [ -f "$log" ] && tail -n 30 "$log" >&2
  exit 1
}

# The server's options on port $1.
server_options() {
  echo "-p $1 -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
}

case "$command" in
  restart)
    # The same server again, data kept: for tests of a database that goes
    # away and comes back (pg_ctl reuses the options it was started with).
    down_for=${3:-}
    if [ -z "$down_for" ]; then
      as_owner "$bin/pg_ctl" -D "$data" -l "$log" -m fast -w -t 60 restart \
        >/dev/null 2>&1 || fail "the server did not restart"
    else
      url_port=$(sed -E 's|.*:([0-9]+)/.*|\1|' "$dir/url")
      as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop \
        >/dev/null 2>&1 || fail "the server did not stop"
      sleep "$down_for"
      as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "$(server_options "$url_port")" start >/dev/null 2>&1 \
        || fail "the server did not start again on port $url_port"
    fi
    ;;
  start)
    # A server left over by an interrupted run is stopped and wiped.
    stop_server
    rm -rf "$data" "$sock" "$dir/url" "$log"
    owner_dir "$data"
    owner_dir "$sock"
    if [ "$(id -u)" -eq 0 ]; then
      touch "$log" && chown postgres:postgres "$log"
    fi
    as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
    started=""
    for _ in $(seq 1 20); do
      candidate=$port
      if [ "$candidate" = 0 ]; then
        candidate=$((20000 + RANDOM % 40000))
      fi
      if port_in_use "$candidate"; then
        [ "$port" = 0 ] || fail "port $port is in use"
        continue
      fi
      if as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
          -o "$(server_options "$candidate")" \
          start >/dev/null 2>&1; then
        started=$candidate
        break
      fi
      # Lost a race for the port: another process took it after the probe.
      [ "$port" = 0 ] || fail "the server did not start on port $port"
    done
    [ -n "$started" ] || fail "the server did not start"
    as_owner "$bin/psql" -X -q -h 127.0.0.1 -p "$started" -U postgres \
      -d postgres -c "CREATE DATABASE conveyor" >/dev/null \
      || fail "CREATE DATABASE failed"
    echo "postgresql://postgres@127.0.0.1:$started/conveyor" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "pg-server: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $(cat "$dir/url")"
    ;;
  stop)
    stop_server
    rm -rf "$data" "$sock" "$dir/url"
    echo "pg-server: stopped"
    ;;
  *)
    usage
    ;;
esac
