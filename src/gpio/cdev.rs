//! The kernel's GPIO character device (`/dev/gpiochipN`, uAPI v1) through gpio-cdev.
//!
//! gpio-cdev 0.6 knows no bias flags; the kernel has accepted
//! `GPIOHANDLE_REQUEST_BIAS_*` in v1 line and event requests since Linux 5.5, so
//! they are passed as raw bits. Lines are requested with `ACTIVE_LOW` when the pin
//! is active-low, so the kernel itself reports logical values and logical edges.
//! Event fds are read directly (16-byte `struct gpioevent_data` records) because
//! gpio-cdev's reader wants `&mut` and the watcher shares the handle with the
//! HTTP threads.

use super::backend::{
    find_line, Backend, ChipInfo, LineError, LineHandle as Handle, LineInfo, LineRequest, Place,
    RawEdge, RequestError,
};
use super::config::{Bias, Direction};
use gpio_cdev::{
    Chip, EventRequestFlags, LineDirection, LineEventHandle, LineHandle, LineRequestFlags,
};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// From linux/gpio.h (uAPI v1), missing in gpio-cdev 0.6.
const GPIOHANDLE_REQUEST_BIAS_PULL_UP: u32 = 1 << 5;
const GPIOHANDLE_REQUEST_BIAS_PULL_DOWN: u32 = 1 << 6;
const GPIOHANDLE_REQUEST_BIAS_DISABLE: u32 = 1 << 7;
/// `GPIOEVENT_EVENT_RISING_EDGE`; 2 is falling.
const GPIOEVENT_EVENT_RISING_EDGE: u32 = 1;

/// `struct gpioevent_data`: its size is what the kernel writes per event (16 bytes
/// on 32- and 64-bit ABIs alike, the u64 forcing 8-byte alignment).
#[allow(dead_code)]
#[repr(C)]
struct GpioEventData {
    timestamp: u64,
    id: u32,
}
const EVENT_SIZE: usize = std::mem::size_of::<GpioEventData>();

/// The character devices of `dev_dir` (`/dev` in the product).
pub struct Cdev {
    dev_dir: PathBuf,
}

impl Default for Cdev {
    fn default() -> Self {
        Cdev {
            dev_dir: PathBuf::from("/dev"),
        }
    }
}

impl Cdev {
    /// `/dev/gpiochip*` in numeric order (gpiochip2 before gpiochip10).
    fn chip_paths(&self) -> Vec<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = match std::fs::read_dir(&self.dev_dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name.strip_prefix("gpiochip")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        found.sort();
        found.into_iter().map(|(_, p)| p).collect()
    }

    /// A chip by path, kernel name or label. Names are tried before labels, since
    /// a label is free text that could look like a name.
    fn find_chip(&self, spec: &str) -> Result<Chip, LineError> {
        if spec.contains('/') {
            return open_chip(Path::new(spec));
        }
        let direct = self.dev_dir.join(spec);
        if spec.starts_with("gpiochip") && direct.exists() {
            return open_chip(&direct);
        }
        let mut known = Vec::new();
        let mut first_error = None;
        for path in self.chip_paths() {
            match open_chip(&path) {
                Ok(chip) if chip.name() == spec || chip.label() == spec => return Ok(chip),
                Ok(chip) => known.push((chip.name().to_string(), chip.label().to_string())),
                Err(e) => {
                    first_error.get_or_insert_with(|| Box::new(e));
                }
            }
        }
        Err(LineError::NoChip {
            spec: spec.to_string(),
            known,
            unreadable: first_error,
        })
    }
}

/// Open a chip device; permission denied names the group and the fix.
fn open_chip(path: &Path) -> Result<Chip, LineError> {
    Chip::new(path).map_err(|e| open_failure(path, &e))
}

fn open_failure(path: &Path, e: &gpio_cdev::Error) -> LineError {
    let denied = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == ErrorKind::PermissionDenied);
    if denied {
        LineError::PermissionDenied {
            path: path.display().to_string(),
        }
    } else {
        LineError::System(format!("cannot open {}: {e}", path.display()))
    }
}

fn request_flags(req: &LineRequest) -> LineRequestFlags {
    let mut bits = match req.direction {
        Direction::In => LineRequestFlags::INPUT.bits(),
        Direction::Out => LineRequestFlags::OUTPUT.bits(),
    };
    if req.active_low {
        bits |= LineRequestFlags::ACTIVE_LOW.bits();
    }
    bits |= match req.bias {
        Bias::AsIs => 0,
        Bias::PullUp => GPIOHANDLE_REQUEST_BIAS_PULL_UP,
        Bias::PullDown => GPIOHANDLE_REQUEST_BIAS_PULL_DOWN,
        Bias::Disabled => GPIOHANDLE_REQUEST_BIAS_DISABLE,
    };
    LineRequestFlags::from_bits_retain(bits)
}

impl Backend for Cdev {
    fn kind(&self) -> &'static str {
        "cdev"
    }

    fn request(&self, req: &LineRequest) -> Result<(Place, Box<dyn Handle>), RequestError> {
        let mut place = Place::default();
        let fail = |place: &Place, reason: LineError| RequestError {
            place: place.clone(),
            reason,
        };
        let mut chip = self.find_chip(req.chip).map_err(|r| fail(&place, r))?;
        let chip_name = chip.name().to_string();
        place.chip = Some(chip_name.clone());
        let lines = chip.num_lines();
        let named = |offset: u32, name: &str| {
            chip.get_line(offset)
                .and_then(|l| l.info())
                .is_ok_and(|i| i.name() == Some(name))
        };
        let offset = find_line(&chip_name, lines, req.line, named).map_err(|r| fail(&place, r))?;
        place.offset = Some(offset);
        let line = chip.get_line(offset).map_err(|e| {
            let reason = format!("line {offset} of {chip_name}: {e}");
            fail(&place, LineError::System(reason))
        })?;
        let flags = request_flags(req);
        let result = if req.edges && req.direction == Direction::In {
            line.events(
                flags,
                EventRequestFlags::BOTH_EDGES,
                super::backend::CONSUMER,
            )
            .map(CdevLine::Events)
        } else {
            line.request(flags, req.initial, super::backend::CONSUMER)
                .map(CdevLine::Plain)
        };
        let handle = result.map_err(|e| {
            // The kernel says EBUSY; the line info says who holds it.
            let reason = match line.info() {
                Ok(info) if info.is_kernel() => LineError::Busy {
                    chip: chip_name.clone(),
                    offset,
                    consumer: info.consumer().map(str::to_string),
                },
                _ => {
                    let mut r = format!("cannot request line {offset} of {chip_name}: {e}");
                    if req.bias != Bias::AsIs && e.to_string().contains("EINVAL") {
                        r.push_str(" (bias needs Linux 5.5 or later)");
                    }
                    LineError::System(r)
                }
            };
            fail(&place, reason)
        })?;
        if let Some(fd) = handle.event_fd() {
            super::sys::set_nonblocking(fd).map_err(|e| {
                let reason = format!("cannot make the event fd non-blocking: {e}");
                fail(&place, LineError::System(reason))
            })?;
        }
        Ok((place, Box::new(handle)))
    }

    fn chips(&self) -> Result<Vec<ChipInfo>, String> {
        let mut chips = Vec::new();
        for path in self.chip_paths() {
            let chip = open_chip(&path).map_err(|e| e.to_string())?;
            // gpio-cdev keeps its chip fd to itself; the bias bits need one; the
            // chip just opened, so a failure here is no permission problem.
            let raw = std::fs::File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let mut line_info = Vec::with_capacity(chip.num_lines() as usize);
            for line in chip.lines() {
                let info = line
                    .info()
                    .map_err(|e| format!("line {} of {}: {e}", line.offset(), chip.name()))?;
                line_info.push(LineInfo {
                    offset: line.offset(),
                    name: info.name().map(str::to_string),
                    consumer: info.consumer().map(str::to_string),
                    used: info.is_kernel(),
                    direction: match info.direction() {
                        LineDirection::In => Direction::In,
                        LineDirection::Out => Direction::Out,
                    },
                    active_low: info.is_active_low(),
                    bias: bias_of(super::sys::line_flags(&raw, line.offset()).unwrap_or(0)),
                });
            }
            chips.push(ChipInfo {
                name: chip.name().to_string(),
                path: display(chip.path()),
                label: chip.label().to_string(),
                lines: chip.num_lines(),
                line_info,
            });
        }
        Ok(chips)
    }
}

/// The bias of `GPIOLINE_FLAG_BIAS_*` bits (the same values as the request flags).
fn bias_of(flags: u32) -> Bias {
    if flags & GPIOHANDLE_REQUEST_BIAS_PULL_UP != 0 {
        Bias::PullUp
    } else if flags & GPIOHANDLE_REQUEST_BIAS_PULL_DOWN != 0 {
        Bias::PullDown
    } else if flags & GPIOHANDLE_REQUEST_BIAS_DISABLE != 0 {
        Bias::Disabled
    } else {
        Bias::AsIs
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// A held line: a plain handle, or an event handle (which also reads values).
enum CdevLine {
    Plain(LineHandle),
    Events(LineEventHandle),
}

impl Handle for CdevLine {
    fn get(&self) -> Result<u8, String> {
        match self {
            CdevLine::Plain(h) => h.get_value(),
            CdevLine::Events(h) => h.get_value(),
        }
        .map_err(|e| format!("cannot read the line: {e}"))
    }

    fn set(&self, value: u8) -> Result<(), String> {
        match self {
            CdevLine::Plain(h) => h
                .set_value(value)
                .map_err(|e| format!("cannot set the line: {e}")),
            CdevLine::Events(_) => Err("the line is requested as an input".to_string()),
        }
    }

    fn event_fd(&self) -> Option<RawFd> {
        match self {
            CdevLine::Plain(_) => None,
            CdevLine::Events(h) => Some(h.as_raw_fd()),
        }
    }

    fn read_edges(&self, out: &mut Vec<RawEdge>) -> Result<(), String> {
        let CdevLine::Events(h) = self else {
            return Ok(());
        };
        let mut buf = [0u8; EVENT_SIZE * 16];
        loop {
            // `Read for &File`: the kernel hands out whole records, as many as fit.
            let mut file = h.file();
            let n = match file.read(&mut buf) {
                Ok(0) => return Err("the event fd was closed".to_string()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read edges: {e}")),
            };
            for rec in buf[..n].chunks_exact(EVENT_SIZE) {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&rec[0..8]);
                let mut id = [0u8; 4];
                id.copy_from_slice(&rec[8..12]);
                out.push(RawEdge {
                    timestamp_ns: u64::from_ne_bytes(ts),
                    level: u8::from(u32::from_ne_bytes(id) == GPIOEVENT_EVENT_RISING_EDGE),
                });
            }
            if n < buf.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::LineRef;
    use super::*;

    #[test]
    fn bias_and_active_low_become_v1_flag_bits() {
        let line = LineRef::Offset(0);
        let mut r = LineRequest {
            chip: "gpiochip0",
            line: &line,
            direction: Direction::In,
            active_low: true,
            bias: Bias::PullUp,
            initial: 0,
            edges: true,
        };
        assert_eq!(request_flags(&r).bits(), 1 | 4 | 32);
        r.direction = Direction::Out;
        r.active_low = false;
        r.bias = Bias::PullDown;
        assert_eq!(request_flags(&r).bits(), 2 | 64);
        r.bias = Bias::Disabled;
        assert_eq!(request_flags(&r).bits(), 2 | 128);
        assert_eq!(EVENT_SIZE, 16);
    }

    #[test]
    fn missing_chip_is_an_error_not_a_panic() {
        let c = Cdev {
            dev_dir: std::env::temp_dir().join("pistack-no-such-dev-dir"),
        };
        let line = LineRef::Offset(0);
        let r = LineRequest {
            chip: "my-label",
            line: &line,
            direction: Direction::In,
            active_low: false,
            bias: Bias::AsIs,
            initial: 0,
            edges: false,
        };
        let e = c.request(&r).err().unwrap();
        let reason = e.reason.to_string();
        assert!(reason.contains("chip \"my-label\" not found"), "{reason}");
        assert!(reason.ends_with("(there are no GPIO chips)"), "{reason}");
        assert!(c.chips().unwrap().is_empty());
    }

    #[test]
    fn permission_denied_names_the_group_and_the_fix() {
        let path = Path::new("/dev/gpiochip0");
        let denied = gpio_cdev::Error::from(std::io::Error::from(ErrorKind::PermissionDenied));
        let m = open_failure(path, &denied).to_string();
        assert!(
            m.starts_with("cannot open /dev/gpiochip0: permission denied;"),
            "{m}"
        );
        assert!(
            m.contains("group gpio") && m.contains("usermod -aG gpio"),
            "{m}"
        );
        assert!(m.contains("udev rule"), "{m}");
        let other = gpio_cdev::Error::from(std::io::Error::from(ErrorKind::NotFound));
        assert!(!open_failure(path, &other)
            .to_string()
            .contains("group gpio"));
    }
}
