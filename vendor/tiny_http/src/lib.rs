//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]
// pistack patch: quiet the two upstream warnings newer compilers raise.
#![allow(dead_code, unused_imports)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;
// pistack patch: the head and body framing parser, public for the fuzz target.
pub use framing::{head_complete, parse_head, read_body, BodyError, BodyFraming, Head, Refusal};
// pistack patch: the connection registry, public for pistack's tests of it.
pub use util::guard::{Bounds, Refused, Registry, Slot};
// pistack patch: TLS with rustls 0.23, its config replaceable at run time.
pub use tls::TlsAcceptor;

mod client;
mod common;
mod connection;
mod framing;
mod request;
mod response;
mod test;
mod tls;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,
}

enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,

    /// If `Some`, then the server will use TLS to encode the communications.
    pub ssl: Option<TlsAcceptor>,
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: None,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
            ssl: None,
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener, config.ssl)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<TlsAcceptor>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener_with_limits(listener, ssl_config, ConnectionLimits::default())
    }

    /// pistack patch: like `from_listener`, but every accepted connection gets
    /// `limits.idle_timeout` as its read and write timeout (so an idle or stalled
    /// client frees its thread), at most `limits.max_connections` are open at once
    /// (further ones are closed at once), and a failed `accept` (EMFILE, ECONNABORTED)
    /// is retried instead of ending the accept thread for good. With `tls`,
    /// every connection is TLS, its handshake run by the connection's thread.
    pub fn from_listener_with_limits<L: Into<Listener>>(
        listener: L,
        tls: Option<TlsAcceptor>,
        limits: ConnectionLimits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = listener.into();
        // building the "close" variable
        let close_trigger = Arc::new(AtomicBool::new(false));

        // building the TcpListener
        let (server, local_addr) = {
            let local_addr = listener.local_addr()?;
            log::debug!("Server listening on {}", local_addr);
            (listener, local_addr)
        };

        // creating a task where server.accept() is continuously called
        // and ClientConnection objects are pushed in the messages queue
        let messages = MessagesQueue::with_capacity(8);

        let inside_close_trigger = close_trigger.clone();
        let inside_messages = messages.clone();
        let registry = util::guard::Registry::new(util::guard::Bounds {
            max_connections: limits.max_connections,
            max_per_client: limits.max_connections_per_client,
            loopback_reserve: limits.loopback_reserve,
        });
        thread::spawn(move || {
            // a tasks pool is used to dispatch the connections into threads
            let tasks_pool = util::TaskPool::new();

            log::debug!("Running accept thread");
            while !inside_close_trigger.load(Relaxed) {
                match server.accept() {
                    Ok((sock, peer)) => {
                        if let Some(admitted) = admit(sock, peer, &registry, limits) {
                            let messages = inside_messages.clone();
                            let tls = tls.clone();
                            let mut admitted = Some(admitted);
                            let spawned = tasks_pool.spawn(Box::new(move || {
                                let client = admitted
                                    .take()
                                    .and_then(|a| a.into_client(tls.as_ref(), limits));
                                if let Some(client) = client {
                                    serve_connection(client, &messages);
                                }
                            }));
                            if let Err(e) = spawned {
                                log::warn!("cannot start a connection thread ({}): closing the connection", e);
                            }
                        }
                    }
                    Err(e) => {
                        // pistack patch: out of file descriptors or an aborted handshake
                        // is transient; wait a little and keep serving.
                        log::error!("Error accepting new client: {}", e);
                        thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            }
            log::debug!("Terminating accept thread");
        });

        // result
        Ok(Server {
            messages,
            close: close_trigger,
            listening_addr: local_addr,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        unimplemented!()
        //self.requests_receiver.lock().len()
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// pistack patch: limits applied to every accepted connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Read and write timeout of each connection, and the time a request's head,
    /// then its body, has to arrive whole; `None` waits forever (upstream behaviour).
    pub idle_timeout: Option<std::time::Duration>,
    /// Connections open at once; a new one beyond this first reclaims the oldest
    /// idle connection, and is closed when none is idle.
    pub max_connections: usize,
    /// Connections open at once from one client address (same rule).
    pub max_connections_per_client: usize,
    /// Connections from the host itself (loopback) allowed beyond `max_connections`.
    pub loopback_reserve: usize,
    /// Largest request body; a larger one is refused with 413 and the connection closed.
    pub max_body_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            idle_timeout: None,
            max_connections: usize::MAX,
            max_connections_per_client: usize::MAX,
            loopback_reserve: 0,
            max_body_bytes: usize::MAX,
        }
    }
}

/// pistack patch: a socket the registry admitted, not yet read from.
struct Admitted {
    sock: Connection,
    control: Arc<Connection>,
    slot: util::guard::Slot,
}

/// pistack patch: admit a new socket (or close it at once). Runs on the
/// accept thread, so it does nothing that waits on the client.
fn admit(
    sock: Connection,
    peer: Option<std::net::SocketAddr>,
    registry: &Arc<util::guard::Registry>,
    limits: ConnectionLimits,
) -> Option<Admitted> {
    if let Err(e) = sock.set_timeouts(limits.idle_timeout) {
        log::debug!("could not set socket timeouts: {}", e);
        return None;
    }
    let control = match sock.try_clone() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            log::warn!("cannot take a new connection: {}", e);
            return None;
        }
    };
    let socket = control.clone();
    // Only the read side: a response still being written finishes. For TLS
    // this is the TCP socket under it, so a reclaimed connection wakes too.
    let wake = Box::new(move || {
        let _ = socket.shutdown(Shutdown::Read);
    });
    let slot = match registry.admit(peer.map(|a| a.ip()), wake) {
        Ok(slot) => slot,
        Err(why) => {
            log::warn!("connection from {:?} closed at once: {:?} (http.max_connections, http.max_connections_per_client)", peer.map(|a| a.ip()), why);
            return None;
        }
    };
    Some(Admitted {
        sock,
        control,
        slot,
    })
}

impl Admitted {
    /// On the connection's thread: the TLS handshake if any, then the reader
    /// of requests. `None` closes the connection.
    fn into_client(self, tls: Option<&TlsAcceptor>, limits: ConnectionLimits) -> Option<ClientConnection> {
        use util::refined_tcp_stream::Stream;
        use util::RefinedTcpStream;
        let Admitted {
            sock,
            control,
            slot,
        } = self;
        let stream = match tls {
            None => Stream::Http(sock),
            Some(acceptor) => Stream::Https(tls::handshake(acceptor, sock, &slot, limits.idle_timeout)?),
        };
        let (read_closable, write_closable) = match RefinedTcpStream::new(stream) {
            Ok(halves) => halves,
            Err(e) => {
                log::warn!("cannot take a new connection: {}", e);
                return None;
            }
        };
        Some(ClientConnection::new(write_closable, read_closable, control, slot, limits))
    }
}

/// pistack patch: hand a connection's requests to the workers one at a time —
/// the next request is read only once the previous one is answered, so a
/// client that pipelines cannot queue unbounded work or memory.
fn serve_connection(client: ClientConnection, messages: &MessagesQueue<Message>) {
    let (sender, receiver) = mpsc::channel();
    for rq in client {
        messages.push(rq.with_notify_sender(sender.clone()).into());
        if receiver.recv().is_err() {
            break;
        }
    }
}
