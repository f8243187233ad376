//! The seam between the GPIO core and a chip driver. Two implementations: `cdev`
//! (the kernel's character device, through gpio-cdev) and `sim` (in-process, for
//! laptops and tests). The core only requests lines, reads and writes them, and
//! reads edges from an fd it polls; so both backends feed the same watcher and
//! debounce code.

use super::config::{Bias, Direction, LineRef};
use serde::Serialize;
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
    pub reason: String,
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

/// The message for a line someone else holds; both backends use it, so that a
/// client sees the same words whichever backend runs.
pub fn busy_reason(chip: &str, offset: u32, consumer: Option<&str>) -> String {
    match consumer {
        Some(c) => format!("line {offset} of {chip} is busy: held by \"{c}\" (EBUSY)"),
        None => format!("line {offset} of {chip} is busy: held by another user (EBUSY)"),
    }
}

/// The offset of `line` on a chip of `lines` lines, by offset or by name;
/// `has_name(offset, name)` says whether a line carries that name. Both backends
/// resolve lines here, so that they accept and refuse the same references.
pub fn find_line(
    chip: &str,
    lines: u32,
    line: &LineRef,
    mut has_name: impl FnMut(u32, &str) -> bool,
) -> Result<u32, String> {
    match line {
        LineRef::Offset(o) if *o < lines => Ok(*o),
        LineRef::Offset(o) => Err(no_offset_reason(chip, lines, *o)),
        LineRef::Name(n) => (0..lines)
            .find(|&o| has_name(o, n))
            .ok_or_else(|| no_name_reason(chip, n)),
    }
}

/// The message for a line offset the chip does not have.
pub fn no_offset_reason(chip: &str, lines: u32, offset: u32) -> String {
    format!(
        "{chip} has {lines} lines (0-{}); there is no line {offset}",
        lines.saturating_sub(1)
    )
}

/// The message for a line name the chip does not have.
fn no_name_reason(chip: &str, name: &str) -> String {
    format!("{chip} has no line named \"{name}\"")
}

/// The message for a chip device the daemon may not open: who may, and the fix.
pub fn permission_reason(path: &str) -> String {
    format!(
        "cannot open {path}: permission denied; the GPIO chips belong to group gpio: \
         add the daemon's user to it (sudo usermod -aG gpio USER, then start it again) \
         or give the group the chips with a udev rule \
         (SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\")"
    )
}

/// The message for a chip that was not found, listing the chips that were.
pub fn no_chip_reason(spec: &str, known: &[(String, String)]) -> String {
    let known = if known.is_empty() {
        "there are no GPIO chips".to_string()
    } else {
        let list: Vec<String> = known.iter().map(|(n, l)| format!("{n} [{l}]")).collect();
        format!("chips present: {}", list.join(", "))
    };
    format!("chip \"{spec}\" not found by name, path or label ({known})")
}
