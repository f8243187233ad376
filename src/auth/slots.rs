//! Password-check slots: a bound on how many PBKDF2 checks run at once and how
//! many start per second, for every check in the daemon (logins and the
//! `current_password` of a self-service change).
//!
//! A check at full cost takes a Pi Zero's only core for seconds, so without a
//! bound a login flood would take every HTTP worker and starve the API and the
//! watchdog. Callers wait in arrival order (first come, first served) for a
//! slot, up to a limit: a flood of guesses makes a real login slower, never
//! refused, as long as the queue moves. The queue is bounded by the number of
//! HTTP workers, since every waiter holds one.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct Slots {
    at_once: usize,
    /// Least time between the starts of two checks (the per-second bound).
    gap: Duration,
    /// Longest a caller waits for its turn before it is told to come back.
    max_wait: Duration,
    state: Mutex<Queue>,
    turn: Condvar,
}

#[derive(Default)]
struct Queue {
    running: usize,
    /// Tickets of the callers waiting, oldest first.
    waiting: VecDeque<u64>,
    next_ticket: u64,
    last_start: Option<Instant>,
}

/// One running check; dropping it frees its slot.
pub struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.running = q.running.saturating_sub(1);
        drop(q);
        self.0.turn.notify_all();
    }
}

impl Slots {
    pub fn new(at_once: usize, per_second: u32, max_wait: Duration) -> Slots {
        Slots {
            at_once: at_once.max(1),
            gap: Duration::from_secs(1) / per_second.max(1),
            max_wait,
            state: Mutex::new(Queue::default()),
            turn: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Callers waiting now.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Wait for a slot in arrival order; `None` when none came within `max_wait`.
    pub fn acquire(&self) -> Option<Slot<'_>> {
        let deadline = Instant::now() + self.max_wait;
        let mut q = self.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push_back(ticket);
        loop {
            let now = Instant::now();
            let next_start = q.last_start.map_or(now, |t| t + self.gap);
            let my_turn = q.waiting.front() == Some(&ticket) && q.running < self.at_once;
            if my_turn && next_start <= now {
                q.waiting.pop_front();
                q.running += 1;
                q.last_start = Some(now);
                drop(q);
                // The next in line may be able to start too (a second slot).
                self.turn.notify_all();
                return Some(Slot(self));
            }
            if now >= deadline {
                q.waiting.retain(|t| *t != ticket);
                drop(q);
                self.turn.notify_all();
                return None;
            }
            let until = if my_turn {
                next_start.min(deadline)
            } else {
                deadline
            };
            q = self
                .turn
                .wait_timeout(q, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waits_for_a_free_slot_then_gives_up() {
        let slots = Arc::new(Slots::new(1, 1000, Duration::from_millis(300)));
        let held = slots.acquire().unwrap();
        let s = slots.clone();
        let waiter = std::thread::spawn(move || s.acquire().is_some());
        while slots.lock().waiting.is_empty() {
            std::thread::yield_now();
        }
        drop(held);
        assert!(waiter.join().unwrap(), "a freed slot goes to the waiter");
        let _held = slots.acquire().unwrap();
        let started = Instant::now();
        assert!(slots.acquire().is_none());
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn starts_are_spaced_by_the_rate() {
        let slots = Slots::new(4, 20, Duration::from_secs(5));
        let started = Instant::now();
        for _ in 0..5 {
            drop(slots.acquire().unwrap());
        }
        // Five starts at 20 per second need four gaps of 50 ms.
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn callers_are_served_in_arrival_order() {
        let slots = Arc::new(Slots::new(1, 1000, Duration::from_secs(5)));
        let held = slots.acquire().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..4 {
            let (s, o) = (slots.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _slot = s.acquire().unwrap();
                o.lock().unwrap().push(i);
            }));
            // Each waiter is queued before the next one arrives.
            while slots.lock().waiting.len() < i + 1 {
                std::thread::yield_now();
            }
        }
        drop(held);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
    }
}
