#!/usr/bin/env bash
# Set-up on a fresh Debian/Ubuntu machine: the system packages the agent (and,
# with "test", its test suite; with "bench", the suite and the benchmarks) needs,
# then npm ci and the build.
# Usage: scripts/setup.sh [run|test|bench]     (default: run)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
case "$mode" in
  run) packages=(tmux procps perl-base git sqlite3) ;;
  test) packages=(tmux procps perl-base git sqlite3 python3 prometheus prometheus-alertmanager redis-server docker-compose systemd chromium) ;;
  bench) packages=(tmux procps perl-base git sqlite3 python3 prometheus prometheus-alertmanager redis-server docker-compose systemd chromium
    strace prometheus-process-exporter) ;;
  *) echo "usage: scripts/setup.sh [run|test|bench]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "missing system packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing system packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm ci only when the installed tree is older than the lock file (npm ci writes node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
npm run --silent build >&2
