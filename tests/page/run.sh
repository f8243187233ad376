#!/usr/bin/env bash
# The page tests: set up what they need (idempotent), then run them.
#   tests/page/run.sh            from anywhere; exit status = the tests'
# Env: PISTACK_BIN to test a given binary (then nothing is built);
#      PISTACK_TEST_VERBOSE=1 to echo the daemon's log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules ]; then
  echo "run.sh: npm ci" >&2
  npm ci --no-audit --no-fund
  touch node_modules # npm ci may keep the folder's old time
fi

if [ -z "${PISTACK_BIN:-}" ] && [ ! -x "$REPO/target/debug/pistack" ]; then
  echo "run.sh: building the daemon" >&2
  (cd "$REPO" && cargo build)
fi
BIN="${PISTACK_BIN:-$REPO/target/debug/pistack}"
echo "run.sh: testing $BIN ($(date -r "$BIN" '+%F %T' 2>/dev/null || echo missing))" >&2

exec node --test page.test.mjs
