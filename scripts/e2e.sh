#!/usr/bin/env bash
# Browser tests of the test console and the dashboard (tests/e2e): headless Debian Chromium via playwright-core,
# against the real binary (VOICEGATE_BIN, default build/voicegate). Installs the npm packages
# from the lockfile only when node_modules is missing or the lockfile changed.
# Exits non-zero on any failure and ends with a one-line summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
E2E="$ROOT/tests/e2e"
ARTIFACTS="$ROOT/test-artifacts"
export VOICEGATE_BIN="${VOICEGATE_BIN:-$ROOT/build/voicegate}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"

fail() { echo "e2e: $*" >&2; echo "e2e: 0 passed, 1 failed"; exit 1; }

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "node >= 20 is needed, found $(node --version)"
if [ ! -x "$CHROMIUM_PATH" ]; then
  # As the C++ EmulatorChrome test: a missing browser fails unless skipping was asked for.
  if [ "${VOICEGATE_ALLOW_NO_CHROMIUM:-0}" = 1 ]; then
    echo "e2e: no Chromium at $CHROMIUM_PATH; skipped (VOICEGATE_ALLOW_NO_CHROMIUM=1)"
    exit 0
  fi
  fail "no Chromium at $CHROMIUM_PATH (scripts/deps.sh installs Debian's chromium; VOICEGATE_ALLOW_NO_CHROMIUM=1 skips)"
fi
[ -x "$VOICEGATE_BIN" ] || fail "no voicegate binary at $VOICEGATE_BIN (run make build)"

npm_ci_if_changed "$E2E" e2e
cd "$E2E"

mkdir -p "$ARTIFACTS"
tap="$ARTIFACTS/e2e-results.tap"
echo "== e2e: browser tests ($VOICEGATE_BIN, $CHROMIUM_PATH)"
run_node_tests "$tap" 900 ./*.test.mjs
echo "== e2e: screenshots and server log in $ARTIFACTS"
echo "e2e: $NODE_TESTS_PASSED passed, $NODE_TESTS_FAILED failed"
exit "$NODE_TESTS_RC"
