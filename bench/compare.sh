#!/usr/bin/env bash
# bench/compare.sh (make bench-compare): the original stack, installed from PyPI
# at the seed's pins (bench/python-ref, its own measure.sh), next to pistack
# (the release binary, its shipped defaults), one run each on this machine, with
# the same wrk script (bench/python-ref/bench/post.lua, 2 threads, 16
# connections). Prints a table; asserts nothing. Ratios are the headline;
# absolute numbers are noisy on a shared machine.
#
#   usage: bench/compare.sh      env: WRK_SECS (5), PYREF_VENV (target/pyref-venv)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
secs=${WRK_SECS:-5}
venv=${PYREF_VENV:-$repo/target/pyref-venv}
req=$here/python-ref/requirements.txt
lua=$here/python-ref/bench/post.lua
say() { echo "compare: $*" >&2; }
command -v wrk >/dev/null || { say "no wrk: run make deps"; exit 1; }
[ -x "$repo/target/release/pistack" ] || { say "no release binary: make release"; exit 1; }
if ! cmp -s "$req" "$venv/.requirements"; then
  say "installing the original stack's pins into $venv (pip, from PyPI)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  cp "$req" "$venv/.requirements"
fi
work=$(mktemp -d /tmp/pistack-compare.XXXXXX)
pid=
cleanup() {
  [ -z "$pid" ] || { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# --- the Python stack, by its own script -------------------------------------
say "the Python stack (bench/python-ref/measure.sh, about a minute)"
# On a copy: the stack writes its users, sessions, logs and results where it lies.
cp -a "$here/python-ref" "$work/python-ref"
VENV=$venv ROUNDS=1 WRK_RUNS=1 WRK_SECS=$secs RESTARTS=2 bash "$work/python-ref/measure.sh" >"$work/python.txt" 2>&1 ||
  { say "measure.sh failed:"; tail -20 "$work/python.txt" >&2; exit 1; }
pyline() { sed -n "$1" "$work/python.txt" | head -1; }
py_start=$(pyline 's/^startup .*healthy *\([0-9.]*\) s.*/\1/p')
py_stop=$(pyline 's/.*stop (SIGTERM supervisord -> exit): \([0-9.]*\) s.*/\1/p')
py_pss=$(pyline 's/^memory idle *PSS \([0-9.]*\) MiB.*/\1/p')
py_login_rps=$(pyline 's/^login    2t\/16c *\([0-9.]*\) req\/s.*/\1/p')
py_login_p99=$(pyline 's/^login    2t\/16c .* p99 \([0-9.]*\) ms.*/\1/p')
py_val_rps=$(pyline 's/^validate 2t\/16c *\([0-9.]*\) req\/s.*/\1/p')
py_val_p99=$(pyline 's/^validate 2t\/16c .* p99 \([0-9.]*\) ms.*/\1/p')
py_restart=$(pyline 's/^kill -9 auth_service .*healthy again \([0-9.]*\) s.*/\1/p')
py_idle_cpu=$(pyline 's/^idle CPU *\([0-9.]*\) %.*/\1/p')
py_wakeups=$(pyline 's/^idle wake-ups *\([0-9.]*\) per second.*/\1/p')
py_val_cpu=$(pyline 's/^CPU per 1000 *validate \([0-9.]*\) s.*/\1/p')
py_login_cpu=$(pyline 's/^CPU per 1000 .* login \([0-9.]*\) s.*/\1/p')

# --- pistack -----------------------------------------------------------------
say "pistack (target/release/pistack)"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
cat >"$work/config.json" <<JSON
{
  "state_dir": "$work/state",
  "http": {"bind": "127.0.0.1:0", "www_dir": "$repo/www"},
  "gpio": {"backend": "sim"},
  "programs": {"worker": {"command": ["/bin/sleep", "100000"], "startsecs": 0}}
}
JSON
# The first start calibrates PBKDF2 (auth.pbkdf2_iterations unset, the default);
# start-to-ready is measured on the second start, as every later boot is.
start_daemon() {
  : >"$work/log"
  t0=$(now)
  "$repo/target/release/pistack" --config "$work/config.json" serve 2>"$work/log" &
  pid=$!
  base=
  until [ -n "$base" ] && curl -fsS -o /dev/null "$base/api/health" 2>/dev/null; do
    base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/log" | head -1)
    kill -0 "$pid" || { say "pistack exited"; cat "$work/log" >&2; exit 1; }
    sleep 0.005
  done
  ready=$(since "$t0")
}
start_daemon
kill "$pid"; wait "$pid" || true
start_daemon
rs_start=$ready
iters=$(sed -n 's/.*"iterations": *\([0-9]*\).*/\1/p' "$work/state/pbkdf2.json")
sleep 2
tree() { echo "$pid"; pgrep -P "$pid" || true; }
rs_pss_kb=$(for p in $(tree); do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"; done | awk '{s+=$1} END {print s}')
switches() { cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s+=$2} END {print s}'; }
cpu_ticks() { local s; s=$(cat "/proc/$pid/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
# Wake-ups: context switches of every thread of the daemon over 10 s idle.
w0=$(switches); c0=$(cpu_ticks); sleep 10; w1=$(switches); c1=$(cpu_ticks)
rs_wakeups=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", (b - a) / 10 }')
hz=$(getconf CLK_TCK)
rs_idle_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 10 * 100 }')
pw=$(cat "$work/state/initial-root-password")
login_body="{\"name\":\"root\",\"password\":\"$pw\"}"
token=$(curl -fsS -H 'Content-Type: application/json' -d "$login_body" "$base/api/auth/session/login" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
run_wrk() {  # URL BODY TOKEN -> "RESULT ... cpu_per_1000=S"
  local c0 c1 out
  c0=$(cpu_ticks)
  out=$(BODY="$2" TOKEN="$3" wrk -t2 -c16 -d"${secs}s" --timeout 15s --latency -s "$lua" "$1" | grep '^RESULT')
  c1=$(cpu_ticks)
  # Only 2xx answers count as served (a login past auth.password_checks_per_s is a 429).
  local ok=$(( $(kv requests "$out") - $(kv non2xx "$out") ))
  echo "$out ok=$ok ok_rps=$(awk -v n="$ok" -v s="$secs" 'BEGIN { printf "%.2f", n / s }') cpu_per_1000=$(
    awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$ok" 'BEGIN { printf "%.3f", n ? (b - a) / hz / n * 1000 : 0 }')"
}
login=$(run_wrk "$base/api/auth/session/login" "$login_body" "")
validate=$(run_wrk "$base/api/auth/session/validate" "" "$token")
# Restart latency: kill -9 of a supervised program until it is RUNNING again
# (the Python row: kill -9 of auth_service until its health answers).
child=$(pgrep -P "$pid" | head -1)
t0=$(now); kill -9 "$child"
until curl -fsS -H "Authorization: Bearer $token" "$base/api/supervisor/processes/worker" 2>/dev/null |
    grep -q '"state":"RUNNING"' && [ "$(pgrep -P "$pid" | head -1)" != "$child" ]; do sleep 0.005; done
rs_restart=$(since "$t0")
t0=$(now); kill "$pid"; wait "$pid" || true; rs_stop=$(since "$t0"); pid=

# --- the table ---------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.1fx", a / b }'; }
row() { printf '| %-40s | %14s | %14s | %8s |\n' "$1" "${2:-n/m}" "${3:-n/m}" "${4:--}"; }
rs_pss=$(awk -v k="$rs_pss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
echo
echo "Side by side, one run each, $(nproc) CPUs $(uname -m), $(date -u +%F)."
echo "Python: Flask 3.0.3 x5 (dev server) + Django 5.0.7/gunicorn 22 (-w 2) under supervisor 4.2.5;"
echo "pistack: release build, shipped defaults (PBKDF2 calibrated here to $iters iterations, 10 checks/s)."
row "figure" "python-ref" "pistack" "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------------------------" "----------------" "----------------" "----------"
row "idle memory, whole stack, PSS (MiB)" "$py_pss" "$rs_pss" "$(ratio "$py_pss" "$rs_pss")"
row "start to ready (s)" "$py_start" "$rs_start" "$(ratio "$py_start" "$rs_start")"
row "login 2t/16c (2xx/s)" "$py_login_rps" "$(kv ok_rps "$login")" "$(ratio "$(kv ok_rps "$login")" "$py_login_rps")"
row "  of which refused 429 (over 10 checks/s)" "" "$(kv non2xx "$login")" ""
row "login p99 (ms)" "$py_login_p99" "$(kv p99_ms "$login")" "$(ratio "$py_login_p99" "$(kv p99_ms "$login")")"
row "validate 2t/16c (2xx/s)" "$py_val_rps" "$(kv ok_rps "$validate")" "$(ratio "$(kv ok_rps "$validate")" "$py_val_rps")"
row "validate p99 (ms)" "$py_val_p99" "$(kv p99_ms "$validate")" "$(ratio "$py_val_p99" "$(kv p99_ms "$validate")")"
row "CPU s per 1000 validate requests" "$py_val_cpu" "$(kv cpu_per_1000 "$validate")" "$(ratio "$py_val_cpu" "$(kv cpu_per_1000 "$validate")")"
row "CPU s per 1000 logins (2xx; incl. the 429s)" "$py_login_cpu" "$(kv cpu_per_1000 "$login")" ""
row "restart after kill -9 (s)" "$py_restart" "$rs_restart" "$(ratio "$py_restart" "$rs_restart")"
row "idle CPU (% of one core)" "$py_idle_cpu" "$rs_idle_cpu" "$(ratio "$py_idle_cpu" "$rs_idle_cpu")"
row "idle wake-ups per second" "$py_wakeups" "$rs_wakeups" "$(ratio "$py_wakeups" "$rs_wakeups")"
row "stop, SIGTERM to exit (s)" "$py_stop" "$rs_stop" "$(ratio "$py_stop" "$rs_stop")"
echo "n/m: not measured by bench/python-ref/measure.sh. Ratios: how many times better pistack is."
