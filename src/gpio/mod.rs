//! GPIO: the named pins of the config, held through a [`backend::Backend`] (the
//! kernel's character device, or a simulator), read and written by name; edges of
//! inputs go through debounce to the event bus and to a ring for the API.
//!
//! Failure is local: a pin whose chip or line is missing, or whose line another
//! process holds, keeps its error and answers 503, while the other pins and the
//! daemon go on (`/api/health` says degraded). Lines are requested at start and
//! held until exit, so outputs keep their value and nobody else can grab them; a
//! reload ([`Gpio::reload`], decided by [`reload::diff`]) releases and requests
//! only the pins whose configuration changed.
//!
//! Values and edge names are logical: on an `active_low` pin a physical low reads
//! 1, and a physical falling edge is reported as "rising".

pub mod api;
pub mod backend;
pub mod cdev;
pub mod config;
pub mod debounce;
pub mod reload;
pub mod sim;
mod sys;
pub mod watcher;

use crate::events::{Bus, Event, GpioEvent, Numbered, Ring};
use backend::{Backend, ChipInfo, LineHandle, LineRequest};
use config::{Backend as BackendKind, Bias, Direction, Edge, GpioConfig, LineRef, PinConfig};
use debounce::{Accepted, Debouncer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Events kept for `GET /api/io/gpio/events`.
pub const RING_CAPACITY: usize = 1000;
/// Longest pulse the API accepts, in ms.
pub const MAX_PULSE_MS: u64 = 10_000;

/// Why an operation on a pin failed. Each variant carries the whole sentence a
/// client is shown (it names the pin); the API maps the variant to a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No pin of that name (404).
    NoSuchPin(String),
    /// The pin could not be set up, or its line failed: chip missing, line busy or
    /// out of range, permission denied on the chip, watcher stopped (503).
    Unavailable(String),
    /// Writing an input, or simulating an input on a real chip (409).
    Conflict(String),
    /// A bad argument, such as a pulse length out of range (400).
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchPin(m)
            | Error::Unavailable(m)
            | Error::Conflict(m)
            | Error::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The pulse lengths the core accepts, in ms: 1 to [`MAX_PULSE_MS`]. The API
/// checks bodies with it too, so that both say the same.
pub fn pulse_length(ms: u64) -> Result<Duration, Error> {
    if (1..=MAX_PULSE_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(Error::Invalid(format!(
            "ms: must be a whole number from 1 to {MAX_PULSE_MS}"
        )))
    }
}

/// A pin as the API shows it (`Pin` of docs/api.md, plus `error` when it failed).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PinState {
    pub name: String,
    /// The chip's kernel name once found, else the configured chip.
    pub chip: String,
    /// The line offset; `null` only when a line name could not be resolved.
    pub line: Option<u32>,
    pub direction: Direction,
    pub active_low: bool,
    pub bias: Bias,
    pub edge: Edge,
    /// Logical value; `null` when it cannot be read.
    pub value: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An entry of the events ring: the bus event plus when pistack published it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EdgeRecord {
    #[serde(flatten)]
    pub event: GpioEvent,
    /// CLOCK_MONOTONIC ns when pistack published the edge; minus `timestamp_ns` it
    /// is pistack's latency (including the debounce wait).
    pub seen_ns: u64,
}

struct Pin {
    /// Stable for the pin's life: what the watcher names it by.
    id: usize,
    name: String,
    config: PinConfig,
    chip: String,
    offset: Option<u32>,
    line: Option<Arc<dyn LineHandle>>,
    /// Why the pin does not work: set at start, or later by the watcher.
    error: Mutex<Option<String>>,
    /// Serialises writes (a pulse holds it for its whole length).
    op: Mutex<()>,
}

impl Pin {
    fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The held line, or 503 with the reason.
    fn line(&self) -> Result<&Arc<dyn LineHandle>, Error> {
        if let Some(e) = self.error() {
            return Err(Error::Unavailable(format!("pin {}: {e}", self.name)));
        }
        self.line
            .as_ref()
            .ok_or_else(|| Error::Unavailable(format!("pin {} is not available", self.name)))
    }
}

/// What the watcher thread shares with the HTTP threads.
struct Shared {
    /// By name. Swapped only by a reload; a request holds its pin's `Arc`.
    pins: RwLock<Vec<Arc<Pin>>>,
    ring: Ring<EdgeRecord>,
    bus: Arc<Bus>,
}

impl Shared {
    fn pins(&self) -> Vec<Arc<Pin>> {
        self.pins.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn by_id(&self, id: usize) -> Option<Arc<Pin>> {
        self.pins().into_iter().find(|p| p.id == id)
    }
}

impl watcher::Sink for Shared {
    fn edge(&self, pin: usize, a: Accepted) {
        let Some(p) = self.by_id(pin) else { return };
        let event = GpioEvent {
            pin: p.name.clone(),
            edge: Edge::to_level(a.value),
            value: a.value,
            timestamp_ns: Some(a.timestamp_ns),
        };
        let seen_ns = sys::monotonic_ns();
        self.bus.publish(Event::Gpio(event.clone()));
        self.ring.push(EdgeRecord { event, seen_ns });
    }

    fn broken(&self, pin: usize, reason: String) {
        if let Some(p) = self.by_id(pin) {
            log::error!("gpio: pin {}: {reason}", p.name);
            *p.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        }
    }
}

/// The edge thread and why it is missing, replaced together by a reload.
#[derive(Default)]
struct Watching {
    watcher: Option<watcher::Watcher>,
    /// Set when the watcher could not start.
    error: Option<String>,
}

impl Watching {
    fn start(watches: Vec<watcher::Watch>, shared: &Arc<Shared>) -> Watching {
        if watches.is_empty() {
            return Watching::default();
        }
        match watcher::Watcher::spawn(watches, shared.clone()) {
            Ok(w) => Watching {
                watcher: Some(w),
                error: None,
            },
            Err(e) => {
                log::error!("gpio: cannot start the edge watcher: {e}");
                Watching {
                    watcher: None,
                    error: Some(format!("the edge watcher could not start: {e}")),
                }
            }
        }
    }
}

pub struct Gpio {
    shared: Arc<Shared>,
    backend: Arc<dyn Backend>,
    /// The configured backend: a reload cannot switch it.
    kind: BackendKind,
    /// The simulator, when it is the backend (for injecting input changes).
    sim: Option<Arc<sim::Sim>>,
    /// Held for a whole reload, so that two reloads do not interleave.
    watching: Mutex<Watching>,
    next_id: std::sync::atomic::AtomicUsize,
}

/// The watch of an input that reports edges, its debouncer started at the
/// level read now; `None` for other pins.
fn watch_of(
    id: usize,
    pc: &PinConfig,
    handle: &Arc<dyn LineHandle>,
) -> Result<Option<watcher::Watch>, String> {
    if pc.direction != Direction::In || pc.edge == Edge::None {
        return Ok(None);
    }
    let initial = handle.get()?;
    Ok(Some(watcher::Watch {
        pin: id,
        handle: handle.clone(),
        debouncer: Debouncer::new(pc.debounce_ms, initial),
        edge: pc.edge,
    }))
}

/// Request one pin's line; the pin keeps the reason when that fails. An input
/// that watches edges comes with its watch, started at the level read now.
fn request_pin(
    id: usize,
    name: &str,
    pc: &PinConfig,
    backend: &dyn Backend,
) -> (Pin, Option<watcher::Watch>) {
    let req = LineRequest {
        chip: &pc.chip,
        line: &pc.line,
        direction: pc.direction,
        active_low: pc.active_low,
        bias: pc.bias,
        initial: pc.initial,
        edges: pc.direction == Direction::In && pc.edge != Edge::None,
    };
    let mut pin = Pin {
        id,
        name: name.to_string(),
        config: pc.clone(),
        chip: pc.chip.clone(),
        offset: match pc.line {
            LineRef::Offset(o) => Some(o),
            LineRef::Name(_) => None,
        },
        line: None,
        error: Mutex::new(None),
        op: Mutex::new(()),
    };
    let (place, handle) = match backend.request(&req) {
        Ok((place, handle)) => (place, Arc::<dyn LineHandle>::from(handle)),
        Err(e) => {
            log::error!("gpio: pin {name}: {}", e.reason);
            pin.chip = e.place.chip.unwrap_or(pin.chip);
            pin.offset = e.place.offset.or(pin.offset);
            *pin.error.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(e.reason.to_string());
            return (pin, None);
        }
    };
    pin.chip = place.chip.unwrap_or(pin.chip);
    pin.offset = place.offset.or(pin.offset);
    log::info!(
        "gpio: pin {name} is line {} of {} ({}, {})",
        pin.offset.unwrap_or_default(),
        pin.chip,
        pc.direction.as_str(),
        backend.kind()
    );
    pin.line = Some(handle.clone());
    match watch_of(id, pc, &handle) {
        Ok(watch) => (pin, watch),
        Err(e) => {
            *pin.error.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(e);
            (pin, None)
        }
    }
}

/// Longest a reload waits for requests still using a released pin (a pulse).
const RELEASE_WAIT: Duration = Duration::from_millis(MAX_PULSE_MS + 1000);

/// Drop the core's hold on a released pin once no request uses it, so that its
/// line is free (bounded: a pin still in use after [`RELEASE_WAIT`] is let go
/// and its line freed when that request ends).
fn release(pin: Arc<Pin>) {
    let deadline = Instant::now() + RELEASE_WAIT;
    while Arc::strong_count(&pin) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    log::info!("gpio: pin {} released", pin.name);
}

impl Gpio {
    /// Open the configured backend and request every pin. Never fails as a whole:
    /// each pin that cannot be had keeps its reason.
    pub fn open(config: &GpioConfig, bus: Arc<Bus>) -> Arc<Gpio> {
        let gpio = match config.backend {
            BackendKind::Cdev => {
                Gpio::with_backend(config, bus, Arc::new(cdev::Cdev::default()), None)
            }
            BackendKind::Sim => {
                let sim = Arc::new(sim::Sim::new());
                Gpio::with_backend(config, bus, sim.clone(), Some(sim))
            }
        };
        Arc::new(gpio)
    }

    /// Request the pins of `config` from `backend` and start watching inputs.
    pub fn with_backend(
        config: &GpioConfig,
        bus: Arc<Bus>,
        backend: Arc<dyn Backend>,
        sim: Option<Arc<sim::Sim>>,
    ) -> Gpio {
        let mut pins = Vec::with_capacity(config.pins.len());
        let mut watches = Vec::new();
        for (name, pc) in &config.pins {
            let (pin, watch) = request_pin(pins.len(), name, pc, backend.as_ref());
            pins.push(Arc::new(pin));
            watches.extend(watch);
        }
        let next_id = std::sync::atomic::AtomicUsize::new(pins.len());
        let shared = Arc::new(Shared {
            pins: RwLock::new(pins),
            ring: Ring::new(RING_CAPACITY),
            bus,
        });
        let watching = Mutex::new(Watching::start(watches, &shared));
        Gpio {
            shared,
            backend,
            kind: config.backend,
            sim,
            watching,
            next_id,
        }
    }

    /// Apply a new configuration's pins (see [`reload`]): stop the watcher and
    /// take back its watches, release the changed and removed pins, request the
    /// changed and added ones, start the watcher again. Unchanged pins keep
    /// their line request, level, debouncer and history. While it runs, a
    /// changed pin is briefly unknown (404). A pin that cannot be had keeps its
    /// reason, as at start; only a change of backend is refused.
    pub fn reload(&self, new: &GpioConfig) -> Result<reload::PinChanges, Error> {
        self.check_reload(new)?;
        let mut watching = self.watching.lock().unwrap_or_else(|p| p.into_inner());
        let current: BTreeMap<String, PinConfig> = (self.shared.pins().iter())
            .map(|p| (p.name.clone(), p.config.clone()))
            .collect();
        let changes = reload::diff(&current, &new.pins);
        if changes.is_empty() {
            return Ok(changes);
        }
        let returned = watching.watcher.take().and_then(watcher::Watcher::stop);
        let (kept, released): (Vec<_>, Vec<_>) = {
            let mut pins = self.shared.pins.write().unwrap_or_else(|p| p.into_inner());
            let (kept, released) = std::mem::take(&mut *pins)
                .into_iter()
                .partition(|p| changes.keeps(&p.name));
            *pins = Vec::clone(&kept);
            (kept, released)
        };
        let mut watches = self.kept_watches(returned, &kept);
        released.into_iter().for_each(release);
        let mut fresh = Vec::new();
        for name in changes.added.iter().chain(&changes.changed) {
            let Some(pc) = new.pins.get(name) else {
                continue;
            };
            let id = self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (pin, watch) = request_pin(id, name, pc, self.backend.as_ref());
            fresh.push(Arc::new(pin));
            watches.extend(watch);
        }
        {
            let mut pins = self.shared.pins.write().unwrap_or_else(|p| p.into_inner());
            pins.extend(fresh);
            pins.sort_by(|a, b| a.name.cmp(&b.name));
        }
        *watching = Watching::start(watches, &self.shared);
        log::info!(
            "gpio: reloaded; added {:?}, changed {:?}, removed {:?}",
            changes.added,
            changes.changed,
            changes.removed
        );
        Ok(changes)
    }

    /// Whether [`Gpio::reload`] can apply `new`: not when it switches the backend.
    pub fn check_reload(&self, new: &GpioConfig) -> Result<(), Error> {
        if new.backend == self.kind {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "gpio.backend: the daemon runs the {} backend; changing it needs a restart",
            self.backend.kind()
        )))
    }

    /// The watches of the kept pins: those the stopped watcher gave back, or
    /// (if it had died) new ones for the kept inputs that still work.
    fn kept_watches(
        &self,
        returned: Option<Vec<watcher::Watch>>,
        kept: &[Arc<Pin>],
    ) -> Vec<watcher::Watch> {
        let is_kept = |id: usize| kept.iter().any(|p| p.id == id);
        match returned {
            Some(watches) => watches.into_iter().filter(|w| is_kept(w.pin)).collect(),
            None => kept
                .iter()
                .filter(|p| p.error().is_none())
                .filter_map(|p| watch_of(p.id, &p.config, p.line.as_ref()?).ok()?)
                .collect(),
        }
    }

    fn pin(&self, name: &str) -> Result<Arc<Pin>, Error> {
        self.shared
            .pins()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NoSuchPin(format!("no pin named \"{name}\"")))
    }

    fn state(&self, pin: &Pin, value: Option<u8>, error: Option<String>) -> PinState {
        PinState {
            name: pin.name.clone(),
            chip: pin.chip.clone(),
            line: pin.offset,
            direction: pin.config.direction,
            active_low: pin.config.active_low,
            bias: pin.config.bias,
            edge: pin.config.edge,
            value,
            error,
        }
    }

    /// Every pin with its value read now; a failed pin has `value: null` and `error`.
    pub fn list(&self) -> Vec<PinState> {
        self.shared
            .pins()
            .iter()
            .map(
                |p| match p.line().and_then(|l| l.get().map_err(Error::Unavailable)) {
                    Ok(v) => self.state(p, Some(v), None),
                    Err(e) => self.state(p, None, Some(p.error().unwrap_or_else(|| e.to_string()))),
                },
            )
            .collect()
    }

    /// One pin, its value read now.
    pub fn read(&self, name: &str) -> Result<PinState, Error> {
        let pin = self.pin(name)?;
        let value = pin
            .line()?
            .get()
            .map_err(|e| Error::Unavailable(format!("pin {name}: {e}")))?;
        Ok(self.state(&pin, Some(value), None))
    }

    fn output(&self, name: &str) -> Result<(Arc<Pin>, Arc<dyn LineHandle>), Error> {
        let pin = self.pin(name)?;
        let line = pin.line()?.clone();
        if pin.config.direction != Direction::Out {
            return Err(Error::Conflict(format!(
                "pin {name} is an input; only outputs can be written"
            )));
        }
        Ok((pin, line))
    }

    fn set(pin: &Pin, line: &Arc<dyn LineHandle>, value: u8) -> Result<(), Error> {
        line.set(value)
            .map_err(|e| Error::Unavailable(format!("pin {}: {e}", pin.name)))
    }

    /// Drive an output to a logical value.
    pub fn write(&self, name: &str, value: u8) -> Result<PinState, Error> {
        let (pin, line) = self.output(name)?;
        let _op = pin.op.lock().unwrap_or_else(|p| p.into_inner());
        Gpio::set(&pin, &line, value)?;
        drop(_op);
        self.read(name)
    }

    /// Invert an output.
    pub fn toggle(&self, name: &str) -> Result<PinState, Error> {
        let (pin, line) = self.output(name)?;
        let _op = pin.op.lock().unwrap_or_else(|p| p.into_inner());
        let now = line
            .get()
            .map_err(|e| Error::Unavailable(format!("pin {name}: {e}")))?;
        Gpio::set(&pin, &line, 1 - now.min(1))?;
        drop(_op);
        self.read(name)
    }

    /// Drive an output to `value` for `ms`, then to the opposite value. Other
    /// writes to the pin wait until the pulse is over.
    pub fn pulse(&self, name: &str, value: u8, ms: u64) -> Result<PinState, Error> {
        let length = pulse_length(ms)?;
        let (pin, line) = self.output(name)?;
        let _op = pin.op.lock().unwrap_or_else(|p| p.into_inner());
        let value = value.min(1);
        Gpio::set(&pin, &line, value)?;
        std::thread::sleep(length);
        Gpio::set(&pin, &line, 1 - value)?;
        // Read while still holding the pin: the next pulse may start at once.
        let after = self.read(name);
        drop(_op);
        after
    }

    /// Edges with `seq > after`, oldest first.
    pub fn events(&self, after: u64, limit: usize) -> Vec<Numbered<EdgeRecord>> {
        self.shared.ring.after(after, limit)
    }

    /// Every chip and line, as `gpioinfo` shows them.
    pub fn chips(&self) -> Result<Vec<ChipInfo>, Error> {
        self.backend.chips().map_err(Error::Unavailable)
    }

    /// "cdev" or "sim".
    pub fn backend_kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Sim backend only: set the physical level an outside device puts on the
    /// pin's line (as gpio-sim's sysfs `pull` does).
    pub fn sim_input(&self, name: &str, level: u8) -> Result<PinState, Error> {
        let sim = self
            .sim
            .as_ref()
            .ok_or_else(|| Error::Conflict("only the sim backend can simulate inputs".into()))?;
        let pin = self.pin(name)?;
        pin.line()?;
        let offset = pin
            .offset
            .ok_or_else(|| Error::Unavailable(format!("pin {name} has no line")))?;
        sim.set_input(&pin.chip, offset, level)
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        self.read(name)
    }

    /// Prometheus lines: edges seen, each pin's value and whether it works.
    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        use crate::metrics::Kind;
        out.family(
            "pistack_gpio_events_total",
            Kind::Counter,
            "Input edges seen (after debounce) since start.",
        )
        .sample(&[], self.shared.ring.total());
        let pins = self.list();
        let mut f = out.family(
            "pistack_gpio_value",
            Kind::Gauge,
            "Each readable pin's logical value.",
        );
        for pin in &pins {
            if let Some(v) = pin.value {
                f.sample(&[("pin", &pin.name)], v);
            }
        }
        let mut f = out.family(
            "pistack_gpio_up",
            Kind::Gauge,
            "1 while a pin works, 0 after an error.",
        );
        for pin in &pins {
            f.sample(&[("pin", &pin.name)], u8::from(pin.error.is_none()));
        }
    }

    /// `Ok` when every pin works and the watcher runs, else the reasons.
    pub fn health(&self) -> Result<(), String> {
        let mut problems: Vec<String> = self
            .shared
            .pins()
            .iter()
            .filter_map(|p| p.error().map(|e| format!("pin {}: {e}", p.name)))
            .collect();
        // While a reload runs, the watcher is being replaced: not a problem.
        if let Ok(watching) = self.watching.try_lock() {
            if let Some(e) = &watching.error {
                problems.push(e.clone());
            } else if watching.watcher.as_ref().is_some_and(|w| !w.is_alive()) {
                problems.push("the edge watcher thread has stopped".into());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Instant;

    fn pin(json: &str) -> PinConfig {
        serde_json::from_str(json).unwrap()
    }

    fn setup(pins: &[(&str, &str)]) -> (Gpio, Arc<sim::Sim>, std::sync::mpsc::Receiver<Event>) {
        let config = GpioConfig {
            backend: BackendKind::Sim,
            pins: pins
                .iter()
                .map(|(n, j)| (n.to_string(), pin(j)))
                .collect::<BTreeMap<_, _>>(),
        };
        let bus = Arc::new(Bus::new());
        let rx = bus.subscribe(100);
        let sim = Arc::new(sim::Sim::new());
        let gpio = Gpio::with_backend(&config, bus, sim.clone(), Some(sim.clone()));
        (gpio, sim, rx)
    }

    /// Every event up to and including the first that `last` picks, waiting up
    /// to 5 s for it: whatever came before it, wanted or not, is in the answer.
    fn events_until(g: &Gpio, last: impl Fn(&EdgeRecord) -> bool) -> Vec<Numbered<EdgeRecord>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ev = g.events(0, 100);
            if let Some(i) = ev.iter().position(|e| last(&e.event)) {
                return ev[..=i].to_vec();
            }
            assert!(Instant::now() < deadline, "no such event in {ev:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn outputs_write_toggle_pulse_and_keep_their_value() {
        let (g, sim, _rx) = setup(&[("LED", r#"{"line":17,"direction":"out","initial":1}"#)]);
        assert_eq!(g.read("LED").unwrap().value, Some(1));
        assert_eq!(sim.physical("gpiochip0", 17), Some(1));
        assert_eq!(g.write("LED", 0).unwrap().value, Some(0));
        assert_eq!(
            g.read("LED").unwrap().value,
            Some(0),
            "held: keeps its value"
        );
        assert_eq!(g.toggle("LED").unwrap().value, Some(1));
        let t = Instant::now();
        assert_eq!(
            g.pulse("LED", 1, 30).unwrap().value,
            Some(0),
            "ends at the opposite value"
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(matches!(g.pulse("LED", 1, 0), Err(Error::Invalid(_))));
        assert!(matches!(g.pulse("LED", 1, 10_001), Err(Error::Invalid(_))));
        assert!(matches!(g.read("NOPE"), Err(Error::NoSuchPin(_))));
    }

    #[test]
    fn inputs_refuse_writes_and_report_logical_edges() {
        let (g, _sim, rx) = setup(&[
            ("BTN", r#"{"line":27,"edge":"both","bias":"pull-up"}"#),
            (
                "INV",
                r#"{"chip":"pistack-sim-aux","line":2,"edge":"both","bias":"pull-down","active_low":true}"#,
            ),
        ]);
        assert!(matches!(g.write("BTN", 1), Err(Error::Conflict(_))));
        assert!(matches!(g.toggle("BTN"), Err(Error::Conflict(_))));
        assert_eq!(g.read("BTN").unwrap().value, Some(1));
        assert_eq!(
            g.read("INV").unwrap().value,
            Some(1),
            "pulled down + active low"
        );
        assert_eq!(
            g.read("INV").unwrap().chip,
            "gpiochip1",
            "chip by label, shown by name"
        );
        g.sim_input("BTN", 0).unwrap();
        g.sim_input("INV", 1).unwrap();
        let ev = events_until(&g, |e| e.event.pin == "INV");
        let got: Vec<_> = ev
            .iter()
            .map(|e| {
                (
                    e.event.event.pin.as_str(),
                    e.event.event.edge,
                    e.event.event.value,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("BTN", Edge::Falling, 0), ("INV", Edge::Falling, 0)]
        );
        assert!(ev[0].event.event.timestamp_ns.unwrap() <= ev[0].event.seen_ns);
        assert_eq!(ev[0].seq, 1);
        match rx.recv_timeout(Duration::from_secs(1)).unwrap() {
            Event::Gpio(e) => assert_eq!((e.pin.as_str(), e.edge), ("BTN", Edge::Falling)),
            other => panic!("{other:?}"),
        }
        assert!(g.health().is_ok());
    }

    #[test]
    fn failures_stay_with_their_pin() {
        let (g, sim, _rx) = setup(&[
            ("A_OK", r#"{"line":5,"direction":"out"}"#),
            ("B_SAME_LINE", r#"{"line":5}"#),
            ("C_NO_CHIP", r#"{"chip":"nope","line":1}"#),
            ("D_NO_NAME", r#"{"line":"GPIO99"}"#),
        ]);
        assert_eq!(g.read("A_OK").unwrap().value, Some(0));
        let list = g.list();
        assert_eq!(list.len(), 4);
        assert_eq!(list[0].error, None);
        assert_eq!(
            list[1].error.as_deref(),
            Some("line 5 of gpiochip0 is busy: held by \"pistack\" (EBUSY)")
        );
        assert_eq!(list[1].value, None);
        assert_eq!(
            list[2].error.as_deref(),
            Some(
                "chip \"nope\" not found by name, path or label \
                 (chips present: gpiochip0 [pistack-sim], gpiochip1 [pistack-sim-aux])"
            )
        );
        assert_eq!(list[2].chip, "nope");
        assert_eq!(list[3].line, None);
        match g.read("C_NO_CHIP") {
            Err(Error::Unavailable(m)) => {
                assert!(m.starts_with("pin C_NO_CHIP: chip \"nope\""), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            g.write("B_SAME_LINE", 1),
            Err(Error::Unavailable(_))
        ));
        let health = g.health().unwrap_err();
        assert!(
            health.contains("pin B_SAME_LINE") && health.contains("pin D_NO_NAME"),
            "{health}"
        );
        // The chips listing shows the held line as used by pistack.
        let chips = g.chips().unwrap();
        assert_eq!(chips[0].line_info[5].consumer.as_deref(), Some("pistack"));
        drop(g);
        // Dropping the core releases its lines.
        assert!(sim.hold("gpiochip0", 5, "other").is_ok());
    }

    #[test]
    fn a_reload_touches_only_the_pins_that_changed() {
        let (g, sim, _rx) = setup(&[
            ("KEEP", r#"{"line":27,"edge":"both","bias":"pull-up"}"#),
            ("LED", r#"{"line":17,"direction":"out"}"#),
            ("GONE", r#"{"line":5,"direction":"out"}"#),
        ]);
        g.write("LED", 1).unwrap();
        g.sim_input("KEEP", 0).unwrap();
        events_until(&g, |e| e.event.pin == "KEEP");
        let new = GpioConfig {
            backend: BackendKind::Sim,
            pins: [
                ("KEEP", r#"{"line":27,"edge":"both","bias":"pull-up"}"#),
                ("LED", r#"{"line":17,"direction":"out","active_low":true}"#),
                ("NEW", r#"{"line":6,"edge":"falling","bias":"pull-up"}"#),
            ]
            .iter()
            .map(|(n, j)| (n.to_string(), pin(j)))
            .collect(),
        };
        let c = g.reload(&new).unwrap();
        assert_eq!(
            (c.added, c.changed, c.removed),
            (
                vec!["NEW".to_string()],
                vec!["LED".to_string()],
                vec!["GONE".to_string()]
            )
        );
        let names: Vec<String> = g.list().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["KEEP", "LED", "NEW"]);
        // The kept input still reads the level set before, and is still watched;
        // its history is kept.
        assert_eq!(g.read("KEEP").unwrap().value, Some(0));
        assert_eq!(g.events(0, 10).len(), 1);
        g.sim_input("KEEP", 1).unwrap();
        // The added input is watched (its edge comes after KEEP's).
        g.sim_input("NEW", 0).unwrap();
        let ev = events_until(&g, |e| e.event.pin == "NEW");
        let pins: Vec<_> = ev.iter().map(|e| e.event.event.pin.as_str()).collect();
        assert_eq!(pins, ["KEEP", "KEEP", "NEW"]);
        // The changed output was requested again, active low, at initial 0.
        let led = g.read("LED").unwrap();
        assert!(led.active_low);
        assert_eq!(
            (led.value, sim.physical("gpiochip0", 17)),
            (Some(0), Some(1))
        );
        // The removed pin's line is free for others.
        assert!(matches!(g.read("GONE"), Err(Error::NoSuchPin(_))));
        assert!(sim.hold("gpiochip0", 5, "other").is_ok());
        assert!(g.health().is_ok());
        // Nothing changed: nothing done; another backend: refused.
        assert!(g.reload(&new).unwrap().is_empty());
        let cdev = GpioConfig {
            backend: BackendKind::Cdev,
            ..new
        };
        assert!(matches!(g.reload(&cdev), Err(Error::Invalid(_))));
    }

    #[test]
    fn debounced_input_reports_one_settled_edge() {
        let (g, _sim, _rx) = setup(&[(
            "BTN",
            r#"{"line":27,"edge":"falling","bias":"pull-up","debounce_ms":40}"#,
        )]);
        for level in [0, 1, 0, 1, 0] {
            g.sim_input("BTN", level).unwrap();
        }
        let ev = events_until(&g, |_| true);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event.event.edge, Edge::Falling);
        assert!(ev[0].event.seen_ns - ev[0].event.event.timestamp_ns.unwrap() >= 40_000_000);
        g.sim_input("BTN", 1).unwrap(); // rising: filtered out
                                        // Two windows later (the debouncer goes by edge timestamps), a press that
                                        // must be reported: anything the release made would come before it.
        std::thread::sleep(Duration::from_millis(80));
        let marker = sys::monotonic_ns();
        g.sim_input("BTN", 0).unwrap();
        let ev = events_until(&g, |e| e.event.timestamp_ns.is_some_and(|t| t >= marker));
        let edges: Vec<_> = ev.iter().map(|e| e.event.event.edge).collect();
        assert_eq!(edges, [Edge::Falling, Edge::Falling], "{ev:?}");
    }
}
