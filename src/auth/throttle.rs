//! Login throttling, per account *and* client address together. After `free`
//! failures in a row, each further failure doubles the wait (1 s, 2 s, 4 s ... up
//! to `max`); while a key waits, logins for it are refused with 429 before any
//! password is hashed.
//!
//! The key is the pair so that an attacker slows only himself: guesses at root
//! from one address never make root's login from another address wait. What
//! bounds guessing from many addresses is the global rate of password checks
//! ([`super::slots`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures are forgotten after this long without a new one.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Keys kept at most; the stalest are dropped first (a flood of addresses
/// must not grow memory without bound).
const MAX_KEYS: usize = 10_000;

struct Entry {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

pub struct Throttle {
    free: u32,
    max: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    pub fn new(free: u32, max: Duration) -> Throttle {
        Throttle {
            free,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key of an account tried from an address.
    pub fn key(account: &str, address: &str) -> String {
        format!("{account}\u{0}{address}")
    }

    /// `Err(seconds)` to wait when `key` is blocked now.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key).and_then(|e| e.blocked_until) {
            Some(until) if until > now => {
                Err(((until - now).as_millis().div_ceil(1000) as u64).max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn failure(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
            if entries.len() >= MAX_KEYS {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.last)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        let e = entries.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(e.last) > FORGET_AFTER {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        if e.failures >= self.free {
            let exp = (e.failures - self.free).min(20);
            let delay = Duration::from_secs(1u64 << exp).min(self.max);
            e.blocked_until = Some(now + delay);
        }
    }

    /// A right password from this key: its failures are forgiven.
    pub fn success(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_then_forgets_on_success() {
        let t = Throttle::new(3, Duration::from_secs(5));
        let k = Throttle::key("root", "10.0.0.1");
        let k = k.as_str();
        let now = Instant::now();
        t.failure(k, now);
        t.failure(k, now);
        assert!(t.check(k, now).is_ok());
        t.failure(k, now);
        assert_eq!(t.check(k, now), Err(1));
        t.failure(k, now);
        assert_eq!(t.check(k, now), Err(2));
        for _ in 0..10 {
            t.failure(k, now);
        }
        assert_eq!(t.check(k, now), Err(5));
        assert!(t.check(k, now + Duration::from_secs(6)).is_ok());
        t.success(k);
        assert!(t.check(k, now).is_ok());
    }

    #[test]
    fn failures_count_per_account_and_address_together() {
        let t = Throttle::new(1, Duration::from_secs(5));
        let now = Instant::now();
        t.failure(&Throttle::key("root", "10.0.0.2"), now);
        assert!(t.check(&Throttle::key("root", "10.0.0.2"), now).is_err());
        assert!(t.check(&Throttle::key("root", "10.0.0.1"), now).is_ok());
        assert!(t.check(&Throttle::key("alice", "10.0.0.2"), now).is_ok());
    }
}
