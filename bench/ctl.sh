#!/usr/bin/env bash
# bench/ctl.sh: how long `pistack ctl status` takes from start to exit, over the
# control socket of a running daemon with 10 programs; supervisorctl 4.2.5 doing
# the same through pistack's /RPC2 beside it when target/venv has it. Prints
# figures; asserts nothing. Uses hyperfine when installed, else a timed loop.
#
# usage: bench/ctl.sh   (builds the release binary unless PISTACK_BIN is set)
# env:   PISTACK_BIN, RUNS (default 200)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-200}
bin=${PISTACK_BIN:-}
if [[ -z $bin ]]; then
  (cd "$here" && cargo build --release --quiet)
  bin=$here/target/release/pistack
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pistack-bench-ctl.XXXXXX")
programs=$(for i in $(seq 1 10); do printf '"p%s": {"command": ["sleep", "1000"], "startsecs": 0},' "$i"; done)
cat >"$work/pistack.json" <<EOF
{"state_dir": "$work/state", "http": {"bind": "127.0.0.1:0", "www_dir": "$here/www"},
 "control": {"socket": "$work/control.sock"}, "programs": {${programs%,}}}
EOF
PISTACK_ROOT_PASSWORD=bench-password-1 "$bin" --config "$work/pistack.json" serve 2>"$work/log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [[ -S $work/control.sock ]] && break; sleep 0.1; done
ctl=("$bin" ctl --socket "$work/control.sock" status)
printf '[supervisorctl]\nserverurl=unix://%s\n' "$work/control.sock" >"$work/sc.conf"
sctl=$here/target/venv/bin/supervisorctl
if command -v hyperfine >/dev/null; then
  cmds=("${ctl[*]}")
  [[ -x $sctl ]] && cmds+=("$sctl -c $work/sc.conf status")
  hyperfine -N -i --warmup 10 --runs "$runs" "${cmds[@]}"
else
  start=$(date +%s%N)
  for _ in $(seq 1 "$runs"); do "${ctl[@]}" >/dev/null || true; done
  end=$(date +%s%N)
  echo "pistack ctl status: $(( (end - start) / runs / 1000 )) us mean over $runs runs"
fi
