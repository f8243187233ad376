//! The state dir: one daemon (or `passwd`) at a time, and no acknowledged write
//! lost when the daemon is killed with SIGKILL.
mod common;
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
    let names: Vec<String> = d
        .get("/api/auth/users", &root)
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    for name in &acked {
        assert!(names.contains(name), "acknowledged {name} was lost");
    }
}

/// What the writers of one round had acknowledged when the daemon was killed.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    /// Refresh tokens whose logout was answered 200: revoked for good.
    revoked: Vec<String>,
    /// Ids of mails answered 202 (queued).
    mails: Vec<String>,
}

fn post_json(url: &str, token: Option<&str>, body: Value) -> Option<(u16, Value)> {
    let mut req = ureq::post(url).timeout(Duration::from_secs(5));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let r = req.send_json(body).ok()?;
    Some((r.status(), r.into_json().unwrap_or(Value::Null)))
}

/// One writer per kind of state (users, session revocations, the mail outbox),
/// each recording what was acknowledged, until the daemon is killed under them.
fn write_until_killed(d: &mut Daemon, round: usize) -> Acked {
    use std::sync::{Arc, Mutex};
    let acked = Arc::new(Mutex::new(Acked::default()));
    let root = d.root();
    let writer = |job: Box<dyn Fn(usize) -> bool + Send>| {
        std::thread::spawn(move || {
            for i in 0.. {
                if !job(i) {
                    return;
                }
            }
        })
    };
    let (a, url, t) = (acked.clone(), d.url("/api/auth/users"), root.clone());
    let users = writer(Box::new(move |i| {
        let name = format!("r{round}-u{i}");
        let body = json!({"name": name, "password": "long-enough"});
        let ok = post_json(&url, Some(&t), body).is_some_and(|(s, _)| s == 201);
        ok && {
            a.lock().unwrap().users.push(name);
            true
        }
    }));
    let (a, login, logout) = (
        acked.clone(),
        d.url("/api/auth/session/login"),
        d.url("/api/auth/session/logout"),
    );
    let sessions = writer(Box::new(move |_| {
        let Some((200, tokens)) = post_json(
            &login,
            None,
            json!({"name": "root", "password": ROOT_PASSWORD}),
        ) else {
            return false;
        };
        // A kill in the middle of the answer leaves a status without a body:
        // nothing was handed over, so nothing counts as acknowledged.
        let Some(refresh) = tokens["refresh_token"].as_str().map(String::from) else {
            return false;
        };
        let ok = post_json(&logout, None, json!({"refresh_token": refresh}))
            .is_some_and(|(s, _)| s == 200);
        ok && {
            a.lock().unwrap().revoked.push(refresh);
            true
        }
    }));
    let (a, url, t) = (acked.clone(), d.url("/api/email/send"), root);
    let mails = writer(Box::new(move |i| {
        let body = json!({"to": "ops@example.com", "subject": format!("round {round} mail {i}"), "body": "x"});
        match post_json(&url, Some(&t), body) {
            Some((202, v)) => {
                let Some(id) = v["id"].as_str() else {
                    return false; // cut off mid-answer, as above
                };
                a.lock().unwrap().mails.push(id.to_string());
                true
            }
            _ => false,
        }
    }));
    // Kill once each writer has had a few writes acknowledged, mid-stream.
    eventually(20, || {
        let a = acked.lock().unwrap();
        (a.users.len() >= 3 && a.revoked.len() >= 3 && a.mails.len() >= 3).then_some(())
    })
    .expect("the writers made progress");
    d.kill();
    for h in [users, sessions, mails] {
        h.join().unwrap();
    }
    let taken = std::mem::take(&mut *acked.lock().unwrap());
    taken
}

#[test]
fn kill_9_fifty_times_during_user_session_and_mail_writes_loses_nothing_acknowledged() {
    let dir = temp_dir("kill9x50");
    // A relay that is not there: mails stay in the outbox, which is the subject.
    let extra = json!({"email": {
        "smtp": {"host": "127.0.0.1", "port": 9},
        "from": "pi@test.example",
        "retry": {"base_s": 3600.0, "max_s": 3600.0},
        // Every restart tries each queued mail once, so after max_attempts
        // restarts a mail is `failed`; keep them all, or pruning past keep_done
        // would look like a lost mail.
        "spool": {"max_messages": 100000, "max_bytes": 1073741824, "keep_done": 100000}
    }});
    let mut all = Acked::default();
    // A dropped Daemon removes its folder: the killed ones are kept to the end.
    let mut killed = Vec::new();
    for round in 0..50 {
        let mut d = Daemon::start_in(dir.clone(), extra.clone(), &[]);
        let acked = write_until_killed(&mut d, round);
        for f in std::fs::read_dir(dir.join("state")).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("round {round}: {p:?}: {e}"));
            }
        }
        all.users.extend(acked.users);
        all.revoked.extend(acked.revoked);
        all.mails.extend(acked.mails);
        killed.push(d);
    }
    let d = Daemon::start_in(dir, extra, &[]);
    let root = d.root();
    let names: Vec<String> = d
        .get("/api/auth/users", &root)
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    for name in &all.users {
        assert!(names.contains(name), "acknowledged user {name} was lost");
    }
    for token in &all.revoked {
        assert_eq!(d.refresh(token).status, 401, "a revoked login came back");
    }
    let outbox = d.get("/api/email/outbox", &root).body;
    let ids: Vec<&str> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in &all.mails {
        assert!(
            ids.contains(&id.as_str()),
            "acknowledged mail {id} was lost"
        );
    }
    eprintln!(
        "50 kills: {} users, {} revocations, {} mails acknowledged, none lost",
        all.users.len(),
        all.revoked.len(),
        all.mails.len()
    );
}
