#!/usr/bin/env bash
# The page tests (Debian's chromium driven by playwright-core; `make deps` installs both).
#   tests/page/run.sh            from anywhere; exit status = the tests'
# Env: PISTACK_BIN to test a given binary (then nothing is built);
#      PISTACK_TEST_VERBOSE=1 to echo the daemon's log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

# What this needs is installed by `make deps` (tools/deps), not here.
[ -x /usr/bin/chromium ] || { echo "run.sh: no /usr/bin/chromium: run make deps" >&2; exit 1; }
[ -d node_modules/playwright-core ] && [ ! package-lock.json -nt node_modules ] ||
  { echo "run.sh: tests/page/node_modules is missing or older than package-lock.json: run make deps" >&2; exit 1; }

if [ -z "${PISTACK_BIN:-}" ] && [ ! -x "$REPO/target/debug/pistack" ]; then
  echo "run.sh: building the daemon" >&2
  (cd "$REPO" && cargo build)
fi
BIN="${PISTACK_BIN:-$REPO/target/debug/pistack}"
echo "run.sh: testing $BIN ($(date -r "$BIN" '+%F %T' 2>/dev/null || echo missing))" >&2

# tls.test.mjs: the page over HTTPS (http.tls).
exec node --test page.test.mjs tls.test.mjs
