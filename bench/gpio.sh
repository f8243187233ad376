#!/usr/bin/env bash
# bench/gpio.sh: GPIO edge latency of pistack's cdev backend on a real kernel
# (gpio-sim in gpio-sim-vm's VM). Prints figures; asserts nothing.
#
# In the VM, line 0 (pin IN: input, both edges, no debounce) is toggled EDGES times
# through gpio-sim's sysfs pull, EDGE_GAP_S apart. The daemon is driven only from
# outside, through gpio-sim and the HTTP API. Measured, on CLOCK_MONOTONIC of the
# same kernel:
#   edge -> event   the kernel's timestamp of the edge (taken in its interrupt handler)
#                   to the moment pistack's watcher published the event on its bus
#                   (the `seen_ns` of /api/io/gpio/events minus `timestamp_ns`).
# Not measured any more: "edge -> output" (edge to a rule-like write of another pin).
# It took an in-daemon diagnostic thread; from outside, the VM's busybox tools cannot
# time a reaction to the microsecond. It comes back as a rule once rules exist.
#
# usage: bench/gpio.sh            (builds the release binary unless PISTACK_BIN is set)
# env:   PISTACK_BIN, GPIO_SIM_VM, EDGES (default 400), EDGE_GAP_S (default 0.02)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
edges=${EDGES:-400}
gap=${EDGE_GAP_S:-0.02}

vm=${GPIO_SIM_VM:-}
[[ -n $vm ]] || vm=$here/tools/gpio-sim-vm

bin=${PISTACK_BIN:-}
if [[ -z $bin ]]; then
  (cd "$here" && cargo build --release --quiet)
  bin=$here/target/release/pistack
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pistack-bench-gpio.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$bin" "$work/pistack"
cp "$here/tests/gpio_vm/lib.sh" "$work/lib.sh"
cat >"$work/pistack.json" <<'EOF'
{
  "state_dir": "/tmp/pistack-state",
  "http": {"bind": "127.0.0.1:8080", "www_dir": "/tmp/www"},
  "auth": {"pbkdf2_iterations": 1000},
  "gpio": {"backend": "cdev", "pins": {
    "IN":  {"chip": "@CHIP@", "line": 0, "direction": "in", "edge": "both", "bias": "pull-down"}
  }}
}
EOF
cat >"$work/in-vm.sh" <<'EOF'
#!/bin/sh
. "$(dirname "$0")/lib.sh"
stats() {  # label: nanoseconds on stdin -> count, median, p99, max in microseconds
  sort -n | awk -v label="$1" '{ v[NR] = $1 } END {
    if (NR == 0) { printf "%-16s no samples\n", label; exit }
    p99 = int(NR * 0.99); if (p99 < NR * 0.99) p99++
    printf "%-16s n=%d  median %.1f us  p99 %.1f us  max %.1f us\n", label, NR, v[int((NR + 1) / 2)] / 1000, v[p99] / 1000, v[NR] / 1000 }'
}
start_daemon
i=0
while [ $i -lt $EDGES ]; do
    if [ $((i % 2)) -eq 0 ]; then pull 0 pull-up; else pull 0 pull-down; fi
    sleep $EDGE_GAP_S
    i=$((i + 1))
done
# Wait (up to 10 s) until every edge driven is published, rather than for a fixed time.
j=0
until [ "$(api GET "/api/io/gpio/events?after=$((EDGES - 1))&limit=1" | grep -c '"seq"')" -gt 0 ] || [ $j -ge 100 ]; do
    sleep 0.1
    j=$((j + 1))
done
api GET "/api/io/gpio/events?limit=1000" | tr '}' '\n' |
    sed -n 's/.*"timestamp_ns":\([0-9]*\),"seen_ns":\([0-9]*\).*/\1 \2/p' >/tmp/events.txt
echo "kernel $(uname -r), $(nproc) CPU, edges driven: $EDGES, $EDGE_GAP_S s apart"
echo "events published: $(wc -l </tmp/events.txt)"
awk '{ print $2 - $1 }' /tmp/events.txt | stats "edge -> event"
echo "pistack RSS after the run: $(awk '/VmRSS/ { print $2, $3 }' /proc/$DAEMON/status)"
stop_daemon >/dev/null
EOF
chmod +x "$work/in-vm.sh"

echo "== GPIO edge latency (pistack cdev backend, gpio-sim in a VM) =="
echo "binary: $bin ($(stat -c %s "$bin") bytes)"
t0=$(date +%s.%N)
"$vm" --lines 8 --label pistack-bench --timeout 600 \
  --copy "$work/pistack" --copy "$work/pistack.json" --copy "$work/lib.sh" \
  --env "PISTACK_BIN=$work/pistack" --env "PISTACK_CONF=$work/pistack.json" \
  --env "EDGES=$edges" --env "EDGE_GAP_S=$gap" \
  -- "$work/in-vm.sh"
echo "VM run: $(awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN { printf \"%.1f\", b - a }") s (accel: $( [[ -r /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]] && echo kvm || echo tcg))"
