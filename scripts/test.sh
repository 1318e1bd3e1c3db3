#!/usr/bin/env bash
# npm test: the build (the end-to-end tests run dist/), then mocha side by side with the static steps
# (typecheck, lint, format check), which read the tree and write nothing. Each static step's output
# is shown only when it fails, with its exit code, after mocha's; the script fails when mocha or any
# step does. Arguments go to mocha.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! npm run --silent build >"$out/build.log" 2>&1; then
  echo "npm run build failed:" >&2
  cat "$out/build.log" >&2
  exit 1
fi
steps=(typecheck lint format:check)
for step in "${steps[@]}"; do
  (npm run --silent "$step" >"$out/$step.log" 2>&1; echo $? >"$out/$step.rc") &
done
npx mocha "$@"
status=$?
wait
for step in "${steps[@]}"; do
  rc=$(cat "$out/$step.rc")
  if [ "$rc" != 0 ]; then
    echo "npm run $step failed (exit $rc):" >&2
    cat "$out/$step.log" >&2
    status=1
  fi
done
exit $status
