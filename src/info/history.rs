//! The last hours of CPU %, memory, SoC temperature and request rate, for the
//! dashboard's sparklines: a fixed ring in memory, filled by one thread that wakes
//! once per `history_interval_s` (60 s by default), so an idle daemon stays idle.
//!
//! Size: [`CAPACITY`] (1440) samples of 20 bytes ([`Sample`]) = 28 800 bytes,
//! allocated once at start: 24 h at one sample a minute. No database, no file.

use serde::Serialize;
use std::sync::Mutex;

/// Samples kept: 24 h at one a minute.
pub const CAPACITY: usize = 1440;
/// The ring's size in bytes (asserted by a test, quoted in the docs).
pub const BYTES: usize = CAPACITY * std::mem::size_of::<Sample>();

/// One sample, packed small: 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix seconds (u32 lasts until 2106).
    pub time: u32,
    /// Busy share of all CPUs over the interval; NaN when unknown.
    pub cpu_percent: f32,
    /// MemTotal − MemAvailable, in KiB (u32 holds up to 4 TiB).
    pub memory_used_kib: u32,
    /// NaN when the board has no thermal zone.
    pub temp_c: f32,
    /// HTTP requests answered during the interval.
    pub requests: u32,
}

/// The ring: oldest first once it has wrapped.
pub struct History {
    interval_s: u64,
    ring: Mutex<Ring>,
}

struct Ring {
    samples: Vec<Sample>,
    /// Where the next sample goes once `samples` is full.
    next: usize,
}

/// `GET /api/info/history`: one array per series (compact, and what a sparkline
/// wants); index i of every array is the same sample.
#[derive(Debug, Serialize, PartialEq)]
pub struct Series {
    pub interval_s: u64,
    pub capacity: usize,
    pub ring_bytes: usize,
    pub time: Vec<u32>,
    pub cpu_percent: Vec<Option<f32>>,
    pub memory_used_bytes: Vec<u64>,
    pub temp_c: Vec<Option<f32>>,
    /// Requests per minute over each interval.
    pub requests_per_min: Vec<f32>,
}

impl History {
    pub fn new(interval_s: u64) -> History {
        History {
            interval_s,
            ring: Mutex::new(Ring {
                samples: Vec::with_capacity(CAPACITY),
                next: 0,
            }),
        }
    }

    pub fn interval_s(&self) -> u64 {
        self.interval_s
    }

    pub fn push(&self, sample: Sample) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.samples.len() < CAPACITY {
            ring.samples.push(sample);
        } else {
            let i = ring.next;
            ring.samples[i] = sample;
        }
        ring.next = (ring.next + 1) % CAPACITY;
    }

    /// The samples newer than `since` (unix seconds), oldest first.
    pub fn since(&self, since: u64) -> Series {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let (newer, older) = if ring.samples.len() < CAPACITY {
            (&ring.samples[..], &[][..])
        } else {
            let (a, b) = ring.samples.split_at(ring.next);
            (b, a)
        };
        let per_min = 60.0 / self.interval_s as f32;
        let known = |v: f32| (!v.is_nan()).then_some(v);
        let mut s = Series {
            interval_s: self.interval_s,
            capacity: CAPACITY,
            ring_bytes: BYTES,
            time: Vec::new(),
            cpu_percent: Vec::new(),
            memory_used_bytes: Vec::new(),
            temp_c: Vec::new(),
            requests_per_min: Vec::new(),
        };
        for x in newer
            .iter()
            .chain(older)
            .filter(|x| u64::from(x.time) > since)
        {
            s.time.push(x.time);
            s.cpu_percent.push(known(x.cpu_percent));
            s.memory_used_bytes
                .push(u64::from(x.memory_used_kib) * 1024);
            s.temp_c.push(known(x.temp_c));
            s.requests_per_min.push(x.requests as f32 * per_min);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time: u32) -> Sample {
        Sample {
            time,
            cpu_percent: time as f32,
            memory_used_kib: 1,
            temp_c: f32::NAN,
            requests: 2,
        }
    }

    #[test]
    fn the_documented_size() {
        assert_eq!(std::mem::size_of::<Sample>(), 20);
        assert_eq!(BYTES, 28_800);
    }

    #[test]
    fn wraps_keeping_the_newest_in_order() {
        let h = History::new(30);
        for t in 1..=(CAPACITY as u32 + 5) {
            h.push(sample(t));
        }
        let s = h.since(0);
        assert_eq!(s.time.len(), CAPACITY);
        assert_eq!(s.time[0], 6);
        assert_eq!(*s.time.last().unwrap(), CAPACITY as u32 + 5);
        assert!(s.time.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(h.ring.lock().unwrap().samples.capacity(), CAPACITY);
        // Only newer than `since`; NaN is null; requests are scaled to a minute.
        let s = h.since(CAPACITY as u64 + 3);
        assert_eq!(s.time, vec![CAPACITY as u32 + 4, CAPACITY as u32 + 5]);
        assert_eq!(s.temp_c, vec![None, None]);
        assert_eq!(s.requests_per_min, vec![4.0, 4.0]);
        assert_eq!(s.memory_used_bytes, vec![1024, 1024]);
    }
}
