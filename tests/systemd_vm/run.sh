#!/usr/bin/env bash
# run.sh: the amd64 .deb under systemd as PID 1, in a VM (tools/systemd-vm: Debian bookworm,
# systemd 252, Debian's kernel, no network, a gpio-sim chip labelled like a Pi's).
#
#   usage: tests/systemd_vm/run.sh [BINARY]     (default target/release/pistack)
#
# Builds the package twice from this tree (VERSION and VERSION+vmtest1, for the upgrade),
# boots the VM and runs tests/systemd_vm/guest.sh in it: install, health, GPIO, restarts,
# kill -9, watchdog, crash loop, stop, reboot, upgrade, purge. Prints the guest's
# `ok - ...` / `not ok - ...` lines; exits 1 when one failed or the guest did not finish,
# 125 (with the reason) when the VM could not start. Needs root the first time, to build
# the cached root image (see tools/systemd-vm --help).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/target/release/pistack}
[ -x "$bin" ] || { echo "run.sh: no binary $bin (cargo build --release)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
deb=$("$repo/packaging/deb/build-deb.sh" amd64 "$bin" "$version" "$out") || exit 1
newer=$("$repo/packaging/deb/build-deb.sh" amd64 "$bin" "$version+vmtest1" "$out") || exit 1

start=$SECONDS
"$repo/tools/systemd-vm" --copy "$deb" --copy "$newer" -- "$here/guest.sh" "$deb" "$newer" | tee "$out/log"
rc=${PIPESTATUS[0]}
echo "# VM run: $((SECONDS - start)) s, exit $rc"
case $rc in
  0) ;;
  124|125) echo "not ok - the VM could not run the test (tools/systemd-vm exit $rc, reason above)"; exit "$rc" ;;
  *) ;;
esac
grep -q '^# done: ' "$out/log" || { echo "not ok - the guest did not finish"; exit 1; }
! grep -q '^not ok' "$out/log" && [ "$rc" = 0 ] || exit 1
echo "# all checks passed ($(grep -c '^ok' "$out/log"))"
