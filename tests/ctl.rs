//! `pistack ctl` against the real daemon over its control socket: as root, as a
//! member of group `pistack`, refused for anyone else; every subcommand, its
//! `--json`, its exit codes; `reload`; `--url` over HTTP with a token.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A daemon with a socket in `<dir>/run` (0755, so other users can reach it),
/// the sample pins and: `web` (writes a line a second to stdout and stderr),
/// `g:a` running, `g:b` stopped.
fn daemon(programs: Value) -> (Daemon, PathBuf) {
    let mut extra = sample_config();
    extra["programs"] = programs;
    daemon_with(extra)
}

/// A daemon with `extra` over the test defaults and its socket in `<dir>/run`.
fn daemon_with(mut extra: Value) -> (Daemon, PathBuf) {
    let dir = temp_dir("ctl");
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for d in [&dir, &run] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let socket = run.join("control.sock");
    extra["control"] = json!({ "socket": socket });
    (Daemon::start_in(dir, extra, &[]), socket)
}

fn programs() -> Value {
    json!({
        "web": {"command": ["sh", "-c", "while true; do echo web-out; echo web-err >&2; sleep 0.2; done"], "startsecs": 0},
        "a": {"command": ["sleep", "1000"], "group": "g", "startsecs": 0},
        "b": {"command": ["sleep", "1000"], "group": "g", "startsecs": 0, "autostart": false}
    })
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", self.stdout))
    }
}

/// `pistack ctl --socket SOCKET ARGS`, with `stdin`, run by `wrap` (e.g. setpriv).
fn run(wrap: &[&str], socket: &Path, args: &[&str], stdin: &str) -> Out {
    let mut argv: Vec<String> = wrap.iter().map(|s| s.to_string()).collect();
    argv.push(bin().into());
    argv.extend([
        "ctl".into(),
        "--socket".into(),
        socket.display().to_string(),
    ]);
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env_remove("PISTACK_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ctl(socket: &Path, args: &[&str]) -> Out {
    run(&[], socket, args, "")
}

/// Run a following command (`tail -f`, `events -f`) until a line has `want`;
/// `then` runs once it has printed its first line.
fn follow_until(socket: &Path, args: &[&str], want: &str, then: impl FnOnce()) {
    let mut child = Command::new(bin())
        .args(["ctl", "--socket", &socket.display().to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(15))
        .expect("a first line");
    then();
    let seen = if first.contains(want) {
        Some(first)
    } else {
        eventually(15, || rx.try_recv().ok().filter(|l| l.contains(want)))
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.is_some(), "{args:?} never printed {want:?}");
}

fn state(socket: &Path, name: &str) -> String {
    let list = ctl(socket, &["--json", "status", name]).json();
    list[0]["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn every_subcommand_as_root() {
    let (d, sock) = daemon(programs());
    eventually(10, || {
        (state(&sock, "web") == "RUNNING" && state(&sock, "g:a") == "RUNNING").then_some(())
    })
    .expect("web and g:a run");

    // status: supervisorctl's columns and exit codes.
    let s = ctl(&sock, &["status"]);
    assert_eq!(s.code, 3, "g:b is stopped: {}", s.stdout);
    let lines: Vec<&str> = s.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", s.stdout);
    assert!(
        lines[0].starts_with(&format!("{:<33}{:<10}pid ", "g:a", "RUNNING")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(", uptime 0:00:"), "{}", lines[0]);
    assert_eq!(
        lines[1],
        format!("{:<33}{:<10}Not started", "g:b", "STOPPED")
    );
    assert_eq!(ctl(&sock, &["status", "web"]).code, 0);
    let nope = ctl(&sock, &["status", "nope"]);
    assert_eq!(
        (nope.code, nope.stderr.trim()),
        (4, "nope: ERROR (no such process)")
    );
    let g = ctl(&sock, &["--json", "status", "g:*"]).json();
    assert_eq!(g.as_array().unwrap().len(), 2);
    assert_eq!(g[0]["name"], "a");

    // start, stop, restart: names, groups, all.
    let start = ctl(&sock, &["start", "g:*"]);
    assert_eq!((start.code, start.stdout.as_str()), (0, "g:b: started\n"));
    let again = ctl(&sock, &["start", "g:b"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (1, "g:b: ERROR (already started)\n")
    );
    let stop = ctl(&sock, &["--json", "stop", "g:b"]);
    assert_eq!(stop.code, 0);
    assert_eq!(stop.json()[0]["process"]["state"], "STOPPED");
    let not = ctl(&sock, &["stop", "g:b"]);
    assert_eq!(
        (not.code, not.stdout.as_str()),
        (1, "g:b: ERROR (not running)\n")
    );
    let pid = |name: &str| ctl(&sock, &["--json", "status", name]).json()[0]["pid"].as_u64();
    let before = pid("web");
    let restart = ctl(&sock, &["restart", "web"]);
    assert_eq!(
        (restart.code, restart.stdout.as_str()),
        (0, "web: stopped\nweb: started\n")
    );
    assert_ne!(pid("web"), before);
    let all = ctl(&sock, &["stop", "all"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(
        all.stdout.lines().count(),
        2,
        "only the running ones: {}",
        all.stdout
    );
    assert_eq!(ctl(&sock, &["start", "all"]).stdout.lines().count(), 3);
    assert_eq!(ctl(&sock, &["start", "nope"]).code, 1);

    // signal: HUP ends sleep, which is restarted.
    let before = pid("g:a");
    let sig = ctl(&sock, &["signal", "HUP", "a"]);
    assert_eq!((sig.code, sig.stdout.as_str()), (0, "a: signalled\n"));
    eventually(10, || {
        (pid("g:a").is_some() && pid("g:a") != before).then_some(())
    })
    .expect("a restarted");
    assert_eq!(ctl(&sock, &["signal", "NOPE", "a"]).code, 1);

    // tail, tail --stderr, tail -f; events, events -f.
    eventually(10, || {
        ctl(&sock, &["tail", "web"])
            .stdout
            .contains("web-out")
            .then_some(())
    })
    .expect("stdout");
    let err = ctl(&sock, &["tail", "--stderr", "web"]);
    assert!(
        err.stdout.contains("web-err") && !err.stdout.contains("web-out"),
        "{}",
        err.stdout
    );
    assert_eq!(
        ctl(&sock, &["--json", "tail", "web"]).json()["stream"],
        "stdout"
    );
    follow_until(&sock, &["tail", "-f", "web"], "web-out", || {});
    let ev = ctl(&sock, &["events"]);
    assert!(
        ev.stdout
            .lines()
            .any(|l| l.contains(" a RUNNING -> EXITED")),
        "{}",
        ev.stdout
    );
    let ev = ctl(&sock, &["--json", "events"]);
    let first: Value = serde_json::from_str(ev.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], 1);
    let last = ev
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap();
    let next = format!(
        "#{} b RUNNING -> STOPPING",
        last["seq"].as_u64().unwrap() + 1
    );
    let restart_b = || assert_eq!(ctl(&sock, &["restart", "g:b"]).code, 0);
    follow_until(&sock, &["events", "-f"], &next, restart_b);

    // gpio.
    let pins = ctl(&sock, &["--json", "gpio"]).json();
    assert_eq!(pins.as_array().unwrap().len(), 2);
    let set = ctl(&sock, &["gpio", "LED", "1"]);
    assert_eq!(set.code, 0);
    assert!(
        set.stdout.starts_with("LED") && set.stdout.contains(" 1 "),
        "{}",
        set.stdout
    );
    assert_eq!(
        ctl(&sock, &["--json", "gpio", "LED", "toggle"]).json()["value"],
        0
    );
    assert_eq!(
        ctl(&sock, &["--json", "gpio", "LED", "pulse", "20"]).code,
        0
    );
    assert_eq!(ctl(&sock, &["--json", "gpio", "LED"]).json()["value"], 0);
    assert_eq!(ctl(&sock, &["gpio", "BUTTON", "1"]).code, 1, "an input pin");

    // health, users, passwd.
    let h = ctl(&sock, &["health"]);
    assert_eq!((h.code, h.stdout.lines().next()), (0, Some("ok")));
    assert_eq!(ctl(&sock, &["--json", "health"]).json()["status"], "ok");
    let users = ctl(&sock, &["--json", "users"]).json();
    assert_eq!(users[0]["name"], "root");
    assert!(ctl(&sock, &["users"]).stdout.starts_with("root "));
    let pw = run(&[], &sock, &["passwd", "root"], "a-new-root-password\n");
    assert_eq!(pw.code, 0, "{}", pw.stderr);
    assert_eq!(
        d.try_login(json!({"name": "root", "password": "a-new-root-password"}))
            .status,
        200
    );
    assert_eq!(
        run(&[], &sock, &["passwd", "nobody-here"], "x-password-1\n").code,
        1
    );
    assert_eq!(run(&[], &sock, &["passwd", "root"], "").code, 2);

    // reload with nothing changed.
    let r = ctl(&sock, &["reload"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no changes\n"));

    // usage, help, unreachable.
    assert_eq!(ctl(&sock, &["frob"]).code, 2);
    assert_eq!(ctl(&sock, &["start"]).code, 2);
    assert!(ctl(&sock, &["help"]).stdout.contains("Exit codes"));
    assert_eq!(ctl(&d.dir.join("no.sock"), &["status"]).code, 7);
}

#[test]
fn over_http_with_a_token() {
    let (d, sock) = daemon(programs());
    let url = d.url("");
    let token = d.root();
    let via = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(bin());
        cmd.args(["ctl", "--url", &url])
            .args(args)
            .env_remove("PISTACK_TOKEN");
        if let Some(t) = token {
            cmd.env("PISTACK_TOKEN", t);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = via(&["--json", "status", "web"], Some(&token));
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["name"],
        "web"
    );
    assert_eq!(via(&["--token", &token, "health"], None).0, 0);
    assert_eq!(via(&["status"], None).0, 5, "no token");
    let user = d.user(&token, "viewer", "User");
    assert_eq!(
        via(&["stop", "web"], Some(&user)).0,
        5,
        "a User may not act"
    );
    assert_eq!(
        via(&["tail", "-f", "web"], Some(&token)).0,
        1,
        "-f needs the socket"
    );
    let dead = Command::new(bin())
        .args(["ctl", "--url", "http://127.0.0.1:1", "status"])
        .output()
        .unwrap();
    assert_eq!(dead.status.code(), Some(7));
    drop(sock);
}

#[test]
fn reload_adds_changes_and_removes_and_keeps_the_rest_running() {
    let (d, sock) = daemon(programs());
    eventually(10, || {
        (state(&sock, "web") == "RUNNING" && state(&sock, "g:a") == "RUNNING").then_some(())
    })
    .expect("running");
    let pid = |name: &str| ctl(&sock, &["--json", "status", name]).json()[0]["pid"].as_u64();
    let kept = pid("g:a").unwrap();

    let mut c: Value = serde_json::from_slice(&std::fs::read(&d.config_path).unwrap()).unwrap();
    let p = c["programs"].as_object_mut().unwrap();
    p.remove("web");
    p.insert(
        "b".into(),
        json!({"command": ["sleep", "2000"], "group": "g", "startsecs": 0}),
    );
    p.insert(
        "fresh".into(),
        json!({"command": ["sleep", "3000"], "startsecs": 0, "priority": 1}),
    );
    std::fs::write(&d.config_path, serde_json::to_vec(&c).unwrap()).unwrap();

    let r = ctl(&sock, &["--json", "reload"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let nothing = json!({"added": [], "changed": [], "removed": []});
    assert_eq!(
        r.json(),
        json!({"added": ["fresh"], "changed": ["b"], "removed": ["web"],
               "pins": nothing, "tls": {"state": "off"}})
    );
    let list = ctl(&sock, &["--json", "status"]).json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["fresh", "a", "b"],
        "priority 1 first: a moved in the table"
    );
    assert_eq!(
        pid("g:a"),
        Some(kept),
        "the unchanged program kept its process"
    );
    assert_eq!(state(&sock, "fresh"), "RUNNING");
    assert_eq!(state(&sock, "g:b"), "RUNNING", "changed to autostart");
    assert_eq!(list[2]["command"], json!(["sleep", "2000"]));

    // The kept program is still supervised: its exit is seen, and it is restarted.
    unsafe { libc::kill(kept as i32, libc::SIGTERM) };
    eventually(10, || pid("g:a").filter(|p| *p != kept)).expect("a restarted after the reload");

    // A broken file changes nothing.
    std::fs::write(&d.config_path, b"{ not json").unwrap();
    let bad = ctl(&sock, &["reload"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("pistack.json"), "{}", bad.stderr);
    assert_eq!(
        ctl(&sock, &["--json", "status"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// Write the daemon's configuration file after `edit` changed it.
fn edit_config(d: &Daemon, edit: impl FnOnce(&mut Value)) {
    let mut c: Value = serde_json::from_slice(&std::fs::read(&d.config_path).unwrap()).unwrap();
    edit(&mut c);
    std::fs::write(&d.config_path, serde_json::to_vec(&c).unwrap()).unwrap();
}

/// The pins of a reload test: the sample ones plus FAN, an output that stays.
fn pins_config() -> Value {
    let mut extra = sample_config();
    extra["gpio"]["pins"]["FAN"] = json!({"line": 22, "direction": "out"});
    extra
}

#[test]
fn reload_adds_changes_and_removes_pins_and_leaves_the_others_alone() {
    let (d, sock) = daemon_with(pins_config());
    let root = d.root();
    let gpio = |name: &str| ctl(&sock, &["--json", "gpio", name]).json();
    assert_eq!(ctl(&sock, &["gpio", "FAN", "1"]).code, 0);
    assert_eq!(ctl(&sock, &["gpio", "LED", "1"]).code, 0);
    let sim = |pin: &str, level: u8| {
        let r = d.call(
            "PUT",
            &format!("/api/io/sim/gpio/{pin}"),
            Some(&root),
            Some(&json!({"level": level})),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    let events = || d.get("/api/io/gpio/events", &root).body;
    sim("BUTTON", 1); // no bias: the line starts low
    eventually(10, || (events().as_array()?.len() == 1).then_some(())).expect("BUTTON's edge");

    // LED becomes active low, BUTTON goes, NEW takes BUTTON's line 27.
    edit_config(&d, |c| {
        let pins = c["gpio"]["pins"].as_object_mut().unwrap();
        pins["LED"]["active_low"] = json!(true);
        pins.remove("BUTTON");
        pins.insert(
            "NEW".into(),
            json!({"line": 27, "edge": "falling", "bias": "pull-up"}),
        );
    });
    let r = ctl(&sock, &["--json", "reload"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["pins"],
        json!({"added": ["NEW"], "changed": ["LED"], "removed": ["BUTTON"]})
    );
    assert_eq!(r.json()["added"], json!([]), "no program changed");

    let names: Vec<String> = (ctl(&sock, &["--json", "gpio"])
        .json()
        .as_array()
        .unwrap()
        .iter())
    .map(|p| p["name"].as_str().unwrap().to_string())
    .collect();
    assert_eq!(names, ["FAN", "LED", "NEW"]);
    assert_eq!(
        gpio("FAN")["value"],
        1,
        "the unchanged output kept its level"
    );
    let led = gpio("LED");
    assert_eq!(
        (led["active_low"].clone(), led["value"].clone()),
        (json!(true), json!(0)),
        "requested again"
    );
    assert_eq!(ctl(&sock, &["gpio", "BUTTON"]).code, 1, "removed");
    // NEW got line 27 (BUTTON's was released) and is watched; the history is kept.
    assert_eq!(gpio("NEW")["line"], 27);
    assert_eq!(gpio("NEW")["error"], Value::Null);
    sim("NEW", 0);
    let seen = eventually(10, || {
        let ev = events();
        (ev.as_array()?.len() == 2).then_some(ev)
    })
    .expect("NEW's edge");
    assert_eq!(
        (seen[0]["pin"].clone(), seen[1]["pin"].clone()),
        (json!("BUTTON"), json!("NEW"))
    );
    let health = d.get("/api/io/health", &root);
    assert_eq!(
        (health.status, health.body["status"].clone()),
        (200, json!("ok")),
        "{}",
        health.text
    );

    // The human lines; then nothing changed.
    edit_config(&d, |c| {
        c["gpio"]["pins"].as_object_mut().unwrap().remove("NEW");
    });
    let r = ctl(&sock, &["reload"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "NEW: removed pin\n"),
        "{}",
        r.stderr
    );
    let r = ctl(&sock, &["reload"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no changes\n"));
}

#[test]
fn reload_refuses_to_remove_a_pin_the_running_rules_use() {
    let mut extra = sample_config();
    extra["rules"] = json!([{"when": {"gpio": "BUTTON"}, "then": [{"gpio_toggle": "LED"}]}]);
    let (d, sock) = daemon_with(extra);
    edit_config(&d, |c| {
        c["gpio"]["pins"].as_object_mut().unwrap().remove("BUTTON");
        c["rules"] = json!([]);
        c["programs"]["extra"] = json!({"command": ["sleep", "1000"]});
    });
    let r = ctl(&sock, &["reload"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("pistack.json: rules[0]: when.gpio: no pin named \"BUTTON\"")
            && r.stderr.contains("restart"),
        "{}",
        r.stderr
    );
    assert_eq!(
        ctl(&sock, &["--json", "gpio", "BUTTON"]).code,
        0,
        "BUTTON kept"
    );
    assert_eq!(
        ctl(&sock, &["status", "extra"]).code,
        4,
        "nothing applied: {}",
        ctl(&sock, &["status", "extra"]).stdout
    );
}

#[test]
fn sighup_reloads_the_file_and_a_bad_file_keeps_the_running_one() {
    let (d, sock) = daemon(programs());
    edit_config(&d, |c| {
        c["programs"]["fresh"] = json!({"command": ["sleep", "1000"], "startsecs": 0});
        c["gpio"]["pins"]["NEW"] = json!({"line": 5, "direction": "out"});
    });
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    let logged = d
        .wait_log(20, |l| l.contains("SIGHUP: reloaded"))
        .expect("the reload logged");
    assert!(
        logged.contains(r#"programs added ["fresh"]"#) && logged.contains(r#"pins added ["NEW"]"#),
        "{logged}"
    );
    eventually(10, || (state(&sock, "fresh") == "RUNNING").then_some(())).expect("fresh runs");
    assert_eq!(ctl(&sock, &["gpio", "NEW"]).code, 0);

    std::fs::write(&d.config_path, b"{ not json").unwrap();
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    let logged = d
        .wait_log(20, |l| l.contains("SIGHUP: not reloaded"))
        .expect("the refusal logged");
    assert!(logged.contains("pistack.json"), "{logged}");
    assert_eq!(
        state(&sock, "fresh"),
        "RUNNING",
        "the running configuration stays"
    );
    assert_eq!(ctl(&sock, &["health"]).code, 0, "the daemon goes on");
}

#[test]
fn over_https_with_the_daemons_certificate_as_ca() {
    let dir = temp_dir("ctl-tls");
    let d = Daemon::start_in(dir.clone(), json!({"http": {"tls": "self-signed"}}), &[]);
    let cert = dir.join("state/tls/cert.pem");
    let port = d.base.rsplit(':').next().unwrap().to_string();
    let url = format!("https://localhost:{port}");
    let via = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(bin());
        cmd.args(["ctl", "--url", &url])
            .args(args)
            .env_remove("PISTACK_TOKEN")
            .env_remove("PISTACK_CA")
            .envs(env.iter().copied());
        let o = cmd.output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    };
    let ca = cert.to_str().unwrap();
    // Not trusted without --ca: said so, with the fix.
    let r = via(&["health"], &[]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(
        r.stderr.contains("certificate is not trusted") && r.stderr.contains("--ca"),
        "{}",
        r.stderr
    );
    let r = via(&["--ca", ca, "health"], &[]);
    assert!(
        r.code == 0 && r.stdout.starts_with("ok\n"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    // A token over HTTPS (logged in with curl), the CA from the environment.
    let login = Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            ca,
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(json!({"name": "root", "password": ROOT_PASSWORD}).to_string())
        .arg(format!("{url}/api/auth/session/login"))
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&login.stdout).unwrap_or(Value::Null);
    let token = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {body}"));
    let r = via(
        &["--json", "status", "sleeper"],
        &[("PISTACK_CA", ca), ("PISTACK_TOKEN", token)],
    );
    assert_eq!(r.code, 4, "no such program here: {}", r.stderr);
    let r = via(
        &["--json", "users"],
        &[("PISTACK_CA", ca), ("PISTACK_TOKEN", token)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()[0]["name"], "root");
    // Other roots (the system's bundle, as a file): still refused, naming the file.
    let other = "/etc/ssl/certs/ca-certificates.crt";
    let r = via(&["--ca", other, "health"], &[]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(
        r.stderr.contains(other) && r.stderr.contains("not trusted"),
        "{}",
        r.stderr
    );
    // A file that is no certificate: said so.
    let r = via(&["--ca", d.config_path.to_str().unwrap(), "health"], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--ca"), "{}", r.stderr);
}

/// `useradd`/`groupadd` NAME unless it exists; whether it was made here.
fn ensure(kind: &str, args: &[&str]) -> bool {
    let name = args.last().unwrap();
    let db = if kind == "groupadd" {
        "group"
    } else {
        "passwd"
    };
    let exists = Command::new("getent")
        .args([db, name])
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let s = Command::new(kind).args(args).status().unwrap();
        assert!(s.success(), "{kind} {args:?}");
    }
    !exists
}

/// The users and group a test made, removed when it ends (pass or fail), so
/// that the machine is left as it was: a member left in group `pistack` would
/// keep the package's purge from removing the group (packaging/deb/test-deb.sh).
struct MadeHere {
    users: Vec<&'static str>,
    group: bool,
}

impl Drop for MadeHere {
    fn drop(&mut self) {
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).status();
        }
        if self.group {
            let _ = Command::new("groupdel").arg("pistack").status();
        }
    }
}

fn uid_gid(user: &str) -> (String, String) {
    let id = |flag: &str| {
        let o = Command::new("id").args([flag, user]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    (id("-u"), id("-g"))
}

#[test]
fn group_members_act_as_root_and_others_are_refused() {
    // SAFETY: getuid cannot fail.
    assert_eq!(
        unsafe { libc::getuid() },
        0,
        "this test creates users: run it as root (CI does)"
    );
    let mut made = MadeHere {
        users: Vec::new(),
        group: ensure("groupadd", &["--system", "pistack"]),
    };
    let member = [
        "--system",
        "--no-create-home",
        "-G",
        "pistack",
        "pistack-test-member",
    ];
    if ensure("useradd", &member) {
        made.users.push("pistack-test-member");
    }
    let stranger = ["--system", "--no-create-home", "pistack-test-stranger"];
    if ensure("useradd", &stranger) {
        made.users.push("pistack-test-stranger");
    }
    let (d, sock) = daemon(programs());
    let meta = std::fs::metadata(&sock).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let group = Command::new("getent")
        .args(["group", "pistack"])
        .output()
        .unwrap();
    let gid: u32 = String::from_utf8_lossy(&group.stdout)
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(meta.gid(), gid, "the socket belongs to group pistack");

    let as_user = |user: &str, args: &[&str]| {
        let (uid, gid) = uid_gid(user);
        let reuid = format!("--reuid={uid}");
        let regid = format!("--regid={gid}");
        run(
            &["setpriv", &reuid, &regid, "--init-groups"],
            &sock,
            args,
            "",
        )
    };
    let member = as_user("pistack-test-member", &["--json", "status"]);
    assert_eq!(
        member.json().as_array().unwrap().len(),
        3,
        "{}",
        member.stderr
    );
    let stop = as_user("pistack-test-member", &["stop", "web"]);
    assert_eq!((stop.code, stop.stdout.as_str()), (0, "web: stopped\n"));
    assert!(
        d.wait_log(10, |l| l.contains(&format!(
            "control uid {} POST /api/supervisor/processes/web/stop 200",
            uid_gid("pistack-test-member").0
        )))
        .is_some(),
        "the action is logged with the caller's uid"
    );

    // The file mode keeps a stranger out; with the mode opened, the daemon does.
    let stranger = as_user("pistack-test-stranger", &["status"]);
    assert_eq!(stranger.code, 5, "{} {}", stranger.stdout, stranger.stderr);
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let stranger = as_user("pistack-test-stranger", &["status"]);
    assert_eq!(stranger.code, 5, "{} {}", stranger.stdout, stranger.stderr);
    assert!(
        stranger.stderr.contains("root and group pistack"),
        "{}",
        stranger.stderr
    );
    let (stranger_uid, _) = uid_gid("pistack-test-stranger");
    assert!(d
        .wait_log(10, |l| l.contains(&format!("uid {stranger_uid} "))
            && l.contains("refused"))
        .is_some());
}

#[test]
fn the_control_socket_serves_at_most_16_connections() {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    let (_d, sock) = daemon(json!({}));
    let ask = |s: &mut UnixStream| {
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf).into_owned())
    };
    // Each answered once, so each is surely being served, then left open.
    let mut held: Vec<UnixStream> = (0..16)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    for s in &mut held {
        assert_eq!(ask(s).as_deref(), Some("HTTP/1.1 200"));
    }
    let mut extra = UnixStream::connect(&sock).unwrap();
    let mut answer = String::new();
    extra.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);
    let ok = eventually(10, || {
        let mut s = UnixStream::connect(&sock).ok()?;
        (ask(&mut s)? == "HTTP/1.1 200").then_some(())
    });
    assert!(ok.is_some(), "served again once the others closed");
}

#[test]
fn the_socket_goes_to_runtime_directory_else_the_state_dir() {
    let dir = temp_dir("ctl-rt");
    let run = dir.join("rt");
    std::fs::create_dir_all(&run).unwrap();
    let rt = run.display().to_string();
    let d = Daemon::start_in(dir, json!({}), &[("RUNTIME_DIRECTORY", &rt)]);
    let sock = run.join("control.sock");
    assert_eq!(ctl(&sock, &["--json", "status"]).json(), json!([]));
    assert!(!d.dir.join("state/control.sock").exists());
    let plain = Daemon::start(json!({}));
    let sock = plain.dir.join("state/control.sock");
    assert_eq!(ctl(&sock, &["health"]).code, 0);
    // Found from the config file alone (no --socket).
    let o = Command::new(bin())
        .args([
            "--config",
            &plain.config_path.display().to_string(),
            "ctl",
            "health",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bash_completion_offers_subcommands_and_program_names() {
    let (_d, sock) = daemon(programs());
    let completion = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/completion/pistack.bash"
    );
    let script = format!(
        r#". {completion}
pistack() {{ PISTACK_SOCKET={sock} {bin} "$@"; }}
COMP_WORDS=(pistack ctl st); COMP_CWORD=2; _pistack; echo "${{COMPREPLY[*]}}"
COMP_WORDS=(pistack ctl restart ""); COMP_CWORD=3; _pistack; echo "${{COMPREPLY[*]}}"
COMP_WORDS=(pistack ctl signal HUP ""); COMP_CWORD=4; _pistack; echo "${{COMPREPLY[*]}}""#,
        sock = sock.display(),
        bin = bin()
    );
    let o = Command::new("bash").arg("-c").arg(script).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["status start stop", "all a b g:* web", "a b g:* web"],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
