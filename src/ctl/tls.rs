//! HTTPS for `pistack ctl --url https://...`: ureq's transport with a rustls
//! session of our own (rustls on ring, as the daemon; no OpenSSL, no aws-lc-rs,
//! no bundled web roots). The roots are the `--ca` file (a private CA, or the
//! daemon's self-signed certificate itself), else the system's.
//!
//! The handshake is completed in [`Connector::connect`], so that a certificate
//! the roots do not vouch for is told apart from a daemon that is not there.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use ureq::ReadWrite;

/// A TLS connector for ureq that remembers why it distrusted a certificate.
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    ca: Option<PathBuf>,
    untrusted: Mutex<Option<String>>,
}

impl Connector {
    /// Roots from `ca` (PEM, one or more certificates), else the system's.
    pub fn new(ca: Option<&Path>) -> Result<Connector, String> {
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| format!("--ca {}: {e}", path.display()))?;
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("--ca {}: not PEM: {e}", path.display()))?;
                if certs.is_empty() {
                    return Err(format!(
                        "--ca {}: no \"BEGIN CERTIFICATE\" block",
                        path.display()
                    ));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("--ca {}: {e}", path.display()))?;
                }
            }
            None => {
                // Unreadable system certificates are skipped; none at all is
                // seen at the handshake, with the hint to pass --ca.
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
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

    /// Why the last handshake refused the daemon's certificate, with what to do.
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
        let why = format!(
            "{host}: the daemon's certificate is not trusted by {roots} ({e}); \
             pass --ca FILE (or PISTACK_CA) with the daemon's certificate: its http.tls \
             \"cert\", or <state_dir>/tls/cert.pem when it is self-signed; or the CA that signed it"
        );
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
        f.write_str("ctl TLS stream")
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
