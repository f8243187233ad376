# shellcheck shell=bash
# The real daemon for the shell tests (tests/load.sh, tests/schemathesis.sh):
# which binary, start it and wait until it listens, log in, stop it. Sourced
# after `repo` and `say` are set; the caller's cleanup calls daemon_stop.
#
#   daemon_bin                  $bin: $PISTACK_BIN, else target/debug/pistack (built now)
#   daemon_start CONFIG LOG     start `serve`; $pid, then $base once it listens (30 s at most)
#   daemon_login NAME PASSWORD  the access token of a new session, on stdout
#   daemon_stop                 end and reap the daemon started last, if any

pid=
base=

daemon_bin() {
  if [ -z "${PISTACK_BIN:-}" ]; then (cd "$repo" && cargo build -q); fi
  bin=${PISTACK_BIN:-$repo/target/debug/pistack}
}

daemon_start() {
  local config=$1 log=$2
  "$bin" --config "$config" serve 2>"$log" &
  pid=$!
  base=
  for _ in $(seq 300); do
    base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -1)
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || { say "the daemon exited:"; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$base" ] || { say "the daemon did not listen within 30 s"; exit 1; }
}

daemon_login() {
  local token
  token=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"name\":\"$1\",\"password\":\"$2\"}" "$base/api/auth/session/login" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { say "could not log in as $1"; return 1; }
  echo "$token"
}

daemon_stop() {
  # `|| true` on the kill too: under `set -e` a daemon that has already exited
  # would end the caller's cleanup before it removed its folder.
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}
