#!/usr/bin/env bash
# tests/chaos/run.sh: overload and faults, measured (issue 12, scope 3). Starts the real binary
# (build/voicegate serve, a separate `voicegate emulate` as its upstream) in throw-away dirs on
# 127.0.0.1 only, injects one fault per scenario, and prints one Markdown table row per
# scenario with PASS/FAIL against the bounds stated in its row (docs/reliability.md).
#
#   tests/chaos/run.sh [--quick] [all | SCENARIO...]
#   scenarios: overload idle fd pg redis flap disk kill9 soak  (capacity is measured on demand)
#
# The table goes to stdout and is appended to tests/chaos/results-<UTC date>.md. Exit 0 when
# every scenario ran (a FAIL row is a finding, not a broken run); 1 when a scenario broke.
# Every process runs in its own process group and is killed on exit; PostgreSQL and Redis are
# throw-away (scripts/services.sh under the run's temp dir); the tmpfs of `disk` is unmounted.
#
# Knobs (environment; --quick sets the small values in brackets):
#   CHAOS_CAPACITY          req/s to use as capacity (unset: measured, CHAOS_CAPACITY_DURATION 10 [3] s)
#   CHAOS_OVERLOAD_DURATION 60 [8] s   CHAOS_OVERLOAD_FACTOR 3   CHAOS_OVERLOAD_CONNS "2000 8000" ["1000 4000"]:
#                           one run per connection count (latency = connections / capacity)
#   CHAOS_OVERLOAD_P99_MS 1000  CHAOS_RSS_MB 150 (peak RSS bound under overload)
#   CHAOS_IDLE_CONNS 10000 [2000]  CHAOS_SLOW_CONNS 1000 [200]  CHAOS_IDLE_DURATION 30 [6] s
#   CHAOS_FD_LIMIT 256  CHAOS_FD_DURATION 10 [5] s
#   CHAOS_FAULT_DURATION 10 [4] s (PostgreSQL/Redis down, disk full), CHAOS_POST_DURATION 10 [6] s after it
#   CHAOS_FLAP_DURATION 30 [10] s  CHAOS_FLAP_PERIOD 3 s (upstream up) CHAOS_FLAP_DOWN 1 s
#   CHAOS_KILL_RUNS 3 [1]  CHAOS_KILL_AFTER 5 [3] s
#   CHAOS_SOAK_DURATION 600 [15] s  CHAOS_SOAK_INTERVAL 5 s
#   VOICEGATE_BIN (build/voicegate)
# shellcheck disable=SC2034,SC2154
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHAOS="$ROOT/tests/chaos"
LIB="$CHAOS/lib"
VG=${VOICEGATE_BIN:-$ROOT/build/voicegate}

QUICK=0
SCENARIOS=()
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    all) SCENARIOS+=(overload idle fd pg redis flap disk kill9 soak) ;;
    overload | idle | fd | pg | redis | flap | disk | kill9 | soak | capacity) SCENARIOS+=("$a") ;;
    *) echo "unknown scenario: $a (overload idle fd pg redis flap disk kill9 soak capacity all)" >&2; exit 2 ;;
  esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(overload idle fd pg redis flap disk kill9 soak)

q() { [ "$QUICK" = 1 ] && echo "$2" || echo "$1"; }  # q FULL QUICK
CAP_DUR=${CHAOS_CAPACITY_DURATION:-$(q 10 3)}
OVL_DUR=${CHAOS_OVERLOAD_DURATION:-$(q 60 8)}
OVL_FACTOR=${CHAOS_OVERLOAD_FACTOR:-3}
OVL_CONNS=${CHAOS_OVERLOAD_CONNS:-$(q "2000 8000" "1000 4000")}
OVL_P99_MS=${CHAOS_OVERLOAD_P99_MS:-1000}
RSS_MB=${CHAOS_RSS_MB:-150}
IDLE_CONNS=${CHAOS_IDLE_CONNS:-$(q 10000 2000)}
SLOW_CONNS=${CHAOS_SLOW_CONNS:-$(q 1000 200)}
IDLE_DUR=${CHAOS_IDLE_DURATION:-$(q 30 6)}
FD_LIMIT=${CHAOS_FD_LIMIT:-256}
FD_DUR=${CHAOS_FD_DURATION:-$(q 10 5)}
FAULT_DUR=${CHAOS_FAULT_DURATION:-$(q 10 4)}
POST_DUR=${CHAOS_POST_DURATION:-$(q 10 6)}
FLAP_DUR=${CHAOS_FLAP_DURATION:-$(q 30 10)}
FLAP_PERIOD=${CHAOS_FLAP_PERIOD:-3}
FLAP_DOWN=${CHAOS_FLAP_DOWN:-1}
KILL_RUNS=${CHAOS_KILL_RUNS:-$(q 3 1)}
KILL_AFTER=${CHAOS_KILL_AFTER:-$(q 5 3)}
SOAK_DUR=${CHAOS_SOAK_DURATION:-$(q 600 15)}
SOAK_INTERVAL=${CHAOS_SOAK_INTERVAL:-5}
API_KEY=sk-chaos-local  # the emulator accepts any sk- key; nothing leaves 127.0.0.1

log() { printf '[chaos %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
PATH="$PATH:/usr/sbin:/sbin"
for tool in wrk node curl sqlite3 setsid; do
  command -v "$tool" >/dev/null || { log "$tool is missing (scripts/deps.sh installs it)"; exit 1; }
done
[ -x "$VG" ] || { log "$VG is missing: run 'make build'"; exit 1; }

# The idle scenario needs 11,000+ descriptors in the service and in the client: raise the soft
# limit to the hard one (children inherit it; the fd scenario lowers it for its service alone).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voicegate-chaos.XXXXXX")
# PostgreSQL and Redis of this run: never a shared VOICEGATE_SERVICES_DIR (this run stops and
# restarts them); outside $WORK, which is mode 700 and closed to the postgres user.
SVC_DIR="$WORK.svc"
PGIDS=()
BGPIDS=()
MOUNTS=()
BROKEN=0
DATE=$(date -u +%F)
RESULTS="$CHAOS/results-$DATE.md"
ROWS="$WORK/rows.md"
: >"$ROWS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PGIDS[@]}"; do stop_group "$p"; done
  if [ -d "$SVC_DIR" ]; then
    VOICEGATE_SERVICES_DIR="$SVC_DIR" "$ROOT/scripts/services.sh" stop >/dev/null 2>&1 || true
    rm -rf "$SVC_DIR"
  fi
  for p in "${MOUNTS[@]}"; do umount -l "$p" 2>/dev/null || true; done
  if [ "${CHAOS_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

stop_group() {  # stop_group PGID: TERM, up to 5 s grace, then KILL
  local pg=$1
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$pg" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
}

USED_PORTS=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      echo "$p"
      return 0
    fi
  done
  log "no free port"
  return 1
}

# start NAME [NOFILE] -- CMD...: CMD in its own process group (setsid), cwd $WORK (no developer
# .env), output to $WORK/NAME.log; sets PID_NAME. NOFILE: its `ulimit -n` (default: ours).
start() {
  local name=$1 nofile=$NOFILE
  shift
  if [ "$1" != -- ]; then nofile=$1; shift; fi
  shift
  # CHAOS_CORES=1: core dumps allowed (written to $WORK; keep it with CHAOS_KEEP=1).
  (cd "$WORK" && ulimit -n "$nofile" && { [ "${CHAOS_CORES:-0}" = 1 ] && ulimit -c unlimited; true; } &&
    exec setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null) &
  local pid=$!
  PGIDS+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
}
stop() {  # stop NAME
  local var="PID_$1"
  [ -n "${!var:-}" ] || return 0
  stop_group "${!var}"
  local keep=() pg
  for pg in "${PGIDS[@]}"; do [ "$pg" = "${!var}" ] || keep+=("$pg"); done
  PGIDS=("${keep[@]}")
}
kill9() {  # kill9 NAME: SIGKILL, no grace
  local var="PID_$1"
  kill -KILL -- "-${!var}" 2>/dev/null
  wait "${!var}" 2>/dev/null
  local keep=() pg
  for pg in "${PGIDS[@]}"; do [ "$pg" = "${!var}" ] || keep+=("$pg"); done
  PGIDS=("${keep[@]}")
}
alive() { local var="PID_$1"; kill -0 "${!var}" 2>/dev/null; }
# died NAME: sets DIED_NOTE to "service DIED (exit STATUS, signal): its last log line" and keeps
# its log in tests/chaos/logs/ (not in a $(...): wait works only in the shell that started it).
died() {
  local var="PID_$1" rc
  wait "${!var}" 2>/dev/null
  rc=$?
  mkdir -p "$CHAOS/logs"
  DIED_NOTE="service DIED (exit $rc$( [ "$rc" -gt 128 ] && echo ", signal $(kill -l $((rc - 128)) 2>/dev/null)")): $(grep -v 'warning upstream' "$WORK/$1.log" | tail -1 | cut -c1-200)"
  cp "$WORK/$1.log" "$CHAOS/logs/died-$1-$(date -u +%H%M%S).log" 2>/dev/null
}

wait_http() {  # wait_http NAME URL [SECONDS=10]: until URL answers 2xx; 1 if it did not or NAME died
  local name=$1 url=$2 n=$((${3:-10} * 10))
  for _ in $(seq "$n"); do
    alive "$name" || { log "$name exited: $(tail -n 5 "$WORK/$name.log")"; return 1; }
    curl -sf -m 1 -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  log "$name did not answer $url: $(tail -n 5 "$WORK/$name.log")"
  return 1
}

now_ms() { date +%s%3N; }

# --- the service and its upstream ----------------------------------------------------------

EMU_PORT=""
ensure_emulator() {  # one shared `voicegate emulate` for the scenarios that do not break it
  [ -n "$EMU_PORT" ] && alive emulator && return 0
  EMU_PORT=$(free_port) || return 1
  start emulator -- "$VG" emulate --listen "127.0.0.1:$EMU_PORT" --threads 1 --log-level warn
  wait_http emulator "http://127.0.0.1:$EMU_PORT/_emulator/stats"
}

# vg_env PORT DBURL UPSTREAM_PORT: a voicegate's environment, limits and quotas raised so that
# nothing is refused (as in bench/); extra KEY=VALUE words after it override (last one wins).
vg_env() {
  echo PATH="$PATH" OPENAI_API_KEY="$API_KEY" OPENAI_BASE_URL="http://127.0.0.1:$3/v1" \
    VOICEGATE_LISTEN="127.0.0.1:$1" DATABASE_URL="$2" VOICEGATE_ACCESS_LOG=0 \
    VOICEGATE_LOG_LEVEL=warn VOICEGATE_RATE_USER=1000000/s VOICEGATE_RATE_IP=1000000/s \
    VOICEGATE_QUOTA_CONCURRENT=1000000 VOICEGATE_QUOTA_SESSIONS_PER_DAY=100000000 \
    VOICEGATE_QUOTA_MINUTES_PER_DAY=100000000
}
# start_vg NAME PORT DBURL [NOFILE] [KEY=VALUE...]: starts voicegate serve, waits for /healthz.
start_vg() {
  local name=$1 port=$2 db=$3 nofile=$NOFILE
  shift 3
  if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then nofile=$1; shift; fi
  # shellcheck disable=SC2046  # vg_env's words are KEY=VALUE without spaces
  start "$name" "$nofile" -- env -i $(vg_env "$port" "$db" "${UP_PORT:-$EMU_PORT}") "$@" "$VG" serve
  wait_http "$name" "http://127.0.0.1:$port/healthz"
}

TOKEN_BODY='{"userId":"chaos-probe","sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}'
token_status() {  # token_status PORT [MAX_S=5]: "STATUS SECONDS" of one /token
  curl -s -m "${2:-5}" -o /dev/null -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    -d "${TOKEN_BODY/chaos-probe/chaos-probe-$RANDOM$RANDOM}" "http://127.0.0.1:$1/api/realtime/token" 2>/dev/null || true
}
# recover_after PORT START_MS LIMIT_S FAST_S: polls /token every 100 ms until a 200 within FAST_S;
# prints the ms from START_MS to that answer, or -1 after LIMIT_S.
recover_after() {
  local port=$1 t0=$2 limit=$3 fast=$4 r code secs
  while [ $(($(now_ms) - t0)) -lt $((limit * 1000)) ]; do
    r=$(token_status "$port" 2)
    code=${r%% *} secs=${r##* }
    if [ "$code" = 200 ] && awk -v s="$secs" -v f="$fast" 'BEGIN { exit !(s <= f) }'; then
      echo $(($(now_ms) - t0))
      return 0
    fi
    sleep 0.1
  done
  echo -1
}

proc_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { local n; n=$(ls "/proc/$1/fd" 2>/dev/null | wc -l); echo "$n"; }
# sampler PID INTERVAL FILE: "ms rss_kb anon_kb fds" lines until PID dies or we kill it.
sampler() {
  local pid=$1 iv=$2 out=$3
  (
    while kill -0 "$pid" 2>/dev/null; do
      echo "$(now_ms) $(proc_field "$pid" VmRSS) $(proc_field "$pid" RssAnon) $(fd_count "$pid")"
      sleep "$iv"
    done
  ) >>"$out" 2>/dev/null &
  SAMPLER_PID=$!
  BGPIDS+=("$SAMPLER_PID")
}
stop_sampler() { kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; }
peak_mb() { awk '{ if ($2 > m) m = $2 } END { printf "%.1f", m / 1024 }' "$1"; }
peak_col() { awk -v c="$2" '{ if ($c > m) m = $c } END { print m + 0 }' "$1"; }

# loop_client NAME URL key=value...: client.js loop in the background (its LOOPJSON in NAME.log)
loop_client() {
  local name=$1
  shift
  start "$name" -- node "$LIB/client.js" loop "$@"
}
loop_json() { sed -n 's/^LOOPJSON //p' "$WORK/$1.log"; }
wait_pid() {  # wait_pid NAME SECONDS: until NAME exits (at most SECONDS), then stop it
  local var="PID_$1"
  for _ in $(seq $(($2 * 10))); do kill -0 "${!var}" 2>/dev/null || break; sleep 0.1; done
  stop "$1"
  wait "${!var}" 2>/dev/null
}
jq_() { node -e 'const o = JSON.parse(process.argv[1]); const v = (0, eval)("(o) => " + process.argv[2])(o); console.log(v === undefined ? "" : v)' "$1" "$2"; }

# --- results ---------------------------------------------------------------------------------

row() {  # row SCENARIO BOUNDS MEASURED VERDICT
  local line="| $1 | $2 | $3 | **$4** |"
  echo "$line" >>"$ROWS"
  echo "$line"
}
verdict() { [ "$1" = 0 ] && echo PASS || echo FAIL; }  # verdict FAILURES

# --- scenarios -------------------------------------------------------------------------------

CAPACITY=${CHAOS_CAPACITY:-}
measure_capacity() {
  [ -n "$CAPACITY" ] && return 0
  ensure_emulator || return 1
  local port db out
  port=$(free_port)
  start_vg vgcap "$port" "sqlite:$WORK/cap.db" || return 1
  log "capacity: wrk -t2 -c64 closed-loop, 2 s warm-up then ${CAP_DUR} s"
  wrk -t2 -c64 -d2s --timeout 10s -s "$LIB/token.lua" "http://127.0.0.1:$port/api/realtime/token" >/dev/null 2>&1
  out=$(wrk -t2 -c64 -d"${CAP_DUR}s" --timeout 10s -s "$LIB/token.lua" \
    "http://127.0.0.1:$port/api/realtime/token" 2>&1 | sed -n 's/^WRKJSON //p')
  stop vgcap
  [ -n "$out" ] || { log "capacity: wrk printed no summary"; return 1; }
  CAPACITY=$(jq_ "$out" 'Math.round(o.requests / (o.duration_us / 1e6))')
  local p99
  p99=$(jq_ "$out" '(o.latency_us.p99 / 1000).toFixed(1)')
  row capacity "informational: closed loop, 64 conns, ${CAP_DUR} s" \
    "**${CAPACITY} req/s** of /token (distinct user each), p99 ${p99} ms, statuses $(jq_ "$out" 'JSON.stringify(o.status)')" INFO
}

scenario_capacity() { measure_capacity; }

scenario_overload() {
  measure_capacity || return 1
  ensure_emulator || return 1
  local c
  for c in $OVL_CONNS; do overload_run "$c" || return 1; done
}

# overload_run CONNS: FACTOR x capacity offered over CONNS connections for OVL_DUR s.
overload_run() {
  local conns=$1 port rate out samples t_end rec fails=0 notes=()
  port=$(free_port)
  local db="$WORK/ovl-$conns.db"
  start_vg vgovl "$port" "sqlite:$db" || return 1
  rate=$((CAPACITY * OVL_FACTOR))
  samples="$WORK/ovl-$conns.samples"
  sampler "$PID_vgovl" 1 "$samples"
  log "overload: ${rate} req/s offered (${OVL_FACTOR}x ${CAPACITY}) over ${conns} connections, ${OVL_DUR} s"
  out=$(WRK_THREADS=2 WRK_RATE=$rate wrk -t2 -c"$conns" -d"${OVL_DUR}s" --timeout 10s --latency \
    -s "$LIB/token.lua" "http://127.0.0.1:$port/api/realtime/token" 2>&1 | tee "$WORK/ovl.wrk" | sed -n 's/^WRKJSON //p')
  t_end=$(now_ms)
  # Measured up to CHAOS_RECOVERY_LIMIT (60 s) to give the figure; the bound is 5 s.
  rec=$(recover_after "$port" "$t_end" "${CHAOS_RECOVERY_LIMIT:-60}" 0.1)
  sleep 1
  stop_sampler
  local rss_before rss_peak fd_after
  rss_before=$(awk 'NR == 1 { printf "%.1f", $2 / 1024 }' "$samples")
  rss_peak=$(peak_mb "$samples")
  fd_after=$(fd_count "$PID_vgovl")
  alive vgovl || { fails=$((fails + 1)); died vgovl; notes+=("$DIED_NOTE"); }
  stop vgovl
  # Sessions recorded vs 200s that wrk saw: the surplus are tokens minted and recorded for
  # requests whose client had gone (wrk's timeouts, and its connections closed at the end).
  local recorded other_by
  recorded=$(sqlite3 "$db" "SELECT count(*) FROM sessions" 2>/dev/null || echo '?')
  [ -n "$out" ] || { log "overload: wrk printed no summary: $(tail -5 "$WORK/ovl.wrk")"; return 1; }
  local req dur achieved s200 s429 s503 sother econn eread ewrite etime p50 p99 p999 max
  eval "$(jq_ "$out" '`req=${o.requests} dur=${(o.duration_us/1e6).toFixed(1)} s200=${o.status["200"]} s429=${o.status["429"]} s503=${o.status["503"]} sother=${o.status.other} econn=${o.errors.connect} eread=${o.errors.read} ewrite=${o.errors.write} etime=${o.errors.timeout} p50=${(o.latency_us.p50/1000).toFixed(0)} p99=${(o.latency_us.p99/1000).toFixed(0)} p999=${(o.latency_us.p999/1000).toFixed(0)} max=${(o.latency_us.max/1000).toFixed(0)}`')"
  achieved=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%d", r / d }')
  other_by=$(jq_ "$out" "Object.entries(o.other_by || {}).map(([k, v]) => k + '×' + v).join(', ')")
  [ "$sother" = 0 ] || { fails=$((fails + 1)); notes+=("statuses other than 200/429/503"); }
  [ $((eread + ewrite)) = 0 ] || { fails=$((fails + 1)); notes+=("resets/read errors"); }
  [ "$p99" -le "$OVL_P99_MS" ] || { fails=$((fails + 1)); notes+=("p99 over bound"); }
  awk -v a="$rss_peak" -v b="$RSS_MB" 'BEGIN { exit !(a <= b) }' || { fails=$((fails + 1)); notes+=("RSS over bound"); }
  { [ "$rec" -ge 0 ] && [ "$rec" -le 5000 ]; } || { fails=$((fails + 1)); notes+=("no recovery in 5 s"); }
  [ "$rec" -ge 0 ] || rec=">${CHAOS_RECOVERY_LIMIT:-60}000"
  [ "$s503" -gt 0 ] || notes+=("no 503 at all: no load shedding")
  row "overload (${conns} conns)" "only 200/429/503; 0 resets; p99 ≤ ${OVL_P99_MS} ms; peak RSS ≤ ${RSS_MB} MB; a fast (≤ 100 ms) 200 within 5 s after" \
    "offered ${rate}/s (${OVL_FACTOR}× ${CAPACITY}) on ${conns} conns for ${dur} s: answered ${achieved}/s; 200=${s200} 429=${s429} 503=${s503} other=${sother}${other_by:+ (${other_by})}; sessions recorded ${recorded}; socket errors connect=${econn} read=${eread} write=${ewrite} timeout(10 s)=${etime}; latency p50 ${p50} ms, p99 ${p99} ms, p99.9 ${p999} ms, max ${max} ms; RSS ${rss_before} → peak ${rss_peak} MB; fds 1 s after recovery ${fd_after}; recovery ${rec} ms$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

scenario_idle() {
  ensure_emulator || return 1
  local need=$((IDLE_CONNS + SLOW_CONNS + 300))
  if [ "$NOFILE" -lt "$need" ]; then
    row idle "needs ulimit -n ≥ $need" "NOT MEASURED: the hard limit is $NOFILE" SKIP
    return 0
  fi
  local port samples fails=0 notes=()
  port=$(free_port)
  start_vg vgidle "$port" "sqlite:$WORK/idle.db" || return 1
  curl -s -o /dev/null -H 'Content-Type: application/json' -d "$TOKEN_BODY" "http://127.0.0.1:$port/api/realtime/token"
  sleep 1
  local rss0 fd0
  rss0=$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(proc_field "$PID_vgidle" VmRSS)")
  fd0=$(fd_count "$PID_vgidle")
  samples="$WORK/idle.samples"
  sampler "$PID_vgidle" 1 "$samples"
  log "idle: opening $IDLE_CONNS idle connections"
  start idlec -- node "$LIB/client.js" idle 127.0.0.1 "$port" "$IDLE_CONNS" hold=$((IDLE_DUR + 60))
  for _ in $(seq 400); do grep -q '^IDLE ' "$WORK/idlec.log" 2>/dev/null && break; sleep 0.1; done
  local idle_json
  idle_json=$(sed -n 's/^IDLE //p' "$WORK/idlec.log")
  log "idle: $idle_json; $SLOW_CONNS slowloris + normal client for ${IDLE_DUR} s"
  start slowc -- node "$LIB/client.js" slowloris 127.0.0.1 "$port" "$SLOW_CONNS" hold=$((IDLE_DUR + 60)) gap=2000
  sleep 1
  loop_client normc "http://127.0.0.1:$port" conns=4 rate=50 duration="$IDLE_DUR" timeout=5000 user=normal
  wait_pid normc $((IDLE_DUR + 10))
  local during_fd during_rss
  during_fd=$(peak_col "$samples" 4)
  during_rss=$(peak_mb "$samples")
  stop slowc
  stop idlec
  sleep 3
  stop_sampler
  local rss1 fd1 norm
  rss1=$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(proc_field "$PID_vgidle" VmRSS)")
  fd1=$(fd_count "$PID_vgidle")
  alive vgidle || { fails=$((fails + 1)); died vgidle; notes+=("$DIED_NOTE"); }
  stop vgidle
  norm=$(loop_json normc)
  local n_ok n_all p50 p99 slow
  n_ok=$(jq_ "$norm" 'o.counts["token:200"] || 0')
  n_all=$(jq_ "$norm" 'o.answers')
  p50=$(jq_ "$norm" 'o.p50_ms')
  p99=$(jq_ "$norm" 'o.p99_ms')
  slow=$(sed -n 's/^SLOWEND //p' "$WORK/slowc.log")
  [ "$n_ok" = "$n_all" ] && [ "$n_all" -gt 0 ] || { fails=$((fails + 1)); notes+=("normal client errors"); }
  awk -v a="$p99" 'BEGIN { exit !(a <= 250) }' || { fails=$((fails + 1)); notes+=("p99 over bound"); }
  [ "$(jq_ "$idle_json" 'o.answered')" = "$IDLE_CONNS" ] || { fails=$((fails + 1)); notes+=("not every idle connection answered"); }
  awk -v a="$during_rss" 'BEGIN { exit !(a <= 100) }' || { fails=$((fails + 1)); notes+=("RSS over 100 MB"); }
  [ "$fd1" -le $((fd0 + 5)) ] || { fails=$((fails + 1)); notes+=("fds not released"); }
  row idle "normal client: 0 errors, p99 ≤ 250 ms; all idle answered; RSS ≤ 100 MB during; fds back after" \
    "${IDLE_CONNS} idle ($(jq_ "$idle_json" 'o.answered') answered) + ${SLOW_CONNS} slowloris (1 B/2 s; $(jq_ "$slow" '`${o.opened} opened, ${o.closedByServer} cut by the server after ${(o.life_min_ms/1000).toFixed(1)}–${(o.life_max_ms/1000).toFixed(1)} s`')) for ${IDLE_DUR} s; normal client ${n_ok}/${n_all} 200, p50 ${p50} ms, p99 ${p99} ms; fds ${fd0} → ${during_fd} → ${fd1}; RSS ${rss0} → ${during_rss} → ${rss1} MB$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

scenario_fd() {
  ensure_emulator || return 1
  local port fails=0 notes=() conns=$((FD_LIMIT + 100))
  port=$(free_port)
  start_vg vgfd "$port" "sqlite:$WORK/fd.db" "$FD_LIMIT" || return 1
  local fd0
  fd0=$(fd_count "$PID_vgfd")
  log "fd: service ulimit -n $FD_LIMIT ($fd0 open), $conns idle connections"
  start idlefd -- node "$LIB/client.js" idle 127.0.0.1 "$port" "$conns" hold=$((FD_DUR + 60))
  for _ in $(seq 100); do grep -q '^IDLE ' "$WORK/idlefd.log" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  local l0 t0 ok=0 fail=0 r codes=" "
  l0=$(grep -c 'accept failed' "$WORK/vgfd.log")
  t0=$(now_ms)
  while [ $(($(now_ms) - t0)) -lt $((FD_DUR * 1000)) ]; do
    r=$(token_status "$port" 1)
    if [ "${r%% *}" = 200 ]; then ok=$((ok + 1)); else fail=$((fail + 1)); codes+="${r%% *} "; fi
  done
  local l1 secs rate_lines
  l1=$(grep -c 'accept failed' "$WORK/vgfd.log")
  secs=$(((($(now_ms) - t0) + 500) / 1000))
  rate_lines=$(awk -v a="$l1" -v b="$l0" -v s="$secs" 'BEGIN { printf "%.1f", (a - b) / s }')
  local fdmax idle_json
  fdmax=$(fd_count "$PID_vgfd")
  local t_rel rec
  stop idlefd  # its IDLE line (answered, still waiting) is printed on SIGTERM if not before
  idle_json=$(sed -n 's/^IDLE //p' "$WORK/idlefd.log")
  t_rel=$(now_ms)
  rec=$(recover_after "$port" "$t_rel" 10 0.2)
  sleep 1
  local fd1
  fd1=$(fd_count "$PID_vgfd")
  alive vgfd || { fails=$((fails + 1)); died vgfd; notes+=("$DIED_NOTE"); }
  stop vgfd
  local failcodes
  failcodes=$(tr ' ' '\n' <<<"$codes" | sed '/^$/d' | sort | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? ", " : ""), $1, ($2 == "000" ? "timeout" : $2) }')
  { [ "$rec" -ge 0 ] && [ "$rec" -le 1000 ]; } || { fails=$((fails + 1)); notes+=("no recovery within 1 s"); }
  awk -v a="$rate_lines" 'BEGIN { exit !(a <= 1) }' || { fails=$((fails + 1)); notes+=("accept-failure log not rate-limited"); }
  row fd "service alive; normal client recovers ≤ 1 s after release; accept-failure log ≤ 1 line/s" \
    "ulimit -n ${FD_LIMIT}, ${conns} idle ($(jq_ "$idle_json" '`${o.answered} answered, ${o.pending} waiting`')); fds ${fd0} → ${fdmax} → ${fd1}; normal /token (1 s timeout) while exhausted: ${ok} 200, ${fail} failed (${failcodes:-none}); recovery ${rec} ms after release; log: $((l1 - l0)) \"accept failed\" lines in ${secs} s (${rate_lines}/s)$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

# --- PostgreSQL and Redis ------------------------------------------------------------------

SERVICES_UP=0
ensure_services() {
  [ "$SERVICES_UP" = 1 ] && return 0
  local envs
  envs=$(VOICEGATE_SERVICES_DIR="$SVC_DIR" "$ROOT/scripts/services.sh" start 2>"$WORK/services.log") ||
    { log "services did not start: $(tail -3 "$WORK/services.log")"; return 1; }
  eval "$envs"
  PG_URL=$VOICEGATE_TEST_PG_URL
  REDIS_URL_=$VOICEGATE_TEST_REDIS_URL
  PG_PORT=$(cat "$SVC_DIR/pg.port")
  REDIS_PORT=$(cat "$SVC_DIR/redis.port")
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r | head -1)
  PG_OS_USER=$(stat -c %U "$SVC_DIR/pg")
  SERVICES_UP=1
}
detached() {  # a daemon must not inherit our descriptors (pipes, the tee of the table)
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    "$@"
  )
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$SVC_DIR/pg" -m fast -w -t 30 stop >/dev/null 2>&1; }
pg_start() {
  detached as_pg "$PGBIN/pg_ctl" -D "$SVC_DIR/pg" -l "$SVC_DIR/pg.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$SVC_DIR/pg-socket -c max_connections=300" \
    >/dev/null 2>&1
}
psql_() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d voicegate -tAqX -c "$1"; }
redis_stop() { kill "$(cat "$SVC_DIR/redis.pid")" 2>/dev/null; for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || return 0; sleep 0.1; done; }
redis_start() {
  detached redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
    --pidfile "$SVC_DIR/redis.pid" --logfile "$SVC_DIR/redis.log" --dir "$SVC_DIR" >/dev/null 2>&1
  for _ in $(seq 50); do [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done
  return 1
}

# durability NAME LOG FETCH_TOKEN_IDS FETCH_ENDED_IDS: compares the client's 200s with the store;
# sets MISSING_T, MISSING_E, N_T, N_E.
durability() {
  local logf=$2
  node "$LIB/analyze.js" ids "$logf" token | sort -u >"$WORK/$1.ok-token"
  node "$LIB/analyze.js" ids "$logf" end | sort -u >"$WORK/$1.ok-end"
  $3 | sort -u >"$WORK/$1.db-token"
  $4 | sort -u >"$WORK/$1.db-ended"
  N_T=$(wc -l <"$WORK/$1.ok-token")
  N_E=$(wc -l <"$WORK/$1.ok-end")
  MISSING_T=$(comm -23 "$WORK/$1.ok-token" "$WORK/$1.db-token" | wc -l)
  MISSING_E=$(comm -23 "$WORK/$1.ok-end" "$WORK/$1.db-ended" | wc -l)
}

# fault_run NAME PORT CONNS END(0/1) PRE FAULT POST FAULT_CMD RESTORE_CMD SERVICE: a client loop
# for PRE+FAULT+POST s; FAULT_CMD at PRE, RESTORE_CMD after FAULT s; sets PHASES (analyze.js
# JSON), READY_DURING (the /readyz codes seen during the fault), LOOP (the client's LOOPJSON),
# LOG_DURING (lines SERVICE logged from FAULT_CMD to RESTORE_CMD, and per second).
fault_run() {
  local name=$1 port=$2 conns=$3 withend=$4 pre=$5 fault=$6 post=$7 fcmd=$8 rcmd=$9 svc=${10}
  local logf="$WORK/$name.requests"
  : >"$logf"
  loop_client "${name}c" "http://127.0.0.1:$port" conns="$conns" end="$withend" duration=$((pre + fault + post)) \
    timeout=10000 log="$logf" user="$name"
  sleep "$pre"
  local fs fe
  local l0 l1
  l0=$(wc -l <"$WORK/$svc.log")
  fs=$(now_ms)
  $fcmd
  READY_DURING=""
  while [ $(($(now_ms) - fs)) -lt $((fault * 1000)) ]; do
    READY_DURING+="$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") "
    sleep 1
  done
  $rcmd
  fe=$(now_ms)
  l1=$(wc -l <"$WORK/$svc.log")
  LOG_DURING="$((l1 - l0)) lines ($(awk -v n=$((l1 - l0)) -v ms=$((fe - fs)) 'BEGIN { printf "%.0f", n * 1000 / ms }')/s)"
  wait_pid "${name}c" $((post + 15))
  LOOP=$(loop_json "${name}c")
  PHASES=$(node "$LIB/analyze.js" phases "$logf" "$fs" "$fe")
  READY_DURING=$(tr ' ' '\n' <<<"$READY_DURING" | sed '/^$/d' | sort | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? ", " : ""), $1, $2 }')
}
# statuses JSON-PHASE: "token:200=12 end:503=3 ..." of one phase object
statuses() { jq_ "$PHASES" "Object.entries(o.$1).map(([k, v]) => k + '=' + v).join(' ') || 'none'"; }
# bad_statuses PHASE ALLOWED-REGEX: how many answers of the phase have a status outside ALLOWED
bad_statuses() { jq_ "$PHASES" "Object.entries(o.$1).filter(([k]) => !/^(token|end):($2)\$/.test(k)).reduce((a, [, v]) => a + v, 0)"; }

scenario_pg() {
  ensure_emulator || return 1
  ensure_services || { row pg "—" "NOT MEASURED: PostgreSQL did not start ($(tail -1 "$WORK/services.log"))" SKIP; return 0; }
  local port fails=0 notes=() schema=chaos_pg
  port=$(free_port)
  start_vg vgpg "$port" "$PG_URL?schema=$schema" || return 1
  log "pg: token+end loop, PostgreSQL stopped for ${FAULT_DUR} s"
  fault_run pg "$port" 8 1 4 "$FAULT_DUR" "$POST_DUR" pg_stop pg_start vgpg
  alive vgpg || { fails=$((fails + 1)); died vgpg; notes+=("$DIED_NOTE"); }
  local ready_after
  ready_after=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  stop vgpg
  fetch_t() { psql_ "SELECT session_id FROM $schema.sessions"; }
  fetch_e() { psql_ "SELECT session_id FROM $schema.sessions WHERE status = 'ended'"; }
  durability pg "$WORK/pg.requests" fetch_t fetch_e
  local bad rec last no_ra
  bad=$(($(bad_statuses during '200|503') + $(bad_statuses after '200|503')))
  rec=$(jq_ "$PHASES" 'o.recovery_ms')
  last=$(jq_ "$PHASES" 'o.last_fail_ms')
  no_ra=$(jq_ "$PHASES" 'o.no_retry_after_503')
  [ $((MISSING_T + MISSING_E)) = 0 ] || { fails=$((fails + 1)); notes+=("200s missing in PostgreSQL"); }
  [ "$bad" = 0 ] || { fails=$((fails + 1)); notes+=("failures other than 503"); }
  [ "$no_ra" = 0 ] || { fails=$((fails + 1)); notes+=("503 without Retry-After"); }
  { [ "$rec" -ge 0 ] && [ "$last" -le 5000 ]; } || { fails=$((fails + 1)); notes+=("no recovery within 5 s"); }
  row pg "every 200 in PostgreSQL; failures only 503 + Retry-After; recovered (no failure) ≤ 5 s after PostgreSQL is back" \
    "PostgreSQL down ${FAULT_DUR} s under 8 token+end workers: during: $(statuses during); after: $(statuses after); 503 without Retry-After ${no_ra}; /readyz during: ${READY_DURING}, after: ${ready_after}; service log while down: ${LOG_DURING}; first 200 ${rec} ms after PostgreSQL was back, last failure at ${last} ms; durability: ${N_T} token 200s, ${MISSING_T} missing; ${N_E} end 200s, ${MISSING_E} not ended in PostgreSQL$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

scenario_redis() {
  ensure_emulator || return 1
  ensure_services || { row redis "—" "NOT MEASURED: Redis did not start ($(tail -1 "$WORK/services.log"))" SKIP; return 0; }
  local mode
  for mode in closed open; do
    local port fails=0 notes=() allowed bad rec last no_ra p99
    port=$(free_port)
    start_vg "vgredis$mode" "$port" "sqlite:$WORK/redis-$mode.db" "REDIS_URL=$REDIS_URL_" \
      "VOICEGATE_REDIS_FAILURE_MODE=$mode" "VOICEGATE_REDIS_KEY_PREFIX=chaos-$mode:" || return 1
    log "redis ($mode): token loop, Redis stopped for ${FAULT_DUR} s"
    fault_run "redis$mode" "$port" 4 0 3 "$FAULT_DUR" "$POST_DUR" redis_stop redis_start "vgredis$mode"
    alive "vgredis$mode" || { fails=$((fails + 1)); died "vgredis$mode"; notes+=("$DIED_NOTE"); }
    stop "vgredis$mode"
    [ "$mode" = closed ] && allowed='200|503' || allowed='200'
    bad=$(($(bad_statuses during "$allowed") + $(bad_statuses after "$allowed")))
    rec=$(jq_ "$PHASES" 'o.recovery_ms')
    last=$(jq_ "$PHASES" 'o.last_fail_ms')
    no_ra=$(jq_ "$PHASES" 'o.no_retry_after_503')
    p99=$(jq_ "$LOOP" 'o.p99_ms')
    [ "$bad" = 0 ] || { fails=$((fails + 1)); notes+=("statuses outside the documented mode"); }
    [ "$no_ra" = 0 ] || { fails=$((fails + 1)); notes+=("503 without Retry-After"); }
    { [ "$rec" -ge 0 ] && [ "$last" -le 5000 ]; } || { fails=$((fails + 1)); notes+=("no recovery within 5 s"); }
    row "redis ($mode)" "VOICEGATE_REDIS_FAILURE_MODE=$mode: while down only $( [ "$mode" = closed ] && echo '503 + Retry-After (or 200)' || echo '200'); no failure > 5 s after Redis is back" \
      "Redis down ${FAULT_DUR} s under 4 token workers: during: $(statuses during); after: $(statuses after); 503 without Retry-After ${no_ra}; /readyz during: ${READY_DURING}; service log while down: ${LOG_DURING}; first 200 ${rec} ms after Redis was back, last failure at ${last} ms; all answers p99 $p99 ms$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
      "$(verdict $fails)"
  done
}

scenario_flap() {
  local up port fails=0 notes=()
  up=$(free_port)
  port=$(free_port)
  start emuflap -- "$VG" emulate --listen "127.0.0.1:$up" --threads 1 --log-level warn
  wait_http emuflap "http://127.0.0.1:$up/_emulator/stats" || return 1
  UP_PORT=$up start_vg vgflap "$port" "sqlite:$WORK/flap.db" VOICEGATE_UPSTREAM_TIMEOUT_MS=5000 || return 1
  local logf="$WORK/flap.requests" kills=0
  : >"$logf"
  log "flap: upstream killed (-9) every ${FLAP_PERIOD} s, down ${FLAP_DOWN} s, for ${FLAP_DUR} s"
  loop_client flapc "http://127.0.0.1:$port" conns=8 duration=$((FLAP_DUR + 10)) timeout=10000 log="$logf" user=flap
  sleep 2
  local fs fe t0
  fs=$(now_ms)
  t0=$fs
  while [ $(($(now_ms) - t0)) -lt $((FLAP_DUR * 1000)) ]; do
    sleep "$FLAP_PERIOD"
    kill9 emuflap
    kills=$((kills + 1))
    sleep "$FLAP_DOWN"
    start emuflap -- "$VG" emulate --listen "127.0.0.1:$up" --threads 1 --log-level warn
    wait_http emuflap "http://127.0.0.1:$up/_emulator/stats" 5 || { notes+=("emulator restart failed"); break; }
  done
  fe=$(now_ms)
  wait_pid flapc 25
  PHASES=$(node "$LIB/analyze.js" phases "$logf" "$fs" "$fe")
  alive vgflap || { fails=$((fails + 1)); died vgflap; notes+=("$DIED_NOTE"); }
  local bad rec last
  bad=$(($(bad_statuses during '200|502|503|504') + $(bad_statuses after '200|502|503|504')))
  rec=$(jq_ "$PHASES" 'o.recovery_ms')
  last=$(jq_ "$PHASES" 'o.last_fail_ms')
  [ "$bad" = 0 ] || { fails=$((fails + 1)); notes+=("statuses outside 200/502/503/504 or socket errors"); }
  { [ "$rec" -ge 0 ] && [ "$last" -le 5000 ]; } || { fails=$((fails + 1)); notes+=("no recovery within 5 s"); }
  row flap "only 200/502/503/504 (no socket error); no failure > 5 s after the last restart" \
    "${kills} kill -9 + restart of the upstream in ${FLAP_DUR} s under 8 token workers: during: $(statuses during); after: $(statuses after); 503 without Retry-After $(jq_ "$PHASES" 'o.no_retry_after_503'); first 200 ${rec} ms after the last restart, last failure at ${last} ms$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
  # Then the emulator's own fault flags, each a share of every request: reset, 500, garbage 2xx,
  # 429 with a retry hint, no answer at all (the service's upstream deadline is 5 s here).
  local flags=(--reset-rate 0.1 --error-rate 0.1 --malformed-rate 0.05 --rate-limit-rate 0.05 --retry-after-ms 500 --hang-rate 0.02 --seed 7)
  kill9 emuflap
  start emuflap -- "$VG" emulate --listen "127.0.0.1:$up" --threads 1 --log-level warn "${flags[@]}"
  wait_http emuflap "http://127.0.0.1:$up/_emulator/stats" 5 || notes+=("emulator restart failed")
  local flogf="$WORK/flapf.requests" fdur=$((FLAP_DUR / 2 > 5 ? FLAP_DUR / 2 : 5))
  : >"$flogf"
  loop_client flapf "http://127.0.0.1:$port" conns=8 duration="$fdur" timeout=10000 log="$flogf" user=flapf
  wait_pid flapf $((fdur + 15))
  local FPHASES fbad
  FPHASES=$(node "$LIB/analyze.js" phases "$flogf" 0 0)
  fbad=$(jq_ "$FPHASES" "Object.entries(o.after).filter(([k]) => !/^token:(200|502|503|504)\$/.test(k)).reduce((a, [, v]) => a + v, 0)")
  local ffails=$((fbad + $(jq_ "$FPHASES" 'o.no_retry_after_503')))
  local fnote=""
  alive vgflap || { ffails=$((ffails + 1)); died vgflap; fnote="; $DIED_NOTE"; }
  stop vgflap
  stop emuflap
  row "flap (fault flags)" "only 200/502/503/504 (no socket error); 503s carry Retry-After" \
    "emulator ${flags[*]} for ${fdur} s under 8 token workers: $(jq_ "$FPHASES" "Object.entries(o.after).map(([k, v]) => k + '=' + v).join(' ')"); 503 without Retry-After $(jq_ "$FPHASES" 'o.no_retry_after_503')${fnote}" \
    "$(verdict "$ffails")"
}

scenario_disk() {
  ensure_emulator || return 1
  local mnt="$WORK/disk" port fails=0 notes=()
  mkdir -p "$mnt"
  if ! mount -t tmpfs -o size=64m chaos-disk "$mnt" 2>"$WORK/mount.err"; then
    row disk "—" "NOT MEASURED: cannot mount a small tmpfs here ($(head -c 120 "$WORK/mount.err"))" SKIP
    return 0
  fi
  MOUNTS+=("$mnt")
  port=$(free_port)
  start_vg vgdisk "$port" "sqlite:$mnt/vg.db" || return 1
  fill() { dd if=/dev/zero of="$mnt/filler" bs=16k 2>/dev/null; sync; }
  unfill() { rm -f "$mnt/filler"; }
  log "disk: 64 MiB tmpfs, filled for ${FAULT_DUR} s under a token+end loop"
  fault_run disk "$port" 4 1 3 "$FAULT_DUR" "$POST_DUR" fill unfill vgdisk
  local ready_after
  ready_after=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  alive vgdisk || { fails=$((fails + 1)); died vgdisk; notes+=("$DIED_NOTE"); }
  stop vgdisk
  fetch_t() { sqlite3 "$mnt/vg.db" "SELECT session_id FROM sessions"; }
  fetch_e() { sqlite3 "$mnt/vg.db" "SELECT session_id FROM sessions WHERE status = 'ended'"; }
  durability disk "$WORK/disk.requests" fetch_t fetch_e
  umount -l "$mnt" 2>/dev/null
  local bad rec last no_ra
  bad=$(($(bad_statuses during '200|503') + $(bad_statuses after '200|503')))
  rec=$(jq_ "$PHASES" 'o.recovery_ms')
  last=$(jq_ "$PHASES" 'o.last_fail_ms')
  no_ra=$(jq_ "$PHASES" 'o.no_retry_after_503')
  [ $((MISSING_T + MISSING_E)) = 0 ] || { fails=$((fails + 1)); notes+=("200s not durable"); }
  [ "$bad" = 0 ] || { fails=$((fails + 1)); notes+=("failures other than 503"); }
  [ "$no_ra" = 0 ] || { fails=$((fails + 1)); notes+=("503 without Retry-After"); }
  grep -q 503 <<<"$READY_DURING" || { fails=$((fails + 1)); notes+=("/readyz never 503 while writes failed"); }
  { [ "$rec" -ge 0 ] && [ "$last" -le 5000 ]; } || { fails=$((fails + 1)); notes+=("no recovery within 5 s"); }
  row disk "every 200 durable; failures only 503 + Retry-After; /readyz 503 while full; no failure > 5 s after space is freed" \
    "SQLite on a 64 MiB tmpfs filled by dd for ${FAULT_DUR} s under 4 token+end workers: during: $(statuses during); after: $(statuses after); 503 without Retry-After ${no_ra}; /readyz during: ${READY_DURING}, after: ${ready_after}; service log while full: ${LOG_DURING}; first 200 ${rec} ms after the space was freed, last failure at ${last} ms; durability: ${N_T} token 200s, ${MISSING_T} missing; ${N_E} end 200s, ${MISSING_E} not ended$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

scenario_kill9() {
  ensure_emulator || return 1
  local port db="$WORK/kill9.db" logf="$WORK/kill9.requests" run fails=0 notes=() restart_ms=() t0
  port=$(free_port)
  : >"$logf"
  for run in $(seq "$KILL_RUNS"); do
    t0=$(now_ms)
    start_vg vgkill "$port" "sqlite:$db" || return 1
    wait_http vgkill "http://127.0.0.1:$port/readyz" 10 || return 1
    restart_ms+=("$(($(now_ms) - t0))")
    loop_client killc "http://127.0.0.1:$port" conns=16 end=1 duration=$((KILL_AFTER + 5)) timeout=5000 log="$logf" user="kill$run"
    sleep "$KILL_AFTER"
    kill9 vgkill
    stop killc
    log "kill9: run $run: killed after ${KILL_AFTER} s"
  done
  t0=$(now_ms)
  start_vg vgkill "$port" "sqlite:$db" || return 1
  wait_http vgkill "http://127.0.0.1:$port/readyz" 10 || return 1
  restart_ms+=("$(($(now_ms) - t0))")
  local after
  after=$(token_status "$port" 5)
  stop vgkill
  fetch_t() { sqlite3 "$db" "SELECT session_id FROM sessions"; }
  fetch_e() { sqlite3 "$db" "SELECT session_id FROM sessions WHERE status = 'ended'"; }
  durability kill9 "$logf" fetch_t fetch_e
  local maxr
  maxr=$(printf '%s\n' "${restart_ms[@]}" | sort -n | tail -1)
  [ $((MISSING_T + MISSING_E)) = 0 ] || { fails=$((fails + 1)); notes+=("200s lost"); }
  [ "${after%% *}" = 200 ] || { fails=$((fails + 1)); notes+=("no 200 after the last restart"); }
  [ "$maxr" -le 5000 ] || { fails=$((fails + 1)); notes+=("restart slower than 5 s"); }
  row kill9 "every 200 in the database after restart; ready ≤ 5 s after each restart" \
    "${KILL_RUNS}× kill -9 after ${KILL_AFTER} s of 16 token+end workers, restart on the same SQLite file: ${N_T} token 200s, ${MISSING_T} missing; ${N_E} end 200s, ${MISSING_E} not ended; start → /readyz ${restart_ms[*]} ms; /token after the last restart: ${after%% *}$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

scenario_soak() {
  measure_capacity || return 1
  ensure_emulator || return 1
  local port rate samples out fails=0 notes=()
  port=$(free_port)
  start_vg vgsoak "$port" "sqlite:$WORK/soak.db" || return 1
  rate=$((CAPACITY / 2))
  samples="$WORK/soak.samples"
  sampler "$PID_vgsoak" "$SOAK_INTERVAL" "$samples"
  log "soak: ${rate} req/s (half of ${CAPACITY}) for ${SOAK_DUR} s, sampling every ${SOAK_INTERVAL} s"
  out=$(WRK_THREADS=2 WRK_RATE=$rate wrk -t2 -c64 -d"${SOAK_DUR}s" --timeout 10s --latency \
    -s "$LIB/token.lua" "http://127.0.0.1:$port/api/realtime/token" 2>&1 | tee "$WORK/soak.wrk" | sed -n 's/^WRKJSON //p')
  stop_sampler
  alive vgsoak || { fails=$((fails + 1)); died vgsoak; notes+=("$DIED_NOTE"); }
  stop vgsoak
  [ -n "$out" ] || { log "soak: wrk printed no summary"; return 1; }
  # Least-squares slopes per minute over the samples after the first quarter (warm-up: caches,
  # pools and the SQLite page cache fill first), at most the first 60 s.
  local skip slopes rss_s anon_s fd_s first last
  skip=$((SOAK_DUR / 4 < 60 ? SOAK_DUR / 4 : 60))
  slopes=$(awk -v skip="$skip" 'NR == 1 { t0 = $1 } ($1 - t0) / 1000 >= skip {
      x = ($1 - t0) / 60000; n++; sx += x; sxx += x * x
      for (c = 2; c <= 4; c++) { y[c] = (c == 4 ? $c : $c / 1024); sy[c] += y[c]; sxy[c] += x * y[c] }
    } END {
      d = n * sxx - sx * sx
      for (c = 2; c <= 4; c++) printf "%.3f ", (n > 1 && d != 0) ? (n * sxy[c] - sx * sy[c]) / d : 0
    }' "$samples")
  read -r rss_s anon_s fd_s <<<"$slopes"
  first=$(awk 'NR == 1 { printf "%.1f MB (anon %.1f), %d fds", $2 / 1024, $3 / 1024, $4 }' "$samples")
  last=$(awk 'END { printf "%.1f MB (anon %.1f), %d fds", $2 / 1024, $3 / 1024, $4 }' "$samples")
  local req dur s200 other p99 errs
  eval "$(jq_ "$out" '`req=${o.requests} dur=${(o.duration_us/1e6).toFixed(0)} s200=${o.status["200"]} other=${o.requests - o.status["200"]} p99=${(o.latency_us.p99/1000).toFixed(1)} errs=${o.errors.connect + o.errors.read + o.errors.write + o.errors.timeout}`')"
  [ "$other" = 0 ] && [ "$errs" = 0 ] || { fails=$((fails + 1)); notes+=("non-200 or socket errors"); }
  if [ "$SOAK_DUR" -ge 120 ]; then
    awk -v a="$anon_s" 'BEGIN { exit !(a <= 1) }' || { fails=$((fails + 1)); notes+=("anonymous RSS grows"); }
    awk -v a="$fd_s" 'BEGIN { exit !(a <= 1) }' || { fails=$((fails + 1)); notes+=("fds grow"); }
  else
    notes+=("slopes not judged: under 120 s they measure the warm-up")
  fi
  awk -v a="$p99" 'BEGIN { exit !(a <= 250) }' || { fails=$((fails + 1)); notes+=("p99 over bound"); }
  row soak "all 200, 0 socket errors; p99 ≤ 250 ms; anonymous-RSS slope ≤ 1 MB/min; fd slope ≤ 1/min (after ${skip} s warm-up)" \
    "${rate} req/s for ${dur} s (${req} requests, ${s200} 200, ${errs} socket errors), p99 ${p99} ms; ${first} → ${last}; slopes: RSS ${rss_s} MB/min (SQLite file pages included), anonymous ${anon_s} MB/min, fds ${fd_s}/min$( [ ${#notes[@]} -gt 0 ] && printf '; %s' "${notes[@]}")" \
    "$(verdict $fails)"
}

# --- main ----------------------------------------------------------------------------------

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no -- src 2>/dev/null | head -1)
HEADER="## $(date -u '+%F %H:%M') UTC, commit ${COMMIT}${DIRTY:+ (src/ modified)}, $( [ "$QUICK" = 1 ] && echo '--quick' || echo 'full'): ${SCENARIOS[*]}

Machine: $(nproc) cores, $(free -g | awk '/^Mem/ { print $2 }') GiB, load average at start $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $NOFILE.
Settings: capacity ${CAPACITY:-measured over ${CAP_DUR} s}; overload ${OVL_DUR} s at ${OVL_FACTOR}× over [${OVL_CONNS}] connections; idle ${IDLE_CONNS} + ${SLOW_CONNS} slowloris for ${IDLE_DUR} s; fd limit ${FD_LIMIT} for ${FD_DUR} s; faults ${FAULT_DUR} s (then ${POST_DUR} s); flap ${FLAP_DUR} s (period ${FLAP_PERIOD} s, down ${FLAP_DOWN} s); kill -9 ${KILL_RUNS}× after ${KILL_AFTER} s; soak ${SOAK_DUR} s.

| scenario | bounds | measured | verdict |
|---|---|---|---|"
echo "$HEADER"
for s in "${SCENARIOS[@]}"; do
  log "=== $s"
  if ! "scenario_$s"; then
    BROKEN=1
    row "$s" "—" "BROKEN: the scenario could not run (see the log above)" BROKEN
    for n in $(compgen -v PID_); do stop "${n#PID_}"; done
    EMU_PORT=""
  fi
done
{
  echo
  echo "$HEADER"
  cat "$ROWS"
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$RESULTS"
echo
log "rows appended to ${RESULTS#"$ROOT"/}"
exit "$BROKEN"
