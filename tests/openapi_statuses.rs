//! Every status `/api/openapi.json` lists is one a client can really get, and a
//! client gets none it does not list (issue 16: "every documented status
//! reachable"). Two real daemons are driven over HTTP: the level matrix
//! (tests/common/matrix.rs) and a table of deliberate client mistakes per route.
//! Each answer is recorded as (method, route pattern, status). Then, per daemon,
//! every status seen must be in that daemon's document (`default` aside: it
//! stands for what no client causes, a full disk or a busy pool), and every
//! status either document lists must have been seen on one of them. A status
//! that cannot be reached is a documentation bug, fixed in the route table
//! (`Route::fails`, `Route::query`), not excused here.
//!
//! Daemon A is the matrix's: no SMTP relay, weather at a closed port (503s).
//! Daemon B has a relay that refuses connections (mails queue, fail, are
//! retried) and a stand-in weather provider that answers (200).
mod common;
use common::matrix::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;

/// (METHOD, route pattern) -> the statuses seen.
type Seen = BTreeMap<(String, String), BTreeSet<u16>>;

/// A daemon under test, and what it answered.
struct Driven<'a> {
    d: &'a Daemon,
    seen: Seen,
}

/// Who sends a request.
#[derive(Clone, Copy)]
enum Who {
    Root,
    Admin,
    User,
    Nobody,
}

impl Driven<'_> {
    fn token(&self, who: Who) -> Option<String> {
        let user = |name: &str| {
            self.d.login(name, "password-of-test-user")["access_token"]
                .as_str()
                .map(str::to_string)
        };
        match who {
            Who::Root => Some(self.d.root()),
            Who::Admin => user("an-admin"),
            Who::User => user("a-user"),
            Who::Nobody => None,
        }
    }

    fn note(&mut self, method: &str, pattern: &str, status: u16) {
        self.seen
            .entry((method.to_string(), pattern.to_string()))
            .or_default()
            .insert(status);
    }

    /// A JSON request (`body` null: none) to `path`, a concrete `pattern`.
    fn call(&mut self, who: Who, method: &str, pattern: &str, path: &str, body: Value) -> Resp {
        let token = self.token(who);
        let body = (!body.is_null()).then_some(body);
        let r = self.d.call(method, path, token.as_deref(), body.as_ref());
        self.note(method, pattern, r.status);
        r
    }

    /// A request with a raw body (XML-RPC).
    fn raw(&mut self, who: Who, method: &str, path: &str, body: &str) -> u16 {
        let mut req = ureq::request(method, &self.d.url(path));
        if let Some(t) = self.token(who) {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let status = match req.set("Content-Type", "text/xml").send_string(body) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        self.note(method, path, status);
        status
    }
}

/// Deliberate mistakes: (who, method, pattern, path, body). The pattern is what
/// the answer is recorded under; `{root}` in a path is root's id.
#[rustfmt::skip]
fn mistakes() -> Vec<(Who, &'static str, &'static str, &'static str, Value)> {
    use Who::*;
    vec![
        (Nobody, "POST", "/api/auth/session/login", "/api/auth/session/login", json!({})),
        (Nobody, "POST", "/api/auth/session/login", "/api/auth/session/login", json!({"name":"root","password":"not-the-password"})),
        (Nobody, "POST", "/api/auth/session/refresh", "/api/auth/session/refresh", json!({"refresh_token":"a.b.c"})),
        (Nobody, "POST", "/api/auth/session/logout", "/api/auth/session/logout", json!({"refresh_token":"a.b.c"})),
        (Root, "POST", "/api/auth/users", "/api/auth/users", json!({"name":"bad name!","password":"long-enough"})),
        (Root, "POST", "/api/auth/users", "/api/auth/users", json!({"name":"a-user","password":"long-enough"})),
        (Admin, "POST", "/api/auth/users", "/api/auth/users", json!({"name":"a-root","password":"long-enough","level":"Root"})),
        (Root, "GET", "/api/auth/users/{id}", "/api/auth/users/nope", json!(null)),
        (Root, "PATCH", "/api/auth/users/{id}", "/api/auth/users/nope", json!({"password":"new-password"})),
        (Root, "PATCH", "/api/auth/users/{id}", "/api/auth/users/{root}", json!({"name":5})),
        (Root, "PATCH", "/api/auth/users/{id}", "/api/auth/users/{root}", json!({"name":"a-user"})),
        (Root, "PATCH", "/api/auth/users/{id}", "/api/auth/users/{root}", json!({"level":"User"})),
        (Root, "DELETE", "/api/auth/users/{id}", "/api/auth/users/nope", json!(null)),
        (Root, "DELETE", "/api/auth/users/{id}", "/api/auth/users/{root}", json!(null)),
        (Root, "GET", "/api/supervisor/processes/{name}", "/api/supervisor/processes/nope", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/start", "/api/supervisor/processes/nope/start", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/start", "/api/supervisor/processes/idle/start?wait=maybe", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/stop", "/api/supervisor/processes/nope/stop", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/stop", "/api/supervisor/processes/sleeper/stop?wait=maybe", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/restart", "/api/supervisor/processes/nope/restart", json!(null)),
        (Root, "POST", "/api/supervisor/processes/{name}/signal", "/api/supervisor/processes/nope/signal", json!({"signal":"HUP"})),
        (Root, "POST", "/api/supervisor/processes/{name}/signal", "/api/supervisor/processes/sleeper/signal", json!({"signal":"NOPE"})),
        (Root, "POST", "/api/supervisor/processes/{name}/signal", "/api/supervisor/processes/idle/signal", json!({"signal":"HUP"})),
        (Root, "POST", "/api/supervisor/groups/{group}/start", "/api/supervisor/groups/nope/start", json!(null)),
        (Root, "POST", "/api/supervisor/groups/{group}/start", "/api/supervisor/groups/idle/start?wait=maybe", json!(null)),
        (Root, "POST", "/api/supervisor/groups/{group}/stop", "/api/supervisor/groups/nope/stop", json!(null)),
        (Root, "POST", "/api/supervisor/groups/{group}/stop", "/api/supervisor/groups/sleeper/stop?wait=maybe", json!(null)),
        (Root, "POST", "/api/supervisor/groups/{group}/restart", "/api/supervisor/groups/nope/restart", json!(null)),
        (Root, "GET", "/api/supervisor/processes/{name}/log", "/api/supervisor/processes/nope/log", json!(null)),
        (Root, "GET", "/api/supervisor/processes/{name}/log", "/api/supervisor/processes/sleeper/log?bytes=abc", json!(null)),
        (Root, "GET", "/api/supervisor/processes/{name}/log", "/api/supervisor/processes/sleeper/log?stream=stdin", json!(null)),
        (User, "GET", "/api/supervisor/events", "/api/supervisor/events?after=-1", json!(null)),
        (User, "GET", "/api/supervisor/events", "/api/supervisor/events?after=&after=1", json!(null)),
        (Root, "GET", "/api/supervisor/processes/{name}/log", "/api/supervisor/processes/sleeper/log?bytes=", json!(null)),
        (User, "GET", "/api/io/gpio/events", "/api/io/gpio/events?limit=abc", json!(null)),
        (Root, "PUT", "/api/io/sim/gpio/{name}", "/api/io/sim/gpio/NOPE", json!({"level":1})),
        (Root, "PUT", "/api/io/sim/gpio/{name}", "/api/io/sim/gpio/BUTTON", json!({"level":7})),
        (Root, "GET", "/api/io/gpio/{name}", "/api/io/gpio/NOPE", json!(null)),
        (Root, "PUT", "/api/io/gpio/{name}", "/api/io/gpio/NOPE", json!({"value":1})),
        (Root, "PUT", "/api/io/gpio/{name}", "/api/io/gpio/LED", json!({"value":7})),
        (Root, "PUT", "/api/io/gpio/{name}", "/api/io/gpio/BUTTON", json!({"value":1})),
        (Root, "POST", "/api/io/gpio/{name}/toggle", "/api/io/gpio/NOPE/toggle", json!(null)),
        (Root, "POST", "/api/io/gpio/{name}/toggle", "/api/io/gpio/BUTTON/toggle", json!(null)),
        (Root, "POST", "/api/io/gpio/{name}/pulse", "/api/io/gpio/NOPE/pulse", json!({"ms":1})),
        (Root, "POST", "/api/io/gpio/{name}/pulse", "/api/io/gpio/LED/pulse", json!({"ms":-1})),
        (Root, "POST", "/api/io/gpio/{name}/pulse", "/api/io/gpio/BUTTON/pulse", json!({"ms":1})),
        (User, "GET", "/api/info/history", "/api/info/history?since=yesterday", json!(null)),
        (Root, "POST", "/api/email/send", "/api/email/send", json!({"to":"not an address","subject":"s","body":"b"})),
        (Root, "POST", "/api/email/outbox/{id}/retry", "/api/email/outbox/nope/retry", json!(null)),
        (Root, "GET", "/api/audit", "/api/audit?limit=1000000", json!(null)),
        (User, "GET", "/api/rules/events", "/api/rules/events?after=x", json!(null)),
    ]
}

/// The mistakes that take a sequence: throttles, the config file, XML-RPC.
fn sequences(x: &mut Driven) {
    let login = "/api/auth/session/login";
    let wrong = json!({"name": "nobody", "password": "wrong-password"});
    let throttled = (0..50).any(|_| {
        x.call(Who::Nobody, "POST", login, login, wrong.clone())
            .status
            == 429
    });
    assert!(throttled, "50 bad logins and no 429");
    // A user changing its own password with a wrong current one: 403, then 429.
    let patcher = x.d.user(&x.d.root(), "patcher", "User");
    let me = x.d.get("/api/auth/session/me", &patcher).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (pattern, path) = ("/api/auth/users/{id}", format!("/api/auth/users/{me}"));
    let body = json!({"password": "new-password-1", "current_password": "not-it"});
    let throttled = (0..50).any(|_| {
        let r = x.d.call("PATCH", &path, Some(&patcher), Some(&body));
        x.note("PATCH", pattern, r.status);
        r.status == 429
    });
    assert!(throttled, "50 wrong current passwords and no 429");
    // A refresh token rotated; a program stopped and started again.
    let tokens = x.d.login("a-user", "password-of-test-user");
    let refresh = "/api/auth/session/refresh";
    let r = x.call(
        Who::Nobody,
        "POST",
        refresh,
        refresh,
        json!({"refresh_token": tokens["refresh_token"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for action in ["stop", "start"] {
        let pattern = format!("/api/supervisor/processes/{{name}}/{action}");
        let path = format!("/api/supervisor/processes/sleeper/{action}");
        let r = x.call(Who::Admin, "POST", &pattern, &path, json!(null));
        assert_eq!(r.status, 200, "{action}: {}", r.text);
    }
    // The configuration file broken: reload says why, and nothing changes.
    let config = std::fs::read(&x.d.config_path).unwrap();
    std::fs::write(&x.d.config_path, b"{ not json").unwrap();
    let reload = "/api/supervisor/reload";
    let r = x.call(Who::Root, "POST", reload, reload, json!(null));
    std::fs::write(&x.d.config_path, config).unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    // A User may read over XML-RPC, not act.
    let start =
        "<?xml version=\"1.0\"?><methodCall><methodName>supervisor.startProcess</methodName>\
                 <params><param><value><string>idle</string></value></param></params></methodCall>";
    x.raw(Who::User, "POST", "/RPC2", start);
}

/// Each service's health and document, anonymously.
fn services(x: &mut Driven) {
    for s in ["auth", "supervisor", "io", "info", "email", "rules"] {
        for what in ["health", "apispec.json"] {
            let path = format!("/api/{s}/{what}");
            x.call(Who::Nobody, "GET", &path, &path, json!(null));
        }
    }
}

/// The outbox of daemon B: a queued mail cannot be retried (409); once its
/// attempts are spent it has failed, and can (202).
fn retry_a_failed_mail(x: &mut Driven) {
    let mail = json!({"to": "a@b.example", "subject": "s", "body": "b"});
    let r = x.call(
        Who::Root,
        "POST",
        "/api/email/send",
        "/api/email/send",
        mail,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let (pattern, path) = (
        "/api/email/outbox/{id}/retry",
        format!("/api/email/outbox/{id}/retry"),
    );
    let r = x.call(Who::Root, "POST", pattern, &path, json!(null));
    assert_eq!(r.status, 409, "{}", r.text);
    let root = x.d.root();
    let failed = eventually(30, || {
        let outbox = x.d.get("/api/email/outbox", &root).body;
        let mine = outbox
            .as_array()?
            .iter()
            .find(|m| m["id"] == id.as_str())?
            .clone();
        (mine["status"] == "failed").then_some(())
    });
    assert!(failed.is_some(), "mail {id} never failed");
    let r = x.call(Who::Root, "POST", pattern, &path, json!(null));
    assert_eq!(r.status, 202, "{}", r.text);
}

/// Everything a client may do to `d`, recorded.
fn drive(d: &Daemon, outbox: bool) -> Seen {
    let mut x = Driven {
        d,
        seen: Seen::new(),
    };
    // First, while no mail has been tried: a relay not yet failed is healthy.
    services(&mut x);
    run_matrix(d, |row| x.note(row.method, &row.pattern, row.resp.status));
    let root_id = d.get("/api/auth/session/me", &d.root()).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (who, method, pattern, path, body) in mistakes() {
        let path = path.replace("{root}", &root_id);
        x.call(who, method, pattern, &path, body);
    }
    sequences(&mut x);
    if outbox {
        retry_a_failed_mail(&mut x);
    }
    services(&mut x);
    x.seen
}

/// The documented statuses of every operation: (METHOD, path) -> keys ("200", "2XX"...).
fn documented(doc: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let keys = op["responses"].as_object().unwrap().keys();
            let keys = keys.filter(|k| *k != "default").cloned().collect();
            out.insert((method.to_ascii_uppercase(), path.clone()), keys);
        }
    }
    out
}

/// Does documented key `key` ("404", "2XX") cover `status`?
fn covers(key: &str, status: u16) -> bool {
    match key.strip_suffix("XX") {
        Some(class) => class == (status / 100).to_string(),
        None => key == status.to_string(),
    }
}

/// A stand-in Open-Meteo: the same answer to every request, while the test runs.
fn weather_provider() -> String {
    const CURRENT: &str = r#"{"latitude":52.25,"longitude":21.0,"current":{"time":"2026-12-02T15:00","interval":900,"temperature_2m":-1.5,"weather_code":71,"wind_speed_10m":12.3}}"#;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CURRENT}",
                CURRENT.len()
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}/v1/forecast")
}

/// Daemon B: a relay that refuses (mails fail after two attempts 3 s apart) and
/// a weather provider that answers.
fn config_b() -> Value {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = sample_config();
    config["email"] = json!({
        "smtp": {"host": "127.0.0.1", "port": closed, "timeout_s": 2},
        "from": "pistack@test.example",
        "retry": {"base_s": 3, "max_s": 3, "max_attempts": 2}
    });
    config["info"] = json!({"weather": {"url": weather_provider(), "timeout_s": 2}});
    config
}

#[test]
fn every_documented_status_is_reached_and_nothing_else() {
    let daemons = [
        (Daemon::start(matrix_config()), false),
        (Daemon::start(config_b()), true),
    ];
    let mut problems = Vec::new();
    let mut reached: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut listed = BTreeMap::new();
    for (name, (d, outbox)) in ["A", "B"].iter().zip(&daemons) {
        let doc = documented(&d.call("GET", "/api/openapi.json", None, None).body);
        let seen = drive(d, *outbox);
        for (op, statuses) in &seen {
            let keys = doc.get(op).cloned().unwrap_or_default();
            for status in statuses {
                match keys.iter().find(|k| covers(k, *status)) {
                    Some(k) => drop(reached.entry(op.clone()).or_default().insert(k.clone())),
                    None => problems.push(format!(
                        "{} {}: daemon {name} answered {status}, which the document does not list",
                        op.0, op.1
                    )),
                }
            }
        }
        for (op, keys) in doc {
            listed.entry(op).or_insert_with(BTreeSet::new).extend(keys);
        }
    }
    for (op, keys) in &listed {
        for key in keys {
            if !reached.get(op).is_some_and(|r| r.contains(key)) {
                problems.push(format!(
                    "{} {}: documents {key}, never answered",
                    op.0, op.1
                ));
            }
        }
    }
    let statuses: usize = listed.values().map(BTreeSet::len).sum();
    assert!(
        problems.is_empty(),
        "{} of {statuses} documented statuses:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        listed.len() > 45 && statuses > 150,
        "{} operations, {statuses} statuses",
        listed.len()
    );
}
