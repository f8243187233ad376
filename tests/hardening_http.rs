//! Issue 8, the HTTP layer, as an attacker on the LAN would try it, over real
//! sockets against the real binary: while each attack runs, the daemon stays
//! alive and `/api/health` and a login from another client answer in under
//! 100 ms, with correct JSON.
mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A Pi Zero's memory, for `ulimit -v`.
const PI_ZERO_KIB: u64 = 512 * 1024;
/// What "answers at once" means here (the bound).
const FAST: Duration = Duration::from_millis(100);

fn addr(d: &Daemon) -> SocketAddr {
    d.base.trim_start_matches("http://").parse().unwrap()
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.x), so
/// that one test can be several clients.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 expected")
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let local = sockaddr(from, 0);
        let rc = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let remote = sockaddr(*to.ip(), to.port());
        let rc = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    }
}

/// One answer read off a socket: status, head (lower-cased) and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.head, self.body))
    }
    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {}", self.body))
            .to_string()
    }
    fn has(&self, header: &str) -> bool {
        self.head.contains(&format!("\r\n{header}"))
    }
}

/// Read one response (head and a Content-Length body) from `s`.
fn read_answer(s: &mut TcpStream) -> Option<Answer> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(Answer {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Send `request` on a fresh connection from 127.0.0.1, read one answer.
fn exchange(d: &Daemon, request: &[u8]) -> (Option<Answer>, TcpStream) {
    let mut s = TcpStream::connect(addr(d)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let a = read_answer(&mut s);
    (a, s)
}

/// Has the server closed `s` (after what it sent)?
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// `/api/health` and a root login, each on a new connection from `from`,
/// each answered correctly in under 100 ms; and the daemon still alive.
fn fast_checks(d: &mut Daemon, from: Ipv4Addr) {
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the daemon died"
    );
    let ask = |request: String| {
        let started = Instant::now();
        let mut s = connect_from(from, addr(d));
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let a = read_answer(&mut s);
        (a, started.elapsed())
    };
    let (health, took) =
        ask("GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into());
    let health = health.expect("no answer to /api/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["status"], "ok");
    assert!(took < FAST, "/api/health took {took:?}");
    let body = json!({"name": "root", "password": ROOT_PASSWORD}).to_string();
    let (login, took) = ask(format!(
        "POST /api/auth/session/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let login = login.expect("no answer to the login");
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.json()["access_token"].is_string());
    assert!(took < FAST, "the login took {took:?}");
}

const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// The daemon's state on tmpfs where there is one. A login writes
/// sessions.json with fsync, and on a CI disk shared with other jobs one fsync
/// alone can pass 100 ms; these tests bound the HTTP layer, not the disk.
/// It also holds [`ONE_AT_A_TIME`]: the 100 ms bounds measure the daemon under
/// one attack, not under this file's other attacks on two cores.
struct FastState(
    Option<std::path::PathBuf>,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

/// The tests of this file run one after the other (see [`FastState`]).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Drop for FastState {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Start the daemon with `extra`, its state on tmpfs, under `ulimit -v` when asked.
fn daemon(mut extra: Value, memory_kib: Option<u64>) -> (Daemon, FastState) {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let shm = std::path::Path::new("/dev/shm");
    let state = shm.is_dir().then(|| temp_dir_in(shm));
    if let Some(dir) = &state {
        extra["state_dir"] = json!(dir);
    }
    let d = match memory_kib {
        Some(kib) => Daemon::start_with_memory_limit(extra, kib),
        None => Daemon::start(extra),
    };
    (d, FastState(state, turn))
}

fn temp_dir_in(base: &std::path::Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = base.join(format!(
        "pistack-hardening-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The daemon really runs with a Pi Zero's address space.
fn assert_pi_zero_memory(d: &Daemon) {
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .unwrap();
    assert!(line.contains(&(PI_ZERO_KIB * 1024).to_string()), "{line}");
}

/// Item 1: a huge Content-Length on a request whose body nobody reads used to
/// abort the daemon (`vec![0; remaining]` on drop). Now: 413, closed, alive.
#[test]
fn a_huge_content_length_is_refused_and_kills_nothing() {
    let (mut d, _state) = daemon(json!({}), None);
    for path in ["/index.html", "/api/nope", "/api/auth/users", "/api/health"] {
        let (a, mut s) = exchange(
            &d,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc")
                .as_bytes(),
        );
        let a = a.unwrap_or_else(|| panic!("{path}: no answer"));
        // The old code answered, then aborted while draining the body.
        assert!(closed(&mut s), "{path}: the connection stayed open");
        fast_checks(&mut d, OTHER);
        assert_eq!(a.status, 413, "{path}: {}", a.body);
        assert!(a.message().contains("max_body_bytes"), "{}", a.body);
        assert!(a.has("connection: close"), "{}", a.head);
    }
}

/// Item 2: bodies trickled a byte at a time used to hold every worker.
/// Eight of them (twice the workers) now hold nothing but their own
/// connections, and each is cut off when its body's deadline passes.
#[test]
fn slow_bodies_hold_no_worker_and_are_cut_off() {
    let (mut d, _state) = daemon(json!({"http": {"idle_timeout_s": 2}}), Some(PI_ZERO_KIB));
    assert_pi_zero_memory(&d);
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr(&d)).unwrap();
            s.write_all(b"POST /api/auth/session/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{").unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let mut cut = vec![None; slow.len()];
    while cut.iter().any(Option::is_none) && started.elapsed() < Duration::from_secs(8) {
        for (s, cut) in slow.iter_mut().zip(cut.iter_mut()) {
            if cut.is_none() && s.write_all(b" ").is_err() {
                *cut = Some(started.elapsed());
            }
        }
        fast_checks(&mut d, OTHER);
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each was answered 408 with a JSON message before the close.
    for (s, cut) in slow.iter_mut().zip(&cut) {
        assert!(cut.is_some(), "a slow body was still accepted after 8 s");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let a = read_answer(s).expect("no 408 before the close");
        assert_eq!(a.status, 408);
        assert!(!a.message().is_empty());
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "cut off only after {:?}",
        started.elapsed()
    );
    fast_checks(&mut d, OTHER);
}

/// Item 3: framing that two parsers could read differently is refused with
/// 400 and a JSON message, and the connection closed: whatever follows is
/// never read as a request.
#[test]
fn ambiguous_framing_is_refused_and_closed() {
    let (mut d, _state) = daemon(json!({}), None);
    let next = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
    for framing in [
        "Content-Length: abc",
        "Content-Length: -5",
        "Content-Length: +5",
        "Content-Length: ",
        "Content-Length: 18446744073709551616",
        "Content-Length: 5\r\nContent-Length: 6",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: gzip, chunked",
    ] {
        let request =
            format!("POST /api/health HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\nhello{next}");
        let (a, mut s) = exchange(&d, request.as_bytes());
        let a = a.unwrap_or_else(|| panic!("{framing:?}: no answer"));
        assert_eq!(a.status, 400, "{framing:?}: {} {}", a.head, a.body);
        assert!(!a.message().is_empty());
        assert!(a.has("content-type: application/json"), "{}", a.head);
        assert!(a.has("connection: close"), "{}", a.head);
        assert!(
            closed(&mut s),
            "{framing:?}: the pipelined request was read"
        );
    }
    // The library's own refusals carry JSON too: a bad request line, a
    // non-UTF-8 header, an oversized head, an unknown version.
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let cases: [(&[u8], u16); 5] = [
        (b"NOT A REQUEST LINE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Name: \xff\xfe\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", 400),
        (big.as_bytes(), 431),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
    ];
    for (request, status) in cases {
        let (a, mut s) = exchange(&d, request);
        let shown = String::from_utf8_lossy(&request[..request.len().min(40)]).into_owned();
        let a = a.unwrap_or_else(|| panic!("{shown:?}: no answer"));
        assert_eq!(a.status, status, "{shown:?}: {}", a.body);
        assert!(!a.message().is_empty());
        assert!(closed(&mut s));
    }
    // Well-framed bodies still work: chunked, and Expect: 100-continue.
    let body = json!({"name": "root", "password": ROOT_PASSWORD}).to_string();
    let (half1, half2) = body.split_at(10);
    let chunked = format!(
        "POST /api/auth/session/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{half1}\r\n{:x}\r\n{half2}\r\n0\r\n\r\n",
        half1.len(),
        half2.len()
    );
    let (a, _) = exchange(&d, chunked.as_bytes());
    assert_eq!(a.unwrap().status, 200);
    let mut s = TcpStream::connect(addr(&d)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "POST /api/auth/session/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    assert_eq!(read_answer(&mut s).unwrap().status, 100);
    s.write_all(body.as_bytes()).unwrap();
    assert_eq!(read_answer(&mut s).unwrap().status, 200);
    fast_checks(&mut d, OTHER);
}

/// Item 4: 1100 idle connections from one address used to fill the cap and
/// keep every new client out, the watchdog's check from 127.0.0.1 included.
#[test]
fn idle_connections_from_one_address_keep_nobody_out() {
    let (mut d, _state) = daemon(json!({}), Some(PI_ZERO_KIB));
    assert_pi_zero_memory(&d);
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let idle: Vec<TcpStream> = (0..1100)
        .map(|_| connect_from(attacker, addr(&d)))
        .collect();
    // The server has seen them all once a request on the last one is answered
    // or refused (closed); connections are accepted in order.
    fast_checks(&mut d, OTHER);
    fast_checks(&mut d, Ipv4Addr::new(127, 0, 0, 3));
    let open = idle.into_iter().filter(|s| !closed_now(s)).count();
    assert!(open <= 32, "{open} idle connections from one address kept");
}

/// Item 4, the global cap: idle connections from many addresses fill it, and a
/// newcomer still gets in (the oldest idle one is reclaimed for it).
#[test]
fn at_the_connection_cap_idle_connections_make_room() {
    let (mut d, _state) = daemon(
        json!({"http": {"max_connections": 40, "max_connections_per_client": 10}}),
        Some(PI_ZERO_KIB),
    );
    assert_pi_zero_memory(&d);
    let mut idle = Vec::new();
    for host in 10..16 {
        for _ in 0..10 {
            idle.push(connect_from(Ipv4Addr::new(127, 0, 0, host), addr(&d)));
        }
    }
    for host in 20..24 {
        fast_checks(&mut d, Ipv4Addr::new(127, 0, 0, host));
    }
    // Every test client is on loopback, so the host's reserve (16) counts too.
    let open = idle.iter().filter(|s| !closed_now(s)).count();
    assert!(
        open <= 40 + 16,
        "{open} idle connections kept over a cap of 40"
    );
}

/// Has the server closed `s` already? (no waiting: the server admits or closes
/// connections in the order they arrive, and a later request has been answered)
fn closed_now(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match (&*s).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn slow_config() -> Value {
    json!({
        "http": {"slow_workers": 2},
        "gpio": {"backend": "sim", "pins": {
            "LED": {"chip": "gpiochip0", "line": 17, "direction": "out"}
        }},
        "programs": {
            "late": {"command": ["sleep", "1000"], "autostart": false, "startsecs": 2}
        }
    })
}

/// Item 5: long pulses and start waits used to hold every worker. Now they run
/// on the slow pool: health and logins stay fast, a full pool answers 503 with
/// Retry-After, and each pulse still answers 200 after its pulse.
#[test]
fn long_requests_run_off_the_workers() {
    let (mut d, _state) = daemon(slow_config(), None);
    let root = d.root();
    let url = |p: &str| d.url(p);
    let post = |path: String, body: Value, token: String| {
        std::thread::spawn(move || {
            let started = Instant::now();
            let r = ureq::post(&path)
                .set("Authorization", &format!("Bearer {token}"))
                .timeout(Duration::from_secs(30))
                .send_json(body);
            let (status, retry, body) = match r {
                Ok(r) => (r.status(), None, r.into_json::<Value>().unwrap()),
                Err(ureq::Error::Status(s, r)) => (
                    s,
                    r.header("retry-after").map(str::to_string),
                    r.into_json::<Value>().unwrap(),
                ),
                Err(e) => panic!("{path}: {e}"),
            };
            (status, retry, body, started.elapsed())
        })
    };
    // Five slow requests at once: two run, two wait, one is refused.
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push(post(
            url("/api/io/gpio/LED/pulse"),
            json!({"ms": 800}),
            root.clone(),
        ));
    }
    calls.push(post(
        url("/api/supervisor/processes/late/start"),
        json!(null),
        root.clone(),
    ));
    // While they run (the LED is lit for the first pulse), the fast path is fast.
    assert!(
        eventually(5, || (d.get("/api/io/gpio/LED", &root).body["value"] == 1)
            .then_some(()))
        .is_some()
    );
    for _ in 0..3 {
        fast_checks(&mut d, OTHER);
    }
    let results: Vec<_> = calls.into_iter().map(|c| c.join().unwrap()).collect();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(refused.len(), 1, "{results:?}");
    assert_eq!(refused[0].1.as_deref(), Some("1"), "Retry-After");
    assert!(refused[0].2["message"].as_str().unwrap().contains("busy"));
    for (status, _, body, took) in results.iter().filter(|r| r.0 != 503) {
        assert_eq!(*status, 200, "{body}");
        if body.get("value").is_some() {
            // The pulse is over when it answers: the LED is back to 0.
            assert_eq!(body["value"], 0, "{body}");
            assert!(*took >= Duration::from_millis(800), "{took:?}");
        } else {
            assert_eq!(body["state"], "RUNNING", "{body}");
            assert!(*took >= Duration::from_secs(2), "{took:?}");
        }
    }
    fast_checks(&mut d, OTHER);
}

/// Item 13, the HTTP parts: weak and listed validators give 304; a 204 has no
/// Content-Type (nor Content-Length).
#[test]
fn weak_etags_and_empty_answers() {
    let (d, _state) = daemon(json!({}), None);
    let first = d.call("GET", "/index.html", None, None);
    let etag = first.header("etag").unwrap().to_string();
    for validator in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        format!("\"nope\", W/{etag}"),
        "*".to_string(),
    ] {
        let (a, _) = exchange(
            &d,
            format!("GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: {validator}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(a.unwrap().status, 304, "If-None-Match: {validator}");
    }
    let (a, _) = exchange(
        &d,
        b"GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/\"other\"\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(a.unwrap().status, 200);

    let root = d.root();
    let created = d.post(
        "/api/auth/users",
        &root,
        json!({"name": "gone", "password": "password-of-test-user", "level": "User"}),
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let (a, _) = exchange(
        &d,
        format!("DELETE /api/auth/users/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {root}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let a = a.unwrap();
    assert_eq!(a.status, 204);
    assert!(!a.has("content-type"), "{}", a.head);
    assert!(!a.has("content-length"), "{}", a.head);
}

/// A field of /proc/<pid>/status, in its unit (kB for memory).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Issue 16, load: 1000 idle connections from 50 addresses and 100 that send a
/// byte a second, all at once, under a Pi Zero's address space: a login from
/// another client still answers in under 100 ms, the resident memory stays
/// under 64 MiB, and once the clients are gone their threads are reclaimed.
#[test]
fn a_thousand_idle_and_a_hundred_trickling_connections_are_bounded_and_reclaimed() {
    let (mut d, _state) = daemon(json!({}), Some(PI_ZERO_KIB));
    assert_pi_zero_memory(&d);
    let pid = d.pid();
    let threads_before = proc_status(pid, "Threads");
    let to = addr(&d);
    let idle: Vec<TcpStream> = (0..1000)
        .map(|i| connect_from(Ipv4Addr::new(127, 0, 1, 1 + (i / 20) as u8), to))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle: Vec<_> = (0..100)
        .map(|i| {
            let stop = stop.clone();
            let mut s = connect_from(Ipv4Addr::new(127, 0, 2, 1 + (i / 10) as u8), to);
            std::thread::spawn(move || {
                for b in b"GET /api/health HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed)
                        || s.write_all(&[*b]).is_err()
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        })
        .collect();
    let mut most_rss = 0;
    for _ in 0..3 {
        fast_checks(&mut d, OTHER);
        most_rss = most_rss.max(proc_status(pid, "VmRSS"));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        most_rss < 64 * 1024,
        "resident memory {most_rss} kB under the attack"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in trickle {
        t.join().unwrap();
    }
    drop(idle);
    let reclaimed = eventually(20, || {
        let n = proc_status(pid, "Threads");
        (n <= threads_before + 4).then_some(n)
    });
    assert!(
        reclaimed.is_some(),
        "threads {} after the clients left, {threads_before} before",
        proc_status(pid, "Threads")
    );
    fast_checks(&mut d, OTHER);
    eprintln!("most RSS {most_rss} kB; threads back to {reclaimed:?} (from {threads_before})");
}
