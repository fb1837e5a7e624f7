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

fail() { echo "e2e: $*" >&2; echo "e2e: 0 passed, 1 failed"; exit 1; }

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "node >= 20 is needed, found $(node --version)"
[ -x "$CHROMIUM_PATH" ] || fail "no Chromium at $CHROMIUM_PATH (scripts/deps.sh installs Debian's chromium)"
[ -x "$VOICEGATE_BIN" ] || fail "no voicegate binary at $VOICEGATE_BIN (run make build)"

cd "$E2E"
stamp="node_modules/.voicegate-lock.sha256"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "== e2e: npm ci (lockfile changed or node_modules missing)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

mkdir -p "$ARTIFACTS"
tap="$ARTIFACTS/e2e-results.tap"
echo "== e2e: browser tests ($VOICEGATE_BIN, $CHROMIUM_PATH)"
set +e
timeout --kill-after=15 900 node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  ./*.test.mjs
rc=$?
set -e

passed="$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
failed="$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
passed="${passed:-0}"
failed="${failed:-0}"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the runner died or timed out before reporting
fi
if [ "$rc" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "e2e: no test ran" >&2
  rc=1
  failed=1
fi
echo "== e2e: screenshots and server log in $ARTIFACTS"
echo "e2e: $passed passed, $failed failed"
exit "$rc"
