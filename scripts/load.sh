#!/usr/bin/env bash
# Drives the service with siege, survives an outage, and checks the counts itself.
#
# Usage: scripts/load.sh [-c users] [-t duration] [-d delay] [-F failures] [-p prometheus-url]
#                        [-s service] [base-url]
#   -c  simulated users (siege -c), default 10
#   -t  duration with siege's modifier S, M or H (siege -t), default 30S
#   -d  each user waits a random 0..delay seconds between requests (siege -d), default 0.2
#   -F  let siege give up after this many failed requests (5xx answers and socket errors both
#       count, siege's `failures`); default 0: never, so an outage does not stop the load
#   -p  Prometheus to check the count with, default $PROMETHEUS_URL, else http://127.0.0.1:9090
#   -s  the `service` label to count, default $SERVICE_NAME, else fastify-monitoring
#   base-url  default $BASE_URL, else http://127.0.0.1:8080
# Environment: LOAD_PROGRESS_SECONDS (5) between progress lines; METRICS_FLUSH_INTERVAL_MS
# (1000, the service's) and LOAD_SCRAPE_TIMEOUT_SECONDS (60) for each wait on Prometheus: to be
# ready and scrape the service a first time (a stack started just before), and for the last
# scrape; LOAD_STOP_GRACE_SECONDS (30): siege still running this long after -t is stopped.
#
# Prints a progress line every few seconds, siege's summary, "Responses received" (siege leaves
# 5xx out of "Transactions") by status, and, when Prometheus answers, how many responses it
# counted over the run (the increase of http_requests_total for the service, probe routes
# /health/* left out on both sides) and whether the two agree. They agree exactly, or Prometheus
# counts up to one more per user: when siege's time is up it cancels its users, and a response
# the service had already sent (and counted) may be dropped unread.
# Exit status: 0 done (and counts agree or were not checked); 1 siege aborted, no response at
# all, siege failed, or the counts disagree; 2 bad arguments; 127 siege missing; 130 interrupted.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
say() { printf 'load.sh: %s\n' "$*" >&2; }

concurrency=10
duration=30S
delay=0.2
failures=0
prometheus=${PROMETHEUS_URL:-http://127.0.0.1:9090}
service=${SERVICE_NAME:-fastify-monitoring}
while getopts ":c:t:d:F:p:s:h" opt; do
  case "$opt" in
    c) concurrency=$OPTARG ;;
    t) duration=$OPTARG ;;
    d) delay=$OPTARG ;;
    F) failures=$OPTARG ;;
    p) prometheus=$OPTARG ;;
    s) service=$OPTARG ;;
    h) usage 0 ;;
    :) say "-$OPTARG needs a value"; exit 2 ;;
    *) say "unknown option -$OPTARG (see scripts/load.sh -h)"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
base=${1:-${BASE_URL:-http://127.0.0.1:8080}}
base=${base%/}
prometheus=${prometheus%/}
progress_every=${LOAD_PROGRESS_SECONDS:-5}
flush_ms=${METRICS_FLUSH_INTERVAL_MS:-1000}
scrape_timeout=${LOAD_SCRAPE_TIMEOUT_SECONDS:-60}
stop_grace=${LOAD_STOP_GRACE_SECONDS:-30}

bad() { say "$1"; exit 2; }
[[ $concurrency =~ ^[1-9][0-9]{0,3}$ ]] || bad "-c wants 1..9999 users, got '$concurrency'"
[[ $duration =~ ^[1-9][0-9]*[SMHsmh]$ ]] || bad "-t wants a number and S, M or H (e.g. 30S), got '$duration'"
[[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "-d wants seconds (e.g. 0.2), got '$delay'"
[[ $failures =~ ^[0-9]{1,9}$ ]] || bad "-F wants a count of failed requests (0: never give up), got '$failures'"
[[ $base =~ ^https?://[^[:space:]]+$ ]] || bad "base-url must be http(s)://host:port, got '$base'"
[[ $prometheus =~ ^https?://[^[:space:]]+$ ]] || bad "-p (PROMETHEUS_URL) must be http(s)://host:port, got '$prometheus'"
[[ $service =~ ^[A-Za-z0-9_.:/-]+$ ]] || bad "-s (SERVICE_NAME) must be a tag value like fastify-monitoring, got '$service'"
[[ $progress_every =~ ^[1-9][0-9]*$ ]] || bad "LOAD_PROGRESS_SECONDS wants whole seconds, got '$progress_every'"
[[ $flush_ms =~ ^[1-9][0-9]*$ ]] || bad "METRICS_FLUSH_INTERVAL_MS wants milliseconds, got '$flush_ms'"
[[ $scrape_timeout =~ ^[1-9][0-9]*$ ]] || bad "LOAD_SCRAPE_TIMEOUT_SECONDS wants whole seconds, got '$scrape_timeout'"
[[ $stop_grace =~ ^[1-9][0-9]*$ ]] || bad "LOAD_STOP_GRACE_SECONDS wants whole seconds, got '$stop_grace'"

if ! command -v siege >/dev/null 2>&1; then
  cat >&2 <<'MSG'
load.sh: siege is not installed.
  Debian/Ubuntu: sudo apt-get install -y siege
  macOS:         brew install siege
MSG
  exit 127
fi

work=$(mktemp -d)
siege_pid=""
progress_pid=""
watchdog_pid=""
cleanup() {
  [ -z "$progress_pid" ] || kill "$progress_pid" 2>/dev/null || true
  [ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
  [ -z "$siege_pid" ] || kill "$siege_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# siege's settings. No HTML parsing (JSON API); no following redirects (a 302 from
# /demo/random-status is one response, as the service counts it); no log file; no colours.
# failures: siege stops every user once this many requests failed, and a 5xx answer counts as
# a failure like a refused connection (src/browser.c returns FALSE for 500-509, and
# `my.failures > 0 && my.failed >= my.failures` ends the run). Its default, 1024, ended the load
# 13 s into a Redis outage; 0 switches the check off.
cat > "$work/siegerc" <<RC
verbose = true
color = off
parser = false
follow-location = false
logging = false
show-logfile = false
protocol = HTTP/1.1
connection = keep-alive
failures = $failures
RC

# The URL file, walked in order: without -i, each siege user reads it line by line, round and
# round (src/browser.c). So every user meets every kind of request within one pass of 91
# requests, whatever the timing: a 500 from /demo/error (the dashboard's
# 5xx panels are never empty by chance), 404s, a write before the reads of its key (the cache
# ratio shows hits from the start). No /health/* line: the probes' routes are left out of the
# count check, since container and Kubernetes probes call them too.
{
  for i in $(seq 0 19); do
    echo "$base/items POST {\"key\":\"load-$i\",\"value\":\"value $i\",\"ttl\":3600}"
    (( i % 5 == 0 )) && echo "$base/"
    (( i % 5 == 1 || i % 5 == 3 )) && echo "$base/items/absent-$((i / 2))"
    (( i % 7 == 2 )) && echo "$base/items?limit=20"
    (( i % 10 == 0 )) && echo "$base/demo/error"
    (( i % 10 == 4 )) && echo "$base/demo/io?ms=50"
    (( i % 10 == 6 )) && echo "$base/demo/cpu?iterations=5000"
    (( i % 7 == 5 )) && echo "$base/demo/random-latency?max_ms=300"
    (( i % 4 == 3 )) && echo "$base/demo/random-status"
    (( i % 10 == 8 )) && echo "$base/no-such-route"
    echo "$base/items/load-$i"
    echo "$base/items/load-$(( (i + 19) % 20 ))"
  done
} > "$work/urls.txt"

# --- Prometheus: the service's count of responses ---------------------------------------------
counter="http_requests_total{service=\"$service\",route!~\"/health/.*\"}"
# Every series of one scrape carries the scrape's time; service_info is sent every few seconds
# whatever the traffic, so its timestamp says how recent Prometheus's view of the service is.
freshness="max(timestamp({__name__=~\"service_info|http_requests_total\",service=\"$service\"}))"
prom_note=""  # why the count is not checked; empty while it is

# Instant query; prints the first result's value (empty for no result). Fails when Prometheus
# does not answer or rejects the query.
prom_query() {
  curl -fsS --max-time 5 --data-urlencode "query=$1" --data-urlencode "time=$2" "$prometheus/api/v1/query" 2>/dev/null |
    jq -er 'if .status == "success" then (.data.result[0].value[1] // "") else error(.error) end' 2>/dev/null
}

# Waits for a scrape newer than $1 (Unix seconds) and prints "count scrape-time"; fails after
# LOAD_SCRAPE_TIMEOUT_SECONDS.
count_after() {
  local deadline=$(( $(date +%s) + scrape_timeout )) at stamp value
  while [ "$(date +%s)" -le "$deadline" ]; do
    at=$(now)
    if stamp=$(prom_query "$freshness" "$at") && [ -n "$stamp" ] &&
      awk -v s="$stamp" -v t="$1" 'BEGIN { exit !(s > t) }'; then
      value=$(prom_query "sum($counter) or vector(0)" "$at") || value=""
      if [ -n "$value" ]; then printf '%s %s\n' "$value" "$stamp"; return 0; fi
    fi
    sleep 0.5
  done
  return 1
}

# Prometheus's readiness: 0 ready; 1 something answers at the address but is not ready yet (a
# container starting: an empty reply, a reset, a 503); 2 nothing there (refused, no such host).
prom_ready() {
  local rc=0
  curl -fsS --max-time 5 -o /dev/null "$prometheus/-/ready" 2>/dev/null || rc=$?
  case $rc in
    0) return 0 ;;
    6 | 7) return 2 ;;
    *) return 1 ;;
  esac
}

# The services Prometheus has series of (names joined by ", "), empty for none: the same series
# as $freshness, grouped by service.
prom_services() {
  curl -fsS --max-time 5 --data-urlencode 'query=group by (service) ({__name__=~"service_info|http_requests_total"})' \
    "$prometheus/api/v1/query" 2>/dev/null | jq -r '[.data.result[].metric.service // empty] | join(", ")' 2>/dev/null
}

# The exporter's scrape job (etc/prometheus/prometheus.yml) scraped twice or more in the last 5
# minutes and never up: the service's series cannot come.
exporter_down='count_over_time(up{job="statsd-exporter"}[5m]) >= 2 and max_over_time(up{job="statsd-exporter"}[5m]) == 0'

# Started right after the stack (docker-compose up -d returns before Prometheus is ready and
# before its first scrape of the service), Prometheus has no series yet: wait for them, up to
# LOAD_SCRAPE_TIMEOUT_SECONDS, with a line saying so. Gives up early, and says why in $waited,
# when Prometheus has series of other services only (a wrong -s) or the exporter is down.
# Fails (status 1 not ready, 2 no series) after the wait; after a successful wait $waited says
# how long it took.
waited=""
wait_first_scrape() {
  local started deadline said=0 others ready
  started=$(date +%s)
  deadline=$(( started + scrape_timeout ))
  while :; do
    ready=0
    prom_ready || ready=$?
    if [ "$ready" -eq 0 ]; then
      # One answer decides between "ours is there" and "only others are": two queries could
      # straddle the first scrape.
      others=$(prom_services || true)
      case ", $others, " in
        *", $service, "*)
          [ "$said" -eq 0 ] || waited="Prometheus has series of service=\"$service\" after $(( $(date +%s) - started )) s"
          return 0 ;;
      esac
      if [ -n "$others" ]; then waited="it has series of other services only: $others"; return 2; fi
      if [ -n "$(prom_query "$exporter_down" "$(now)" || true)" ]; then waited="its statsd-exporter target is down"; return 2; fi
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      waited="waited ${scrape_timeout} s (LOAD_SCRAPE_TIMEOUT_SECONDS)"
      [ "$ready" -eq 0 ] && return 2
      return 1
    fi
    if [ "$said" -eq 0 ]; then
      say "waiting up to ${scrape_timeout} s for Prometheus at $prometheus to be ready and to scrape service=\"$service\" for the first time"
      said=1
    fi
    sleep 1
  done
}

# Now in Unix seconds with milliseconds where date has %N (GNU), else whole seconds.
now() { local t; t=$(date +%s.%3N); [[ $t =~ ^[0-9]+\.[0-9]+$ ]] || t=$(date +%s); printf '%s' "$t"; }
# Unix seconds as a wall-clock time (GNU date -d, BSD date -r).
clock() { date -d "@${1%.*}" +%T 2>/dev/null || date -r "${1%.*}" +%T 2>/dev/null || printf '%s' "$1"; }
# Seconds to wait after the last response for it to reach the exporter: the service's flush
# interval, rounded up, plus one.
settle=$(( (flush_ms + 999) / 1000 + 1 ))

if ! command -v curl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
  prom_note="curl and jq are needed to ask Prometheus (apt-get install curl jq)"
else
  first=0
  prom_ready || first=$?
  if [ "$first" -eq 2 ]; then
    prom_note="no Prometheus answers at $prometheus (set PROMETHEUS_URL or -p)"
  else
    first=0
    wait_first_scrape || first=$?
    if [ "$first" -eq 1 ]; then
      prom_note="Prometheus at $prometheus was not ready within ${scrape_timeout} s"
    elif [ "$first" -eq 2 ]; then
      say "Prometheus has no series of service=\"$service\": $waited"
      prom_note="Prometheus at $prometheus has no series with service=\"$service\" (is statsd_exporter running and scraped? scripts/stack.sh status; another name: -s)"
    elif [ -n "$waited" ]; then
      say "$waited"
    fi
  fi
fi
if [ -n "$prom_note" ]; then
  say "the count will not be checked: $prom_note"
else
  say "Prometheus at $prometheus: waiting for a scrape newer than now for the starting count (up to one scrape interval)"
  if read -r count_start stamp_start < <(count_after "$(( $(date +%s) + settle ))"); then
    say "Prometheus: $count_start responses counted before the run (scrape at $(clock "$stamp_start"))"
  else
    prom_note="Prometheus at $prometheus had no scrape of service=\"$service\" within ${scrape_timeout} s"
    say "the count will not be checked: $prom_note"
  fi
fi

# --- siege -----------------------------------------------------------------------------------
# Counts of siege's per-request log so far: "total 2xx 3xx 4xx 5xx".
tally() {
  awk '/^HTTP\/1\.[01] [0-9][0-9][0-9] / { n++; c[substr($2, 1, 1)]++ }
    END { printf "%d %d %d %d %d\n", n, c["2"], c["3"], c["4"], c["5"] }' "$work/hits.log"
}
# siege's per-request errors ("[error] socket: unable to connect ...") stay in its stderr file.
socket_errors() { sed 's/\x1b\[[0-9;]*m//g' "$work/siege.err" | grep -c '^\[\(error\|alert\)\]' || true; }

progress() {
  local t0=$1 n c2 c3 c4 c5
  # sleep without this script's output: a sleep left behind must not hold the caller's pipe open.
  while sleep "$progress_every" </dev/null >/dev/null 2>&1; do
    read -r n c2 c3 c4 c5 < <(tally)
    say "$(( $(date +%s) - t0 ))s  responses $n  2xx $c2  3xx $c3  4xx $c4  5xx $c5  socket errors $(socket_errors)"
  done
}

say "$(wc -l < "$work/urls.txt") URLs against $base, $concurrency users for $duration (delay up to ${delay}s), a progress line every ${progress_every}s"
: > "$work/hits.log"
# Line-buffered stdout (stdbuf, where coreutils has it) so the progress lines are current.
line_buffered=()
command -v stdbuf >/dev/null 2>&1 && line_buffered=(stdbuf -oL)
t_start=$(date +%s)
"${line_buffered[@]}" siege -R "$work/siegerc" -f "$work/urls.txt" -c "$concurrency" -t "$duration" \
  -d "$delay" -T 'application/json' > "$work/hits.log" 2> "$work/siege.err" &
siege_pid=$!
progress "$t_start" &
progress_pid=$!
# siege can deadlock while it cancels its users at the end of -t (seen with refused connections
# at -d 0: two threads waiting on a futex for ever). A watchdog stops it LOAD_STOP_GRACE_SECONDS
# after its time.
case $duration in
  *[Ss]) seconds=${duration%?} ;;
  *[Mm]) seconds=$(( ${duration%?} * 60 )) ;;
  *) seconds=$(( ${duration%?} * 3600 )) ;;
esac
(
  sleep $(( seconds + stop_grace ))
  : > "$work/hung"
  kill -TERM "$siege_pid"
  sleep 5
  kill -KILL "$siege_pid"
) </dev/null >/dev/null 2>&1 &
watchdog_pid=$!

# A background job of a script ignores SIGINT, so Ctrl-C reaches this shell only: pass it on
# as SIGTERM, on which siege stops and prints its summary.
interrupted=0
trap 'interrupted=1; kill -TERM "$siege_pid" 2>/dev/null || true' INT TERM
siege_status=0
while kill -0 "$siege_pid" 2>/dev/null; do
  wait "$siege_pid" && siege_status=0 || siege_status=$?
done
t_end=$(date +%s)
kill "$progress_pid" "$watchdog_pid" 2>/dev/null || true
wait "$progress_pid" "$watchdog_pid" 2>/dev/null || true
progress_pid=""
watchdog_pid=""
siege_pid=""
trap - INT TERM

# siege's summary without its banner and per-request errors.
sed 's/\x1b\[[0-9;]*m//g' "$work/siege.err" |
  grep -v '^\[\(error\|alert\|warning\)\]\|^\*\*\|^The server is now\|^Lifting the server\|aborted due to excessive\|change the failure threshold\|^[[:space:]]*$' >&2 || true

read -r received _ < <(tally)
errors=$(socket_errors)
# The report's first lines; "Prometheus counted" follows them.
received_report() {
  if [ "$errors" -gt 0 ]; then
    printf 'Socket errors:\t%d (first: %s)\n' "$errors" \
      "$(sed 's/\x1b\[[0-9;]*m//g' "$work/siege.err" | grep -m1 '^\[\(error\|alert\)\]' | sed 's/^\[[a-z]*\] //')"
  fi
  printf 'Responses received:\t%d\n' "$received"
  printf 'By status:\t%s\n' "$(awk '/^HTTP\/1\.[01] [0-9][0-9][0-9] / { c[$2]++ } END { for (k in c) print k "=" c[k] }' "$work/hits.log" | sort -n | paste -sd ' ' -)"
}

stop_reason=""
if [ "$interrupted" -eq 1 ]; then
  stop_reason="interrupted after $(( t_end - t_start )) s; the count was not checked"
elif grep -q 'aborted due to excessive socket failure' "$work/siege.err"; then
  stop_reason="siege gave up after $(( t_end - t_start )) s: $failures requests failed (5xx or socket errors), the -F threshold"
elif [ "$received" -eq 0 ]; then
  stop_reason="no response at all from $base in $(( t_end - t_start )) s ($errors socket errors): is the service running there?"
elif [ -e "$work/hung" ]; then
  stop_reason="siege did not stop when its time was up (a siege deadlock); load.sh stopped it ${stop_grace} s later"
elif [ "$siege_status" -ne 0 ]; then
  stop_reason="siege exited with status $siege_status"
fi
if [ -n "$stop_reason" ]; then
  received_report >&2
  say "$stop_reason"
  [ "$interrupted" -eq 1 ] && exit 130
  exit 1
fi

# --- the count check -------------------------------------------------------------------------
if [ -z "$prom_note" ]; then
  say "waiting for the service's last flush and a Prometheus scrape after it"
  if read -r count_end stamp_end < <(count_after "$(( t_end + settle ))"); then
    counted=$(awk -v a="$count_end" -v b="$count_start" 'BEGIN { printf "%.0f", a - b }')
  else
    prom_note="Prometheus at $prometheus had no scrape of service=\"$service\" within ${scrape_timeout} s of the end"
  fi
fi
received_report >&2
if [ -n "$prom_note" ]; then
  printf 'Prometheus counted:\tnot checked: %s\n' "$prom_note" >&2
  exit 0
fi
printf 'Prometheus counted:\t%d (increase of sum(%s), scrapes at %s and %s)\n' \
  "$counted" "$counter" "$(clock "$stamp_start")" "$(clock "$stamp_end")" >&2
extra=$(( counted - received ))
if [ "$extra" -eq 0 ]; then
  printf 'Counts agree:\texactly\n' >&2
elif [ "$extra" -gt 0 ] && [ "$extra" -le "$concurrency" ]; then
  printf 'Counts agree:\twithin the cut-off allowance (Prometheus +%d; siege -t may leave up to one served response per user unread, %d users)\n' \
    "$extra" "$concurrency" >&2
elif [ "$extra" -lt 0 ]; then
  printf 'Counts DISAGREE:\tPrometheus counted %d fewer responses than siege received: responses were not counted (is the exporter dropping samples? see the Pipeline row)\n' "$(( -extra ))" >&2
  exit 1
else
  printf 'Counts DISAGREE:\tPrometheus counted %d more responses than siege received (allowance %d): did another client call the service during the run?\n' \
    "$extra" "$concurrency" >&2
  exit 1
fi
