//! The `gpio` section: backend and named pins.

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

/// Problems of one pin, each naming the key (`gpio.pins.NAME.KEY: ...`).
pub fn validate(name: &str, p: &PinConfig) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: &str| errors.push(format!("gpio.pins.{name}.{key}: {msg}"));
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
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
