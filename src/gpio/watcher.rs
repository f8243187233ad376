//! The edge thread: one thread for all watched inputs, blocked in `poll(2)` on
//! their event fds plus an eventfd that wakes it for shutdown. It never sleeps in a
//! loop: the poll timeout is infinite unless a debounce is pending, and then it is
//! exactly the time until that debounce settles.

use super::backend::LineHandle;
use super::config::Edge;
use super::debounce::{Accepted, Debouncer};
use super::sys::{self, EventFd, Ready};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where accepted edges and broken lines go (the GPIO core).
pub trait Sink: Send + Sync {
    /// An edge that passed debounce and the pin's edge filter.
    fn edge(&self, pin: usize, accepted: Accepted);
    /// The line stopped delivering events (device gone, fd error).
    fn broken(&self, pin: usize, reason: String);
}

/// One input to watch.
pub struct Watch {
    /// The pin's id in the core (stable across reloads, unlike a position).
    pub pin: usize,
    pub handle: Arc<dyn LineHandle>,
    pub debouncer: Debouncer,
    /// Which accepted edges are reported.
    pub edge: Edge,
}

/// The running thread; dropping it stops and joins the thread.
pub struct Watcher {
    wake: Arc<EventFd>,
    stop: Arc<AtomicBool>,
    /// Gives back the watches it still had when told to stop.
    thread: Option<JoinHandle<Vec<Watch>>>,
    alive: Arc<AtomicBool>,
}

impl Watcher {
    pub fn spawn(watches: Vec<Watch>, sink: Arc<dyn Sink>) -> std::io::Result<Watcher> {
        let wake = Arc::new(EventFd::new()?);
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicBool::new(true));
        let (w, s, a) = (wake.clone(), stop.clone(), alive.clone());
        let thread = std::thread::Builder::new()
            .name("gpio-watch".into())
            .spawn(move || {
                let watches = run(watches, sink.as_ref(), &w, &s);
                a.store(false, Ordering::SeqCst);
                watches
            })?;
        Ok(Watcher {
            wake,
            stop,
            thread: Some(thread),
            alive,
        })
    }

    /// False once the thread has ended (it only ends when told to, or on a panic).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stop the thread and take back its watches, debouncers as they are (a
    /// reload keeps the unchanged inputs' state). `None` if the thread had died.
    /// Edges that come meanwhile wait in the lines' kernel queues.
    pub fn stop(mut self) -> Option<Vec<Watch>> {
        self.halt()
    }

    fn halt(&mut self) -> Option<Vec<Watch>> {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.signal();
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(mut watches: Vec<Watch>, sink: &dyn Sink, wake: &EventFd, stop: &AtomicBool) -> Vec<Watch> {
    let mut edges = Vec::new();
    let emit = |w: &Watch, a: Accepted| {
        if w.edge.passes(a.value) {
            sink.edge(w.pin, a);
        }
    };
    loop {
        let now = sys::monotonic_ns();
        for w in watches.iter_mut() {
            if w.debouncer.deadline_ns().is_none_or(|d| d > now) {
                continue;
            }
            // A quiet period ended: confirm the level with the line itself, since
            // the kernel drops edges once 16 are queued (see debounce.rs).
            match w.handle.get() {
                Ok(level) if level != w.debouncer.raw() => w.debouncer.restart(level, now),
                _ => {
                    if let Some(a) = w.debouncer.poll(now) {
                        emit(w, a);
                    }
                }
            }
        }
        let timeout_ms = watches
            .iter()
            .filter_map(|w| w.debouncer.deadline_ns())
            .min()
            .map(|deadline| deadline.saturating_sub(now).div_ceil(1_000_000));
        let mut fds = vec![wake.as_raw_fd()];
        let mut polled = Vec::with_capacity(watches.len());
        for (i, w) in watches.iter().enumerate() {
            if let Some(fd) = w.handle.event_fd() {
                fds.push(fd);
                polled.push(i);
            }
        }
        let ready = match sys::poll(&fds, timeout_ms) {
            Ok(r) => r,
            Err(e) => {
                // Only ENOMEM and the like; back off rather than spin.
                log::error!("gpio: poll failed: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if ready[0] != Ready::No {
            wake.drain();
        }
        if stop.load(Ordering::SeqCst) {
            return watches;
        }
        let mut dead = Vec::new();
        for (k, &i) in polled.iter().enumerate() {
            let w = &mut watches[i];
            match ready[k + 1] {
                Ready::No => {}
                Ready::Broken => {
                    dead.push((i, "the event fd reported an error or hang-up".to_string()))
                }
                Ready::Readable => {
                    edges.clear();
                    if let Err(reason) = w.handle.read_edges(&mut edges) {
                        dead.push((i, reason));
                    }
                    for e in &edges {
                        if let Some(a) = w.debouncer.observe(e.level, e.timestamp_ns) {
                            emit(w, a);
                        }
                    }
                }
            }
        }
        for (i, reason) in dead.into_iter().rev() {
            let w = watches.remove(i);
            sink.broken(w.pin, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::backend::{Backend, LineRequest, RawEdge};
    use super::super::config::{Bias, Direction, LineRef};
    use super::super::sim::Sim;
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    struct Chan(std::sync::Mutex<mpsc::Sender<(usize, Accepted)>>);
    impl Sink for Chan {
        fn edge(&self, pin: usize, a: Accepted) {
            let _ = self.0.lock().unwrap().send((pin, a));
        }
        fn broken(&self, _: usize, reason: String) {
            panic!("broken: {reason}");
        }
    }

    fn input(sim: &Sim, offset: u32) -> Arc<dyn LineHandle> {
        let line = LineRef::Offset(offset);
        let (_, h) = sim
            .request(&LineRequest {
                chip: "gpiochip0",
                line: &line,
                direction: Direction::In,
                active_low: false,
                bias: Bias::PullUp,
                initial: 0,
                edges: true,
            })
            .unwrap();
        Arc::from(h)
    }

    /// A line whose queued edges and level the test sets, to play a kernel that dropped an edge.
    struct Lossy {
        fd: EventFd,
        edges: std::sync::Mutex<Vec<RawEdge>>,
        level: std::sync::atomic::AtomicU8,
    }
    impl LineHandle for Lossy {
        fn get(&self) -> Result<u8, String> {
            Ok(self.level.load(Ordering::SeqCst))
        }
        fn set(&self, _: u8) -> Result<(), String> {
            Err("input".into())
        }
        fn event_fd(&self) -> Option<std::os::fd::RawFd> {
            Some(self.fd.as_raw_fd())
        }
        fn read_edges(&self, out: &mut Vec<RawEdge>) -> Result<(), String> {
            self.fd.drain();
            out.append(&mut self.edges.lock().unwrap());
            Ok(())
        }
    }

    #[test]
    fn a_dropped_final_edge_is_caught_by_reading_the_line() {
        let lossy = Arc::new(Lossy {
            fd: EventFd::new().unwrap(),
            edges: std::sync::Mutex::new(Vec::new()),
            level: std::sync::atomic::AtomicU8::new(1),
        });
        let (tx, rx) = mpsc::channel();
        let watches = vec![Watch {
            pin: 7,
            handle: lossy.clone(),
            debouncer: Debouncer::new(40, 1),
            edge: Edge::Both,
        }];
        let _watcher = Watcher::spawn(watches, Arc::new(Chan(std::sync::Mutex::new(tx)))).unwrap();
        // The line went 1 -> 0 -> 1 -> 0 but the last edge was dropped: the edges say 1.
        let t = sys::monotonic_ns();
        *lossy.edges.lock().unwrap() = vec![
            RawEdge {
                timestamp_ns: t,
                level: 0,
            },
            RawEdge {
                timestamp_ns: t + 1000,
                level: 1,
            },
        ];
        lossy.level.store(0, Ordering::SeqCst);
        lossy.fd.signal();
        let (pin, a) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((pin, a.value), (7, 0), "the real level wins");
        assert!(
            a.timestamp_ns >= t + 40_000_000,
            "stamped when the read disagreed"
        );
        assert!(
            sys::monotonic_ns() >= t + 80_000_000,
            "after two quiet periods"
        );
        // Nothing else came of it: the next edge out is one made after it.
        let marker = sys::monotonic_ns();
        lossy.edges.lock().unwrap().push(RawEdge {
            timestamp_ns: marker,
            level: 1,
        });
        lossy.level.store(1, Ordering::SeqCst);
        lossy.fd.signal();
        let (_, a) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((a.value, a.timestamp_ns), (1, marker));
    }

    #[test]
    fn edges_are_filtered_and_debounced_on_a_blocked_thread() {
        let sim = Sim::new();
        let (tx, rx) = mpsc::channel();
        let watches = vec![
            Watch {
                pin: 0,
                handle: input(&sim, 1),
                debouncer: Debouncer::new(0, 1),
                edge: Edge::Falling,
            },
            Watch {
                pin: 1,
                handle: input(&sim, 2),
                debouncer: Debouncer::new(80, 1),
                edge: Edge::Both,
            },
        ];
        let watcher = Watcher::spawn(watches, Arc::new(Chan(std::sync::Mutex::new(tx)))).unwrap();
        assert!(watcher.is_alive());
        // Pin 0: falling reported, rising filtered out.
        sim.set_input("gpiochip0", 1, 0).unwrap();
        sim.set_input("gpiochip0", 1, 1).unwrap();
        let (pin, a) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((pin, a.value), (0, 0));
        // Pin 1: a bounce burst, then quiet: one falling edge, about 80 ms after the last raw edge.
        let started = Instant::now();
        for level in [0, 1, 0, 1, 0] {
            sim.set_input("gpiochip0", 2, level).unwrap();
        }
        let (pin, a) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((pin, a.value), (1, 0));
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
        assert!(sys::monotonic_ns() - a.timestamp_ns >= 80_000_000);
        // A glitch shorter than the window: nothing. Two windows later (debounce
        // goes by edge timestamps) a rise that must come out, and comes out next.
        sim.set_input("gpiochip0", 2, 1).unwrap();
        sim.set_input("gpiochip0", 2, 0).unwrap();
        std::thread::sleep(Duration::from_millis(160));
        let marker = sys::monotonic_ns();
        sim.set_input("gpiochip0", 2, 1).unwrap();
        let (pin, a) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((pin, a.value), (1, 1));
        assert!(a.timestamp_ns >= marker, "an edge of the glitch came out");
        drop(watcher); // joins: the thread wakes from poll for shutdown
    }
}
