#!/usr/bin/env bash
# Figures of the daemon core (prints, asserts nothing): start-to-ready time, idle
# memory (RSS and PSS), requests/s and p99 of `validate` and of a static file with 32
# keep-alive clients (wrk), login time at the default PBKDF2 cost, binary sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || true; }
bin=target/release/pistack
[ -x $bin ] || cargo build --release -q
dir=$(mktemp -d); trap 'kill $pid 2>/dev/null && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
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
echo "binary size: $(stat -c %s $bin) bytes ($bin, x86_64, stripped)"
arm=target/arm-unknown-linux-musleabihf/release/pistack
[ -f $arm ] && echo "binary size: $(stat -c %s $arm) bytes ($arm, ARMv6 static)" || echo "binary size ARMv6: not built (make pi-static)"
