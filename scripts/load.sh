#!/usr/bin/env bash
# Drives the service with siege from a generated URL file that mixes what the RED dashboard
# shows: counter hits, item writes (JSON POST), reads of stored keys (cache hits), reads of
# absent keys (misses), listing, health, demo routes (I/O, CPU, random latency, random status)
# and an unknown route.
#
# Usage: scripts/load.sh [-c concurrency] [-t duration] [-d delay] [base-url]
#   -c  simulated users (siege -c), default 10
#   -t  duration with siege's modifier S, M or H (siege -t), default 30S
#   -d  each user waits a random 0..delay seconds between requests (siege -d), default 0.2;
#       0 runs flat out
#   base-url  default $BASE_URL, else http://127.0.0.1:8080
# Prints siege's summary, then the responses received by status code. siege leaves 5xx answers
# out of "Transactions" (it counts them as failed), so the "responses received" line, counted
# from siege's per-request log, is the number to compare with the service's http_requests_total.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

concurrency=10
duration=30S
delay=0.2
while getopts ":c:t:d:h" opt; do
  case "$opt" in
    c) concurrency=$OPTARG ;;
    t) duration=$OPTARG ;;
    d) delay=$OPTARG ;;
    h) usage 0 ;;
    *) echo "load.sh: unknown option -$OPTARG" >&2; usage 2 ;;
  esac
done
shift $((OPTIND - 1))
base=${1:-${BASE_URL:-http://127.0.0.1:8080}}
base=${base%/}

[[ $concurrency =~ ^[1-9][0-9]{0,3}$ ]] || { echo "load.sh: -c wants 1..9999 users, got '$concurrency'" >&2; exit 2; }
[[ $duration =~ ^[1-9][0-9]*[SMHsmh]$ ]] || { echo "load.sh: -t wants a number and S, M or H (e.g. 30S), got '$duration'" >&2; exit 2; }
[[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "load.sh: -d wants seconds (e.g. 0.2), got '$delay'" >&2; exit 2; }
[[ $base =~ ^https?://[^[:space:]]+$ ]] || { echo "load.sh: base-url must be http(s)://host:port, got '$base'" >&2; exit 2; }

if ! command -v siege >/dev/null 2>&1; then
  cat >&2 <<'MSG'
load.sh: siege is not installed.
  Debian/Ubuntu: sudo apt-get install -y siege
  macOS:         brew install siege
MSG
  exit 127
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# siege's own settings: no HTML parsing (JSON API), no following redirects (a 302 from
# /demo/random-status is one response, as the service counts it), no log file.
cat > "$work/siegerc" <<'RC'
verbose = true
color = off
parser = false
follow-location = false
logging = false
show-logfile = false
protocol = HTTP/1.1
connection = keep-alive
RC

# The URL file; siege -i picks lines at random, so repeating a line weights it.
{
  for _ in 1 2 3 4; do echo "$base/"; done
  for i in $(seq 0 19); do echo "$base/items POST {\"key\":\"load-$i\",\"value\":\"value $i\",\"ttl\":3600}"; done
  for _ in 1 2; do for i in $(seq 0 19); do echo "$base/items/load-$i"; done; done
  for i in $(seq 0 7); do echo "$base/items/absent-$i"; done
  for _ in 1 2 3; do echo "$base/items?limit=20"; done
  echo "$base/health/ready"
  for _ in 1 2; do echo "$base/demo/io?ms=50"; done
  for _ in 1 2; do echo "$base/demo/cpu?iterations=5000"; done
  for _ in 1 2 3; do echo "$base/demo/random-latency?max_ms=300"; done
  for _ in 1 2 3 4 5; do echo "$base/demo/random-status"; done
  for _ in 1 2; do echo "$base/no-such-route"; done
} > "$work/urls.txt"

echo "load.sh: $(wc -l < "$work/urls.txt") URLs against $base, $concurrency users for $duration (delay up to ${delay}s)" >&2
# Per-request lines (verbose) go to a file; the summary (stderr) to the terminal.
siege -R "$work/siegerc" -f "$work/urls.txt" -i -c "$concurrency" -t "$duration" -d "$delay" \
  -T 'application/json' > "$work/hits.log" 2> >(grep -v '^\*\*\|^The server is now\|^Lifting' >&2)
wait
sed 's/\x1b\[[0-9;]*m//g' "$work/hits.log" | awk '
  /^HTTP\/1\.[01] [0-9][0-9][0-9] / { total++; by[$2]++ }
  END {
    printf "Responses received:\t%d\n", total
    printf "By status:\t"; fflush()
    for (code in by) print code "=" by[code] | "sort -n | paste -sd \" \" -"
  }' >&2
