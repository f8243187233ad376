"""Every XML-RPC method pistack serves, and its faults, through Python's own
xmlrpc.client (as cesi, multivisor and the supervisord exporters use it).

usage: exercise.py URL   (http://user:password@host:port/RPC2)
The daemon runs `web` (prints lines), `g:a` (running) and `g:b` (stopped)."""

import sys
import time
import xmlrpc.client

URL = sys.argv[1]
proxy = xmlrpc.client.ServerProxy(URL)
s = proxy.supervisor
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit("FAILED: " + what)
    checks += 1


def fault(code, call, *args):
    try:
        call(*args)
    except xmlrpc.client.Fault as f:
        check(f.faultCode == code, "%s%r: fault %d, want %d (%s)" % (call, args, f.faultCode, code, f.faultString))
        return f
    raise SystemExit("FAILED: %s%r did not fault" % (call, args))


def wait_for(pred, what, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit("FAILED: timed out waiting for " + what)


# Identity and state.
check(s.getAPIVersion() == "3.0", "getAPIVersion")
check(s.getVersion() == "3.0", "getVersion")
check(s.getSupervisorVersion().startswith("4.2.5"), "getSupervisorVersion")
check(s.getIdentification() == "pistack", "getIdentification")
check(s.getState() == {"statecode": 1, "statename": "RUNNING"}, "getState")
check(isinstance(s.getPID(), int) and s.getPID() > 1, "getPID")
fault(20, s.readLog, 0, 100)

# Process info, with supervisord's field names.
wait_for(lambda: s.getProcessInfo("web")["statename"] == "RUNNING", "web RUNNING")
info = s.getProcessInfo("web")
want = {"name", "group", "description", "start", "stop", "now", "state", "statename", "spawnerr",
        "exitstatus", "logfile", "stdout_logfile", "stderr_logfile", "pid"}
check(set(info) == want, "getProcessInfo fields: %r" % sorted(info))
check(info["state"] == 20 and info["pid"] > 0, "web RUNNING with a pid")
check(info["description"].startswith("pid %d, uptime " % info["pid"]), info["description"])
check(info["logfile"] == info["stdout_logfile"] and info["stdout_logfile"].endswith("web.out"), "logfile")
b = s.getProcessInfo("g:b")
check((b["state"], b["statename"], b["description"], b["pid"]) == (0, "STOPPED", "Not started", 0), repr(b))
all_info = s.getAllProcessInfo()
check([(p["group"], p["name"]) for p in all_info] == [("g", "a"), ("g", "b"), ("web", "web")], repr(all_info))
fault(10, s.getProcessInfo, "nope")
fault(10, s.getProcessInfo, "g:nope")
fault(2, s.getProcessInfo)
fault(2, s.getProcessInfo, 42)

# Start and stop, one, a group, all.
fault(60, s.startProcess, "web")
check(s.stopProcess("web") is True, "stopProcess")
fault(70, s.stopProcess, "web")
check(s.getProcessInfo("web")["statename"] == "STOPPED", "stopped")
check(s.getProcessInfo("web")["stop"] >= s.getProcessInfo("web")["start"] > 0, "start and stop times")
check(s.startProcess("web") is True, "startProcess")
check(s.stopProcess("web", False) is True, "stopProcess no wait")
wait_for(lambda: s.getProcessInfo("web")["statename"] == "STOPPED", "web stopped")
check(s.startProcess("web", False) is True, "startProcess no wait")
wait_for(lambda: s.getProcessInfo("web")["statename"] == "RUNNING", "web running")
fault(10, s.startProcess, "nope")
started = s.startProcessGroup("g")
check(started == [{"name": "b", "group": "g", "status": 80, "description": "OK"}], repr(started))
stopped = s.stopProcessGroup("g")
check([r["name"] for r in stopped] == ["b", "a"], repr(stopped))
check(all(r["status"] == 80 for r in stopped), repr(stopped))
check(len(s.startProcess("g:*")) == 2, "startProcess g:*")
fault(10, s.startProcessGroup, "nope")
check(len(s.stopAllProcesses()) == 3, "stopAllProcesses")
check(s.stopAllProcesses() == [], "nothing left to stop")
check(len(s.startAllProcesses()) == 3, "startAllProcesses")
check(s.startAllProcesses(True) == [], "nothing left to start")

# Signals.
pid = s.getProcessInfo("g:a")["pid"]
check(s.signalProcess("g:a", "HUP") is True, "signalProcess HUP")
wait_for(lambda: s.getProcessInfo("g:a")["pid"] not in (0, pid), "a restarted after HUP")
check(s.signalProcess("g:a", 0 + 10) is True, "signalProcess by number (USR1)")
fault(11, s.signalProcess, "web", "NOPE")
fault(10, s.signalProcess, "nope", "HUP")
s.stopProcess("g:a")
fault(70, s.signalProcess, "g:a", "HUP")

# Logs: read (offset/length), tail (offset/overflow), clear.
wait_for(lambda: "web-out" in s.readProcessStdoutLog("web", -100, 0), "stdout")
check("web-err" in s.readProcessStderrLog("web", -100, 0), "stderr")
check(s.readProcessStdoutLog("web", 0, 4) == "web-", "read from offset 0")
fault(3, s.readProcessStdoutLog, "web", -10, 5)
fault(10, s.readProcessStdoutLog, "nope", 0, 10)
data, offset, overflow = s.tailProcessStdoutLog("web", 0, 10)
check(len(data) == 10 and overflow is True and offset > 10, "tail with overflow")
wait_for(lambda: s.tailProcessStdoutLog("web", offset, 1000)[0] != "", "new output after the offset")
data2, offset2, overflow2 = s.tailProcessStdoutLog("web", offset, 100000)
check(offset2 > offset and overflow2 is False and "web-out" in data2, "tail from an offset")
check(s.tailProcessStderrLog("web", 0, 5)[2] is True, "tail stderr")
before = len(s.readProcessStdoutLog("web", 0, 0))
check(s.clearProcessLogs("web") is True, "clearProcessLogs")
check(len(s.readProcessStdoutLog("web", 0, 0)) < before, "cleared")
fault(10, s.clearProcessLogs, "nope")
wait_for(lambda: len(s.readProcessStdoutLog("web", 0, 0)) > 100, "stdout after the clear")
cleared = s.clearAllProcessLogs()
names = sorted(i["name"] for i in s.getAllProcessInfo())
check(sorted(r["name"] for r in cleared) == names and all(r["status"] == 80 for r in cleared),
      "clearAllProcessLogs: one SUCCESS per program")
check(len(s.readProcessStdoutLog("web", 0, 0)) < 100, "clearAllProcessLogs emptied web's log")

# system.*
methods = proxy.system.listMethods()
for m in ["supervisor.getAPIVersion", "supervisor.getSupervisorVersion", "supervisor.getIdentification",
          "supervisor.getState", "supervisor.getPID", "supervisor.getAllProcessInfo",
          "supervisor.getProcessInfo", "supervisor.startProcess", "supervisor.stopProcess",
          "supervisor.startProcessGroup", "supervisor.stopProcessGroup", "supervisor.startAllProcesses",
          "supervisor.stopAllProcesses", "supervisor.signalProcess", "supervisor.readProcessStdoutLog",
          "supervisor.readProcessStderrLog", "supervisor.tailProcessStdoutLog",
          "supervisor.tailProcessStderrLog", "supervisor.clearProcessLogs", "supervisor.readLog",
          "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall"]:
    check(m in methods, "listMethods has " + m)
check("Start" in proxy.system.methodHelp("supervisor.startProcess"), "methodHelp")
check(proxy.system.methodSignature("supervisor.getProcessInfo") == ["struct", "string"], "methodSignature")
fault(4, proxy.system.methodHelp, "supervisor.nope")
fault(4, proxy.system.methodSignature, "nope")
fault(1, s.nope)
fault(1, proxy.nope.getPID)

multi = xmlrpc.client.MultiCall(proxy)
multi.supervisor.getAPIVersion()
multi.supervisor.getProcessInfo("nope")
multi.supervisor.getPID()
results = multi()
check(results[0] == "3.0", "multicall result")
try:
    results[1]
    raise SystemExit("FAILED: multicall fault")
except xmlrpc.client.Fault as f:
    check(f.faultCode == 10, "multicall fault code")
check(results[2] == s.getPID(), "multicall third")
nested = proxy.system.multicall([{"methodName": "system.multicall", "params": [[]]}, {"params": []}])
check(nested[0]["faultCode"] == 2 and nested[1]["faultCode"] == 2, repr(nested))
fault(2, proxy.system.multicall, "not an array")

print("ok: %d checks" % checks)
