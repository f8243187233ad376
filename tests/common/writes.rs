//! Acknowledged writes under a crash: one writer per kind of state (users,
//! session revocations, the mail outbox) over real HTTP, each recording what the
//! daemon acknowledged, until something cuts the daemon off under them (kill -9 in
//! tests/state.rs, the VM's power in tests/powercut.rs); then the check that a
//! daemon on the same state still has every acknowledged write.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The e-mail config of these tests: a relay that is not there, so mails stay in
/// the outbox, which is the subject.
pub fn unreachable_email() -> Value {
    json!({
        "smtp": {"host": "127.0.0.1", "port": 9},
        "from": "pi@test.example",
        "retry": {"base_s": 3600.0, "max_s": 3600.0},
        // Every restart tries each queued mail once, so after max_attempts
        // restarts a mail is `failed`; keep them all, or pruning past keep_done
        // would look like a lost mail.
        "spool": {"max_messages": 100000, "max_bytes": 1073741824, "keep_done": 100000}
    })
}

/// What the writers had acknowledged when the daemon was cut off.
#[derive(Default)]
pub struct Acked {
    pub users: Vec<String>,
    /// Refresh tokens whose logout was answered 200: revoked for good.
    pub revoked: Vec<String>,
    /// Ids of mails answered 202 (queued).
    pub mails: Vec<String>,
}

impl Acked {
    pub fn extend(&mut self, other: Acked) {
        self.users.extend(other.users);
        self.revoked.extend(other.revoked);
        self.mails.extend(other.mails);
    }
}

/// POST `body`; the status and JSON body of an answer that arrived whole, else None.
pub fn post_json(url: &str, token: Option<&str>, body: Value) -> Option<(u16, Value)> {
    let mut req = ureq::post(url).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let r = match req.send_json(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return None,
    };
    let status = r.status();
    // A cut in the middle of the answer leaves a status without a body: nothing
    // was handed over, so nothing counts as acknowledged.
    Some((status, r.into_json().ok()?))
}

/// GET a JSON answer (None when the daemon did not answer one).
pub fn get_json(url: &str, token: &str) -> Option<(u16, Value)> {
    let r = ureq::get(url)
        .set("Authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(30));
    let r = match r.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return None,
    };
    let status = r.status();
    Some((status, r.into_json().ok()?))
}

/// A root access token (panics when the daemon refuses: the tests' own setup).
pub fn root_token(base: &str) -> String {
    let body = json!({"name": "root", "password": super::ROOT_PASSWORD});
    let (status, v) = post_json(&format!("{base}/api/auth/session/login"), None, body)
        .expect("the daemon answers a login");
    assert_eq!(status, 200, "root login: {v}");
    v["access_token"].as_str().expect("a token").to_string()
}

type Job = Box<dyn Fn(usize) -> bool + Send>;

/// Run `job(0)`, `job(1)`, ... on a thread until one returns false.
fn writer(job: Job) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0.. {
            if !job(i) {
                return;
            }
        }
    })
}

fn user_writer(a: Arc<Mutex<Acked>>, base: &str, root: &str, round: usize) -> Job {
    let (url, t) = (format!("{base}/api/auth/users"), root.to_string());
    Box::new(move |i| {
        let name = format!("r{round}-u{i}");
        let body = json!({"name": name, "password": "long-enough"});
        let ok = post_json(&url, Some(&t), body).is_some_and(|(s, _)| s == 201);
        ok && {
            a.lock().unwrap().users.push(name);
            true
        }
    })
}

fn session_writer(a: Arc<Mutex<Acked>>, base: &str) -> Job {
    let login = format!("{base}/api/auth/session/login");
    let logout = format!("{base}/api/auth/session/logout");
    Box::new(move |_| {
        let body = json!({"name": "root", "password": super::ROOT_PASSWORD});
        let Some((200, tokens)) = post_json(&login, None, body) else {
            return false;
        };
        let Some(refresh) = tokens["refresh_token"].as_str().map(String::from) else {
            return false;
        };
        let ok = post_json(&logout, None, json!({"refresh_token": refresh}))
            .is_some_and(|(s, _)| s == 200);
        ok && {
            a.lock().unwrap().revoked.push(refresh);
            true
        }
    })
}

fn mail_writer(a: Arc<Mutex<Acked>>, base: &str, root: &str, round: usize) -> Job {
    let (url, t) = (format!("{base}/api/email/send"), root.to_string());
    Box::new(move |i| {
        let body = json!({"to": "ops@example.com", "subject": format!("round {round} mail {i}"), "body": "x"});
        match post_json(&url, Some(&t), body) {
            Some((202, v)) => {
                let Some(id) = v["id"].as_str() else {
                    return false;
                };
                a.lock().unwrap().mails.push(id.to_string());
                true
            }
            _ => false,
        }
    })
}

/// Write users, revocations and mails to the daemon at `base` concurrently; once
/// each writer has had `min_each` writes acknowledged, wait `then` more (mid-stream),
/// `cut` the daemon off and return what was acknowledged. `progress_s` bounds the
/// wait for the first acknowledgements.
pub fn write_until_cut(
    base: &str,
    round: usize,
    min_each: usize,
    progress_s: u64,
    then: Duration,
    cut: impl FnOnce(),
) -> Acked {
    let acked = Arc::new(Mutex::new(Acked::default()));
    let root = root_token(base);
    let handles = [
        writer(user_writer(acked.clone(), base, &root, round)),
        writer(session_writer(acked.clone(), base)),
        writer(mail_writer(acked.clone(), base, &root, round)),
    ];
    super::eventually(progress_s, || {
        let a = acked.lock().unwrap();
        let n = a.users.len().min(a.revoked.len()).min(a.mails.len());
        (n >= min_each).then_some(())
    })
    .expect("the writers made progress");
    std::thread::sleep(then);
    cut();
    for h in handles {
        h.join().unwrap();
    }
    let taken = std::mem::take(&mut *acked.lock().unwrap());
    taken
}

/// The `key` of each object of a JSON array (the users' names, the mails' ids);
/// nothing for what is not an array.
pub fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x[key].as_str()).map(String::from))
        .into_iter()
        .flatten()
        .collect()
}

/// What of `acked` the daemon at `base` does not have: `(users, revocations,
/// mails)` lost, each as a list of what is missing or came back.
pub fn lost(base: &str, acked: &Acked) -> (Vec<String>, Vec<String>, Vec<String>) {
    let root = root_token(base);
    let (status, users) = get_json(&format!("{base}/api/auth/users"), &root).expect("users");
    assert_eq!(status, 200, "{users}");
    let users = names(&users, "name");
    let (status, outbox) = get_json(&format!("{base}/api/email/outbox"), &root).expect("outbox");
    assert_eq!(status, 200, "{outbox}");
    let mails = names(&outbox, "id");
    let refresh = format!("{base}/api/auth/session/refresh");
    let came_back = |t: &String| {
        let answer = post_json(&refresh, None, json!({"refresh_token": t}));
        answer.map(|(s, _)| s) != Some(401)
    };
    (
        acked
            .users
            .iter()
            .filter(|u| !users.contains(u))
            .cloned()
            .collect(),
        acked
            .revoked
            .iter()
            .filter(|t| came_back(t))
            .cloned()
            .collect(),
        acked
            .mails
            .iter()
            .filter(|m| !mails.contains(m))
            .cloned()
            .collect(),
    )
}
