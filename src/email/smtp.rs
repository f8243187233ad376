//! One delivery attempt over lettre's blocking SMTP client.
//!
//! TLS is rustls on ring. Without `ca_file`, certificates are checked against the
//! system's roots (rustls-native-certs: `SSL_CERT_FILE`, else Debian's
//! `/etc/ssl/certs/ca-certificates.crt`), read at each attempt, not webpki-roots:
//! the system bundle is kept current by the OS's updates, where a list baked into
//! the binary goes stale with it (a Pi may run one build for years), and it costs
//! the binary nothing. (rustls-native-certs finds the bundle with `openssl-probe`,
//! a dependency-free Rust crate that only knows OpenSSL's usual paths; no OpenSSL
//! is linked.) With `ca_file`, only that file's CAs are trusted: a private relay's
//! CA has no business vouching for anyone else, nor the public CAs for the relay.

use super::config::{SmtpConfig, SmtpSecurity};
use super::spool::Record;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// Send `record` once; the error says what went wrong in words for `last_error`.
pub fn deliver(smtp: &SmtpConfig, record: &Record) -> Result<(), String> {
    let message = build(record)?;
    let transport = transport(smtp)?;
    transport
        .send(&message)
        .map(|_| ())
        .map_err(|e| describe(smtp, &e))
}

/// The MIME message; lettre encodes a non-ASCII subject per RFC 2047 and picks a
/// transfer encoding (quoted-printable or base64) for the UTF-8 body.
fn build(record: &Record) -> Result<Message, String> {
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("{a:?} is not an e-mail address: {e}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&record.from)?)
        .subject(record.subject.clone())
        .message_id(Some(record.message_id.clone()))
        .date(UNIX_EPOCH + Duration::from_secs(record.created_at));
    for to in &record.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(record.body.clone())
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn transport(smtp: &SmtpConfig) -> Result<SmtpTransport, String> {
    let tls = match smtp.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls => Tls::Required(tls_parameters(smtp)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(smtp)?),
    };
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(smtp.timeout_s)));
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_file {
            Some(path) => read_password(path)?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

fn read_password(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read email.smtp.password_file {}: {e}",
            path.display()
        )
    })?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

fn tls_parameters(smtp: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read email.smtp.ca_file {}: {e}", path.display()))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "email.smtp.ca_file {}: no PEM certificate in it",
                path.display()
            ));
        }
        let roots = Certificate::from_pem(&pem).map_err(|e| {
            format!(
                "email.smtp.ca_file {}: no usable PEM certificates: {e}",
                path.display()
            )
        })?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(roots);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS: {e}"))
}

/// lettre's error with its causes (the TLS or I/O reason is in the source chain).
/// A socket read timeout shows as EAGAIN ("Resource temporarily unavailable"),
/// which says nothing to a reader: it is named for what it is.
fn describe(smtp: &SmtpConfig, e: &lettre::transport::smtp::Error) -> String {
    let mut text = format!("{}:{}: {e}", smtp.host, smtp.port);
    let mut timed_out = false;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            timed_out |= matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            );
        }
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    if timed_out {
        text = format!(
            "{}:{}: timed out: no answer within {} s (email.smtp.timeout_s)",
            smtp.host, smtp.port, smtp.timeout_s
        );
    }
    text
}
