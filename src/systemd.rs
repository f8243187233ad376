//! systemd's notify protocol, by hand: `READY=1` once listening, `STOPPING=1`,
//! and `WATCHDOG=1` every half `WATCHDOG_USEC` while the daemon's checks pass.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Send one state line to `$NOTIFY_SOCKET`; a no-op when not run by systemd.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        log::warn!("cannot notify systemd ({state}): {e}");
    }
}

/// Half the watchdog interval systemd asked for, if it asked.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// When systemd asked for a watchdog: a thread that feeds it every half interval
/// while our own HTTP server answers its health check.
pub fn spawn_watchdog(addr: std::net::SocketAddr) {
    let Some(interval) = watchdog_interval() else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || loop {
            if http_alive(addr) {
                notify("WATCHDOG=1");
            } else {
                log::error!(
                    "the HTTP server does not answer its own health check; not feeding the watchdog"
                );
            }
            std::thread::sleep(interval);
        });
    if let Err(e) = spawned {
        // systemd will restart us when the watchdog runs out: say why.
        log::error!("cannot start the watchdog thread: {e}");
    }
}

/// Ask our own HTTP server for `/api/health`: the watchdog is fed only while the
/// workers answer, so a deadlocked daemon gets restarted by systemd.
fn http_alive(addr: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(5);
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&target, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let request = format!("GET /api/health HTTP/1.1\r\nHost: localhost\r\n{WATCHDOG_HEADER}: 1\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Marks the watchdog's own requests, which the access log leaves out.
pub const WATCHDOG_HEADER: &str = "X-Pistack-Watchdog";
