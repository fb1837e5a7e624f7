#!/usr/bin/env bash
# make bench: measures voicegate against the bars of SPEC §9 on this machine, on loopback only.
#
#   token throughput  wrk against: the emulator directly, nginx -> emulator, voicegate -> emulator
#                     (/api/realtime/token; embedded defaults: SQLite, in-process limiter, no
#                     auth), voicegate with JWT auth + Redis limiter + PostgreSQL store ->
#                     emulator, Express -> emulator (/api/realtime/token)
#   added latency     emulator directly vs voicegate at a fixed 1,000 req/s (BENCH_RATE)
#   /end throughput   voicegate on SQLite and on PostgreSQL, each session ended once
#   memory            a fresh voicegate idle, then holding 10,000 idle client connections
#   operators         `voicegate seed` 1,000,000 sessions into SQLite and PostgreSQL, then the admin
#                     usage query (each groupBy, 30 days) and the dashboard's first data paint
#
# PostgreSQL and Redis are throw-away instances that scripts/services.sh starts under the bench's
# temp dir and stops on exit; if they cannot start, their rows are NOT MEASURED (said clearly)
# and the rest of the bench runs.
# Prints a table and one PASS/FAIL line per bar, and writes bench/results/latest.json.
# Exit 0 when the bench ran (even if a bar fails: it is a report); non-zero when it broke: a
# server did not start, a response was not 2xx, a socket error. Every process it starts is in
# its own process group and is killed on exit, failure or Ctrl-C. See bench/README.md.
#
# Knobs (environment): BENCH_DURATION (10 s per run), BENCH_WARMUP (3 s), BENCH_CONNECTIONS (64),
# BENCH_WRK_THREADS (2), BENCH_LOOPS (voicegate event loops = nginx workers, default nproc),
# BENCH_POOL (voicegate upstream pool per loop, 64), BENCH_RATE (1000 req/s) and
# BENCH_PACE_CONNECTIONS (16) for the fixed-rate latency runs, BENCH_ISSUE_DURATION (5 s of /token to
# issue the ids that /end ends; more if /end is faster), BENCH_END_DURATION (at most 5 s: shorter if the ids
# would run out), BENCH_IDLE_CONNECTIONS (10000),
# BENCH_PIN (0/1: pin the emulator to the last core, see README), BENCH_QUIET_WAIT (seconds to
# wait for a 1-min load average under 0.5 before starting, default 0),
# BENCH_SQLITE_SYNCHRONOUS (normal, the service default: every 200 survives kill -9; full: also
# fsynced against power loss), BENCH_SERVICES (1; 0: start no PostgreSQL/Redis, their rows are
# NOT MEASURED), BENCH_USAGE (1; 0: skip the operators runs), BENCH_USAGE_SESSIONS (1000000),
# VOICEGATE_BIN.
# PID_<name> and START_<name> are set by start/`printf -v` and read by name (${!var}).
# shellcheck disable=SC2034,SC2154,SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
VG=${VOICEGATE_BIN:-$ROOT/build/voicegate}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
CORES=$(nproc)
LOOPS=${BENCH_LOOPS:-$CORES}
POOL=${BENCH_POOL:-64}
PACE_CONNS=${BENCH_PACE_CONNECTIONS:-16}
RATE=${BENCH_RATE:-1000}
ISSUE_DURATION=${BENCH_ISSUE_DURATION:-5}
END_DURATION=${BENCH_END_DURATION:-5}
IDLE_CONNS=${BENCH_IDLE_CONNECTIONS:-10000}
PIN=${BENCH_PIN:-0}
QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
SQLITE_SYNC=${BENCH_SQLITE_SYNCHRONOUS:-normal}
SERVICES=${BENCH_SERVICES:-1}
API_KEY="sk-bench-local"  # the emulator accepts any sk- key; nothing leaves 127.0.0.1
RESULTS_DIR="$BENCH/results"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

PATH="$PATH:/usr/sbin:/sbin"  # nginx lives in /usr/sbin, not on every user's PATH
for tool in wrk nginx node npm curl pgrep setsid; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'make build' (scripts/deps.sh installs it)"
done
[ -x "$VG" ] || die "$VG is missing: run 'make build'"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voicegate-bench.XXXXXX")
mkdir -p "$WORK/results" "$RESULTS_DIR"
PGIDS=()  # process groups we started (each server runs under setsid)
WRK_PID=""

stop_group() {  # stop_group PGID: TERM, up to 5 s grace, then KILL
  local pg=$1
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$pg" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pg
  [ -n "${WRK_PID:-}" ] && kill -TERM "$WRK_PID" 2>/dev/null
  for pg in "${PGIDS[@]}"; do stop_group "$pg"; done
  if [ -n "${SERVICES_DIR:-}" ]; then  # PostgreSQL and Redis daemonize: not in our groups
    VOICEGATE_SERVICES_DIR="$SERVICES_DIR" "$ROOT/scripts/services.sh" stop >/dev/null 2>&1 || true
  fi
  if [ "$rc" -ne 0 ]; then
    rm -rf "$RESULTS_DIR/logs"
    mkdir -p "$RESULTS_DIR/logs"
    cp "$WORK"/*.log "$WORK"/*.txt "$RESULTS_DIR/logs/" 2>/dev/null || true
    log "bench FAILED (exit $rc); server logs and wrk output kept in bench/results/logs/"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# --- helpers -------------------------------------------------------------------------------

q() { node -p 'JSON.stringify(process.argv[1])' "$1"; }  # a JSON string for result

USED_PORTS=" "
free_port() {  # a port below the ephemeral range with no listener, not handed out before
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then  # nothing answers there
      USED_PORTS+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# start NAME CMD...: runs CMD in its own session/process group, output to $WORK/NAME.log;
# sets PID_NAME. The subshell execs setsid, which execs CMD in place (it is not a group leader),
# so the pid is CMD's and also its process group id.
start() {
  local name=$1
  shift
  # cwd $WORK: voicegate reads a .env from its working directory, and a developer's must not
  # leak into the bench.
  if [ -n "${START_STDOUT:-}" ]; then  # stdout elsewhere, stderr to the log
    (cd "$WORK" && exec setsid "$@" >"$START_STDOUT" 2>"$WORK/$name.log" </dev/null) &
  else
    (cd "$WORK" && exec setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null) &
  fi
  local pid=$!
  PGIDS+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
}

stop() {  # stop NAME
  local var="PID_$1"
  stop_group "${!var}"
  local keep=() pg
  for pg in "${PGIDS[@]}"; do [ "$pg" = "${!var}" ] || keep+=("$pg"); done
  PGIDS=("${keep[@]}")
}

# wait_ready NAME CURL-ARGS...: until curl succeeds (10 s), or the process died.
wait_ready() {
  local name=$1
  shift
  local var="PID_$name"
  for _ in $(seq 100); do
    if ! kill -0 "${!var}" 2>/dev/null; then
      tail -n 20 "$WORK/$name.log" >&2 || true
      die "$name exited during start-up (log above)"
    fi
    if curl -sf -m 2 -o "$WORK/$name.ready.txt" "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "$WORK/$name.log" >&2 || true
  die "$name did not answer within 10 s (log above)"
}

pids_of() {  # a server's pid and its children (nginx workers)
  echo "$1"
  pgrep -P "$1" || true
}
reset_peak() {  # VmHWM := VmRSS (Linux >= 4.0, "5" to clear_refs)
  local p
  for p in $(pids_of "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done
}
mem_kb() {  # mem_kb PID FIELD: FIELD (VmHWM/VmRSS) summed over the pid and its children, kB
  local total=0 p v
  for p in $(pids_of "$1"); do
    v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime (all threads) summed over the pid and its children, in clock ticks
  local total=0 p line rest fields
  for p in $(pids_of "$1"); do
    line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${line##*) }  # fields after "pid (comm) "; utime and stime are fields 14 and 15
    read -r -a fields <<<"$rest"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# The emulator's count of accepted TCP connections. Each query is itself one connection: the
# per-query overhead is calibrated once, and conns_since subtracts it.
STATS_QUERIES=0
STATS_OVERHEAD=1
emu_conns() {
  local body
  STATS_QUERIES=$((STATS_QUERIES + 1))
  body=$(curl -sf -m 5 "http://127.0.0.1:$EMU_PORT/_emulator/stats") || die "GET /_emulator/stats failed"
  local n
  n=$(printf '%s' "$body" | sed -n 's/.*"connections_accepted"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
  [ -n "$n" ] || die "/_emulator/stats has no connections_accepted: $body"
  echo "$n $STATS_QUERIES"
}
conns_since() {  # conns_since "RAW Q" "RAW Q": upstream connections opened between two readings
  local a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  echo $(((b[0] - a[0]) - (b[1] - a[1]) * STATS_OVERHEAD))
}
# emu_conns runs in a subshell when captured with $(...), so the query counter is kept by hand:
reading() {
  local r
  r=$(emu_conns)
  STATS_QUERIES=${r#* }
  echo "$r" >"$WORK/last-reading"
}

# wrk_run LABEL SCRIPT URL [wrk args...]: runs wrk, checks that every answer was 2xx and that no
# socket failed, and leaves its machine-readable summary in $WORK/LABEL.wrk.json.
wrk_run() {
  local label=$1 script=$2 url=$3
  shift 3
  local out="$WORK/wrk-$label.txt"
  # --timeout 10s: a slow answer is a measurement (Express under load can take seconds); only one
  # slower than 10 s counts as a failure.
  # In the background plus `wait`: a Ctrl-C then interrupts the wait and runs the trap at once
  # (bash defers traps while a foreground child runs, and wrk exits 0 on SIGINT).
  wrk --latency --timeout 10s "$@" -s "$BENCH/wrk/$script" "$url" >"$out" 2>&1 &
  WRK_PID=$!
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  if [ "$rc" -ne 0 ]; then
    cat "$out" >&2
    die "wrk failed for $label"
  fi
  local json
  json=$(sed -n 's/^WRKJSON //p' "$out")
  [ -n "$json" ] || {
    cat "$out" >&2
    die "wrk printed no summary for $label"
  }
  if ! grep -q '"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0}' <<<"$json"; then
    cat "$out" >&2
    die "$label: non-2xx answers or socket errors (above); the numbers would be meaningless"
  fi
  case "$json" in *'"bad":'[1-9]*)
    cat "$out" >&2
    die "$label: answers without the expected body (above)" ;;
  esac
  echo "$json" >"$WORK/$label.wrk.json"
}

# result LABEL KEY=VALUE...: one JSON fragment per measurement for report.js (values are numbers
# or pre-quoted strings).
result() {
  local label=$1 f="$WORK/results/$1.json" kv
  shift
  {
    printf '{"label":"%s"' "$label"
    [ -f "$WORK/$label.wrk.json" ] && printf ',"wrk":%s' "$(cat "$WORK/$label.wrk.json")"
    for kv in "$@"; do printf ',"%s":%s' "${kv%%=*}" "${kv#*=}"; done
    printf '}\n'
  } >"$f"
}

# throughput LABEL NAME SCRIPT URL: warm-up, then a measured run with the peak RSS of NAME and
# the upstream connections opened during it (and since NAME started: $START_name).
throughput() {
  local label=$1 name=$2 script=$3 url=$4
  local var="PID_$name" start_var="START_$name"
  log "$label: warm-up ${WARMUP}s"
  wrk_run "$label-warmup" "$script" "$url" -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s"
  reading
  local before
  before=$(cat "$WORK/last-reading")
  reset_peak "${!var}"
  local cpu0 emu0
  cpu0=$(cpu_ticks "${!var}")
  emu0=$(cpu_ticks "$PID_emulator")
  log "$label: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s"
  wrk_run "$label" "$script" "$url" -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s"
  local peak after cpu emu_cpu
  cpu=$(($(cpu_ticks "${!var}") - cpu0))
  emu_cpu=$(($(cpu_ticks "$PID_emulator") - emu0))
  peak=$(mem_kb "${!var}" VmHWM)
  reading
  after=$(cat "$WORK/last-reading")
  local during total="null"
  during=$(conns_since "$before" "$after")
  [ -n "${!start_var:-}" ] && total=$(conns_since "${!start_var}" "$after")
  result "$label" server="\"$name\"" rss_peak_kb="$peak" upstream_conns_run="$during" \
    upstream_conns_total="$total" cpu_s="$(awk -v t="$cpu" -v h="$CLK_TCK" 'BEGIN { print t / h }')" \
    emulator_cpu_s="$(awk -v t="$emu_cpu" -v h="$CLK_TCK" 'BEGIN { print t / h }')"
  log "$label: $(summary_line "$label")"
}

summary_line() {  # human one-liner from a wrk summary
  node -e '
    const w = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const rps = w.requests / (w.duration_us / 1e6);
    console.log(`${Math.round(rps)} req/s, p50 ${(w.latency_us.p50 / 1000).toFixed(3)} ms, p99 ${(w.latency_us.p99 / 1000).toFixed(3)} ms`);
  ' "$WORK/$1.wrk.json"
}

# --- machine -------------------------------------------------------------------------------

load1() { cut -d' ' -f1 /proc/loadavg; }
if [ "$QUIET_WAIT" -gt 0 ]; then
  for _ in $(seq "$QUIET_WAIT"); do
    awk -v l="$(load1)" 'BEGIN { exit !(l < 0.5) }' && break
    sleep 1
  done
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $CORES cores, load average $LOAD_START"
awk -v l="$(load1)" 'BEGIN { exit !(l >= 0.5) }' &&
  log "WARNING: load average >= 0.5: other work shares the CPUs, the numbers will be noisy"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

# CPU pinning is off by default. On 2 cores, wrk, the proxy under test (one loop/worker per core)
# and the emulator all need CPU at once; pinning the emulator to a core does not isolate it (the
# proxy's loops still land there) and only takes the scheduler's freedom away, so it changes what
# is measured more than it removes noise; on a shared machine the noise comes from other
# people's processes, which taskset cannot keep off our cores. In trial runs it did not make the
# numbers steadier (one pinned run gave voicegate a 594 ms p99). The steadier figure is the
# server's CPU time per request in the table. BENCH_PIN=1 pins the emulator to the last core.
if [ "$PIN" = 1 ] && [ "$CORES" -ge 2 ]; then
  EMU_PIN=(taskset -c "$((CORES - 1))")
else
  EMU_PIN=()
fi

# --- PostgreSQL and Redis (throw-away) -----------------------------------------------------

# For the JWT + Redis + PostgreSQL /token row and the PostgreSQL /end row. PostgreSQL keeps its
# defaults (fsync and synchronous_commit on): a 200 from /end is a committed, flushed record.
SERVICES_OK=0
SERVICES_WHY=""
PG_URL=""
REDIS_URL=""
chmod 711 "$WORK"  # as root, PostgreSQL runs as another user and must reach $WORK/services
if [ "$SERVICES" != 1 ]; then
  SERVICES_WHY="not started: BENCH_SERVICES=$SERVICES"
else
  SERVICES_DIR="$WORK/services"  # cleanup stops them from here on
  log "services: starting PostgreSQL and Redis (scripts/services.sh)"
  if VOICEGATE_SERVICES_DIR="$SERVICES_DIR" "$ROOT/scripts/services.sh" start \
    >"$WORK/services.env.txt" 2>"$WORK/services.log"; then
    PG_URL=$(sed -n 's/^export VOICEGATE_TEST_PG_URL=//p' "$WORK/services.env.txt")
    REDIS_URL=$(sed -n 's/^export VOICEGATE_TEST_REDIS_URL=//p' "$WORK/services.env.txt")
    if [ -n "$PG_URL" ] && [ -n "$REDIS_URL" ]; then
      SERVICES_OK=1
      while read -r line; do log "$line"; done <"$WORK/services.log"
    else
      SERVICES_WHY="scripts/services.sh printed no URLs"
    fi
  else
    SERVICES_WHY="scripts/services.sh start failed: $(tail -n 1 "$WORK/services.log")"
    tail -n 20 "$WORK/services.log" >&2 || true
  fi
fi
if [ "$SERVICES_OK" != 1 ]; then
  log "WARNING: PostgreSQL/Redis unavailable ($SERVICES_WHY): the JWT + Redis + PostgreSQL" \
    "/token row and the PostgreSQL /end row will be NOT MEASURED"
fi
pg_setting() {  # pg_setting NAME: the server's value, quoted for result (or "unknown")
  local v
  v=$(psql "$PG_URL" -tAqX -c "SHOW $1" 2>/dev/null) || v=unknown
  printf '"%s"' "${v:-unknown}"
}

# --- Express baseline dependencies ---------------------------------------------------------

EXPRESS="$BENCH/express"
if [ ! -f "$EXPRESS/node_modules/.package-lock.json" ] ||
  [ "$EXPRESS/package-lock.json" -nt "$EXPRESS/node_modules/.package-lock.json" ]; then
  log "express: npm ci"
  (cd "$EXPRESS" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm-ci.log" 2>&1) || {
    cat "$WORK/npm-ci.log" >&2
    die "npm ci failed in bench/express"
  }
fi
EXPRESS_VERSION=$(node -p 'require(process.argv[1]).version' "$EXPRESS/node_modules/express/package.json")

# --- emulator ------------------------------------------------------------------------------

EMU_PORT=$(free_port)
# The emulator has no switch for its access log (one JSON line per request on stdout): send it
# to /dev/null rather than fill a file; its start-up and error log (stderr) is kept.
START_STDOUT=/dev/null start emulator "${EMU_PIN[@]}" "$VG" emulate --listen "127.0.0.1:$EMU_PORT" \
  --threads 1 --log-level warn
wait_ready emulator "http://127.0.0.1:$EMU_PORT/_emulator/stats"
SECRETS_URL="http://127.0.0.1:$EMU_PORT/v1/realtime/client_secrets"
curl -sf -m 5 -o "$WORK/emulator.smoke.txt" -H "Authorization: Bearer $API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"expires_after":{"anchor":"created_at","seconds":600},"session":{"type":"realtime","model":"gpt-realtime"}}' \
  "$SECRETS_URL" || die "emulator: POST /v1/realtime/client_secrets failed"
grep -q '"value" *: *"ek_' "$WORK/emulator.smoke.txt" || die "emulator: unexpected answer: $(head -c 300 "$WORK/emulator.smoke.txt")"
r1=$(emu_conns)
r2=$(emu_conns)
STATS_QUERIES=2
STATS_OVERHEAD=$(((${r2% *}) - (${r1% *})))
if [ "$STATS_OVERHEAD" -lt 0 ] || [ "$STATS_OVERHEAD" -gt 1 ]; then
  die "connections_accepted moved by $STATS_OVERHEAD between two idle queries"
fi
export BENCH_API_KEY="$API_KEY" WRK_THREADS

throughput emulator emulator client_secrets.lua "$SECRETS_URL"

# --- nginx -> emulator ---------------------------------------------------------------------

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"  # workers keep our uid and can use $WORK
sed -e "s|@USER_LINE@|$USER_LINE|" -e "s|@WORKERS@|$LOOPS|" -e "s|@DIR@|$WORK/nginx|g" \
  -e "s|@PORT@|$NGINX_PORT|" -e "s|@UPSTREAM_PORT@|$EMU_PORT|" \
  "$BENCH/nginx.conf.template" >"$WORK/nginx/nginx.conf"
reading
START_nginx=$(cat "$WORK/last-reading")
start nginx nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
wait_ready nginx -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
  -d '{"expires_after":{"anchor":"created_at","seconds":600},"session":{"type":"realtime","model":"gpt-realtime"}}' \
  "http://127.0.0.1:$NGINX_PORT/v1/realtime/client_secrets"
throughput nginx nginx client_secrets.lua "http://127.0.0.1:$NGINX_PORT/v1/realtime/client_secrets"
stop nginx

# --- voicegate -> emulator -----------------------------------------------------------------

VG_PORT=$(free_port)
vg_env() {  # vg_env PORT DBFILE: the environment of a bench voicegate (add KEY=VALUE after it
  # to override: the last assignment wins)
  echo OPENAI_API_KEY="$API_KEY" OPENAI_BASE_URL="http://127.0.0.1:$EMU_PORT/v1" \
    VOICEGATE_LISTEN="127.0.0.1:$1" DATABASE_URL="sqlite:$2" VOICEGATE_ACCESS_LOG=0 \
    VOICEGATE_LOG_LEVEL=warn VOICEGATE_THREADS="$LOOPS" VOICEGATE_UPSTREAM_POOL="$POOL" \
    VOICEGATE_SQLITE_SYNCHRONOUS="$SQLITE_SYNC" \
    VOICEGATE_RATE_USER=1000000/s VOICEGATE_RATE_IP=1000000/s \
    VOICEGATE_QUOTA_CONCURRENT=1000000 VOICEGATE_QUOTA_SESSIONS_PER_DAY=100000000 \
    VOICEGATE_QUOTA_MINUTES_PER_DAY=100000000
}
TOKEN_BODY='{"userId":"bench-smoke","sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}'
reading
START_voicegate=$(cat "$WORK/last-reading")
# shellcheck disable=SC2046  # vg_env's words are KEY=VALUE without spaces
start voicegate env -i PATH="$PATH" $(vg_env "$VG_PORT" "$WORK/vg.db") "$VG" serve
wait_ready voicegate "http://127.0.0.1:$VG_PORT/readyz"
curl -sf -m 5 -o "$WORK/voicegate.smoke.txt" -H 'Content-Type: application/json' -d "$TOKEN_BODY" \
  "http://127.0.0.1:$VG_PORT/api/realtime/token" || die "voicegate: POST /api/realtime/token failed"
grep -q '"token" *: *"ek_' "$WORK/voicegate.smoke.txt" || die "voicegate: unexpected answer: $(head -c 300 "$WORK/voicegate.smoke.txt")"
throughput voicegate voicegate token.lua "http://127.0.0.1:$VG_PORT/api/realtime/token"

# --- voicegate with JWT auth, Redis limiter, PostgreSQL store -> emulator ------------------

# The same requests as above from the same 256 users, each with its own HS256 token (generated
# offline under a random per-run secret), limits decided in Redis, sessions in PostgreSQL.
if [ "$SERVICES_OK" = 1 ]; then
  JWT_SECRET_BENCH=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')
  JWT_SECRET="$JWT_SECRET_BENCH" node "$BENCH/jwt-tokens.js" "$WORK/jwt-tokens.lua" 256 ||
    die "bench/jwt-tokens.js failed"
  export WRK_JWT_FILE="$WORK/jwt-tokens.lua"
  VGJWT_PORT=$(free_port)
  reading
  START_vgjwt=$(cat "$WORK/last-reading")
  # shellcheck disable=SC2046
  start vgjwt env -i PATH="$PATH" $(vg_env "$VGJWT_PORT" "$WORK/unused.db") \
    DATABASE_URL="$PG_URL?schema=bench_token" REDIS_URL="$REDIS_URL" \
    VOICEGATE_REDIS_KEY_PREFIX="bench:" VOICEGATE_AUTH=jwt JWT_SECRET="$JWT_SECRET_BENCH" "$VG" serve
  wait_ready vgjwt "http://127.0.0.1:$VGJWT_PORT/readyz"
  FIRST_JWT=$(sed -n '2s/^ *"\(.*\)",$/\1/p' "$WRK_JWT_FILE")
  curl -sf -m 5 -o "$WORK/vgjwt.smoke.txt" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $FIRST_JWT" -d '{"sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}' \
    "http://127.0.0.1:$VGJWT_PORT/api/realtime/token" || die "voicegate (JWT, Redis, PostgreSQL): POST /api/realtime/token failed"
  grep -q '"token" *: *"ek_' "$WORK/vgjwt.smoke.txt" || die "voicegate (JWT, Redis, PostgreSQL): unexpected answer: $(head -c 300 "$WORK/vgjwt.smoke.txt")"
  curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$TOKEN_BODY" \
    "http://127.0.0.1:$VGJWT_PORT/api/realtime/token" >"$WORK/vgjwt.noauth.txt" || true
  [ "$(cat "$WORK/vgjwt.noauth.txt")" = 401 ] || die "voicegate (JWT): a request without a token was not refused with 401"
  throughput voicegate-jwt-pg vgjwt token_jwt.lua "http://127.0.0.1:$VGJWT_PORT/api/realtime/token"
  stop vgjwt
else
  result voicegate-jwt-pg skipped="$(q "$SERVICES_WHY")"
fi

# --- Express -> emulator -------------------------------------------------------------------

EXPRESS_PORT=$(free_port)
reading
START_express=$(cat "$WORK/last-reading")
start express env -i PATH="$PATH" NODE_ENV=production HOST=127.0.0.1 PORT="$EXPRESS_PORT" \
  OPENAI_API_KEY="$API_KEY" OPENAI_BASE_URL="http://127.0.0.1:$EMU_PORT/v1" \
  node "$EXPRESS/server.js"
wait_ready express -H 'Content-Type: application/json' -d "$TOKEN_BODY" \
  "http://127.0.0.1:$EXPRESS_PORT/api/realtime/token"
grep -q '"token" *: *"ek_' "$WORK/express.ready.txt" || die "express: unexpected answer: $(head -c 300 "$WORK/express.ready.txt")"
throughput express express token.lua "http://127.0.0.1:$EXPRESS_PORT/api/realtime/token"
stop express

# --- added latency at a fixed rate (1,000 req/s) ------------------------------------------

for target in emulator voicegate; do
  if [ "$target" = emulator ]; then
    script=client_secrets.lua url="$SECRETS_URL"
  else
    script=token.lua url="http://127.0.0.1:$VG_PORT/api/realtime/token"
  fi
  pace_threads=$((WRK_THREADS < PACE_CONNS ? WRK_THREADS : PACE_CONNS))
  log "paced-$target: $RATE req/s over $PACE_CONNS connections, ${DURATION}s"
  WRK_THREADS=$pace_threads WRK_RATE=$RATE wrk_run "paced-$target-warmup" "$script" "$url" -t"$pace_threads" -c"$PACE_CONNS" -d1s
  reading
  before=$(cat "$WORK/last-reading")
  WRK_THREADS=$pace_threads WRK_RATE=$RATE wrk_run "paced-$target" "$script" "$url" -t"$pace_threads" -c"$PACE_CONNS" -d"${DURATION}s"
  reading
  # for voicegate: upstream connections opened at a steady 1,000/s, after the warm-up (should be 0)
  result "paced-$target" server="\"$target\"" upstream_conns_run="$(conns_since "$before" "$(cat "$WORK/last-reading")")"
  log "paced-$target: $(summary_line "paced-$target")"
done

# --- /end throughput: SQLite, then PostgreSQL ----------------------------------------------

# wrk has no request-count limit, and a repeated /end is not a durable write: the measured run
# must end each id at most once. So: issue ids with /token, end a fifth of them in a 1 s warm-up
# whose rate sizes the rest (issuing more if needed), then end the rest within -d.
issue_ids() {  # issue_ids PORT SECONDS FILE: append the ids of SECONDS of /token on PORT to FILE
  WRK_IDS_FILE="$WORK/ids.new" wrk_run "issue-$2" issue.lua "http://127.0.0.1:$1/api/realtime/token" \
    -t"$WRK_THREADS" -c"$CONNS" -d"$2s"
  cat "$WORK"/ids.new.* >>"$3"
  rm -f "$WORK"/ids.new.*
  LAST_ISSUE="issue-$2"
}
rate_of() {  # rate_of LABEL: answers per second of a wrk run
  node -e 'const w = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(Math.max(1, Math.round(w.requests / (w.duration_us / 1e6))));' "$WORK/$1.wrk.json"
}
# end_run LABEL NAME PORT [KEY=VALUE...]: /end throughput of server NAME listening on PORT; the
# KEY=VALUEs go into its result.
end_run() {
  local label=$1 name=$2 port=$3
  shift 3
  local var="PID_$name" ids="$WORK/ids-$label"
  log "$label: issuing sessions for ${ISSUE_DURATION}s"
  issue_ids "$port" "$ISSUE_DURATION" "$ids.all"
  local issued warm_ids end_rate need main_ids round more issue_rate end_seconds cpu0 cpu
  issued=$(wc -l <"$ids.all")
  [ "$issued" -ge 1000 ] || die "$label: only $issued session ids were issued"
  warm_ids=$((issued / 5))
  head -n "$warm_ids" "$ids.all" >"$ids.warm"
  tail -n +"$((warm_ids + 1))" "$ids.all" >"$ids.main"
  WRK_IDS_FILE="$ids.warm" wrk_run "$label-warmup" end.lua "http://127.0.0.1:$port/api/realtime/end" \
    -t"$WRK_THREADS" -c"$CONNS" -d1s
  end_rate=$(rate_of "$label-warmup")  # repeats included if the warm-up ran out: still the right order
  need=$((end_rate * END_DURATION * 3 / 2))  # 1.5x margin: the measured run may be faster
  main_ids=$(wc -l <"$ids.main")
  for round in 1 2 3; do
    [ "$main_ids" -lt "$need" ] || break
    issue_rate=$(rate_of "$LAST_ISSUE")
    more=$(((need - main_ids + issue_rate - 1) / issue_rate + 1))
    [ "$more" -le 60 ] || more=60
    log "$label: /end runs at ~$end_rate/s: issuing ${more}s more sessions ($round)"
    issue_ids "$port" "$more" "$ids.main"
    main_ids=$(wc -l <"$ids.main")
  done
  end_seconds=$((main_ids * 2 / (end_rate * 3)))
  [ "$end_seconds" -le "$END_DURATION" ] || end_seconds=$END_DURATION
  [ "$end_seconds" -ge 1 ] || end_seconds=1
  reset_peak "${!var}"
  cpu0=$(cpu_ticks "${!var}")
  log "$label: $main_ids sessions to end, wrk -t$WRK_THREADS -c$CONNS -d${end_seconds}s"
  WRK_IDS_FILE="$ids.main" wrk_run "$label" end.lua "http://127.0.0.1:$port/api/realtime/end" \
    -t"$WRK_THREADS" -c"$CONNS" -d"${end_seconds}s"
  cpu=$(($(cpu_ticks "${!var}") - cpu0))
  result "$label" server="\"$name\"" rss_peak_kb="$(mem_kb "${!var}" VmHWM)" issued="$main_ids" \
    duration_s="$end_seconds" cpu_s="$(awk -v t="$cpu" -v h="$CLK_TCK" 'BEGIN { print t / h }')" "$@"
  log "$label: $(summary_line "$label")"
}
end_run end voicegate "$VG_PORT" store='"sqlite"' sqlite_synchronous="\"$SQLITE_SYNC\""

sleep 2
result voicegate-after-load rss_kb="$(mem_kb "$PID_voicegate" VmRSS)" \
  lifetime_peak_kb="$(mem_kb "$PID_voicegate" VmHWM)"
stop voicegate

# A voicegate on PostgreSQL (no auth, in-process limiter, as the SQLite run): the store alone.
if [ "$SERVICES_OK" = 1 ]; then
  VGPG_PORT=$(free_port)
  # shellcheck disable=SC2046
  start vgpg env -i PATH="$PATH" $(vg_env "$VGPG_PORT" "$WORK/unused.db") \
    DATABASE_URL="$PG_URL?schema=bench_end" "$VG" serve
  wait_ready vgpg "http://127.0.0.1:$VGPG_PORT/readyz"
  end_run end-pg vgpg "$VGPG_PORT" store='"postgresql"' pg_fsync="$(pg_setting fsync)" \
    pg_synchronous_commit="$(pg_setting synchronous_commit)"
  stop vgpg
else
  result end-pg skipped="$(q "$SERVICES_WHY")"
fi

# --- memory: idle, then 10,000 idle client connections -------------------------------------

MEM_PORT=$(free_port)
# shellcheck disable=SC2046
start vgmem env -i PATH="$PATH" $(vg_env "$MEM_PORT" "$WORK/vgmem.db") "$VG" serve
wait_ready vgmem "http://127.0.0.1:$MEM_PORT/readyz"
sleep 1
FRESH_KB=$(mem_kb "$PID_vgmem" VmRSS)
log "memory: fresh voicegate $FRESH_KB kB; 2 s of /token at -c4, then 2 s quiet"
wrk_run mem-warmup token.lua "http://127.0.0.1:$MEM_PORT/api/realtime/token" -t1 -c4 -d2s
sleep 2
IDLE_KB=$(mem_kb "$PID_vgmem" VmRSS)
IDLE_CONNS_OPEN=null
CONN_KB=null
if [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
  log "memory: SKIPPED $IDLE_CONNS connections: ulimit -n is $NOFILE"
else
  log "memory: opening $IDLE_CONNS idle keep-alive connections"
  start clients node "$BENCH/idle-clients.js" 127.0.0.1 "$MEM_PORT" "$IDLE_CONNS"
  for _ in $(seq 600); do
    grep -q -E '^(READY|FAILED)' "$WORK/clients.log" 2>/dev/null && break
    kill -0 "$PID_clients" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^READY' "$WORK/clients.log" || {
    cat "$WORK/clients.log" >&2
    die "idle clients could not open $IDLE_CONNS connections"
  }
  sleep 2
  CONN_KB=$(mem_kb "$PID_vgmem" VmRSS)
  kill -TERM "$PID_clients"
  for _ in $(seq 50); do
    grep -q '^OPEN' "$WORK/clients.log" && break
    sleep 0.1
  done
  IDLE_CONNS_OPEN=$(sed -n 's/^OPEN //p' "$WORK/clients.log")
  IDLE_CONNS_OPEN=${IDLE_CONNS_OPEN:-null}
  stop clients
fi
result memory fresh_kb="$FRESH_KB" idle_kb="$IDLE_KB" conns="$IDLE_CONNS" conns_open="$IDLE_CONNS_OPEN" \
  conns_kb="$CONN_KB" peak_kb="$(mem_kb "$PID_vgmem" VmHWM)"
stop vgmem

# --- operators: the admin usage query over 1,000,000 seeded sessions, the dashboard's paint ---

# usage_run LABEL PORT DATABASE_URL: seeds USAGE_SESSIONS sessions (voicegate seed: the store's
# own writes, rollups included), serves them, times /api/admin/usage for each groupBy over the
# last 30 days (bench/usage-query.mjs) and, on SQLite, the dashboard's first data paint.
usage_run() {
  local label=$1 port=$2 url=$3 t0 seeded_s var  # label: a result name; the server is "vgusage"
  log "$label: seeding $USAGE_SESSIONS sessions (voicegate seed)"
  t0=$(date +%s)
  env -i PATH="$PATH" VOICEGATE_SQLITE_SYNCHRONOUS="$SQLITE_SYNC" VOICEGATE_STORE_BATCH_MAX=8192 \
    VOICEGATE_LOG_LEVEL=warn "$VG" seed --sessions "$USAGE_SESSIONS" --days 30 --database-url "$url" \
    2> >(sed "s/^/[bench $label] /" >&2) || die "$label: voicegate seed failed"
  seeded_s=$(($(date +%s) - t0))
  # shellcheck disable=SC2046
  start vgusage env -i PATH="$PATH" $(vg_env "$port" "$WORK/unused.db") DATABASE_URL="$url" \
    VOICEGATE_ADMIN_TOKEN="$ADMIN_TOKEN" "$VG" serve
  wait_ready vgusage "http://127.0.0.1:$port/readyz"
  VOICEGATE_ADMIN_TOKEN="$ADMIN_TOKEN" node "$BENCH/usage-query.mjs" "http://127.0.0.1:$port" \
    >"$WORK/$label.query.json" || die "$label: the usage query failed"
  local paint=null
  if [ "${4:-}" = paint ]; then
    if VOICEGATE_ADMIN_TOKEN="$ADMIN_TOKEN" CHROMIUM_PATH=/usr/bin/chromium \
      node "$BENCH/dashboard-paint.mjs" "http://127.0.0.1:$port" --json >"$WORK/$label.paint.json"; then
      paint=$(cat "$WORK/$label.paint.json")
    else
      log "$label: dashboard paint NOT MEASURED (bench/dashboard-paint.mjs failed)"
    fi
  fi
  var=PID_vgusage
  result "$label" sessions="$USAGE_SESSIONS" seed_s="$seeded_s" query="$(cat "$WORK/$label.query.json")" \
    paint="$paint" rss_kb="$(mem_kb "${!var}" VmRSS)"
  log "$label: $(node -e 'const q=JSON.parse(process.argv[1]);console.log(Object.entries(q.groupBy).map(([k,v])=>k+" "+v.median_ms.toFixed(1)+" ms").join(", "))' "$(cat "$WORK/$label.query.json")")"
  stop vgusage
}
USAGE_SESSIONS=${BENCH_USAGE_SESSIONS:-1000000}
ADMIN_TOKEN="bench-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
if [ "${BENCH_USAGE:-1}" = 1 ]; then
  # shellcheck source=../scripts/lib/node.sh
  source "$ROOT/scripts/lib/node.sh"
  npm_ci_if_changed "$ROOT/tests/e2e" "bench: playwright-core for the dashboard paint" >&2
  usage_run usage-sqlite "$(free_port)" "sqlite:$WORK/usage.db" paint
  if [ "$SERVICES_OK" = 1 ]; then
    usage_run usage-pg "$(free_port)" "$PG_URL?schema=bench_usage"
  else
    result usage-pg skipped="$(q "$SERVICES_WHY")"
  fi
else
  result usage-sqlite skipped='"BENCH_USAGE=0"'
  result usage-pg skipped='"BENCH_USAGE=0"'
fi

result emulator-final rss_peak_kb="$(mem_kb "$PID_emulator" VmHWM)"
stop emulator

# --- report --------------------------------------------------------------------------------

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
result meta cores="$CORES" loops="$LOOPS" pool="$POOL" duration_s="$DURATION" warmup_s="$WARMUP" \
  connections="$CONNS" wrk_threads="$WRK_THREADS" pace_connections="$PACE_CONNS" rate="$RATE" \
  end_duration_s="$END_DURATION" pinned="$PIN" load_start="$(q "$LOAD_START")" load_end="$(q "$LOAD_END")" \
  started_at="$(q "$(date -u +%FT%TZ)")" commit="$(q "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)")" \
  voicegate_version="$(q "$("$VG" version 2>/dev/null | head -n1 || echo unknown)")" \
  nginx_version="$(q "$(nginx -v 2>&1 | sed 's/^nginx version: //')")" \
  wrk_version="$(q "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)")" node_version="$(q "$(node -v)")" \
  express_version="$(q "$EXPRESS_VERSION")" kernel="$(q "$(uname -r)")"
node "$BENCH/report.js" "$WORK/results" "$RESULTS_DIR/latest.json"
