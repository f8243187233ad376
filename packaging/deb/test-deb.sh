#!/usr/bin/env bash
# test-deb.sh: install, check, remove and purge a pistack .deb on this machine.
#
#   Usage (as root): packaging/deb/test-deb.sh DEB
#
# Works on a machine that is not booted with systemd (a container, CI): the
# maintainer scripts then only enable the unit (symlinks), they do not start it.
# A package for another architecture (armhf on an amd64 CI host) is installed
# with --force-architecture and its binary run through pi-run (qemu-arm,
# ARM1176, tools/pi-run of this repository).
# Refuses to run when pistack is already installed (it purges it at the end),
# unless TEST_DEB_FORCE=1.
# Prints `ok - ...` / `not ok - ...`; exits 1 when any check failed.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DEB" >&2; exit 2; }
deb=$(readlink -f "$1")
[ -f "$deb" ] || { echo "test-deb: no such file: $1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root (dpkg -i)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

failures=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check()  { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi; }
status() { dpkg-query -W -f='${db:Status-Abbrev}' pistack 2>/dev/null | tr -d ' '; }

if [ -n "$(status)" ] && [ "$(status)" != un ] && [ "${TEST_DEB_FORCE:-0}" != 1 ]; then
  echo "test-deb: pistack is already installed ($(status)); this test purges it. TEST_DEB_FORCE=1 to go on." >&2
  exit 2
fi
# Whatever happens, do not leave the package behind.
cleanup() { if [ -n "$(status)" ] && [ "$(status)" != un ]; then dpkg -P pistack >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

echo "# $deb"
pkgarch=$(dpkg-deb -f "$deb" Architecture)
hostarch=$(dpkg --print-architecture)
force=() runner=()
if [ "$pkgarch" != "$hostarch" ] && [ "$pkgarch" != all ]; then
  force=(--force-architecture)
  runner=("$repo/tools/pi-run")
  echo "# $pkgarch package on a $hostarch host: --force-architecture, binary run with pi-run"
fi
name=$(basename "$deb")
check "file name is pistack_<version>_<arch>.deb" \
  test "$name" = "pistack_$(dpkg-deb -f "$deb" Version | sed 's/^[0-9]*://')_${pkgarch}.deb"
check "control: Package pistack" test "$(dpkg-deb -f "$deb" Package)" = pistack
check "control: Depends on adduser" sh -c "dpkg-deb -f '$deb' Depends | grep -qw adduser"
check "files are owned by root:root in the archive" \
  sh -c "! dpkg-deb -c '$deb' | awk '{print \$2}' | grep -v '^root/root$' | grep -q ."

# --- install -------------------------------------------------------------------------
if out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "${force[@]}" "$deb" 2>&1); then
  ok "dpkg -i"
else
  printf '%s\n' "$out" | sed 's/^/#   /'
  not_ok "dpkg -i"
  echo "# giving up: not installed"
  exit 1
fi
check "package state is installed (ii)" test "$(status)" = ii

check "/usr/bin/pistack is an executable" test -x /usr/bin/pistack
check "/usr/share/pistack/www/ is a directory" test -d /usr/share/pistack/www
check "/etc/pistack/pistack.json exists" test -f /etc/pistack/pistack.json
check "/etc/pistack/pistack.json is a conffile" \
  sh -c "dpkg-query -W -f='\${Conffiles}' pistack | grep -q ' /etc/pistack/pistack.json '"
check "/etc/pistack/pistack.json is root:pistack 0640" \
  test "$(stat -c '%U:%G %a' /etc/pistack/pistack.json)" = "root:pistack 640"
check "unit in /lib/systemd/system/pistack.service" test -f /lib/systemd/system/pistack.service
check "udev rule /usr/lib/udev/rules.d/60-pistack-gpio.rules gives gpiochip* to group gpio" \
  grep -q 'KERNEL=="gpiochip\*", GROUP="gpio", MODE="0660"' /usr/lib/udev/rules.d/60-pistack-gpio.rules
check "the config has pins only for a Pi" \
  sh -c "[ '$pkgarch' != amd64 ] || ! grep -q pinctrl-bcm2835 /etc/pistack/pistack.json"
check "/usr/share/doc/pistack/copyright exists" test -s /usr/share/doc/pistack/copyright
check "bash completion in /usr/share/bash-completion/completions/pistack" \
  bash -c '. /usr/share/bash-completion/completions/pistack && complete -p pistack'

check "user pistack exists" getent passwd pistack
check "pistack is a system user (uid < 1000)" \
  test "$(getent passwd pistack | cut -d: -f3)" -lt 1000
check "pistack's home is /var/lib/pistack" \
  test "$(getent passwd pistack | cut -d: -f6)" = /var/lib/pistack
check "pistack's primary group is pistack" test "$(id -gn pistack)" = pistack
check "group gpio exists" getent group gpio
check "pistack is in group gpio" sh -c "id -nG pistack | tr ' ' '\n' | grep -qx gpio"
check "/var/lib/pistack is pistack:pistack 0700" \
  test "$(stat -c '%U:%G %a' /var/lib/pistack 2>/dev/null)" = "pistack:pistack 700"
check "unit enabled (multi-user.target.wants symlink)" \
  test -L /etc/systemd/system/multi-user.target.wants/pistack.service

# As the daemon's user, so a config it cannot read fails here too.
if out=$(runuser -u pistack -- "${runner[@]}" /usr/bin/pistack --config /etc/pistack/pistack.json check-config 2>&1); then
  ok "pistack --config /etc/pistack/pistack.json check-config exits 0 (as pistack)"
else
  printf '%s\n' "$out" | sed 's/^/#   /'
  not_ok "pistack --config /etc/pistack/pistack.json check-config exits 0 (as pistack)"
fi

# --- reinstall keeps a locally changed conffile and the state ------------------------
echo >> /etc/pistack/pistack.json            # still the same JSON
local_sum=$(md5sum < /etc/pistack/pistack.json)
touch /var/lib/pistack/test-deb-marker
if out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "${force[@]}" "$deb" 2>&1); then
  ok "dpkg -i again (reinstall)"
else
  printf '%s\n' "$out" | sed 's/^/#   /'
  not_ok "dpkg -i again (reinstall)"
fi
check "reinstall kept the locally changed conffile" test "$(md5sum < /etc/pistack/pistack.json)" = "$local_sum"
check "reinstall kept /var/lib/pistack" test -e /var/lib/pistack/test-deb-marker

# --- remove ----------------------------------------------------------------------------
if out=$(dpkg -r pistack 2>&1); then ok "dpkg -r"; else printf '%s\n' "$out" | sed 's/^/#   /'; not_ok "dpkg -r"; fi
check "after -r: state is rc" test "$(status)" = rc
check "after -r: /usr/bin/pistack is gone" test ! -e /usr/bin/pistack
check "after -r: the unit is gone" test ! -e /lib/systemd/system/pistack.service
check "after -r: the udev rule is gone" test ! -e /usr/lib/udev/rules.d/60-pistack-gpio.rules
check "after -r: /usr/share/pistack is gone" test ! -e /usr/share/pistack
check "after -r: the conffile stays" test -f /etc/pistack/pistack.json
check "after -r: /var/lib/pistack stays" test -e /var/lib/pistack/test-deb-marker
check "after -r: user pistack stays" getent passwd pistack

# --- purge -----------------------------------------------------------------------------
if out=$(dpkg -P pistack 2>&1); then ok "dpkg -P"; else printf '%s\n' "$out" | sed 's/^/#   /'; not_ok "dpkg -P"; fi
purged() { local s; s=$(status); [ -z "$s" ] || [ "$s" = un ]; }
check "after -P: package is not installed (purged)" purged
check "after -P: /etc/pistack is gone" test ! -e /etc/pistack
check "after -P: /var/lib/pistack is gone" test ! -e /var/lib/pistack
check "after -P: user pistack is gone" sh -c '! getent passwd pistack'
check "after -P: group pistack is gone" sh -c '! getent group pistack'
check "after -P: group gpio stays" getent group gpio
check "after -P: no enable symlink left" test ! -e /etc/systemd/system/multi-user.target.wants/pistack.service
check "after -P: no mask left" test ! -e /etc/systemd/system/pistack.service

if [ "$failures" -gt 0 ]; then
  echo "# $failures check(s) failed"
  exit 1
fi
echo "# all checks passed"
