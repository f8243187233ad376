#!/usr/bin/env bash
# The size of each crate in the ARMv6 binary (prints, asserts nothing):
# `cargo bloat --crates` on arm-unknown-linux-musleabihf, built as
# tools/pi-cross-build musl builds it (build-std, zig as linker and C compiler)
# but not stripped, in its own target dir (target/pi-bloat; the first run
# compiles std and every crate: about 20 minutes on 2 cores).
# cargo bloat runs `cargo build`; a `cargo` first in PATH sends that build
# through cargo-zigbuild. Needs cargo-bloat (`cargo install cargo-bloat --locked`).
# `.text` only, and a guess (cargo bloat says so): with LTO, generic code of a
# dependency instantiated by pistack is counted as pistack's.
set -euo pipefail
cd "$(dirname "$0")/.."
bloat=$(command -v cargo-bloat || echo "$HOME/.cargo/bin/cargo-bloat")
[ -x "$bloat" ] || { echo "arm-bloat: no cargo-bloat (cargo install cargo-bloat --locked)"; exit 0; }
tools/pi-cross-build --prepare
venv=${PISTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pistack}/pi-cross/venv
shim=$(mktemp -d); trap 'rm -rf "$shim"' EXIT
cat > "$shim/cargo" <<SH
#!/usr/bin/env bash
PATH=\${PATH#$shim:}
if [ "\$1" = build ]; then shift; exec cargo-zigbuild zigbuild "\$@"; fi
exec cargo "\$@"
SH
chmod +x "$shim/cargo"
# The environment tools/pi-cross-build gives cargo-zigbuild (see there why).
export PATH="$shim:$venv/bin:/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_ARM_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no"
export CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/pi-bloat
mkdir -p "$CARGO_TARGET_DIR"
echo "== crates in the ARMv6 binary (cargo bloat --crates, .text, release profile unstripped)"
"$bloat" bloat --release --target arm-unknown-linux-musleabihf -Z build-std=std,panic_abort \
  --bin pistack --crates -n "${BLOAT_LINES:-30}" 2>"$CARGO_TARGET_DIR/bloat.log" ||
  { tail -n 20 "$CARGO_TARGET_DIR/bloat.log"; exit 1; }
