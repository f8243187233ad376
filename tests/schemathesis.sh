#!/usr/bin/env bash
# Contract fuzzing: schemathesis (target/venv, from tests/requirements.txt) against
# /api/openapi.json of the real daemon, first as Root, then as a User: no 5xx,
# every answer's status and schema as documented, bad input refused. The document
# itself must pass openapi-spec-validator first.
#
#   usage: tests/schemathesis.sh [EXAMPLES]   (default 25 per operation and phase)
# Env: PISTACK_BIN (default target/debug/pistack, built when missing); SCHEMATHESIS_SEED.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
venv=$repo/target/venv
examples=${1:-25}
seed=${SCHEMATHESIS_SEED:-1}
say() { echo "schemathesis.sh: $*" >&2; }
[ -x "$venv/bin/schemathesis" ] && [ -x "$venv/bin/openapi-spec-validator" ] ||
  { say "no schemathesis in target/venv: run make deps"; exit 1; }
# shellcheck source=tests/lib/daemon.sh
. "$here/lib/daemon.sh"
daemon_bin

work=$(mktemp -d /tmp/pistack-schemathesis.XXXXXX)
relay=
cleanup() {
  daemon_stop
  [ -z "$relay" ] || { kill "$relay" 2>/dev/null; wait "$relay" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
# A real SMTP relay (tests/smtp/server.py), so that the mail routes are not all 503.
smtp_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/mail"
mkfifo "$work/relay.in"   # the relay runs until its stdin closes: when this script ends
"$venv/bin/python" "$here/smtp/server.py" --out "$work/mail" --port "$smtp_port" \
  <"$work/relay.in" >"$work/relay.log" 2>&1 &
relay=$!
exec 3>"$work/relay.in"
# A sim GPIO pin of each direction and two programs, so that paths with a real
# {name} exist; fast PBKDF2 (the subject here is the contract, not the cost).
cat >"$work/config.json" <<JSON
{
  "state_dir": "$work/state",
  "http": {"bind": "127.0.0.1:0", "www_dir": "$repo/www"},
  "auth": {"pbkdf2_iterations": 1000, "password_checks_per_s": 1000},
  "email": {"smtp": {"host": "127.0.0.1", "port": $smtp_port, "security": "none"},
            "from": "pistack@test.example"},
  "gpio": {"backend": "sim", "pins": {
    "LED": {"chip": "gpiochip0", "line": 17, "direction": "out", "initial": 0},
    "BUTTON": {"chip": "gpiochip0", "line": 27, "direction": "in", "edge": "falling"}}},
  "programs": {
    "sleeper": {"command": ["/bin/sleep", "3600"], "startsecs": 0},
    "idle": {"command": ["/bin/sleep", "3600"], "autostart": false, "startsecs": 0}
  }
}
JSON
# A fresh daemon (empty state) for each run: a Root may change any account,
# its own password included (which ends its logins), so one run must not
# leave the next logged out.
fresh() {  # NAME LEVEL: a new daemon, and $token of a new account on it
  if [ -n "$pid" ]; then
    kill -0 "$pid" 2>/dev/null || { say "the daemon died during a run"; status=1; }
    daemon_stop
    if grep -q "panicked" "$work/daemon.log"; then say "the daemon panicked:"; grep -A3 panicked "$work/daemon.log" >&2; status=1; fi
  fi
  rm -rf "$work/state"
  daemon_start "$work/config.json" "$work/daemon.log"
  local root
  root=$(daemon_login root "$(cat "$work/state/initial-root-password")")
  curl -fsS -o /dev/null -H "Authorization: Bearer $root" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$1\",\"password\":\"fuzz-password-1\",\"level\":\"$2\"}" "$base/api/auth/users"
  token=$(daemon_login "$1" fuzz-password-1)
}
status=0
fresh fuzzroot Root
curl -fsS "$base/api/openapi.json" >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json" >&2

# One worker: with two, hypothesis (describing a filter of a query parameter's
# negative cases) parses schemathesis's source from both threads at once, and
# Python 3.11's ast fails with "AST constructor recursion depth mismatch"
# (CPython gh-106905) in about half the runs: an error of the tool, not of pistack.
# Every check is on (schemathesis's default; tests/schemathesis.toml turns one off
# for one operation, and says why). Ending the caller's own logins would log the
# run out: those two routes are not fuzzed with its token.
run() {
  local who=$1 token=$2 examples=$3
  shift 3
  say "as $who: $examples examples per operation and phase${*:+ ($*)}"
  "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --exclude-path /api/auth/session/logout-all --exclude-path /api/auth/session/logout \
    --max-examples "$examples" --seed "$seed" --workers 1 --request-timeout 15 \
    --no-color --report junit --report-dir "$work/report-$who-$examples" \
    --suppress-health-check all --warnings off "$@" ${SCHEMATHESIS_ARGS:-}
}
cd "$work"   # schemathesis keeps a cache (.schemathesis/) in its working folder
# The stateful phase needs longer runs to follow the links of POST /api/auth/users
# (create -> read -> change -> delete); only an Admin or Root may create.
run Root "$token" $((examples * 8)) --phases stateful || status=1
fresh fuzzroot Root
run Root "$token" "$examples" || status=1
fresh fuzzuser User
run User "$token" "$examples" || status=1
if ! kill -0 "$pid" 2>/dev/null; then say "the daemon died during the run"; status=1; fi
if grep -q "panicked" "$work/daemon.log"; then say "the daemon panicked:"; grep -A3 panicked "$work/daemon.log" >&2; status=1; fi
exit $status
