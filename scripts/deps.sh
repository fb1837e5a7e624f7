#!/usr/bin/env bash
# Installs the Debian packages voicegate needs, only those missing. Non-interactive, idempotent.
set -euo pipefail
PKGS=(
  # build: compiler, CMake + Ninja, ccache, and the -dev packages CMakeLists.txt finds
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libpq-dev libhiredis-dev
  # tests: GoogleTest, throw-away PostgreSQL and Redis, headless Chromium, promtool, sqlite3 CLI
  libgtest-dev libgmock-dev postgresql redis-server chromium prometheus sqlite3 procps curl
  # make bench (wrk, nginx, perf), make format and make lint (clang-format, clang-tidy)
  wrk nginx-light linux-perf clang-format clang-tidy
  # the dependency check (scripts/check-deps.sh) reads the dpkg database with dpkg-query/dpkg -S
  dpkg
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx-light's package starts a system nginx on :80; voicegate's bench runs its own instance.
