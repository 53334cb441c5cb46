#!/usr/bin/env bash
# The whole stack without containers: the same components as docker-compose.yml, run from
# binaries on PATH, every one bound to 127.0.0.1, with data, logs and pid files in one run
# directory.
#
#   scripts/stack.sh start [component...]    start (all by default), waiting for readiness
#   scripts/stack.sh stop [component...]     stop what this runner started (pid files)
#   scripts/stack.sh status                  each component up/down/stopped/skipped, with its URL
#   scripts/stack.sh logs [component] [-f]   last log lines (of one component; -f follows)
#   scripts/stack.sh clean                   stop everything, then delete the run directory's
#                                            state: Redis data, metric history, silences,
#                                            Grafana's database, logs (it lists what goes)
#
# One component can be stopped and started on its own, e.g. to try an outage:
#   scripts/stack.sh stop redis; sleep 90; scripts/stack.sh start redis
#
# Components, in start order (compose service names): redis, statsd-exporter, redis-exporter,
# alertmanager, prometheus, grafana, app. A missing binary is skipped with how to get it; the
# rest still starts. `start` exits 1 if a component that was found failed to become ready.
#
# Environment (defaults in brackets):
#   STACK_DIR             run directory [<repo>/.run]
#   APP_PORT [8080]  REDIS_PORT [6379]  STATSD_PORT (UDP) [9125]  STATSD_EXPORTER_PORT [9102]
#   PROMETHEUS_PORT [9090]  ALERTMANAGER_PORT [9093]  GRAFANA_PORT [3000]
#   REDIS_EXPORTER_PORT [9121]
#   STATSD_EXPORTER_BIN, REDIS_EXPORTER_BIN, ALERTMANAGER_BIN, PROMETHEUS_BIN,
#   GRAFANA_SERVER_BIN    a binary outside PATH
#   GRAFANA_HOME          Grafana's home (default: the binary's ../, else /usr/share/grafana)
#   REDIS_PASSWORD        Redis requirepass (none by default: loopback only)
#   GRAFANA_ADMIN_PASSWORD  (default: generated into $STACK_DIR/grafana/admin-password)
#   STACK_TIMEOUT [60]    seconds to wait for each component to become ready
#   STACK_BUILD [auto]    app build: auto (when dist/ is older than the sources), always, never
# The service also gets every other variable of service/config.ts from the environment
# (LOG_LEVEL, SERVICE_NAME, ...); PORT, HOST, REDIS_URL, STATSD_HOST and STATSD_PORT are set here.
#
# Prometheus and Grafana read loopback copies of etc/ that scripts/stack-config.ts derives
# (compose host names -> 127.0.0.1 and the ports above); nothing here is a second config.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT/.run}
export APP_PORT=${APP_PORT:-8080} REDIS_PORT=${REDIS_PORT:-6379} STATSD_PORT=${STATSD_PORT:-9125}
export STATSD_EXPORTER_PORT=${STATSD_EXPORTER_PORT:-9102} PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
export ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093} GRAFANA_PORT=${GRAFANA_PORT:-3000}
export REDIS_EXPORTER_PORT=${REDIS_EXPORTER_PORT:-9121}
STACK_TIMEOUT=${STACK_TIMEOUT:-60}
STACK_BUILD=${STACK_BUILD:-auto}
REDIS_PASSWORD=${REDIS_PASSWORD:-}
# Shutdown bound before SIGKILL: the service drains for up to SHUTDOWN_TIMEOUT_MS (10 s).
STOP_TIMEOUT=15

COMPONENTS=(redis statsd-exporter redis-exporter alertmanager prometheus grafana app)
PIDS=$STACK_DIR/pids
LOGS=$STACK_DIR/logs

say () { printf '%s\n' "$*"; }
die () { printf 'stack: %s\n' "$*" >&2; exit 2; }

is_component () {
  local c
  for c in "${COMPONENTS[@]}"; do [ "$c" = "$1" ] && return 0; done
  return 1
}

# First executable among the arguments (names on PATH or paths); prints it, or fails.
first_bin () {
  local candidate
  for candidate in "$@"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  return 1
}

# The binary of a component, or nothing.
bin_of () {
  case $1 in
    redis) first_bin redis-server ;;
    statsd-exporter) first_bin "${STATSD_EXPORTER_BIN:-}" statsd_exporter ;;
    redis-exporter) first_bin "${REDIS_EXPORTER_BIN:-}" redis_exporter prometheus-redis-exporter ;;
    alertmanager) first_bin "${ALERTMANAGER_BIN:-}" prometheus-alertmanager alertmanager ;;
    prometheus) first_bin "${PROMETHEUS_BIN:-}" prometheus ;;
    grafana) first_bin "${GRAFANA_SERVER_BIN:-}" grafana-server grafana ;;
    app) first_bin node ;;
  esac
}

# What to tell someone whose machine lacks a component.
how_to_get () {
  case $1 in
    redis) say "redis-server not found: apt-get install redis-server" ;;
    statsd-exporter) say "statsd_exporter not found: not packaged by Debian; download it from the releases of github.com/prometheus/statsd_exporter and put it on PATH or set STATSD_EXPORTER_BIN" ;;
    redis-exporter) say "redis_exporter not found: apt-get install prometheus-redis-exporter, or download it from the releases of github.com/oliver006/redis_exporter and set REDIS_EXPORTER_BIN" ;;
    alertmanager) say "prometheus-alertmanager (or alertmanager) not found: apt-get install prometheus-alertmanager" ;;
    prometheus) say "prometheus not found: apt-get install prometheus" ;;
    grafana) say "grafana-server not found: not packaged by Debian; download the standalone Linux build from Grafana's releases and put bin/grafana-server on PATH or set GRAFANA_SERVER_BIN" ;;
    app) say "node not found: install Node.js 20 or later" ;;
  esac
}

url_of () {
  case $1 in
    redis) say "redis://127.0.0.1:$REDIS_PORT" ;;
    statsd-exporter) say "udp://127.0.0.1:$STATSD_PORT http://127.0.0.1:$STATSD_EXPORTER_PORT/metrics" ;;
    redis-exporter) say "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics" ;;
    alertmanager) say "http://127.0.0.1:$ALERTMANAGER_PORT/" ;;
    prometheus) say "http://127.0.0.1:$PROMETHEUS_PORT/" ;;
    grafana) say "http://127.0.0.1:$GRAFANA_PORT/" ;;
    app) say "http://127.0.0.1:$APP_PORT/" ;;
  esac
}

# The variable that sets a component's TCP port.
port_var_of () {
  case $1 in
    redis) say REDIS_PORT ;;
    statsd-exporter) say STATSD_EXPORTER_PORT ;;
    redis-exporter) say REDIS_EXPORTER_PORT ;;
    alertmanager) say ALERTMANAGER_PORT ;;
    prometheus) say PROMETHEUS_PORT ;;
    grafana) say GRAFANA_PORT ;;
    app) say APP_PORT ;;
  esac
}

tcp_port_of () {
  case $1 in
    redis) say "$REDIS_PORT" ;;
    statsd-exporter) say "$STATSD_EXPORTER_PORT" ;;
    redis-exporter) say "$REDIS_EXPORTER_PORT" ;;
    alertmanager) say "$ALERTMANAGER_PORT" ;;
    prometheus) say "$PROMETHEUS_PORT" ;;
    grafana) say "$GRAFANA_PORT" ;;
    app) say "$APP_PORT" ;;
  esac
}

# 0 when a GET answers 2xx within 2 s.
http_ok () {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    node -e "fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$1"
  fi
}

port_in_use () { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

redis_url () {
  if [ -n "$REDIS_PASSWORD" ]; then say "redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT"; else say "redis://127.0.0.1:$REDIS_PORT"; fi
}

# 0 when the component answers its readiness check.
ready () {
  case $1 in
    redis) REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG ;;
    statsd-exporter) http_ok "http://127.0.0.1:$STATSD_EXPORTER_PORT/-/healthy" ;;
    redis-exporter) http_ok "http://127.0.0.1:$REDIS_EXPORTER_PORT/health" ;;
    alertmanager) http_ok "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" ;;
    prometheus) http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    grafana) http_ok "http://127.0.0.1:$GRAFANA_PORT/api/health" ;;
    app) http_ok "http://127.0.0.1:$APP_PORT/health/live" ;;
  esac
}

# Process start time (clock ticks since boot): with the pid, it identifies the process even if
# the pid is reused after it exits.
start_time () { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

# 0 while the process runs. A zombie counts as gone: it has exited, and some init processes
# (in containers, sandboxes) take seconds to reap it.
alive () {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

# Prints the pid of a component this runner started and that still runs; fails otherwise.
running_pid () {
  local file=$PIDS/$1.pid pid started
  [ -f "$file" ] || return 1
  read -r pid started <"$file" || return 1
  [ -n "$pid" ] && alive "$pid" || return 1
  [ "$(start_time "$pid")" = "$started" ] || return 1
  say "$pid"
}

needs_build () {
  case $STACK_BUILD in
    never) return 1 ;;
    always) return 0 ;;
  esac
  [ -f "$ROOT/dist/server.js" ] || return 0
  [ -n "$(find "$ROOT/service" "$ROOT/package.json" "$ROOT/tsconfig.json" -newer "$ROOT/dist/server.js" -print -quit)" ]
}

# Writes the files a component reads from the run directory; fails with a message.
prepare () {
  local tsx=$ROOT/node_modules/.bin/tsx
  case $1 in
    redis)
      mkdir -p "$STACK_DIR/redis"
      # Same persistence as the compose file: append-only file, fsync once a second (a crash
      # loses at most ~1 s of writes). The file is private: it may hold the password.
      (
        umask 077
        {
          say "bind 127.0.0.1"
          say "port $REDIS_PORT"
          say "dir $STACK_DIR/redis"
          say "appendonly yes"
          say "appendfsync everysec"
          say "daemonize no"
          [ -z "$REDIS_PASSWORD" ] || say "requirepass $REDIS_PASSWORD"
        } >"$STACK_DIR/redis/redis.conf"
      )
      ;;
    prometheus|grafana)
      [ -x "$tsx" ] || { say "$tsx missing: run npm ci first"; return 1; }
      if [ "$1" = prometheus ]; then
        mkdir -p "$STACK_DIR/prometheus/data"
        "$tsx" "$ROOT/scripts/stack-config.ts" prometheus "$STACK_DIR/prometheus/prometheus.yml"
      else
        mkdir -p "$STACK_DIR/grafana/data" "$STACK_DIR/grafana/logs" "$STACK_DIR/grafana/plugins"
        rm -rf "$STACK_DIR/grafana/provisioning"
        "$tsx" "$ROOT/scripts/stack-config.ts" grafana "$STACK_DIR/grafana/provisioning"
        if [ -z "${GRAFANA_ADMIN_PASSWORD:-}" ] && [ ! -s "$STACK_DIR/grafana/admin-password" ]; then
          (umask 077; od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$STACK_DIR/grafana/admin-password")
          say "grafana: admin password generated into $STACK_DIR/grafana/admin-password"
        fi
      fi
      ;;
    alertmanager)
      [ -f "$ROOT/etc/alertmanager/alertmanager.yml" ] || { say "etc/alertmanager/alertmanager.yml is missing"; return 1; }
      mkdir -p "$STACK_DIR/alertmanager/data"
      ;;
    statsd-exporter)
      [ -f "$ROOT/etc/statsd/mapping.yml" ] || { say "etc/statsd/mapping.yml is missing (npm run generate)"; return 1; }
      ;;
    app)
      if needs_build; then
        say "app: building (npm run build, log in $LOGS/build.log)"
        (cd "$ROOT" && npm run build) >"$LOGS/build.log" 2>&1 || { tail -n 20 "$LOGS/build.log"; say "app: build failed"; return 1; }
      fi
      ;;
  esac
}

# Starts one component in the background; its own session, so a Ctrl-C aimed at the caller's
# shell does not reach it. Prints the pid.
launch () {
  local name=$1 bin=$2 log=$LOGS/$1.log
  local -a cmd
  case $name in
    redis) cmd=("$bin" "$STACK_DIR/redis/redis.conf") ;;
    statsd-exporter)
      cmd=("$bin" "--statsd.mapping-config=$ROOT/etc/statsd/mapping.yml"
        "--statsd.listen-udp=127.0.0.1:$STATSD_PORT" "--statsd.listen-tcp="
        "--statsd.read-buffer=4194304" "--web.listen-address=127.0.0.1:$STATSD_EXPORTER_PORT") ;;
    redis-exporter)
      cmd=(env "REDIS_PASSWORD=$REDIS_PASSWORD" "$bin" -redis.addr "redis://127.0.0.1:$REDIS_PORT"
        -web.listen-address "127.0.0.1:$REDIS_EXPORTER_PORT") ;;
    alertmanager)
      cmd=("$bin" "--config.file=$ROOT/etc/alertmanager/alertmanager.yml"
        "--storage.path=$STACK_DIR/alertmanager/data"
        "--web.listen-address=127.0.0.1:$ALERTMANAGER_PORT" "--cluster.listen-address=") ;;
    prometheus)
      cmd=("$bin" "--config.file=$STACK_DIR/prometheus/prometheus.yml"
        "--storage.tsdb.path=$STACK_DIR/prometheus/data" "--storage.tsdb.retention.time=15d"
        "--web.listen-address=127.0.0.1:$PROMETHEUS_PORT") ;;
    grafana)
      local home=${GRAFANA_HOME:-}
      if [ -z "$home" ]; then
        home=$(cd "$(dirname "$(readlink -f "$bin")")/.." && pwd)
        [ -d "$home/public" ] || home=/usr/share/grafana
      fi
      local password=${GRAFANA_ADMIN_PASSWORD:-}
      [ -n "$password" ] || password=$(cat "$STACK_DIR/grafana/admin-password")
      local -a sub=()
      [ "$(basename "$bin")" = grafana ] && sub=(server)
      cmd=(env "GF_PATHS_DATA=$STACK_DIR/grafana/data" "GF_PATHS_LOGS=$STACK_DIR/grafana/logs"
        "GF_PATHS_PLUGINS=$STACK_DIR/grafana/plugins" "GF_PATHS_PROVISIONING=$STACK_DIR/grafana/provisioning"
        "GF_SERVER_HTTP_ADDR=127.0.0.1" "GF_SERVER_HTTP_PORT=$GRAFANA_PORT"
        "GF_SECURITY_ADMIN_PASSWORD=$password" GF_USERS_ALLOW_SIGN_UP=false GF_AUTH_ANONYMOUS_ENABLED=false
        GF_ANALYTICS_REPORTING_ENABLED=false GF_ANALYTICS_CHECK_FOR_UPDATES=false
        "$bin" "${sub[@]}" --homepath "$home") ;;
    app)
      cmd=(env "PORT=$APP_PORT" HOST=127.0.0.1 "REDIS_URL=$(redis_url)" STATSD_HOST=127.0.0.1
        "STATSD_PORT=$STATSD_PORT" "$bin" dist/server.js) ;;
  esac
  ( cd "$ROOT" && exec setsid "${cmd[@]}" >>"$log" 2>&1 </dev/null ) &
  say $!
}

# Waits until the component is ready, its process has exited, or STACK_TIMEOUT passes.
wait_ready () {
  local name=$1 pid=$2 limit=$STACK_TIMEOUT waited=0
  [ "$name" = grafana ] && limit=$((STACK_TIMEOUT * 2)) # first start migrates its database
  while [ "$waited" -lt $((limit * 5)) ]; do
    alive "$pid" || return 1
    ready "$name" && return 0
    sleep 0.2
    waited=$((waited + 1))
  done
  return 1
}

start_one () {
  local name=$1 bin pid t0 started
  if pid=$(running_pid "$name"); then
    say "running  $name  $(url_of "$name") (pid $pid)"
    return 0
  fi
  if ! bin=$(bin_of "$name"); then
    say "SKIPPED  $name: $(how_to_get "$name")"
    return 0
  fi
  if port_in_use "$(tcp_port_of "$name")"; then
    local port var
    port=$(tcp_port_of "$name") var=$(port_var_of "$name")
    say "FAILED   $name: 127.0.0.1:$port is already in use by another program; set $var to a free port (e.g. $var=$(( port < 55536 ? port + 10000 : port - 10000 )) scripts/stack.sh start)"
    return 1
  fi
  local problem
  if ! problem=$(prepare "$name"); then
    say "FAILED   $name: ${problem:-could not prepare its configuration}"
    return 1
  fi
  [ -z "$problem" ] || say "$problem"
  t0=$(date +%s%N)
  pid=$(launch "$name" "$bin")
  sleep 0.05
  started=$(start_time "$pid") || started=""
  say "$pid $started" >"$PIDS/$name.pid"
  if wait_ready "$name" "$pid"; then
    say "started  $name  $(url_of "$name") (pid $pid, $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
    return 0
  fi
  say "FAILED   $name: not ready within its timeout; last lines of $LOGS/$name.log:"
  tail -n 15 "$LOGS/$name.log" | sed 's/^/    /'
  stop_one "$name" >/dev/null
  return 1
}

stop_one () {
  local name=$1 pid i
  if ! pid=$(running_pid "$name"); then
    rm -f "$PIDS/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    say "killed   $name (pid $pid did not stop within ${STOP_TIMEOUT} s)"
  else
    say "stopped  $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid"
}

# The named components (all by default) in start order. Call check_names first: this runs in a
# command substitution, where exiting would not stop the script.
selected () {
  local c arg
  if [ $# -eq 0 ]; then printf '%s\n' "${COMPONENTS[@]}"; return; fi
  for c in "${COMPONENTS[@]}"; do
    for arg in "$@"; do [ "$arg" = "$c" ] && say "$c"; done
  done
}

check_names () {
  local c
  for c in "$@"; do is_component "$c" || die "unknown component $c (one of: ${COMPONENTS[*]})"; done
}

cmd_start () {
  local failed=() skipped=() name
  check_names "$@"
  mkdir -p "$PIDS" "$LOGS"
  for name in $(selected "$@"); do
    start_one "$name" || failed+=("$name")
    bin_of "$name" >/dev/null || skipped+=("$name")
  done
  say "run directory: $STACK_DIR"
  [ ${#skipped[@]} -eq 0 ] || say "skipped (binary not found): ${skipped[*]}"
  if [ ${#failed[@]} -gt 0 ]; then
    say "failed: ${failed[*]}"
    return 1
  fi
}

cmd_stop () {
  local -a names
  check_names "$@"
  mapfile -t names < <(selected "$@")
  local i
  for ((i = ${#names[@]} - 1; i >= 0; i--)); do
    stop_one "${names[i]}"
  done
}

cmd_status () {
  local name pid bad=0
  for name in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$name"); then
      if ready "$name"; then
        printf '%-16s %-8s %s (pid %s)\n' "$name" up "$(url_of "$name")" "$pid"
      else
        printf '%-16s %-8s %s (pid %s, not answering)\n' "$name" down "$(url_of "$name")" "$pid"
        bad=1
      fi
    elif ! bin_of "$name" >/dev/null; then
      # Whether or not start was run: a component without its binary is skipped, and why.
      printf '%-16s %-8s %s\n' "$name" skipped "$(how_to_get "$name")"
    elif [ -f "$PIDS/$name.pid" ]; then
      printf '%-16s %-8s %s (exited; see %s)\n' "$name" down "$(url_of "$name")" "$LOGS/$name.log"
      bad=1
    else
      printf '%-16s %-8s %s\n' "$name" stopped "$(url_of "$name")"
    fi
  done
  return $bad
}

# What each part of the run directory holds, for `clean` to say what it deletes.
STATE=(
  "redis|Redis data: every stored item and the hit counter (append-only file)"
  "prometheus|Prometheus's metric history (TSDB) and its generated prometheus.yml"
  "alertmanager|Alertmanager's silences and notification log"
  "grafana|Grafana's database (users, the admin password, dashboard edits) and its generated provisioning"
  "logs|every component's log"
  "pids|pid files"
)

# Stops everything, then deletes only the parts of STACK_DIR this runner creates (never other
# files someone put there), and the directory itself when that leaves it empty.
cmd_clean () {
  local entry part what found=0
  cmd_stop
  for entry in "${STATE[@]}"; do
    part=${entry%%|*} what=${entry#*|}
    [ -e "$STACK_DIR/$part" ] || continue
    found=1
    rm -rf "${STACK_DIR:?}/$part"
    say "deleted  $STACK_DIR/$part: $what"
  done
  rmdir "$STACK_DIR" 2>/dev/null || true
  [ "$found" -eq 1 ] || say "nothing to delete in $STACK_DIR"
}

cmd_logs () {
  local name=${1:-} follow=${2:-}
  if [ -z "$name" ]; then
    for name in "${COMPONENTS[@]}"; do
      [ -f "$LOGS/$name.log" ] || continue
      say "==> $LOGS/$name.log <=="
      tail -n 20 "$LOGS/$name.log"
    done
    return 0
  fi
  is_component "$name" || die "unknown component $name (one of: ${COMPONENTS[*]})"
  [ -f "$LOGS/$name.log" ] || die "no log for $name in $LOGS"
  if [ "$follow" = -f ]; then exec tail -n 100 -f "$LOGS/$name.log"; fi
  tail -n 100 "$LOGS/$name.log"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  clean|reset) cmd_clean ;;
  logs) shift; cmd_logs "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
