//! The seam between the GPIO core and a chip driver. Two implementations: `cdev`
//! (the kernel's character device, through gpio-cdev) and `sim` (in-process, for
//! laptops and tests). The core only requests lines, reads and writes them, and
//! reads edges from an fd it polls; so both backends feed the same watcher and
//! debounce code.

use super::config::{Bias, Direction, LineRef};
use serde::Serialize;
use std::fmt;
use std::os::fd::RawFd;

/// The consumer label pistack's lines carry (what `gpioinfo` shows).
pub const CONSUMER: &str = "pistack";

/// What to ask of one line. Values are logical: the backend applies `active_low`.
#[derive(Debug, Clone)]
pub struct LineRequest<'a> {
    /// `gpiochip0`, `/dev/gpiochip0` or a chip label.
    pub chip: &'a str,
    pub line: &'a LineRef,
    pub direction: Direction,
    pub active_low: bool,
    pub bias: Bias,
    /// Logical value of an output from the moment it is requested.
    pub initial: u8,
    /// Deliver both edges through [`LineHandle::event_fd`]. The core filters by the
    /// configured edge itself, because debounce has to see every edge.
    pub edges: bool,
}

/// Where a request landed (or got to before it failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The chip's kernel name (`gpiochip0`) once found.
    pub chip: Option<String>,
    pub offset: Option<u32>,
}

/// A request that failed: why, and how far resolving got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub place: Place,
    pub reason: LineError,
}

/// Why a line could not be had. Both backends refuse with these, so that a client
/// sees the same words whichever backend runs; the pin keeps the `Display` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// No chip by that path, kernel name or label. `known` lists the chips seen
    /// (name, label); `unreadable`, the first chip that could not be opened.
    NoChip {
        spec: String,
        known: Vec<(String, String)>,
        unreadable: Option<Box<LineError>>,
    },
    /// The daemon may not open the chip device: the fix is group gpio.
    PermissionDenied { path: String },
    /// The chip has fewer lines than the offset asks for.
    NoOffset {
        chip: String,
        lines: u32,
        offset: u32,
    },
    /// No line of the chip carries that name.
    NoName { chip: String, name: String },
    /// Another consumer holds the line (EBUSY); the kernel may say who.
    Busy {
        chip: String,
        offset: u32,
        consumer: Option<String>,
    },
    /// Anything else the system refused, in its words, with what was being done.
    System(String),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NoChip {
                spec,
                known,
                unreadable,
            } => {
                write!(f, "chip \"{spec}\" not found by name, path or label (")?;
                if known.is_empty() {
                    write!(f, "there are no GPIO chips)")?;
                } else {
                    let list: Vec<String> =
                        known.iter().map(|(n, l)| format!("{n} [{l}]")).collect();
                    write!(f, "chips present: {})", list.join(", "))?;
                }
                match unreadable {
                    Some(e) => write!(f, "; {e}"),
                    None => Ok(()),
                }
            }
            LineError::PermissionDenied { path } => write!(
                f,
                "cannot open {path}: permission denied; the GPIO chips belong to group gpio: \
                 add the daemon's user to it (sudo usermod -aG gpio USER, then start it again) \
                 or give the group the chips with a udev rule \
                 (SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\")"
            ),
            LineError::NoOffset {
                chip,
                lines,
                offset,
            } => write!(
                f,
                "{chip} has {lines} lines (0-{}); there is no line {offset}",
                lines.saturating_sub(1)
            ),
            LineError::NoName { chip, name } => write!(f, "{chip} has no line named \"{name}\""),
            LineError::Busy {
                chip,
                offset,
                consumer: Some(c),
            } => write!(
                f,
                "line {offset} of {chip} is busy: held by \"{c}\" (EBUSY)"
            ),
            LineError::Busy {
                chip,
                offset,
                consumer: None,
            } => write!(
                f,
                "line {offset} of {chip} is busy: held by another user (EBUSY)"
            ),
            LineError::System(m) => f.write_str(m),
        }
    }
}

/// A raw edge as the kernel (or the simulator) queued it, in logical terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEdge {
    /// CLOCK_MONOTONIC nanoseconds of the edge.
    pub timestamp_ns: u64,
    /// Logical level after the edge: 1 rising, 0 falling.
    pub level: u8,
}

/// One requested line, held until dropped.
pub trait LineHandle: Send + Sync {
    /// The logical value now.
    fn get(&self) -> Result<u8, String>;
    /// Drive an output to a logical value.
    fn set(&self, value: u8) -> Result<(), String>;
    /// A non-blocking fd that is readable when edges are queued (requests with `edges`).
    fn event_fd(&self) -> Option<RawFd>;
    /// Append the queued edges to `out` without blocking.
    fn read_edges(&self, out: &mut Vec<RawEdge>) -> Result<(), String>;
}

/// One line as `gpioinfo` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LineInfo {
    pub offset: u32,
    pub name: Option<String>,
    pub consumer: Option<String>,
    pub used: bool,
    /// "in" or "out".
    pub direction: Direction,
    pub active_low: bool,
    /// The bias the line was requested with ("as-is" when the kernel reports none).
    pub bias: Bias,
}

/// One chip as `gpiodetect` + `gpioinfo` show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChipInfo {
    pub name: String,
    pub path: String,
    pub label: String,
    pub lines: u32,
    pub line_info: Vec<LineInfo>,
}

pub trait Backend: Send + Sync {
    /// "cdev" or "sim".
    fn kind(&self) -> &'static str;
    /// Find the chip and line and request it; the line is held until the handle drops.
    fn request(&self, req: &LineRequest) -> Result<(Place, Box<dyn LineHandle>), RequestError>;
    /// Every chip with every line.
    fn chips(&self) -> Result<Vec<ChipInfo>, String>;
}

/// The offset of `line` on a chip of `lines` lines, by offset or by name;
/// `has_name(offset, name)` says whether a line carries that name. Both backends
/// resolve lines here, so that they accept and refuse the same references.
pub fn find_line(
    chip: &str,
    lines: u32,
    line: &LineRef,
    mut has_name: impl FnMut(u32, &str) -> bool,
) -> Result<u32, LineError> {
    match line {
        LineRef::Offset(o) if *o < lines => Ok(*o),
        LineRef::Offset(o) => Err(LineError::NoOffset {
            chip: chip.to_string(),
            lines,
            offset: *o,
        }),
        LineRef::Name(n) => (0..lines)
            .find(|&o| has_name(o, n))
            .ok_or_else(|| LineError::NoName {
                chip: chip.to_string(),
                name: n.clone(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_lists_the_chips_seen_and_the_unreadable_one() {
        let e = LineError::NoChip {
            spec: "lbl".into(),
            known: vec![("gpiochip0".into(), "pinctrl-bcm2835".into())],
            unreadable: Some(Box::new(LineError::PermissionDenied {
                path: "/dev/gpiochip1".into(),
            })),
        };
        let m = e.to_string();
        assert!(
            m.starts_with(
                "chip \"lbl\" not found by name, path or label \
                 (chips present: gpiochip0 [pinctrl-bcm2835]); \
                 cannot open /dev/gpiochip1: permission denied; the GPIO chips belong to group gpio"
            ),
            "{m}"
        );
        let busy = LineError::Busy {
            chip: "gpiochip0".into(),
            offset: 4,
            consumer: None,
        };
        assert_eq!(
            busy.to_string(),
            "line 4 of gpiochip0 is busy: held by another user (EBUSY)"
        );
    }
}
