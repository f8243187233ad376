#!/usr/bin/env bash
# Figures of the daemon core (prints, asserts nothing): start-to-ready time, idle
# memory (RSS and PSS), requests/s and p99 of `validate` and of a static file with 32
# keep-alive clients (wrk), login time at the default PBKDF2 cost, the idle memory
# of a daemon with every subsystem configured (auth, programs, simulated GPIO pins,
# e-mail to a local aiosmtpd, info with weather from a local stand-in provider,
# rules, HTTPS), binary sizes (the ARMv6 one stripped, as installed).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || true; }
bin=target/release/pistack
[ -x $bin ] || cargo build --release -q
helpers=()   # the SMTP server and the weather stand-in of the last section
dir=$(mktemp -d)
trap 'kill $pid "${helpers[@]}" 2>/dev/null; wait $pid "${helpers[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
iters=${PBKDF2_ITERATIONS:-600000}
cat > "$dir/c.json" <<JSON
{"state_dir": "$dir/state", "http": {"bind": "127.0.0.1:$port", "www_dir": "$PWD/www", "workers": 4},
 "auth": {"pbkdf2_iterations": $iters, "throttle_free_attempts": 1000}, "gpio": {"backend": "sim"}}
JSON
pw=bench-root-password
t0=$(date +%s%N)
PISTACK_ROOT_PASSWORD=$pw PISTACK_LOG=warn $bin --config "$dir/c.json" serve 2>"$dir/log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.001; done
t1=$(date +%s%N)
echo "== pistack core ($(uname -m), $(nproc) cores)"
printf 'start to ready (first root hash at %d iterations included): %d ms\n' "$iters" $(((t1 - t0) / 1000000))

# A second start with users present: no hashing, just start-up.
kill $pid; wait $pid || true
t0=$(date +%s%N)
PISTACK_LOG=warn $bin --config "$dir/c.json" serve 2>>"$dir/log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.001; done
t1=$(date +%s%N)
printf 'start to ready (existing state): %d ms\n' $(((t1 - t0) / 1000000))
sleep 1
rss=$(awk '/^Rss:/{print $2}' /proc/$pid/smaps_rollup); pss=$(awk '/^Pss:/{print $2}' /proc/$pid/smaps_rollup)
echo "idle memory: RSS ${rss} KiB, PSS ${pss} KiB, threads $(ls /proc/$pid/task | wc -l)"

login() { curl -s -o "$dir/tok" -w '%{time_total}' "http://127.0.0.1:$port/api/auth/session/login" \
  -H 'Content-Type: application/json' -d "{\"name\":\"root\",\"password\":\"$pw\"}"; }
times=$(for _ in 1 2 3 4 5; do login; echo; done | sort -n)
echo "login at $iters PBKDF2 iterations: median $(echo "$times" | sed -n 3p) s (5 logins)"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$dir/tok")

cat > "$dir/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
report() { awk -v what="$1" '/Requests\/sec/{rps=$2} /^ +99%/{p99=$2} END{printf "%s: %s requests/s, p99 %s\n", what, rps, p99}'; }
wrk -t2 -c32 -d10s --latency -s "$dir/validate.lua" "http://127.0.0.1:$port/api/auth/session/validate" | report "validate, 32 keep-alive clients"
wrk -t2 -c32 -d10s --latency "http://127.0.0.1:$port/app.js" | report "static app.js, 32 keep-alive clients"
rss=$(awk '/^Rss:/{print $2}' /proc/$pid/smaps_rollup)
echo "memory after load: RSS ${rss} KiB"
kill $pid; wait $pid || true

# --- every subsystem configured --------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
venv=${PISTACK_TEST_VENV:-target/venv}
sport=$(free_port) wport=$(free_port) fport=$(free_port)
if "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  mkfifo "$dir/relay.in"
  "$venv/bin/python" tests/smtp/server.py --out "$dir/relay" --port "$sport" < "$dir/relay.in" > "$dir/relay.log" 2>&1 &
  helpers+=($!)
  exec 8> "$dir/relay.in"
  for _ in $(seq 1 100); do grep -qx ready "$dir/relay.log" 2>/dev/null && break; sleep 0.1; done
  smtp_note="aiosmtpd on :$sport"
else
  smtp_note="no aiosmtpd in $venv (make deps): the relay is down, mail stays queued"
fi
# Open-Meteo's answer, served for any query of /v1/forecast.
mkdir -p "$dir/www-weather/v1"
echo '{"latitude":52.25,"longitude":21.0,"current":{"time":"2026-12-02T15:00","temperature_2m":-1.5,"weather_code":71,"wind_speed_10m":12.3}}' \
  > "$dir/www-weather/v1/forecast"
python3 -m http.server --bind 127.0.0.1 --directory "$dir/www-weather" "$wport" >/dev/null 2>&1 &
helpers+=($!)
cat > "$dir/full.json" <<JSON
{"state_dir": "$dir/full-state",
 "http": {"bind": "127.0.0.1:$fport", "www_dir": "$PWD/www", "tls": "self-signed"},
 "auth": {"pbkdf2_iterations": 1000},
 "gpio": {"backend": "sim", "pins": {
   "LED": {"chip": "gpiochip0", "line": 17, "direction": "out"},
   "BUTTON": {"chip": "gpiochip0", "line": 27, "direction": "in", "edge": "both"}}},
 "programs": {
   "heartbeat": {"command": ["sleep", "100000"], "startsecs": 0},
   "worker": {"command": ["sh", "-c", "while :; do sleep 60; done"], "startsecs": 0}},
 "email": {"smtp": {"host": "127.0.0.1", "port": $sport, "timeout_s": 5}, "from": "bench@test.example"},
 "info": {"weather": {"url": "http://127.0.0.1:$wport/v1/forecast", "name": "Warsaw",
                      "latitude": 52.23, "longitude": 21.01, "cache_s": 600, "timeout_s": 5}},
 "rules": [
   {"name": "mail on fatal", "when": {"process": "*", "to": "FATAL"},
    "then": [{"email": {"to": "admin@test.example", "subject": "{name} is {to}", "body": "{log_tail}"}}]},
   {"name": "button", "when": {"gpio": "BUTTON", "edge": "falling"},
    "then": [{"restart": "heartbeat"}, {"gpio_pulse": {"pin": "LED", "ms": 200}}]}]}
JSON
PISTACK_ROOT_PASSWORD=$pw PISTACK_LOG=warn $bin --config "$dir/full.json" serve 2>"$dir/full.log" &
pid=$!
ca=$dir/full-state/tls/cert.pem
fbase=https://localhost:$fport
until [ -s "$ca" ] && curl -sf --cacert "$ca" "$fbase/api/health" >/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "every subsystem: the daemon did not start:"; cat "$dir/full.log"; exit 1; }
  sleep 0.01
done
ftoken=$(curl -s --cacert "$ca" "$fbase/api/auth/session/login" -H 'Content-Type: application/json' \
  -d "{\"name\":\"root\",\"password\":\"$pw\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Each subsystem asked once, so its code has run (the weather fetched and cached).
asked=
for p in /api/info/system /api/info/network /api/info/weather /api/rules /api/email/outbox \
         /api/supervisor/processes /api/io/gpio /metrics; do
  asked+="${asked:+, }${p#/api/} $(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $ftoken" "$fbase$p")"
done
echo "every subsystem asked once: $asked"
sleep 2
health=$(curl -s --cacert "$ca" "$fbase/api/health" | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["status"] + ": " + ", ".join(k + " " + v for k, v in h["subsystems"].items()))')
rss=$(awk '/^Rss:/{print $2}' /proc/$pid/smaps_rollup); pss=$(awk '/^Pss:/{print $2}' /proc/$pid/smaps_rollup)
echo "every subsystem configured (HTTPS, 2 programs, 2 sim pins, e-mail to $smtp_note, weather, 2 rules): health $health"
echo "idle memory, every subsystem configured: RSS ${rss} KiB, PSS ${pss} KiB, threads $(ls /proc/$pid/task | wc -l)"
echo "binary size: $(stat -c %s $bin) bytes ($bin, x86_64, stripped)"
arm=target/arm-unknown-linux-musleabihf/release/pistack
if [ -f $arm ]; then
  echo "binary size: $(stat -c %s $arm) bytes ($arm, ARMv6 static, stripped: lettre, rustls/ring, ureq, quick-xml, rcgen in)"
else
  echo "binary size ARMv6: not built (make pi-static)"
fi
