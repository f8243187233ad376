//! The one HTTPS client: ureq's transport with a rustls session of our own
//! (rustls on ring, as the daemon's server; no OpenSSL, no aws-lc-rs, no bundled
//! web roots), for the weather provider, rule webhooks and `pistack ctl --url
//! https://...`. The roots are a CA file (ctl's `--ca`: a private CA, or the
//! daemon's self-signed certificate itself), else the system's
//! (rustls-native-certs: `/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`).
//!
//! The handshake is completed in [`Connector::connect`], so that a certificate
//! the roots do not vouch for is told apart from a peer that is not there.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use ureq::ReadWrite;

/// A TLS connector for ureq that remembers why it distrusted a certificate.
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    ca: Option<PathBuf>,
    untrusted: Mutex<Option<String>>,
}

/// The daemon's connector, on the system's roots: read once, on first use
/// (a Pi Zero takes tens of milliseconds to parse `/etc/ssl/certs`).
/// `None` only if ring could not offer TLS 1.2 or 1.3: https then fails as an
/// unknown scheme, plain http works.
pub fn system() -> Option<Arc<Connector>> {
    static SYSTEM: OnceLock<Option<Arc<Connector>>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            Connector::with_roots(system_roots(), None)
                .ok()
                .map(Arc::new)
        })
        .clone()
}

/// The system's CA certificates; unreadable ones are skipped, and none at all
/// is seen at the handshake as an untrusted certificate.
fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

impl Connector {
    /// Roots from `ca` (PEM, one or more certificates), else the system's. An
    /// error names the file and what is wrong with it.
    pub fn new(ca: Option<&Path>) -> Result<Connector, String> {
        let Some(path) = ca else {
            return Connector::with_roots(system_roots(), None);
        };
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{}: no \"BEGIN CERTIFICATE\" block",
                path.display()
            ));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Connector::with_roots(roots, Some(path))
    }

    fn with_roots(roots: rustls::RootCertStore, ca: Option<&Path>) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Connector {
            config: Arc::new(config),
            ca: ca.map(Path::to_path_buf),
            untrusted: Mutex::new(None),
        })
    }

    /// Why the last handshake refused the peer's certificate: the host, the
    /// roots and rustls' reason (the caller adds what to do about it).
    pub fn untrusted(&self) -> Option<String> {
        self.untrusted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn distrust(&self, host: &str, e: &rustls::Error) {
        let roots = match &self.ca {
            Some(ca) => format!("the CA in {}", ca.display()),
            None => "the system's CA certificates".to_string(),
        };
        let why = format!("{host}: the certificate is not trusted by {roots} ({e})");
        *self.untrusted.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }
}

impl ureq::TlsConnector for Connector {
    fn connect(
        &self,
        dns_name: &str,
        mut io: Box<dyn ReadWrite>,
    ) -> Result<Box<dyn ReadWrite>, ureq::Error> {
        let host = dns_name.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host}: {e}"))
        })?;
        let mut session = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        while session.is_handshaking() {
            if let Err(e) = session.complete_io(&mut io) {
                if let Some(tls @ rustls::Error::InvalidCertificate(_)) = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    self.distrust(host, tls);
                }
                return Err(e.into());
            }
        }
        Ok(Box::new(Stream(rustls::StreamOwned::new(session, io))))
    }
}

/// The TLS stream ureq reads and writes.
struct Stream(rustls::StreamOwned<rustls::ClientConnection, Box<dyn ReadWrite>>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TLS client stream")
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl ReadWrite for Stream {
    fn socket(&self) -> Option<&TcpStream> {
        self.0.get_ref().socket()
    }
}
