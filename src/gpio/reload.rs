//! Which pins a reload touches: the pure decision, compared by name and by the
//! whole [`PinConfig`]. An unchanged pin is left alone (same line request, same
//! level, its debouncer and its history); a changed one is released and
//! requested again with its new configuration; a removed one is released (its
//! line freed for others); an added one is requested.

use super::config::PinConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a reload did to the pins, each list sorted by name.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PinChanges {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl PinChanges {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// The pins whose line is released before any is requested (so that a line
    /// that moves from one pin to another is free when the other asks for it).
    pub fn to_release(&self) -> impl Iterator<Item = &String> {
        self.changed.iter().chain(&self.removed)
    }

    /// Whether the pin called `name` is kept as it is.
    pub fn keeps(&self, name: &str) -> bool {
        !self.to_release().any(|n| n == name)
    }
}

/// Compare the running pins with the new configuration's.
pub fn diff(old: &BTreeMap<String, PinConfig>, new: &BTreeMap<String, PinConfig>) -> PinChanges {
    PinChanges {
        added: new
            .keys()
            .filter(|n| !old.contains_key(*n))
            .cloned()
            .collect(),
        changed: old
            .iter()
            .filter(|(n, c)| new.get(*n).is_some_and(|nc| nc != *c))
            .map(|(n, _)| n.clone())
            .collect(),
        removed: old
            .keys()
            .filter(|n| !new.contains_key(*n))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(json: &str) -> BTreeMap<String, PinConfig> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn added_changed_removed_and_kept() {
        let old =
            pins(r#"{"SAME":{"line":1},"DIR":{"line":2},"LOW":{"line":3},"GONE":{"line":4}}"#);
        let new = pins(
            r#"{"SAME":{"line":1},"DIR":{"line":2,"direction":"out"},
                "LOW":{"line":3,"active_low":true},"NEW":{"line":4}}"#,
        );
        let c = diff(&old, &new);
        assert_eq!(c.added, ["NEW"]);
        assert_eq!(c.changed, ["DIR", "LOW"]);
        assert_eq!(c.removed, ["GONE"]);
        assert!(c.keeps("SAME") && c.keeps("NEW"));
        assert!(!c.keeps("DIR") && !c.keeps("GONE"));
        assert_eq!(
            c.to_release().collect::<Vec<_>>(),
            ["DIR", "LOW", "GONE"],
            "changed and removed are released, before NEW asks for line 4"
        );
    }

    #[test]
    fn a_default_spelled_out_is_no_change() {
        let old = pins(r#"{"A":{"line":5}}"#);
        let new = pins(r#"{"A":{"line":5,"chip":"gpiochip0","direction":"in","bias":"as-is"}}"#);
        assert!(diff(&old, &new).is_empty());
        assert!(!diff(&old, &pins("{}")).is_empty());
    }
}
