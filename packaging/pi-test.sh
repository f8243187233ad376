#!/usr/bin/env bash
# The Pi Zero proof, without Docker: the unit tests built for ARMv6 and run on an
# emulated ARM1176 (an ARMv7 instruction dies there with SIGILL, as on a real Zero),
# then the release binary started under qemu and driven from the host (pi-smoke.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tools=$repo/tools

# 1. Unit tests. The test harness needs unwinding and the release profile aborts,
#    so this build overrides the profile (and skips LTO) in its own target dir.
echo "pi-test: building the unit tests for arm-unknown-linux-musleabihf (ARMv6)"
tests=$(CARGO_TARGET_DIR=target/pi-test CARGO_PROFILE_RELEASE_PANIC=unwind \
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        "$tools/pi-cross-build" musl --bin pistack --tests | grep '/deps/pistack-')
# The library's unit tests and the binary's (src/lib.rs holds the subsystems).
[ -n "$tests" ] || { echo "pi-test: the build named no test binary" >&2; exit 1; }
for t in $tests; do
  echo "pi-test: running $t under qemu-arm -cpu arm1176"
  "$tools/pi-run" "$t"
done

# 2. The binary users install, on the emulated Pi Zero.
bin=$("$tools/pi-cross-build" musl | grep '/release/pistack$')
echo "pi-test: ARMv6 static binary: $(stat -c %s "$bin") bytes ($(file -b "$bin" | cut -d, -f1-2))"
packaging/pi-smoke.sh "$bin"
