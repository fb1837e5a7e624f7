#!/usr/bin/env bash
# Every suite, as CI runs it: first the dependency check (scripts/check-deps.sh) and the include
# layering (scripts/check-layers.mjs), then unit +
# integration on the release build, the same under ASan+UBSan, the unit tests under
# ThreadSanitizer, a short run of every libFuzzer target (make fuzz-smoke: 15 s each, clang with
# ASan+UBSan), the JavaScript client's unit tests, then the browser tests in headless Chromium.
# Fails on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
export TMPDIR=${TMPDIR:-/tmp}

stage() { printf '\n== %s\n' "$*"; }

stage "dependency check (every Debian package the build and tests use is installed by scripts/deps.sh)"
scripts/check-deps.sh build/release

stage "include layering of src/ (docs/architecture.md; the self-test shows a wrong include is caught)"
node scripts/check-layers.mjs
node scripts/check-layers.mjs --self-test

stage "test services (PostgreSQL, Redis)"
eval "$(scripts/services.sh start)"
if [ "${VOICEGATE_SERVICES_STARTED:-0}" = 1 ]; then
  trap 'scripts/services.sh stop || true' EXIT
fi

stage "unit + integration tests (release build)"
ctest --preset release -j "$JOBS" --timeout 600

stage "ASan+UBSan build"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$JOBS"

stage "unit + integration tests under ASan+UBSan"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset dev -j "$JOBS" --timeout 900

# The "is safe concurrently" tests can only fail through a data race, so they run under TSan
# (halt_on_error: a race fails its test). The unit suite only (664 tests, about 3 minutes on 2
# cores; the build of voicegate_core plus the unit tests is the longer part): the integration
# suite's timing tests and the TSan binary would not fit CI's 90 minutes. Third-party false
# positives, and only those, are suppressed in tests/support/tsan.supp (each entry says why).
stage "ThreadSanitizer build (unit tests)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$JOBS" --target voicegate_unit_tests

stage "unit tests under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/support/tsan.supp" \
  ctest --preset tsan -L unit -j "$JOBS" --timeout 900

stage "fuzz smoke: every libFuzzer target for 15 s with its corpus (fuzz/README.md)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$JOBS"
FUZZ_SECONDS=15 fuzz/run.sh

stage "JavaScript client unit tests (clients/js)"
scripts/client-test.sh

# Not optional: a missing runner fails here rather than skipping the browser suite silently.
stage "browser tests (headless Chromium)"
VOICEGATE_BIN="$PWD/build/release/voicegate" scripts/e2e.sh
stage "all test stages passed"
