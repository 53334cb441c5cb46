#!/usr/bin/env bash
# `npm test`: every part of the suite in turn (lint, typecheck, unit, e2e, compose, bench smoke),
# each through its own npm script. A failing part does not stop the others: each gets its own
# result and wall time in the closing summary, and the exit status is 1 when any part failed.
# TEST_PARTS (space-separated part names) runs a subset, e.g. TEST_PARTS="lint typecheck".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# part name and the npm script that runs it, in order.
all=(lint:lint typecheck:typecheck unit:test:unit e2e:test:e2e compose:test:compose bench-smoke:bench:smoke)
wanted=${TEST_PARTS:-}
names=() results=() seconds=()
failed=0
for pair in "${all[@]}"; do
  name=${pair%%:*} script=${pair#*:}
  if [ -n "$wanted" ] && [[ " $wanted " != *" $name "* ]]; then continue; fi
  echo "== npm test: $name (npm run $script)"
  start=$EPOCHREALTIME
  npm run --silent "$script"
  status=$?
  names+=("$name")
  seconds+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
  if [ "$status" -eq 0 ]; then results+=(ok); else results+=("FAIL (exit $status)"); failed=$((failed + 1)); fi
  echo "== npm test: $name ${results[-1]} in ${seconds[-1]} s"
done
if [ ${#names[@]} -eq 0 ]; then echo "npm test: TEST_PARTS names no part (parts: ${all[*]%%:*})" >&2; exit 2; fi
total=$(printf '%s\n' "${seconds[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')
echo
echo "npm test summary"
printf '  %-12s %-16s %9s\n' part result seconds
for i in "${!names[@]}"; do printf '  %-12s %-16s %9s\n' "${names[$i]}" "${results[$i]}" "${seconds[$i]}"; done
echo "npm test: $(( ${#names[@]} - failed )) of ${#names[@]} parts passed, $failed failed, $total s"
[ "$failed" -eq 0 ]
