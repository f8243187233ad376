#!/usr/bin/env bash
# check-unit.sh: static checks of the systemd unit, no booted systemd needed.
#
#   Usage: systemd/check-unit.sh [UNIT]      (default: pistack.service next to this script)
#   Env:   MAX_EXPOSURE=2.5                  highest accepted `systemd-analyze security` score
#
# 1. `systemd-analyze verify` must print nothing and exit 0.
# 2. `systemd-analyze security --offline=yes` must score <= MAX_EXPOSURE.
# 3. KillMode= is set explicitly to mixed or control-group, so that the unit's
#    control group ends every process of the service, grandchildren included,
#    when the daemon dies (issue 8 item 11).
#
# verify insists that ExecStart's binary exists and is executable. /usr/bin/pistack
# exists only where the package is installed, so the unit is checked as a copy in
# a temp dir, under the same file name, with ExecStart pointing at a stand-in
# executable in that temp dir. Nothing else in the unit is changed.
# Installs systemd (which ships systemd-analyze) through tools/apt-need when it is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
unit=${1:-$here/pistack.service}
max=${MAX_EXPOSURE:-2.5}
[ -f "$unit" ] || { echo "check-unit: no such unit file: $unit" >&2; exit 2; }

"$here/../tools/apt-need" --quiet check-unit systemd:systemd-analyze

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$unit")
bin=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n1)
[ -n "$bin" ] || { echo "check-unit: no ExecStart= in $unit" >&2; exit 1; }
printf '#!/bin/sh\nexit 0\n' > "$tmp/stand-in"
chmod 0755 "$tmp/stand-in"
# Only the executable path is replaced; the arguments stay.
sed "s#^\(ExecStart=[-@:+!]*\)$bin#\1$tmp/stand-in#" "$unit" > "$tmp/$name"

fail=0
echo "# systemd-analyze verify $name  (ExecStart $bin -> stand-in)"
if out=$(cd "$tmp" && systemd-analyze verify "$tmp/$name" 2>&1) && [ -z "$out" ]; then
  echo "ok - verify: clean"
else
  printf '%s\n' "$out" | sed "s#$tmp/stand-in#$bin#g; s#$tmp/##g"
  echo "not ok - verify reported problems"
  fail=1
fi

echo "# KillMode"
killmode=$(sed -n 's/^KillMode=\(.*\)/\1/p' "$unit" | tail -n1)
case "$killmode" in
  mixed|control-group) echo "ok - KillMode=$killmode ends the whole control group" ;;
  "") echo "not ok - KillMode= is not set (say mixed or control-group explicitly)"; fail=1 ;;
  *) echo "not ok - KillMode=$killmode lets processes outlive the service"; fail=1 ;;
esac

echo "# systemd-analyze security --offline=yes $name"
sec=$(cd "$tmp" && systemd-analyze security --offline=yes "$tmp/$name" 2>&1) || true
line=$(printf '%s\n' "$sec" | grep 'Overall exposure level' | tail -n1)
if [ -z "$line" ]; then
  printf '%s\n' "$sec"
  echo "not ok - security: no score in the output"
  fail=1
else
  # Show what still costs exposure, then the score line itself.
  printf '%s\n' "$sec" | grep '✗' || true
  echo "$line"
  score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\).*/\1/p')
  if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }'; then
    echo "ok - security: exposure $score <= $max"
  else
    echo "not ok - security: exposure ${score:-?} > $max"
    fail=1
  fi
fi
exit $fail
