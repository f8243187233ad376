//! How `pistack ctl` reaches a daemon: HTTP/1.1 over the local control socket
//! (no token: the daemon knows who we are from the socket), or `--url` over
//! HTTP(S) with a Bearer token (ureq; HTTPS through [`super::tls`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A start or stop waits for the program (`startsecs`/`stopwaitsecs` + 30 s).
const TIMEOUT: Duration = Duration::from_secs(300);

pub enum Target {
    Socket(PathBuf),
    Url {
        base: String,
        token: Option<String>,
        /// The roots for an https:// URL (`--ca`, `PISTACK_CA`); else the system's.
        ca: Option<PathBuf>,
    },
}

/// What went wrong talking to the daemon; each has its exit code.
#[derive(Debug)]
pub enum Error {
    /// No daemon answers there (exit 7, as supervisorctl's "no such file").
    Unreachable(String),
    /// The socket or the daemon refused us (exit 5).
    Denied(String),
    /// The daemon answered nonsense, or the connection broke (exit 1).
    Protocol(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(m) | Error::Denied(m) | Error::Protocol(m) => f.write_str(m),
        }
    }
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The daemon's `message`, or the body as text.
    pub fn message(&self) -> String {
        match self.json().get("message").and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => String::from_utf8_lossy(&self.body).trim().to_string(),
        }
    }
}

impl Target {
    /// One request; any HTTP status is a `Response`, only transport trouble an error.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, Error> {
        let body = body.map(|b| b.to_string().into_bytes());
        match self {
            Target::Socket(socket) => {
                let mut stream = self.connect(socket)?;
                send(&mut stream, method, path, body.as_deref())?;
                read_response(BufReader::new(stream))
            }
            Target::Url { base, token, ca } => {
                let url = format!("{}{path}", base.trim_end_matches('/'));
                call_url(
                    &url,
                    token.as_deref(),
                    ca.as_deref(),
                    method,
                    body.as_deref(),
                )
            }
        }
    }

    fn connect(&self, socket: &std::path::Path) -> Result<UnixStream, Error> {
        let shown = socket.display();
        let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => Error::Denied(format!(
                "{shown}: permission denied (root and group pistack only; or use --url with a token)"
            )),
            _ => Error::Unreachable(format!("{shown}: {e} (is the daemon running? systemctl status pistack)")),
        })?;
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let _ = stream.set_write_timeout(Some(TIMEOUT));
        Ok(stream)
    }

    /// `GET path` as a stream of chunks, each given to `each` (`/logtail`).
    pub fn stream(&self, path: &str, mut each: impl FnMut(&[u8])) -> Result<(), Error> {
        let Target::Socket(socket) = self else {
            return Err(Error::Protocol(
                "tail -f needs the local control socket (not --url)".into(),
            ));
        };
        let mut stream = self.connect(socket)?;
        let _ = stream.set_read_timeout(None);
        send(&mut stream, "GET", path, None)?;
        let mut r = BufReader::new(stream);
        let status = read_head(&mut r)?;
        if status != 200 {
            let resp = read_rest(r, status)?;
            return Err(Error::Protocol(resp.message()));
        }
        loop {
            let mut size = String::new();
            if r.read_line(&mut size).map_err(broken)? == 0 {
                return Ok(());
            }
            let n = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| Error::Protocol("bad chunk".into()))?;
            if n == 0 {
                return Ok(());
            }
            let mut data = vec![0; n + 2];
            r.read_exact(&mut data).map_err(broken)?;
            each(&data[..n]);
        }
    }
}

/// One request over HTTP(S) with ureq; a certificate the roots do not vouch
/// for is said so, with the fix (`--ca`).
fn call_url(
    url: &str,
    token: Option<&str>,
    ca: Option<&std::path::Path>,
    method: &str,
    body: Option<&[u8]>,
) -> Result<Response, Error> {
    let mut agent = ureq::AgentBuilder::new().timeout(TIMEOUT);
    let tls = if url.starts_with("https://") {
        let connector = crate::tls_client::Connector::new(ca)
            .map_err(|e| Error::Protocol(format!("--ca {e}")))?;
        let connector = Arc::new(connector);
        agent = agent.tls_connector(connector.clone());
        Some(connector)
    } else {
        None
    };
    let mut req = agent
        .build()
        .request(method, url)
        .set("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        // ureq's message names the URL already.
        Err(e) => {
            let untrusted = tls.as_ref().and_then(|t| t.untrusted()).map(|why| {
                format!(
                    "{why}; pass --ca FILE (or PISTACK_CA) with the daemon's certificate: its \
                     http.tls \"cert\", or <state_dir>/tls/cert.pem when it is self-signed; \
                     or the CA that signed it"
                )
            });
            return Err(Error::Unreachable(
                untrusted.unwrap_or_else(|| e.to_string()),
            ));
        }
    };
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_reader()
        .take(64 * 1024 * 1024)
        .read_to_end(&mut body)
        .map_err(|e| Error::Protocol(format!("{url}: {e}")))?;
    Ok(Response { status, body })
}

fn broken(e: std::io::Error) -> Error {
    Error::Protocol(format!("the connection broke: {e}"))
}

fn send(
    stream: &mut UnixStream,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<(), Error> {
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(broken)?;
    stream.write_all(body).map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::Denied("the daemon closed the connection (not allowed?)".into())
        } else {
            broken(e)
        }
    })
}

/// The status line and headers; the status.
fn read_head(r: &mut impl BufRead) -> Result<u16, Error> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(broken)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Protocol(format!("not an HTTP answer: {line:?}")))?;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(broken)? == 0 || h.trim().is_empty() {
            return Ok(status);
        }
    }
}

fn read_rest(mut r: impl BufRead, status: u16) -> Result<Response, Error> {
    let mut body = Vec::new();
    r.read_to_end(&mut body).map_err(broken)?;
    Ok(Response { status, body })
}

fn read_response(mut r: impl BufRead) -> Result<Response, Error> {
    let status = read_head(&mut r)?;
    read_rest(r, status)
}
