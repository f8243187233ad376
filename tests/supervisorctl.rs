//! The supervisord ecosystem against pistack: the real supervisorctl 4.2.5 (from
//! PyPI, in target/venv: `make deps`) over the control socket and over HTTP with
//! `-u/-p`; Python's xmlrpc.client on every method (tests/xmlrpc/exercise.py);
//! hostile XML-RPC bodies, which get a fault or a 4xx and never take the daemon down.

mod common;
use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn venv(tool: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/venv/bin")
        .join(tool);
    assert!(
        p.exists(),
        "{} is missing: run `make deps` (tests/requirements.txt)",
        p.display()
    );
    p
}

fn daemon() -> (Daemon, PathBuf) {
    let dir = temp_dir("sctl");
    let socket = dir.join("control.sock");
    let extra = json!({
        "control": {"socket": socket},
        "programs": {
            "web": {"command": ["sh", "-c", "while true; do echo web-out; echo web-err >&2; sleep 0.2; done"], "startsecs": 0},
            "a": {"command": ["sleep", "1000"], "group": "g", "startsecs": 0},
            "b": {"command": ["sleep", "1000"], "group": "g", "startsecs": 0, "autostart": false}
        }
    });
    (Daemon::start_in(dir, extra, &[]), socket)
}

/// supervisorctl with a conf of `serverurl`, and `auth` as `-u/-p`.
struct Ctl {
    conf: PathBuf,
    auth: Vec<String>,
}

impl Ctl {
    fn new(d: &Daemon, tag: &str, serverurl: &str, auth: Option<(&str, &str)>) -> Ctl {
        let conf = d.dir.join(format!("supervisorctl-{tag}.conf"));
        std::fs::write(&conf, format!("[supervisorctl]\nserverurl={serverurl}\n")).unwrap();
        let auth = auth
            .map(|(u, p)| vec!["-u".into(), u.into(), "-p".into(), p.into()])
            .unwrap_or_default();
        Ctl { conf, auth }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(venv("supervisorctl"));
        c.arg("-c").arg(&self.conf).args(&self.auth).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let o = self.cmd(args).output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.code().unwrap_or(-1), text)
    }

    /// `tail -f NAME` until it prints `want`; every line it printed.
    fn tail_f(&self, name: &str, want: &str) -> Vec<String> {
        let mut child = self
            .cmd(&["tail", "-f", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for pipe in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
        }
        let mut seen = Vec::new();
        eventually(15, || {
            while let Ok(l) = rx.try_recv() {
                seen.push(l);
            }
            seen.iter().any(|l| l.contains(want)).then_some(())
        });
        let _ = child.kill();
        let _ = child.wait();
        seen
    }
}

fn pid_of(d: &Daemon, name: &str) -> u64 {
    let root = d.root();
    d.get(&format!("/api/supervisor/processes/{name}"), &root)
        .body["pid"]
        .as_u64()
        .unwrap_or(0)
}

/// The commands that work unchanged, their output checked.
fn commands_work(d: &Daemon, ctl: &Ctl) {
    eventually(10, || {
        (pid_of(d, "web") > 0 && pid_of(d, "a") > 0).then_some(())
    })
    .expect("running");
    let (code, out) = ctl.run(&["status"]);
    assert_eq!(
        code, 3,
        "g:b is stopped, supervisorctl's NOT_RUNNING: {out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "{:<33}{:<10}pid {}, uptime 0:",
            "g:a",
            "RUNNING",
            pid_of(d, "a")
        )),
        "{out}"
    );
    assert_eq!(
        lines[1],
        format!("{:<33}{:<10}Not started", "g:b", "STOPPED")
    );
    assert!(
        lines[2].starts_with(&format!("{:<33}{:<10}pid ", "web", "RUNNING")),
        "{out}"
    );
    assert_eq!(ctl.run(&["status", "web"]).0, 0);
    assert_eq!(
        ctl.run(&["status", "nope"]),
        (4, "nope: ERROR (no such process)\n".into())
    );

    assert_eq!(ctl.run(&["start", "g:*"]), (0, "g:b: started\n".into()));
    // supervisorctl 4.2.5 itself exits 0 on ALREADY_STARTED and NOT_RUNNING.
    assert_eq!(
        ctl.run(&["start", "web"]),
        (0, "web: ERROR (already started)\n".into())
    );
    assert_eq!(ctl.run(&["stop", "web"]), (0, "web: stopped\n".into()));
    // A stopped program shows when it stopped, the same in both tools.
    let (_, theirs) = ctl.run(&["status", "web"]);
    let ours = Command::new(bin())
        .args([
            "--config",
            &d.config_path.display().to_string(),
            "ctl",
            "status",
            "web",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ours.stdout), theirs);
    assert!(theirs.contains(" PM") || theirs.contains(" AM"), "{theirs}");
    assert_eq!(
        ctl.run(&["stop", "web"]),
        (0, "web: ERROR (not running)\n".into())
    );
    assert_eq!(ctl.run(&["start", "web"]), (0, "web: started\n".into()));
    let before = pid_of(d, "web");
    assert_eq!(
        ctl.run(&["restart", "web"]),
        (0, "web: stopped\nweb: started\n".into())
    );
    assert_ne!(pid_of(d, "web"), before);
    let (code, out) = ctl.run(&["stop", "g:*"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["g:b: stopped", "g:a: stopped"]
    );
    assert_eq!(ctl.run(&["start", "g:*"]).0, 0);

    let before = pid_of(d, "a");
    assert_eq!(
        ctl.run(&["signal", "HUP", "g:a"]),
        (0, "g:a: signalled\n".into())
    );
    eventually(10, || {
        (pid_of(d, "a") != before && pid_of(d, "a") > 0).then_some(())
    })
    .expect("a restarted");

    eventually(10, || {
        ctl.run(&["tail", "web"])
            .1
            .contains("web-out")
            .then_some(())
    })
    .expect("tail");
    let (code, out) = ctl.run(&["tail", "web", "stderr"]);
    assert!(
        code == 0 && out.contains("web-err") && !out.contains("web-out"),
        "{out}"
    );

    assert_eq!(ctl.run(&["pid"]), (0, format!("{}\n", d.pid())));
    assert_eq!(
        ctl.run(&["pid", "web"]),
        (0, format!("{}\n", pid_of(d, "web")))
    );
    let (code, out) = ctl.run(&["version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("4.2.5 (pistack "), "{out}");
}

#[test]
fn supervisorctl_over_the_unix_socket() {
    let (d, socket) = daemon();
    let ctl = Ctl::new(&d, "unix", &format!("unix://{}", socket.display()), None);
    commands_work(&d, &ctl);
    let seen = ctl.tail_f("web", "web-out");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("==> Press Ctrl-C to exit <=="),
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l == "web-out"), "{seen:?}");
}

#[test]
fn supervisorctl_over_http_with_basic_auth() {
    let (d, _socket) = daemon();
    let url = d.base.clone();
    let ctl = Ctl::new(&d, "http", &url, Some(("root", ROOT_PASSWORD)));
    commands_work(&d, &ctl);
    // tail -f asks for /logtail on the HTTP port, which only the socket serves.
    let seen = ctl.tail_f("web", "status code 404");
    assert!(!seen.iter().any(|l| l == "web-out"), "{seen:?}");

    let (code, out) = Ctl::new(&d, "nopw", &url, None).run(&["status"]);
    assert_eq!(code, 1);
    assert!(out.contains("Server requires authentication"), "{out}");
    let (code, out) = Ctl::new(&d, "bad", &url, Some(("root", "wrong"))).run(&["status"]);
    assert!(
        code != 0 && out.contains("Server requires authentication"),
        "{out}"
    );

    let root = d.root();
    d.user(&root, "viewer", "User");
    let viewer = Ctl::new(
        &d,
        "viewer",
        &url,
        Some(("viewer", "password-of-test-user")),
    );
    assert_eq!(viewer.run(&["status"]).0, 0, "a User may read");
    let (code, out) = viewer.run(&["tail", "web"]);
    assert!(code != 0 && out.contains("403"), "logs are Admin+: {out}");
    let (code, out) = viewer.run(&["stop", "web"]);
    assert!(
        code != 0 && out.contains("403"),
        "a User may not act: {out}"
    );
    assert!(pid_of(&d, "web") > 0, "web still runs");
}

#[test]
fn supervisorctl_avail_reread_update() {
    let (d, socket) = daemon();
    let ctl = Ctl::new(&d, "unix", &format!("unix://{}", socket.display()), None);
    eventually(10, || (pid_of(&d, "a") > 0).then_some(())).expect("a runs");
    let (code, out) = ctl.run(&["avail"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().nth(1),
        Some(format!("{:<32} {:<9} {:<9} 999:999", "g:b", "in use", "manual").as_str()),
        "{out}"
    );
    assert_eq!(
        ctl.run(&["reread"]),
        (0, "No config updates to processes\n".into())
    );

    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&d.config_path).unwrap()).unwrap();
    let p = c["programs"].as_object_mut().unwrap();
    p.remove("web");
    p.insert(
        "fresh".into(),
        json!({"command": ["sleep", "3000"], "startsecs": 0}),
    );
    std::fs::write(&d.config_path, serde_json::to_vec(&c).unwrap()).unwrap();
    let kept = pid_of(&d, "a");
    assert_eq!(
        ctl.run(&["reread"]),
        (0, "fresh: available\nweb: disappeared\n".into())
    );
    let (code, out) = ctl.run(&["update"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "web: stopped\nweb: removed process group\nfresh: added process group\n"
    );
    let (_, status) = ctl.run(&["status"]);
    assert!(
        status.contains("fresh ") && !status.contains("web "),
        "{status}"
    );
    assert_eq!(
        pid_of(&d, "a"),
        kept,
        "group g did not change: its process is kept"
    );

    assert_eq!(
        ctl.run(&["remove", "fresh"]).1,
        "ERROR: process/group still running: fresh\n"
    );
    assert_eq!(ctl.run(&["stop", "fresh"]).1, "fresh: stopped\n");
    assert_eq!(
        ctl.run(&["remove", "fresh"]),
        (0, "fresh: removed process group\n".into())
    );
    assert_eq!(
        ctl.run(&["add", "fresh"]),
        (0, "fresh: added process group\n".into())
    );
    assert_eq!(
        ctl.run(&["add", "fresh"]).1,
        "ERROR: process group already active\n"
    );
    std::fs::write(&d.config_path, b"{ broken").unwrap();
    let (code, out) = ctl.run(&["reread"]);
    assert!(code == 1 && out.contains("CANT_REREAD"), "{out}");
}

#[test]
fn python_xmlrpc_client_on_every_method() {
    let (d, _socket) = daemon();
    let url = format!(
        "http://root:{ROOT_PASSWORD}@{}/RPC2",
        d.base.trim_start_matches("http://")
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xmlrpc/exercise.py");
    let o = Command::new(venv("python"))
        .arg(script)
        .arg(url)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(out.starts_with("ok: ") && out.contains(" checks"), "{out}");
}

/// POST `body` to /RPC2 over the control socket; status and body.
fn over_socket(socket: &Path, body: &[u8]) -> (u16, String) {
    let mut s = UnixStream::connect(socket).unwrap();
    let head = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn call(method: &str, params: &str) -> String {
    format!("<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>")
}

/// The fault code in an answer, if it is a fault.
fn fault_code(answer: &str) -> Option<i64> {
    let i = answer.find("<name>faultCode</name><value><int>")?;
    let rest = &answer[i + "<name>faultCode</name><value><int>".len()..];
    rest.split('<').next()?.parse().ok()
}

#[test]
fn hostile_bodies_get_faults_or_4xx_and_the_daemon_keeps_answering() {
    let (d, socket) = daemon();
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]><methodCall><methodName>&lol2;</methodName></methodCall>";
    let deep = call(
        "supervisor.getPID",
        &format!(
            "<param>{}{}</param>",
            "<value><array><data>".repeat(100),
            "</data></array></value>".repeat(100)
        ),
    );
    let cases: Vec<(&str, String, i64)> = vec![
        ("wrong type", call("supervisor.getProcessInfo", "<param><value><int>42</int></value></param>"), 2),
        ("too many params", call("supervisor.getPID", "<param><value>x</value></param>"), 2),
        ("unknown method", call("supervisor.shutdown", ""), 1),
        ("traversal", call("supervisor.x.y", ""), 1),
        ("bad int", call("supervisor.readLog", "<param><value><int>1e9999</int></value></param>"), 2),
        ("deep nesting", deep, 2),
        ("entity bomb", bomb.to_string(), 2),
        ("external entity", "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>&e;</methodName></methodCall>".into(), 2),
        ("undeclared entity", call("&lol;", ""), 2),
        ("not XML", "\u{0}\u{1}garbage<<<".into(), 2),
        ("empty", String::new(), 2),
    ];
    let root_basic = format!(
        "Basic {}",
        base64_encode(format!("root:{ROOT_PASSWORD}").as_bytes())
    );
    for (what, body, code) in &cases {
        let (status, answer) = over_socket(&socket, body.as_bytes());
        assert_eq!(
            (status, fault_code(&answer)),
            (200, Some(*code)),
            "socket, {what}: {answer}"
        );
        let r = ureq::post(&d.url("/RPC2"))
            .set("Authorization", &root_basic)
            .send_bytes(body.as_bytes());
        let text = match r {
            Ok(r) => r.into_string().unwrap(),
            Err(ureq::Error::Status(s, r)) => {
                panic!("HTTP, {what}: {s} {}", r.into_string().unwrap())
            }
            Err(e) => panic!("HTTP, {what}: {e}"),
        };
        assert_eq!(fault_code(&text), Some(*code), "HTTP, {what}: {text}");
    }
    let big = vec![b'a'; 10 * 1024 * 1024];
    let (status, _) = over_socket(&socket, &big);
    assert_eq!(status, 413, "10 MB over the socket");
    match ureq::post(&d.url("/RPC2"))
        .set("Authorization", &root_basic)
        .send_bytes(&big)
    {
        Err(ureq::Error::Status(413, _)) => {}
        // The daemon may close before the client has sent it all.
        Err(ureq::Error::Transport(_)) => {}
        other => panic!("10 MB over HTTP: {:?}", other.map(|r| r.status())),
    }
    let health = d.call("GET", "/api/health", None, None);
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let (status, answer) = over_socket(&socket, call("supervisor.getState", "").as_bytes());
    assert!(status == 200 && answer.contains("RUNNING"), "{answer}");
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
