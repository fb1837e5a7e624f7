#!/usr/bin/env bash
# Installs the Debian packages voicegate needs, only those missing. Non-interactive, idempotent.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libssl-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev
  postgresql libpq-dev redis-server libhiredis-dev
  chromium wrk nginx-light procps curl prometheus
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
