//! An in-process GPIO chip with the semantics of the kernel's `gpio-sim`, for
//! `make run` on a laptop and for tests without a kernel.
//!
//! Like gpio-sim, each line has a *pull*: the level an input sees. Requesting a
//! line with a bias sets it (pull-up: 1, pull-down: 0); [`Sim::set_input`] sets it
//! as an outside device would (gpio-sim's sysfs `pull`). An output drives its own
//! level. A line is held by one consumer at a time; a second request is refused as
//! the kernel refuses it (EBUSY). Edges of an input requested with `edges` are
//! queued with a CLOCK_MONOTONIC timestamp and signalled on an eventfd, so the
//! watcher polls simulated lines exactly as it polls kernel ones.

use super::backend::{
    find_line, Backend, ChipInfo, LineError, LineHandle, LineInfo, LineRequest, Place, RawEdge,
    RequestError,
};
use super::config::{Bias, Direction};
use super::sys::{monotonic_ns, EventFd};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// Label of the simulated main chip (`gpiochip0`, 54 lines named `GPIO0`..`GPIO53`
/// like the Pi's `pinctrl-bcm2835`).
pub const MAIN_LABEL: &str = "pistack-sim";
/// Label of a second, smaller chip (`gpiochip1`, 8 unnamed lines), so that lookup
/// by name and by label can be told apart.
pub const AUX_LABEL: &str = "pistack-sim-aux";

/// Edges the kernel queues per line (uAPI v1 `lineevent_state.events`).
const KERNEL_QUEUE: usize = 16;

pub struct Sim {
    state: Arc<Mutex<State>>,
}

struct State {
    chips: Vec<Chip>,
    next_generation: u64,
}

struct Chip {
    name: String,
    label: String,
    lines: Vec<Line>,
}

#[derive(Default)]
struct Line {
    name: Option<String>,
    consumer: Option<String>,
    direction: Direction,
    active_low: bool,
    bias: Bias,
    /// What an input sees (physical level).
    pull: u8,
    /// What an output drives (physical level).
    output: u8,
    events: Option<Arc<EdgeQueue>>,
    /// Which request holds the line, so a stale handle cannot release a newer one.
    generation: u64,
}

impl Line {
    fn physical(&self) -> u8 {
        if self.consumer.is_some() && self.direction == Direction::Out {
            self.output
        } else {
            self.pull
        }
    }
}

struct EdgeQueue {
    fd: EventFd,
    edges: Mutex<VecDeque<RawEdge>>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

impl Sim {
    /// The default bench: `gpiochip0` [`MAIN_LABEL`] and `gpiochip1` [`AUX_LABEL`].
    pub fn new() -> Sim {
        let main: Vec<Option<String>> = (0..54).map(|i| Some(format!("GPIO{i}"))).collect();
        Sim::with_chips(vec![
            (MAIN_LABEL.to_string(), main),
            (AUX_LABEL.to_string(), vec![None; 8]),
        ])
    }

    /// Chips `gpiochip0`, `gpiochip1`, ... with these labels and line names.
    pub fn with_chips(chips: Vec<(String, Vec<Option<String>>)>) -> Sim {
        let chips = chips
            .into_iter()
            .enumerate()
            .map(|(i, (label, names))| Chip {
                name: format!("gpiochip{i}"),
                label,
                lines: names
                    .into_iter()
                    .map(|name| Line {
                        name,
                        ..Line::default()
                    })
                    .collect(),
            })
            .collect();
        Sim {
            state: Arc::new(Mutex::new(State {
                chips,
                next_generation: 1,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drive a line from outside, as gpio-sim's sysfs `pull` does: `level` is the
    /// physical level. An input being watched sees an edge if its level changes.
    pub fn set_input(&self, chip: &str, offset: u32, level: u8) -> Result<(), LineError> {
        let mut state = self.lock();
        let (line, _) = line_mut(&mut state, chip, offset)?;
        let level = u8::from(level != 0);
        let before = line.physical();
        line.pull = level;
        let after = line.physical();
        if before != after {
            if let Some(q) = &line.events {
                let edge = RawEdge {
                    timestamp_ns: monotonic_ns(),
                    level: after ^ u8::from(line.active_low),
                };
                let mut edges = q.edges.lock().unwrap_or_else(|p| p.into_inner());
                // As the kernel's v1 queue: 16 edges, newer ones are dropped.
                if edges.len() < KERNEL_QUEUE {
                    edges.push_back(edge);
                }
                q.fd.signal();
            }
        }
        Ok(())
    }

    /// Hold a line for another consumer, as another process would (tests of EBUSY).
    #[cfg(test)]
    pub fn hold(&self, chip: &str, offset: u32, consumer: &str) -> Result<(), LineError> {
        let mut state = self.lock();
        let (line, chip_name) = line_mut(&mut state, chip, offset)?;
        if let Some(c) = &line.consumer {
            return Err(busy(chip_name, offset, c));
        }
        line.consumer = Some(consumer.to_string());
        Ok(())
    }

    /// The physical level at a line: what an output drives, else its pull.
    #[cfg(test)]
    pub fn physical(&self, chip: &str, offset: u32) -> Option<u8> {
        let state = self.lock();
        let (ci, _) = find_chip(&state, chip).ok()?;
        state.chips[ci]
            .lines
            .get(offset as usize)
            .map(Line::physical)
    }
}

fn busy(chip: String, offset: u32, consumer: &str) -> LineError {
    LineError::Busy {
        chip,
        offset,
        consumer: Some(consumer.to_string()),
    }
}

/// A line of a chip named by `spec`, with the chip's kernel name for messages.
fn line_mut<'a>(
    state: &'a mut State,
    spec: &str,
    offset: u32,
) -> Result<(&'a mut Line, String), LineError> {
    let (ci, chip_name) = find_chip(state, spec)?;
    let lines = &mut state.chips[ci].lines;
    let n = lines.len() as u32;
    match lines.get_mut(offset as usize) {
        Some(line) => Ok((line, chip_name)),
        None => Err(LineError::NoOffset {
            chip: chip_name,
            lines: n,
            offset,
        }),
    }
}

/// A chip by path (`/dev/gpiochip0`), name or label: index and the name it has.
fn find_chip(state: &State, spec: &str) -> Result<(usize, String), LineError> {
    let by = |f: &dyn Fn(&Chip) -> bool| state.chips.iter().position(f);
    let found = if let Some(name) = spec.strip_prefix("/dev/") {
        by(&|c| c.name == name)
    } else {
        by(&|c| c.name == spec).or_else(|| by(&|c| c.label == spec))
    };
    match found {
        Some(i) => Ok((i, state.chips[i].name.clone())),
        None => {
            let known: Vec<(String, String)> = state
                .chips
                .iter()
                .map(|c| (c.name.clone(), c.label.clone()))
                .collect();
            Err(LineError::NoChip {
                spec: spec.to_string(),
                known,
                unreadable: None,
            })
        }
    }
}

impl Backend for Sim {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn request(&self, req: &LineRequest) -> Result<(Place, Box<dyn LineHandle>), RequestError> {
        let mut place = Place::default();
        let mut state = self.lock();
        let fail = |place: &Place, reason: LineError| RequestError {
            place: place.clone(),
            reason,
        };
        let (ci, chip_name) = find_chip(&state, req.chip).map_err(|r| fail(&place, r))?;
        place.chip = Some(chip_name.clone());
        let lines = &state.chips[ci].lines;
        let named = |offset: u32, name: &str| lines[offset as usize].name.as_deref() == Some(name);
        let offset = find_line(&chip_name, lines.len() as u32, req.line, named)
            .map_err(|r| fail(&place, r))?;
        place.offset = Some(offset);
        let generation = state.next_generation;
        state.next_generation += 1;
        let line = &mut state.chips[ci].lines[offset as usize];
        if let Some(c) = &line.consumer {
            return Err(fail(&place, busy(chip_name, offset, c)));
        }
        let events = if req.edges && req.direction == Direction::In {
            let fd = EventFd::new().map_err(|e| {
                let reason = format!("cannot create an eventfd: {e}");
                fail(&place, LineError::System(reason))
            })?;
            Some(Arc::new(EdgeQueue {
                fd,
                edges: Mutex::new(VecDeque::new()),
            }))
        } else {
            None
        };
        line.consumer = Some(super::backend::CONSUMER.to_string());
        line.direction = req.direction;
        line.active_low = req.active_low;
        line.bias = req.bias;
        line.generation = generation;
        line.events = events.clone();
        match req.bias {
            Bias::PullUp => line.pull = 1,
            Bias::PullDown => line.pull = 0,
            Bias::AsIs | Bias::Disabled => {}
        }
        if req.direction == Direction::Out {
            line.output = u8::from(req.initial != 0) ^ u8::from(req.active_low);
        }
        let handle = SimLine {
            state: self.state.clone(),
            chip: ci,
            offset,
            generation,
            events,
        };
        Ok((place, Box::new(handle)))
    }

    fn chips(&self) -> Result<Vec<ChipInfo>, String> {
        let state = self.lock();
        Ok(state
            .chips
            .iter()
            .map(|c| ChipInfo {
                name: c.name.clone(),
                path: format!("/dev/{}", c.name),
                label: c.label.clone(),
                lines: c.lines.len() as u32,
                line_info: c
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LineInfo {
                        offset: i as u32,
                        name: l.name.clone(),
                        consumer: l.consumer.clone(),
                        used: l.consumer.is_some(),
                        direction: l.direction,
                        active_low: l.consumer.is_some() && l.active_low,
                        bias: if l.consumer.is_some() {
                            l.bias
                        } else {
                            Bias::AsIs
                        },
                    })
                    .collect(),
            })
            .collect())
    }
}

/// A held simulated line; dropping it releases the line.
struct SimLine {
    state: Arc<Mutex<State>>,
    chip: usize,
    offset: u32,
    generation: u64,
    events: Option<Arc<EdgeQueue>>,
}

impl SimLine {
    fn with_line<T>(&self, f: impl FnOnce(&mut Line) -> Result<T, String>) -> Result<T, String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state
            .chips
            .get_mut(self.chip)
            .and_then(|c| c.lines.get_mut(self.offset as usize))
        {
            Some(line) if line.generation == self.generation && line.consumer.is_some() => f(line),
            _ => Err("the simulated line was released".to_string()),
        }
    }
}

impl LineHandle for SimLine {
    fn get(&self) -> Result<u8, String> {
        self.with_line(|l| Ok(l.physical() ^ u8::from(l.active_low)))
    }

    fn set(&self, value: u8) -> Result<(), String> {
        self.with_line(|l| {
            if l.direction != Direction::Out {
                return Err("the line is requested as an input (EPERM)".to_string());
            }
            l.output = u8::from(value != 0) ^ u8::from(l.active_low);
            Ok(())
        })
    }

    fn event_fd(&self) -> Option<RawFd> {
        self.events.as_ref().map(|q| q.fd.as_raw_fd())
    }

    fn read_edges(&self, out: &mut Vec<RawEdge>) -> Result<(), String> {
        if let Some(q) = &self.events {
            q.fd.drain();
            out.extend(q.edges.lock().unwrap_or_else(|p| p.into_inner()).drain(..));
        }
        Ok(())
    }
}

impl Drop for SimLine {
    fn drop(&mut self) {
        let _ = self.with_line(|l| {
            l.consumer = None;
            l.events = None;
            l.active_low = false;
            l.bias = Bias::AsIs;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::LineRef;
    use super::*;

    fn req<'a>(chip: &'a str, line: &'a LineRef, direction: Direction) -> LineRequest<'a> {
        LineRequest {
            chip,
            line,
            direction,
            active_low: false,
            bias: Bias::AsIs,
            initial: 0,
            edges: false,
        }
    }

    #[test]
    fn chips_are_found_by_name_path_and_label() {
        let sim = Sim::new();
        let l = LineRef::Offset(3);
        for (spec, want) in [
            ("gpiochip1", "gpiochip1"),
            ("/dev/gpiochip1", "gpiochip1"),
            (AUX_LABEL, "gpiochip1"),
        ] {
            let (place, _h) = sim.request(&req(spec, &l, Direction::In)).unwrap();
            assert_eq!(place.chip.as_deref(), Some(want), "{spec}");
        }
        let e = sim.request(&req("nope", &l, Direction::In)).err().unwrap();
        let reason = e.reason.to_string();
        assert!(reason.contains("chip \"nope\" not found"), "{reason}");
        assert!(reason.contains("gpiochip0 [pistack-sim]"), "{reason}");
        assert_eq!(e.place, Place::default());
    }

    #[test]
    fn lines_by_offset_and_name_and_their_errors() {
        let sim = Sim::new();
        let (p, _h) = sim
            .request(&req(
                "gpiochip0",
                &LineRef::Name("GPIO17".into()),
                Direction::In,
            ))
            .unwrap();
        assert_eq!(p.offset, Some(17));
        let e = sim
            .request(&req(
                "gpiochip0",
                &LineRef::Name("GPIO99".into()),
                Direction::In,
            ))
            .err()
            .unwrap();
        assert_eq!(
            e.reason.to_string(),
            "gpiochip0 has no line named \"GPIO99\""
        );
        assert_eq!(e.place.chip.as_deref(), Some("gpiochip0"));
        let e = sim
            .request(&req("gpiochip1", &LineRef::Offset(8), Direction::In))
            .err()
            .unwrap();
        assert_eq!(
            e.reason.to_string(),
            "gpiochip1 has 8 lines (0-7); there is no line 8"
        );
    }

    #[test]
    fn a_held_line_is_busy_until_released() {
        let sim = Sim::new();
        let l = LineRef::Offset(5);
        let h = sim.request(&req("gpiochip0", &l, Direction::Out)).unwrap();
        let e = sim
            .request(&req("gpiochip0", &l, Direction::In))
            .err()
            .unwrap();
        assert_eq!(
            e.reason.to_string(),
            "line 5 of gpiochip0 is busy: held by \"pistack\" (EBUSY)"
        );
        assert_eq!(e.place.offset, Some(5));
        drop(h);
        assert!(sim.request(&req("gpiochip0", &l, Direction::In)).is_ok());
        sim.hold("gpiochip0", 6, "gpioset").unwrap();
        let e = sim
            .request(&req("gpiochip0", &LineRef::Offset(6), Direction::In))
            .err()
            .unwrap();
        let reason = e.reason.to_string();
        assert!(reason.contains("held by \"gpioset\""), "{reason}");
    }

    #[test]
    fn outputs_keep_their_value_and_apply_active_low() {
        let sim = Sim::new();
        let l = LineRef::Offset(17);
        let mut r = req("gpiochip0", &l, Direction::Out);
        r.active_low = true;
        r.initial = 0;
        let (_, h) = sim.request(&r).unwrap();
        assert_eq!(h.get().unwrap(), 0);
        assert_eq!(
            sim.physical("gpiochip0", 17),
            Some(1),
            "logical 0 on active-low is high"
        );
        h.set(1).unwrap();
        assert_eq!(h.get().unwrap(), 1);
        assert_eq!(sim.physical("gpiochip0", 17), Some(0));
        // Driving an output from outside changes its pull, not what it drives.
        sim.set_input("gpiochip0", 17, 1).unwrap();
        assert_eq!(h.get().unwrap(), 1);
    }

    #[test]
    fn inputs_follow_bias_then_outside_changes_with_edges_on_the_fd() {
        let sim = Sim::new();
        let l = LineRef::Offset(27);
        let mut r = req("gpiochip0", &l, Direction::In);
        r.bias = Bias::PullUp;
        r.edges = true;
        let (_, h) = sim.request(&r).unwrap();
        assert_eq!(h.get().unwrap(), 1, "pull-up");
        assert!(h.set(0).unwrap_err().contains("input"));
        let fd = h.event_fd().unwrap();
        assert_eq!(
            super::super::sys::poll(&[fd], Some(0)).unwrap()[0],
            super::super::sys::Ready::No
        );
        sim.set_input("gpiochip0", 27, 0).unwrap();
        sim.set_input("gpiochip0", 27, 0).unwrap(); // no change, no edge
        sim.set_input("gpiochip0", 27, 1).unwrap();
        assert_eq!(
            super::super::sys::poll(&[fd], Some(0)).unwrap()[0],
            super::super::sys::Ready::Readable
        );
        let mut edges = Vec::new();
        h.read_edges(&mut edges).unwrap();
        assert_eq!(
            edges.iter().map(|e| e.level).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(edges[0].timestamp_ns <= edges[1].timestamp_ns);
        assert_eq!(
            super::super::sys::poll(&[fd], Some(0)).unwrap()[0],
            super::super::sys::Ready::No
        );
    }

    #[test]
    fn the_edge_queue_holds_16_like_the_kernels() {
        let sim = Sim::new();
        let l = LineRef::Offset(9);
        let mut r = req("gpiochip0", &l, Direction::In);
        r.edges = true;
        let (_, h) = sim.request(&r).unwrap();
        for i in 0..20 {
            sim.set_input("gpiochip0", 9, 1 - (i % 2)).unwrap();
        }
        let mut edges = Vec::new();
        h.read_edges(&mut edges).unwrap();
        assert_eq!(edges.len(), 16);
        assert_eq!(
            h.get().unwrap(),
            0,
            "the line is where it is, whatever was dropped"
        );
        assert_eq!(edges[15].level, 0);
    }

    #[test]
    fn active_low_inputs_report_logical_edges() {
        let sim = Sim::new();
        let l = LineRef::Offset(4);
        let mut r = req("gpiochip1", &l, Direction::In);
        r.active_low = true;
        r.bias = Bias::PullDown;
        r.edges = true;
        let (_, h) = sim.request(&r).unwrap();
        assert_eq!(h.get().unwrap(), 1, "pulled down, active low: logical 1");
        sim.set_input(AUX_LABEL, 4, 1).unwrap();
        let mut edges = Vec::new();
        h.read_edges(&mut edges).unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(
            edges[0].level, 0,
            "a physical rising edge is a logical falling one"
        );
    }

    #[test]
    fn chips_listing_shows_holders() {
        let sim = Sim::new();
        let l = LineRef::Offset(2);
        let mut r = req("gpiochip1", &l, Direction::Out);
        r.active_low = true;
        let _h = sim.request(&r).unwrap();
        let chips = sim.chips().unwrap();
        assert_eq!(chips.len(), 2);
        assert_eq!(chips[0].line_info[17].name.as_deref(), Some("GPIO17"));
        let li = &chips[1].line_info[2];
        assert_eq!(
            li,
            &LineInfo {
                offset: 2,
                name: None,
                consumer: Some("pistack".into()),
                used: true,
                direction: Direction::Out,
                active_low: true,
                bias: Bias::AsIs,
            }
        );
        assert!(!chips[1].line_info[3].used);
    }
}
