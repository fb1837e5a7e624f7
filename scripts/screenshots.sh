#!/usr/bin/env bash
# Regenerates the README's pictures of the product: docs/dashboard.png (the operators' dashboard
# over a month of a small voice app) and docs/console.png (the test console at / after issuing a
# token from the built-in emulator and ending its session).
#
#   scripts/screenshots.sh            # VOICEGATE_BIN=build/voicegate (run `make build` first)
#
# Seeds a throw-away SQLite database (mktemp -d) with `voicegate seed`: 450 users, 31,000 sessions
# over the last 31 UTC days, about 30,000 of them in the 30 full days the dashboard shows. Serves it
# on a free loopback port (8080 when free, as in the README's examples) with the built-in emulator
# (no OPENAI_API_KEY: nothing leaves 127.0.0.1) and a random admin token that is never printed, then
# drives Debian's headless Chromium through playwright-core (scripts/screenshots.mjs, with the
# install and the launcher of tests/e2e) at 1280x800, device scale 1, full page. Everything it
# starts is stopped and the temp dir removed on exit, failure or Ctrl-C.
#
# Knobs (environment): VOICEGATE_BIN, CHROMIUM_PATH (/usr/bin/chromium), SCREENSHOTS_OUT (docs),
# SEED_SESSIONS (31000), SEED_USERS (450), SEED_NEVER_ENDED (0.03: apps that die before their end
# report), SEED_SEED (7: the same figures on every run, only the dates move).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VG="${VOICEGATE_BIN:-$ROOT/build/voicegate}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
OUT="${SCREENSHOTS_OUT:-$ROOT/docs}"
SEED_SESSIONS="${SEED_SESSIONS:-31000}"
SEED_USERS="${SEED_USERS:-450}"
SEED_DAYS=31  # the 30 full days shown, and today
SEED_NEVER_ENDED="${SEED_NEVER_ENDED:-0.03}"
SEED_SEED="${SEED_SEED:-7}"
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"

log() { printf '[screenshots %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[ -x "$VG" ] || die "no voicegate binary at $VG: run \`make build\` (or set VOICEGATE_BIN)"
for tool in node npm curl setsid; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/deps.sh"
done
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "node >= 20 is needed, found $(node --version)"
[ -x "$CHROMIUM_PATH" ] || die "no Chromium at $CHROMIUM_PATH (scripts/deps.sh installs Debian's chromium)"
VG="$(cd "$(dirname "$VG")" && pwd)/$(basename "$VG")"  # absolute: the server runs in the temp dir
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/voicegate-screenshots.XXXXXX")"
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ]; then  # the server runs in its own process group (setsid)
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$WORK/server.log" ]; then
    log "server log (last lines):"
    tail -n 20 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  [ "$rc" -eq 0 ] || log "FAILED (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# playwright-core: the e2e tests' install (tests/e2e/package-lock.json), only when it changed.
npm_ci_if_changed "$ROOT/tests/e2e" "screenshots: playwright-core (tests/e2e)" >&2

free_port() {  # 8080 (the default, as the README's examples have it) when free, else a random one
  local p
  for p in 8080 $(for _ in $(seq 100); do echo $((20000 + RANDOM % 12000)); done); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

DB_URL="sqlite:$WORK/voicegate.db"
# A clean environment: no developer's OPENAI_API_KEY, DATABASE_URL or VOICEGATE_* leaks in, and the
# cwd is the temp dir so no .env is read.
log "seeding $SEED_SESSIONS sessions of $SEED_USERS users over $SEED_DAYS days into $WORK"
(cd "$WORK" && env -i PATH="$PATH" VOICEGATE_LOG_LEVEL=warn "$VG" seed \
  --sessions "$SEED_SESSIONS" --users "$SEED_USERS" --days "$SEED_DAYS" \
  --never-ended "$SEED_NEVER_ENDED" --seed "$SEED_SEED" --database-url "$DB_URL" </dev/null) ||
  die "voicegate seed failed"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
ADMIN_TOKEN="adm_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"  # never printed
log "starting voicegate serve on $BASE (built-in emulator)"
(cd "$WORK" && exec setsid env -i PATH="$PATH" VOICEGATE_LISTEN="127.0.0.1:$PORT" DATABASE_URL="$DB_URL" \
  VOICEGATE_ADMIN_TOKEN="$ADMIN_TOKEN" VOICEGATE_LOG_LEVEL=warn VOICEGATE_ACCESS_LOG=0 \
  "$VG" serve >"$WORK/server.log" 2>&1 </dev/null) &
SERVER_PID=$!
for i in $(seq 100); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "voicegate exited during start-up"
  curl -sf -m 2 -o /dev/null "$BASE/readyz" 2>/dev/null && break
  [ "$i" -lt 100 ] || die "voicegate did not answer $BASE/readyz within 10 s"
  sleep 0.1
done
log "ready"

VOICEGATE_ADMIN_TOKEN="$ADMIN_TOKEN" node "$ROOT/scripts/screenshots.mjs" "$BASE" "$OUT"
for f in dashboard console; do
  log "wrote ${OUT#"$ROOT"/}/$f.png ($(($(stat -c %s "$OUT/$f.png") / 1024)) KB)"
done
