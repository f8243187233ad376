//! The info API over real HTTP against the real binary: `/api/info/network` agrees
//! with iproute2's `ip -j addr`, `/api/info/system` with `/proc` and `hostname`,
//! weather against a stand-in provider on a local socket (both Open-Meteo shapes,
//! the cache, a closed port, a provider that never answers, a provider that dies).

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A stand-in for Open-Meteo: answers `body` to the first `serve` requests, then
/// closes its port; or, with `hang`, accepts and never answers.
struct Provider {
    addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Provider {
    fn answering(body: &'static str, serve: usize) -> Provider {
        Provider::start(Some(body), serve, Duration::ZERO)
    }

    fn hanging() -> Provider {
        Provider::start(None, usize::MAX, Duration::ZERO)
    }

    /// Answers each request after `delay`.
    fn slow(body: &'static str, delay: Duration) -> Provider {
        Provider::start(Some(body), usize::MAX, delay)
    }

    fn start(body: Option<&'static str>, serve: usize, delay: Duration) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (h, r) = (hits.clone(), requests.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(serve) {
                let Ok(stream) = stream else { continue };
                let Some(body) = body else {
                    h.fetch_add(1, Ordering::SeqCst);
                    held.push(stream);
                    continue;
                };
                // Each request in its own thread, so that concurrent fetches would
                // all be counted at once.
                let (h, r) = (h.clone(), r.clone());
                std::thread::spawn(move || answer(stream, body, delay, &h, &r));
            }
            // The listener is dropped here: the port is closed from now on.
        });
        Provider {
            addr,
            hits,
            requests,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/forecast", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn answer(
    mut stream: TcpStream,
    body: &str,
    delay: Duration,
    hits: &AtomicUsize,
    requests: &Mutex<Vec<String>>,
) {
    let head = read_head(&mut stream);
    hits.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(head);
    std::thread::sleep(delay);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A port with nobody listening.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/v1/forecast")
}

const CURRENT: &str = r#"{"latitude":52.25,"longitude":21.0,"current_units":{"temperature_2m":"°C"},"current":{"time":"2026-12-02T15:00","interval":900,"temperature_2m":-1.5,"weather_code":71,"wind_speed_10m":12.3}}"#;
const CURRENT_WEATHER: &str = r#"{"latitude":52.25,"longitude":21.0,"current_weather":{"time":"2026-12-02T15:00","temperature":4.0,"windspeed":7.2,"winddirection":250,"weathercode":3.0,"is_day":1}}"#;

fn weather_daemon(url: &str, cache_s: u64, timeout_s: u64) -> (Daemon, String) {
    let d = Daemon::start(json!({"info": {"weather": {
        "url": url, "name": "Testville", "latitude": 52.25, "longitude": 21.0,
        "cache_s": cache_s, "timeout_s": timeout_s
    }}}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    (d, user)
}

#[test]
fn weather_in_the_current_shape_is_fetched_once_then_cached() {
    let provider = Provider::answering(CURRENT, 100);
    let (d, user) = weather_daemon(&provider.url(), 600, 2);
    let r = d.get("/api/info/weather", &user);
    assert_eq!(r.status, 200, "{}", r.text);
    let w = &r.body;
    assert_eq!(
        w["location"],
        json!({"name": "Testville", "latitude": 52.25, "longitude": 21.0})
    );
    assert_eq!(w["temperature_c"], -1.5);
    assert_eq!(w["wind_speed_kmh"], 12.3);
    assert_eq!(w["weather_code"], 71);
    assert_eq!(w["description"], "Slight snowfall");
    assert_eq!(w["observed_at"], "2026-12-02T15:00");
    assert_eq!(
        (w["cached"].as_bool(), w["stale"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(w["fetched_at"].as_u64().unwrap() > 1_700_000_000, "{w}");
    assert!(w["attribution"].as_str().unwrap().contains("Open-Meteo"));
    let head = provider.requests.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /v1/forecast?"), "{head}");
    for part in [
        "latitude=52.25",
        "longitude=21",
        "current=temperature_2m%2Cweather_code%2Cwind_speed_10m",
    ] {
        assert!(head.contains(part), "{part} not in {head}");
    }

    let again = d.get("/api/info/weather", &user);
    assert_eq!(again.status, 200);
    assert_eq!(again.body["cached"], true);
    assert_eq!(again.body["stale"], false);
    assert_eq!(again.body["temperature_c"], -1.5);
    assert_eq!(
        provider.hits(),
        1,
        "the second call must come from the cache"
    );
}

#[test]
fn many_clients_at_once_cause_one_fetch() {
    let provider = Provider::slow(CURRENT, Duration::from_millis(700));
    let (d, user) = weather_daemon(&provider.url(), 600, 3);
    let url = d.url("/api/info/weather");
    let askers: Vec<_> = (0..3)
        .map(|_| {
            let (url, user) = (url.clone(), user.clone());
            std::thread::spawn(move || {
                let r = ureq::get(&url)
                    .set("Authorization", &format!("Bearer {user}"))
                    .call()
                    .unwrap();
                r.into_json::<Value>().unwrap()
            })
        })
        .collect();
    let answers: Vec<Value> = askers.into_iter().map(|a| a.join().unwrap()).collect();
    for a in &answers {
        assert_eq!(a["temperature_c"], -1.5, "{a}");
    }
    assert_eq!(provider.hits(), 1, "one fetch for all: {answers:?}");
}

#[test]
fn weather_in_the_current_weather_shape_with_a_float_code() {
    let provider = Provider::answering(CURRENT_WEATHER, 100);
    let (d, user) = weather_daemon(&provider.url(), 600, 2);
    let r = d.get("/api/info/weather", &user);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["temperature_c"], 4.0);
    assert_eq!(r.body["wind_speed_kmh"], 7.2);
    assert_eq!(r.body["weather_code"], 3);
    assert_eq!(r.body["description"], "Overcast");
}

#[test]
fn an_answer_without_a_current_block_is_503_with_the_reason() {
    let provider = Provider::answering(r#"{"latitude":1.0,"hourly":{}}"#, 100);
    let (d, user) = weather_daemon(&provider.url(), 600, 2);
    let r = d.get("/api/info/weather", &user);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.message()
            .contains("neither \"current\" nor \"current_weather\""),
        "{}",
        r.text
    );
}

#[test]
fn unreachable_hanging_and_https_providers_answer_503_within_the_timeout() {
    let timeout_s = 2;
    let margin = Duration::from_millis(2500);
    let (d, user) = weather_daemon(&closed_port(), 600, timeout_s);
    let t = Instant::now();
    let r = d.get("/api/info/weather", &user);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.message().contains("cannot reach the provider"),
        "{}",
        r.text
    );
    assert!(
        t.elapsed() < Duration::from_secs(timeout_s) + margin,
        "{:?}",
        t.elapsed()
    );

    let hang = Provider::hanging();
    let (d, user) = weather_daemon(&hang.url(), 600, timeout_s);
    let t = Instant::now();
    let url = d.url("/api/info/weather");
    let asker = std::thread::spawn({
        let user = user.clone();
        move || {
            let r = ureq::get(&url)
                .set("Authorization", &format!("Bearer {user}"))
                .call();
            match r {
                Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
                other => panic!("expected 503, got {other:?}"),
            }
        }
    });
    // While the provider hangs, the rest of the API answers.
    assert!(eventually(10, || (hang.hits() == 1).then_some(())).is_some());
    assert_eq!(d.get("/api/info/system", &user).status, 200);
    let (code, text) = asker.join().unwrap();
    let elapsed = t.elapsed();
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("weather provider"), "{text}");
    assert!(
        elapsed < Duration::from_secs(timeout_s) + margin,
        "answered after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(timeout_s * 1000 - 100),
        "{elapsed:?}: too soon to be the timeout"
    );
    assert_eq!(hang.hits(), 1);
}

#[test]
fn weather_over_https_is_fetched_when_the_system_roots_trust_it_and_refused_otherwise() {
    let dir = temp_dir("weather-https");
    let (trusted, other) = (dir.join("trusted"), dir.join("other"));
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let certs = common::smtp::certs(&trusted);
    let other_ca = common::smtp::certs(&other).ca;
    let provider = common::https::Server::start(&certs, CURRENT);
    let weather = |ca: &std::path::Path| {
        let url = format!("https://localhost:{}/v1/forecast", provider.port);
        let extra = json!({"info": {"weather": {
            "url": url, "name": "Testville", "latitude": 52.25, "longitude": 21.0,
            "cache_s": 600, "timeout_s": 5
        }}});
        // rustls-native-certs reads SSL_CERT_FILE as the system's roots.
        let d = Daemon::start_in(
            temp_dir("weather-https-d"),
            extra,
            &[("SSL_CERT_FILE", ca.to_str().unwrap())],
        );
        let root = d.root();
        d.get("/api/info/weather", &root)
    };
    let r = weather(&certs.ca);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["temperature_c"], -1.5);
    let r = weather(&other_ca);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.message().contains("certificate"), "{}", r.text);
}

#[test]
fn a_provider_that_dies_after_a_success_leaves_the_cached_answer_for_a_while() {
    // Serves one answer, then closes its port.
    let provider = Provider::answering(CURRENT, 1);
    let (d, user) = weather_daemon(&provider.url(), 1, 2);
    let first = d.get("/api/info/weather", &user);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["cached"], false);
    // Past cache_s the next fetch fails: the last answer is served, marked.
    let stale = eventually(10, || {
        let r = d.get("/api/info/weather", &user);
        (r.status == 200 && r.body["stale"] == true).then_some(r.body)
    })
    .expect("a stale answer while the provider is down");
    assert_eq!(stale["cached"], true);
    assert_eq!(stale["temperature_c"], -1.5);
    assert!(stale["age_s"].as_u64().unwrap() >= 1, "{stale}");
    assert!(
        stale["provider_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the provider"),
        "{stale}"
    );
    // Older than 3 x cache_s it is no longer served.
    let gone = eventually(15, || {
        let r = d.get("/api/info/weather", &user);
        (r.status == 503).then_some(r)
    })
    .expect("503 once the cached answer is too old");
    assert!(
        gone.message().starts_with("weather provider: "),
        "{}",
        gone.text
    );
    assert_eq!(provider.hits(), 1);
}

#[test]
fn weather_not_configured_says_how_to() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let r = d.get("/api/info/weather", &root);
    assert_eq!(r.status, 404);
    assert!(r.message().contains("info"), "{}", r.text);
}

/// `ip -j addr`'s view: name → (MAC, up, mtu, IPv4 set, IPv6 set).
type IpView = (
    Option<String>,
    bool,
    u64,
    BTreeSet<String>,
    BTreeSet<String>,
);

fn view_of_ip() -> Vec<(String, IpView)> {
    let out = Command::new("ip")
        .args(["-j", "addr"])
        .output()
        .expect("run ip (iproute2)");
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let addrs = |family: &str| -> BTreeSet<String> {
                i["addr_info"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["family"] == family)
                    .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
                    .collect()
            };
            let up = i["flags"].as_array().unwrap().iter().any(|f| f == "UP");
            (
                i["ifname"].as_str().unwrap().to_string(),
                (
                    i["address"].as_str().map(str::to_string),
                    up,
                    i["mtu"].as_u64().unwrap(),
                    addrs("inet"),
                    addrs("inet6"),
                ),
            )
        })
        .collect()
}

fn view_of_api(v: &Value) -> Vec<(String, IpView)> {
    let set = |a: &Value| -> BTreeSet<String> {
        a.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                (
                    i["mac"].as_str().map(str::to_string),
                    i["up"].as_bool().unwrap(),
                    i["mtu"].as_u64().unwrap(),
                    set(&i["ipv4"]),
                    set(&i["ipv6"]),
                ),
            )
        })
        .collect()
}

#[test]
fn network_agrees_with_ip_addr() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let r = d.get("/api/info/network", &user);
    assert_eq!(r.status, 200, "{}", r.text);
    let mut ours = view_of_api(&r.body);
    let mut theirs = view_of_ip();
    ours.sort();
    theirs.sort();
    assert_eq!(
        ours.iter().map(|x| &x.0).collect::<Vec<_>>(),
        theirs.iter().map(|x| &x.0).collect::<Vec<_>>(),
        "interface names"
    );
    assert_eq!(ours, theirs, "pistack vs ip -j addr");
    assert!(
        theirs.iter().any(|(_, v)| !v.3.is_empty()),
        "no IPv4 at all? {theirs:?}"
    );
    let lo = r.body["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "lo")
        .unwrap();
    for key in ["operstate", "rx_bytes", "tx_bytes"] {
        assert!(!lo[key].is_null(), "{key}: {lo}");
    }
    let hostname = Command::new("hostname").output().unwrap();
    assert_eq!(
        r.body["hostname"],
        String::from_utf8(hostname.stdout).unwrap().trim()
    );
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn system_agrees_with_proc_and_hostname() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let user = d.user(&root, "viewer", "User");
    let r = d.get("/api/info/system", &user);
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.body;
    assert_eq!(s["hostname"], run("hostname", &[]));
    assert_eq!(s["kernel"], run("uname", &["-r"]));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(s["memory"]["total_bytes"], total_kb * 1024);
    let available = s["memory"]["available_bytes"].as_u64().unwrap();
    assert!(available > 0 && available <= total_kb * 1024, "{s}");
    assert_eq!(s["daemon"]["pid"], d.pid());
    assert!(s["daemon"]["threads"].as_u64().unwrap() > 1, "{s}");
    assert!(s["daemon"]["rss_bytes"].as_u64().unwrap() > 100_000, "{s}");
    assert!(s["daemon"]["open_fds"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["daemon"]["version"], env!("CARGO_PKG_VERSION"));
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    let pretty = os
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string());
    assert_eq!(s["os"].as_str().map(str::to_string), pretty);
    let load = s["load"].as_array().unwrap();
    assert_eq!(load.len(), 3);
    assert!(s["uptime_s"].as_u64().unwrap() > 0);
    assert_eq!(s["disk"]["path"], d.dir.join("state").display().to_string());
    let (total, free) = (
        s["disk"]["total_bytes"].as_u64().unwrap(),
        s["disk"]["free_bytes"].as_u64().unwrap(),
    );
    assert!(total > 0 && free <= total, "{s}");
    // What this machine lacks is null or "unsupported", never made up.
    let has_model = std::path::Path::new("/proc/device-tree/model").exists();
    assert_eq!(s["model"].is_null(), !has_model, "{s}");
    let has_zone = std::fs::read_dir("/sys/class/thermal")
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        })
        .unwrap_or(false);
    assert_eq!(s["cpu_temp_c"].is_null(), !has_zone, "{s}");
    let has_cpufreq =
        std::path::Path::new("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq").exists();
    assert_eq!(s["cpu_freq_hz"].is_null(), !has_cpufreq, "{s}");
    let has_rpi_volt = std::fs::read_dir("/sys/class/hwmon")
        .map(|d| {
            d.filter_map(Result::ok).any(|e| {
                std::fs::read_to_string(e.path().join("name")).is_ok_and(|n| n.trim() == "rpi_volt")
            })
        })
        .unwrap_or(false);
    if !has_rpi_volt {
        assert_eq!(s["under_voltage"], "unsupported");
    }
    assert!(s["swap"]["total_bytes"].is_u64());
    // CPU % needs two readings a second apart: it appears on a later call.
    let cpu = eventually(10, || {
        let r = d.get("/api/info/system", &user);
        r.body["cpu_percent"].as_f64()
    })
    .expect("cpu_percent on a later call");
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
}

#[test]
fn every_info_endpoint_needs_a_login_and_a_user_may_read() {
    let provider = Provider::answering(CURRENT, 100);
    let (d, user) = weather_daemon(&provider.url(), 600, 2);
    for path in [
        "/api/info/system",
        "/api/info/network",
        "/api/info/weather",
        "/api/info/history",
    ] {
        let r = d.call("GET", path, None, None);
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        let r = d.get(path, &user);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // The service's own health is public and real.
    let r = d.call("GET", "/api/info/health", None, None);
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"status": "ok", "service": "info"}))
    );
    let h = d.call("GET", "/api/health", None, None);
    assert_eq!(h.body["subsystems"]["info"], "ok", "{}", h.body);
    // The routes are in the OpenAPI documents.
    let doc = d.call("GET", "/api/info/apispec.json", None, None).body;
    for path in [
        "/api/info/system",
        "/api/info/network",
        "/api/info/weather",
        "/api/info/history",
    ] {
        assert_eq!(doc["paths"][path]["get"]["x-level"], "User+", "{path}");
    }
    assert!(doc["paths"]["/api/info/history"]["get"]["summary"]
        .as_str()
        .unwrap()
        .contains("28800 bytes"));
}

#[test]
fn history_fills_one_sample_per_interval() {
    let d = Daemon::start(json!({"info": {"history_interval_s": 1}}));
    let root = d.root();
    let series = eventually(20, || {
        let r = d.get("/api/info/history", &root);
        assert_eq!(r.status, 200, "{}", r.text);
        (r.body["time"].as_array().unwrap().len() >= 3).then_some(r.body)
    })
    .expect("three samples at one a second");
    assert_eq!(series["interval_s"], 1);
    assert_eq!(series["capacity"], 1440);
    assert_eq!(series["ring_bytes"], 28800);
    let time: Vec<u64> = series["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert!(time.windows(2).all(|w| w[0] <= w[1]), "{time:?}");
    let n = time.len();
    for key in [
        "cpu_percent",
        "memory_used_bytes",
        "temp_c",
        "requests_per_min",
    ] {
        assert_eq!(series[key].as_array().unwrap().len(), n, "{key}");
    }
    for cpu in series["cpu_percent"].as_array().unwrap() {
        let cpu = cpu.as_f64().expect("cpu % of every sample");
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    }
    for m in series["memory_used_bytes"].as_array().unwrap() {
        assert!(m.as_u64().unwrap() > 0, "{m}");
    }
    // Our own polling is in the request rate.
    assert!(
        series["requests_per_min"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_f64().unwrap() > 0.0),
        "{series}"
    );
    // ?since= gives only the newer samples.
    let last = time[n - 1];
    let newer = d
        .get(&format!("/api/info/history?since={last}"), &root)
        .body;
    assert!(
        newer["time"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.as_u64().unwrap() > last),
        "{newer}"
    );
    let r = d.get("/api/info/history?since=soon", &root);
    assert_eq!(r.status, 400, "{}", r.text);
}

#[test]
fn metrics_have_the_daemon_families_with_help_and_type() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let r = d.get("/metrics", &root);
    assert_eq!(r.status, 200);
    for family in [
        "pistack_daemon_resident_memory_bytes",
        "pistack_daemon_threads",
        "pistack_daemon_open_fds",
    ] {
        let help = format!("# HELP {family} ");
        let kind = format!("# TYPE {family} gauge\n{family} ");
        assert_eq!(r.text.matches(&help).count(), 1, "{family}:\n{}", r.text);
        assert_eq!(r.text.matches(&kind).count(), 1, "{family}:\n{}", r.text);
    }
    let threads: u64 = r
        .text
        .lines()
        .find_map(|l| l.strip_prefix("pistack_daemon_threads "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(threads > 1);
    // No sensor, no sample: a PC or a Pi Zero says nothing rather than "0".
    if !std::path::Path::new("/sys/class/hwmon").exists() {
        assert!(!r.text.contains("pistack_under_voltage"), "{}", r.text);
    }
}
