//! HTTP Basic for XML-RPC clients (supervisorctl, exporters), which send the
//! password with every request. A verified name and password are remembered for
//! a minute, under an HMAC with the daemon's secret (the password itself is not
//! kept), and only while the user's stored hash is the one they were checked
//! against: a password change or a deletion ends it at once. Without this, each
//! supervisorctl command would cost two full PBKDF2 checks — seconds on a Pi Zero.
//! A miss (a new or a wrong password) takes the full, throttled check.

use super::password::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified pair is trusted without a new check.
const TTL: Duration = Duration::from_secs(60);
/// Pairs remembered at once; the oldest goes first.
const MAX: usize = 32;

struct Entry {
    key: [u8; 32],
    user_id: String,
    password_hash: String,
    until: Instant,
}

#[derive(Default)]
pub(super) struct BasicCache {
    entries: Mutex<Vec<Entry>>,
}

/// The key of a name and password: HMAC-SHA256 under `secret`.
pub(super) fn key(secret: &[u8], name: &str, pass: &str) -> [u8; 32] {
    let mut m = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return [0; 32],
    };
    m.update(b"basic\0");
    m.update(name.as_bytes());
    m.update(b"\0");
    m.update(pass.as_bytes());
    m.finalize().into_bytes().into()
}

impl BasicCache {
    /// The user id `key` was verified for, if that is recent and `current_hash`
    /// (the user's stored hash now, by id) is still the one it was checked against.
    pub(super) fn get(
        &self,
        key: &[u8; 32],
        current_hash: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        entries.retain(|e| e.until > now);
        let e = entries.iter().find(|e| constant_time_eq(&e.key, key))?;
        let hash = current_hash(&e.user_id)?;
        constant_time_eq(hash.as_bytes(), e.password_hash.as_bytes()).then(|| e.user_id.clone())
    }

    pub(super) fn put(&self, key: [u8; 32], user_id: String, password_hash: String) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| !constant_time_eq(&e.key, &key));
        if entries.len() >= MAX {
            entries.remove(0);
        }
        entries.push(Entry {
            key,
            user_id,
            password_hash,
            until: Instant::now() + TTL,
        });
    }
}
