//! pistack's `cdev` backend against a real kernel: `gpio-sim-vm` boots a small VM
//! with Debian's kernel and a `gpio-sim` chip, and runs `tests/gpio_vm/functional.sh`
//! in it. That script starts this test's own `pistack` binary, drives it through
//! its HTTP API (busybox nc) and the chip through gpio-sim's sysfs, runs libgpiod's
//! tools as an independent peer, and prints `@@ TAG ...` lines that this test
//! parses and checks. One VM boot for all the checks (a few seconds).
//!
//! Why a script inside the VM rather than the host driving over `--hostfwd`: the
//! sysfs pulls and the libgpiod peer must act inside the VM anyway, and one script
//! sequences them with the API calls without a second control channel.
//!
//! The test is skipped (loudly) only when gpio-sim-vm reports that the VM cannot
//! run here (exit 125), or PISTACK_SKIP_VM=1 is set; under `CI=true` it is never
//! skipped, so CI cannot pass without having run it.

mod common;
use common::vm;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const LABEL: &str = "pistack-vm";

/// What the script printed: `@@ TAG REST` lines and `@@begin NAME` .. `@@end` blocks.
struct Output {
    raw: String,
    tags: BTreeMap<String, String>,
    blocks: BTreeMap<String, Vec<String>>,
}

impl Output {
    fn parse(raw: String) -> Output {
        let mut tags = BTreeMap::new();
        let mut blocks = BTreeMap::new();
        let mut block: Option<(String, Vec<String>)> = None;
        for line in raw.lines() {
            if let Some(name) = line.strip_prefix("@@begin ") {
                block = Some((name.trim().to_string(), Vec::new()));
            } else if line == "@@end" {
                if let Some((name, lines)) = block.take() {
                    blocks.insert(name, lines);
                }
            } else if let Some((_, lines)) = block.as_mut() {
                lines.push(line.to_string());
            } else if let Some(rest) = line.strip_prefix("@@ ") {
                let (tag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                tags.insert(tag.to_string(), rest.to_string());
            }
        }
        Output { raw, tags, blocks }
    }

    fn tag(&self, tag: &str) -> &str {
        match self.tags.get(tag) {
            Some(s) => s,
            None => panic!("no @@ {tag} in the VM's output:\n{}", self.raw),
        }
    }

    /// An API result: status and JSON body.
    fn api(&self, tag: &str) -> (u16, Value) {
        let s = self.tag(tag);
        let (status, body) = s.split_once(' ').unwrap_or((s, ""));
        let status = status
            .parse()
            .unwrap_or_else(|_| panic!("{tag}: no status in {s:?}"));
        let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{tag}: {e} in {body:?}"));
        (status, body)
    }

    /// An API result that must be 200.
    fn ok(&self, tag: &str) -> Value {
        let (status, body) = self.api(tag);
        assert_eq!(status, 200, "{tag}: {body}");
        body
    }
}

/// A line of libgpiod 1.6's `gpioinfo`, as (offset, name, consumer, used, direction,
/// active_low, bias).
type InfoLine = (
    u64,
    Option<String>,
    Option<String>,
    bool,
    String,
    bool,
    String,
);

fn parse_gpioinfo(lines: &[String]) -> Vec<InfoLine> {
    let unquote = |s: &str, none: &str| (s != none).then(|| s.trim_matches('"').to_string());
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("line")?;
            let (offset, rest) = rest.split_once(':')?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            Some((
                offset.trim().parse().ok()?,
                unquote(words[0], "unnamed"),
                unquote(words[1], "unused"),
                rest.contains("[used"),
                if words[2] == "output" { "out" } else { "in" }.to_string(),
                words[3] == "active-low",
                if rest.contains("pull-up") {
                    "pull-up"
                } else if rest.contains("pull-down") {
                    "pull-down"
                } else if rest.contains("bias-disabled") {
                    "disabled"
                } else {
                    "as-is"
                }
                .to_string(),
            ))
        })
        .collect()
}

fn config() -> String {
    r#"{
  "state_dir": "/tmp/pistack-state",
  "http": {"bind": "127.0.0.1:8080", "www_dir": "/tmp/www"},
  "auth": {"pbkdf2_iterations": 1000},
  "gpio": {"backend": "cdev", "pins": {
    "LED":    {"chip": "@CHIP@", "line": 1, "direction": "out", "initial": 0},
    "LEDN":   {"chip": "pistack-vm", "line": "LED", "direction": "out", "initial": 0, "active_low": true},
    "BTN":    {"chip": "@CHIPPATH@", "line": "BUTTON", "direction": "in", "edge": "both", "bias": "pull-up"},
    "BTNL":   {"chip": "@CHIP@", "line": 4, "direction": "in", "edge": "both", "bias": "pull-down", "active_low": true},
    "DEB":    {"chip": "@CHIP@", "line": 5, "direction": "in", "edge": "falling", "bias": "pull-up", "debounce_ms": 300},
    "PLAIN":  {"chip": "@CHIP@", "line": 7, "direction": "in", "bias": "disabled"},
    "BUSY":   {"chip": "@CHIP@", "line": 6, "direction": "in"},
    "NOCHIP": {"chip": "no-such-chip", "line": 0, "direction": "in"},
    "NOLINE": {"chip": "pistack-vm", "line": "NOPE", "direction": "in"},
    "FAR":    {"chip": "@CHIP@", "line": 99, "direction": "out"}
  }}
}"#
    .to_string()
}

/// The config functional.sh reloads: LEDN removed, DEB changed, ZERO added.
fn config_reloaded() -> String {
    let c = config();
    let ledn = c
        .lines()
        .find(|l| l.contains("\"LEDN\":"))
        .unwrap_or_default();
    let reloaded = c
        .replace(&format!("{ledn}\n"), "")
        .replace(
            r#""edge": "falling", "bias": "pull-up", "debounce_ms": 300"#,
            r#""edge": "both", "bias": "pull-up""#,
        )
        .replace(
            r#"    "LED":    {"#,
            "    \"ZERO\":   {\"chip\": \"@CHIP@\", \"line\": 0, \"direction\": \"out\", \"initial\": 1},\n    \"LED\":    {",
        );
    assert!(!reloaded.contains("LEDN") && reloaded.contains("ZERO") && !reloaded.contains("300"));
    reloaded
}

/// Boot the VM and run `script` with the binary and config; `None` when the VM
/// cannot run on this machine.
fn run_in_vm(script: &str) -> Option<Output> {
    if vm::skip_requested("gpio_vm") {
        return None;
    }
    let tool = vm::tool();
    let dir = common::temp_dir("gpio-vm");
    let bin = vm::binary(&dir);
    let conf = dir.join("pistack.json");
    std::fs::write(&conf, config()).unwrap();
    let reload = dir.join("pistack-reload.json");
    std::fs::write(&reload, config_reloaded()).unwrap();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gpio_vm");
    let started = std::time::Instant::now();
    let out = Command::new(&tool)
        .args([
            "--lines",
            "8",
            "--names",
            ",,BUTTON,LED,,,,",
            "--label",
            LABEL,
            "--timeout",
            "240",
        ])
        .arg("--copy")
        .arg(&bin)
        .arg("--copy")
        .arg(&conf)
        .arg("--copy")
        .arg(&reload)
        .arg("--copy")
        .arg(scripts.join("lib.sh"))
        .arg("--env")
        .arg(format!("PISTACK_BIN={}", bin.display()))
        .arg("--env")
        .arg(format!("PISTACK_CONF={}", conf.display()))
        .arg("--env")
        .arg(format!("PISTACK_CONF_RELOAD={}", reload.display()))
        .arg("--")
        .arg(scripts.join(script))
        .output()
        .expect("run gpio-sim-vm");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("gpio-sim-vm ran {script} in {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
    match out.status.code() {
        Some(0) => Some(Output::parse(stdout)),
        Some(125) => {
            vm::skip(
                "gpio_vm",
                &format!("gpio-sim-vm cannot run a VM on this machine (exit 125)\n{stderr}"),
            );
            None
        }
        code => panic!("gpio-sim-vm exited {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
    }
}

fn pin<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no pin {name} in {list}"))
}

fn edges(events: &Value) -> Vec<(String, String, u64)> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pin"].as_str().unwrap().to_string(),
                e["edge"].as_str().unwrap().to_string(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn cdev_backend_against_the_kernels_gpio_sim() {
    let Some(out) = run_in_vm("functional.sh") else {
        return;
    };
    let chip = out.tag("chip").to_string();
    assert!(chip.starts_with("gpiochip"), "{chip}");
    assert_eq!(out.tag("done"), "", "the script ran to its end");

    // Lookup by chip name, label and path; by line offset and line name.
    let list = out.ok("list");
    for (name, line) in [
        ("LED", 1),
        ("LEDN", 3),
        ("BTN", 2),
        ("BTNL", 4),
        ("DEB", 5),
        ("PLAIN", 7),
    ] {
        let p = pin(&list, name);
        assert_eq!(
            (p["chip"].as_str(), p["line"].as_u64()),
            (Some(chip.as_str()), Some(line)),
            "{p}"
        );
        assert!(p.get("error").is_none(), "{p}");
    }
    assert_eq!(pin(&list, "LED")["value"], 0);
    assert_eq!(pin(&list, "LEDN")["value"], 0);
    assert_eq!(pin(&list, "BTN")["value"], 1, "requested with pull-up");
    assert_eq!(
        pin(&list, "BTNL")["value"],
        1,
        "pull-down on an active-low pin reads 1"
    );
    // The kernel saw the requests: initial values (LEDN is active low: logical 0 is high) and biases.
    assert_eq!(
        out.tag("sysfs_initial"),
        "led=0 ledn=1 btn_pull=pull-up btnl_pull=pull-down"
    );

    // Outputs written through the API are seen by the kernel, and held.
    assert_eq!(out.ok("led_on")["value"], 1);
    assert_eq!(out.tag("sysfs_led_on"), "1");
    assert_eq!(out.ok("ledn_on")["value"], 1);
    assert_eq!(
        out.tag("sysfs_ledn_on"),
        "0",
        "active low: logical 1 drives the line low"
    );
    assert_eq!(out.ok("led_still_on")["value"], 1);
    assert_eq!(out.tag("sysfs_led_still_on"), "1");
    assert_eq!(out.ok("led_toggle")["value"], 0);
    assert_eq!(out.tag("sysfs_led_toggled"), "0");
    assert_eq!(out.tag("sysfs_led_during_pulse"), "1");
    assert_eq!(out.ok("led_pulse")["value"], 0);
    assert_eq!(out.tag("sysfs_led_after_pulse"), "0");
    assert_eq!(out.api("led_bad_value").0, 400);
    assert_eq!(out.api("btn_write").0, 409);

    // The peer cannot take a line pistack holds.
    let peer = out.tag("peer_gpioset_led_rc");
    assert!(
        !peer.starts_with("0 "),
        "gpioset took pistack's line: {peer}"
    );
    assert!(peer.to_lowercase().contains("busy"), "{peer}");

    // gpioinfo and /api/io/chips agree, line by line.
    let info = parse_gpioinfo(&out.blocks["gpioinfo"]);
    assert_eq!(info.len(), 8, "{:?}", out.blocks["gpioinfo"]);
    let chips = out.ok("chips");
    let ours = chips
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == chip.as_str())
        .unwrap_or_else(|| panic!("{chip} not in {chips}"));
    assert_eq!(
        (ours["label"].as_str(), ours["lines"].as_u64()),
        (Some(LABEL), Some(8))
    );
    let api_lines: Vec<InfoLine> = ours["line_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["offset"].as_u64().unwrap(),
                l["name"].as_str().map(str::to_string),
                l["consumer"].as_str().map(str::to_string),
                l["used"].as_bool().unwrap(),
                l["direction"].as_str().unwrap().to_string(),
                l["active_low"].as_bool().unwrap(),
                l["bias"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(api_lines, info, "pistack's /api/io/chips vs gpioinfo");
    let held = |o: usize| {
        (
            info[o].2.as_deref(),
            info[o].3,
            info[o].4.as_str(),
            info[o].5,
        )
    };
    assert_eq!(held(1), (Some("pistack"), true, "out", false));
    assert_eq!(held(3), (Some("pistack"), true, "out", true));
    assert_eq!(held(2), (Some("pistack"), true, "in", false));
    assert_eq!(held(4), (Some("pistack"), true, "in", true));
    assert_eq!(held(6), (Some("gpioset"), true, "out", false));
    assert_eq!(held(0), (None, false, "in", false));
    let biases: Vec<&str> = info.iter().map(|l| l.6.as_str()).collect();
    assert_eq!(
        biases,
        [
            "as-is",
            "as-is",
            "pull-up",
            "as-is",
            "pull-down",
            "pull-up",
            "as-is",
            "disabled"
        ]
    );
    assert_eq!(
        (info[2].1.as_deref(), info[3].1.as_deref()),
        (Some("BUTTON"), Some("LED"))
    );

    // Inputs follow gpio-sim's pull, and every change is an edge with the right logical name.
    assert_eq!(out.ok("btn_read_high")["value"], 1);
    assert_eq!(out.ok("btn_read_low")["value"], 0);
    assert_eq!(out.ok("btnl_read")["value"], 1);
    assert_eq!(
        out.ok("btnl_read_high")["value"],
        0,
        "active low: physical high reads 0"
    );
    assert_eq!(out.ok("plain_read_low")["value"], 0);
    assert_eq!(out.ok("plain_read_high")["value"], 1);
    let events = out.ok("events_edges");
    let s = |p: &str, e: &str, v: u64| (p.to_string(), e.to_string(), v);
    assert_eq!(
        edges(&events),
        vec![
            s("BTN", "falling", 0),
            s("BTN", "rising", 1),
            s("BTNL", "falling", 0),
            s("BTNL", "rising", 1)
        ],
        "{events}"
    );
    for (i, e) in events.as_array().unwrap().iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1);
        let (ts, seen) = (
            e["timestamp_ns"].as_u64().unwrap(),
            e["seen_ns"].as_u64().unwrap(),
        );
        assert!(
            ts > 0 && seen >= ts,
            "kernel time {ts} before pistack's {seen}: {e}"
        );
        assert!(
            seen - ts < 1_000_000_000,
            "an edge took {} ms to arrive: {e}",
            (seen - ts) / 1_000_000
        );
    }

    // Debounce: a glitch shorter than 300 ms is swallowed; a bouncing press is one
    // falling edge, published at least 300 ms after the last raw edge; the release
    // (rising) is filtered out by edge=falling.
    assert_eq!(out.ok("events_after_glitch"), Value::Array(vec![]));
    let press = out.ok("events_after_press");
    assert_eq!(edges(&press), vec![s("DEB", "falling", 0)], "{press}");
    let waited = press[0]["seen_ns"].as_u64().unwrap() - press[0]["timestamp_ns"].as_u64().unwrap();
    assert!(
        (300_000_000..800_000_000).contains(&waited),
        "published {waited} ns after the last raw edge"
    );

    let burst = out.ok("events_after_burst");
    assert_eq!(
        edges(&burst),
        vec![s("DEB", "falling", 0)],
        "one edge for a long burst: {burst}"
    );
    assert_eq!(out.ok("deb_after_burst")["value"], 0);

    // Failure is local: the pin answers 503 with its reason, the rest works, health says degraded.
    let (status, body) = out.api("busy");
    assert_eq!(status, 503);
    assert_eq!(
        body["message"].as_str().unwrap(),
        format!("pin BUSY: line 6 of {chip} is busy: held by \"gpioset\" (EBUSY)")
    );
    let (status, body) = out.api("nochip");
    assert_eq!(status, 503);
    let m = body["message"].as_str().unwrap();
    assert!(
        m.starts_with("pin NOCHIP: chip \"no-such-chip\" not found") && m.contains(LABEL),
        "{m}"
    );
    let (status, body) = out.api("noline");
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (
            503,
            format!("pin NOLINE: {chip} has no line named \"NOPE\"").as_str()
        )
    );
    let (status, body) = out.api("far");
    assert_eq!(status, 503);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("there is no line 99"),
        "{body}"
    );
    let health = out.ok("health");
    assert_eq!(health["status"], "degraded");
    let io = health["subsystems"]["io"].as_str().unwrap();
    for p in ["BUSY", "NOCHIP", "NOLINE", "FAR"] {
        assert!(io.contains(&format!("pin {p}: ")), "{io}");
    }
    assert_eq!(out.ok("led_after_failures")["value"], 0);
    assert!(pin(&out.ok("final_list"), "BUSY")["error"]
        .as_str()
        .unwrap()
        .contains("EBUSY"));

    // A reload against the kernel: only the changed pins' lines were let go and requested.
    let reload = out.ok("reload");
    assert_eq!(
        reload["pins"],
        serde_json::json!({"added": ["ZERO"], "changed": ["DEB"], "removed": ["LEDN"]}),
        "{reload}"
    );
    assert_eq!(out.tag("sysfs_led_after_reload"), "1", "LED untouched");
    assert_eq!(
        out.tag("sysfs_zero_after_reload"),
        "1",
        "ZERO at its initial 1"
    );
    assert!(
        out.tag("peer_gpioset_ledn_after_reload_rc")
            .starts_with("0"),
        "line 3 free once LEDN is removed: {}",
        out.tag("peer_gpioset_ledn_after_reload_rc")
    );
    let info = parse_gpioinfo(&out.blocks["gpioinfo_reload"]);
    let holder = |line: u64| info.iter().find(|l| l.0 == line).and_then(|l| l.2.clone());
    assert_eq!(
        [0, 1, 3, 5, 7].map(holder),
        [
            Some("pistack".to_string()),
            Some("pistack".to_string()),
            None,
            Some("pistack".to_string()),
            Some("pistack".to_string())
        ],
        "{info:?}"
    );
    let before = out.ok("events_before_reload");
    let after = out.ok("events_after_reload");
    let (before, after) = (before.as_array().unwrap(), after.as_array().unwrap());
    assert_eq!(&after[..before.len()], &before[..], "the history is kept");
    assert_eq!(
        edges(&Value::Array(after[before.len()..].to_vec())),
        vec![s("BTN", "falling", 0), s("DEB", "falling", 0)],
        "BTN still watched, DEB watched anew without debounce"
    );

    // Once pistack stops (cleanly), the peer reads what pistack read, and gets the line.
    assert_eq!(out.tag("daemon_exit"), "0");
    let last = out.ok("final_list");
    assert_eq!(
        out.tag("peer_gpioget_btn"),
        pin(&last, "BTN")["value"].to_string()
    );
    assert_eq!(
        out.tag("peer_gpioget_btnl"),
        pin(&last, "BTNL")["value"].to_string()
    );
    assert_eq!(
        out.tag("peer_gpioget_plain"),
        pin(&last, "PLAIN")["value"].to_string()
    );
    assert!(
        out.tag("peer_gpioset_led_after_rc").starts_with("0 "),
        "{}",
        out.tag("peer_gpioset_led_after_rc")
    );
    let after = parse_gpioinfo(&out.blocks["gpioinfo_after"]);
    assert!(
        after.iter().all(|l| l.2.as_deref() != Some("pistack")),
        "released: {after:?}"
    );
    assert!(
        !out.blocks["daemon_log"]
            .iter()
            .any(|l| l.contains("panicked")),
        "{:?}",
        out.blocks["daemon_log"]
    );
}
