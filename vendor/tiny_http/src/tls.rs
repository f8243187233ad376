//! pistack patch: TLS with rustls 0.23 (replaces upstream's `ssl-openssl` and
//! `ssl-rustls` features, which spoke OpenSSL or rustls 0.20).
//!
//! [`TlsAcceptor`] holds the current `rustls::ServerConfig` behind a lock, so
//! the certificate can be replaced while the server runs: each new connection
//! takes the config of the moment, connections already open keep theirs.
//! The handshake runs on the connection's own thread ([`handshake`]) within
//! the idle timeout as a total deadline, like a request head: a client that
//! opens a connection and sends nothing, or trickles its hello, is closed.

use std::io::{ErrorKind, Read, Result as IoResult, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::connection::Connection;
use crate::util::guard::Slot;

/// The server's TLS configuration, replaceable at run time.
#[derive(Clone)]
pub struct TlsAcceptor {
    current: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

impl TlsAcceptor {
    pub fn new(config: Arc<rustls::ServerConfig>) -> TlsAcceptor {
        TlsAcceptor {
            current: Arc::new(RwLock::new(config)),
        }
    }

    /// New connections use `config` from now on.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAcceptor")
    }
}

type Owned = rustls::StreamOwned<rustls::ServerConnection, Connection>;

/// One TLS connection shared by the read and the write half of a client.
/// The lock is never contended for long: the connection thread reads the
/// next request only once the previous one is answered.
#[derive(Clone)]
pub(crate) struct TlsStream(Arc<Mutex<Owned>>);

impl TlsStream {
    fn lock(&self) -> MutexGuard<'_, Owned> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.lock().sock.peer_addr()
    }

    /// Closing the write side says `close_notify` first (best effort).
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        let mut s = self.lock();
        if how != Shutdown::Read {
            s.conn.send_close_notify();
            let Owned { conn, sock } = &mut *s;
            let _ = conn.write_tls(sock);
        }
        s.sock.shutdown(how)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.lock().read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.lock().write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.lock().flush()
    }
}

/// Run the server side of the handshake on `sock`, all of it within `limit`.
/// Until it is done the connection stays idle, as the registry admitted it,
/// so it may be reclaimed for a newcomer. `None` (connection to close) on a timeout, an EOF, or a
/// handshake rustls refuses (it has sent its alert then).
pub(crate) fn handshake(
    acceptor: &TlsAcceptor,
    mut sock: Connection,
    slot: &Slot,
    limit: Option<Duration>,
) -> Option<TlsStream> {
    let mut conn = match rustls::ServerConnection::new(acceptor.current()) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("cannot start a TLS connection: {}", e);
            return None;
        }
    };
    let deadline = limit.map(|t| Instant::now() + t);
    let mut bounded = Bounded {
        sock: &mut sock,
        deadline,
    };
    let done = loop {
        if !conn.is_handshaking() {
            break true;
        }
        match conn.complete_io(&mut bounded) {
            Ok((0, 0)) => break false,
            Ok(_) => {}
            Err(e) => {
                if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut {
                    log::debug!("TLS handshake failed: {}", e);
                }
                break false;
            }
        }
    };
    slot.set_idle(false);
    // The request reader sets its own timeouts from the idle timeout again.
    if !done || sock.set_read_timeout(limit).is_err() {
        return None;
    }
    Some(TlsStream(Arc::new(Mutex::new(rustls::StreamOwned::new(
        conn, sock,
    )))))
}

/// The socket during the handshake: every read waits at most the time left
/// until the deadline (rustls reads as often as the client sends), so a
/// trickled hello cannot stretch the handshake.
struct Bounded<'a> {
    sock: &'a mut Connection,
    deadline: Option<Instant>,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if let Some(at) = self.deadline {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(ErrorKind::TimedOut, "TLS handshake too slow"));
            }
            self.sock.set_read_timeout(Some(left))?;
        }
        self.sock.read(buf)
    }
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.sock.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.sock.flush()
    }
}
