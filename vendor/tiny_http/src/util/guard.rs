//! pistack patch: who may open a connection, and how long a read may wait.
//!
//! [`Registry`] admits connections: at most `max_per_client` from one address
//! and `max_connections` in all, with `loopback_reserve` more for the host
//! itself (the watchdog's health check). A client at its bound, or a full
//! server, first reclaims the oldest *idle* connection (one waiting for its
//! next request) of that client, or of anyone; only when none is idle is the
//! new connection refused. So idle keep-alive sockets can never keep new
//! clients out, however many an attacker opens.
//!
//! [`DeadlineStream`] gives each read the time left until a deadline (a head
//! or a body must arrive whole within it), so a client trickling one byte per
//! second cannot stretch a request beyond the limit.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Result as IoResult};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connection::Connection;

/// Bounds on connections, set by `ConnectionLimits`.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_connections: usize,
    pub max_per_client: usize,
    pub loopback_reserve: usize,
}

pub struct Registry {
    bounds: Bounds,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Entry>,
    per_client: HashMap<Option<IpAddr>, usize>,
}

struct Entry {
    client: Option<IpAddr>,
    /// `Some` while the connection waits for its next request.
    idle_since: Option<Instant>,
    /// Ends the wait of the connection (shuts the read side of its socket).
    wake: Box<dyn Fn() + Send>,
}

/// Why a new connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    ClientFull,
    ServerFull,
}

/// A connection's place in the registry; dropping it frees the place.
pub struct Slot {
    registry: Arc<Registry>,
    id: u64,
}

impl Registry {
    pub fn new(bounds: Bounds) -> Arc<Registry> {
        Arc::new(Registry {
            bounds,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admit a connection from `client`, reclaiming an idle one if a bound is reached.
    /// `wake` ends the connection's wait for a request when it is reclaimed.
    pub fn admit(
        self: &Arc<Self>,
        client: Option<IpAddr>,
        wake: Box<dyn Fn() + Send>,
    ) -> Result<Slot, Refused> {
        let mut inner = self.lock();
        let b = self.bounds;
        let loopback = client.map_or(true, |ip| ip.is_loopback());
        if inner.per_client.get(&client).copied().unwrap_or(0) >= b.max_per_client
            && !inner.reclaim_idle(|e| e.client == client)
        {
            return Err(Refused::ClientFull);
        }
        let cap = b.max_connections + if loopback { b.loopback_reserve } else { 0 };
        // The reserve is the host's own: others count against the plain cap.
        while inner.open.len() >= cap {
            if !inner.reclaim_idle(|_| true) {
                return Err(Refused::ServerFull);
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(
            id,
            // Idle from the start: it has sent nothing yet (and its thread
            // may not even run yet when the next newcomer arrives).
            Entry {
                client,
                idle_since: Some(Instant::now()),
                wake,
            },
        );
        *inner.per_client.entry(client).or_insert(0) += 1;
        Ok(Slot {
            registry: self.clone(),
            id,
        })
    }
}

impl Inner {
    /// End the wait of the oldest idle connection that `pick` accepts.
    fn reclaim_idle(&mut self, pick: impl Fn(&Entry) -> bool) -> bool {
        let oldest = self
            .open
            .iter()
            .filter(|(_, e)| e.idle_since.is_some() && pick(e))
            .min_by_key(|(_, e)| e.idle_since)
            .map(|(id, _)| *id);
        match oldest {
            Some(id) => {
                if let Some(e) = self.remove(id) {
                    (e.wake)();
                }
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.open.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&e.client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&e.client);
            }
        }
        Some(e)
    }
}

impl Registry {
    /// Connections admitted and not yet closed or reclaimed.
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }
}

impl Slot {
    /// Mark the connection as waiting for its next request (reclaimable) or not.
    pub fn set_idle(&self, idle: bool) {
        let mut inner = self.registry.lock();
        if let Some(e) = inner.open.get_mut(&self.id) {
            e.idle_since = if idle { Some(Instant::now()) } else { None };
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().remove(self.id);
    }
}

/// A deadline shared by a connection's reader and its request parser.
#[derive(Default)]
pub struct Deadline(Mutex<Option<Instant>>);

impl Deadline {
    pub fn set(&self, within: Option<Duration>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = within.map(|d| Instant::now() + d);
    }

    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A socket reader whose every read waits at most the idle timeout, and no
/// longer than the deadline when one is set.
pub struct DeadlineStream<R> {
    inner: R,
    socket: Arc<Connection>,
    idle: Option<Duration>,
    deadline: Arc<Deadline>,
    current: Option<Duration>,
}

impl<R: Read> DeadlineStream<R> {
    pub fn new(inner: R, socket: Arc<Connection>, idle: Option<Duration>, deadline: Arc<Deadline>) -> Self {
        DeadlineStream {
            inner,
            socket,
            idle,
            deadline,
            current: idle,
        }
    }
}

impl<R: Read> Read for DeadlineStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        let timeout = match self.deadline.get() {
            None => self.idle,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(std::io::Error::new(ErrorKind::TimedOut, "request too slow"));
                }
                Some(self.idle.map_or(left, |idle| idle.min(left)))
            }
        };
        if timeout != self.current {
            self.socket.set_read_timeout(timeout)?;
            self.current = timeout;
        }
        self.inner.read(buf)
    }
}
