#!/usr/bin/env bash
# Installs the front-end libraries that are compiled into the binary (web/package-lock.json,
# e.g. Chart.js for the dashboard) with `npm ci`, only when web/node_modules is missing or the
# lockfile changed (a stamp holds the lock's hash). Run by `make build` before CMake embeds the
# files. Needs node and npm at build time only: nothing is downloaded at run time.
set -euo pipefail
WEB="$(cd "$(dirname "$0")/../web" && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "web-deps: node and npm are needed to build (the dashboard's charting library is" >&2
  echo "web-deps: installed from web/package-lock.json); run scripts/deps.sh or install nodejs npm" >&2
  exit 1
fi

cd "$WEB"
stamp="node_modules/.voicegate-lock.sha256"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "web-deps: npm ci in web/ (lockfile changed or node_modules missing)"
  npm ci --no-audit --no-fund --ignore-scripts
  echo "$want" > "$stamp"
fi
