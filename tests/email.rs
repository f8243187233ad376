//! E-mail over real SMTP: the real binary against aiosmtpd on loopback
//! (tests/smtp/server.py, in the venv at target/venv or $PISTACK_TEST_VENV).

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const FROM: &str = "pistack@test.example";

/// The venv's python with aiosmtpd, made from tests/requirements.txt when absent.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var_os("PISTACK_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv"));
        let python = venv.join("bin/python");
        let has_aiosmtpd = || {
            Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_aiosmtpd() {
            let req = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/requirements.txt");
            let made = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", "-r", req])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(
                made && has_aiosmtpd(),
                "the e-mail tests need aiosmtpd in the venv {}: run `make deps` or \
                 `python3 -m venv {0} && {0}/bin/pip install -r tests/requirements.txt`",
                venv.display()
            );
        }
        python
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for localhost / 127.0.0.1 signed by it.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certs(dir: &Path) -> Certs {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
    ]
    .iter()
    .chain(&[
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pistack test CA",
    ])
    .copied()
    .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("srv.pem"),
        key: dir.join("srv.key"),
    }
}

/// tests/smtp/server.py on `port`; killed when dropped.
struct Relay {
    child: Child,
    out: PathBuf,
}

impl Relay {
    fn start(port: u16, mode: &str, certs: Option<&Certs>, auth: Option<(&str, &str)>) -> Relay {
        let out = temp_dir("relay");
        let mut cmd = Command::new(python());
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py"))
            .arg("--out")
            .arg(&out)
            .args(["--port", &port.to_string(), "--mode", mode]);
        if let Some(c) = certs {
            cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
        }
        if let Some((user, password)) = auth {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(20));
        assert_eq!(
            ready.as_deref(),
            Ok("ready"),
            "the SMTP server did not start"
        );
        Relay { child, out }
    }

    /// What the server received, in the order it arrived.
    fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    fn wait_messages(&self, n: usize) -> Vec<Value> {
        eventually(30, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| panic!("fewer than {n} messages arrived: {:?}", self.messages()))
    }

    /// Connections a `hang` server took.
    fn connections(&self) -> usize {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("conn-")
            })
            .count()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.out);
        }
    }
}

/// The `email` section: a relay on `port`, fast retries for tests.
fn email(port: u16, smtp: Value, max_attempts: u32) -> Value {
    let mut s = json!({"host": "127.0.0.1", "port": port, "timeout_s": 2});
    s.as_object_mut()
        .unwrap()
        .extend(smtp.as_object().unwrap().clone());
    json!({
        "smtp": s,
        "from": FROM,
        "retry": {"base_s": 0.2, "max_s": 0.5, "max_attempts": max_attempts}
    })
}

fn send(d: &Daemon, token: &str, body: Value) -> String {
    let r = d.post("/api/email/send", token, body);
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "queued");
    r.body["id"].as_str().unwrap().to_string()
}

fn outbox(d: &Daemon, token: &str) -> Vec<Value> {
    let r = d.get("/api/email/outbox", token);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

/// Wait until `pred` holds for the outbox.
fn wait_outbox(d: &Daemon, token: &str, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    eventually(30, || {
        let o = outbox(d, token);
        pred(&o).then_some(o)
    })
    .unwrap_or_else(|| panic!("outbox never {what}: {:?}", outbox(d, token)))
}

fn health(d: &Daemon) -> Value {
    d.call("GET", "/api/health", None, None).body["subsystems"]["email"].clone()
}

#[test]
fn delivers_envelope_headers_utf8_subject_and_body() {
    let port = free_port();
    let relay = Relay::start(port, "plain", None, None);
    let d = Daemon::start(json!({"email": email(port, json!({}), 3)}));
    let root = d.root();
    let admin = d.user(&root, "operator", "Admin");
    // Long enough that the encoded header must be folded.
    let subject = "Zażółć gęślą jaźń — ✓ 日本語のテスト, and a long enough tail to fold the header";
    let body = "Grüße aus dem Pi.\nZweite Zeile: ✓ 😀\n.\nA line that is only a dot, above.";
    let id = send(
        &d,
        &admin,
        json!({"to": ["one@a.example", "two@b.example"], "subject": subject, "body": body}),
    );
    let got = relay.wait_messages(1);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["mail_from"], FROM);
    assert_eq!(m["rcpt_tos"], json!(["one@a.example", "two@b.example"]));
    assert_eq!(m["subject"], subject, "decoded by Python's email package");
    let raw_subject = m["raw_subject"].as_str().unwrap();
    assert!(
        raw_subject.is_ascii(),
        "the header is RFC 2047-encoded: {raw_subject}"
    );
    assert!(
        raw_subject.to_ascii_lowercase().contains("=?utf-8?"),
        "{raw_subject}"
    );
    assert_eq!(m["from"], FROM);
    assert_eq!(m["to"], "one@a.example, two@b.example");
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    let got_body = m["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(got_body.trim_end_matches('\n'), body);
    assert!(
        m["message_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("<{id}@")),
        "{m}"
    );
    assert!(!m["date"].as_str().unwrap().is_empty() && m["date"] != "None");
    assert_eq!(m["tls"], false);

    let o = wait_outbox(&d, &admin, "sent", |o| {
        o.len() == 1 && o[0]["status"] == "sent"
    });
    let e = &o[0];
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["to"], json!(["one@a.example", "two@b.example"]));
    assert_eq!(e["subject"], subject);
    assert_eq!(
        (e["attempts"].as_u64(), e["last_error"].is_null()),
        (Some(1), true)
    );
    assert!(e["created_at"].as_u64().unwrap() <= e["sent_at"].as_u64().unwrap());
    assert_eq!(health(&d), "ok");
    assert_eq!(d.call("GET", "/api/email/health", None, None).status, 200);

    let metrics = d.get("/metrics", &admin).text;
    for line in [
        "# HELP pistack_email_messages ",
        "# TYPE pistack_email_messages gauge",
        "pistack_email_messages{status=\"sent\"} 1",
        "pistack_email_messages{status=\"queued\"} 0",
        "# TYPE pistack_email_delivery_failures_total counter",
        "pistack_email_delivery_failures_total 0",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }

    // A sent message cannot be retried; an unknown one is not found.
    let r = d.post(&format!("/api/email/outbox/{id}/retry"), &admin, json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    let r = d.post("/api/email/outbox/nope/retry", &admin, json!({}));
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn bad_requests_name_the_field_and_levels_are_enforced() {
    let port = free_port();
    let d = Daemon::start(json!({"email": email(port, json!({}), 3)}));
    let root = d.root();
    let admin = d.user(&root, "operator", "Admin");
    let user = d.user(&root, "viewer", "User");
    let ok = json!({"to": "a@b.example", "subject": "s", "body": "b"});
    for (body, start) in [
        (
            json!({"to": "not-an-address", "subject": "s", "body": "b"}),
            "to: \"not-an-address\" is not an e-mail address",
        ),
        (
            json!({"to": ["a@b.example", "x@"], "subject": "s", "body": "b"}),
            "to: \"x@\"",
        ),
        (
            json!({"to": [], "subject": "s", "body": "b"}),
            "to: at least one",
        ),
        (json!({"to": 5, "subject": "s", "body": "b"}), "to: must be"),
        (json!({"subject": "s", "body": "b"}), "to: missing"),
        (
            json!({"to": "a@b.example", "body": "b"}),
            "subject: missing",
        ),
        (
            json!({"to": "a@b.example", "subject": "s"}),
            "body: missing",
        ),
        (
            json!({"to": "a@b.example", "subject": "a\r\nBcc: evil@x.example", "body": "b"}),
            "subject: must be one line",
        ),
        (
            json!({"to": "a@b.example", "subject": "s", "body": "b", "cc": "x"}),
            "unknown field \"cc\"",
        ),
    ] {
        let r = d.post("/api/email/send", &admin, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.message().starts_with(start), "{body}: {}", r.message());
    }
    assert_eq!(d.post("/api/email/send", &user, ok.clone()).status, 403);
    assert_eq!(d.get("/api/email/outbox", &user).status, 403);
    assert_eq!(
        d.post("/api/email/outbox/x/retry", &user, json!({})).status,
        403
    );
    assert_eq!(
        d.call("POST", "/api/email/send", None, Some(&ok)).status,
        401
    );
    assert_eq!(d.call("GET", "/api/email/outbox", None, None).status, 401);
    assert!(outbox(&d, &admin).is_empty(), "nothing bad was spooled");
}

#[test]
fn without_smtp_send_is_503_and_health_says_why() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let r = d.post(
        "/api/email/send",
        &root,
        json!({"to": "a@b.example", "subject": "s", "body": "b"}),
    );
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.message().starts_with("no SMTP configured"), "{}", r.text);
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["subsystems"]["email"], "no SMTP configured");
    assert_eq!(
        h.body["status"], "ok",
        "not configured is not degraded: {}",
        h.body
    );
    let r = d.call("GET", "/api/email/health", None, None);
    assert_eq!((r.status, r.message()), (503, "no SMTP configured"));
    assert!(outbox(&d, &root).is_empty());
}

#[test]
fn starttls_with_login_and_the_relays_ca() {
    let port = free_port();
    let dir = temp_dir("tls");
    let c = certs(&dir);
    let relay = Relay::start(port, "starttls", Some(&c), Some(("mailer", "s3cret pass")));
    std::fs::write(dir.join("smtp-password"), "s3cret pass\n").unwrap();
    let smtp = json!({"host": "localhost", "security": "starttls", "ca_file": c.ca,
                      "username": "mailer", "password_file": dir.join("smtp-password")});
    let d = Daemon::start(json!({"email": email(port, smtp, 3)}));
    let root = d.root();
    send(
        &d,
        &root,
        json!({"to": "a@b.example", "subject": "über TLS", "body": "✓"}),
    );
    let m = &relay.wait_messages(1)[0];
    assert_eq!(
        (m["tls"].as_bool(), m["authenticated"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(m["subject"], "über TLS");
    wait_outbox(&d, &root, "sent", |o| o[0]["status"] == "sent");
}

#[test]
fn implicit_tls_checks_the_certificate_and_a_failed_mail_can_be_retried() {
    let port = free_port();
    let dir = temp_dir("tls");
    let c = certs(&dir);
    let relay = Relay::start(port, "tls", Some(&c), None);
    // Without ca_file the system's roots are used: they do not know the test CA.
    let smtp = json!({"host": "localhost", "security": "tls"});
    let mut d = Daemon::start(json!({"email": email(port, smtp.clone(), 1)}));
    let root = d.root();
    let id = send(
        &d,
        &root,
        json!({"to": "a@b.example", "subject": "s", "body": "b"}),
    );
    let o = wait_outbox(&d, &root, "failed", |o| o[0]["status"] == "failed");
    let error = o[0]["last_error"].as_str().unwrap().to_string();
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    assert_eq!(o[0]["attempts"], 1);
    assert!(relay.messages().is_empty());
    let h = health(&d);
    assert!(
        h.as_str()
            .unwrap()
            .starts_with("last delivery attempt failed: "),
        "{h}"
    );
    let failures = d.get("/metrics", &root).text;
    assert!(
        failures.contains("pistack_email_delivery_failures_total 1"),
        "{failures}"
    );

    // The same state dir, now trusting the relay's CA: the retry goes through.
    d.stop();
    let mut smtp = smtp;
    smtp["ca_file"] = json!(c.ca);
    let state = d.dir.clone();
    let d2 = Daemon::start_in(state, json!({"email": email(port, smtp, 1)}), &[]);
    let root = d2.root();
    let r = d2.post(&format!("/api/email/outbox/{id}/retry"), &root, json!({}));
    assert_eq!(
        (r.status, &r.body),
        (202, &json!({"id": id, "status": "queued"}))
    );
    let m = &relay.wait_messages(1)[0];
    assert_eq!(m["tls"], true);
    let o = wait_outbox(&d2, &root, "sent", |o| o[0]["status"] == "sent");
    assert_eq!(o[0]["attempts"], 1, "a retry starts a fresh count");
    assert_eq!(health(&d2), "ok");
    std::mem::forget(d); // its folder is d2's now; d2 removes it
}

#[test]
fn an_outage_a_restart_and_a_kill_lose_nothing() {
    let port = free_port();
    let dir = temp_dir("outage");
    // The port and the sender come from the environment, as in the original's .env.
    let extra = json!({"email": email(1, json!({}), 1000)});
    let port_s = port.to_string();
    let env = [
        ("SMTP_PORT", port_s.as_str()),
        ("SMTP_FROM", "env@test.example"),
    ];
    let mut d = Daemon::start_in(dir.clone(), extra.clone(), &env);
    let root = d.root();
    let mut ids: Vec<String> = (0..3)
        .map(|i| {
            send(
                &d,
                &root,
                json!({"to": "a@b.example", "subject": format!("m{i}"), "body": "b"}),
            )
        })
        .collect();
    let o = wait_outbox(&d, &root, "tried", |o| {
        o.iter().any(|e| e["attempts"].as_u64() >= Some(1))
    });
    assert!(o.iter().all(|e| e["status"] == "queued"), "{o:?}");
    let error = o.iter().find_map(|e| e["last_error"].as_str()).unwrap();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(health(&d)
        .as_str()
        .unwrap()
        .starts_with("last delivery attempt failed"));
    assert_eq!(d.stop(), Some(0));

    let mut d = Daemon::start_in(dir.clone(), extra.clone(), &env);
    let root = d.root();
    assert_eq!(outbox(&d, &root).len(), 3, "all three survived a restart");
    ids.extend((3..5).map(|i| {
        send(
            &d,
            &root,
            json!({"to": "a@b.example", "subject": format!("m{i}"), "body": "b"}),
        )
    }));
    d.kill();

    let d = Daemon::start_in(dir, extra, &env);
    let root = d.root();
    let o = outbox(&d, &root);
    let listed: Vec<&str> = o.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids, "all five survived kill -9, oldest first");
    assert!(o.iter().all(|e| e["status"] == "queued"));

    let relay = Relay::start(port, "plain", None, None);
    let got = relay.wait_messages(5);
    let mut subjects: Vec<&str> = got.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    subjects.sort();
    assert_eq!(subjects, ["m0", "m1", "m2", "m3", "m4"]);
    assert!(got.iter().all(|m| m["mail_from"] == "env@test.example"));
    wait_outbox(&d, &root, "all sent", |o| {
        o.iter().all(|e| e["status"] == "sent")
    });
    assert_eq!(health(&d), "ok");
}

#[test]
fn a_hung_relay_times_out_is_retried_and_the_api_answers() {
    let port = free_port();
    let relay = Relay::start(port, "hang", None, None);
    let mut d = Daemon::start(json!({"email": email(port, json!({"timeout_s": 1}), 1000)}));
    let root = d.root();
    send(
        &d,
        &root,
        json!({"to": "a@b.example", "subject": "s", "body": "b"}),
    );
    // While the mail thread waits on the relay, the API answers at once.
    eventually(10, || (relay.connections() >= 1).then_some(())).expect("the mail thread connected");
    let t = Instant::now();
    assert_eq!(outbox(&d, &root)[0]["status"], "queued");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let o = wait_outbox(&d, &root, "retried", |o| {
        o[0]["attempts"].as_u64() >= Some(2)
    });
    let error = o[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
    assert_eq!(o[0]["status"], "queued", "still waiting, not lost");
    assert!(relay.connections() >= 2, "each attempt a new connection");
    let t = Instant::now();
    assert_eq!(d.stop(), Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "SIGTERM took {:?}",
        t.elapsed()
    );
}

#[test]
fn a_full_spool_answers_503_and_says_so() {
    let port = free_port();
    let mut config = email(port, json!({}), 1000);
    config["spool"] = json!({"max_messages": 2});
    let d = Daemon::start(json!({"email": config}));
    let root = d.root();
    let m = json!({"to": "a@b.example", "subject": "s", "body": "b"});
    send(&d, &root, m.clone());
    send(&d, &root, m.clone());
    let r = d.post("/api/email/send", &root, m);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.message().starts_with("the outbox is full"), "{}", r.text);
    assert!(
        r.message().contains("email.spool.max_messages"),
        "{}",
        r.text
    );
    assert_eq!(outbox(&d, &root).len(), 2);
}
