//! Rules fired by real events in the real daemon: programs that really crash,
//! edges injected into the simulated GPIO chip, mail read back from the real SMTP
//! server (tests/smtp/server.py), webhooks received by a TcpListener here.

mod common;
use common::smtp::*;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

const TO: &str = "admin@test.example";

/// Pins LED (out) and BUTTON (in, both edges), program `sleeper`, `rules`, and
/// `extra` merged over that.
#[test]
fn a_webhook_over_https_is_checked_against_the_system_roots() {
    let dir = temp_dir("hook-https");
    let certs = common::smtp::certs(&dir);
    let server = common::https::Server::start(&certs, "{}");
    let url = format!("https://localhost:{}/hook", server.port);
    let config = with_rules(
        json!([{"name": "hook", "when": {"gpio": "BUTTON", "edge": "rising"},
                "then": [{"http": {"url": url}}]}]),
        json!({}),
    );
    // rustls-native-certs reads SSL_CERT_FILE as the system's roots.
    let ca = certs.ca.to_str().unwrap();
    let d = Daemon::start_in(temp_dir("hook-https-d"), config, &[("SSL_CERT_FILE", ca)]);
    let root = d.root();
    press(&d, &root, 1);
    let got = server
        .requests
        .recv_timeout(Duration::from_secs(20))
        .expect("the webhook arrived over HTTPS");
    assert_eq!(got["method"], "POST");
    assert_eq!(got["path"], "/hook");
    let body: Value = serde_json::from_str(got["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["rule"], "hook");
    assert_eq!(body["event"]["pin"], "BUTTON");
    let r = wait_rule(&d, &root, 0, "fired without errors", |r| r["fired"] == 1);
    assert_eq!(r["failed_actions"], 0, "{r}");
}

fn with_rules(rules: Value, extra: Value) -> Value {
    let mut c = sample_config();
    c["rules"] = rules;
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            c[&k] = v;
        }
    }
    c
}

fn email_section(port: u16, extra: Value) -> Value {
    let mut e = json!({
        "smtp": {"host": "127.0.0.1", "port": port, "timeout_s": 2},
        "from": "pistack@test.example",
        "retry": {"base_s": 0.2, "max_s": 0.5, "max_attempts": 5}
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            e[&k] = v;
        }
    }
    e
}

/// Set BUTTON's physical level as a button would (the sim backend).
fn press(d: &Daemon, root: &str, level: u8) {
    let r = d.call(
        "PUT",
        "/api/io/sim/gpio/BUTTON",
        Some(root),
        Some(&json!({ "level": level })),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn rules(d: &Daemon, token: &str) -> Vec<Value> {
    let r = d.get("/api/rules", token);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

/// Wait until rule `i` of `GET /api/rules` satisfies `pred`.
fn wait_rule(
    d: &Daemon,
    token: &str,
    i: usize,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    eventually(20, || {
        let r = rules(d, token)[i].clone();
        pred(&r).then_some(r)
    })
    .unwrap_or_else(|| panic!("rule {i} never {what}: {:?}", rules(d, token)))
}

fn led(d: &Daemon, token: &str) -> Value {
    d.get("/api/io/gpio/LED", token).body["value"].clone()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_program_going_fatal_sends_a_mail_with_its_log_and_sets_a_pin() {
    let port = free_port();
    let relay = Relay::start(port, "plain", None, None);
    let mut config = with_rules(
        json!([{
            "name": "fatal",
            "when": {"process": "crash", "to": "FATAL"},
            "then": [
                {"email": {"to": TO, "subject": "{name} is {to} on {hostname}", "body": "exit {exit_status}\n{log_tail}"}},
                {"gpio_set": {"pin": "LED", "value": 1}}
            ]
        }]),
        json!({"email": email_section(port, json!({}))}),
    );
    config["programs"]["crash"] = json!({
        "command": ["sh", "-c", "echo 'disk on fire' >&2; exit 3"],
        "startsecs": 1, "startretries": 0
    });
    let d = Daemon::start(config);
    let root = d.root();
    let m = relay.wait_messages(1);
    assert_eq!(m[0]["rcpt_tos"], json!([TO]));
    assert_eq!(m[0]["subject"], format!("crash is FATAL on {}", hostname()));
    let body = m[0]["body"].as_str().unwrap();
    assert!(body.starts_with("exit 3"), "{body:?}");
    assert!(
        body.contains("disk on fire"),
        "the stderr tail is in the mail: {body}"
    );
    eventually(10, || (led(&d, &root) == 1).then_some(()))
        .expect("the rule set LED after the mail");
    let r = wait_rule(&d, &root, 0, "counted", |r| r["fired"] == 1);
    assert_eq!(r["failed_actions"], 0);
    assert_eq!(r["last_error"], Value::Null);
    assert!(r["last_fired"].is_u64(), "{r}");
}

#[test]
fn unexpected_matches_only_exits_outside_exitcodes() {
    let mut config = with_rules(
        json!([
            {"name": "any exit", "when": {"process": "*", "to": "EXITED"}, "then": [{"log": "{name} exited"}]},
            {"name": "bad exit", "when": {"process": "*", "to": "EXITED", "unexpected": true}, "then": [{"log": "{name} failed"}]}
        ]),
        json!({}),
    );
    for (name, code) in [("clean", 0), ("dirty", 3)] {
        config["programs"][name] = json!({
            "command": ["sh", "-c", format!("exit {code}")],
            "startsecs": 0, "autorestart": false
        });
    }
    let d = Daemon::start(config);
    let root = d.root();
    wait_rule(&d, &root, 0, "saw both exits", |r| r["fired"] == 2);
    let bad = wait_rule(&d, &root, 1, "fired", |r| r["fired"] == 1);
    assert_eq!(bad["fired"], 1, "{bad}");
    let events = d.get("/api/rules/events", &root).body;
    let fired: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "bad exit")
        .map(|e| {
            (
                e["trigger"]["name"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(fired, [("dirty", "fired")], "{events}");
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["trigger"]["expected"] == true));
}

#[test]
fn a_gpio_edge_restarts_a_program() {
    let d = Daemon::start(with_rules(
        json!([{"when": {"gpio": "BUTTON", "edge": "rising"}, "then": [{"restart": "sleeper"}]}]),
        json!({}),
    ));
    let root = d.root();
    let pid = |d: &Daemon| {
        let p = d.get("/api/supervisor/processes/sleeper", &root).body;
        (p["state"] == "RUNNING")
            .then(|| p["pid"].as_u64())
            .flatten()
    };
    let before = eventually(10, || pid(&d)).expect("sleeper runs");
    press(&d, &root, 1);
    let after = eventually(20, || pid(&d).filter(|p| *p != before))
        .expect("the edge restarted sleeper: a new pid");
    assert_ne!(before, after);
    // The edge back down is falling: the rule does not fire again.
    press(&d, &root, 0);
    let ev = eventually(10, || {
        let e = d.get("/api/io/gpio/events", &root).body;
        (e.as_array().unwrap().len() == 2).then_some(e)
    });
    assert!(ev.is_some());
    assert_eq!(rules(&d, &root)[0]["fired"], 1);
}

/// One HTTP request read off `stream`: request line, headers, body.
fn read_request(stream: &mut TcpStream) -> (String, Vec<String>, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        headers.push(h);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (
        line.trim_end().to_string(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}

/// A webhook receiver: each request (line, headers, body) is sent on the
/// channel and answered 200.
fn receiver() -> (u16, mpsc::Receiver<(String, Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let request = read_request(&mut stream);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send(request).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn a_webhook_gets_the_event_as_json() {
    let (port, rx) = receiver();
    let d = Daemon::start(with_rules(
        json!([{"name": "hook", "when": {"gpio": "BUTTON", "edge": "rising"},
                "then": [{"http": {"url": format!("http://127.0.0.1:{port}/hook")}}]}]),
        json!({}),
    ));
    let root = d.root();
    press(&d, &root, 1);
    let (line, headers, body) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the webhook arrived");
    assert_eq!(line, "POST /hook HTTP/1.1");
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("content-type: application/json")),
        "{headers:?}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["rule"], "hook");
    assert_eq!(body["hostname"], hostname());
    assert_eq!(body["event"]["kind"], "gpio");
    assert_eq!(body["event"]["pin"], "BUTTON");
    assert_eq!(body["event"]["edge"], "rising");
    assert_eq!(body["event"]["value"], 1);
    let r = wait_rule(&d, &root, 0, "fired without errors", |r| r["fired"] == 1);
    assert_eq!(r["failed_actions"], 0, "{r}");
}

#[test]
fn a_flapping_trigger_fires_only_past_its_count() {
    let d = Daemon::start(with_rules(
        json!([
            {"name": "every", "when": {"gpio": "BUTTON", "edge": "rising"}, "then": [{"log": "edge {pin}"}]},
            {"name": "flap", "when": {"gpio": "BUTTON", "edge": "rising", "count": 3, "within_s": 60},
             "then": [{"gpio_set": {"pin": "LED", "value": 1}}]}
        ]),
        json!({}),
    ));
    let root = d.root();
    for n in 1..=2u64 {
        press(&d, &root, 1);
        press(&d, &root, 0);
        // The rule without a count shows the rules thread has seen this edge.
        wait_rule(&d, &root, 0, "saw the edge", |r| r["fired"] == n);
    }
    assert_eq!(rules(&d, &root)[1]["fired"], 0, "two of three: not yet");
    assert_eq!(led(&d, &root), 0);
    press(&d, &root, 1);
    wait_rule(&d, &root, 1, "fired on the third", |r| r["fired"] == 1);
    eventually(10, || (led(&d, &root) == 1).then_some(())).expect("its action ran");
}

#[test]
fn the_mail_cap_turns_a_storm_into_a_digest() {
    let port = free_port();
    let relay = Relay::start(port, "plain", None, None);
    let d = Daemon::start(with_rules(
        json!([{"name": "storm", "when": {"gpio": "BUTTON"},
                "then": [{"email": {"to": TO, "subject": "edge {edge}", "body": "value {value}"}}]}]),
        json!({"email": email_section(port, json!({"max_per_hour": 2, "cap_window_s": 5}))}),
    ));
    let root = d.root();
    for _ in 0..3 {
        press(&d, &root, 1);
        press(&d, &root, 0);
    }
    wait_rule(&d, &root, 0, "fired six times", |r| r["fired"] == 6);
    let m = relay.wait_messages(3);
    // Each firing's actions run on a thread of their own, so the first two
    // mails may be queued in either order; the digest comes when the window ends.
    let mut first: Vec<&str> = m[..2]
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    first.sort();
    assert_eq!(first, ["edge falling", "edge rising"]);
    let digest = &m[2];
    assert!(
        digest["subject"]
            .as_str()
            .unwrap()
            .contains("digest of 4 held rule mails"),
        "{digest}"
    );
    let body = digest["body"].as_str().unwrap();
    for n in 1..=4 {
        assert!(body.contains(&format!("--- {n}. edge ")), "{body}");
    }
    assert!(!body.contains("--- 5."), "{body}");
    // Six firings, three mails: two sent at once, the other four in one digest.
    assert_eq!(relay.messages().len(), 3);
}

/// `pistack_rule_mail_held` of `/metrics`.
fn mail_held(d: &Daemon, token: &str) -> u64 {
    let text = d.get("/metrics", token).text;
    text.lines()
        .find_map(|l| l.strip_prefix("pistack_rule_mail_held "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pistack_rule_mail_held in:\n{text}"))
}

/// `<state_dir>/rule-mail-cap.json` of the daemon in `dir`.
fn saved_cap(dir: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("state/rule-mail-cap.json")).unwrap()).unwrap()
}

#[test]
fn held_mail_and_the_cap_survive_kill_9_and_the_digest_goes_out_after_the_restart() {
    let port = free_port();
    let relay = Relay::start(port, "plain", None, None);
    let dir = temp_dir("cap-kill");
    // A window long enough for the storm, the kill and the restart to fit in it.
    let extra = with_rules(
        json!([{"name": "storm", "when": {"gpio": "BUTTON"},
                "then": [{"email": {"to": TO, "subject": "edge {edge}", "body": "value {value}"}}]}]),
        json!({"email": email_section(port, json!({"max_per_hour": 2, "cap_window_s": 20}))}),
    );
    let mut d = Daemon::start_in(dir.clone(), extra.clone(), &[]);
    let root = d.root();
    for _ in 0..3 {
        press(&d, &root, 1);
        press(&d, &root, 0);
    }
    // A firing is counted after its mail went through the cap (and its file).
    wait_rule(&d, &root, 0, "fired six times", |r| r["fired"] == 6);
    assert_eq!(mail_held(&d, &root), 4);
    relay.wait_messages(2);
    // Both marked sent, so the restart does not send them again (at least once).
    eventually(20, || {
        let o = d.get("/api/email/outbox", &root).body;
        let sent = o
            .as_array()?
            .iter()
            .filter(|m| m["status"] == "sent")
            .count();
        (sent == 2).then_some(())
    })
    .expect("the two mails under the cap were marked sent");
    let saved = saved_cap(&dir);
    assert_eq!(saved["held"].as_array().unwrap().len(), 4, "{saved}");
    assert_eq!(saved["sent"], 2, "{saved}");
    d.kill();

    let d = Daemon::start_in(dir.clone(), extra, &[]);
    let root = d.root();
    assert_eq!(mail_held(&d, &root), 4, "the held mail was loaded");
    // The cap was not reset: the window's two mails are spent, these are held too.
    press(&d, &root, 1);
    press(&d, &root, 0);
    wait_rule(&d, &root, 0, "fired twice", |r| r["fired"] == 2);
    assert_eq!(mail_held(&d, &root), 6);
    assert_eq!(relay.messages().len(), 2, "nothing sent past the cap");
    let m = relay.wait_messages(3);
    let digest = &m[2];
    assert!(
        digest["subject"]
            .as_str()
            .unwrap()
            .contains("digest of 6 held rule mails"),
        "{digest}"
    );
    let body = digest["body"].as_str().unwrap();
    for n in 1..=6 {
        assert!(body.contains(&format!("--- {n}. edge ")), "{body}");
    }
    eventually(10, || (mail_held(&d, &root) == 0).then_some(())).expect("the cap is empty");
    let saved = saved_cap(&dir);
    assert_eq!(saved["held"], json!([]), "{saved}");
    assert_eq!(relay.messages().len(), 3);
}

#[test]
fn a_corrupt_saved_cap_is_reported_and_moved_aside() {
    let dir = temp_dir("cap-bad");
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/rule-mail-cap.json"), b"{\"held\": [").unwrap();
    let d = Daemon::start_in(
        dir.clone(),
        with_rules(
            json!([{"when": {"gpio": "BUTTON"}, "then": [{"log": "x"}]}]),
            json!({}),
        ),
        &[],
    );
    let said = d.early_log.join("\n");
    assert!(
        said.contains("rule-mail-cap.json is not valid") && said.contains(".json.bad"),
        "{said}"
    );
    assert!(dir.join("state/rule-mail-cap.json.bad").exists());
    assert_eq!(mail_held(&d, &d.root()), 0);
}

#[test]
fn a_hung_webhook_delays_no_other_rule_and_no_later_event() {
    // Accepts and never answers, so the first rule's action is stuck for its 30 s timeout.
    let (port, accepted) = black_hole();
    let d = Daemon::start(with_rules(
        json!([
            {"name": "stuck", "when": {"gpio": "BUTTON", "edge": "rising"},
             "then": [{"http": {"url": format!("http://127.0.0.1:{port}/"), "timeout_s": 30}}]},
            {"name": "on", "when": {"gpio": "BUTTON", "edge": "rising"}, "then": [{"gpio_set": {"pin": "LED", "value": 1}}]},
            {"name": "off", "when": {"gpio": "BUTTON", "edge": "falling"}, "then": [{"gpio_set": {"pin": "LED", "value": 0}}]}
        ]),
        json!({}),
    ));
    let root = d.root();
    press(&d, &root, 1);
    accepted
        .recv_timeout(Duration::from_secs(20))
        .expect("the first rule's webhook connected");
    // Bounded waits far below the webhook's 30 s timeout.
    eventually(5, || (led(&d, &root) == 1).then_some(()))
        .expect("the second rule acted while the first is stuck");
    press(&d, &root, 0);
    eventually(5, || (led(&d, &root) == 0).then_some(()))
        .expect("a later event's rule acted while the first is stuck");
    let stuck = &rules(&d, &root)[0];
    assert_eq!(stuck["fired"], 1);
    assert_eq!(stuck["failed_actions"], 0, "still waiting: {stuck}");
}

/// A listener that accepts and never answers; each connection is reported.
fn black_hole() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, accepted) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = tx.send(());
        }
    });
    (port, accepted)
}

#[test]
fn past_eight_running_firings_one_is_dropped_and_counted() {
    let (port, accepted) = black_hole();
    let d = Daemon::start(with_rules(
        json!([{"name": "stuck", "when": {"gpio": "BUTTON", "edge": "rising"},
                "then": [{"http": {"url": format!("http://127.0.0.1:{port}/"), "timeout_s": 60}}]}]),
        json!({}),
    ));
    let root = d.root();
    for n in 1..=8u64 {
        press(&d, &root, 1);
        press(&d, &root, 0);
        accepted
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("webhook {n} connected"));
    }
    press(&d, &root, 1);
    let r = wait_rule(&d, &root, 0, "dropped one", |r| r["dropped"] == 1);
    assert_eq!(r["fired"], 8, "{r}");
    assert!(d
        .wait_log(10, |l| l.contains("dropped rules[0] \"stuck\""))
        .is_some());
    let events = d.get("/api/rules/events", &root).body;
    assert_eq!(
        events.as_array().unwrap().last().unwrap()["outcome"],
        "dropped"
    );
}

#[test]
fn rules_list_counts_cooldown_and_the_last_error_and_a_failure_stops_nothing() {
    let closed = free_port(); // nothing listens there: the webhook is refused
    let d = Daemon::start(with_rules(
        json!([{"name": "failing", "when": {"gpio": "BUTTON", "edge": "rising"}, "cooldown_s": 3600,
                "then": [{"http": {"url": format!("http://127.0.0.1:{closed}/x")}},
                         {"gpio_set": {"pin": "LED", "value": 1}}]}]),
        json!({}),
    ));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    assert_eq!(d.call("GET", "/api/rules", None, None).status, 401);
    press(&d, &root, 1);
    let r = wait_rule(&d, &user, 0, "failed", |r| r["failed_actions"] == 1);
    eventually(10, || (led(&d, &root) == 1).then_some(()))
        .expect("the action after the failed one ran");
    assert_eq!(r["name"], "failing");
    assert_eq!(r["when"], json!({"gpio": "BUTTON", "edge": "rising"}));
    assert_eq!(r["then"], json!(["http", "gpio_set"]));
    assert_eq!(r["fired"], 1);
    let error = r["last_error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("then[0]: http http://127.0.0.1:{closed}/x: ")),
        "{error}"
    );
    assert!(r["last_error_at"].is_u64(), "{r}");
    press(&d, &root, 0);
    press(&d, &root, 1);
    let r = wait_rule(&d, &user, 0, "suppressed", |r| r["suppressed"] == 1);
    assert_eq!(r["fired"], 1, "within cooldown_s: {r}");
    let events = d.get("/api/rules/events", &user).body;
    let outcomes: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["fired", "failed", "suppressed"], "{events}");
    assert_eq!(events[0]["kind"], "rule");
    assert_eq!(events[0]["rule"], "failing");
    assert_eq!(events[0]["trigger"]["pin"], "BUTTON");
    assert!(events[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("then[0]: http"));
    let after = events[1]["seq"].as_u64().unwrap();
    let later = d
        .get(&format!("/api/rules/events?after={after}"), &user)
        .body;
    assert_eq!(later.as_array().unwrap().len(), 1);
}

#[test]
fn check_config_names_the_rule_and_the_key_of_each_problem() {
    let dir = temp_dir("rules-check");
    let path = dir.join("pistack.json");
    let mut c = with_rules(
        json!([
            {"when": {"gpio": "BUTTON"}, "then": [{"log": "{pin} {exit_status}"}]},
            {"when": {"process": "sleeper"}, "then": [{"gpio_pulse": {"pin": "BUTTON", "ms": 5}}, {"reboot": true}]}
        ]),
        json!({}),
    );
    c["state_dir"] = json!(dir.join("state"));
    std::fs::write(&path, c.to_string()).unwrap();
    let (code, text) = check_config(&path);
    assert_ne!(code, Some(0), "{text}");
    for problem in [
        "rules[0]: then[0].log: unknown placeholder {exit_status}",
        "rules[1]: then[0].gpio_pulse.pin: pin \"BUTTON\" is an input",
        "rules[1]: then[1].reboot: unknown action \"reboot\"",
    ] {
        assert!(text.contains(problem), "{problem:?} not in:\n{text}");
    }
}
