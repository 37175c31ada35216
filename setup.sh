#!/bin/sh
# Installs what conveyor needs from Debian 12's packages (only what is
# missing; run as root), then configures and builds into build/.
set -eu
cd "$(dirname "$0")"

packages="build-essential cmake git pkg-config ccache ca-certificates
  libcaf-dev libboost-dev libspdlog-dev catch2 libyaml-cpp-dev
  nlohmann-json3-dev libssl-dev libsqlite3-dev libgit2-dev prometheus
  libpq-dev libpqxx-dev postgresql"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
