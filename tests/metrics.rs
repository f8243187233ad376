//! `/metrics` of the real daemon: request counts by route, GPIO, process, mail
//! and rule families, the `metrics.public` switch, and `promtool check metrics`
//! (Debian's `prometheus` package) plus a check of family grouping, which
//! promtool 2.42 does not make, on the live page.
mod common;
use common::*;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn metrics_count_requests_and_can_be_public() {
    let mut config = sample_config();
    config["metrics"] = json!({"public": true});
    let d = Daemon::start(config);
    d.call("GET", "/api/nope", None, None);
    let root = d.root();
    d.get("/api/io/gpio/LED", &root);
    let r = d.call("GET", "/metrics", None, None);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for line in [
        "pistack_http_requests_total{route=\"none\",status=\"404\"} 1",
        "pistack_http_requests_total{route=\"/api/io/gpio/{name}\",status=\"200\"} 1",
        "pistack_http_requests_total{route=\"/api/auth/session/login\",status=\"200\"} 1",
        "pistack_gpio_up{pin=\"LED\"} 1",
        "pistack_gpio_events_total 0",
        "pistack_process_state{name=\"idle\",state=\"STOPPED\"} 1",
        "pistack_process_restarts_total{name=\"sleeper\"} 0",
        "pistack_rule_mail_held 0",
    ] {
        assert!(r.text.contains(line), "{line} not in:\n{}", r.text);
    }
    assert!(r.text.contains("pistack_build_info{version="), "{}", r.text);
}

/// `promtool check metrics` on `text`: its exit code and what it said.
fn promtool(text: &str) -> (bool, String) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool is needed for this test ({e}): install Debian's `prometheus` package \
             (`make deps`, or `apt-get install prometheus`)"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn promtool_accepts_the_live_page_with_every_subsystem() {
    let smtp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = sample_config();
    config["email"] =
        json!({"smtp": {"host": "127.0.0.1", "port": smtp_port}, "from": "p@test.example"});
    config["rules"] = json!([
        {"name": "edge", "when": {"gpio": "BUTTON"}, "then": [{"log": "{pin} {edge}"}]},
        {"name": "exit \"quoted\"", "when": {"process": "*", "to": "EXITED"}, "then": [{"log": "{name}"}]}
    ]);
    let d = Daemon::start(config);
    let root = d.root();
    let r = d.call(
        "PUT",
        "/api/io/sim/gpio/BUTTON",
        Some(&root),
        Some(&json!({"level": 1})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let text = eventually(20, || {
        let t = d.get("/metrics", &root).text;
        t.contains("pistack_rule_firings_total{rule=\"edge\"} 1")
            .then_some(t)
    })
    .expect("the rule's firing is counted");
    for family in [
        "pistack_email_messages",
        "pistack_email_delivery_failures_total",
        "pistack_daemon_resident_memory_bytes",
        "pistack_daemon_threads",
        "pistack_daemon_open_fds",
        "pistack_rule_action_failures_total",
        "pistack_rule_suppressed_total",
        "pistack_rule_dropped_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{text}"
        );
    }
    assert!(
        text.contains("rule=\"exit \\\"quoted\\\"\""),
        "label escaped:\n{text}"
    );
    let (ok, said) = promtool(&text);
    assert!(
        ok && said.trim().is_empty(),
        "promtool check metrics:\n{said}\non:\n{text}"
    );
}

/// The exposition rules promtool 2.42 does not check: each family is one block,
/// `# HELP` then `# TYPE` then only its own samples, and no family comes twice.
fn families_are_grouped(text: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut current: Option<&str> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if seen.contains(&name) {
                return Err(format!("{name} comes twice"));
            }
            let ty = lines.next().unwrap_or("");
            if !ty.starts_with(&format!("# TYPE {name} ")) {
                return Err(format!(
                    "HELP of {name} is not followed by its TYPE: {ty:?}"
                ));
            }
            seen.push(name);
            current = Some(name);
        } else if line.starts_with('#') {
            return Err(format!("a TYPE or comment without its HELP: {line:?}"));
        } else {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            if Some(name) != current {
                return Err(format!("a sample of {name} inside {current:?}: {line:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_checks_fail_on_what_main_served_before() {
    // The page main served before: no HELP lines (promtool refuses them), and the
    // GPIO families interleaved (promtool 2.42 says nothing: our own check does).
    let before = "# TYPE pistack_gpio_events_total counter\npistack_gpio_events_total 0\n\
                  # TYPE pistack_gpio_value gauge\n# TYPE pistack_gpio_up gauge\n\
                  pistack_gpio_value{pin=\"A\"} 1\npistack_gpio_up{pin=\"A\"} 1\npistack_gpio_value{pin=\"B\"} 0\n";
    let (ok, said) = promtool(before);
    assert!(!ok && said.contains("no help text"), "promtool: {said}");
    let interleaved = "# HELP a V.\n# TYPE a gauge\n# HELP b U.\n# TYPE b gauge\na 1\nb 1\n";
    assert!(families_are_grouped(interleaved).is_err());
    let split =
        "# HELP a V.\n# TYPE a gauge\na 1\n# HELP b U.\n# TYPE b gauge\nb 1\na{x=\"1\"} 0\n";
    assert!(families_are_grouped(split)
        .unwrap_err()
        .contains("a sample of a inside"));
    let twice = "# HELP a V.\n# TYPE a gauge\na 1\n# HELP a V.\n# TYPE a gauge\na 2\n";
    assert!(families_are_grouped(twice).unwrap_err().contains("twice"));
}
