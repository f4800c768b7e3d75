#!/usr/bin/env bash
# The full suite N times in a row while another process keeps one core busy, as CI's shared
# 2-core machine may: a test that fails only under load is a broken test. Prints one line a run
# and a summary; exits non-zero if any run failed. Usage: npm run test:loaded [-- RUNS]
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
export CI=${CI:-true}
node -e 'for (;;) {}' &
busy=$!
trap 'kill "$busy" 2>/dev/null' EXIT
echo "loaded-suite: $runs runs, busy loop pid $busy on $(nproc) cores, node $(node --version)"
npm run build --silent
failed=0
for i in $(seq 1 "$runs"); do
  log=$(mktemp)
  start=$(date +%s)
  if npx vitest run >"$log" 2>&1; then verdict=passed; else verdict=FAILED; failed=$((failed + 1)); fi
  took=$(($(date +%s) - start))
  summary=$(grep -E '^tests: ' "$log" | tail -n 1)
  echo "run $i: $verdict in ${took} s ($summary)"
  [ "$verdict" = FAILED ] && grep -E '×|FAIL' "$log" | head -n 20
  rm -f "$log"
done
echo "loaded-suite: $((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
