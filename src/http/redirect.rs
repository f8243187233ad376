//! `http.redirect_bind` (nginx's :80): a plain listener that answers every
//! request with 308 to the same path and query on https, and serves nothing
//! else. It is a tiny_http server with the main listener's bounds and one thread.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct Redirect {
    server: Arc<tiny_http::Server>,
    thread: JoinHandle<()>,
}

impl Redirect {
    /// Listen on `bind` and send everyone to `https_port` of the host they asked for.
    pub fn start(
        bind: &str,
        https_port: u16,
        limits: tiny_http::ConnectionLimits,
    ) -> Result<Redirect, String> {
        let listener = TcpListener::bind(bind).map_err(|e| {
            format!("http.redirect_bind: cannot listen on {bind}: {e} (a port below 1024 needs CAP_NET_BIND_SERVICE, see README)")
        })?;
        let server = tiny_http::Server::from_listener_with_limits(listener, None, limits)
            .map_err(|e| format!("cannot start the redirect listener: {e}"))?;
        let server = Arc::new(server);
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("http-redirect".into())
            .spawn(move || {
                while let Ok(request) = serving.recv() {
                    answer(request, https_port);
                }
            })
            .map_err(|e| format!("cannot start the redirect thread: {e}"))?;
        Ok(Redirect { server, thread })
    }

    pub fn stop(self) {
        self.server.unblock();
        let _ = self.thread.join();
    }
}

fn answer(request: tiny_http::Request, https_port: u16) {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_string());
    let (status, body, location) = match location(host.as_deref(), request.url(), https_port) {
        Some(url) => (308, format!("this server speaks https: {url}"), Some(url)),
        None => (
            400,
            "a Host header is needed to redirect to https".into(),
            None,
        ),
    };
    let mut headers = vec![];
    let mut push = |name: &str, value: &str| {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            headers.push(h);
        }
    };
    push("Content-Type", "application/json");
    if let Some(url) = &location {
        push("Location", url);
    }
    let body = serde_json::json!({ "message": body }).to_string();
    let len = body.len();
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(status),
        headers,
        std::io::Cursor::new(body.into_bytes()),
        Some(len),
        None,
    );
    let _ = request.respond(response);
}

/// The https URL for a request to `target` on `host` (a Host header, its port
/// dropped). `None` when the host is missing or not a plain host name or address.
pub fn location(host: Option<&str>, target: &str, https_port: u16) -> Option<String> {
    let host = host?.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => format!("[{}]", rest.split(']').next()?),
        None => host.split(':').next()?.to_string(),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || ".-_:[]".contains(c);
    if name.is_empty() || name == "[]" || !name.chars().all(plain) {
        return None;
    }
    let target = if target.starts_with('/') { target } else { "/" };
    Some(match https_port {
        443 => format!("https://{name}{target}"),
        port => format!("https://{name}:{port}{target}"),
    })
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn keeps_path_and_query_and_takes_the_tls_port() {
        let at = |h, t, p| location(Some(h), t, p);
        assert_eq!(
            at("pi.local:8080", "/a/b?c=d", 8443).as_deref(),
            Some("https://pi.local:8443/a/b?c=d")
        );
        assert_eq!(
            at("pi.local", "/", 443).as_deref(),
            Some("https://pi.local/")
        );
        assert_eq!(
            at("[::1]:80", "/x", 443).as_deref(),
            Some("https://[::1]/x")
        );
        assert_eq!(
            at("10.0.0.2", "*", 8443).as_deref(),
            Some("https://10.0.0.2:8443/")
        );
    }

    #[test]
    fn refuses_a_missing_or_odd_host() {
        assert_eq!(location(None, "/", 443), None);
        assert_eq!(location(Some(""), "/", 443), None);
        assert_eq!(location(Some("a/b"), "/", 443), None);
        assert_eq!(location(Some("evil.com@x"), "/", 443), None);
    }
}
