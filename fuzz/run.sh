#!/usr/bin/env bash
# Runs the libFuzzer targets built in build/fuzz (`make fuzz`, `make fuzz-smoke`; fuzz/README.md),
# one after another on one core, each with its seeds (fuzz/corpus/NAME, read only) and its
# dictionary (fuzz/dict/NAME.dict). New inputs go to build/fuzz/corpus/NAME, crashes to
# build/fuzz/crashes/NAME-*, each run's log to build/fuzz/logs/NAME.log. Prints one line per
# target (executions, exec/s, seconds, corpus size, coverage) and fails if any target crashed.
#   FUZZ_SECONDS=300   the most seconds per target
#   FUZZ_RUNS=N        stop a target after N executions instead (if sooner)
#   FUZZ_TARGETS="a b" only these targets (default: every target of build/fuzz/targets.txt)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=build/fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-300}
RUNS=${FUZZ_RUNS:--1}
TARGETS=${FUZZ_TARGETS:-$(cat "$BUILD/targets.txt")}
mkdir -p "$BUILD/crashes" "$BUILD/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
printf '%-18s %12s %8s %6s %7s %6s  %s\n' target executions exec/s time corpus cov result
for t in $TARGETS; do
    bin="$BUILD/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz: $bin is missing (make fuzz builds it)" >&2; exit 2; }
    mkdir -p "$BUILD/corpus/$t"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
    log="$BUILD/logs/$t.log"
    start=$(date +%s)
    nice -n 10 "$bin" -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS" -timeout=25 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" \
        "${dict[@]}" "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    result=ok
    if [ $rc -ne 0 ]; then
        result="CRASHED (exit $rc): $(grep -m1 -E 'SUMMARY|ERROR|runtime error|deadly signal' "$log")"
        result+=" ; input: $(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1); log: $log"
        failed+=("$t")
    fi
    printf '%-18s %12s %8s %5ss %7s %6s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$elapsed" \
        "${corp:-?}" "${cov:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) crashed: ${failed[*]} (inputs in $BUILD/crashes/;" \
         "reproduce with $BUILD/fuzz_NAME FILE)" >&2
    exit 1
fi
echo "fuzz: every target ran without a crash"
