//! The `http` section of the configuration (conf/README.md): where to listen and
//! the bounds that keep one client from taking the server from the others.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

use super::tls::TlsConfig;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub bind: String,
    /// Threads answering the fast requests (health, logins, tokens, files).
    pub workers: usize,
    /// Threads for the routes that may take seconds (pulses, start/stop waits);
    /// as many more such requests may wait for one, further ones get 503.
    pub slow_workers: usize,
    pub max_body_bytes: usize,
    pub www_dir: PathBuf,
    /// HTTPS on `bind`: `"self-signed"` or `{"cert": PATH, "key": PATH}`.
    pub tls: Option<TlsConfig>,
    /// A plain listener that answers every request with 308 to the https URL.
    pub redirect_bind: Option<String>,
    /// A connection that sends or takes nothing for this long is closed; a
    /// request's head, then its body, must each arrive whole within it.
    pub idle_timeout_s: u64,
    /// Connections open at once; at the cap the oldest idle one is closed for a
    /// newcomer, and the newcomer is refused when none is idle.
    pub max_connections: usize,
    /// Connections open at once from one client address (same rule).
    pub max_connections_per_client: usize,
}

/// Connections from the host itself (the watchdog's health check, a local
/// proxy) allowed beyond `max_connections`.
pub const LOOPBACK_RESERVE: usize = 16;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "0.0.0.0:8080".into(),
            workers: 4,
            slow_workers: 4,
            max_body_bytes: 64 * 1024,
            www_dir: "/usr/share/pistack/www".into(),
            tls: None,
            redirect_bind: None,
            idle_timeout_s: 30,
            max_connections: 256,
            max_connections_per_client: 32,
        }
    }
}

impl HttpConfig {
    /// What serde cannot check, each problem naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.bind.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "http.bind: {:?} is not an address:port such as 0.0.0.0:8080",
                self.bind
            ));
        }
        if !(1..=64).contains(&self.workers) {
            problems.push("http.workers: must be 1 to 64".into());
        }
        if !(1..=64).contains(&self.slow_workers) {
            problems.push("http.slow_workers: must be 1 to 64".into());
        }
        if self.max_body_bytes < 1024 {
            problems.push("http.max_body_bytes: must be at least 1024".into());
        }
        if let Some(tls) = &self.tls {
            problems.extend(super::tls::check(tls));
        }
        if let Some(redirect) = &self.redirect_bind {
            if redirect.parse::<SocketAddr>().is_err() {
                problems.push(format!(
                    "http.redirect_bind: {redirect:?} is not an address:port such as 0.0.0.0:80"
                ));
            } else if self.tls.is_none() {
                problems
                    .push("http.redirect_bind: redirects to https, so it needs http.tls".into());
            }
        }
        if self.idle_timeout_s == 0 {
            problems.push("http.idle_timeout_s: must be above 0".into());
        }
        if self.max_connections < 8 {
            problems.push("http.max_connections: must be at least 8".into());
        }
        if !(1..=self.max_connections.max(1)).contains(&self.max_connections_per_client) {
            problems.push(
                "http.max_connections_per_client: must be from 1 to http.max_connections".into(),
            );
        }
        problems
    }
}
