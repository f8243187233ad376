//! The GPIO API over real HTTP, on the daemon's `sim` backend (no kernel needed).
//! The same checks against a real kernel are in `gpio_vm.rs`.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn pins() -> Value {
    json!({
        "backend": "sim",
        "pins": {
            "LED": {"chip": "gpiochip0", "line": 17, "direction": "out", "initial": 0},
            "RELAY": {"chip": "pistack-sim-aux", "line": 3, "direction": "out", "initial": 1, "active_low": true},
            "BUTTON": {"chip": "/dev/gpiochip0", "line": "GPIO27", "direction": "in", "edge": "falling",
                       "debounce_ms": 200, "bias": "pull-up"},
            "DOOR": {"line": 22, "direction": "in", "edge": "both", "bias": "pull-down", "active_low": true},
            "TWIN": {"line": "GPIO17", "direction": "in"},  // line 17 by its name: only the daemon can tell
            "GHOST": {"chip": "no-such-chip", "line": 1, "direction": "out"}
        }
    })
}

fn events_after(d: &Daemon, t: &str, after: u64, want: usize) -> Vec<Value> {
    eventually(5, || {
        let r = d.get(&format!("/api/io/gpio/events?after={after}"), t);
        assert_eq!(r.status, 200, "{}", r.text);
        let ev = r.body.as_array().unwrap().clone();
        (ev.len() >= want).then_some(ev)
    })
    .unwrap_or_else(|| panic!("fewer than {want} events after {after}"))
}

#[test]
fn pins_by_name_values_errors_and_levels() {
    let d = Daemon::start(json!({"gpio": pins()}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let admin = d.user(&root, "operator", "Admin");

    // The list: every configured pin, in the Pin shape, failed ones with their error.
    let r = d.get("/api/io/gpio", &user);
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["BUTTON", "DOOR", "GHOST", "LED", "RELAY", "TWIN"]);
    let led = &list[3];
    assert_eq!(
        led,
        &json!({"name": "LED", "chip": "gpiochip0", "line": 17, "direction": "out", "active_low": false,
                "bias": "as-is", "edge": "none", "value": 0})
    );
    let button = &list[0];
    assert_eq!(button["line"], 27, "line by name resolved");
    assert_eq!(button["chip"], "gpiochip0", "chip by path shown by name");
    assert_eq!(button["value"], 1, "pull-up");
    assert_eq!(button["bias"], "pull-up");
    assert_eq!(button["edge"], "falling");
    assert_eq!(list[1]["value"], 1, "DOOR: pulled down, active low");
    assert_eq!(list[4]["chip"], "gpiochip1", "RELAY: chip by label");
    assert_eq!(list[4]["value"], 1, "RELAY: initial is logical");
    assert_eq!(
        list[5]["error"],
        "line 17 of gpiochip0 is busy: held by \"pistack\" (EBUSY)"
    );
    assert_eq!(list[5]["value"], Value::Null);
    assert!(
        list[2]["error"]
            .as_str()
            .unwrap()
            .contains("chip \"no-such-chip\" not found"),
        "{}",
        list[2]
    );

    // Read, write, toggle, pulse.
    assert_eq!(d.get("/api/io/gpio/LED", &user).body["value"], 0);
    let put = |t: &str, name: &str, body: Value| {
        d.call("PUT", &format!("/api/io/gpio/{name}"), Some(t), Some(&body))
    };
    assert_eq!(
        put(&user, "LED", json!({"value": 1})).status,
        403,
        "User may not write"
    );
    let r = put(&admin, "LED", json!({"value": 1}));
    assert_eq!((r.status, &r.body["value"]), (200, &json!(1)), "{}", r.text);
    assert_eq!(
        d.get("/api/io/gpio/LED", &user).body["value"],
        1,
        "outputs keep their value"
    );
    assert_eq!(put(&admin, "LED", json!({"value": false})).body["value"], 0);
    assert_eq!(put(&admin, "LED", json!({"value": true})).body["value"], 1);
    assert_eq!(
        d.post("/api/io/gpio/LED/toggle", &admin, json!({})).body["value"],
        0
    );
    assert_eq!(
        d.call("POST", "/api/io/gpio/LED/toggle", Some(&admin), None)
            .body["value"],
        1
    );
    let t = Instant::now();
    let r = d.post(
        "/api/io/gpio/LED/pulse",
        &admin,
        json!({"ms": 60, "value": 1}),
    );
    assert_eq!((r.status, &r.body["value"]), (200, &json!(0)), "{}", r.text);
    assert!(
        t.elapsed() >= Duration::from_millis(60),
        "answers after the pulse"
    );
    assert_eq!(
        d.post(
            "/api/io/gpio/LED/pulse",
            &admin,
            json!({"ms": 10, "value": 0})
        )
        .body["value"],
        1
    );

    // Bad input: 400 naming the field.
    for (body, msg) in [
        (
            json!({"value": 2}),
            "value: must be 0, 1, true or false, not 2",
        ),
        (
            json!({"value": "1"}),
            "value: must be 0, 1, true or false, not \"1\"",
        ),
        (json!({}), "value: missing"),
        (
            json!({"value": 1, "colour": "red"}),
            "unknown field \"colour\"; expected value",
        ),
        (json!([1]), "the body must be a JSON object with value"),
    ] {
        let r = put(&admin, "LED", body);
        assert_eq!((r.status, r.message()), (400, msg));
    }
    for body in [
        json!({"ms": 0}),
        json!({"ms": 10001}),
        json!({"ms": "5"}),
        json!({"value": 1}),
    ] {
        let r = d.post("/api/io/gpio/LED/pulse", &admin, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.message().starts_with("ms: "), "{}", r.message());
    }
    // Inputs: 409. Unknown: 404. Failed: 503 with the reason. Wrong method: 405.
    assert_eq!(put(&admin, "BUTTON", json!({"value": 1})).status, 409);
    assert_eq!(
        d.post("/api/io/gpio/BUTTON/toggle", &admin, json!({}))
            .status,
        409
    );
    assert_eq!(
        d.post("/api/io/gpio/BUTTON/pulse", &admin, json!({"ms": 5}))
            .status,
        409
    );
    assert_eq!(d.get("/api/io/gpio/NOPE", &user).status, 404);
    assert_eq!(put(&admin, "NOPE", json!({"value": 1})).status, 404);
    let r = d.get("/api/io/gpio/GHOST", &user);
    assert_eq!(r.status, 503);
    assert!(
        r.message()
            .starts_with("pin GHOST: chip \"no-such-chip\" not found"),
        "{}",
        r.message()
    );
    let r = put(&admin, "TWIN", json!({"value": 1}));
    assert_eq!(
        (r.status, r.message()),
        (
            503,
            "pin TWIN: line 17 of gpiochip0 is busy: held by \"pistack\" (EBUSY)"
        )
    );
    let r = d.call("DELETE", "/api/io/gpio/LED", Some(&admin), None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, PUT"));

    // Health: degraded, naming the pins.
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["status"], "degraded");
    let io = h.body["subsystems"]["io"].as_str().unwrap();
    assert!(
        io.contains("pin GHOST: chip") && io.contains("pin TWIN: line 17"),
        "{io}"
    );

    // Chips: Admin+, what gpioinfo shows.
    assert_eq!(d.get("/api/io/chips", &user).status, 403);
    let r = d.get("/api/io/chips", &admin);
    assert_eq!(r.status, 200, "{}", r.text);
    let chips = r.body.as_array().unwrap();
    assert_eq!(
        (chips[0]["name"].as_str(), chips[0]["label"].as_str()),
        (Some("gpiochip0"), Some("pistack-sim"))
    );
    assert_eq!(chips[0]["lines"], 54);
    assert_eq!(
        chips[0]["line_info"][17],
        json!({"offset": 17, "name": "GPIO17", "consumer": "pistack", "used": true, "direction": "out", "active_low": false, "bias": "as-is"})
    );
    assert_eq!(chips[0]["line_info"][5]["used"], false);
    assert_eq!(chips[1]["line_info"][3]["active_low"], true);
}

#[test]
fn simulated_inputs_make_debounced_logical_edges() {
    let d = Daemon::start(json!({"gpio": pins()}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let sim = |name: &str, level: u8| {
        let r = d.call(
            "PUT",
            &format!("/api/io/sim/gpio/{name}"),
            Some(&root),
            Some(&json!({"level": level})),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    };
    assert_eq!(
        d.call(
            "PUT",
            "/api/io/sim/gpio/LED",
            Some(&user),
            Some(&json!({"level": 1}))
        )
        .status,
        403
    );
    assert!(d
        .get("/api/io/gpio/events", &user)
        .body
        .as_array()
        .unwrap()
        .is_empty());

    // BUTTON (falling only, 200 ms debounce): a bouncing press gives one event.
    for level in [0, 1, 0, 1, 0] {
        sim("BUTTON", level);
    }
    let ev = events_after(&d, &user, 0, 1);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (ev[0]["seq"].as_u64(), ev[0]["pin"].as_str()),
        (Some(1), Some("BUTTON"))
    );
    assert_eq!(
        (ev[0]["edge"].as_str(), ev[0]["value"].as_u64()),
        (Some("falling"), Some(0))
    );
    assert!(ev[0]["time"].as_u64().unwrap() > 1_600_000_000);
    let waited = ev[0]["seen_ns"].as_u64().unwrap() - ev[0]["timestamp_ns"].as_u64().unwrap();
    assert!(
        waited >= 30_000_000,
        "published {waited} ns after the last raw edge"
    );
    assert_eq!(d.get("/api/io/gpio/BUTTON", &user).body["value"], 0);
    // Release: a rising edge, filtered out by edge=falling.
    sim("BUTTON", 1);
    // A glitch shorter than the debounce: nothing.
    sim("BUTTON", 0);
    sim("BUTTON", 1);

    // DOOR (both, active low): physical high is logical 0, so a logical falling edge.
    assert_eq!(sim("DOOR", 1)["value"], 0);
    assert_eq!(sim("DOOR", 0)["value"], 1);
    let ev = events_after(&d, &user, 1, 2);
    let got: Vec<(&str, &str, u64)> = ev
        .iter()
        .map(|e| {
            (
                e["pin"].as_str().unwrap(),
                e["edge"].as_str().unwrap(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("DOOR", "falling", 0), ("DOOR", "rising", 1)]);
    // Nothing came of BUTTON's release and glitch: a press made two debounce
    // windows later (debounce goes by edge timestamps) is the next BUTTON event,
    // and anything the release or the glitch made would stand before it.
    std::thread::sleep(Duration::from_millis(400));
    let before = Instant::now();
    sim("BUTTON", 0);
    let ev = eventually(5, || {
        let all = d.get("/api/io/gpio/events", &user).body;
        let all = all.as_array().unwrap().clone();
        let marker = all
            .iter()
            .any(|e| e["pin"] == "BUTTON" && e["seq"].as_u64() > Some(1));
        marker.then_some(all)
    })
    .expect("the second press was not reported");
    assert!(
        before.elapsed() >= Duration::from_millis(200),
        "not debounced"
    );
    let pins: Vec<&str> = ev.iter().map(|e| e["pin"].as_str().unwrap()).collect();
    assert_eq!(
        pins,
        ["BUTTON", "DOOR", "DOOR", "BUTTON"],
        "no BUTTON events between"
    );

    // after / limit.
    let r = d.get("/api/io/gpio/events?after=1&limit=1", &user);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["seq"], 2);
    assert_eq!(d.get("/api/io/gpio/events?limit=100000", &user).status, 400);
    assert_eq!(d.get("/api/io/gpio/events?after=x", &user).status, 400);
    // Outputs are not driven from outside, and failed pins say why.
    sim("LED", 1);
    assert_eq!(d.get("/api/io/gpio/LED", &user).body["value"], 0);
    let r = d.call(
        "PUT",
        "/api/io/sim/gpio/GHOST",
        Some(&root),
        Some(&json!({"level": 1})),
    );
    assert_eq!(r.status, 503);
}

#[test]
fn a_daemon_whose_pins_all_work_is_healthy() {
    let d = Daemon::start(json!({"gpio": {"backend": "sim", "pins": {
        "LED": {"line": 17, "direction": "out"},
        "BUTTON": {"line": 27, "edge": "both"}
    }}}));
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["status"], "ok", "{}", h.text);
    assert_eq!(h.body["subsystems"]["io"], "ok");
}

#[test]
fn check_config_names_the_pin_and_the_key() {
    let dir = temp_dir("gpio-check");
    let path = dir.join("bad.json");
    let bad = json!({"gpio": {"pins": {
        "LED": {"line": 17, "direction": "out", "edge": "rising"},
        "BUTTON": {"line": 27, "debounce_ms": 20000}
    }}});
    std::fs::write(&path, bad.to_string()).unwrap();
    let (code, err) = check_config(&path);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("gpio.pins.LED.edge: only an input pin can watch edges"),
        "{err}"
    );
    assert!(
        err.contains("gpio.pins.BUTTON.debounce_ms: must be at most 10000"),
        "{err}"
    );
    std::fs::write(
        &path,
        json!({"gpio": {"pins": {"LED": {"line": 17, "direction": "sideways"}}}}).to_string(),
    )
    .unwrap();
    let (code, err) = check_config(&path);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("sideways") && err.contains("line 1 column"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
