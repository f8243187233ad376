//! HTTPS in the daemon: the `http.tls` setting, the certificate files, the
//! "self-signed" certificate made on first start (as Cockpit does), and the
//! reload on SIGHUP. rustls on ring, TLS 1.2 and 1.3 only, ALPN `http/1.1`.
//! The handshake itself runs in the vendored tiny_http (`tiny_http::TlsAcceptor`).

use crate::store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `http.tls`: `"self-signed"` or `{"cert": PATH, "key": PATH}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsConfig {
    /// A certificate made and kept in `<state_dir>/tls/`.
    SelfSigned,
    /// PEM files: the certificate (its chain may follow) and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

const SHAPE: &str = r#"http.tls: expected "self-signed" or {"cert": PATH, "key": PATH}"#;

impl<'de> Deserialize<'de> for TlsConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Files {
            cert: PathBuf,
            key: PathBuf,
        }
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "self-signed" => Ok(TlsConfig::SelfSigned),
            v @ serde_json::Value::Object(_) => serde_json::from_value::<Files>(v)
                .map(|f| TlsConfig::Files {
                    cert: f.cert,
                    key: f.key,
                })
                .map_err(|e| D::Error::custom(format!("{e}; {SHAPE}"))),
            _ => Err(D::Error::custom(SHAPE)),
        }
    }
}

impl Serialize for TlsConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TlsConfig::SelfSigned => s.serialize_str("self-signed"),
            TlsConfig::Files { cert, key } => {
                serde_json::json!({"cert": cert, "key": key}).serialize(s)
            }
        }
    }
}

/// What can go wrong with the certificate or its key.
#[derive(Debug)]
pub enum TlsError {
    /// A file cannot be read; `key` is the config key that names it.
    Read {
        key: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file holds no usable PEM certificate or private key.
    Parse {
        key: &'static str,
        path: PathBuf,
        why: String,
    },
    /// The private key is not the key of the (first) certificate.
    Mismatch { key_path: PathBuf, cert: PathBuf },
    /// The self-signed certificate could not be made or stored.
    SelfSigned(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { key, path, error } => write!(
                f,
                "{key}: cannot read {}: {error} (relative paths are against the config file's folder)",
                path.display()
            ),
            TlsError::Parse { key, path, why } => write!(f, "{key}: {}: {why}", path.display()),
            TlsError::Mismatch { key_path, cert } => write!(
                f,
                "http.tls.key: {} is not the private key of the certificate in {} (give the key the certificate was made for)",
                key_path.display(),
                cert.display()
            ),
            TlsError::SelfSigned(why) => write!(f, "http.tls: self-signed certificate: {why}"),
        }
    }
}

/// A certificate ready to serve, and its SHA-256 fingerprint.
pub struct Loaded {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read and check the PEM files, and build the server's TLS configuration.
pub fn load(cert: &Path, key: &Path) -> Result<Loaded, TlsError> {
    let read = |k: &'static str, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read {
            key: k,
            path: path.to_path_buf(),
            error,
        })
    };
    let parse = |k: &'static str, path: &Path, why: String| TlsError::Parse {
        key: k,
        path: path.to_path_buf(),
        why,
    };
    let cert_pem = read("http.tls.cert", cert)?;
    let key_pem = read("http.tls.key", key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse("http.tls.cert", cert, format!("not PEM: {e}")))?;
    if chain.is_empty() {
        let why = "no \"BEGIN CERTIFICATE\" block (a PEM certificate is expected)".into();
        return Err(parse("http.tls.cert", cert, why));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let why = format!("no PEM private key ({e}; PKCS#8, PKCS#1 or SEC1, unencrypted)");
        parse("http.tls.key", key, why)
    })?;
    let provider = provider();
    let certified = rustls::sign::CertifiedKey::from_der(chain, private, &provider);
    let certified = certified.map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            key_path: key.to_path_buf(),
            cert: cert.to_path_buf(),
        },
        e => parse(
            "http.tls.key",
            key,
            format!("unusable key or certificate: {e}"),
        ),
    })?;
    let fingerprint = fingerprint(certified.cert[0].as_ref());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| parse("http.tls.cert", cert, e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Loaded {
        config: Arc::new(config),
        fingerprint,
    })
}

/// SHA-256 of a DER certificate as browsers show it: "AB:CD:...".
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    hex.join(":")
}

/// Where the self-signed certificate and key are kept.
pub fn self_signed_paths(state_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = state_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Make the self-signed certificate unless both files are there already.
/// It names the host name, `<hostname>.local`, localhost and every address
/// of the machine; delete `<state_dir>/tls/` to make a new one.
fn ensure_self_signed(state_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = self_signed_paths(state_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let fail = |what: &str, e: &dyn fmt::Display| TlsError::SelfSigned(format!("{what}: {e}"));
    let names = subject_names();
    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| fail("a host name is not a DNS name", &e))?;
    let host = names.first().cloned().unwrap_or_else(|| "pistack".into());
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, host);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    const DAY: i64 = 86_400;
    params.not_before = time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(now - DAY);
    params.not_after = params.not_before + time::Duration::seconds(10 * 365 * DAY);
    let pair = rcgen::KeyPair::generate().map_err(|e| fail("cannot make a key", &e))?;
    let made = params
        .self_signed(&pair)
        .map_err(|e| fail("cannot sign", &e))?;
    let dir = cert.parent().unwrap_or(state_dir);
    let write = |path: &Path, text: String, mode: u32| {
        store::write_atomic(path, text.as_bytes(), mode)
            .map_err(|e| fail(&format!("cannot write {}", path.display()), &e))
    };
    store::ensure_dir(dir).map_err(|e| fail(&format!("cannot create {}", dir.display()), &e))?;
    write(&key, pair.serialize_pem(), 0o600)?;
    write(&cert, made.pem(), 0o644)?;
    log::info!(
        "made a self-signed TLS certificate for {} in {}",
        names.join(", "),
        cert.display()
    );
    Ok((cert, key))
}

/// The names a browser may use for this machine.
fn subject_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(host) = crate::info::system::hostname() {
        if !host.is_empty() && host != "localhost" {
            names.push(format!("{host}.local"));
            names.insert(0, host);
        }
    }
    names.push("localhost".into());
    if let Ok(by_interface) = crate::info::network::addresses() {
        for (v4, v6) in by_interface.into_values() {
            for a in v4.iter().chain(&v6) {
                let ip = a.split('/').next().unwrap_or_default().to_string();
                if !ip.is_empty() && !names.contains(&ip) {
                    names.push(ip);
                }
            }
        }
    }
    names
}

/// The serving certificate: where it comes from, and the acceptor the
/// server takes new connections' configuration from.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    acceptor: tiny_http::TlsAcceptor,
}

impl Tls {
    /// Load (or first make) the certificate, and log its fingerprint.
    pub fn start(config: &TlsConfig, state_dir: &Path) -> Result<Tls, TlsError> {
        let (cert, key) = match config {
            TlsConfig::SelfSigned => ensure_self_signed(state_dir)?,
            TlsConfig::Files { cert, key } => (cert.clone(), key.clone()),
        };
        let loaded = load(&cert, &key)?;
        log_fingerprint(&cert, &loaded.fingerprint);
        Ok(Tls {
            acceptor: tiny_http::TlsAcceptor::new(loaded.config),
            cert,
            key,
        })
    }

    pub fn acceptor(&self) -> tiny_http::TlsAcceptor {
        self.acceptor.clone()
    }

    /// Read the files again (SIGHUP): new connections get the new certificate,
    /// open ones keep theirs. A bad new file keeps the old certificate.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.cert, &self.key)?;
        self.acceptor.replace(loaded.config);
        log_fingerprint(&self.cert, &loaded.fingerprint);
        Ok(())
    }
}

fn log_fingerprint(cert: &Path, fingerprint: &str) {
    log::info!(
        "TLS certificate {} SHA-256 fingerprint {fingerprint}",
        cert.display()
    );
}

/// What `check-config` says about `http.tls` (nothing for "self-signed":
/// it is made on first start).
pub fn check(config: &TlsConfig) -> Vec<String> {
    match config {
        TlsConfig::SelfSigned => Vec::new(),
        TlsConfig::Files { cert, key } => match load(cert, key) {
            Ok(_) => Vec::new(),
            Err(e) => vec![e.to_string()],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<TlsConfig, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn the_setting_is_self_signed_or_two_paths() {
        assert_eq!(
            parse(serde_json::json!("self-signed")),
            Ok(TlsConfig::SelfSigned)
        );
        assert_eq!(
            parse(serde_json::json!({"cert": "c.pem", "key": "k.pem"})),
            Ok(TlsConfig::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        for bad in [
            serde_json::json!("self"),
            serde_json::json!(true),
            serde_json::json!({"cert": "c.pem"}),
            serde_json::json!({"cert": "c.pem", "key": "k.pem", "chain": "x"}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.contains("http.tls: "), "{bad}: {e}");
        }
        let back = serde_json::to_value(TlsConfig::SelfSigned).unwrap();
        assert_eq!(back, serde_json::json!("self-signed"));
    }

    #[test]
    fn fingerprints_are_colon_hex_as_browsers_show() {
        let f = fingerprint(b"");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("E3:B0:C4:42:98:FC:1C:14"), "{f}");
    }
}
