#!/usr/bin/env bash
# build-deb.sh: build the pistack Debian package with dpkg-deb (no debhelper).
#
#   Usage: packaging/deb/build-deb.sh ARCH BINARY VERSION OUTDIR
#     ARCH     Debian architecture: amd64 | armhf | arm64
#     BINARY   the pistack executable for ARCH (for armhf: the static ARMv6 musl
#              build from tools/pi-cross-build musl, so it runs on the
#              Pi Zero and needs no libc6)
#     VERSION  Debian version, e.g. 0.1.0 or 0.1.0-1
#     OUTDIR   where pistack_<VERSION>_<ARCH>.deb is written (created if missing)
#   Prints the path of the .deb on stdout.
#
#   Env: PISTACK_SRC     source tree with www/, conf/pistack*.json, systemd/pistack.service
#                        (default: the repository this script is in)
#        DEB_MAINTAINER  the Maintainer field
#
# Package contents:
#   /usr/bin/pistack                       BINARY
#   /usr/share/pistack/www/                www/
#   /etc/pistack/pistack.json              conf/pistack-ARCH.json if there is one, else
#                                          conf/pistack.json (the Pi's pins) (a conffile)
#   /lib/systemd/system/pistack.service    systemd/pistack.service
#   /usr/share/bash-completion/completions/pistack  packaging/completion/pistack.bash
#   /usr/lib/udev/rules.d/60-pistack-gpio.rules  packaging/deb/udev/: /dev/gpiochip* to group gpio
#   /usr/share/doc/pistack/copyright       (+ README.md when present)
#   maintainer scripts from packaging/deb/maintscripts/ (preinst, postinst, prerm, postrm)
# Depends: adduser, plus libc6 (>= the newest GLIBC_x.y the binary needs) when
# BINARY is dynamically linked.
set -euo pipefail

die() { echo "build-deb: $*" >&2; exit 1; }
[ $# -eq 4 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
arch=$1 binary=$2 version=$3 outdir=$4

here=$(cd "$(dirname "$0")" && pwd)
src=${PISTACK_SRC:-$(cd "$here/../.." && pwd)}
maintainer=${DEB_MAINTAINER:-pistack maintainers <pistack@localhost>}

for t in dpkg-deb readelf; do
  command -v "$t" >/dev/null || die "needs $t (apt-get install dpkg binutils)"
done

# --- check the inputs ----------------------------------------------------------
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "bad Debian version '$version'"
{ [ -f "$binary" ] && [ -x "$binary" ]; } || die "BINARY '$binary' is not an executable file"
case "$arch" in
  amd64) machine='Advanced Micro Devices X86-64' ;;
  armhf) machine='ARM' ;;
  arm64) machine='AArch64' ;;
  *) die "ARCH must be amd64, armhf or arm64, not '$arch'" ;;
esac
# Refuse to package a binary for the wrong machine.
got=$(readelf -h "$binary" 2>/dev/null | sed -n 's/^ *Machine: *//p') ||
  die "'$binary' is not an ELF file"
[ "$got" = "$machine" ] || die "'$binary' is for '$got', not $arch ('$machine')"
if [ "$arch" = armhf ]; then
  # armhf must run on the Pi Zero / Pi 1 (ARMv6), hard-float.
  cpu=$(readelf -A "$binary" | sed -n 's/^ *Tag_CPU_arch: *//p')
  case "$cpu" in v6*|v5*|v4*) ;; *) die "'$binary' is $cpu, not ARMv6 (Pi Zero): build it with pi-cross-build" ;; esac
  readelf -h "$binary" | grep -q 'hard-float ABI' || die "'$binary' is not hard-float"
fi

# Each architecture gets a config that is healthy on a machine of that kind: amd64
# (a PC, no GPIO header) has its own without pins; armhf/arm64 (a Pi) the Pi's pins.
conf=$src/conf/pistack-$arch.json
[ -f "$conf" ] || conf=$src/conf/pistack.json
rules=$here/udev/60-pistack-gpio.rules
unit=$src/systemd/pistack.service
www=$src/www
[ -f "$conf" ] || die "missing $conf"
[ -f "$unit" ] || die "missing $unit"
[ -f "$rules" ] || die "missing $rules"
[ -d "$www" ] || die "missing $www/"
[ -f "$www/index.html" ] || echo "build-deb: warning: $www/index.html is missing" >&2

# Dynamic (glibc) binary: depend on a libc6 with every symbol version it uses.
depends="adduser"
if readelf -l "$binary" | grep -q 'Requesting program interpreter'; then
  glibc=$(readelf -V "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
          sort -t. -k1,1n -k2,2n -k3,3n | tail -n1)
  depends="$depends, libc6${glibc:+ (>= $glibc)}"
fi

# --- assemble the tree -----------------------------------------------------------
umask 022
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/DEBIAN"

install -D -m 0755 "$binary" "$root/usr/bin/pistack"
install -D -m 0644 "$conf" "$root/etc/pistack/pistack.json"
install -D -m 0644 "$unit" "$root/lib/systemd/system/pistack.service"
install -D -m 0644 "$src/packaging/completion/pistack.bash" \
  "$root/usr/share/bash-completion/completions/pistack"
install -D -m 0644 "$rules" "$root/usr/lib/udev/rules.d/60-pistack-gpio.rules"
mkdir -p "$root/usr/share/pistack/www"
# Content only: no owners, no odd modes, symlinks copied as what they point to
# (the daemon refuses symlinks that leave www anyway).
cp -RL "$www/." "$root/usr/share/pistack/www/"
# .gz siblings, which the daemon sends to browsers that accept gzip (the page is
# ~65 KB, ~26 KB gzipped); made here from the same files, so never stale.
find "$root/usr/share/pistack/www" -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \) \
  -exec gzip -9 -n -k {} \;
find "$root/usr/share/pistack/www" -type d -exec chmod 0755 {} +
find "$root/usr/share/pistack/www" -type f -exec chmod 0644 {} +

doc=$root/usr/share/doc/pistack
mkdir -p "$doc"
[ -f "$src/README.md" ] && install -m 0644 "$src/README.md" "$doc/README.md"
licence=
for f in LICENSE LICENSE.md LICENSE.txt LICENSE-MIT COPYING; do
  [ -f "$src/$f" ] && { licence=$src/$f; break; }
done
{
  echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
  echo "Upstream-Name: pistack"
  echo
  echo "Files: *"
  echo "Copyright: the pistack authors"
  echo "License: MIT"
  if [ -n "$licence" ]; then
    # DEP-5: the licence text indented one space, empty lines as " .".
    sed 's/^[[:space:]]*$/./; s/^/ /' "$licence"
  else
    sed 's/^[[:space:]]*$/./; s/^/ /' <<'MIT'
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
MIT
  fi
} > "$doc/copyright"
chmod 0644 "$doc/copyright"

# --- control files ---------------------------------------------------------------
for s in preinst postinst prerm postrm; do
  install -m 0755 "$here/maintscripts/$s" "$root/DEBIAN/$s"
done
echo /etc/pistack/pistack.json > "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: pistack
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: process supervisor, GPIO and JSON API daemon for the Raspberry Pi
 pistack is one small daemon that runs a Raspberry Pi (Zero): it supervises
 programs the way supervisord does, drives GPIO through the kernel's
 character device, keeps users and tokens for its JSON API, sends e-mail,
 reports system and network information and serves a static dashboard.
 .
 It runs as the system user pistack under systemd (pistack.service);
 the configuration is /etc/pistack/pistack.json, the state /var/lib/pistack.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
   LC_ALL=C sort -z | xargs -0 -r md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

# --- build -------------------------------------------------------------------------
mkdir -p "$outdir"
deb=$(cd "$outdir" && pwd)/pistack_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
