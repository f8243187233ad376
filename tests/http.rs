//! The HTTP core over real sockets: routing errors, the level matrix, static files
//! and path escapes, limits, idle connections, crash safety and the command line.
mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Send raw bytes, return the whole answer (the server closes or we time out).
fn raw(d: &Daemon, request: &str) -> String {
    let addr = d.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn raw_get(d: &Daemon, path: &str) -> String {
    raw(
        d,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn unknown_paths_and_methods_are_json() {
    let d = Daemon::start(json!({}));
    let r = d.call("GET", "/api/nope", None, None);
    assert_eq!(r.status, 404);
    assert!(r.message().contains("/api/nope"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let r = d.call("DELETE", "/api/auth/session/login", None, None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = d.call("PUT", "/api/auth/users/x", None, None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, PATCH, DELETE"));
    assert_eq!(d.call("POST", "/index.html", None, None).status, 405);
}

/// (method, path, body, expected status for Root, Admin, User, no token).
/// `{root}` in a path is root's id, `{victim}` a fresh user's id.
#[rustfmt::skip]
fn matrix() -> Vec<(&'static str, &'static str, Value, [u16; 4])> {
    vec![
        ("GET", "/api/health", json!(null), [200, 200, 200, 200]),
        ("GET", "/api/openapi.json", json!(null), [200, 200, 200, 200]),
        ("POST", "/api/auth/session/login", json!({"name":"root","password":ROOT_PASSWORD}), [200, 200, 200, 200]),
        ("POST", "/api/auth/session/refresh", json!({}), [400, 400, 400, 400]),
        ("POST", "/api/auth/session/validate", json!(null), [200, 200, 200, 401]),
        // The caller's Bearer token names the session to end; without one, 400.
        ("POST", "/api/auth/session/logout", json!({}), [200, 200, 200, 400]),
        ("POST", "/api/auth/session/logout-all", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/auth/session/me", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/auth/users", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/auth/users", json!({"name":"n{n}","password":"long-enough","level":"User"}), [201, 201, 403, 401]),
        ("GET", "/api/auth/users/{root}", json!(null), [200, 200, 403, 401]),
        ("PATCH", "/api/auth/users/{root}", json!({"name":"root"}), [200, 403, 403, 401]),
        ("PATCH", "/api/auth/users/{victim}", json!({"password":"new-password"}), [200, 200, 403, 401]),
        ("DELETE", "/api/auth/users/{victim}", json!(null), [204, 403, 403, 401]),
        ("GET", "/metrics", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/gpio", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/gpio/events", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/chips", json!(null), [200, 200, 403, 401]),
        ("PUT", "/api/io/sim/gpio/BUTTON", json!({"level":1}), [200, 200, 403, 401]),
        ("GET", "/api/io/gpio/LED", json!(null), [200, 200, 200, 401]),
        ("PUT", "/api/io/gpio/LED", json!({"value":1}), [200, 200, 403, 401]),
        ("POST", "/api/io/gpio/LED/toggle", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/io/gpio/LED/pulse", json!({"ms":1}), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/processes", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/supervisor/processes/sleeper", json!(null), [200, 200, 200, 401]),
        // Past the level check, a running program cannot be started again, nor a stopped one stopped.
        ("POST", "/api/supervisor/processes/sleeper/start", json!(null), [409, 409, 403, 401]),
        ("POST", "/api/supervisor/processes/idle/stop", json!(null), [409, 409, 403, 401]),
        ("POST", "/api/supervisor/processes/sleeper/restart", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/supervisor/processes/sleeper/signal", json!({"signal":"CONT"}), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/processes/sleeper/log", json!(null), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/events", json!(null), [200, 200, 200, 401]),
    ]
}

/// The config of the matrix's daemon: one pin of each direction, a running
/// program and a stopped one.
fn matrix_config() -> Value {
    json!({
        "gpio": {"backend": "sim", "pins": {
            "LED": {"chip": "gpiochip0", "line": 17, "direction": "out"},
            "BUTTON": {"chip": "gpiochip0", "line": 27, "direction": "in", "edge": "both"}
        }},
        "programs": {
            "sleeper": {"command": ["sleep", "1000"], "startsecs": 0},
            "idle": {"command": ["sleep", "1000"], "autostart": false}
        }
    })
}

/// A matrix path as the route table writes it.
fn pattern_of(path: &str) -> String {
    path.replace("{root}", "{id}")
        .replace("{victim}", "{id}")
        .replace("/LED", "/{name}")
        .replace("/BUTTON", "/{name}")
        .replace("/sleeper", "/{name}")
        .replace("/idle", "/{name}")
}

/// Routes every service has, checked apart from the matrix above.
fn service_routes() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for s in ["auth", "supervisor", "io", "info", "email"] {
        v.push(("GET".to_string(), format!("/api/{s}/health")));
        v.push(("GET".to_string(), format!("/api/{s}/apispec.json")));
    }
    v
}

#[test]
fn level_matrix_of_every_endpoint() {
    let d = Daemon::start(matrix_config());
    let root = d.root();
    let root_id = d.get("/api/auth/session/me", &root).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.user(&root, "an-admin", "Admin");
    d.user(&root, "a-user", "User");
    let mut n = 0;
    for (method, path, body, expected) in matrix() {
        for (role, want) in ["Root", "Admin", "User", "none"].iter().zip(expected) {
            n += 1;
            // Fresh tokens and a fresh victim each time: earlier calls may end sessions.
            let token = match *role {
                "Root" => Some(d.root()),
                "Admin" => Some(
                    d.login("an-admin", "password-of-test-user")["access_token"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ),
                "User" => Some(
                    d.login("a-user", "password-of-test-user")["access_token"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ),
                _ => None,
            };
            let victim = d.post(
                "/api/auth/users",
                &d.root(),
                json!({"name": format!("v{n}"), "password": "long-enough"}),
            );
            let path = path
                .replace("{root}", &root_id)
                .replace("{victim}", victim.body["id"].as_str().unwrap());
            let body =
                serde_json::from_str::<Value>(&body.to_string().replace("{n}", &n.to_string()))
                    .unwrap();
            let body = (!body.is_null()).then_some(body);
            let r = d.call(method, &path, token.as_deref(), body.as_ref());
            assert_eq!(r.status, want, "{method} {path} as {role}: {}", r.text);
            if r.status >= 400 {
                assert!(
                    !r.message().is_empty(),
                    "{method} {path}: error without message"
                );
            }
        }
    }
}

#[test]
fn openapi_lists_exactly_the_routed_endpoints() {
    let d = Daemon::start(matrix_config());
    let doc = d.call("GET", "/api/openapi.json", None, None).body;
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let mut known: Vec<(String, String)> = matrix()
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), pattern_of(p)))
        .collect();
    known.extend(service_routes());
    known.sort();
    known.dedup();
    documented.sort();
    // Every documented endpoint is routed (answers something other than "no such endpoint")...
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "x").replace("{name}", "x");
        let r = d.call(method, &concrete, None, Some(&json!({})));
        assert!(
            !(r.status == 404 && r.message().starts_with("no such endpoint")) && r.status != 405,
            "{method} {path} is documented but not routed"
        );
    }
    // ...and every endpoint of the contract is documented and in the matrix.
    for k in &known {
        assert!(documented.contains(k), "{k:?} missing from openapi.json");
    }
    for k in &documented {
        assert!(
            known.contains(k),
            "{k:?} is routed but has no row in the level matrix"
        );
    }
    let auth = d.call("GET", "/api/auth/apispec.json", None, None).body;
    assert!(auth["paths"]
        .as_object()
        .unwrap()
        .keys()
        .all(|p| p.starts_with("/api/auth/")));
    assert_eq!(
        d.call("GET", "/api/auth/health", None, None).body,
        json!({"status":"ok","service":"auth"})
    );
}

#[test]
fn static_files_headers_etag_gzip() {
    let d = Daemon::start(json!({}));
    let r = d.call("GET", "/", None, None);
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("<html") || r.text.contains("<!doctype"),
        "{}",
        r.text
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let etag = r.header("etag").unwrap().to_string();
    let again = ureq::get(&d.url("/"))
        .set("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(again.status(), 304);

    // A .gz sibling goes to clients that accept gzip.
    let dir = temp_dir("gz");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html>plain").unwrap();
    std::fs::write(www.join("app.js"), "let a = 1;").unwrap();
    let gz = std::process::Command::new("gzip")
        .args(["-k", "-f"])
        .arg(www.join("app.js"))
        .status()
        .unwrap();
    assert!(gz.success());
    drop(d);
    let d = Daemon::start_in(dir, json!({"http": {"www_dir": www}}), &[]);
    let plain = raw(
        &d,
        "GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(plain.contains("let a = 1;"), "{plain}");
    assert!(plain
        .to_ascii_lowercase()
        .contains("content-type: text/javascript"));
    let zipped = raw(
        &d,
        "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    let lower = zipped.to_ascii_lowercase();
    assert!(lower.contains("content-encoding: gzip"), "{zipped}");
    assert!(lower.contains("content-type: text/javascript"), "{zipped}");
    assert!(!zipped.contains("let a = 1;"));
    assert!(raw_get(&d, "/missing.css").starts_with("HTTP/1.1 404"));
}

#[test]
fn no_path_leaves_the_web_root() {
    let dir = temp_dir("escape");
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html>in").unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), www.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&dir, www.join("up")).unwrap();
    let d = Daemon::start_in(dir, json!({"http": {"www_dir": www}}), &[]);
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "/.%2e/secret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/up/pistack.json",
        "//etc/passwd",
        "/%00../secret.txt",
        "/sub/..;/..;/secret.txt",
    ] {
        let out = raw_get(&d, path);
        assert!(
            !out.contains("TOP-SECRET") && !out.contains("root:"),
            "{path} escaped:\n{out}"
        );
        assert!(
            out.starts_with("HTTP/1.1 404") || out.starts_with("HTTP/1.1 400"),
            "{path}: {out}"
        );
    }
    assert!(raw_get(&d, "/").contains("<!doctype html>in"));
}

/// Has the other end closed `s`? (reads what is left, e.g. a 408 answer, first)
fn closed_by_peer(mut s: &TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn idle_connections_do_not_block_and_are_reclaimed() {
    let d = Daemon::start(json!({"http": {"idle_timeout_s": 2}}));
    let addr = d.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for i in 0..500 {
        let mut s = TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            // Half send an unfinished request (slowloris), half send nothing.
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        }
        idle.push(s);
    }
    let started = std::time::Instant::now();
    d.login("root", ROOT_PASSWORD);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "login took {:?}",
        started.elapsed()
    );
    let threads = || {
        std::fs::read_dir(format!("/proc/{}/task", d.pid()))
            .unwrap()
            .count()
    };
    assert!(
        threads() > 250,
        "a thread per connection expected, saw {}",
        threads()
    );
    // After the idle timeout the server has closed them all and freed the threads.
    let closed = eventually(15, || {
        let n = idle.iter_mut().filter(|s| closed_by_peer(s)).count();
        (n == idle.len()).then_some(n)
    });
    assert_eq!(closed, Some(500));
    assert!(
        eventually(15, || (threads() < 50).then_some(())).is_some(),
        "threads left: {}",
        threads()
    );
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

#[test]
fn passwd_is_refused_while_the_daemon_runs_and_works_after() {
    let dir = temp_dir("passwd");
    let mut d = Daemon::start_in(dir.clone(), json!({}), &[]);
    let config_path = d.config_path.clone();
    let run = |input: &str| {
        let mut child = std::process::Command::new(bin())
            .args(["--config", config_path.to_str().unwrap(), "passwd", "root"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A refusal may come before stdin is read.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    };
    let out = run("a-new-root-password\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = d.root();
    assert_eq!(d.stop(), Some(0));
    let out = run("short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = run("a-new-root-password\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = Daemon::start_in(dir, json!({}), &[]);
    d.login("root", "a-new-root-password");
    assert_eq!(
        d.get("/api/auth/session/me", &token).status,
        401,
        "old sessions end"
    );
}

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
fn check_config_names_line_and_key() {
    let dir = temp_dir("check");
    let check = |text: &str| {
        let p = dir.join("c.json");
        std::fs::write(&p, text).unwrap();
        check_config(&p)
    };
    let (code, out) = check("{}");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = check("{\n  \"http\": {\n    \"bnid\": \"0.0.0.0:1\"\n  }\n}\n");
    assert_eq!(code, Some(1));
    assert!(out.contains("line 3") && out.contains("bnid"), "{out}");
    let (code, out) = check("{\n  \"http\": {\"workers\": 4,}\n}");
    assert_eq!(code, Some(1));
    assert!(out.contains("line 2"), "{out}");
    let (code, out) = check(
        r#"{"http": {"bind": "nowhere"}, "gpio": {"pins": {"LED": {"line": 1, "direction": "out", "initial": 7}}}}"#,
    );
    assert_eq!(code, Some(1));
    assert!(
        out.contains("http.bind") && out.contains("gpio.pins.LED.initial"),
        "{out}"
    );
    let (code, out) = check(r#"{"programs": {"x": {"command": []}}}"#);
    assert_eq!(code, Some(1));
    assert!(out.contains("programs.x.command"), "{out}");
    // The configs shipped in conf/ are valid.
    for f in ["dev.json", "pistack.json", "pistack-amd64.json"] {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conf")
            .join(f);
        let (code, out) = check_config(&p);
        assert_eq!(code, Some(0), "{f}: {out}");
    }
}

#[test]
fn sigterm_exits_zero_and_notifies_systemd() {
    use std::os::unix::net::UnixDatagram;
    let dir = temp_dir("notify");
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut d = Daemon::start_in(
        dir,
        json!({}),
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while seen
        .iter()
        .filter(|s: &&String| s.as_str() == "WATCHDOG=1")
        .count()
        < 2
    {
        let n = sock.recv(&mut buf).unwrap();
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(seen[0], "READY=1", "{seen:?}");
    assert_eq!(d.stop(), Some(0));
    let n = sock.recv(&mut buf).unwrap();
    let mut rest = vec![String::from_utf8_lossy(&buf[..n]).into_owned()];
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(rest.iter().any(|s| s == "STOPPING=1"), "{rest:?}");
}

#[test]
fn metrics_count_requests_and_can_be_public() {
    let mut config = matrix_config();
    config["metrics"] = json!({"public": true});
    let d = Daemon::start(config);
    d.call("GET", "/api/nope", None, None);
    let r = d.call("GET", "/metrics", None, None);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(
        r.text
            .contains("pistack_http_requests_total{status=\"4xx\"} 1"),
        "{}",
        r.text
    );
    assert!(r.text.contains("pistack_build_info{version="), "{}", r.text);
    assert!(
        r.text.contains("pistack_gpio_up{pin=\"LED\"} 1"),
        "{}",
        r.text
    );
    assert!(r.text.contains("pistack_gpio_events_total 0"), "{}", r.text);
    assert!(
        r.text
            .contains("pistack_process_state{name=\"idle\",state=\"STOPPED\"} 1"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("pistack_process_restarts_total{name=\"sleeper\"} 0"),
        "{}",
        r.text
    );
}

#[test]
fn health_says_what_is_built_and_what_is_not() {
    let d = Daemon::start(matrix_config());
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["status"], "ok", "{}", h.body);
    assert_eq!(h.body["version"], env!("CARGO_PKG_VERSION"));
    for s in ["auth", "supervisor", "io"] {
        assert_eq!(h.body["subsystems"][s], "ok", "{s}");
        let r = d.call("GET", &format!("/api/{s}/health"), None, None);
        assert_eq!((r.status, r.body["service"].as_str()), (200, Some(s)));
    }
    // Services of the original that this version does not have yet say so.
    for s in ["info", "email"] {
        assert_eq!(h.body["subsystems"][s], "not available in this version");
        let r = d.call("GET", &format!("/api/{s}/health"), None, None);
        assert_eq!(r.status, 503);
        assert_eq!(r.body["status"], "unavailable");
    }
    // A pin that cannot be had degrades the daemon, not just the pin.
    let mut config = matrix_config();
    config["gpio"]["pins"]["GHOST"] =
        json!({"chip": "no-such-chip", "line": 1, "direction": "out"});
    let d = Daemon::start(config);
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["status"], "degraded");
    assert!(
        h.body["subsystems"]["io"]
            .as_str()
            .unwrap()
            .contains("GHOST"),
        "{}",
        h.body
    );
    assert_eq!(d.call("GET", "/api/io/health", None, None).status, 503);
}

#[test]
fn logs_carry_journald_priorities_under_systemd() {
    let dir = temp_dir("journal");
    let d = Daemon::start_in(dir, json!({}), &[("JOURNAL_STREAM", "8:12345")]);
    d.call("GET", "/api/health", None, None);
    let line = d
        .wait_log(10, |l| l.contains("GET /api/health 200"))
        .unwrap();
    assert!(line.starts_with("<6>GET /api/health 200"), "{line}");
    d.call("GET", "/api/nope", None, None);
    let line = d.wait_log(10, |l| l.contains("/api/nope")).unwrap();
    assert!(line.starts_with("<6>"), "{line}");
}

#[test]
fn trickling_and_endless_heads_are_cut_off() {
    let d = Daemon::start(json!({"http": {"idle_timeout_s": 2}}));
    let addr = d.base.trim_start_matches("http://").to_string();
    // Slowloris: a header line every 300 ms keeps each read under the idle timeout,
    // but the head as a whole must arrive within it.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let started = std::time::Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(10) {
        if s.write_all(b"X-a: b\r\n").is_err() || closed_by_peer(&s) {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(cut, "a trickling client kept its connection for 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut only after {:?}",
        started.elapsed()
    );
    // An endless header line is refused, not buffered.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nX-Long: ").unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < 16 * 1024 * 1024 && s.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    assert!(
        sent < 16 * 1024 * 1024,
        "the server read 16 MiB of one header line"
    );
    assert_eq!(d.call("GET", "/api/health", None, None).status, 200);
}

/// Every documented endpoint, with every kind of wrong body and odd path
/// parameter, as Root: clear 4xx answers, never a 5xx, and the daemon lives.
#[test]
fn no_client_input_gets_a_server_error() {
    let d = Daemon::start(matrix_config());
    let root = d.root();
    let doc = d.call("GET", "/api/openapi.json", None, None).body;
    let bodies = [
        "{",
        "[]",
        "null",
        "\"x\"",
        "42",
        "{\"value\": 2}",
        "{\"value\": \"1\"}",
        "{\"ms\": -1}",
        "{\"ms\": 1e400}",
        "{\"name\": [], \"password\": {}}",
        "{\"signal\": \"NOPE\"}",
        "{\"level\": \"Root\", \"name\": \"\\u0000\"}",
        "{\"refresh_token\": \"a.b.c\"}",
        "\u{feff}{}",
    ];
    let params = [
        "x",
        "..",
        "%00",
        "%ff",
        "a%2Fb",
        "LED%20",
        "999999999999999999999",
    ];
    let mut tried = 0;
    for (pattern, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            // (health says 503 for services this version lacks: that is no client's doing)
            let skip = pattern.contains("/logout")
                || pattern.ends_with("/health")
                || (pattern.contains("/users/{id}") && method == "DELETE");
            if skip {
                continue; // logout and DELETE could end the session this test uses
            }
            for param in params {
                let path = pattern.replace("{id}", param).replace("{name}", param);
                for body in bodies {
                    let r = ureq::request(&method, &d.url(&path))
                        .set("Authorization", &format!("Bearer {root}"))
                        .set("Content-Type", "application/json")
                        .send_string(body);
                    let (status, text) = match r {
                        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
                        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
                        Err(e) => panic!("{method} {path}: {e}"),
                    };
                    tried += 1;
                    assert!(status < 500, "{method} {path} with {body}: {status} {text}");
                }
            }
        }
    }
    assert!(tried > 500, "{tried}");
    assert_eq!(
        d.call("GET", "/api/health", None, None).body["status"],
        "ok"
    );
}
