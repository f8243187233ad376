mod common;
use common::*;

#[test]
fn starts_logs_in_and_stops_cleanly() {
    let mut d = Daemon::start(serde_json::json!({}));
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "ok");
    let t = d.root();
    assert_eq!(d.get("/api/auth/session/me", &t).body["name"], "root");
    assert_eq!(d.stop(), Some(0));
}
