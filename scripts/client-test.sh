#!/usr/bin/env bash
# Unit tests of the JavaScript client (clients/js/test, node's test runner on the compiled
# output with a fake fetch and a fake RTCPeerConnection). Builds first (scripts/client-build.sh:
# npm ci only when needed). Exits non-zero on any failure and ends with a one-line summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/client-build.sh"
cd "$ROOT/clients/js"

mkdir -p "$ROOT/test-artifacts"
tap="$ROOT/test-artifacts/client-js-results.tap"
set +e
timeout --kill-after=10 300 node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  test/*.test.mjs
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
  echo "client-js: no test ran" >&2
  rc=1
  failed=1
fi
echo "client-js: $passed passed, $failed failed"
exit "$rc"
