//! Durable e-mail: an outbox on disk and one thread that delivers it over SMTP.
//!
//! [`Mailer::enqueue`] writes the message to `<state_dir>/outbox/<id>.json`
//! (atomically, fsynced) before it returns, so an accepted message survives an SMTP
//! outage, a hung relay, a restart and a kill -9. The mail thread takes the queued
//! messages one at a time, retries with a growing, jittered backoff, and after
//! `email.retry.max_attempts` marks the message `failed` with the last SMTP error.
//!
//! Delivery is **at least once**. A message is marked `sent` only after the relay
//! answered 250 to its data; a duplicate can come from (a) a crash or kill between
//! that answer and the write of the `sent` state (the restart sends it again) and
//! (b) a reply lost in transit or after `timeout_s` although the relay had taken
//! the message (the retry sends it again). Both copies carry the same Message-ID,
//! fixed at acceptance, so a mail client can tell them apart.
//!
//! The rules thread uses the same API as HTTP: `mailer.enqueue(Message { .. })`.

pub mod api;
pub mod config;
mod smtp;
mod spool;

use crate::events::{now_ms, now_s};
use config::{EmailConfig, RetryConfig, SmtpConfig, SpoolConfig};
pub use spool::Status;
use spool::{Record, Spool};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Recipients one message may have.
pub const MAX_RECIPIENTS: usize = 50;
/// How long shutdown waits for an SMTP exchange in progress; the message stays
/// queued on disk either way.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// Pruning runs at least this often while nothing is queued.
const IDLE_WAKE: Duration = Duration::from_secs(60);

/// A message to send: what a caller (HTTP or a rule) hands in. Serializable
/// because the rules keep mail held for a digest on disk (`rules/held.rs`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EmailError {
    /// No `email.smtp` in the config: nothing could ever be delivered.
    NotConfigured,
    /// A field of the message is not acceptable; `field` names it.
    Invalid { field: &'static str, reason: String },
    /// The spool's bound on queued messages or bytes is reached.
    Full(String),
    /// No message with this id in the outbox.
    NoSuchMessage(String),
    /// Only a `failed` message can be retried.
    NotFailed { id: String, status: Status },
    /// The outbox folder could not be written.
    Storage(String),
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            EmailError::NotConfigured => write!(
                f,
                "no SMTP configured: set email.smtp in the config (or SMTP_HOST)"
            ),
            EmailError::Invalid { field, reason } => write!(f, "{field}: {reason}"),
            EmailError::Full(why) => write!(f, "the outbox is full: {why}"),
            EmailError::NoSuchMessage(id) => write!(f, "no message {id:?} in the outbox"),
            EmailError::NotFailed { id, status } => write!(
                f,
                "message {id} is {}; only a failed message can be retried",
                status.as_str()
            ),
            EmailError::Storage(why) => write!(f, "cannot write the outbox: {why}"),
        }
    }
}

/// One outbox entry as the API shows it (the record on disk holds more).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub sent_at: Option<u64>,
}

struct State {
    records: BTreeMap<String, Record>,
    /// The outcome of the latest delivery attempt since start (for health).
    last_attempt: Option<Result<(), String>>,
    failures_total: u64,
    stopping: bool,
}

pub struct Mailer {
    smtp: Option<SmtpConfig>,
    from: String,
    retry: RetryConfig,
    limits: SpoolConfig,
    spool: Spool,
    state: Mutex<State>,
    wake: Condvar,
    /// Says when the mail thread has ended.
    thread_done: Mutex<Option<Receiver<()>>>,
}

impl Mailer {
    /// Open the outbox and, when a relay is configured, start the mail thread.
    pub fn start(config: &EmailConfig, state_dir: &Path) -> Result<Arc<Mailer>, String> {
        let dir = state_dir.join("outbox");
        let spool = Spool::open(dir.clone()).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (loaded, warnings) = spool
            .load()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        for w in warnings {
            log::error!("email outbox: {w}");
        }
        let records = loaded
            .into_iter()
            .map(|mut r| {
                // A restart tries at once: the wall clock may have jumped since.
                r.next_attempt_ms = 0;
                (r.id.clone(), r)
            })
            .collect();
        let mailer = Arc::new(Mailer {
            smtp: config.smtp.clone(),
            from: config
                .from
                .clone()
                .unwrap_or_else(|| format!("pistack@{}", hostname())),
            retry: config.retry.clone(),
            limits: config.spool.clone(),
            spool,
            state: Mutex::new(State {
                records,
                last_attempt: None,
                failures_total: 0,
                stopping: false,
            }),
            wake: Condvar::new(),
            thread_done: Mutex::new(None),
        });
        if let Some(smtp) = mailer.smtp.clone() {
            let (done_tx, done_rx) = mpsc::channel();
            let worker = mailer.clone();
            std::thread::Builder::new()
                .name("mail".into())
                .spawn(move || {
                    worker.run(&smtp);
                    let _ = done_tx.send(());
                })
                .map_err(|e| format!("cannot start the mail thread: {e}"))?;
            *mailer.thread_done.lock().unwrap_or_else(|p| p.into_inner()) = Some(done_rx);
        }
        Ok(mailer)
    }

    pub fn configured(&self) -> bool {
        self.smtp.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Check, spool and queue a message; when this returns the message is on disk.
    pub fn enqueue(&self, message: Message) -> Result<String, EmailError> {
        if self.smtp.is_none() {
            return Err(EmailError::NotConfigured);
        }
        check(&message)?;
        let id = new_id().map_err(|e| EmailError::Storage(e.to_string()))?;
        let record = Record {
            message_id: format!("<{id}@{}>", hostname()),
            id: id.clone(),
            from: self.from.clone(),
            to: message.to,
            subject: message.subject,
            body: message.body,
            status: Status::Queued,
            attempts: 0,
            last_error: None,
            created_at: now_s(),
            sent_at: None,
            next_attempt_ms: 0,
            done_at: None,
        };
        let mut state = self.lock();
        self.check_room(&state, record.size())?;
        self.spool
            .save(&record)
            .map_err(|e| EmailError::Storage(e.to_string()))?;
        state.records.insert(id.clone(), record);
        drop(state);
        self.wake.notify_all();
        Ok(id)
    }

    /// The spool's bound: queued messages, by count and by bytes.
    fn check_room(&self, state: &State, adding: u64) -> Result<(), EmailError> {
        let queued = state
            .records
            .values()
            .filter(|r| r.status == Status::Queued);
        let (count, bytes) = queued.fold((0usize, 0u64), |(n, b), r| (n + 1, b + r.size()));
        if count >= self.limits.max_messages {
            return Err(EmailError::Full(format!(
                "{count} messages wait for delivery (email.spool.max_messages); try again when some are sent"
            )));
        }
        if bytes + adding > self.limits.max_bytes {
            return Err(EmailError::Full(format!(
                "{bytes} bytes wait for delivery and this message has {adding} (email.spool.max_bytes is {}); try again when some are sent",
                self.limits.max_bytes
            )));
        }
        Ok(())
    }

    /// Every message in the outbox, oldest first.
    pub fn list(&self) -> Vec<Entry> {
        self.lock()
            .records
            .values()
            .map(|r| Entry {
                id: r.id.clone(),
                to: r.to.clone(),
                subject: r.subject.clone(),
                status: r.status,
                attempts: r.attempts,
                last_error: r.last_error.clone(),
                created_at: r.created_at,
                sent_at: r.sent_at,
            })
            .collect()
    }

    /// Queue a `failed` message again, with a fresh count of attempts.
    /// An unknown id is 404 and a message not failed 409 whether or not a relay
    /// is configured: the caller's mistake is named before the daemon's state.
    pub fn retry(&self, id: &str) -> Result<(), EmailError> {
        let mut state = self.lock();
        let Some(record) = state.records.get(id) else {
            return Err(EmailError::NoSuchMessage(id.to_string()));
        };
        if record.status != Status::Failed {
            return Err(EmailError::NotFailed {
                id: id.to_string(),
                status: record.status,
            });
        }
        if self.smtp.is_none() {
            return Err(EmailError::NotConfigured);
        }
        let mut record = record.clone();
        self.check_room(&state, record.size())?;
        record.status = Status::Queued;
        record.attempts = 0;
        record.next_attempt_ms = 0;
        record.done_at = None;
        self.spool
            .save(&record)
            .map_err(|e| EmailError::Storage(e.to_string()))?;
        state.records.insert(id.to_string(), record);
        drop(state);
        self.wake.notify_all();
        Ok(())
    }

    /// `Ok`, or why mail is not going out. Only called when a relay is configured.
    pub fn health(&self) -> Result<(), String> {
        match &self.lock().last_attempt {
            Some(Err(reason)) => Err(format!("last delivery attempt failed: {reason}")),
            _ => Ok(()),
        }
    }

    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        use crate::metrics::Kind;
        let state = self.lock();
        let mut f = out.family(
            "pistack_email_messages",
            Kind::Gauge,
            "Messages in the outbox by status.",
        );
        for status in Status::ALL {
            let n = state
                .records
                .values()
                .filter(|r| r.status == status)
                .count();
            f.sample(&[("status", status.as_str())], n);
        }
        out.family(
            "pistack_email_delivery_failures_total",
            Kind::Counter,
            "Failed SMTP delivery attempts since start.",
        )
        .sample(&[], state.failures_total);
    }

    /// Stop the mail thread. A message being sent stays queued on disk and goes
    /// out after the next start, so waiting for a hung relay is bounded.
    pub fn shutdown(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
        let done = self
            .thread_done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(done) = done {
            if done.recv_timeout(SHUTDOWN_WAIT).is_err() {
                log::warn!(
                    "the mail thread is still in an SMTP exchange; its message stays queued"
                );
            }
        }
    }

    /// The mail thread: deliver what is due, one message at a time, until shutdown.
    fn run(&self, smtp: &SmtpConfig) {
        while let Some(record) = self.next_due() {
            let result = smtp::deliver(smtp, &record);
            self.finish(&record.id, result);
        }
    }

    /// The queued message due first, waiting until it is due; `None` on shutdown.
    fn next_due(&self) -> Option<Record> {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return None;
            }
            self.prune(&mut state);
            let now = now_ms();
            let next = state
                .records
                .values()
                .filter(|r| r.status == Status::Queued)
                .min_by_key(|r| r.next_attempt_ms);
            let wait = match next {
                Some(r) if r.next_attempt_ms <= now => return Some(r.clone()),
                Some(r) => Duration::from_millis(r.next_attempt_ms - now).min(IDLE_WAKE),
                None => IDLE_WAKE,
            };
            state = self
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Record the outcome of one attempt, on disk first.
    fn finish(&self, id: &str, result: Result<(), String>) {
        let mut state = self.lock();
        let Some(mut record) = state.records.get(id).cloned() else {
            return;
        };
        record.attempts += 1;
        match &result {
            Ok(()) => {
                record.status = Status::Sent;
                record.sent_at = Some(now_s());
                record.done_at = Some(now_s());
                log::info!("mail {id} sent to {}", record.to.join(", "));
            }
            Err(e) => {
                state.failures_total += 1;
                record.last_error = Some(e.clone());
                if record.attempts >= self.retry.max_attempts {
                    record.status = Status::Failed;
                    record.done_at = Some(now_s());
                    log::error!("mail {id} failed after {} attempts: {e}", record.attempts);
                } else {
                    let delay = backoff(&self.retry, record.attempts, jitter());
                    record.next_attempt_ms = now_ms() + delay.as_millis() as u64;
                    log::warn!(
                        "mail {id}: attempt {} failed: {e}; next in {:.1} s",
                        record.attempts,
                        delay.as_secs_f64()
                    );
                }
            }
        }
        if let Err(e) = self.spool.save(&record) {
            log::error!(
                "mail {id}: cannot record its state ({e}); it may be sent again after a restart"
            );
        }
        state.records.insert(id.to_string(), record);
        state.last_attempt = Some(result);
    }

    /// Delete sent and failed messages past `keep_s`, and the oldest beyond `keep_done`.
    fn prune(&self, state: &mut State) {
        let now = now_s();
        let mut done: Vec<(u64, String)> = state
            .records
            .values()
            .filter_map(|r| r.done_at.map(|t| (t, r.id.clone())))
            .collect();
        done.sort();
        let excess = done.len().saturating_sub(self.limits.keep_done);
        for (i, (done_at, id)) in done.into_iter().enumerate() {
            if i < excess || now.saturating_sub(done_at) > self.limits.keep_s {
                match self.spool.remove(&id) {
                    Ok(()) => {
                        state.records.remove(&id);
                    }
                    Err(e) => log::error!("email outbox: cannot delete {id}: {e}"),
                }
            }
        }
    }
}

/// What the core refuses, whoever calls: bad addresses, header injection, too much.
fn check(message: &Message) -> Result<(), EmailError> {
    let invalid = |field, reason: String| Err(EmailError::Invalid { field, reason });
    if message.to.is_empty() {
        return invalid("to", "at least one address is needed".into());
    }
    if message.to.len() > MAX_RECIPIENTS {
        return invalid("to", format!("at most {MAX_RECIPIENTS} addresses"));
    }
    for to in &message.to {
        if to.parse::<lettre::Address>().is_err() {
            return invalid("to", format!("{to:?} is not an e-mail address"));
        }
    }
    if message.subject.contains(['\r', '\n']) {
        return invalid("subject", "must be one line".into());
    }
    if message.subject.chars().count() > 500 {
        return invalid("subject", "at most 500 characters".into());
    }
    Ok(())
}

/// The wait after the `attempts`-th failure: `base_s * 2^(attempts-1)`, at most
/// `max_s`, scaled by `jitter` (0.75 to 1.25).
fn backoff(retry: &RetryConfig, attempts: u32, jitter: f64) -> Duration {
    let exp = 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    Duration::from_secs_f64((retry.base_s * exp).min(retry.max_s) * jitter)
}

fn jitter() -> f64 {
    let r = crate::random::bytes::<4>()
        .map(u32::from_le_bytes)
        .unwrap_or(u32::MAX / 2);
    0.75 + 0.5 * (r as f64 / u32::MAX as f64)
}

/// Ids sort by time of acceptance and are safe as file names.
fn new_id() -> std::io::Result<String> {
    let r = crate::random::bytes::<4>()?;
    Ok(format!("{:013}-{:08x}", now_ms(), u32::from_le_bytes(r)))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are ours; the kernel writes within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(h) if rc == 0 && !h.is_empty() => h.to_string(),
        _ => "localhost".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &[&str], subject: &str) -> Message {
        Message {
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: subject.into(),
            body: "b".into(),
        }
    }

    #[test]
    fn addresses_and_subjects_are_checked() {
        assert_eq!(check(&message(&["a@b.example"], "Grüße ✓")), Ok(()));
        assert_eq!(check(&message(&["ü@xn--bcher-kva.example"], "s")), Ok(()));
        // UTF-8 domains pass without IDNA's tables (see Cargo.toml, idna_adapter).
        assert_eq!(check(&message(&["a@bücher.example"], "s")), Ok(()));
        for (m, field) in [
            (message(&[], "s"), "to"),
            (message(&["a@b.example", "nope"], "s"), "to"),
            (message(&["a@b.example\r\nBcc: x@y"], "s"), "to"),
            (message(&["a@b.example"], "s\r\nBcc: x@y"), "subject"),
        ] {
            match check(&m) {
                Err(EmailError::Invalid { field: f, .. }) => assert_eq!(f, field, "{m:?}"),
                other => panic!("{m:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let r = RetryConfig {
            base_s: 2.0,
            max_s: 10.0,
            max_attempts: 5,
        };
        let s = |n, j| backoff(&r, n, j).as_secs_f64();
        assert_eq!(
            [s(1, 1.0), s(2, 1.0), s(3, 1.0), s(4, 1.0)],
            [2.0, 4.0, 8.0, 10.0]
        );
        assert_eq!(s(40, 1.0), 10.0);
        assert_eq!([s(1, 0.75), s(1, 1.25)], [1.5, 2.5]);
        for _ in 0..100 {
            assert!((0.75..=1.25).contains(&jitter()));
        }
    }

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-mail-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn without_smtp_nothing_is_accepted() {
        let dir = temp("nosmtp");
        let m = Mailer::start(&EmailConfig::default(), &dir).unwrap();
        assert_eq!(
            m.enqueue(message(&["a@b.example"], "s")),
            Err(EmailError::NotConfigured)
        );
        m.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn unreachable(max_attempts: u32, spool: SpoolConfig) -> EmailConfig {
        // A relay on a port nothing listens on: attempts fail at once, far apart.
        EmailConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 1,
                ..SmtpConfig::default()
            }),
            from: Some("p@test.example".into()),
            retry: RetryConfig {
                base_s: 3600.0,
                max_s: 3600.0,
                max_attempts,
            },
            spool,
            ..EmailConfig::default()
        }
    }

    fn wait_until(m: &Mailer, what: impl Fn(&[Entry]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !what(&m.list()) {
            assert!(std::time::Instant::now() < deadline, "{:?}", m.list());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_full_spool_refuses_by_count_and_by_bytes() {
        let dir = temp("bound");
        let spool = SpoolConfig {
            max_messages: 2,
            max_bytes: 2000,
            ..SpoolConfig::default()
        };
        let m = Mailer::start(&unreachable(5, spool), &dir).unwrap();
        let mut big = message(&["a@b.example"], "big");
        big.body = "x".repeat(1500);
        m.enqueue(big.clone()).unwrap();
        assert!(matches!(m.enqueue(big), Err(EmailError::Full(w)) if w.contains("max_bytes")));
        m.enqueue(message(&["a@b.example"], "2")).unwrap();
        let e = m.enqueue(message(&["a@b.example"], "3")).unwrap_err();
        assert!(e.to_string().contains("email.spool.max_messages"), "{e}");
        m.shutdown();
        // Still there after a restart, still queued, still counted.
        let m = Mailer::start(&unreachable(5, SpoolConfig::default()), &dir).unwrap();
        let list = m.list();
        assert_eq!(list.len(), 2, "{list:?}");
        m.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failed_ones_can_be_retried_and_are_pruned_beyond_keep_done() {
        let dir = temp("prune");
        let spool = SpoolConfig {
            keep_done: 1,
            ..SpoolConfig::default()
        };
        let m = Mailer::start(&unreachable(1, spool), &dir).unwrap();
        let a = m.enqueue(message(&["a@b.example"], "1")).unwrap();
        wait_until(&m, |l| l.iter().any(|e| e.status == Status::Failed));
        let failed = m.list().into_iter().find(|e| e.id == a).unwrap();
        assert_eq!(failed.attempts, 1);
        assert!(failed.last_error.unwrap().contains("127.0.0.1:1"));
        assert!(matches!(m.retry("nope"), Err(EmailError::NoSuchMessage(_))));
        m.retry(&a).unwrap();
        wait_until(&m, |l| l.iter().all(|e| e.status == Status::Failed));
        // A second failed message: keep_done 1 prunes the older one.
        let b = m.enqueue(message(&["a@b.example"], "2")).unwrap();
        wait_until(&m, |l| {
            l.len() == 1 && l[0].id == b && l[0].status == Status::Failed
        });
        assert!(!dir.join("outbox").join(format!("{a}.json")).exists());
        assert!(m
            .health()
            .unwrap_err()
            .starts_with("last delivery attempt failed: "));
        m.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
