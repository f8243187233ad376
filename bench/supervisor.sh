#!/bin/sh
# Supervisor benchmark (called by `make bench`): pistack side by side with
# supervisord 4.2.5 from PyPI, both supervising the same 6 programs at the same
# time, so that the ratios hold on a noisy machine. Prints figures, asserts nothing.
#
#   - restart latency: SIGKILL of a child -> its new process running (exec'd),
#     median of >= 20 kills per supervisor, seen through /proc by the same code;
#   - idle wake-ups per second of the whole supervisor process (every thread's
#     voluntary + involuntary context switches over 10 s).
#
# Usage: bench/supervisor.sh [KILLS]     (default 20)
set -eu
cd "$(dirname "$0")/.."

build_log=$(mktemp)
if ! cargo build --release --quiet 2>"$build_log"; then
    cat "$build_log" >&2
    exit 1
fi
rm -f "$build_log"
venv=target/bench-venv
if ! "$venv/bin/supervisord" --version 2>/dev/null | grep -qx 4.2.5; then
    python3 -m venv "$venv"
    # setuptools < 81: supervisor 4.2.5 still imports pkg_resources.
    "$venv/bin/pip" install --quiet "supervisor==4.2.5" "setuptools<81"
fi
exec python3 bench/supervisor.py --pistack target/release/pistack --supervisord "$venv/bin/supervisord" --kills "${1:-20}"
