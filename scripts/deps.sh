#!/usr/bin/env bash
# Installs the Debian packages voicegate needs, only those missing. Non-interactive, idempotent.
#   scripts/deps.sh          install what is missing (apt-get, as root or through sudo)
#   scripts/deps.sh --list   print the package names this script installs, one a line
# Every Debian package the build, the tests or the bench use must be named here or be a dependency
# of a package named here: scripts/check-deps.sh (the first stage of `make test`) fails otherwise.
set -euo pipefail
PKGS=(
  # build: compiler, CMake + Ninja, ccache, and the -dev packages CMakeLists.txt finds
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libpq-dev libhiredis-dev
  # tests: GoogleTest, throw-away PostgreSQL and Redis, headless Chromium, promtool, sqlite3 CLI
  libgtest-dev libgmock-dev postgresql redis-server chromium prometheus sqlite3 procps curl
  # make bench and make chaos (wrk, nginx, perf), make format and make lint (clang-format, clang-tidy)
  wrk nginx-light linux-perf clang-format clang-tidy
  # make fuzz (libFuzzer targets: clang with its sanitizer runtimes, llvm-symbolizer for traces)
  clang libclang-rt-14-dev llvm
)
# Node.js and npm: the machine's own (NodeSource's nodejs bundles npm) or, if absent, Debian's.
NODE_PKGS=(nodejs npm)
if [ "${1:-}" = --list ]; then
  printf '%s\n' "${PKGS[@]}" "${NODE_PKGS[@]}"
  exit 0
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=("${NODE_PKGS[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx-light's package starts a system nginx on :80; voicegate's bench runs its own instance.
