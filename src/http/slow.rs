//! The slow pool: a few threads for the routes that may take seconds (a pulse
//! of up to 10 s, a start waiting for `startsecs`), so that the workers that
//! answer health, logins, tokens and files are never the ones waiting. The
//! queue in front of it is bounded: when it is full the request is answered
//! 503 with `Retry-After` instead of waiting for a thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// `threads` threads doing `work` on the jobs of a bounded queue.
pub struct SlowPool<Job> {
    queue: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Jobs running or waiting, at most `limit`.
    in_flight: Arc<AtomicUsize>,
    limit: usize,
}

impl<Job: Send + 'static> SlowPool<Job> {
    /// `threads` threads, and room for as many jobs again waiting for one.
    pub fn start(
        name: &str,
        threads: usize,
        work: impl Fn(Job) + Send + Sync + 'static,
    ) -> Result<Arc<SlowPool<Job>>, String> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let work = Arc::new(work);
        let handles = (0..threads)
            .map(|i| {
                let (rx, work, in_flight) = (rx.clone(), work.clone(), in_flight.clone());
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || run(&rx, &*work, &in_flight))
                    .map_err(|e| format!("cannot start the thread {name}-{i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(SlowPool {
            queue: Mutex::new(Some(tx)),
            threads: Mutex::new(handles),
            in_flight,
            limit: 2 * threads,
        }))
    }

    /// Queue `job`; give it back when every thread is busy and the queue full
    /// (or the pool is stopping).
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = queue.as_ref() else {
            return Err(job);
        };
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= self.limit {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(job);
        }
        tx.send(job).map_err(|e| {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            e.0
        })
    }

    /// Take no more jobs; wait for the queued and running ones to end.
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn run<Job>(
    rx: &Mutex<Receiver<Job>>,
    work: &(dyn Fn(Job) + Send + Sync),
    in_flight: &AtomicUsize,
) {
    loop {
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok(job) => {
                work(job);
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    type Job = Box<dyn FnOnce() + Send>;

    #[test]
    fn bounded_and_refuses_when_full() {
        let pool = SlowPool::start("test", 1, |job: Job| job()).unwrap();
        let (release_tx, release_rx) = channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (started_tx, started_rx) = channel::<()>();
        let blocker = |rx: Arc<Mutex<Receiver<()>>>, started: std::sync::mpsc::Sender<()>| -> Job {
            Box::new(move || {
                let _ = started.send(());
                let _ = rx.lock().unwrap().recv();
            })
        };
        assert!(pool
            .submit(blocker(release_rx.clone(), started_tx.clone()))
            .is_ok());
        started_rx.recv().unwrap(); // the one thread is busy
        assert!(pool
            .submit(blocker(release_rx.clone(), started_tx.clone()))
            .is_ok()); // queued
        assert!(pool.submit(Box::new(|| {})).is_err()); // full
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        pool.stop();
        assert!(pool.submit(Box::new(|| {})).is_err());
    }
}
