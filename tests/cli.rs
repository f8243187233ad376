//! The command line of the real binary: `passwd` and `check-config`.
mod common;
use common::*;
use serde_json::json;
use std::io::Write;

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
