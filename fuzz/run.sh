#!/usr/bin/env bash
# fuzz/run.sh: every cargo-fuzz target for SECONDS each, from its seeds in
# fuzz/corpus/<target>; new inputs go to target/fuzz-corpus/<target> (kept
# between runs, outside git). Prints the cases run per target; exits 1 when a
# target fails (the crashing input is in fuzz/artifacts/<target>/).
#
#   usage: fuzz/run.sh [SECONDS] [TARGET...]   (make test-fuzz: 20 s; make fuzz: 600 s)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${1:-20}
shift || true
cd "$here"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly), fuzzing skipped" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: no cargo-fuzz (make deps installs it), fuzzing skipped" >&2
  exit 1
fi
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build -O >&2
bin=$here/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release
work=$here/../target/fuzz-corpus
failed=()
printf '%-18s %12s %8s\n' target cases result
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  log=$work/$t.log
  mkdir -p "artifacts/$t"
  # The binary cargo fuzz built (cargo fuzz run would build again per target).
  if "$bin/$t" -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" "$work/$t" "corpus/$t" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED failed+=("$t")
  fi
  cases=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  printf '%-18s %12s %8s\n' "$t" "${cases:-?}" "$result"
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "--- $t (log: $work/$t.log)" >&2
    grep -E -A15 'panicked|ERROR: libFuzzer|SUMMARY' "$work/$t.log" | head -40 >&2
  done
  exit 1
fi
