//! The daemon's log lines: journald priorities under systemd, a local RFC 3339
//! time on a terminal.
mod common;
use common::*;
use serde_json::json;

#[test]
fn logs_carry_journald_priorities_under_systemd() {
    let dir = temp_dir("journal");
    let d = Daemon::start_in(dir, json!({}), &[("JOURNAL_STREAM", "8:12345")]);
    d.call("GET", "/api/health", None, None);
    let line = d
        .wait_log(10, |l| l.contains("GET /api/health 200"))
        .unwrap();
    assert!(line.starts_with("<6>GET /api/health 200"), "{line}");
    d.call("GET", "/api/nope", None, None);
    let line = d.wait_log(10, |l| l.contains("/api/nope")).unwrap();
    assert!(line.starts_with("<6>"), "{line}");
}

#[test]
fn terminal_lines_start_with_the_local_time() {
    // A POSIX TZ string needs no zone files: eight hours west of UTC, no DST.
    let d = Daemon::start_in(temp_dir("terminal-log"), json!({}), &[("TZ", "PST8")]);
    d.call("GET", "/api/health", None, None);
    let line = d
        .wait_log(10, |l| l.contains("GET /api/health 200"))
        .unwrap();
    let (stamp, rest) = line.split_once(' ').unwrap();
    // 2026-12-02T07:04:05.123-08:00
    assert_eq!(stamp.len(), 29, "{line}");
    assert_eq!(&stamp[4..5], "-", "{line}");
    assert_eq!(&stamp[10..11], "T", "{line}");
    assert_eq!(&stamp[19..20], ".", "{line}");
    assert!(stamp.ends_with("-08:00"), "{line}");
    assert!(rest.starts_with("INFO  GET /api/health 200"), "{line}");
    let year: u32 = stamp[..4].parse().unwrap();
    assert!(year >= 2024, "{line}");
}
