#!/usr/bin/env bash
# Builds the JavaScript client (clients/js: dist/esm + dist/cjs with .d.ts) with its pinned
# TypeScript. Installs the dev dependencies from the lockfile only when node_modules is missing
# or the lockfile changed (a stamp holds the hash, as scripts/e2e.sh does). `make build` runs it
# before CMake embeds clients/js/dist/esm/*.js into the binary (the console loads it at /lib/).
set -euo pipefail
CLIENT="$(cd "$(dirname "$0")/../clients/js" && pwd)"

fail() { echo "client-build: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"

# shellcheck source=lib/node.sh
source "$(dirname "$0")/lib/node.sh"
npm_ci_if_changed "$CLIENT" clients/js
cd "$CLIENT"

# Rebuild only when a source, config or the lockfile is newer than the last build.
if [ -f dist/.built ] && [ -z "$(find src tsconfig.json tsconfig.cjs.json package.json package-lock.json scripts -newer dist/.built -print -quit)" ]; then
  exit 0
fi
echo "== clients/js: build (tsc: dist/esm, dist/cjs)"
node scripts/build.mjs
touch dist/.built
