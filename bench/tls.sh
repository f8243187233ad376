#!/usr/bin/env bash
# Figures of HTTPS (prints, asserts nothing): TLS handshakes per second (openssl
# s_time, a full handshake per connection), `validate` requests/s and p99 over
# TLS with 32 keep-alive clients (wrk), idle memory with TLS on, and the stripped
# ARMv6 size (the budget is 3 MiB) if tools/pi-cross-build musl has made it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || true; }
bin=target/release/pistack
[ -x $bin ] || cargo build --release -q
dir=$(mktemp -d); trap 'kill $pid 2>/dev/null && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/c.json" <<JSON
{"state_dir": "$dir/state", "http": {"bind": "127.0.0.1:$port", "www_dir": "$PWD/www", "workers": 4, "tls": "self-signed"},
 "auth": {"pbkdf2_iterations": 1000}, "gpio": {"backend": "sim"}}
JSON
pw=bench-root-password
PISTACK_ROOT_PASSWORD=$pw PISTACK_LOG=warn $bin --config "$dir/c.json" serve 2>"$dir/log" &
pid=$!
ca=$dir/state/tls/cert.pem
until [ -s "$ca" ] && curl -sf --cacert "$ca" "https://localhost:$port/api/health" >/dev/null; do sleep 0.01; done
echo "== pistack HTTPS ($(uname -m), $(nproc) cores; self-signed ECDSA P-256, rustls/ring)"
sleep 1
rss=$(awk '/^Rss:/{print $2}' /proc/$pid/smaps_rollup)
echo "idle memory with TLS on: RSS ${rss} KiB, threads $(ls /proc/$pid/task | wc -l)"

for v in tls1_3 tls1_2; do
  openssl s_time -connect "127.0.0.1:$port" -new -time 10 -$v -CAfile "$ca" 2>/dev/null \
    | awk -v v=$v '/real seconds/{printf "TLS handshakes (%s, a new session each, one openssl client): %.0f/s (%d in %s s)\n", v, $1 / $4, $1, $4}'
done

token=$(curl -s --cacert "$ca" "https://localhost:$port/api/auth/session/login" -H 'Content-Type: application/json' \
  -d "{\"name\":\"root\",\"password\":\"$pw\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat > "$dir/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
report() { awk -v what="$1" '/Requests\/sec/{rps=$2} /^ +99%/{p99=$2} END{printf "%s: %s requests/s, p99 %s\n", what, rps, p99}'; }
# wrk does not check the certificate; the handshakes happen once per connection.
wrk -t2 -c32 -d10s --latency -s "$dir/validate.lua" "https://127.0.0.1:$port/api/auth/session/validate" \
  | report "validate over TLS, 32 keep-alive clients"
rss=$(awk '/^Rss:/{print $2}' /proc/$pid/smaps_rollup)
echo "memory after load with TLS: RSS ${rss} KiB"
arm=target/arm-unknown-linux-musleabihf/release/pistack
[ -f $arm ] && echo "binary size with TLS: $(stat -c %s $arm) bytes ($arm, ARMv6 static, stripped; budget 3 MiB)" \
  || echo "binary size ARMv6: not built (make pi-static)"
