//! Test harness: the real `pistack` binary on a free loopback port, with its own
//! state dir, driven over real HTTP. Dropping a [`Daemon`] kills it (SIGKILL) and
//! removes its folder.
#![allow(dead_code)]

pub mod https;
pub mod matrix;
pub mod smtp;
pub mod vm;
pub mod writes;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ROOT_PASSWORD: &str = "root-password-for-tests";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pistack")
}

/// A fresh, empty folder under the target dir (kept on failure for a look).
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pistack-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub base: String,
    pub stderr: mpsc::Receiver<String>,
    /// What the daemon logged before it listened.
    pub early_log: Vec<String>,
    agent: ureq::Agent,
}

/// A config with test defaults (loopback port 0, fast unbounded PBKDF2, the repo's www/),
/// `extra` merged over it key by key at the top level and inside `http`/`auth`.
pub fn config(dir: &Path, extra: Value) -> Value {
    let mut c = json!({
        "state_dir": dir.join("state"),
        "http": {"bind": "127.0.0.1:0", "www_dir": concat!(env!("CARGO_MANIFEST_DIR"), "/www")},
        // Fast password checks, and no per-second bound on them (a test's own
        // config sets one where it is the subject).
        "auth": {"pbkdf2_iterations": 1000, "password_checks_per_s": 1000},
        "gpio": {"backend": "sim"}
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            match (c.get_mut(&k), v) {
                (Some(Value::Object(base)), Value::Object(over)) if k == "http" || k == "auth" => {
                    base.extend(over);
                }
                (_, v) => {
                    c[&k] = v;
                }
            }
        }
    }
    c
}

impl Daemon {
    /// Start with `config(dir, extra)` and wait until it listens.
    pub fn start(extra: Value) -> Daemon {
        let dir = temp_dir("d");
        Daemon::start_in(dir, extra, &[])
    }

    /// Start in an existing folder (state kept from an earlier run), with extra env.
    pub fn start_in(dir: PathBuf, extra: Value, env: &[(&str, &str)]) -> Daemon {
        let config_path = dir.join("pistack.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config(&dir, extra)).unwrap(),
        )
        .unwrap();
        Daemon::start_with_file(dir, config_path, env)
    }

    pub fn start_with_file(dir: PathBuf, config_path: PathBuf, env: &[(&str, &str)]) -> Daemon {
        Daemon::launch(dir, config_path, env, None)
    }

    /// Start with `config(dir, extra)` under `ulimit -v kib` (the address space
    /// of a small board: 524288 for a Pi Zero's 512 MiB).
    pub fn start_with_memory_limit(extra: Value, kib: u64) -> Daemon {
        let dir = temp_dir("d");
        let config_path = dir.join("pistack.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config(&dir, extra)).unwrap(),
        )
        .unwrap();
        Daemon::launch(dir, config_path, &[], Some(kib))
    }

    fn launch(
        dir: PathBuf,
        config_path: PathBuf,
        env: &[(&str, &str)],
        memory_kib: Option<u64>,
    ) -> Daemon {
        let mut cmd = match memory_kib {
            None => Command::new(bin()),
            Some(kib) => {
                // exec: the shell becomes pistack, so pid() and kill() are the daemon's.
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                    .arg(bin());
                c
            }
        };
        cmd.arg("--config")
            .arg(&config_path)
            .arg("serve")
            .env("PISTACK_ROOT_PASSWORD", ROOT_PASSWORD)
            .env_remove("AUTH_SECRET")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            // The control socket goes to the state dir, one per test daemon.
            .env_remove("RUNTIME_DIRECTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start pistack");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("PISTACK_TEST_VERBOSE").is_some() {
                    eprintln!("daemon: {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find("listening on http") {
                        // http://ADDR, or https://ADDR with http.tls.
                        let url = line[i + "listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap();
                        break url.to_string();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    panic!(
                        "daemon did not start (exit {status:?}); it said:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        Daemon {
            child: Some(child),
            dir,
            config_path,
            base,
            stderr: rx,
            early_log: seen,
            agent,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Any request; returns status, headers of interest and the body as JSON
    /// (or as a JSON string when it is not JSON).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.agent.request(method, &self.url(path));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        Resp::from(resp)
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(&body))
    }

    /// POST a login body as is; the answer whatever it is.
    pub fn try_login(&self, body: Value) -> Resp {
        self.call("POST", "/api/auth/session/login", None, Some(&body))
    }

    /// POST a refresh token to /refresh; the answer whatever it is.
    pub fn refresh(&self, refresh_token: &str) -> Resp {
        self.call(
            "POST",
            "/api/auth/session/refresh",
            None,
            Some(&serde_json::json!({ "refresh_token": refresh_token })),
        )
    }

    pub fn login(&self, name: &str, password: &str) -> Value {
        let r = self.call(
            "POST",
            "/api/auth/session/login",
            None,
            Some(&json!({"name": name, "password": password})),
        );
        assert_eq!(r.status, 200, "login {name}: {}", r.body);
        r.body
    }

    /// An access token for root.
    pub fn root(&self) -> String {
        self.login("root", ROOT_PASSWORD)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Create a user with `level` and return an access token for it.
    pub fn user(&self, root: &str, name: &str, level: &str) -> String {
        let r = self.post(
            "/api/auth/users",
            root,
            json!({"name": name, "password": "password-of-test-user", "level": level}),
        );
        assert_eq!(r.status, 201, "create {name}: {}", r.body);
        self.login(name, "password-of-test-user")["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// SIGTERM and wait; returns the exit code (None if killed by a signal).
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("daemon did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap, keeping the folder (for restart tests).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Wait until `pred` holds for the lines the daemon logged (up to `secs`).
    pub fn wait_log(&self, secs: u64, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Ok(line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if pred(&line) {
                return Some(line);
            }
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    fn from(r: ureq::Response) -> Resp {
        let status = r.status();
        let headers = r
            .headers_names()
            .into_iter()
            .map(|n| {
                let v = r.header(&n).unwrap_or("").to_string();
                (n.to_ascii_lowercase(), v)
            })
            .collect();
        let text = r.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Resp {
            status,
            body,
            text,
            headers,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error message of a JSON error body.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// A daemon with one of each: a pin of each direction, a running program and a
/// stopped one (the level matrix, metrics and health tests use it).
pub fn sample_config() -> Value {
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

/// `pistack --config PATH check-config`: its exit code and what it printed
/// (stderr, then stdout).
pub fn check_config(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .arg("--config")
        .arg(path)
        .arg("check-config")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code(), text)
}

/// Wait until `f` returns Some, polling every 50 ms, up to `secs`.
pub fn eventually<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
