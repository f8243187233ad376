//! The daemon's event bus. Subsystems publish what happened (a process changed
//! state, a GPIO line saw an edge); each keeps the recent ones in a bounded [`Ring`]
//! for its API, and the [`Bus`] hands every event to its subscribers (the rules
//! thread) through channels, so a slow subscriber never blocks a publisher.

use crate::gpio::config::Edge;
use crate::supervisor::state::State;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A process changed state (supervisord's PROCESS_STATE events).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessEvent {
    pub name: String,
    pub from: State,
    pub to: State,
    pub pid: Option<u32>,
    pub exit_status: Option<i32>,
    /// With `exit_status`: whether `exitcodes` has that exit (a signal never is).
    pub expected: Option<bool>,
    pub message: String,
}

/// An input line saw an edge (after debounce).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GpioEvent {
    pub pin: String,
    /// Rising or falling (never `none` or `both`), in logical terms (active_low applied).
    pub edge: Edge,
    pub value: u8,
    /// The kernel's timestamp of the edge, nanoseconds (CLOCK_MONOTONIC), when known.
    pub timestamp_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Process(ProcessEvent),
    Gpio(GpioEvent),
}

/// One entry of a ring: the event with its sequence number and time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Numbered<T> {
    pub seq: u64,
    pub time: u64,
    #[serde(flatten)]
    pub event: T,
}

impl<T> Numbered<T> {
    /// The same entry with its event borrowed and turned into `f`'s view of it
    /// (an API's shape), keeping the number and the time.
    pub fn view<'a, U>(&'a self, f: impl FnOnce(&'a T) -> U) -> Numbered<U> {
        Numbered {
            seq: self.seq,
            time: self.time,
            event: f(&self.event),
        }
    }
}

/// A bounded buffer of recent events, numbered from 1; the oldest are dropped.
pub struct Ring<T> {
    inner: Mutex<RingInner<T>>,
    capacity: usize,
}

struct RingInner<T> {
    next_seq: u64,
    items: VecDeque<Numbered<T>>,
}

impl<T: Clone> Ring<T> {
    pub fn new(capacity: usize) -> Self {
        Ring {
            inner: Mutex::new(RingInner {
                next_seq: 1,
                items: VecDeque::with_capacity(capacity.min(1024)),
            }),
            capacity: capacity.max(1),
        }
    }

    /// Store `event`; returns its sequence number.
    pub fn push(&self, event: T) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.items.len() == self.capacity {
            inner.items.pop_front();
        }
        inner.items.push_back(Numbered {
            seq,
            time: now_s(),
            event,
        });
        seq
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub fn after(&self, after: u64, limit: usize) -> Vec<Numbered<T>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .items
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Number of events ever pushed.
    pub fn total(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_seq
            - 1
    }
}

/// Fan-out of events to subscribers, each through a bounded channel.
#[derive(Default)]
pub struct Bus {
    subscribers: Mutex<Vec<SyncSender<Event>>>,
}

impl Bus {
    pub fn new() -> Self {
        Bus::default()
    }

    /// A receiver of every event published from now on. Holds at most `backlog`
    /// undelivered events; beyond that new events are dropped for it (and logged).
    pub fn subscribe(&self, backlog: usize) -> Receiver<Event> {
        let (tx, rx) = sync_channel(backlog);
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    pub fn publish(&self, event: Event) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                log::warn!("an event subscriber is behind; dropped {event:?}");
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_numbers_them() {
        let r = Ring::new(3);
        for i in 0..5u32 {
            r.push(i);
        }
        let all: Vec<_> = r.after(0, 10).iter().map(|e| (e.seq, e.event)).collect();
        assert_eq!(all, vec![(3, 2), (4, 3), (5, 4)]);
        assert_eq!(r.after(4, 10).len(), 1);
        assert_eq!(r.after(0, 2).len(), 2);
        assert_eq!(r.total(), 5);
    }

    #[test]
    fn bus_delivers_and_forgets_dropped_subscribers() {
        let bus = Bus::new();
        let rx = bus.subscribe(4);
        let gone = bus.subscribe(4);
        drop(gone);
        let ev = Event::Gpio(GpioEvent {
            pin: "B".into(),
            edge: Edge::Rising,
            value: 1,
            timestamp_ns: None,
        });
        bus.publish(ev.clone());
        assert_eq!(rx.try_recv().unwrap(), ev);
        assert_eq!(bus.subscribers.lock().unwrap().len(), 1);
    }
}
