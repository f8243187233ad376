#!/usr/bin/env bash
# Load: wrk (Debian's) with 64 keep-alive connections on the token check, a
# static file and the process list of the real daemon. Passes when every answer
# is 2xx and no socket error happened; prints requests/s and p99 (figures, not
# asserted: speed is measured in bench/, this checks behaviour under load).
#
#   usage: tests/load.sh [SECONDS]   (default 5 per endpoint)
# Env: PISTACK_BIN (default target/debug/pistack, built when missing).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
seconds=${1:-5}
say() { echo "load.sh: $*" >&2; }
command -v wrk >/dev/null || { say "no wrk: run make deps"; exit 1; }
# shellcheck source=tests/lib/daemon.sh
. "$here/lib/daemon.sh"
daemon_bin

work=$(mktemp -d /tmp/pistack-load.XXXXXX)
cleanup() {
  daemon_stop
  rm -rf "$work"
}
trap cleanup EXIT
# All 64 connections come from one address: the per-client bound is raised
# above them (its default, 32, is the subject of tests/hardening_http.rs).
cat >"$work/config.json" <<JSON
{
  "state_dir": "$work/state",
  "http": {"bind": "127.0.0.1:0", "www_dir": "$repo/www",
           "max_connections_per_client": 128},
  "auth": {"pbkdf2_iterations": 1000, "password_checks_per_s": 1000},
  "gpio": {"backend": "sim"},
  "programs": {"sleeper": {"command": ["/bin/sleep", "3600"], "startsecs": 0}}
}
JSON
daemon_start "$work/config.json" "$work/daemon.log"
token=$(daemon_login root "$(cat "$work/state/initial-root-password")")

status=0
printf '%-32s %9s %8s %7s %8s %8s\n' endpoint requests rps non2xx p50_ms p99_ms
for spec in "POST /api/auth/session/validate" "GET /index.html" "GET /api/supervisor/processes"; do
  method=${spec% *} path=${spec#* }
  out=$(METHOD=$method TOKEN=$token wrk -t2 -c64 -d"${seconds}s" --latency \
    -s "$here/load/status.lua" "$base$path" 2>&1) || { say "wrk failed: $out"; status=1; continue; }
  line=$(grep '^RESULT' <<<"$out") || { say "no result from wrk: $out"; status=1; continue; }
  eval "${line#RESULT }"
  printf '%-32s %9s %8s %7s %8s %8s\n' "$method $path" "$requests" "$rps" "$non2xx" "$p50_ms" "$p99_ms"
  if ((non2xx > 0 || socket_errors > 0 || requests == 0)); then
    say "$method $path: $non2xx answers not 2xx, $socket_errors socket errors"
    status=1
  fi
done
kill -0 "$pid" 2>/dev/null || { say "the daemon died under load"; status=1; }
exit $status
