#!/usr/bin/env bash
# Throw-away PostgreSQL and Redis on loopback for the test suites (STYLE §6.5).
#
#   scripts/services.sh start   start both (or reuse running ones); prints the env to eval:
#                               eval "$(scripts/services.sh start)"
#   scripts/services.sh env     print the env of the running services (exit 1 if not running)
#   scripts/services.sh stop    stop both and delete their directory (safe to repeat)
#
# Everything lives in ${VOICEGATE_SERVICES_DIR:-${TMPDIR:-/tmp}/voicegate-services}: data,
# sockets, pid and log files. PostgreSQL (Debian's postgresql package) listens on 127.0.0.1 on a
# free port with trust authentication and keeps its defaults (fsync and synchronous_commit on);
# Redis (redis-server) on another free port without persistence. initdb refuses to run as
# root, so as root PostgreSQL runs as the `postgres` system user (or `voicegate-test`, created
# if needed). Diagnostics go to stderr; only the exports go to stdout:
#   export VOICEGATE_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/voicegate
#   export VOICEGATE_TEST_REDIS_URL=redis://127.0.0.1:PORT/0
#   export VOICEGATE_SERVICES_STARTED=1   (start only: 1 if this call started something)
set -euo pipefail

DIR=${VOICEGATE_SERVICES_DIR:-${TMPDIR:-/tmp}/voicegate-services}
PGDATA="$DIR/pg"
PGSOCK="$DIR/pg-socket"
PGLOG="$DIR/pg.log"
REDIS_PID="$DIR/redis.pid"
REDIS_LOG="$DIR/redis.log"
DB=voicegate

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  die "PostgreSQL server binaries not found (apt-get install postgresql; see scripts/deps.sh)"
}

# The OS user that runs PostgreSQL: ourselves, or as root a system user.
pg_os_user() {
  if [ "$(id -u)" -ne 0 ]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id voicegate-test >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin voicegate-test >/dev/null 2>&1 ||
      id voicegate-test >/dev/null 2>&1 || die "cannot create the voicegate-test user"
    echo voicegate-test
  fi
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PGUSER_OS" -- "$@"
  else
    "$@"
  fi
}

# Runs a command that leaves a daemon behind with only stdin/stdout/stderr open: an inherited
# descriptor (our lock, a caller's pipe) would otherwise stay open for the daemon's lifetime.
detached() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    "$@"
  )
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free port found"
}

pg_running() {
  [ -f "$PGDATA/postmaster.pid" ] && [ -f "$DIR/pg.port" ] &&
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

redis_running() {
  [ -f "$REDIS_PID" ] && [ -f "$DIR/redis.port" ] && kill -0 "$(cat "$REDIS_PID")" 2>/dev/null
}

pg_url() { echo "postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/$DB"; }
redis_url() { echo "redis://127.0.0.1:$(cat "$DIR/redis.port")/0"; }

start_pg() {
  mkdir -p "$PGDATA" "$PGSOCK"
  chmod 700 "$PGDATA"
  touch "$PGLOG"
  chown "$PGUSER_OS" "$PGDATA" "$PGSOCK" "$PGLOG"
  as_pg test -w "$PGDATA" ||
    die "$PGUSER_OS cannot write $PGDATA; set VOICEGATE_SERVICES_DIR to a directory it can reach"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if detached as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PGSOCK -c max_connections=300" \
      >/dev/null 2>&1; then
      echo "$port" >"$DIR/pg.port"
      break
    fi
    log "postgres did not start on port $port (attempt $attempt); see $PGLOG"
    port=""
  done
  [ -n "$port" ] || { tail -20 "$PGLOG" >&2; die "postgres failed to start"; }
  local psql=("$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAqX)
  if [ "$(as_pg "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    as_pg "${psql[@]}" -c "CREATE DATABASE $DB" >/dev/null
  fi
  log "postgres $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data $PGDATA)"
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 ||
    die "redis-server not found (apt-get install redis-server; see scripts/deps.sh)"
  local port attempt i
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$REDIS_PID"
    detached redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
      --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" --dir "$DIR" >/dev/null 2>&1 || true
    for i in $(seq 1 50); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && [ -s "$REDIS_PID" ]; then
        echo "$port" >"$DIR/redis.port"
        log "redis on 127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
    log "redis did not start on port $port (attempt $attempt); see $REDIS_LOG"
    [ -s "$REDIS_PID" ] && kill "$(cat "$REDIS_PID")" 2>/dev/null || true
  done
  die "redis failed to start"
}

print_env() {
  echo "export VOICEGATE_TEST_PG_URL=$(pg_url)"
  echo "export VOICEGATE_TEST_REDIS_URL=$(redis_url)"
}

stop_all() {
  if [ -f "$PGDATA/PG_VERSION" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if [ -f "$REDIS_PID" ]; then
    local pid
    pid=$(cat "$REDIS_PID")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$DIR"
  rm -f "$DIR.lock"
}

cmd=${1:-}
case "$cmd" in
  start | stop | env) ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac

PGBIN=$(pg_bin)
PGUSER_OS=$(pg_os_user)
mkdir -p "$DIR"
chmod 755 "$DIR"
# One caller at a time per directory (two shells starting the services together).
exec 9>"$DIR.lock"
flock 9

case "$cmd" in
  start)
    started=0
    pg_running || { start_pg; started=1; }
    redis_running || { start_redis; started=1; }
    print_env
    echo "export VOICEGATE_SERVICES_STARTED=$started"
    ;;
  env)
    pg_running && redis_running || die "services are not running (scripts/services.sh start)"
    print_env
    ;;
  stop)
    stop_all
    log "stopped"
    ;;
esac
