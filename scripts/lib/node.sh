# Sourced by the scripts that run node tools (scripts/e2e.sh, client-build.sh, client-test.sh).

# npm_ci_if_changed DIR LABEL: `npm ci` in DIR only when node_modules is missing or
# package.json / package-lock.json changed since the last install (a stamp holds their hash).
npm_ci_if_changed() {
  local dir="$1" label="$2"
  local stamp="$dir/node_modules/.voicegate-lock.sha256"
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "== $label: npm ci (lockfile changed or node_modules missing)"
    (cd "$dir" && npm ci --no-audit --no-fund)
    echo "$want" > "$stamp"
  fi
}

# run_node_tests TAP SECONDS FILE...: node's test runner in the current directory (spec output
# on stdout, TAP in TAP), killed after SECONDS. Sets NODE_TESTS_PASSED, NODE_TESTS_FAILED and
# NODE_TESTS_RC; a runner that dies before reporting counts as a failure, and so does no test.
run_node_tests() {
  local tap="$1" limit="$2"
  shift 2
  set +e
  timeout --kill-after=15 "$limit" node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
  NODE_TESTS_RC=$?
  set -e
  NODE_TESTS_PASSED="$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
  NODE_TESTS_FAILED="$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
  NODE_TESTS_PASSED="${NODE_TESTS_PASSED:-0}"
  NODE_TESTS_FAILED="${NODE_TESTS_FAILED:-0}"
  if [ "$NODE_TESTS_RC" -ne 0 ] && [ "$NODE_TESTS_FAILED" -eq 0 ]; then
    NODE_TESTS_FAILED=1  # the runner died or timed out before reporting
  fi
  if [ "$NODE_TESTS_RC" -eq 0 ] && [ "$NODE_TESTS_PASSED" -eq 0 ]; then
    echo "no test ran" >&2
    NODE_TESTS_RC=1
    NODE_TESTS_FAILED=1
  fi
}
