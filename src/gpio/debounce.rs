//! Software debounce, pure: no clock, no I/O, so it is tested exactly.
//!
//! The kernel reports every raw edge with its timestamp (CLOCK_MONOTONIC, ns) and
//! the level after it. A mechanical contact bounces for a few milliseconds, which
//! shows up as a burst of edges. The rule chosen here:
//!
//! * **An edge is accepted once the line has seen no edge at all for `debounce_ms`**
//!   (trailing-edge debounce). Any raw edge, even one reporting the same level as
//!   the previous one (the kernel can mislabel an edge when the line moves faster
//!   than its interrupt thread), restarts the quiet period.
//! * It is reported only if the settled level differs from the last accepted one:
//!   a glitch shorter than `debounce_ms` that returns to the old level produces
//!   nothing.
//! * The accepted edge carries the kernel timestamp of the **last** raw edge, the
//!   moment the line actually settled; it is delivered `debounce_ms` after that.
//! * `debounce_ms = 0` passes every kernel edge through unchanged, at once.
//! * The kernel queues at most 16 edges per line (uAPI v1) and drops the newest
//!   beyond that, so a long bounce burst can lose the edge that tells the final
//!   level. When a quiet period ends, the watcher therefore reads the line; if it
//!   is not at the level the edges said, [`Debouncer::restart`] starts another full
//!   quiet period from that moment at the real level (and that moment, not a
//!   kernel timestamp, is the accepted edge's time).
//!
//! Levels are logical (active_low applied) throughout.

/// A change the debouncer let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The settled logical level: 1 is a rising edge, 0 a falling one.
    pub value: u8,
    /// Kernel timestamp of the raw edge after which the line stayed quiet.
    pub timestamp_ns: u64,
}

#[derive(Debug, Clone)]
pub struct Debouncer {
    window_ns: u64,
    /// Last accepted level.
    stable: u8,
    /// Level reported by the latest raw edge.
    raw: u8,
    /// Time of the latest raw edge; `None` when nothing is pending.
    last_edge_ns: Option<u64>,
}

impl Debouncer {
    /// `initial` is the level read when the line was requested.
    pub fn new(debounce_ms: u64, initial: u8) -> Debouncer {
        Debouncer {
            window_ns: debounce_ms.saturating_mul(1_000_000),
            stable: initial,
            raw: initial,
            last_edge_ns: None,
        }
    }

    /// A raw edge: the level after it and the kernel's timestamp. Returns the
    /// change accepted by it: with no debounce the edge itself; with a debounce, a
    /// pending change that had already settled before this edge came.
    pub fn observe(&mut self, level: u8, at_ns: u64) -> Option<Accepted> {
        let level = u8::from(level != 0);
        if self.window_ns == 0 {
            self.stable = level;
            self.raw = level;
            return Some(Accepted {
                value: level,
                timestamp_ns: at_ns,
            });
        }
        let settled = self.poll(at_ns);
        self.raw = level;
        self.last_edge_ns = Some(at_ns);
        settled
    }

    /// When the current quiet period ends (if no edge comes before): the moment
    /// to confirm the level and [`poll`](Self::poll). Also set after a glitch that
    /// came back, since a lost edge may hide that the line did not come back.
    pub fn deadline_ns(&self) -> Option<u64> {
        self.last_edge_ns.map(|t| t.saturating_add(self.window_ns))
    }

    /// The level the latest raw edge reported.
    pub fn raw(&self) -> u8 {
        self.raw
    }

    /// The line was read at `level` at `at_ns`, which no edge reported (one was
    /// lost): wait a whole quiet period again, from now, at that level.
    pub fn restart(&mut self, level: u8, at_ns: u64) {
        if self.window_ns == 0 {
            return;
        }
        self.raw = u8::from(level != 0);
        self.last_edge_ns = Some(at_ns);
    }

    /// The pending change, if the line has been quiet for the window at `now_ns`.
    pub fn poll(&mut self, now_ns: u64) -> Option<Accepted> {
        let t = self.last_edge_ns?;
        if now_ns < t.saturating_add(self.window_ns) {
            return None;
        }
        self.last_edge_ns = None;
        if self.raw == self.stable {
            return None; // a glitch that came back
        }
        self.stable = self.raw;
        Some(Accepted {
            value: self.raw,
            timestamp_ns: t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn zero_window_passes_everything_through() {
        let mut d = Debouncer::new(0, 1);
        assert_eq!(
            d.observe(0, 5),
            Some(Accepted {
                value: 0,
                timestamp_ns: 5
            })
        );
        // Even a repeated level (a mislabelled kernel edge) is passed on as it came.
        assert_eq!(
            d.observe(0, 6),
            Some(Accepted {
                value: 0,
                timestamp_ns: 6
            })
        );
        assert_eq!(
            d.observe(1, 7),
            Some(Accepted {
                value: 1,
                timestamp_ns: 7
            })
        );
        assert_eq!(d.deadline_ns(), None);
        assert_eq!(d.poll(u64::MAX), None);
    }

    #[test]
    fn bounce_burst_gives_one_edge_stamped_with_the_last_raw_edge() {
        let mut d = Debouncer::new(20, 1);
        // A press: 1 -> 0 with bounces at 0, 1, 2.5, 3 ms.
        assert_eq!(d.observe(0, 100 * MS), None);
        assert_eq!(d.observe(1, 101 * MS), None);
        assert_eq!(d.observe(0, 102 * MS + MS / 2), None);
        assert_eq!(d.observe(0, 103 * MS), None);
        assert_eq!(d.deadline_ns(), Some(123 * MS));
        assert_eq!(d.poll(122 * MS), None, "not quiet long enough yet");
        assert_eq!(
            d.poll(123 * MS),
            Some(Accepted {
                value: 0,
                timestamp_ns: 103 * MS
            })
        );
        assert_eq!(d.poll(200 * MS), None, "accepted once");
        assert_eq!(d.deadline_ns(), None);
    }

    #[test]
    fn glitch_shorter_than_window_is_swallowed() {
        let mut d = Debouncer::new(50, 1);
        assert_eq!(d.observe(0, 0), None);
        assert_eq!(d.observe(1, 10 * MS), None);
        // Back at the stable level: the quiet period still ends (to confirm), with nothing to report.
        assert_eq!(d.deadline_ns(), Some(60 * MS));
        assert_eq!(d.poll(1000 * MS), None);
        assert_eq!(d.deadline_ns(), None);
    }

    #[test]
    fn restart_after_a_lost_edge_waits_a_full_window_from_the_read() {
        let mut d = Debouncer::new(50, 1);
        // Edges 0, 1 seen; the final 0 was dropped by the kernel's full queue.
        assert_eq!(d.observe(0, 0), None);
        assert_eq!(d.observe(1, MS), None);
        assert_eq!(d.raw(), 1);
        // At the deadline the watcher reads 0, which is not what the edges said.
        d.restart(0, 51 * MS);
        assert_eq!(d.deadline_ns(), Some(101 * MS));
        assert_eq!(d.poll(100 * MS), None);
        assert_eq!(
            d.poll(101 * MS),
            Some(Accepted {
                value: 0,
                timestamp_ns: 51 * MS
            })
        );
        // Without a debounce there is nothing to restart.
        let mut z = Debouncer::new(0, 1);
        z.restart(0, 5);
        assert_eq!((z.raw(), z.deadline_ns()), (1, None));
    }

    #[test]
    fn change_settled_before_the_next_edge_is_returned_by_observe() {
        // Events read in one batch: the first change had 200 ms of quiet before the next.
        let mut d = Debouncer::new(50, 1);
        assert_eq!(d.observe(0, 0), None);
        assert_eq!(
            d.observe(1, 200 * MS),
            Some(Accepted {
                value: 0,
                timestamp_ns: 0
            })
        );
        assert_eq!(
            d.poll(250 * MS),
            Some(Accepted {
                value: 1,
                timestamp_ns: 200 * MS
            })
        );
    }

    #[test]
    fn edge_exactly_at_the_window_counts_as_quiet() {
        let mut d = Debouncer::new(10, 0);
        assert_eq!(d.observe(1, 0), None);
        assert_eq!(
            d.observe(0, 10 * MS),
            Some(Accepted {
                value: 1,
                timestamp_ns: 0
            })
        );
        assert_eq!(d.poll(19 * MS), None);
        assert_eq!(
            d.poll(20 * MS),
            Some(Accepted {
                value: 0,
                timestamp_ns: 10 * MS
            })
        );
    }

    #[test]
    fn levels_other_than_zero_are_one() {
        let mut d = Debouncer::new(0, 0);
        assert_eq!(d.observe(7, 1).map(|a| a.value), Some(1));
    }
}
