//! The local control socket (`<runtime dir>/control.sock`, docs/api.md
//! "Control socket"): the JSON API and `/RPC2` over HTTP/1.1 on a Unix socket,
//! for `pistack ctl` and supervisorctl's `unix://` URLs. The kernel names the
//! caller (`SO_PEERCRED`): root and the members of group `pistack` act as Root
//! without a token, nobody else is answered. Every request is logged with the
//! caller's uid.
//!
//! Why not tiny_http on a `UnixListener` (it can): its requests do not carry
//! the peer's credentials, and `/logtail` (supervisorctl's `tail -f`) is a
//! stream that would hold a worker of the shared pool for as long as it runs.
//! One accept thread and a short-lived thread per connection (bounded, with
//! timeouts) need neither, and hand each request to the same router.

pub mod peer;
pub mod wire;

use crate::auth::jwt::Claims;
use crate::auth::{Caller, Level, User};
use crate::http::Site;
use crate::supervisor::Supervisor;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 16;
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `/logtail` looks for new output.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// The running control socket; [`ControlServer::stop`] removes it.
pub struct ControlServer {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    site: Arc<Site>,
    supervisor: Arc<Supervisor>,
    pistack_gid: Option<u32>,
    active: AtomicUsize,
    stopping: Arc<AtomicBool>,
}

impl ControlServer {
    /// Bind `path` (mode 0660, group `pistack` when it exists) and serve it.
    pub fn start(
        path: &Path,
        site: Arc<Site>,
        supervisor: Arc<Supervisor>,
    ) -> Result<ControlServer, String> {
        let listener = bind(path)?;
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            site,
            supervisor,
            pistack_gid: peer::group_id(peer::GROUP),
            active: AtomicUsize::new(0),
            stopping: stopping.clone(),
        });
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || accept_loop(listener, shared))
            .map_err(|e| format!("cannot start the control socket thread: {e}"))?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            stopping,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop accepting (open streams end at their next write) and remove the socket.
    pub fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept call.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bind the socket: a stale file from a crash is replaced, a live socket is not.
fn bind(path: &Path) -> Result<UnixListener, String> {
    let shown = path.display();
    if let Some(dir) = path.parent() {
        // Not store::ensure_dir: that makes a folder private, and group pistack
        // must be able to reach the socket (systemd makes /run/pistack 0750).
        std::fs::create_dir_all(dir).map_err(|e| format!("control socket {shown}: {e}"))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!("control socket {shown}: another daemon is answering on it; stop it or set control.socket"));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("control socket {shown}: cannot remove the stale one: {e}"))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("control socket {shown}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("control socket {shown}: cannot set its mode: {e}"))?;
    if let Some(gid) = peer::group_id(peer::GROUP) {
        if let Err(e) = std::os::unix::fs::chown(path, None, Some(gid)) {
            log::warn!(
                "control socket {shown}: cannot give it to group {}: {e}",
                peer::GROUP
            );
        }
    }
    Ok(listener)
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            refuse(stream, 503, "too many control connections; try again");
            continue;
        }
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("control-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                serve(&s, stream);
                s.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn refuse(mut stream: UnixStream, status: u16, message: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let reply = crate::http::reply::ApiError::new(status, message).into_reply();
    let _ = wire::write_reply(&mut stream, &reply, false);
}

/// The Root every allowed peer acts as; its id and name say which uid it is.
fn local_caller(p: &peer::Peer) -> Caller {
    let name = peer::user_name(p.uid).unwrap_or_else(|| format!("uid {}", p.uid));
    Caller {
        user: User {
            id: format!("local:{}", p.uid),
            name: format!("{name} (control socket)"),
            level: Level::Root,
            created_at: 0,
        },
        claims: Claims {
            typ: "local".into(),
            jti: String::new(),
            sub: format!("local:{}", p.uid),
            nam: name,
            lvl: Level::Root.as_str().into(),
            iat: 0,
            exp: 0,
            fam: String::new(),
        },
    }
}

/// One connection: check the peer, then answer requests until it closes.
fn serve(shared: &Shared, stream: UnixStream) {
    let peer = match peer::peer(&stream) {
        Ok(p) => p,
        Err(e) => return log::warn!("cannot read the peer's credentials: {e}"),
    };
    if !peer::allowed(&peer, shared.pistack_gid) {
        log::warn!(
            "control socket: uid {} (pid {}) refused: not root nor in group {}",
            peer.uid,
            peer.pid,
            peer::GROUP
        );
        // Read the request first: closing on unread data resets the
        // connection, and the client would not see why.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if let Ok(s) = stream.try_clone() {
            let _ = wire::read_request(&mut BufReader::new(s), 0);
        }
        return refuse(
            stream,
            403,
            "the control socket is for root and group pistack; use the HTTP API with a token",
        );
    }
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let max_body = shared.site.max_body_bytes;
    loop {
        let req = match wire::read_request(&mut reader, max_body) {
            Ok(r) => r,
            Err(wire::ReadError::Closed) => return,
            Err(wire::ReadError::Refused(status, why)) => {
                let reply = crate::http::reply::ApiError::new(status, why).into_reply();
                let _ = wire::write_reply(&mut writer, &reply, false);
                return;
            }
        };
        if req.method == "GET" && req.url.starts_with("/logtail/") {
            log::info!(target: "access", "control uid {} GET {}", peer.uid, req.url);
            return follow(shared, &mut writer, &req.url);
        }
        let keep_alive = req.keep_alive && !shared.stopping.load(Ordering::SeqCst);
        let (method, url) = (req.method.clone(), req.url.clone());
        let reply = crate::http::dispatch(
            &shared.site,
            &req.method,
            &req.url,
            req.headers,
            req.body,
            local_caller(&peer),
        );
        log::info!(target: "access", "control uid {} {method} {url} {}", peer.uid, reply.status);
        if wire::write_reply(&mut writer, &reply, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// `/logtail/NAME[/stdout|/stderr]`: the last KiB of the log, then what is
/// written to it, as chunks, until the client goes away (supervisorctl `tail -f`).
fn follow(shared: &Shared, w: &mut UnixStream, url: &str) {
    let rest = url.trim_start_matches("/logtail/");
    let (name, channel) = rest.split_once('/').unwrap_or((rest, "stdout"));
    let name = crate::http::request::percent_decode(name).unwrap_or_default();
    let stderr = match channel {
        "stdout" => false,
        "stderr" => true,
        _ => return refuse_on(w, 404, "the channel is stdout or stderr"),
    };
    let path = match shared.supervisor.log_path(&name, stderr) {
        Ok(p) => p,
        Err(e) => return refuse_on(w, 404, &e.to_string()),
    };
    if wire::write_chunked_head(w, "text/plain;charset=utf-8").is_err() {
        return;
    }
    let mut offset = file_len(&path).saturating_sub(1024);
    while !shared.stopping.load(Ordering::SeqCst) {
        let size = file_len(&path);
        if size < offset {
            offset = 0; // rotated or cleared
        }
        if size > offset {
            let data = read_range(&path, offset, size - offset);
            offset += data.len() as u64;
            if wire::write_chunk(w, &data).is_err() {
                return;
            }
        }
        std::thread::sleep(FOLLOW_EVERY);
        // A client that hung up shows only on a write: probe with nothing new.
        if size == offset && probe_closed(w) {
            return;
        }
    }
}

fn refuse_on(w: &mut UnixStream, status: u16, message: &str) {
    let reply = crate::http::reply::ApiError::new(status, message).into_reply();
    let _ = wire::write_reply(w, &reply, false);
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// At most 64 KiB of `path` from `offset`.
fn read_range(path: &Path, offset: u64, len: u64) -> Vec<u8> {
    let mut data = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.take(len.min(64 * 1024)).read_to_end(&mut data);
        }
    }
    data
}

/// Has the peer closed its end? (A readable socket at EOF.)
fn probe_closed(w: &UnixStream) -> bool {
    let mut pfd = libc::pollfd {
        fd: std::os::unix::io::AsRawFd::as_raw_fd(w),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, no wait.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n <= 0 {
        return false;
    }
    let mut buf = [0u8; 1];
    // SAFETY: peek one byte into `buf` without blocking.
    let got = unsafe {
        libc::recv(
            pfd.fd,
            buf.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    got == 0 || pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}
