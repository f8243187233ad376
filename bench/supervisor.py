"""The measuring half of bench/supervisor.sh (stdlib only; Linux /proc).

Starts pistack and supervisord with 6 `sleep` programs each (distinct
arguments, so every process is recognisable by its command line), then
measures both the same way, interleaved:

- idle: sum of voluntary_ctxt_switches + nonvoluntary_ctxt_switches over every
  thread of the supervisor process, sampled 10 s apart (both in the same window);
- restart: SIGKILL a child, then poll /proc until the supervisor has a child with
  that program's command line (so it has exec'd) under a new pid.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAMS = 6
IDLE_SECONDS = 10


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def children(pid, tid=None):
    out = []
    for t in [tid] if tid else tasks(pid):
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def switches(pid):
    """Per thread (name, switches) of process pid."""
    out = {}
    for t in tasks(pid):
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            n = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
            out[t] = (fields["Name"].strip(), n)
        except (OSError, KeyError, ValueError):
            pass
    return out


class Side:
    """One supervisor under test: its pid and the command lines of its programs."""

    def __init__(self, name, proc, argv_of):
        self.name = name
        self.proc = proc
        self.argv = [argv_of(i) for i in range(PROGRAMS)]

    def find(self, k):
        """(tid that forked it, pid) of program k's process, or (None, None)."""
        want = self.argv[k]
        for t in tasks(self.proc.pid):
            for c in children(self.proc.pid, t):
                if cmdline(c) == want:
                    return t, c
        return None, None

    def all_running(self):
        return all(self.find(k)[1] for k in range(PROGRAMS))


def sleep_argv(n):
    return b"sleep\0" + str(n).encode() + b"\0"


def start_pistack(binary, tmp):
    progs = {
        f"p{i}": {"command": ["sleep", str(100001 + i)], "autorestart": True, "startsecs": 1}
        for i in range(PROGRAMS)
    }
    config = {
        "state_dir": os.path.join(tmp, "pistack"),
        "http": {"bind": "127.0.0.1:0", "www_dir": tmp},
        "auth": {"pbkdf2_iterations": 1000},
        "programs": progs,
    }
    path = os.path.join(tmp, "pistack.json")
    with open(path, "w") as f:
        json.dump(config, f)
    env = dict(os.environ, PISTACK_ROOT_PASSWORD="bench-password", PISTACK_LOG="warn")
    env.pop("NOTIFY_SOCKET", None)
    env.pop("WATCHDOG_USEC", None)
    proc = subprocess.Popen([binary, "--config", path, "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "pistack.log"), "w"))
    return Side("pistack", proc, lambda i: sleep_argv(100001 + i))


def start_supervisord(binary, tmp):
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={tmp}/supervisord.log",
        f"pidfile={tmp}/supervisord.pid",
        f"childlogdir={tmp}",
        "loglevel=warn",
        "[unix_http_server]",
        f"file={tmp}/supervisor.sock",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for i in range(PROGRAMS):
        lines += [
            f"[program:p{i}]",
            f"command=sleep {200001 + i}",
            "autorestart=true",
            "startsecs=1",
            "stopasgroup=true",
            "killasgroup=true",
        ]
    path = os.path.join(tmp, "supervisord.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.Popen([binary, "-n", "-c", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Side("supervisord", proc, lambda i: sleep_argv(200001 + i))


def wait_until(pred, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    sys.exit(f"bench: {what} within {secs} s")


def restart_latency(side, k):
    """Kill program k's process; seconds until its successor runs (exec'd)."""
    tid, old = side.find(k)
    if old is None:
        return None
    want = side.argv[k]
    os.kill(old, signal.SIGKILL)
    t0 = time.perf_counter()
    deadline = t0 + 10
    pid = side.proc.pid
    while time.perf_counter() < deadline:
        # pistack forks from one thread (tid); supervisord has one thread anyway.
        for c in children(pid, tid):
            if c != old and cmdline(c) == want:
                return time.perf_counter() - t0
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pistack", required=True)
    ap.add_argument("--supervisord", required=True)
    ap.add_argument("--kills", type=int, default=20)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="pistack-bench-sup-")
    sides = [start_pistack(args.pistack, tmp), start_supervisord(args.supervisord, tmp)]
    try:
        for s in sides:
            wait_until(s.all_running, 30, f"{s.name} did not start its {PROGRAMS} programs")
        time.sleep(2.5)  # past startsecs: every program RUNNING, start-up work done

        before = [switches(s.proc.pid) for s in sides]
        time.sleep(IDLE_SECONDS)
        after = [switches(s.proc.pid) for s in sides]
        idle = []
        for s, b, a in zip(sides, before, after):
            per = {t: a[t][1] - b[t][1] for t in a if t in b}
            total = sum(per.values())
            busy = sorted(((n, a[t][0]) for t, n in per.items() if n), reverse=True)[:4]
            idle.append((s, total / IDLE_SECONDS, len(a), busy))

        lat = {s.name: [] for s in sides}
        for i in range(args.kills):
            for s in sides:
                d = restart_latency(s, i % PROGRAMS)
                if d is not None:
                    lat[s.name].append(d)
            # Each program is killed every 6th round: far more than startsecs apart.
            time.sleep(0.35)
    finally:
        for s in sides:
            s.proc.send_signal(signal.SIGTERM)
        for s in sides:
            try:
                s.proc.wait(30)
            except subprocess.TimeoutExpired:
                s.proc.kill()

    print(f"supervisor benchmark: pistack vs supervisord 4.2.5, {PROGRAMS} programs each, same run")
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}")
    print()
    print(f"idle wake-ups (context switches of all threads, over {IDLE_SECONDS} s):")
    for s, rate, threads, busy in idle:
        who = ", ".join(f"{name}:{n}" for n, name in busy) or "none"
        print(f"  {s.name:12} {rate:8.2f} /s   ({threads} threads; busiest: {who})")
    p, q = idle[0][1], idle[1][1]
    if p > 0:
        print(f"  supervisord / pistack: {q / p:.1f}x")
    else:
        print("  pistack did not wake up at all")
    print()
    print("restart latency, SIGKILL of a child -> new process exec'd (ms):")
    for name, xs in lat.items():
        if not xs:
            print(f"  {name:12} no restart seen")
            continue
        ms = sorted(x * 1000 for x in xs)
        p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
        print(f"  {name:12} median {statistics.median(ms):7.2f}   min {ms[0]:7.2f}   p90 {p90:7.2f}   max {ms[-1]:7.2f}   (n={len(ms)})")
    a, b = lat["pistack"], lat["supervisord"]
    if a and b:
        print(f"  supervisord / pistack (medians): {statistics.median(b) / statistics.median(a):.1f}x")


if __name__ == "__main__":
    main()
