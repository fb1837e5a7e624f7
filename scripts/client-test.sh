#!/usr/bin/env bash
# Unit tests of the JavaScript client (clients/js/test, node's test runner on the compiled
# output with a fake fetch and a fake RTCPeerConnection). Builds first (scripts/client-build.sh:
# npm ci only when needed). Exits non-zero on any failure and ends with a one-line summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
"$ROOT/scripts/client-build.sh"
cd "$ROOT/clients/js"

mkdir -p "$ROOT/test-artifacts"
tap="$ROOT/test-artifacts/client-js-results.tap"
run_node_tests "$tap" 300 test/*.test.mjs
echo "client-js: $NODE_TESTS_PASSED passed, $NODE_TESTS_FAILED failed"
exit "$NODE_TESTS_RC"
