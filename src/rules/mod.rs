//! Rules: events in, actions out (docs/config.md `rules`, docs/api.md "Rules").
//!
//! One rules thread reads the event bus. For each event it asks the [`engine`]
//! which rules fire (trigger, `count` within `within_s`, `cooldown_s`), renders
//! the actions' placeholders, passes rule mail through the hourly cap, and hands
//! the firing's action list to a thread of its own. Actions can take seconds (a
//! webhook, a 10 s pulse, a start waiting for `startsecs`): running them there
//! means they never delay the next event or another rule. At most
//! [`MAX_RUNNING`] firings run at once; past that a firing is dropped, counted
//! and logged, so a storm cannot make threads without bound. The thread sleeps in
//! the channel receive; its only timer is the end of the mail cap's window while
//! mail is held for the digest, so an idle daemon does not wake.
//!
//! The cap (held mail, the window's end and count) is saved in the state dir on
//! every change ([`held`]) and loaded at start: a kill -9 loses no held mail
//! and a restart does not reset the cap. A digest is queued in the outbox
//! before the emptied cap is saved, so a crash between the two sends the
//! digest twice rather than never (at least once, as the outbox is).

pub mod api;
pub mod config;
pub mod engine;
pub mod held;

use crate::email::{Mailer, Message};
use crate::events::{self, Bus, Event, Numbered, Ring};
use crate::gpio::Gpio;
use crate::metrics::{Kind, Writer};
use crate::supervisor::Supervisor;
use config::{Action, Rule};
use engine::{Admitted, Engine, MailCap, Outcome, Values};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Firings whose actions may run at the same time.
pub const MAX_RUNNING: usize = 8;
/// Events the bus holds for the rules thread before it drops some.
const BACKLOG: usize = 256;
/// Stack of an action thread: a webhook call or a supervisor request, no more.
const ACTION_STACK: usize = 256 * 1024;
/// How many rule events the ring keeps for `GET /api/rules/events`.
const EVENT_RING: usize = 500;
/// `{log_tail}`: this many of the last lines of the program's stderr ...
const LOG_TAIL_LINES: usize = 20;
/// ... read from at most this many bytes of its end.
const LOG_TAIL_BYTES: u64 = 4096;
/// A held mail past [`engine::MAX_QUOTED`] only adds to a count: that change is
/// saved at most this often, so that a storm does not rewrite the file for each
/// mail (a crash may lose the count of the last few, never a quoted mail).
const COUNT_SAVE_EVERY: Duration = Duration::from_secs(30);

/// What the rules act on.
pub struct Actuators {
    pub supervisor: Arc<Supervisor>,
    pub gpio: Arc<Gpio>,
    pub mailer: Arc<Mailer>,
}

/// What happened to a rule, for the ring and `/api/rules/events`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RuleOutcome {
    /// The actions were started.
    Fired,
    /// Within `cooldown_s` of the last firing: nothing done.
    Suppressed,
    /// [`MAX_RUNNING`] firings were running: nothing done.
    Dropped,
    /// One action failed (the others still ran).
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleEvent {
    pub kind: &'static str,
    pub rule: String,
    pub index: usize,
    pub outcome: RuleOutcome,
    /// The event that triggered it (as the webhook body's `event`).
    pub trigger: Value,
    /// For `failed`: which action and why.
    pub error: Option<String>,
}

/// Counts of one rule since start, for `GET /api/rules` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleStats {
    pub fired: u64,
    pub suppressed: u64,
    pub dropped: u64,
    pub failed_actions: u64,
    pub last_fired: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<u64>,
}

/// A rule as `GET /api/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub index: usize,
    pub name: String,
    pub when: Value,
    pub then: Vec<&'static str>,
    pub cooldown_s: u64,
    #[serde(flatten)]
    pub stats: RuleStats,
}

/// What the rules thread shares with the action threads and the API.
struct Shared {
    actuators: Actuators,
    rules: Vec<Rule>,
    /// Each rule's `when`, as the file has it.
    whens: Vec<Value>,
    stats: Mutex<Vec<RuleStats>>,
    events: Ring<RuleEvent>,
    cap: Mutex<SavedCap>,
    running: AtomicUsize,
    stopping: AtomicBool,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Vec<RuleStats>> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cap(&self) -> MutexGuard<'_, SavedCap> {
        self.cap.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Log, count and record a failure of rule `i`.
    fn failed(&self, i: usize, error: String, trigger: &Value) {
        log::warn!("rules: {}: {error}", rule_label(self, i));
        let mut stats = self.stats();
        stats[i].failed_actions += 1;
        stats[i].last_error = Some(error.clone());
        stats[i].last_error_at = Some(events::now_s());
        drop(stats);
        self.record(i, RuleOutcome::Failed, trigger, Some(error));
    }

    fn record(&self, index: usize, outcome: RuleOutcome, trigger: &Value, error: Option<String>) {
        self.events.push(RuleEvent {
            kind: "rule",
            rule: self.rules[index].name.clone(),
            index,
            outcome,
            trigger: trigger.clone(),
            error,
        });
    }
}

/// The mail cap and its file: every change is saved before the lock is let go.
struct SavedCap {
    cap: MailCap,
    path: PathBuf,
    saved_at: Option<Instant>,
}

impl SavedCap {
    /// The saved cap in `state_dir` under the config's limits, or an empty one
    /// (a file that cannot be read is reported, and moved aside if corrupt).
    fn load(email: &crate::email::config::EmailConfig, state_dir: &std::path::Path) -> SavedCap {
        let path = held::path(state_dir);
        let window = Duration::from_secs(email.cap_window_s);
        let cap = match held::load(&path) {
            Ok(Some(state)) => {
                let cap = MailCap::restore(
                    email.max_per_hour,
                    window,
                    state,
                    Instant::now(),
                    events::now_ms(),
                );
                if cap.held() > 0 {
                    log::info!(
                        "rules: {} held rule mail(s) loaded for the digest",
                        cap.held()
                    );
                }
                cap
            }
            Ok(None) => MailCap::new(email.max_per_hour, window),
            Err(e) => {
                log::error!("rules: {e}; starting with an empty mail cap");
                MailCap::new(email.max_per_hour, window)
            }
        };
        SavedCap {
            cap,
            path,
            saved_at: None,
        }
    }

    fn save(&mut self, now: Instant) {
        let state = self.cap.state(now, events::now_ms());
        if let Err(e) = held::save(&self.path, &state) {
            log::warn!("rules: cannot save the mail cap: {e}; a crash now may lose held mail");
        }
        self.saved_at = Some(now);
    }

    /// One rule mail through the cap: `Some` to send it now.
    fn admit(&mut self, message: Message, now: Instant) -> Option<Message> {
        let admitted = self.cap.admit(message, now);
        let stale = self
            .saved_at
            .is_none_or(|t| now.saturating_duration_since(t) >= COUNT_SAVE_EVERY);
        if admitted != Admitted::Counted || stale {
            self.save(now);
        }
        match admitted {
            Admitted::Send(m) => Some(m),
            Admitted::Held | Admitted::Counted => None,
        }
    }

    /// The digests due at `now` queued, then the cap saved (never the other
    /// way round: a crash between the two sends a digest twice, not never).
    fn queue_due(&mut self, mailer: &Mailer, now: Instant) {
        if self
            .cap
            .due(now, &hostname(), |d| enqueue_digest(mailer, d))
        {
            self.save(now);
        }
    }

    /// Everything held queued now, then the cap saved.
    fn queue_all(&mut self, mailer: &Mailer) {
        if self.cap.drain(&hostname(), |d| enqueue_digest(mailer, d)) {
            self.save(Instant::now());
        }
    }
}

/// A digest into the outbox (a spool write, not an SMTP exchange): whether it
/// was taken. One refused (a full spool or disk) stays held for a retry.
fn enqueue_digest(mailer: &Mailer, digest: Message) -> bool {
    match mailer.enqueue(digest) {
        Ok(_) => true,
        Err(e) => {
            log::warn!(
                "rules: the digest of held mail could not be queued ({e}); kept for a retry"
            );
            false
        }
    }
}

/// The handle of the rules subsystem.
pub struct Rules {
    shared: Arc<Shared>,
    /// `None` without rules: nothing to run.
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One action, its placeholders filled in, ready to run.
enum Step {
    Mail(Message),
    /// Held by the cap; goes out in the digest.
    MailHeld,
    Act(Action),
    Http {
        url: String,
        method: String,
        body: String,
        timeout: Duration,
    },
    Log(String),
}

impl Rules {
    /// Start the rules thread on `bus` with the config's rules (the problems of
    /// the rules, one a line, if they are not valid).
    pub fn start(
        config: &crate::config::Config,
        actuators: Actuators,
        bus: &Bus,
    ) -> Result<Arc<Rules>, String> {
        let rules = config::parse_all(config).map_err(|p| p.join("\n"))?;
        let whens = config.rules.iter().map(|r| r["when"].clone()).collect();
        let email = &config.email;
        let n = rules.len();
        let shared = Arc::new(Shared {
            actuators,
            rules: rules.clone(),
            whens,
            stats: Mutex::new(vec![RuleStats::default(); n]),
            events: Ring::new(EVENT_RING),
            cap: Mutex::new(SavedCap::load(email, &config.state_dir)),
            running: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        let mut thread = None;
        if n > 0 {
            let rx = bus.subscribe(BACKLOG);
            let s = shared.clone();
            let engine = Engine::new(rules);
            let handle = std::thread::Builder::new()
                .name("rules".into())
                .spawn(move || run(&s, engine, rx))
                .map_err(|e| format!("cannot start the rules thread: {e}"))?;
            thread = Some(handle);
        } else {
            // Held by rules since removed: no thread will wait for their window.
            shared.cap().queue_all(&shared.actuators.mailer);
        }
        Ok(Arc::new(Rules { shared, thread }))
    }

    /// For `/api/health`: the rules thread runs (when there are rules).
    pub fn check(&self) -> Result<(), String> {
        match &self.thread {
            Some(h) if h.is_finished() => Err("the rules thread has stopped".into()),
            _ => Ok(()),
        }
    }

    pub fn list(&self) -> Vec<RuleInfo> {
        let stats = self.shared.stats();
        self.shared
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| RuleInfo {
                index: i,
                name: r.name.clone(),
                when: self.shared.whens.get(i).cloned().unwrap_or(Value::Null),
                then: r.then.iter().map(Action::kind).collect(),
                cooldown_s: r.cooldown_s,
                stats: stats[i].clone(),
            })
            .collect()
    }

    pub fn events(&self, after: u64, limit: usize) -> Vec<Numbered<RuleEvent>> {
        self.shared.events.after(after, limit)
    }

    /// Fire nothing more (the supervisor's stop events must not restart programs)
    /// and queue the held mail's digests while the outbox still takes them.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.cap().queue_all(&self.shared.actuators.mailer);
    }

    /// Prometheus families: firings, suppressions, drops and failed actions by rule.
    pub fn write_metrics(&self, out: &mut Writer) {
        let stats = self.shared.stats();
        type Count = fn(&RuleStats) -> u64;
        let families: [(&'static str, &str, Count); 4] = [
            (
                "pistack_rule_firings_total",
                "Rule firings since start.",
                |s| s.fired,
            ),
            (
                "pistack_rule_suppressed_total",
                "Rule triggers suppressed by cooldown_s.",
                |s| s.suppressed,
            ),
            (
                "pistack_rule_dropped_total",
                "Rule firings dropped because too many were running.",
                |s| s.dropped,
            ),
            (
                "pistack_rule_action_failures_total",
                "Rule actions that failed.",
                |s| s.failed_actions,
            ),
        ];
        for (name, help, get) in families {
            let mut f = out.family(name, Kind::Counter, help);
            for (rule, s) in self.shared.rules.iter().zip(stats.iter()) {
                f.sample(&[("rule", &rule.name)], get(s));
            }
        }
        let held = self.shared.cap().cap.held();
        out.family(
            "pistack_rule_mail_held",
            Kind::Gauge,
            "Rule mails held back by email.max_per_hour for the digest.",
        )
        .sample(&[], held);
    }
}

fn hostname() -> String {
    crate::info::system::hostname().unwrap_or_else(|_| "localhost".into())
}

/// The rules thread: events and the digest timer until the bus goes away.
fn run(shared: &Arc<Shared>, mut engine: Engine, rx: Receiver<Event>) {
    loop {
        let deadline = shared.cap().cap.deadline();
        let received = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        // Queued here, and never dropped.
        shared.cap().queue_due(&shared.actuators.mailer, now);
        match received {
            Ok(event) if !shared.stopping.load(Ordering::SeqCst) => {
                on_event(shared, &mut engine, &event, now)
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn on_event(shared: &Arc<Shared>, engine: &mut Engine, event: &Event, now: Instant) {
    let trigger = event_json(event);
    for (i, outcome) in engine.on_event(event, now) {
        match outcome {
            Outcome::Counting => {}
            Outcome::Suppressed => {
                shared.stats()[i].suppressed += 1;
                shared.record(i, RuleOutcome::Suppressed, &trigger, None);
            }
            // Planned only once a thread is had, so that a dropped firing
            // takes no place under the mail cap.
            Outcome::Fire if claim_thread(shared) => {
                let steps = plan(shared, engine.rule(i), event, now);
                spawn_firing(shared, i, steps, trigger.clone());
            }
            Outcome::Fire => {
                log::warn!(
                    "rules: {MAX_RUNNING} firings are running their actions; dropped {}",
                    rule_label(shared, i)
                );
                shared.stats()[i].dropped += 1;
                shared.record(i, RuleOutcome::Dropped, &trigger, None);
            }
        }
    }
}

/// The event as JSON: the webhook body's `event` and the rule events' `trigger`.
pub fn event_json(event: &Event) -> Value {
    match event {
        Event::Process(e) => json!({
            "kind": "process",
            "name": e.name,
            "from": e.from,
            "to": e.to,
            "pid": e.pid,
            "exit_status": e.exit_status,
            "expected": e.expected,
            "message": e.message,
        }),
        Event::Gpio(e) => json!({
            "kind": "gpio",
            "pin": e.pin,
            "edge": engine::edge_name(e.edge),
            "value": e.value,
            "timestamp_ns": e.timestamp_ns,
        }),
    }
}

/// The firing's actions with their placeholders filled in, mail through the cap.
fn plan(shared: &Shared, rule: &Rule, event: &Event, now: Instant) -> Vec<Step> {
    let host = hostname();
    let time = crate::logging::local_rfc3339(std::time::SystemTime::now());
    let wants_tail = rule.then.iter().any(|a| match a {
        Action::Email { subject, body, .. } => (subject.clone() + body).contains("{log_tail}"),
        Action::Log(t) => t.contains("{log_tail}"),
        Action::Http { body, .. } => body.as_ref().is_some_and(|b| b.contains("{log_tail}")),
        _ => false,
    });
    let tail = match event {
        Event::Process(e) if wants_tail => Some(log_tail(&shared.actuators.supervisor, &e.name)),
        _ => None,
    };
    let values = Values {
        rule: &rule.name,
        hostname: &host,
        time: &time,
        event,
        log_tail: tail.as_deref(),
    };
    let render = |t: &str| engine::render(t, &values);
    rule.then
        .iter()
        .map(|action| match action {
            Action::Email { to, subject, body } => {
                let message = Message {
                    to: to.clone(),
                    subject: render(subject),
                    body: render(body),
                };
                match shared.cap().admit(message, now) {
                    Some(m) => Step::Mail(m),
                    None => Step::MailHeld,
                }
            }
            Action::Http {
                url,
                method,
                body,
                timeout_s,
            } => Step::Http {
                url: url.clone(),
                method: method.clone(),
                body: match body {
                    Some(b) => render(b),
                    None => json!({
                        "rule": rule.name,
                        "hostname": host,
                        "time": time,
                        "event": event_json(event),
                    })
                    .to_string(),
                },
                timeout: Duration::from_secs(*timeout_s),
            },
            Action::Log(text) => Step::Log(render(text)),
            other => Step::Act(other.clone()),
        })
        .collect()
}

fn log_tail(supervisor: &Supervisor, name: &str) -> String {
    match supervisor.tail(name, true, LOG_TAIL_BYTES) {
        Ok(bytes) => engine::last_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
        Err(e) => format!("(no log: {e})"),
    }
}

/// One of the [`MAX_RUNNING`] places for a firing's actions, if one is free.
fn claim_thread(shared: &Shared) -> bool {
    shared
        .running
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_RUNNING).then_some(n + 1)
        })
        .is_ok()
}

/// Count the firing of rule `i` and run `steps` on a thread of their own, in
/// the place [`claim_thread`] took (and that the thread gives back).
fn spawn_firing(shared: &Arc<Shared>, i: usize, steps: Vec<Step>, trigger: Value) {
    let mut stats = shared.stats();
    stats[i].fired += 1;
    stats[i].last_fired = Some(events::now_s());
    drop(stats);
    shared.record(i, RuleOutcome::Fired, &trigger, None);
    log::info!("rules: {} fired", rule_label(shared, i));
    let spawned = std::thread::Builder::new()
        .name("rule-action".into())
        .stack_size(ACTION_STACK)
        .spawn({
            let (shared, trigger) = (shared.clone(), trigger.clone());
            move || {
                run_steps(&shared, i, steps, &trigger);
                shared.running.fetch_sub(1, Ordering::SeqCst);
            }
        });
    if let Err(e) = spawned {
        shared.running.fetch_sub(1, Ordering::SeqCst);
        shared.failed(i, format!("cannot start an action thread: {e}"), &trigger);
    }
}

fn rule_label(shared: &Shared, i: usize) -> String {
    format!("rules[{i}] {:?}", shared.rules[i].name)
}

/// The actions in order; a failure is logged, counted and recorded, and the
/// next action runs all the same.
fn run_steps(shared: &Shared, i: usize, steps: Vec<Step>, trigger: &Value) {
    for (j, step) in steps.into_iter().enumerate() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Err(why) = run_step(&shared.actuators, step) else {
            continue;
        };
        shared.failed(i, format!("then[{j}]: {why}"), trigger);
    }
}

fn run_step(a: &Actuators, step: Step) -> Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    match step {
        Step::Mail(m) => a
            .mailer
            .enqueue(m)
            .map(|_| ())
            .map_err(|e| format!("email: {e}")),
        Step::MailHeld => Ok(()),
        Step::Log(message) => {
            log::info!(target: "rule", "{message}");
            Ok(())
        }
        Step::Http {
            url,
            method,
            body,
            timeout,
        } => webhook(&url, &method, &body, timeout).map_err(|e| format!("http {url}: {e}")),
        Step::Act(action) => {
            let kind = action.kind();
            let done = match action {
                Action::Start(p) => a
                    .supervisor
                    .start_program(&p, true)
                    .map(|_| ())
                    .map_err(|e| text(&e)),
                Action::Stop(p) => a
                    .supervisor
                    .stop_program(&p, true)
                    .map(|_| ())
                    .map_err(|e| text(&e)),
                Action::Restart(p) => a
                    .supervisor
                    .restart_program(&p)
                    .map(|_| ())
                    .map_err(|e| text(&e)),
                Action::GpioSet { pin, value } => {
                    a.gpio.write(&pin, value).map(|_| ()).map_err(|e| text(&e))
                }
                Action::GpioToggle(pin) => a.gpio.toggle(&pin).map(|_| ()).map_err(|e| text(&e)),
                Action::GpioPulse { pin, ms, value } => a
                    .gpio
                    .pulse(&pin, value, ms)
                    .map(|_| ())
                    .map_err(|e| text(&e)),
                // Rendered into their own steps by `plan`.
                Action::Email { .. } | Action::Http { .. } | Action::Log(_) => Ok(()),
            };
            done.map_err(|e| format!("{kind}: {e}"))
        }
    }
}

/// One webhook call: JSON body, one overall timeout, any 2xx is success.
fn webhook(url: &str, method: &str, body: &str, timeout: Duration) -> Result<(), String> {
    let mut agent = ureq::AgentBuilder::new().timeout(timeout);
    if let Some(tls) = crate::tls_client::system() {
        agent = agent.tls_connector(tls);
    }
    let agent = agent.build();
    let answer = agent
        .request(method, url)
        .set("Content-Type", "application/json")
        .send_string(body);
    match answer {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("answered {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("answered {code}")),
        Err(e) => Err(e.to_string()),
    }
}
