//! `/api/health` and each service's health: what this build has, what it lacks,
//! and a failed pin degrading the daemon.
mod common;
use common::*;
use serde_json::json;

#[test]
fn health_says_what_is_built_and_what_is_not() {
    let d = Daemon::start(sample_config());
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["status"], "ok", "{}", h.body);
    assert_eq!(h.body["version"], env!("CARGO_PKG_VERSION"));
    for s in ["auth", "supervisor", "io", "info"] {
        assert_eq!(h.body["subsystems"][s], "ok", "{s}");
        let r = d.call("GET", &format!("/api/{s}/health"), None, None);
        assert_eq!((r.status, r.body["service"].as_str()), (200, Some(s)));
    }
    // No relay configured: e-mail says so, and that is not a fault.
    assert_eq!(h.body["subsystems"]["email"], "no SMTP configured");
    let r = d.call("GET", "/api/email/health", None, None);
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (503, Some("unavailable"))
    );
    // A pin that cannot be had degrades the daemon, not just the pin.
    let mut config = sample_config();
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
