//! The vendored tiny_http's request framing (`vendor/tiny_http/src/framing.rs`)
//! and connection registry (`src/util/guard.rs`), tested here because `cargo
//! test` runs this crate's tests, not the vendored one's.
#![cfg(test)]
use tiny_http::{parse_head, read_body, BodyError, BodyFraming, Head, Refusal};
const MAX_REQUEST_LINE: usize = 8 * 1024;
const MAX_HEADERS: usize = 100;

fn head(h: &str) -> Result<Head, Refusal> {
    parse_head(h.as_bytes())
}

fn framing(headers: &str) -> Result<BodyFraming, u16> {
    head(&format!("POST / HTTP/1.1\r\n{headers}\r\n"))
        .map(|h| h.body)
        .map_err(|r| r.status)
}

#[test]
fn plain_requests() {
    let h = head("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n").unwrap();
    assert_eq!(h.target, "/a?b=c");
    assert_eq!(h.headers[1].value.as_str(), "z");
    assert_eq!(h.body, BodyFraming::None);
    assert_eq!(
        framing("Content-Length: 12\r\n"),
        Ok(BodyFraming::Length(12))
    );
    assert_eq!(
        framing("Content-Length: 5\r\ncontent-length: 5\r\n"),
        Ok(BodyFraming::Length(5))
    );
    assert_eq!(
        framing("Transfer-Encoding: Chunked\r\n"),
        Ok(BodyFraming::Chunked)
    );
}

#[test]
fn ambiguous_framing_is_refused() {
    for bad in [
        "Content-Length: abc\r\n",
        "Content-Length: -5\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: \r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: 18446744073709551616\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
    ] {
        assert_eq!(framing(bad), Err(400), "{bad:?}");
    }
}

#[test]
fn malformed_heads_are_refused() {
    let status = |h: &[u8]| parse_head(h).map(|_| ()).unwrap_err().status;
    assert_eq!(status(b"GET / HTTP/1.1\nHost: x\n\n"), 400);
    assert_eq!(status(b"GET  / HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(status(b"GET / HTTP/1.1\r\nX : y\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\n folded\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: \xc3\xa9\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"), 417);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
    assert_eq!(status(long.as_bytes()), 414);
    let many = format!(
        "GET / HTTP/1.1\r\n{}\r\n",
        "A: b\r\n".repeat(MAX_HEADERS + 1)
    );
    assert_eq!(status(many.as_bytes()), 431);
}

#[test]
fn bodies() {
    let mut s: &[u8] = b"4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT";
    assert_eq!(
        read_body(&mut s, BodyFraming::Chunked, 100).unwrap(),
        b"Wikipedia"
    );
    assert_eq!(s, b"NEXT");
    let mut s: &[u8] = b"ffffffffffffffff\r\n";
    assert!(matches!(
        read_body(&mut s, BodyFraming::Chunked, 100),
        Err(BodyError::TooLarge)
    ));
    let mut s: &[u8] = b"zz\r\n";
    assert!(matches!(
        read_body(&mut s, BodyFraming::Chunked, 100),
        Err(BodyError::Malformed(_))
    ));
    let mut s: &[u8] = b"abc";
    assert!(matches!(
        read_body(&mut s, BodyFraming::Length(99_999_999_999), 100),
        Err(BodyError::TooLarge)
    ));
    assert!(matches!(
        read_body(&mut s, BodyFraming::Length(5), 100),
        Err(BodyError::Io(_))
    ));
}

#[test]
fn registry_bounds_reclaim_idle_and_keep_room_for_loopback() {
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tiny_http::{Bounds, Refused, Registry};
    let woken = Arc::new(AtomicUsize::new(0));
    let wake = || {
        let w = woken.clone();
        Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }) as Box<dyn Fn() + Send>
    };
    let r = Registry::new(Bounds {
        max_connections: 3,
        max_per_client: 2,
        loopback_reserve: 1,
    });
    let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    // A connection is idle (reclaimable) until its first request starts.
    let busy = |slot: tiny_http::Slot| {
        slot.set_idle(false);
        slot
    };
    let a1 = busy(r.admit(ip("10.0.0.1"), wake()).unwrap());
    let _a2 = busy(r.admit(ip("10.0.0.1"), wake()).unwrap());
    // A client at its bound with nothing idle is refused...
    assert_eq!(
        r.admit(ip("10.0.0.1"), wake()).err(),
        Some(Refused::ClientFull)
    );
    // ...and with an idle connection, that one is reclaimed for the newcomer.
    a1.set_idle(true);
    let _a3 = busy(r.admit(ip("10.0.0.1"), wake()).unwrap());
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    let b1 = busy(r.admit(ip("10.0.0.2"), wake()).unwrap());
    // The server is full and nothing is idle: a LAN client is refused, the host is not.
    assert_eq!(
        r.admit(ip("10.0.0.3"), wake()).err(),
        Some(Refused::ServerFull)
    );
    let lo = busy(r.admit(ip("127.0.0.1"), wake()).unwrap());
    assert_eq!(r.admit(ip("::1"), wake()).err(), Some(Refused::ServerFull));
    drop(lo);
    // An idle connection anywhere makes room at the global cap.
    b1.set_idle(true);
    let _c1 = r.admit(ip("10.0.0.3"), wake()).unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 2);
    // A newcomer that has sent nothing yet is idle too.
    let _c2 = r.admit(ip("10.0.0.4"), wake()).unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 3);
    drop((a1, b1));
    assert_eq!(r.open(), 3);
}
