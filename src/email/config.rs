//! The `email` section: the SMTP relay, the sender, retries and the spool's bounds.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// No relay: `/api/email/send` answers 503 and nothing is delivered.
    pub smtp: Option<SmtpConfig>,
    /// The sender; `pistack@<hostname>` when absent.
    pub from: Option<String>,
    pub retry: RetryConfig,
    pub spool: SpoolConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// The password, the file's text less a trailing newline; read at each attempt.
    pub password_file: Option<PathBuf>,
    /// PEM certificates of a private relay's CA; when set, the only roots trusted.
    pub ca_file: Option<PathBuf>,
    /// Bounds connecting and each read and write of the SMTP exchange.
    pub timeout_s: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".into(),
            port: 25,
            security: SmtpSecurity::None,
            username: None,
            password_file: None,
            ca_file: None,
            timeout_s: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    None,
    Starttls,
    Tls,
}

/// Delivery attempts: the n-th retry waits `base_s * 2^(n-1)`, at most `max_s`,
/// each wait jittered by ±25 % so that many queued mails do not hit a relay at once.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub base_s: f64,
    pub max_s: f64,
    /// Attempts before a message is `failed`.
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            base_s: 30.0,
            max_s: 3600.0,
            max_attempts: 10,
        }
    }
}

/// Bounds of `<state_dir>/outbox/`. The queued messages are bounded (a full spool
/// refuses new ones); sent and failed ones are history, pruned by age and count.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    pub max_messages: usize,
    pub max_bytes: u64,
    /// Sent and failed messages older than this are deleted.
    pub keep_s: u64,
    /// At most this many sent and failed messages are kept (the newest).
    pub keep_done: usize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_messages: 500,
            max_bytes: 4 * 1024 * 1024,
            keep_s: 7 * 24 * 3600,
            keep_done: 200,
        }
    }
}

impl EmailConfig {
    /// What serde cannot check, each problem naming its key path.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(smtp) = &self.smtp {
            if smtp.host.is_empty() {
                problems.push("email.smtp.host: must not be empty".into());
            }
            if smtp.timeout_s == 0 {
                problems.push("email.smtp.timeout_s: must be above 0".into());
            }
            if smtp.password_file.is_some() && smtp.username.is_none() {
                problems.push("email.smtp.password_file: set email.smtp.username too".into());
            }
        }
        if let Some(from) = &self.from {
            if from.parse::<lettre::Address>().is_err() {
                problems.push(format!("email.from: {from:?} is not an e-mail address"));
            }
        }
        let r = &self.retry;
        if !(r.base_s.is_finite() && r.base_s > 0.0) {
            problems.push("email.retry.base_s: must be above 0".into());
        }
        if !(r.max_s.is_finite() && r.max_s >= r.base_s) {
            problems.push("email.retry.max_s: must be at least email.retry.base_s".into());
        }
        if r.max_attempts == 0 {
            problems.push("email.retry.max_attempts: must be at least 1".into());
        }
        if self.spool.max_messages == 0 {
            problems.push("email.spool.max_messages: must be at least 1".into());
        }
        if self.spool.max_bytes < 1024 {
            problems.push("email.spool.max_bytes: must be at least 1024".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert!(EmailConfig::default().validate().is_empty());
        let mut c = EmailConfig {
            smtp: Some(SmtpConfig {
                host: String::new(),
                timeout_s: 0,
                ..SmtpConfig::default()
            }),
            from: Some("not an address".into()),
            ..EmailConfig::default()
        };
        c.retry.base_s = 0.0;
        c.retry.max_attempts = 0;
        c.spool.max_messages = 0;
        let p = c.validate().join("\n");
        for key in [
            "email.smtp.host",
            "email.smtp.timeout_s",
            "email.from",
            "email.retry.base_s",
            "email.retry.max_attempts",
            "email.spool.max_messages",
        ] {
            assert!(p.contains(key), "{key} missing in {p}");
        }
    }
}
