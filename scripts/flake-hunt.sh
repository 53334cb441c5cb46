#!/usr/bin/env bash
# Runs test files again and again while the machine is kept busy, and prints per file how many
# runs failed: a test that waits for what it needs passes every time, one that guesses how fast
# another process runs fails now and then. Usage:
#
#   scripts/flake-hunt.sh [--runs N] [--cpu N | --no-stress] [--timeout SECONDS] PATH...
#
# PATH is a test file or a folder (every *.test.ts below it). Each run goes through the files in
# order, one tap process per file (`tap --disable-coverage --timeout SECONDS FILE`), with
# FLAKE_HUNT_RUN set to the run's number. Meanwhile `stress-ng --cpu N` (default: one worker
# per core, `nproc`) keeps every core busy; --no-stress runs without it. Defaults: 3 runs, a
# 1500 s tap timeout per file (a deadline for a hang, generous for the compose test).
# stress-ng is Debian's package of that name (scripts/install-deps.sh installs it); the
# STRESS_NG variable names another binary.
#
# Prints one line per file run, then a table (file, runs, failures, fastest/median/slowest
# seconds) and a total line; the tap output of each failed run is kept under the folder it
# names (FLAKE_HUNT_LOGS, default a new folder under /tmp). Exits 1 when any run failed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=3 cpu=$(nproc) stress=1 timeout=1500
paths=()
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --no-stress) stress=0; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "flake-hunt: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) paths+=("$1"); shift ;;
  esac
done
if [ ${#paths[@]} -eq 0 ]; then echo "flake-hunt: name test files or folders (see --help)" >&2; exit 2; fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "flake-hunt: --runs wants a positive whole number, got '$runs'" >&2; exit 2; }
[[ $cpu =~ ^[1-9][0-9]*$ ]] || { echo "flake-hunt: --cpu wants a positive whole number, got '$cpu'" >&2; exit 2; }

files=()
for p in "${paths[@]}"; do
  if [ -d "$p" ]; then
    mapfile -t found < <(find "$p" -name '*.test.ts' -type f | sort)
    [ ${#found[@]} -gt 0 ] || { echo "flake-hunt: no *.test.ts under $p" >&2; exit 2; }
    files+=("${found[@]}")
  elif [ -f "$p" ]; then
    files+=("$p")
  else
    echo "flake-hunt: no such file or folder: $p" >&2; exit 2
  fi
done

stress_ng=${STRESS_NG:-stress-ng}
if [ "$stress" -eq 1 ] && ! command -v "$stress_ng" >/dev/null 2>&1; then
  echo "flake-hunt: $stress_ng is not installed: apt-get install -y stress-ng (or bash scripts/install-deps.sh), or pass --no-stress" >&2
  exit 2
fi

# Node.js from package.json's engines, as every test run needs.
# shellcheck source=ensure-node.sh
source "$root/scripts/ensure-node.sh" >/dev/null
tap="$root/node_modules/.bin/tap"
[ -x "$tap" ] || { echo "flake-hunt: $tap is missing: run npm ci first" >&2; exit 2; }

logs=${FLAKE_HUNT_LOGS:-$(mktemp -d /tmp/flake-hunt.XXXXXX)}
mkdir -p "$logs"
stress_pid=""
stop_stress () {
  if [ -n "$stress_pid" ]; then kill -TERM "$stress_pid" 2>/dev/null || true; wait "$stress_pid" 2>/dev/null || true; fi
}
trap stop_stress EXIT
trap 'exit 130' INT TERM
if [ "$stress" -eq 1 ]; then
  "$stress_ng" --cpu "$cpu" --quiet >/dev/null 2>&1 &
  stress_pid=$!
  load="stress-ng --cpu $cpu"
else
  load="no stress"
fi
echo "flake-hunt: ${#files[@]} file(s), $runs run(s) each, $load; logs of failed runs in $logs"

declare -A failures durations
for run in $(seq 1 "$runs"); do
  for f in "${files[@]}"; do
    log="$logs/run$run-$(echo "$f" | tr '/' '_').log"
    start=$EPOCHREALTIME
    set +e
    (cd "$root" && FLAKE_HUNT_RUN=$run "$tap" --disable-coverage --timeout="$timeout" "$f") >"$log" 2>&1
    status=$?
    set -e
    seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    durations[$f]="${durations[$f]:-} $seconds"
    if [ "$status" -eq 0 ]; then
      rm -f "$log"
      echo "run $run/$runs  ok    ${seconds}s  $f"
    else
      failures[$f]=$(( ${failures[$f]:-0} + 1 ))
      echo "run $run/$runs  FAIL  ${seconds}s  $f (exit $status, $log)"
    fi
  done
done

total_failures=0
echo
printf '%-52s %5s %9s %8s %8s %8s\n' file runs failures 'min s' 'median s' 'max s'
for f in "${files[@]}"; do
  n=${failures[$f]:-0}
  total_failures=$((total_failures + n))
  # shellcheck disable=SC2086
  read -r min median max < <(printf '%s\n' ${durations[$f]} | sort -n | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)], v[NR] }')
  printf '%-52s %5d %9d %8s %8s %8s\n' "$f" "$runs" "$n" "$min" "$median" "$max"
done
echo "flake-hunt: $(( ${#files[@]} * runs )) runs, $total_failures failed ($load)"
[ "$total_failures" -eq 0 ] || exit 1
[ -n "${FLAKE_HUNT_LOGS:-}" ] || rmdir "$logs" 2>/dev/null || true
