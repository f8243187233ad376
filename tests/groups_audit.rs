//! Group actions (`/api/supervisor/groups/{group}/...`, as `supervisorctl start
//! group:*`) and the audit trail (`/api/audit`), through the real daemon with
//! real children.

mod common;
use common::*;
use serde_json::{json, Value};

fn states(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(name: &str, state: &str) -> (String, String) {
    (name.to_string(), state.to_string())
}

fn group_daemon() -> Daemon {
    Daemon::start(json!({"programs": {
        "a": {"command": ["sleep", "1000"], "group": "web", "priority": 1, "startsecs": 1, "autostart": false},
        "b": {"command": ["sleep", "1000"], "group": "web", "priority": 2, "startsecs": 1, "autostart": false},
        "other": {"command": ["sleep", "1000"], "autostart": false},
    }}))
}

#[test]
fn a_group_starts_stops_and_restarts_as_a_whole_and_only_itself() {
    let d = group_daemon();
    let t = d.root();
    let r = d.post("/api/supervisor/groups/web/start", &t, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        states(&r.body),
        [pair("a", "RUNNING"), pair("b", "RUNNING")],
        "answers once both are past startsecs"
    );
    let other = d.get("/api/supervisor/processes/other", &t);
    assert_eq!(other.body["state"], "STOPPED", "another group is untouched");

    // Starting a group that is partly running starts the rest, refusing nothing.
    let r = d.post("/api/supervisor/processes/b/stop", &t, json!({}));
    assert_eq!(r.status, 200);
    let pid_a = d.get("/api/supervisor/processes/a", &t).body["pid"].clone();
    let r = d.post("/api/supervisor/groups/web/start", &t, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        states(&r.body),
        [pair("a", "RUNNING"), pair("b", "RUNNING")]
    );
    assert_eq!(r.body[0]["pid"], pid_a, "a running member is left alone");

    let r = d.post("/api/supervisor/groups/web/restart", &t, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        states(&r.body),
        [pair("a", "RUNNING"), pair("b", "RUNNING")]
    );
    assert_ne!(r.body[0]["pid"], pid_a, "restart made a new process");

    let r = d.post("/api/supervisor/groups/web/stop", &t, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        states(&r.body),
        [pair("a", "STOPPED"), pair("b", "STOPPED")]
    );
    let r = d.post("/api/supervisor/groups/web/stop", &t, json!({}));
    assert_eq!(r.status, 200, "stopping a stopped group is no error");

    let r = d.post("/api/supervisor/groups/nope/start", &t, json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.message().contains("nope"), "{}", r.message());
}

#[test]
fn group_actions_and_the_audit_trail_need_admin() {
    let d = group_daemon();
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let admin = d.user(&root, "boss", "Admin");
    for what in ["start", "stop", "restart"] {
        let path = format!("/api/supervisor/groups/web/{what}");
        assert_eq!(d.post(&path, &user, json!({})).status, 403, "{what}");
        assert_eq!(d.call("POST", &path, None, None).status, 401, "{what}");
    }
    assert_eq!(d.get("/api/audit", &user).status, 403);
    assert_eq!(d.call("GET", "/api/audit", None, None).status, 401);
    assert_eq!(d.get("/api/audit", &admin).status, 200);
}

#[test]
fn the_audit_trail_says_who_did_what_and_logs_it() {
    let d = Daemon::start(json!({
        "programs": {"p": {"command": ["sleep", "1000"], "startsecs": 0, "autostart": false}},
        "gpio": {"backend": "sim", "pins": {"LED": {"chip": "gpiochip0", "line": 17, "direction": "out"}}},
    }));
    let wrong = d.try_login(json!({"name": "root", "password": "wrong-password"}));
    assert_eq!(wrong.status, 401);
    let t = d.root();
    assert_eq!(
        d.post("/api/supervisor/processes/p/start", &t, json!({}))
            .status,
        200
    );
    assert_eq!(
        d.post("/api/supervisor/processes/p/start", &t, json!({}))
            .status,
        409
    );
    let r = d.call(
        "PUT",
        "/api/io/gpio/LED",
        Some(&t),
        Some(&json!({"value": 1})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.post(
        "/api/auth/users",
        &t,
        json!({"name": "carol", "password": "password-of-carol", "level": "User"}),
    );
    assert_eq!(r.status, 201);

    let r = d.get("/api/audit", &t);
    assert_eq!(r.status, 200);
    let seen: Vec<(String, String, String, bool)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
                e["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    let want = |u: &str, a: &str, t: &str, ok: bool| (u.into(), a.into(), t.into(), ok);
    assert_eq!(
        seen,
        vec![
            want("root", "auth.login", "root", false),
            want("root", "auth.login", "root", true),
            want("root", "process.start", "p", true),
            want("root", "process.start", "p", false),
            want("root", "gpio.write", "LED", true),
            want("root", "user.create", "carol", true),
        ]
    );
    let all = r.body.as_array().unwrap();
    assert_eq!(
        all[0]["address"], "127.0.0.1",
        "a failed login has its address"
    );
    assert!(
        all[3]["detail"].as_str().unwrap().starts_with("409 "),
        "{}",
        all[3]
    );
    assert_eq!(all[4]["detail"], "value 1");
    let first = all[0]["seq"].as_u64().unwrap();
    let later = d.get(&format!("/api/audit?after={}&limit=2", first), &t);
    assert_eq!(later.body.as_array().unwrap().len(), 2);
    assert_eq!(later.body[0]["seq"].as_u64().unwrap(), first + 1);
    assert!(
        d.wait_log(5, |l| l
            .contains("audit: root gpio.write \"LED\" from 127.0.0.1 ok"))
            .is_some(),
        "each entry is also a log line"
    );
}
