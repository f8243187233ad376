//! The `gpio` section: backend and named pins, and the checks of it that types
//! cannot make (each problem names its key path, `gpio.pins.NAME.KEY: ...`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GpioConfig {
    pub backend: Backend,
    pub pins: BTreeMap<String, PinConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Cdev,
    Sim,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PinConfig {
    /// `gpiochip0`, `/dev/gpiochip0`, or the chip's label (`pinctrl-bcm2835`).
    #[serde(default = "default_chip")]
    pub chip: String,
    /// A line offset (17) or the kernel's line name ("GPIO17").
    pub line: LineRef,
    #[serde(default)]
    pub direction: Direction,
    /// Value set when the line is requested (outputs only).
    #[serde(default)]
    pub initial: u8,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub bias: Bias,
    #[serde(default)]
    pub edge: Edge,
    #[serde(default)]
    pub debounce_ms: u64,
}

fn default_chip() -> String {
    "gpiochip0".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum LineRef {
    Offset(u32),
    Name(String),
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    In,
    Out,
}

impl Direction {
    /// "in" or "out", as the config and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Bias {
    /// Leave whatever the line has (`"as-is"`).
    #[default]
    AsIs,
    Disabled,
    PullUp,
    PullDown,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    #[default]
    None,
    Rising,
    Falling,
    Both,
}

impl Edge {
    /// The edge that ends at a logical `level`: rising at 1, falling at 0. The only
    /// edges an event carries; `None` and `Both` are filters of the config.
    pub fn to_level(level: u8) -> Edge {
        if level == 0 {
            Edge::Falling
        } else {
            Edge::Rising
        }
    }

    /// Does this filter let through an edge that ends at a logical `level`?
    pub fn passes(self, level: u8) -> bool {
        match self {
            Edge::None => false,
            Edge::Both => true,
            edge => edge == Edge::to_level(level),
        }
    }
}

impl GpioConfig {
    /// Every problem of the section: each pin's, then lines claimed twice.
    pub fn validate(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .pins
            .iter()
            .flat_map(|(name, pin)| validate(name, pin))
            .collect();
        problems.extend(shared_lines(&self.pins));
        problems
    }
}

/// Problems of one pin, each naming the key (`gpio.pins.NAME.KEY: ...`).
fn validate(name: &str, p: &PinConfig) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: &str| errors.push(format!("gpio.pins.{name}.{key}: {msg}"));
    if !crate::names::valid(name, crate::names::MAX_LEN) {
        err("", "a pin name is 1-64 of A-Z a-z 0-9 _ . -");
    }
    if p.chip.is_empty() {
        err(
            "chip",
            "must name a chip: gpiochip0, /dev/gpiochip0 or a label",
        );
    }
    if let LineRef::Name(n) = &p.line {
        if n.is_empty() {
            err(
                "line",
                "must be an offset or a line name such as \"GPIO17\"",
            );
        }
    }
    if p.initial > 1 {
        err("initial", "must be 0 or 1");
    }
    match p.direction {
        Direction::Out => {
            if p.edge != Edge::None {
                err("edge", "only an input pin can watch edges");
            }
            if p.debounce_ms > 0 {
                err("debounce_ms", "only an input pin can be debounced");
            }
        }
        Direction::In => {
            if p.initial != 0 {
                err("initial", "only an output pin has an initial value");
            }
        }
    }
    if p.debounce_ms > 10_000 {
        err("debounce_ms", "must be at most 10000");
    }
    errors
}

/// Two pins on one line would fight over it (the second gets EBUSY at start).
/// Only literal chip and line spellings are compared: a chip named by label and
/// by path can still be the same one, which the daemon then reports at start.
fn shared_lines(pins: &BTreeMap<String, PinConfig>) -> Vec<String> {
    let mut problems = Vec::new();
    let list: Vec<_> = pins.iter().collect();
    for (i, (a, pa)) in list.iter().enumerate() {
        for (b, pb) in &list[i + 1..] {
            if pa.chip == pb.chip && pa.line == pb.line {
                problems.push(format!(
                    "gpio.pins.{b}.line: the same line as pin {a} (chip {}); one line, one pin",
                    pa.chip
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(json: &str) -> GpioConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn two_pins_on_one_line_are_refused() {
        let c = section(r#"{"pins":{"A":{"line":4},"B":{"line":4},"C":{"line":"GPIO4"}}}"#);
        assert_eq!(
            c.validate(),
            vec!["gpio.pins.B.line: the same line as pin A (chip gpiochip0); one line, one pin"]
        );
    }

    #[test]
    fn a_bad_pin_name_is_named() {
        let c = section(r#"{"pins":{"a b":{"line":4}}}"#);
        assert_eq!(
            c.validate(),
            vec!["gpio.pins.a b.: a pin name is 1-64 of A-Z a-z 0-9 _ . -"]
        );
    }

    #[test]
    fn edges_end_at_levels_and_filters_pass_them() {
        assert_eq!(Edge::to_level(1), Edge::Rising);
        assert_eq!(Edge::to_level(0), Edge::Falling);
        let table = [
            (Edge::None, [false, false]),
            (Edge::Both, [true, true]),
            (Edge::Rising, [false, true]),
            (Edge::Falling, [true, false]),
        ];
        for (filter, [at0, at1]) in table {
            assert_eq!(
                (filter.passes(0), filter.passes(1)),
                (at0, at1),
                "{filter:?}"
            );
        }
    }
}
