//! Login throttling, per account and per client address. After `free` failures in a
//! row, each further failure doubles the wait (1 s, 2 s, 4 s ... up to `max`); while
//! a key waits, logins for it are refused with 429 before any password is hashed.

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

    /// `Err(seconds)` to wait when any of `keys` is blocked now.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| entries.get(k)?.blocked_until)
            .filter(|&until| until > now)
            .map(|until| (until - now).as_millis().div_ceil(1000) as u64)
            .max();
        match wait {
            Some(s) => Err(s.max(1)),
            None => Ok(()),
        }
    }

    pub fn failure(&self, keys: &[String], now: Instant) {
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
        for key in keys {
            let e = entries.entry(key.clone()).or_insert(Entry {
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
    }

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
        let k = vec!["acct:root".to_string()];
        let now = Instant::now();
        t.failure(&k, now);
        t.failure(&k, now);
        assert!(t.check(&k, now).is_ok());
        t.failure(&k, now);
        assert_eq!(t.check(&k, now), Err(1));
        t.failure(&k, now);
        assert_eq!(t.check(&k, now), Err(2));
        for _ in 0..10 {
            t.failure(&k, now);
        }
        assert_eq!(t.check(&k, now), Err(5));
        assert!(t.check(&k, now + Duration::from_secs(6)).is_ok());
        t.success("acct:root");
        assert!(t.check(&k, now).is_ok());
    }
}
