//! The state dir: one daemon (or `passwd`) at a time, and no acknowledged write
//! lost when the daemon is killed with SIGKILL.
mod common;
use common::writes;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn a_second_daemon_is_refused_on_the_same_state_dir() {
    let d = Daemon::start(json!({}));
    let out = std::process::Command::new(bin())
        .args(["--config", d.config_path.to_str().unwrap(), "serve"])
        .env("PISTACK_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
}

#[test]
fn kill_9_during_concurrent_creations_loses_no_acknowledged_write() {
    let dir = temp_dir("kill9");
    let mut d = Daemon::start_in(dir.clone(), json!({}), &[]);
    let root = d.root();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let url = d.url("/api/auth/users");
            let root = root.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let name = format!("u{t}-{i}");
                    let r = ureq::post(&url)
                        .set("Authorization", &format!("Bearer {root}"))
                        .timeout(Duration::from_secs(5))
                        .send_json(json!({"name": name, "password": "long-enough"}));
                    match r {
                        Ok(r) if r.status() == 201 => acked.lock().unwrap().push(name),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    eventually(20, || (acked.lock().unwrap().len() >= 40).then_some(())).unwrap();
    d.kill();
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    // Every state file parses, and holds every acknowledged user.
    for f in std::fs::read_dir(dir.join("state")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{p:?}: {e}"));
        }
    }
    let d = Daemon::start_in(dir, json!({}), &[]);
    let root = d.root();
    let names = writes::names(&d.get("/api/auth/users", &root).body, "name");
    for name in &acked {
        assert!(names.contains(name), "acknowledged {name} was lost");
    }
}

#[test]
fn kill_9_fifty_times_during_user_session_and_mail_writes_loses_nothing_acknowledged() {
    let dir = temp_dir("kill9x50");
    let extra = json!({"email": writes::unreachable_email()});
    let mut all = writes::Acked::default();
    // A dropped Daemon removes its folder: the killed ones are kept to the end.
    let mut killed = Vec::new();
    for round in 0..50 {
        let mut d = Daemon::start_in(dir.clone(), extra.clone(), &[]);
        let base = d.base.clone();
        let acked = writes::write_until_cut(&base, round, 3, 20, Duration::ZERO, || d.kill());
        for f in std::fs::read_dir(dir.join("state")).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("round {round}: {p:?}: {e}"));
            }
        }
        all.extend(acked);
        killed.push(d);
    }
    let d = Daemon::start_in(dir, extra, &[]);
    let (users, revoked, mails) = writes::lost(&d.base, &all);
    assert!(users.is_empty(), "acknowledged users were lost: {users:?}");
    assert!(revoked.is_empty(), "revoked logins came back: {revoked:?}");
    assert!(mails.is_empty(), "acknowledged mails were lost: {mails:?}");
    eprintln!(
        "50 kills: {} users, {} revocations, {} mails acknowledged, none lost",
        all.users.len(),
        all.revoked.len(),
        all.mails.len()
    );
}
