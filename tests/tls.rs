//! HTTPS in the daemon (`http.tls`), against real peers: curl and openssl's
//! s_client (Debian's), testssl.sh, and a rustls client for timing and
//! keep-alive. Certificates are made by the openssl CLI: a CA and leaves for
//! localhost / 127.0.0.1 signed by it.

mod common;

use common::{check_config, Daemon};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// testssl.sh runs hundreds of openssl processes: the test that times health
/// does not share the machine's two cores with it.
static NOT_WITH_TESTSSL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run a tool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn openssl(dir: &Path, args: &[&str]) {
    let (ok, text) = run(Command::new("openssl").current_dir(dir).args(args));
    assert!(ok, "openssl {args:?}: {text}");
}

/// A CA (ca.pem) in `dir`, made once per folder.
fn make_ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pistack test CA",
        ],
    );
}

/// A leaf `<name>.pem` / `<name>.key` for localhost and 127.0.0.1, signed by the CA.
fn make_leaf(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            &pem,
        ],
    );
    (dir.join(pem), dir.join(key))
}

/// SHA-256 fingerprint of a PEM file as `openssl x509 -fingerprint` prints it.
fn openssl_fingerprint(pem: &Path) -> String {
    let (ok, text) = run(Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem));
    assert!(ok, "{text}");
    text.trim().split('=').nth(1).unwrap().to_string()
}

/// A daemon on a CA-signed certificate; returns it, its folder's CA and port.
fn start_with_files(extra_http: Value) -> (Daemon, PathBuf, u16) {
    let dir = common::temp_dir("tls");
    make_ca(&dir);
    let (cert, key) = make_leaf(&dir, "leaf");
    let mut http = json!({"tls": {"cert": cert, "key": key}});
    http.as_object_mut()
        .unwrap()
        .extend(extra_http.as_object().unwrap().clone());
    let d = Daemon::start_in(dir.clone(), json!({ "http": http }), &[]);
    assert!(d.base.starts_with("https://"), "{}", d.base);
    let port = port_of(&d);
    (d, dir.join("ca.pem"), port)
}

fn port_of(d: &Daemon) -> u16 {
    d.base.rsplit(':').next().unwrap().parse().unwrap()
}

fn curl(args: &[&str]) -> (bool, String) {
    run(Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args))
}

/// A rustls client trusting `ca`: the peer's certificate, for fingerprints.
fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(config: &Arc<rustls::ClientConfig>, port: u16) -> std::io::Result<Tls> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(20)))?;
    let name = "localhost".try_into().unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// One keep-alive GET on an open connection: the status and the body.
fn get(tls: &mut Tls, path: &str) -> std::io::Result<(u16, String)> {
    write!(tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    tls.flush()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tls.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).to_string()))
}

fn peer_fingerprint(tls: &Tls) -> String {
    let der = &tls.conn.peer_certificates().unwrap()[0];
    let (ok, text) = {
        let dir = common::temp_dir("fp");
        let path = dir.join("c.der");
        std::fs::write(&path, der.as_ref()).unwrap();
        run(Command::new("openssl")
            .args([
                "x509",
                "-inform",
                "der",
                "-noout",
                "-fingerprint",
                "-sha256",
                "-in",
            ])
            .arg(&path))
    };
    assert!(ok, "{text}");
    text.trim().split('=').nth(1).unwrap().to_string()
}

/// Health over a fresh TLS connection (connect, handshake, GET), timed.
fn timed_health(config: &Arc<rustls::ClientConfig>, port: u16) -> (u16, Duration) {
    let t = Instant::now();
    let mut tls = connect(config, port).expect("connect for health");
    let (status, _) = get(&mut tls, "/api/health").expect("health");
    (status, t.elapsed())
}

/// Has the server closed `s` (EOF or reset) within `secs`?
fn closed_within(s: &mut TcpStream, secs: u64) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Has the server closed `s` already? (Never waits.)
fn is_closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match (&*s).read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn curl_trusts_the_ca_signed_certificate_and_refuses_a_wrong_name() {
    let (d, ca, port) = start_with_files(json!({}));
    let ca = ca.to_str().unwrap();
    let url = format!("https://localhost:{port}/api/health");
    let (ok, text) = curl(&["-i", "--cacert", ca, &url]);
    assert!(ok, "{text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{text}"
    );
    let (ok, text) = curl(&[
        "--cacert",
        ca,
        &format!("https://127.0.0.1:{port}/api/health"),
    ]);
    assert!(ok && text.contains("\"status\""), "{text}");
    // The same server under a name its certificate does not have.
    let resolve = format!("wrong.example:{port}:127.0.0.1");
    let (ok, text) = curl(&[
        "--cacert",
        ca,
        "--resolve",
        &resolve,
        &format!("https://wrong.example:{port}/api/health"),
    ]);
    assert!(!ok, "curl took a certificate for another name: {text}");
    assert!(
        text.contains("subject") || text.contains("match") || text.contains("SSL"),
        "{text}"
    );
    // Plain HTTP to the TLS port is no request.
    let (ok, _) = curl(&[&format!("http://127.0.0.1:{port}/api/health")]);
    assert!(!ok);
    drop(d);
}

#[test]
fn self_signed_is_made_once_kept_0600_and_its_logged_fingerprint_is_the_certificates() {
    let dir = common::temp_dir("tls-self");
    let d = Daemon::start_in(dir.clone(), json!({"http": {"tls": "self-signed"}}), &[]);
    let cert = dir.join("state/tls/cert.pem");
    let key = dir.join("state/tls/key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let expected = openssl_fingerprint(&cert);
    let logged = d
        .early_log
        .iter()
        .find(|l| l.contains("SHA-256 fingerprint"))
        .unwrap_or_else(|| panic!("no fingerprint logged: {:?}", d.early_log));
    assert!(logged.ends_with(&expected), "{logged} vs {expected}");
    let port = port_of(&d);
    let (ok, text) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        &format!("https://localhost:{port}/api/health"),
    ]);
    assert!(ok && text.contains("\"status\""), "{text}");
    let (_, sans) = run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&cert));
    assert!(
        sans.contains("DNS:localhost")
            && sans.contains("IP Address:127.0.0.1")
            && sans.contains(".local"),
        "{sans}"
    );
    // A restart keeps the certificate.
    let mut d = d;
    d.stop();
    let d = Daemon::start_in(dir.clone(), json!({"http": {"tls": "self-signed"}}), &[]);
    assert_eq!(openssl_fingerprint(&cert), expected);
    assert!(
        !d.early_log.iter().any(|l| l.contains("made a self-signed")),
        "{:?}",
        d.early_log
    );
}

fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let connect = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect, "-servername", "localhost"])
        .args(args)
        .stdin(std::process::Stdio::null());
    run(&mut cmd)
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken_with_alpn_http_1_1() {
    let (_d, _ca, port) = start_with_files(json!({}));
    // SECLEVEL=0 so that the client really offers 1.0 / 1.1: the refusal is the server's.
    for old in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(port, &[old, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{old} accepted: {text}");
        assert!(
            text.contains("alert")
                || text.contains("protocol version")
                || text.contains("no protocols"),
            "{old}: {text}"
        );
    }
    for (new, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, text) = s_client(port, &[new, "-alpn", "http/1.1"]);
        assert!(ok, "{new}: {text}");
        assert!(
            text.contains(&format!("Protocol  : {name}")) || text.contains(&format!("New, {name}")),
            "{new}: {text}"
        );
        assert!(text.contains("ALPN protocol: http/1.1"), "{new}: {text}");
    }
}

#[test]
fn testssl_finds_no_weak_protocol_or_high_vulnerability() {
    let _alone = NOT_WITH_TESTSSL.lock().unwrap_or_else(|p| p.into_inner());
    let (_d, _ca, port) = start_with_files(json!({}));
    let dir = common::temp_dir("testssl");
    let json_file = dir.join("out.json");
    let target = format!("127.0.0.1:{port}");
    let (_, text) = run(Command::new("timeout")
        .args([
            "300",
            "testssl",
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--protocols",
            "--std",
            "--vulnerable",
            "--jsonfile",
        ])
        .arg(&json_file)
        .arg(&target));
    let findings: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(&json_file)
            .unwrap_or_else(|e| panic!("no testssl JSON ({e}): {text}")),
    )
    .unwrap();
    assert!(findings.len() > 10, "too few findings: {findings:?}");
    let id = |f: &Value| f["id"].as_str().unwrap_or("").to_string();
    let finding = |name: &str| {
        findings
            .iter()
            .find(|f| id(f) == name)
            .unwrap_or_else(|| panic!("no {name} in {findings:?}"))
            .clone()
    };
    for weak in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        let f = finding(weak);
        assert!(
            f["finding"].as_str().unwrap().starts_with("not offered"),
            "{weak}: {f}"
        );
    }
    for good in ["TLS1_2", "TLS1_3"] {
        let f = finding(good);
        assert!(
            f["finding"].as_str().unwrap().starts_with("offered"),
            "{good}: {f}"
        );
    }
    // Stricter than "no HIGH or CRITICAL": every finding is OK or INFO (no
    // LOW / MEDIUM weak cipher or protocol, no WARN of a scan problem). One
    // WARN is about the scanner, not the server: `engine_problem` says the
    // machine's own openssl has no GOST engine (OpenSSL 3 builds without
    // engines), which GOST ciphers, never offered by rustls, would need.
    let about_the_scanner = |f: &Value| id(f) == "engine_problem";
    let bad: Vec<&Value> = findings
        .iter()
        .filter(|f| !about_the_scanner(f))
        .filter(|f| !matches!(f["severity"].as_str(), Some("OK") | Some("INFO")))
        .collect();
    assert!(bad.is_empty(), "testssl.sh found: {bad:?}");
}

#[test]
fn idle_and_slow_handshakes_are_closed_in_time_and_never_keep_health_out() {
    let _alone = NOT_WITH_TESTSSL.lock().unwrap_or_else(|p| p.into_inner());
    let (d, ca, port) =
        start_with_files(json!({"idle_timeout_s": 2, "max_connections_per_client": 8}));
    let config = client_config(&ca);
    // As many silent TLS connections as one client may open: the next one
    // (health) reclaims the oldest, its handshake not even begun.
    let mut idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200)); // let the server take them all
                                                    // A new connection gets in (its handshake is CPU a loaded machine may
                                                    // delay: 1 s), and answers on it take under 100 ms.
    let (status, took) = timed_health(&config, port);
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(1),
        "health took {took:?} beside idle TLS connections"
    );
    let mut keep = connect(&config, port).unwrap();
    let fast = |keep: &mut Tls, beside: &str| {
        let t = Instant::now();
        assert_eq!(get(keep, "/api/health").unwrap().0, 200);
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "health took {took:?} beside {beside}"
        );
    };
    fast(&mut keep, "idle TLS connections");
    let reclaimed = idle.iter().filter(|s| is_closed(s)).count();
    assert!(reclaimed >= 1, "no idle TLS connection was reclaimed");
    // A slowloris: the handshake trickled a byte every 100 ms is closed at
    // the 2 s deadline although bytes keep coming.
    let hello = client_hello(&config);
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut cut = None;
    for b in hello.iter().take(60) {
        if slow.write_all(&[*b]).is_err() {
            cut = Some(started.elapsed());
            break;
        }
        if started.elapsed() > Duration::from_millis(500) {
            fast(&mut keep, "a slowloris");
        }
        if is_closed(&slow) {
            cut = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut = cut.expect("the trickled handshake was never closed");
    let (status, took) = timed_health(&config, port);
    assert!(
        status == 200 && took < Duration::from_secs(1),
        "{status} after {took:?}"
    );
    assert!(
        cut >= Duration::from_millis(1500) && cut < Duration::from_secs(5),
        "closed after {cut:?}"
    );
    // The silent ones are gone within the deadline too.
    for s in idle.iter_mut() {
        assert!(
            closed_within(s, 5),
            "a silent TLS connection outlived the idle timeout"
        );
    }
    drop(d);
}

/// The first flight of a real rustls client: a ClientHello record.
fn client_hello(config: &Arc<rustls::ClientConfig>) -> Vec<u8> {
    let mut conn =
        rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    assert!(out.len() > 60);
    out
}

#[test]
fn a_garbage_handshake_closes_that_connection_and_nothing_else() {
    let (d, ca, port) = start_with_files(json!({}));
    let config = client_config(&ca);
    let mut keep = connect(&config, port).unwrap();
    assert_eq!(get(&mut keep, "/api/health").unwrap().0, 200);
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4][..],
        &[0u8; 600][..],
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(garbage).unwrap();
        assert!(
            closed_within(&mut s, 5),
            "garbage {:?} left the connection open",
            &garbage[..8]
        );
    }
    assert_eq!(
        get(&mut keep, "/api/health").unwrap().0,
        200,
        "the good connection suffered"
    );
    let (status, _) = timed_health(&config, port);
    assert_eq!(status, 200);
    drop(d);
}

#[test]
fn sighup_serves_a_new_certificate_to_new_connections_and_no_request_fails() {
    let (d, ca, port) = start_with_files(json!({}));
    let dir = d.dir.clone();
    let config = client_config(&ca);
    let old = peer_fingerprint(&connect(&config, port).unwrap());
    assert_eq!(old, openssl_fingerprint(&dir.join("leaf.pem")));
    // A keep-alive loop and a new-connection loop run across the reloads.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops: Vec<_> = [true, false]
        .into_iter()
        .map(|keep_alive| {
            let (stop, config) = (stop.clone(), config.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                let mut tls = connect(&config, port).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if !keep_alive {
                        tls = connect(&config, port).expect("a new connection during the reload");
                    }
                    let (status, _) =
                        get(&mut tls, "/api/health").expect("a request during the reload");
                    assert_eq!(status, 200);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let (cert, key) = make_leaf(&dir, "next");
    std::fs::copy(&cert, dir.join("leaf.pem")).unwrap();
    std::fs::copy(&key, dir.join("leaf.key")).unwrap();
    let new = openssl_fingerprint(&dir.join("leaf.pem"));
    assert_ne!(new, old);
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    assert!(d
        .wait_log(10, |l| l.contains("TLS certificate reloaded"))
        .is_some());
    let seen = peer_fingerprint(&connect(&config, port).unwrap());
    assert_eq!(seen, new, "a new connection still gets the old certificate");
    // A bad file: the daemon says why and keeps the certificate it has.
    std::fs::write(dir.join("leaf.pem"), "not a certificate\n").unwrap();
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    let why = d
        .wait_log(10, |l| l.contains("not reloaded"))
        .expect("no word on the bad file");
    assert!(why.contains("http.tls.cert"), "{why}");
    assert_eq!(peer_fingerprint(&connect(&config, port).unwrap()), new);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loops {
        let n = l.join().expect("a request failed across the reload");
        assert!(n > 0);
    }
    assert!(d.child.is_some());
    let (status, _) = timed_health(&config, port);
    assert_eq!(status, 200, "SIGHUP must not stop the daemon");
}

fn raw_http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_redirect_listener_answers_308_to_https_and_serves_nothing_else() {
    let redirect_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{redirect_port}");
    let (d, ca, port) = start_with_files(json!({ "redirect_bind": bind }));
    let out = raw_http(
        redirect_port,
        "GET /api/health?x=1&y=2 HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    assert!(
        out.contains(&format!(
            "Location: https://localhost:{port}/api/health?x=1&y=2\r\n"
        )),
        "{out}"
    );
    assert!(
        !out.contains("\"status\""),
        "the redirect served the API: {out}"
    );
    for req in [
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string(),
        "GET /index.html HTTP/1.1\r\nHost: pi.local\r\nConnection: close\r\n\r\n".to_string(),
    ] {
        let out = raw_http(redirect_port, &req);
        assert!(out.starts_with("HTTP/1.1 308"), "{out}");
        assert!(!out.contains("<html") && !out.contains("token"), "{out}");
    }
    let out = raw_http(redirect_port, "GET / HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.0 400"), "{out}");
    // Where it points works.
    let (ok, text) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-L",
        &format!("http://localhost:{redirect_port}/api/health"),
    ]);
    assert!(ok && text.contains("\"status\""), "{text}");
    drop(d);
}

#[test]
fn check_config_names_the_missing_unparsable_or_mismatched_file() {
    let dir = common::temp_dir("tls-check");
    make_ca(&dir);
    let (cert, key) = make_leaf(&dir, "leaf");
    let (_, other_key) = make_leaf(&dir, "other");
    let check = |tls: Value| {
        let path = dir.join("c.json");
        let c = common::config(&dir, json!({"http": {"tls": tls}}));
        std::fs::write(&path, c.to_string()).unwrap();
        check_config(&path)
    };
    let (code, text) = check(json!({"cert": cert, "key": key}));
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check(json!({"cert": "leaf.pem", "key": "leaf.key"}));
    assert_eq!(code, Some(0), "relative to the config file: {text}");
    let (code, text) = check(json!({"cert": dir.join("nope.pem"), "key": key}));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("http.tls.cert") && text.contains("nope.pem"),
        "{text}"
    );
    let (code, text) = check(json!({"cert": cert, "key": dir.join("nope.key")}));
    assert_ne!(code, Some(0));
    assert!(text.contains("http.tls.key"), "{text}");
    std::fs::write(dir.join("junk.pem"), "hello\n").unwrap();
    let (code, text) = check(json!({"cert": dir.join("junk.pem"), "key": key}));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("http.tls.cert") && text.contains("CERTIFICATE"),
        "{text}"
    );
    let (code, text) = check(json!({"cert": cert, "key": dir.join("junk.pem")}));
    assert!(code != Some(0) && text.contains("http.tls.key"), "{text}");
    let (code, text) = check(json!({"cert": cert, "key": other_key}));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("http.tls.key") && text.contains("not the private key"),
        "{text}"
    );
    let (code, text) = check(json!("self-made"));
    assert!(code != Some(0) && text.contains("http.tls"), "{text}");
    let (code, text) = check(json!("self-signed"));
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn idle_keep_alive_tls_connections_are_reclaimed_for_a_newcomer() {
    let (_d, ca, port) = start_with_files(json!({"max_connections_per_client": 4}));
    let config = client_config(&ca);
    // Four TLS connections past their handshake, each idle after one request.
    let mut open: Vec<Tls> = (0..4)
        .map(|_| {
            let mut t = connect(&config, port).unwrap();
            assert_eq!(get(&mut t, "/api/health").unwrap().0, 200);
            t
        })
        .collect();
    // A fifth: the oldest idle one is shut (its TCP read side) to make room.
    // The four count as idle once their threads wait for a next request, which a
    // loaded machine may take a moment to reach: the newcomer may try again,
    // and must be in within a second.
    let started = Instant::now();
    let status = loop {
        let attempt = connect(&config, port).and_then(|mut t| get(&mut t, "/api/health"));
        match attempt {
            Ok((status, _)) => break status,
            Err(e) if started.elapsed() < Duration::from_secs(1) => {
                eprintln!("newcomer refused ({e}); again");
            }
            Err(e) => panic!("no room for a newcomer within 1 s: {e}"),
        }
    };
    let took = started.elapsed();
    assert!(
        status == 200 && took < Duration::from_secs(1),
        "{status} after {took:?}"
    );
    let gone = open
        .iter_mut()
        .map(|t| get(t, "/api/health").is_err())
        .filter(|failed| *failed)
        .count();
    assert!(gone >= 1, "no idle TLS connection was reclaimed");
}
