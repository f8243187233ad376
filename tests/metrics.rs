//! `/metrics` of the real daemon: request counts, GPIO and process gauges, and
//! the `metrics.public` switch.
mod common;
use common::*;
use serde_json::json;

#[test]
fn metrics_count_requests_and_can_be_public() {
    let mut config = sample_config();
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
