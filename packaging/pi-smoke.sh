#!/usr/bin/env bash
# pi-smoke.sh: the daemon on an emulated Pi Zero (qemu-arm -cpu arm1176),
# driven with curl from the host.
#
#   Usage: packaging/pi-smoke.sh BINARY
#     BINARY  a static ARMv6 pistack, e.g. $(tools/pi-cross-build musl)
#   Env:
#     SMOKE_READY_S  how long to wait for /api/health (default 60: qemu is slow)
#     SMOKE_STOP_S   how long SIGTERM may take (default 20)
#     SMOKE_MAIL_S   how long a mail may take to reach the relay (default 90)
#     PISTACK_TEST_VENV  the venv with aiosmtpd (default target/venv, made from
#                    tests/requirements.txt when it lacks aiosmtpd)
#
# Steps: start `pistack --config CFG serve` under pi-run with a temporary
# config (state_dir in a temp dir, http.bind 127.0.0.1:<free port>, GPIO
# backend "sim" with an output pin LED, a program "ticker" with autostart,
# PBKDF2 at 1000 iterations, e-mail to a local aiosmtpd (tests/smtp/server.py)
# with security "starttls" and ca_file the CA this script makes with openssl)
# and PISTACK_ROOT_PASSWORD set; then
#   health 200 -> login as root -> PUT LED=1 -> POST /api/email/send, the relay
#   receives it over STARTTLS with the UTF-8 subject intact -> ticker RUNNING ->
#   restart ticker (new pid) -> SIGTERM -> exit status 0 within SMOKE_STOP_S;
#   then a second run over HTTPS (http.tls "self-signed").
# Prints `ok - ...` / `not ok - ...`; exits 1 on any failure. Everything it
# started is killed on exit.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
bin=$(readlink -f "$1")
[ -x "$bin" ] || { echo "pi-smoke: not an executable: $1" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
pirun=$repo/tools/pi-run
ready_s=${SMOKE_READY_S:-60}
stop_s=${SMOKE_STOP_S:-20}
mail_s=${SMOKE_MAIL_S:-90}
venv=${PISTACK_TEST_VENV:-$repo/target/venv}

# --- tools (idempotent, non-interactive) ----------------------------------------
"$repo/tools/apt-need" --quiet pi-smoke curl:curl jq:jq python3:python3 openssl:openssl || exit 2

# --- bookkeeping ---------------------------------------------------------------------
failures=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d)
daemon=    # pid of pi-run, which execs qemu-arm: signals go to the daemon
watcher=
relay=     # pid of the SMTP server (tests/smtp/server.py); it runs until fd 8 closes
ticker_pids=()

# (Functions below run from traps and loops; shellcheck 0.9 thinks them unreachable.)
# shellcheck disable=SC2317
alive() {  # a running process (a zombie left to an init that does not reap counts as gone)
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
# shellcheck disable=SC2317
descendants() {  # all descendants of $1, deepest last
  local p
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$p"; descendants "$p"; done
}
# shellcheck disable=SC2317
cleanup() {
  local p pids=()
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    mapfile -t pids < <(descendants "$daemon")
    kill -KILL "$daemon" 2>/dev/null
  fi
  # The programs run in their own process groups: kill the groups, then any
  # descendant that is still there.
  for p in "${ticker_pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$daemon" ] && wait "$daemon" 2>/dev/null
  if [ -n "$relay" ]; then exec 8>&- 2>/dev/null; kill "$relay" 2>/dev/null; wait "$relay" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_log() {
  echo "# --- daemon output (last 40 lines) ---"
  tail -n 40 "$tmp/daemon.log" 2>/dev/null | sed 's/^/#   /'
}
finish() {
  [ "$failures" -gt 0 ] && show_log
  if [ "$failures" -gt 0 ]; then echo "# $failures check(s) failed"; exit 1; fi
  echo "# all checks passed"; exit 0
}
bail() { not_ok "$*"; echo "# stopping here"; finish; }

# --- SMTP relay: aiosmtpd with STARTTLS on a certificate of a CA made here -------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  echo "# making $venv with aiosmtpd (tests/requirements.txt)"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q -r "$repo/tests/requirements.txt" ||
    { echo "pi-smoke: cannot make the venv $venv with aiosmtpd" >&2; exit 2; }
fi
mkdir -p "$tmp/pki" "$tmp/relay"
(
  cd "$tmp/pki" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=pi-smoke CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=localhost" &&
  echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > ext &&
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext
) > "$tmp/pki/openssl.log" 2>&1 || { cat "$tmp/pki/openssl.log" >&2; echo "pi-smoke: openssl failed" >&2; exit 2; }
sport=$(free_port)
mkfifo "$tmp/relay.in"
"$venv/bin/python" "$repo/tests/smtp/server.py" --out "$tmp/relay" --port "$sport" --mode starttls \
  --cert "$tmp/pki/srv.pem" --key "$tmp/pki/srv.key" < "$tmp/relay.in" > "$tmp/relay.log" 2>&1 &
relay=$!
exec 8> "$tmp/relay.in"   # the server's stdin: it stops when this closes
for _ in $(seq 1 80); do
  grep -qx ready "$tmp/relay.log" 2>/dev/null && break
  kill -0 "$relay" 2>/dev/null || break
  sleep 0.25
done
grep -qx ready "$tmp/relay.log" || { cat "$tmp/relay.log" >&2; echo "pi-smoke: the SMTP server did not start" >&2; exit 2; }
echo "# SMTP relay (aiosmtpd, STARTTLS required) on 127.0.0.1:$sport"

# --- config ---------------------------------------------------------------------------
port=$(free_port)
base=http://127.0.0.1:$port
password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
mkdir -p "$tmp/state"
cfg=$tmp/pistack.json
jq -n --arg state "$tmp/state" --arg bind "127.0.0.1:$port" --arg www "$repo/www" \
      --argjson sport "$sport" --arg ca "$tmp/pki/ca.pem" '{
  state_dir: $state,
  http: {bind: $bind, www_dir: $www},
  auth: {pbkdf2_iterations: 1000},
  gpio: {backend: "sim",
         pins: {LED: {chip: "gpiochip0", line: 17, direction: "out"}}},
  email: {smtp: {host: "localhost", port: $sport, security: "starttls", ca_file: $ca, timeout_s: 30},
          from: "pi-smoke@test.example",
          retry: {base_s: 1, max_s: 5, max_attempts: 10}},
  programs: {ticker: {command: ["/bin/sh", "-c", "while :; do echo tick; sleep 1; done"],
                      autostart: true}}
}' > "$cfg"

# curl helper: api METHOD PATH [JSON]; body in $tmp/body, prints the status code.
token=
api() {
  local args=(-sS -o "$tmp/body" -w '%{http_code}' --max-time 30 -X "$1")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$base$2" 2>>"$tmp/curl.err" || true
}
body() { cat "$tmp/body" 2>/dev/null; }
jqb()  { jq -r "$1" "$tmp/body" 2>/dev/null; }

# --- start -------------------------------------------------------------------------------
echo "# binary: $bin"
echo "# config: bind 127.0.0.1:$port, state_dir $tmp/state"
# Nothing from the caller's environment may change the config under test,
# and the daemon must not try to talk to a systemd that is not its manager.
env -u PISTACK_CONFIG -u PISTACK_BIND -u AUTH_SECRET -u SMTP_HOST -u SMTP_PORT -u SMTP_FROM \
    -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID -u JOURNAL_STREAM \
    PISTACK_ROOT_PASSWORD="$password" \
    "$pirun" "$bin" --config "$cfg" serve > "$tmp/daemon.log" 2>&1 &
daemon=$!
started=$(date +%s.%N)

code=000
for _ in $(seq 1 $((ready_s * 4))); do
  kill -0 "$daemon" 2>/dev/null || break
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 2 "$base/api/health" 2>/dev/null) || true
  [ "$code" != 000 ] && break
  sleep 0.25
done
if ! kill -0 "$daemon" 2>/dev/null; then
  wait "$daemon" 2>/dev/null; rc=$?; daemon=
  bail "daemon exited with status $rc before answering /api/health"
fi
[ "$code" != 000 ] || bail "no answer on $base/api/health within ${ready_s}s"
echo "# first answer after $(python3 -c "import time; print(round(time.time() - $started, 1))")s"

# --- health ---------------------------------------------------------------------------------
code=$(api GET /api/health)
if [ "$code" = 200 ] && [[ $(jqb .status) =~ ^(ok|degraded)$ ]]; then
  ok "GET /api/health is 200 (status $(jqb .status), version $(jqb .version))"
else
  not_ok "GET /api/health is 200 with a status (got $code: $(body | head -c 300))"
fi

# --- login ------------------------------------------------------------------------------------
code=$(api POST /api/auth/session/login "$(jq -nc --arg p "$password" '{name: "root", password: $p}')")
if [ "$code" = 200 ] && [ -n "$(jqb '.access_token // empty')" ]; then
  token=$(jqb .access_token)
  ok "POST /api/auth/session/login as root gives an access_token (user level $(jqb .user.level))"
else
  bail "POST /api/auth/session/login as root: got $code: $(body | head -c 300)"
fi

# --- GPIO ---------------------------------------------------------------------------------------
code=$(api PUT /api/io/gpio/LED '{"value":1}')
if [ "$code" = 200 ] && [ "$(jqb .value)" = 1 ]; then
  ok "PUT /api/io/gpio/LED {\"value\":1} is 200 with value 1"
else
  not_ok "PUT /api/io/gpio/LED {\"value\":1} is 200 with value 1 (got $code: $(body | head -c 300))"
fi
code=$(api GET /api/io/gpio/LED)
if [ "$code" = 200 ] && [ "$(jqb .value)" = 1 ]; then
  ok "GET /api/io/gpio/LED reads back value 1"
else
  not_ok "GET /api/io/gpio/LED reads back value 1 (got $code: $(body | head -c 300))"
fi

# --- e-mail over STARTTLS -------------------------------------------------------------------------
# lettre + rustls/ring on ARMv6: the relay requires STARTTLS and its certificate
# is signed by the CA in ca_file only, so a mail that arrives was sent over TLS
# that the ARMv6 binary verified.
subject="pi-smoke über STARTTLS ✓"
code=$(api POST /api/email/send "$(jq -nc --arg s "$subject" '{to: "admin@test.example", subject: $s, body: "from the ARMv6 binary"}')")
mail_id=$(jqb '.id // empty')
if [ "$code" = 202 ] && [ -n "$mail_id" ]; then
  ok "POST /api/email/send as root is 202 (id $mail_id, $(jqb .status))"
else
  not_ok "POST /api/email/send as root is 202 (got $code: $(body | head -c 300))"
fi
got=
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt "$mail_s" ]; do
  got=$(find "$tmp/relay" -name '*.json' | sort | head -n 1)
  [ -n "$got" ] && break
  sleep 0.5
done
if [ -n "$got" ]; then
  m_subject=$(jq -r .subject "$got") m_tls=$(jq -r .tls "$got") m_to=$(jq -c .rcpt_tos "$got")
  if [ "$m_subject" = "$subject" ] && [ "$m_tls" = true ] && [ "$m_to" = '["admin@test.example"]' ]; then
    ok "the relay received it over STARTTLS in $(( $(date +%s) - t0 ))s, subject \"$m_subject\" intact"
  else
    not_ok "the relay received it over STARTTLS with the subject intact (subject '$m_subject', tls $m_tls, to $m_to)"
  fi
else
  code=$(api GET /api/email/outbox)
  not_ok "the relay received the mail within ${mail_s}s (outbox: $(body | head -c 400))"
fi

# --- supervisor ----------------------------------------------------------------------------------
# autostart + startsecs (1 s, slower under qemu): poll for RUNNING.
state='' pid1=''
for _ in $(seq 1 30); do
  code=$(api GET /api/supervisor/processes)
  state=$(jqb '.[] | select(.name == "ticker") | .state')
  pid1=$(jqb '.[] | select(.name == "ticker") | .pid // empty')
  [ "$code" = 200 ] && [ "$state" = RUNNING ] && break
  [ "$code" = 200 ] || [ "$code" = 000 ] || break    # an error answer will not change
  sleep 0.5
done
[ -n "$pid1" ] && ticker_pids+=("$pid1")
if [ "$code" = 200 ] && [ "$state" = RUNNING ] && [ -n "$pid1" ]; then
  ok "GET /api/supervisor/processes shows ticker RUNNING (pid $pid1)"
else
  not_ok "GET /api/supervisor/processes shows ticker RUNNING (got $code, state '${state}': $(body | head -c 300))"
fi
if alive "$pid1"; then
  ok "ticker pid $pid1 is a live process on the host"
else
  not_ok "ticker pid '$pid1' is a live process on the host"
fi

code=$(api POST /api/supervisor/processes/ticker/restart)
pid2=$(jqb '.pid // empty')
[ -n "$pid2" ] && ticker_pids+=("$pid2")
if [ "$code" = 200 ] && [ -n "$pid2" ] && [ "$pid2" != "$pid1" ]; then
  ok "POST /api/supervisor/processes/ticker/restart is 200 with a new pid ($pid1 -> $pid2, state $(jqb .state))"
else
  not_ok "POST /api/supervisor/processes/ticker/restart is 200 with a new pid (got $code, pid '$pid2' was '$pid1': $(body | head -c 300))"
fi
if [ -z "$pid1" ]; then
  ok "the old ticker is gone # SKIP no ticker pid known"
elif ! alive "$pid1"; then
  ok "the old ticker (pid $pid1) is gone"
else
  not_ok "the old ticker (pid $pid1) is gone"
fi

# --- shutdown --------------------------------------------------------------------------------------
kill -TERM "$daemon"
t0=$(date +%s.%N)
# Watchdog: SIGKILL after stop_s, leaving a mark. Its own sleep is killed
# with it and holds no stdout, so a pipe reading this script's output ends
# when the script does.
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$stop_s" & sleeper=$!
  wait "$sleeper"
  touch "$tmp/stop-timed-out"
  kill -KILL "$daemon" 2>/dev/null
) >/dev/null 2>&1 &
watcher=$!
wait "$daemon" 2>/dev/null; rc=$?
took=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if [ -e "$tmp/stop-timed-out" ]; then timed_out=yes; else timed_out=no; fi
watcher='' daemon=''
if [ "$timed_out" = no ] && [ "$rc" = 0 ]; then
  ok "SIGTERM: daemon exited with status 0 in ${took}s"
elif [ "$timed_out" = yes ]; then
  not_ok "SIGTERM: daemon did not exit within ${stop_s}s (killed)"
else
  not_ok "SIGTERM: daemon exited with status $rc in ${took}s, not 0"
fi
# Programs are stopped on shutdown (design: stop programs in reverse priority).
sleep 0.5
last=${pid2:-$pid1}
if [ -z "$last" ]; then
  ok "ticker stopped with the daemon # SKIP no ticker pid known"
elif alive "$last"; then
  not_ok "ticker (pid $last) stopped with the daemon"
else
  ok "ticker (pid $last) stopped with the daemon"
fi

# --- HTTPS ------------------------------------------------------------------------------------
# A second run with http.tls "self-signed": the ARMv6 binary makes its
# certificate (rcgen on ring) and answers over TLS; curl trusts that certificate.
tport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/tls-state"
jq -n --arg state "$tmp/tls-state" --arg bind "127.0.0.1:$tport" --arg www "$repo/www" '{
  state_dir: $state, http: {bind: $bind, www_dir: $www, tls: "self-signed"},
  auth: {pbkdf2_iterations: 1000}, gpio: {backend: "sim"}
}' > "$tmp/tls.json"
env -u PISTACK_CONFIG -u PISTACK_BIND -u AUTH_SECRET -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID \
    PISTACK_ROOT_PASSWORD="$password" \
    "$pirun" "$bin" --config "$tmp/tls.json" serve > "$tmp/daemon.log" 2>&1 &
daemon=$!
code=000
for _ in $(seq 1 $((ready_s * 4))); do
  kill -0 "$daemon" 2>/dev/null || break
  if [ -s "$tmp/tls-state/tls/cert.pem" ]; then
    code=$(curl -sS -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' --max-time 10 \
      --cacert "$tmp/tls-state/tls/cert.pem" "https://localhost:$tport/api/health" 2>>"$tmp/curl.err") || true
    [ "$code" != 000 ] && break
  fi
  sleep 0.25
done
if [ "$code" = 200 ] && grep -qi '^strict-transport-security: max-age=31536000' "$tmp/headers"; then
  ok "HTTPS: GET https://localhost:$tport/api/health is 200 on the self-signed certificate, with HSTS"
else
  not_ok "HTTPS: GET /api/health over TLS (got $code: $(tail -n 3 "$tmp/curl.err" 2>/dev/null))"
fi
if grep -q "SHA-256 fingerprint" "$tmp/daemon.log"; then
  ok "HTTPS: the certificate's fingerprint is logged"
else
  not_ok "HTTPS: the certificate's fingerprint is logged"
fi
kill -TERM "$daemon" 2>/dev/null
wait "$daemon" 2>/dev/null
daemon=''

finish
