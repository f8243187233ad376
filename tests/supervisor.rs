//! Process supervision with real children (sh, sleep), through the real daemon
//! and its HTTP API. Each test runs its own daemon; timings are short
//! (startsecs / stopwaitsecs of about 1 s) so the file runs in parallel quickly.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// A program running `sh -c script`, with `extra` keys merged in.
fn sh(script: &str, extra: Value) -> Value {
    let mut p = json!({"command": ["sh", "-c", script]});
    if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
        p.extend(extra);
    }
    p
}

/// A live process (a zombie is dead, only not reaped).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// The process group of a pid.
fn pgrp(pid: u64) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s.rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

fn gone_within(secs: u64, pid: u64) -> bool {
    eventually(secs, || (!alive(pid)).then_some(())).is_some()
}

fn kill(pid: u64, sig: i32) {
    // SAFETY: plain kill(2) on a pid the test started through the daemon.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0, "kill {pid}");
}

fn process(d: &Daemon, t: &str, name: &str) -> Value {
    let r = d.get(&format!("/api/supervisor/processes/{name}"), t);
    assert_eq!(r.status, 200, "{name}: {}", r.text);
    r.body
}

/// Poll (the test may; the daemon does not) until `name` is in `state`.
fn wait_state(d: &Daemon, t: &str, name: &str, state: &str, secs: u64) -> Value {
    eventually(secs, || {
        let p = process(d, t, name);
        (p["state"] == state).then_some(p)
    })
    .unwrap_or_else(|| {
        panic!(
            "{name} never reached {state}; it is {}",
            process(d, t, name)
        )
    })
}

fn action(d: &Daemon, t: &str, name: &str, what: &str) -> Resp {
    d.post(
        &format!("/api/supervisor/processes/{name}/{what}"),
        t,
        json!({}),
    )
}

fn events(d: &Daemon, t: &str, name: &str) -> Vec<Value> {
    let r = d.get("/api/supervisor/events?limit=1000", t);
    assert_eq!(r.status, 200);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == name)
        .cloned()
        .collect()
}

fn transitions(d: &Daemon, t: &str, name: &str) -> Vec<String> {
    events(d, t, name)
        .iter()
        .map(|e| {
            format!(
                "{}>{}",
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap()
            )
        })
        .collect()
}

fn log(d: &Daemon, t: &str, name: &str, query: &str) -> Resp {
    d.get(&format!("/api/supervisor/processes/{name}/log?{query}"), t)
}

#[test]
fn lists_in_priority_order_with_the_process_shape() {
    let d = Daemon::start(json!({"programs": {
        "zeta": {"command": ["sleep", "1000"], "priority": 5, "startsecs": 0, "group": "web", "description": "first"},
        "alpha": {"command": ["sleep", "1000"], "priority": 50, "autostart": false},
        "mid": sh("while :; do sleep 1; done", json!({"priority": 20, "startsecs": 0})),
    }}));
    let t = d.root();
    wait_state(&d, &t, "zeta", "RUNNING", 10);
    wait_state(&d, &t, "mid", "RUNNING", 10);
    let list = d.get("/api/supervisor/processes", &t);
    assert_eq!(list.status, 200);
    let list = list.body.as_array().unwrap().clone();
    let names: Vec<_> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["zeta", "mid", "alpha"]);
    let mut keys: Vec<_> = list[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "autostart",
            "command",
            "description",
            "exit_status",
            "group",
            "message",
            "name",
            "pid",
            "restarts",
            "started_at",
            "state",
            "stopped_at",
            "uptime_s"
        ]
    );
    let zeta = &list[0];
    assert_eq!(
        (zeta["group"].as_str(), zeta["description"].as_str()),
        (Some("web"), Some("first"))
    );
    assert_eq!(zeta["command"], json!(["sleep", "1000"]));
    let pid = zeta["pid"].as_u64().unwrap();
    assert!(alive(pid));
    assert_eq!(pgrp(pid), pid, "each program leads its own process group");
    assert!(zeta["uptime_s"].is_u64() && zeta["started_at"].is_u64());
    let alpha = &list[2];
    assert_eq!(alpha["state"], "STOPPED");
    assert_eq!(alpha["group"], "alpha");
    assert!(alpha["pid"].is_null() && alpha["uptime_s"].is_null() && alpha["started_at"].is_null());

    assert_eq!(process(&d, &t, "mid")["state"], "RUNNING");
    let missing = d.get("/api/supervisor/processes/nope", &t);
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("nope"), "{}", missing.text);
    assert_eq!(action(&d, &t, "nope", "start").status, 404);
    assert_eq!(
        d.call("GET", "/api/supervisor/processes", None, None)
            .status,
        401
    );
    let health = d.call("GET", "/api/health", None, None);
    assert_eq!(health.body["subsystems"]["supervisor"], "ok");
}

#[test]
fn start_waits_for_running_then_stop_and_the_events_tell_it() {
    let d = Daemon::start(json!({"programs": {
        "svc": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 1},
    }}));
    let t = d.root();
    let began = Instant::now();
    let r = action(&d, &t, "svc", "start");
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        began.elapsed() >= Duration::from_millis(900),
        "answered before startsecs"
    );
    assert_eq!(r.body["state"], "RUNNING");
    let pid = r.body["pid"].as_u64().unwrap();
    assert!(alive(pid));

    let again = action(&d, &t, "svc", "start");
    assert_eq!(again.status, 409);
    assert!(
        again.message().contains("already running"),
        "{}",
        again.text
    );

    let r = action(&d, &t, "svc", "stop");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "STOPPED");
    assert!(r.body["pid"].is_null());
    assert!(gone_within(2, pid));
    let again = action(&d, &t, "svc", "stop");
    assert_eq!(again.status, 409);
    assert!(again.message().contains("not running"), "{}", again.text);

    let evs = events(&d, &t, "svc");
    let path: Vec<_> = evs
        .iter()
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        path,
        [
            ("STOPPED", "STARTING"),
            ("STARTING", "RUNNING"),
            ("RUNNING", "STOPPING"),
            ("STOPPING", "STOPPED")
        ]
    );
    assert_eq!(evs[1]["kind"], "PROCESS_STATE_RUNNING");
    assert_eq!(evs[0]["pid"].as_u64(), Some(pid));
    assert!(evs
        .windows(2)
        .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert!(evs.iter().all(|e| e["time"].is_u64()));
    let after = evs[1]["seq"].as_u64().unwrap();
    let later = d.get(&format!("/api/supervisor/events?after={after}&limit=1"), &t);
    assert_eq!(later.body.as_array().unwrap().len(), 1);
    assert_eq!(later.body[0]["to"], "STOPPING");

    // ?wait=false answers while it is still STARTING.
    let r = d.post(
        "/api/supervisor/processes/svc/start?wait=false",
        &t,
        json!({}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "STARTING");
    wait_state(&d, &t, "svc", "RUNNING", 5);
}

#[test]
fn a_crash_loop_backs_off_with_growing_delays_then_goes_fatal() {
    let d = Daemon::start(json!({"programs": {
        "crashy": sh("echo boom >&2; exit 3", json!({"autostart": false, "startsecs": 1, "startretries": 2})),
    }}));
    let t = d.root();
    let r = action(&d, &t, "crashy", "start");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "BACKOFF");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("exited too quickly"),
        "{}",
        r.body
    );
    let p = wait_state(&d, &t, "crashy", "FATAL", 15);
    let msg = p["message"].as_str().unwrap();
    assert!(
        msg.contains("gave up after 3 failed starts") && msg.contains("status 3"),
        "{msg}"
    );
    assert_eq!(p["restarts"], 2);
    assert_eq!(p["exit_status"], 3);

    let evs = events(&d, &t, "crashy");
    let starts: Vec<u64> = evs
        .iter()
        .filter(|e| e["to"] == "STARTING")
        .map(|e| e["time"].as_u64().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(evs.iter().filter(|e| e["to"] == "BACKOFF").count(), 3);
    // Delays of 1 s then 2 s between the tries (times are whole seconds).
    assert!(starts[2] - starts[0] >= 2, "{starts:?}");
    assert!(starts[2] - starts[1] >= 1, "{starts:?}");
    assert!(log(&d, &t, "crashy", "stream=stderr").text.contains("boom"));

    // FATAL -> STARTING by request.
    let r = action(&d, &t, "crashy", "start");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "BACKOFF");
}

#[test]
fn a_child_killed_with_sigkill_is_started_again() {
    let d = Daemon::start(json!({"programs": {
        "victim": {"command": ["sleep", "1000"], "autorestart": true, "startsecs": 1},
    }}));
    let t = d.root();
    let first = wait_state(&d, &t, "victim", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    kill(first, libc::SIGKILL);
    let p = eventually(10, || {
        let p = process(&d, &t, "victim");
        (p["state"] == "RUNNING" && p["pid"].as_u64() != Some(first)).then_some(p)
    })
    .expect("respawned");
    assert!(alive(p["pid"].as_u64().unwrap()));
    assert_eq!(p["restarts"], 1);
    let evs = events(&d, &t, "victim");
    let exited = evs
        .iter()
        .find(|e| e["to"] == "EXITED")
        .expect("an EXITED event");
    assert_eq!(exited["exit_status"], -9);
    assert_eq!(exited["pid"].as_u64(), Some(first));
    assert!(
        exited["message"]
            .as_str()
            .unwrap()
            .contains("SIGKILL (unexpected)"),
        "{exited}"
    );
    assert_eq!(
        transitions(&d, &t, "victim"),
        [
            "STOPPED>STARTING",
            "STARTING>RUNNING",
            "RUNNING>EXITED",
            "EXITED>STARTING",
            "STARTING>RUNNING"
        ]
    );
}

#[test]
fn autorestart_follows_exitcodes() {
    let quit = |code: i32, extra: Value| sh(&format!("sleep 1.6; exit {code}"), extra);
    let d = Daemon::start(json!({"programs": {
        "clean": quit(0, json!({"startsecs": 1})),
        "dirty": quit(2, json!({"startsecs": 1})),
        "listed": quit(2, json!({"startsecs": 1, "exitcodes": [0, 2]})),
        "never": quit(1, json!({"startsecs": 1, "autorestart": false})),
    }}));
    let t = d.root();
    for name in ["clean", "listed", "never"] {
        let p = wait_state(&d, &t, name, "EXITED", 10);
        assert_eq!(p["restarts"], 0, "{name}");
    }
    let dirty = eventually(10, || {
        let p = process(&d, &t, "dirty");
        (p["restarts"].as_u64() >= Some(1)).then_some(p)
    })
    .expect("dirty restarted");
    assert_ne!(dirty["state"], "FATAL");
    assert!(transitions(&d, &t, "dirty").contains(&"EXITED>STARTING".to_string()));
    let clean = events(&d, &t, "clean");
    assert!(
        clean
            .iter()
            .any(|e| e["message"] == "exited with status 0 (expected)"),
        "{clean:?}"
    );
    // Not restarted: a restart would come in the same step as the exit, so once
    // dirty's restart is RUNNING (a second later) it would be in the ring.
    eventually(10, || {
        let path = transitions(&d, &t, "dirty");
        (path.iter().filter(|s| *s == "STARTING>RUNNING").count() >= 2).then_some(())
    })
    .expect("dirty runs again");
    assert_eq!(
        transitions(&d, &t, "clean"),
        ["STOPPED>STARTING", "STARTING>RUNNING", "RUNNING>EXITED"]
    );
    assert_eq!(process(&d, &t, "clean")["state"], "EXITED");
    assert_eq!(process(&d, &t, "never")["exit_status"], 1);
}

#[test]
fn a_term_ignoring_child_is_killed_after_stopwaitsecs() {
    let d = Daemon::start(json!({"programs": {
        "stubborn": sh("trap '' TERM; while :; do sleep 0.1; done", json!({"startsecs": 0, "stopwaitsecs": 1})),
    }}));
    let t = d.root();
    let pid = wait_state(&d, &t, "stubborn", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    let began = Instant::now();
    let r = action(&d, &t, "stubborn", "stop");
    let took = began.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "STOPPED");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let msg = r.body["message"].as_str().unwrap();
    assert!(msg.contains("SIGKILL after stopwaitsecs (1 s)"), "{msg}");
    assert_eq!(r.body["exit_status"], -9);
    assert!(!alive(pid));
}

#[test]
fn stop_and_crash_take_the_grandchildren_along() {
    let dir = temp_dir("gc");
    // The grandchild ignores TERM: only the group-wide KILL after its leader's
    // exit can end it.
    let script = |file: &str| {
        format!(
            "(trap '' TERM; exec sleep 1000) & echo $! > {}; wait",
            dir.join(file).display()
        )
    };
    let d = Daemon::start(json!({"programs": {
        "parent": sh(&script("a"), json!({"startsecs": 0, "stopwaitsecs": 10})),
        "crasher": sh(&script("b"), json!({"startsecs": 0, "autorestart": false})),
    }}));
    let t = d.root();
    let read_pid = |f: &str| {
        eventually(5, || {
            std::fs::read_to_string(dir.join(f))
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("grandchild pid")
    };
    let (gc_a, gc_b) = (read_pid("a"), read_pid("b"));
    assert!(alive(gc_a) && alive(gc_b));

    let began = Instant::now();
    let r = action(&d, &t, "parent", "stop");
    assert_eq!(r.body["state"], "STOPPED");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "the leader obeyed TERM: no stopwaitsecs wait"
    );
    assert!(gone_within(2, gc_a), "grandchild {gc_a} outlived stop");

    let leader = process(&d, &t, "crasher")["pid"].as_u64().unwrap();
    kill(leader, libc::SIGKILL);
    wait_state(&d, &t, "crasher", "EXITED", 5);
    assert!(
        gone_within(2, gc_b),
        "grandchild {gc_b} outlived its leader's crash"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flood_of_output_neither_blocks_nor_fills_the_disk() {
    let d = Daemon::start(json!({"programs": {
        "flood": sh(
            "i=0; while :; do i=$((i+1)); echo \"line $i of a program that talks far too much\"; echo \"err $i\" >&2; done",
            json!({"startsecs": 0, "stdout_log": {"max_bytes": 20000, "backups": 2}, "stderr_log": {"max_bytes": 5000, "backups": 1}})
        ),
    }}));
    let t = d.root();
    wait_state(&d, &t, "flood", "RUNNING", 10);
    let last_line = || {
        let r = log(&d, &t, "flood", "bytes=200");
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        assert!(r.text.len() <= 200);
        let line = r
            .text
            .lines()
            .rev()
            .find(|l| l.starts_with("line ") && l.ends_with("much"))
            .map(String::from);
        line.and_then(|l| l.split(' ').nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let n1 =
        eventually(5, || Some(last_line()).filter(|n| *n > 10_000)).expect("the flood runs on");
    let n2 = eventually(5, || Some(last_line()).filter(|n| *n > n1));
    assert!(n2.is_some(), "the child is blocked at line {n1}");

    let logs = d.dir.join("state/logs");
    let size = |f: &str| std::fs::metadata(logs.join(f)).map(|m| m.len()).ok();
    // The current file may be missing for an instant while it rotates.
    let files = [
        ("flood.out", 20000, false),
        ("flood.out.1", 20000, true),
        ("flood.out.2", 20000, true),
        ("flood.err", 5000, false),
        ("flood.err.1", 5000, true),
    ];
    for (f, bound, must_exist) in files {
        let s = match size(f) {
            Some(s) => s,
            None if !must_exist => 0,
            None => panic!("{f} missing"),
        };
        assert!(s <= bound, "{f}: {s} bytes");
    }
    assert_eq!(size("flood.out.3"), None);
    assert_eq!(size("flood.err.2"), None);
    let old = std::fs::read_to_string(logs.join("flood.out.1")).unwrap();
    assert!(
        old.lines()
            .all(|l| l.starts_with("line ") && l.ends_with("much")),
        "lines are kept whole"
    );

    assert!(log(&d, &t, "flood", "stream=stderr&bytes=50")
        .text
        .contains("err "));
    assert_eq!(log(&d, &t, "flood", "stream=bogus").status, 400);
    assert_eq!(log(&d, &t, "flood", "bytes=99999999").status, 400);
    assert_eq!(log(&d, &t, "nope", "").status, 404);
    assert_eq!(action(&d, &t, "flood", "stop").body["state"], "STOPPED");
}

#[test]
fn signals_reach_the_program() {
    let d = Daemon::start(json!({"programs": {
        "listener": sh("trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP; while :; do sleep 0.1; done", json!({"startsecs": 0})),
        "off": {"command": ["sleep", "1000"], "autostart": false},
    }}));
    let t = d.root();
    wait_state(&d, &t, "listener", "RUNNING", 10);
    let sig = |name: &str, body: Value| {
        d.post(
            &format!("/api/supervisor/processes/{name}/signal"),
            &t,
            body,
        )
    };
    let r = sig("listener", json!({"signal": "USR1"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "RUNNING");
    assert!(eventually(5, || log(&d, &t, "listener", "")
        .text
        .contains("got-usr1")
        .then_some(()))
    .is_some());
    assert_eq!(sig("listener", json!({"signal": "SIGHUP"})).status, 200);
    assert!(eventually(5, || log(&d, &t, "listener", "")
        .text
        .contains("got-hup")
        .then_some(()))
    .is_some());
    assert_eq!(
        sig("listener", json!({"signal": libc::SIGUSR1})).status,
        200
    );
    let bad = sig("listener", json!({"signal": "NOPE"}));
    assert_eq!(bad.status, 400);
    assert!(bad.message().contains("signal"), "{}", bad.text);
    assert_eq!(sig("listener", json!({})).status, 400);
    assert_eq!(sig("off", json!({"signal": "HUP"})).status, 409);
    assert_eq!(sig("nope", json!({"signal": "HUP"})).status, 404);
    assert_eq!(process(&d, &t, "listener")["state"], "RUNNING");
}

#[test]
fn a_user_may_look_but_not_touch() {
    let d = Daemon::start(json!({"programs": {
        "svc": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 0},
    }}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let admin = d.user(&root, "operator", "Admin");
    assert_eq!(d.get("/api/supervisor/processes", &user).status, 200);
    assert_eq!(d.get("/api/supervisor/processes/svc", &user).status, 200);
    assert_eq!(d.get("/api/supervisor/events", &user).status, 200);
    for what in ["start", "stop", "restart", "signal"] {
        let r = action(&d, &user, "svc", what);
        assert_eq!(r.status, 403, "{what}: {}", r.text);
    }
    assert_eq!(log(&d, &user, "svc", "").status, 403);
    assert_eq!(
        process(&d, &root, "svc")["state"],
        "STOPPED",
        "a refused start started nothing"
    );
    let r = action(&d, &admin, "svc", "start");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "RUNNING");
    assert_eq!(action(&d, &admin, "svc", "start").status, 409);
}

#[test]
fn restart_and_stops_during_starting_and_backoff() {
    let d = Daemon::start(json!({"programs": {
        "svc": {"command": ["sleep", "1000"], "startsecs": 0},
        "slow": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 30},
        "crashy": sh("exit 1", json!({"autostart": false, "startsecs": 1, "startretries": 5})),
        "probe": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 2},
    }}));
    let t = d.root();
    let first = wait_state(&d, &t, "svc", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    let r = action(&d, &t, "svc", "restart");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "RUNNING");
    assert_ne!(r.body["pid"].as_u64(), Some(first));
    assert!(!alive(first));
    action(&d, &t, "svc", "stop");
    assert_eq!(
        action(&d, &t, "svc", "restart").body["state"],
        "RUNNING",
        "restart of a stopped program starts it"
    );

    // STARTING -> STOPPING -> STOPPED
    let r = d.post(
        "/api/supervisor/processes/slow/start?wait=false",
        &t,
        json!({}),
    );
    assert_eq!(r.body["state"], "STARTING");
    assert_eq!(action(&d, &t, "slow", "stop").body["state"], "STOPPED");
    assert_eq!(
        transitions(&d, &t, "slow"),
        ["STOPPED>STARTING", "STARTING>STOPPING", "STOPPING>STOPPED"]
    );

    // BACKOFF -> STOPPED, and the pending retry never happens: probe's startsecs
    // (2 s) end after the retry's 1 s delay would have.
    assert_eq!(action(&d, &t, "crashy", "start").body["state"], "BACKOFF");
    assert_eq!(action(&d, &t, "crashy", "stop").body["state"], "STOPPED");
    assert_eq!(action(&d, &t, "probe", "start").body["state"], "RUNNING");
    assert_eq!(
        transitions(&d, &t, "crashy"),
        ["STOPPED>STARTING", "STARTING>BACKOFF", "BACKOFF>STOPPED"]
    );
}

#[test]
fn spawn_failures_are_failed_starts_with_the_reason() {
    let d = Daemon::start(json!({"programs": {
        "nofile": {"command": ["/nonexistent/program"], "startretries": 1},
        "nodir": {"command": ["sleep", "1"], "directory": "/nonexistent/dir", "startretries": 0},
    }}));
    let t = d.root();
    let p = wait_state(&d, &t, "nofile", "FATAL", 10);
    let msg = p["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot run /nonexistent/program") && msg.contains("No such file"),
        "{msg}"
    );
    assert!(p["pid"].is_null());
    let p = wait_state(&d, &t, "nodir", "FATAL", 10);
    assert!(
        p["message"].as_str().unwrap().contains("No such file"),
        "{p}"
    );
}

#[test]
fn directory_environment_and_user_reach_the_child() {
    let dir = temp_dir("env");
    let script =
        "pwd; echo \"FOO=$FOO\"; echo \"NAME=$SUPERVISOR_PROCESS_NAME\"; echo \"UID=$(id -u)\"; \
                  echo \"SECRET=${AUTH_SECRET:-none}\"; echo \"PW=${PISTACK_ROOT_PASSWORD:-none}\"";
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut programs = json!({
        "envy": sh(script, json!({"directory": dir, "environment": {"FOO": "bar baz"}, "startsecs": 0, "autorestart": false})),
    });
    if root {
        programs["nobody"] = sh(
            script,
            json!({"directory": "/", "user": "nobody", "startsecs": 0, "autorestart": false}),
        );
    }
    let secret = [("AUTH_SECRET", "a-secret-the-programs-must-not-see")];
    let d = Daemon::start_in(temp_dir("d"), json!({ "programs": programs }), &secret);
    let t = d.root();
    wait_state(&d, &t, "envy", "EXITED", 10);
    let out = log(&d, &t, "envy", "").text;
    assert!(out.starts_with(&format!("{}\n", dir.display())), "{out}");
    assert!(
        out.contains("FOO=bar baz\n") && out.contains("NAME=envy\n"),
        "{out}"
    );
    assert!(
        out.contains("SECRET=none\n") && out.contains("PW=none\n"),
        "the daemon's secrets leaked: {out}"
    );
    if root {
        wait_state(&d, &t, "nobody", "EXITED", 10);
        let uid = std::process::Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap();
        let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
        let out = log(&d, &t, "nobody", "").text;
        assert!(out.contains(&format!("UID={uid}\n")), "{out}");
    } else {
        eprintln!("not root: the user switch is not tested");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn daemon_sigterm_stops_every_program_in_reverse_priority() {
    let dir = temp_dir("order");
    let file = dir.join("order");
    let prog = |name: &str, priority: i32| {
        sh(
            &format!(
                "trap 'echo {name} >> {}; exit 0' TERM; while :; do sleep 0.1; done",
                file.display()
            ),
            json!({"priority": priority, "startsecs": 0}),
        )
    };
    let mut d = Daemon::start(json!({"programs": {
        "first": prog("first", 1), "second": prog("second", 2), "third": prog("third", 3),
    }}));
    let t = d.root();
    let pids: Vec<u64> = ["first", "second", "third"]
        .iter()
        .map(|n| {
            wait_state(&d, &t, n, "RUNNING", 10)["pid"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(d.stop(), Some(0));
    for pid in pids {
        assert!(!alive(pid), "{pid} outlived the daemon");
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "third\nsecond\nfirst\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn daemon_sigkill_leaves_nothing_alive_and_a_restart_runs_no_second_copy() {
    let dir = temp_dir("kill9");
    let marker = format!("4000.{}", std::process::id());
    let gc_file = dir.join("gc");
    let config = json!({"programs": {
        "plain": {"command": ["sleep", marker], "startsecs": 0},
        "family": sh(&format!("sleep 1000 & echo $! > {}; wait", gc_file.display()), json!({"startsecs": 0})),
    }});
    let mut d = Daemon::start_in(dir.clone(), config.clone(), &[]);
    let t = d.root();
    let plain = wait_state(&d, &t, "plain", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    let family = wait_state(&d, &t, "family", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    let grandchild: u64 = eventually(5, || {
        std::fs::read_to_string(&gc_file).ok()?.trim().parse().ok()
    })
    .expect("grandchild pid");
    let recorded = std::fs::read_to_string(dir.join("state/supervisor.json")).unwrap();
    assert!(
        recorded.contains(&format!("\"pid\": {plain}")),
        "{recorded}"
    );

    d.kill();
    assert!(
        gone_within(3, plain),
        "plain ({plain}) outlived a SIGKILLed daemon"
    );
    assert!(
        gone_within(3, family),
        "family ({family}) outlived a SIGKILLed daemon"
    );

    // PDEATHSIG does not reach grandchildren: the next daemon finds the recorded
    // group and kills what is left before it starts anything.
    let _ = std::fs::remove_file(&gc_file);
    let mut d2 = Daemon::start_in(dir.clone(), config, &[]);
    let t2 = d2.root();
    assert!(
        gone_within(3, grandchild),
        "grandchild {grandchild} survived the restart"
    );
    let again = wait_state(&d2, &t2, "plain", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    assert_ne!(again, plain);
    let copies = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| c == format!("sleep\0{marker}\0").as_bytes())
        .count();
    assert_eq!(copies, 1, "one copy of plain runs");

    // A graceful stop takes the new grandchild along (a SIGKILL, as the
    // harness's drop does, would leave it to the next start).
    let new_grandchild: u64 = eventually(5, || {
        std::fs::read_to_string(&gc_file).ok()?.trim().parse().ok()
    })
    .expect("new grandchild pid");
    assert_eq!(d2.stop(), Some(0));
    assert!(
        gone_within(3, new_grandchild),
        "grandchild {new_grandchild} outlived a stopped daemon"
    );
}

#[test]
fn import_of_the_seed_supervisord_conf() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supervisord.conf");
    let out = std::process::Command::new(bin())
        .arg("import-supervisord")
        .arg(&fixture)
        .env("VIRTUAL_ENV", "/opt/venv")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let programs = doc["programs"].as_object().unwrap();
    let mut names: Vec<_> = programs.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "auth_service",
            "control_service",
            "email_service",
            "info_service",
            "io_service",
            "supervisor_service"
        ]
    );
    let here = fixture.parent().unwrap().canonicalize().unwrap();
    let s = &programs["supervisor_service"];
    assert_eq!(
        s["command"],
        json!(["/opt/venv/bin/python", "-u", "-m", "supervisor_service.app"])
    );
    assert_eq!(s["directory"], json!(here));
    assert_eq!(
        (
            &s["autorestart"],
            &s["exitcodes"],
            &s["startsecs"],
            &s["startretries"],
            &s["priority"]
        ),
        (
            &json!("unexpected"),
            &json!([0]),
            &json!(10),
            &json!(3),
            &json!(100)
        )
    );
    assert_eq!(s["group"], "RaspberryPiSystem");
    assert_eq!(s["environment"], json!({"PYTHONUNBUFFERED": "1"}));
    let c = &programs["control_service"];
    assert_eq!(c["autorestart"], true);
    assert_eq!(c["command"][0], "/opt/venv/bin/gunicorn");
    assert!(c["command"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("{}/control_service", here.display()))));
    assert!(c["environment"]["GUNICORN_CMD_ARGS"]
        .as_str()
        .unwrap()
        .starts_with("--access-logfile - "));
    for what in [
        "[eventlistener:event_listener]",
        "[unix_http_server]",
        "stdout_logfile",
        "maxbytes: 0",
    ] {
        assert!(stderr.contains(what), "no note about {what}:\n{stderr}");
    }

    // The output is a configuration pistack accepts as it is.
    let dir = temp_dir("import");
    let config = dir.join("imported.json");
    std::fs::write(&config, &out.stdout).unwrap();
    let (code, check) = check_config(&config);
    assert_eq!(code, Some(0), "{check}");
    let _ = std::fs::remove_dir_all(&dir);

    let missing = std::process::Command::new(bin())
        .args(["import-supervisord", "/nonexistent.conf"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

/// CPU time a process has used so far (utime + stime of /proc/<pid>/stat).
fn cpu_time(pid: u32) -> Duration {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<u64> = s
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis((fields[0] + fields[1]) * 1000 / hz)
}

#[test]
fn a_program_that_exits_at_once_is_restarted_about_once_a_second() {
    let d = Daemon::start(json!({"programs": {
        "quick": sh("exit 1", json!({"startsecs": 0, "autorestart": true})),
        "probe": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 2},
    }}));
    let t = d.root();
    let (cpu_before, began) = (cpu_time(d.pid()), Instant::now());
    let p = eventually(15, || {
        let p = process(&d, &t, "quick");
        (p["restarts"].as_u64()? >= 3).then_some(p)
    })
    .expect("quick is restarted");
    let took = began.elapsed();
    let cpu = cpu_time(d.pid()) - cpu_before;
    // Started once, then restarted at most once a second.
    assert!(p["restarts"].as_u64() <= Some(4), "{p}");
    assert!(took >= Duration::from_secs(2), "3 restarts in {took:?}");
    assert!(
        cpu < Duration::from_millis(500),
        "the daemon used {cpu:?} of CPU in {took:?}"
    );
    let lines = d.stderr.try_iter().filter(|l| l.contains("quick:")).count();
    assert!(lines < 30, "{lines} log lines about quick in {took:?}");

    // It can be stopped while it waits to be restarted, and stays stopped.
    let r = action(&d, &t, "quick", "stop");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "STOPPED");
    // probe's 2 s startsecs outlast a pending restart (at most 1 s).
    assert_eq!(action(&d, &t, "probe", "start").body["state"], "RUNNING");
    let path = transitions(&d, &t, "quick");
    let last = path.last().map(String::as_str);
    assert!(
        matches!(last, Some("EXITED>STOPPED" | "STOPPING>STOPPED")),
        "{path:?}"
    );
    assert_eq!(process(&d, &t, "quick")["state"], "STOPPED");
}

#[test]
fn a_program_that_ran_long_is_restarted_at_once() {
    let d = Daemon::start(json!({"programs": {
        "steady": {"command": ["sleep", "1000"], "startsecs": 0, "autorestart": true},
    }}));
    let t = d.root();
    let first = wait_state(&d, &t, "steady", "RUNNING", 10)["pid"]
        .as_u64()
        .unwrap();
    // uptime_s counts whole seconds: 2 means it has lived more than 1 s.
    eventually(10, || {
        (process(&d, &t, "steady")["uptime_s"].as_u64()? >= 2).then_some(())
    })
    .expect("steady keeps running");
    kill(first, libc::SIGKILL);
    let killed = Instant::now();
    let p = eventually(10, || {
        let p = process(&d, &t, "steady");
        (p["pid"].as_u64().is_some_and(|pid| pid != first)).then_some(p)
    })
    .expect("restarted");
    assert!(
        killed.elapsed() < Duration::from_millis(800),
        "restarted only after {:?}",
        killed.elapsed()
    );
    assert_eq!(p["restarts"], 1);
}

#[test]
fn signal_names_are_matched_exactly() {
    let d = Daemon::start(json!({"programs": {
        "target": sh("trap 'echo got-usr1' USR1; while :; do sleep 0.1; done", json!({"startsecs": 0})),
    }}));
    let t = d.root();
    let pid = wait_state(&d, &t, "target", "RUNNING", 10)["pid"].clone();
    let sig = |body: Value| d.post("/api/supervisor/processes/target/signal", &t, body);
    for bad in [
        "9 ", " 9", "+9", "09", "9\n", "KILL ", " kill", "SIG KILL", "",
    ] {
        let r = sig(json!({ "signal": bad }));
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text);
        assert!(
            r.message().contains("signal") && r.message().contains("1 to 64"),
            "{bad:?}: {}",
            r.text
        );
    }
    for bad in [json!(9.5), json!(-9), json!(0), json!(65), json!(null)] {
        assert_eq!(sig(json!({ "signal": bad })).status, 400, "{bad}");
    }
    let p = process(&d, &t, "target");
    assert_eq!((&p["state"], &p["pid"]), (&json!("RUNNING"), &pid), "{p}");
    // Names in any case, with or without SIG.
    for good in ["usr1", "SigUsr1"] {
        assert_eq!(sig(json!({ "signal": good })).status, 200, "{good}");
    }
    assert!(eventually(5, || log(&d, &t, "target", "")
        .text
        .contains("got-usr1")
        .then_some(()))
    .is_some());
}

#[test]
fn spawn_failures_say_what_to_fix() {
    let dir = temp_dir("spawn");
    let script = dir.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let once = |p: Value| {
        let mut p = p;
        p["startretries"] = json!(0);
        p
    };
    let d = Daemon::start(json!({"programs": {
        "nodir": once(json!({"command": ["sleep", "1"], "directory": "/nonexistent/dir"})),
        "notinpath": once(json!({"command": ["no-such-command-x"], "environment": {"PATH": "/nowhere:/bin"}})),
        "noexec": once(json!({"command": [script]})),
    }}));
    let t = d.root();
    let message = |name: &str| {
        wait_state(&d, &t, name, "FATAL", 10)["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let m = message("nodir");
    assert!(
        m.contains("cannot run sleep in directory /nonexistent/dir: No such file")
            && m.contains("fix directory"),
        "{m}"
    );
    let m = message("notinpath");
    assert!(
        m.contains("cannot run no-such-command-x") && m.contains("PATH (/nowhere:/bin)"),
        "{m}"
    );
    let m = message("noexec");
    assert!(
        m.contains(&format!("cannot run {}", script.display()))
            && m.contains("Permission denied")
            && m.contains("chmod +x"),
        "{m}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Twenty children that crash as soon as they start, restarted at once each
/// time (startsecs 0: every exit is a crash of a RUNNING program): the daemon
/// keeps answering health, tokens and the process list throughout, and stops
/// cleanly after.
#[test]
fn a_crash_storm_of_twenty_children_keeps_the_daemon_responsive() {
    let programs: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            let p = sh("exit 1", json!({"startsecs": 0, "autorestart": true}));
            (format!("crash{i:02}"), p)
        })
        .collect();
    let mut d = Daemon::start(json!({ "programs": programs }));
    let t = d.root();
    // At least 5 s of storm and at least 40 restarts (a program that lived
    // under 1 s is restarted 1 s after its start: about 20 per second), within
    // a bound a loaded machine cannot miss unless the storm does not happen.
    let started = Instant::now();
    let restarts = |list: &Value| -> u64 {
        let all = list.as_array().map(Vec::as_slice).unwrap_or_default();
        all.iter()
            .map(|p| p["restarts"].as_u64().unwrap_or(0))
            .sum()
    };
    let mut answers = 0;
    let mut slowest = Duration::ZERO;
    let mut seen = 0;
    while (started.elapsed() < Duration::from_secs(5) || seen < 40)
        && started.elapsed() < Duration::from_secs(60)
    {
        for (method, path) in [
            ("GET", "/api/health"),
            ("POST", "/api/auth/session/validate"),
            ("GET", "/api/supervisor/processes"),
        ] {
            let start = Instant::now();
            let r = d.call(method, path, Some(&t), None);
            slowest = slowest.max(start.elapsed());
            assert_eq!(
                r.status, 200,
                "{method} {path} during the storm: {}",
                r.text
            );
            answers += 1;
            if path == "/api/supervisor/processes" {
                seen = restarts(&r.body);
            }
        }
    }
    let restarts = restarts(&d.get("/api/supervisor/processes", &t).body);
    assert!(
        restarts >= 40,
        "the storm did not happen: {restarts} restarts in {:?}",
        started.elapsed()
    );
    // Generous: a loaded 2-core CI machine, a debug build.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    eprintln!("{answers} answers during {restarts} restarts; slowest {slowest:?}");
    assert_eq!(d.stop(), Some(0));
}
