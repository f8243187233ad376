//! The web page's files over real sockets: headers, ETag, gzip siblings, and no
//! path that leaves the web root.
mod common;
use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Send raw bytes, return the whole answer (the server closes or we time out).
fn raw(d: &Daemon, request: &str) -> String {
    let addr = d.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn raw_get(d: &Daemon, path: &str) -> String {
    raw(
        d,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn static_files_headers_etag_gzip() {
    let d = Daemon::start(json!({}));
    let r = d.call("GET", "/", None, None);
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("<html") || r.text.contains("<!doctype"),
        "{}",
        r.text
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let etag = r.header("etag").unwrap().to_string();
    let again = ureq::get(&d.url("/"))
        .set("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(again.status(), 304);

    // A .gz sibling goes to clients that accept gzip.
    let dir = temp_dir("gz");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html>plain").unwrap();
    std::fs::write(www.join("app.js"), "let a = 1;").unwrap();
    let gz = std::process::Command::new("gzip")
        .args(["-k", "-f"])
        .arg(www.join("app.js"))
        .status()
        .unwrap();
    assert!(gz.success());
    drop(d);
    let d = Daemon::start_in(dir, json!({"http": {"www_dir": www}}), &[]);
    let plain = raw(
        &d,
        "GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(plain.contains("let a = 1;"), "{plain}");
    assert!(plain
        .to_ascii_lowercase()
        .contains("content-type: text/javascript"));
    let zipped = raw(
        &d,
        "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    let lower = zipped.to_ascii_lowercase();
    assert!(lower.contains("content-encoding: gzip"), "{zipped}");
    assert!(lower.contains("content-type: text/javascript"), "{zipped}");
    assert!(!zipped.contains("let a = 1;"));
    assert!(raw_get(&d, "/missing.css").starts_with("HTTP/1.1 404"));
}

#[test]
fn no_path_leaves_the_web_root() {
    let dir = temp_dir("escape");
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html>in").unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), www.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&dir, www.join("up")).unwrap();
    let d = Daemon::start_in(dir, json!({"http": {"www_dir": www}}), &[]);
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "/.%2e/secret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/up/pistack.json",
        "//etc/passwd",
        "/%00../secret.txt",
        "/sub/..;/..;/secret.txt",
    ] {
        let out = raw_get(&d, path);
        assert!(
            !out.contains("TOP-SECRET") && !out.contains("root:"),
            "{path} escaped:\n{out}"
        );
        assert!(
            out.starts_with("HTTP/1.1 404") || out.starts_with("HTTP/1.1 400"),
            "{path}: {out}"
        );
    }
    assert!(raw_get(&d, "/").contains("<!doctype html>in"));
}

/// A browser loading the page opens several keep-alive connections at once (six
/// for Chromium) and leaves them open. Each must be answered at once, not after
/// another connection goes idle: tiny_http's task pool used to queue a new
/// connection for an idle thread that a simultaneous one had already taken.
#[test]
fn a_burst_of_keep_alive_connections_is_answered_at_once() {
    let d = Daemon::start(json!({}));
    let addr = d.base.trim_start_matches("http://").to_string();
    for round in 0..10 {
        let started = std::time::Instant::now();
        // 16: more than a browser opens, and with the last round's still closing
        // no more than one client's bound (http.max_connections_per_client, 32).
        let clients: Vec<_> = (0..16)
            .map(|_| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(&addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    s.write_all(b"GET /favicon.svg HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    let mut head = [0u8; 12];
                    s.read_exact(&mut head).unwrap();
                    assert_eq!(&head, b"HTTP/1.1 200");
                    s // kept open, as a browser keeps it
                })
            })
            .collect();
        let open: Vec<TcpStream> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "round {round}: 16 connections took {took:?} to be answered"
        );
        drop(open);
    }
}
