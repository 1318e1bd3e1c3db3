#!/usr/bin/env bash
# The static steps of `npm test` side by side (they read the tree and write nothing but dist/):
# build, typecheck, lint and format check. Each one's output is shown only when it fails, with its
# exit code; the script fails when any of them does.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
steps=(build typecheck lint format:check)
for step in "${steps[@]}"; do
  (npm run --silent "$step" >"$out/$step.log" 2>&1; echo $? >"$out/$step.rc") &
done
wait
status=0
for step in "${steps[@]}"; do
  rc=$(cat "$out/$step.rc")
  if [ "$rc" != 0 ]; then
    echo "npm run $step failed (exit $rc):" >&2
    cat "$out/$step.log" >&2
    status=1
  fi
done
exit $status
