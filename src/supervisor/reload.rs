//! `reload`: supervisorctl's `reread` + `update` in one step. The new programs
//! are compared with the running table by name and configuration: a changed
//! program is stopped and started again with its new configuration, a removed
//! one is stopped and dropped, an added one is started if `autostart`; the
//! others keep their record, their process and their pid.

use super::config::ProgramConfig;
use super::program::Program;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What a reload did (or would do), each list sorted by name.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl Changes {
    /// The programs that must be stopped before the table is replaced.
    pub fn to_stop(&self) -> impl Iterator<Item = &String> {
        self.changed.iter().chain(&self.removed)
    }
}

/// Compare the running table with the new configuration.
pub fn diff(old: &[Program], new: &BTreeMap<String, ProgramConfig>) -> Changes {
    let mut c = Changes::default();
    for p in old {
        match new.get(&p.name) {
            None => c.removed.push(p.name.clone()),
            Some(config) if *config != p.config => c.changed.push(p.name.clone()),
            Some(_) => {}
        }
    }
    c.added = new
        .keys()
        .filter(|name| !old.iter().any(|p| &p.name == *name))
        .cloned()
        .collect();
    c.changed.sort();
    c.removed.sort();
    c
}

/// A program's group: `group`, or its name.
pub fn group_of<'a>(name: &'a str, config: &'a ProgramConfig) -> &'a str {
    config.group.as_deref().unwrap_or(name)
}

/// The programs of `group` in `programs`.
pub fn members(
    programs: &BTreeMap<String, ProgramConfig>,
    group: &str,
) -> BTreeMap<String, ProgramConfig> {
    programs
        .iter()
        .filter(|(n, c)| group_of(n, c) == group)
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect()
}

/// supervisord's `diff_to_active`, by group: groups added, changed (a member
/// added, removed or configured otherwise) and removed.
pub fn diff_groups(
    current: &BTreeMap<String, ProgramConfig>,
    new: &BTreeMap<String, ProgramConfig>,
) -> Changes {
    let groups = |m: &BTreeMap<String, ProgramConfig>| -> std::collections::BTreeSet<String> {
        m.iter().map(|(n, c)| group_of(n, c).to_string()).collect()
    };
    let (old_groups, new_groups) = (groups(current), groups(new));
    Changes {
        added: new_groups.difference(&old_groups).cloned().collect(),
        changed: new_groups
            .intersection(&old_groups)
            .filter(|g| members(current, g) != members(new, g))
            .cloned()
            .collect(),
        removed: old_groups.difference(&new_groups).cloned().collect(),
    }
}

/// The table for `new`: unchanged programs moved over as they are, changed and
/// added ones as fresh STOPPED records; in priority order, then by name.
pub fn rebuild(
    old: Vec<Program>,
    new: &BTreeMap<String, ProgramConfig>,
    log_dir: &Path,
) -> Vec<Program> {
    let mut kept: BTreeMap<String, Program> = old
        .into_iter()
        .filter(|p| new.get(&p.name) == Some(&p.config))
        .map(|p| (p.name.clone(), p))
        .collect();
    let mut table: Vec<Program> = new
        .iter()
        .map(|(name, config)| {
            kept.remove(name)
                .unwrap_or_else(|| Program::new(name, config, log_dir))
        })
        .collect();
    table.sort_by(|a, b| (a.config.priority, &a.name).cmp(&(b.config.priority, &b.name)));
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_compared_by_their_members() {
        let grouped = |script: &str, group: &str| ProgramConfig {
            group: Some(group.into()),
            ..sh(script)
        };
        let current = BTreeMap::from([
            ("a".to_string(), grouped("1", "g")),
            ("b".to_string(), grouped("2", "g")),
            ("solo".to_string(), sh("3")),
            ("old".to_string(), sh("4")),
        ]);
        let mut new = current.clone();
        new.remove("old");
        new.remove("b");
        new.insert("n".to_string(), grouped("5", "h"));
        let c = diff_groups(&current, &new);
        assert_eq!(
            (c.added, c.changed, c.removed),
            (
                vec!["h".to_string()],
                vec!["g".to_string()],
                vec!["old".to_string()]
            )
        );
        assert_eq!(members(&new, "g").len(), 1);
    }

    fn sh(script: &str) -> ProgramConfig {
        ProgramConfig {
            command: vec!["sh".into(), "-c".into(), script.into()],
            ..ProgramConfig::default()
        }
    }

    #[test]
    fn added_changed_removed_and_kept() {
        let dir = Path::new("/nonexistent");
        let old = vec![
            Program::new("same", &sh("sleep 1"), dir),
            Program::new("edit", &sh("sleep 2"), dir),
            Program::new("gone", &sh("sleep 3"), dir),
        ];
        let new = BTreeMap::from([
            ("same".to_string(), sh("sleep 1")),
            ("edit".to_string(), sh("sleep 20")),
            ("fresh".to_string(), sh("sleep 4")),
        ]);
        let c = diff(&old, &new);
        assert_eq!(c.added, ["fresh"]);
        assert_eq!(c.changed, ["edit"]);
        assert_eq!(c.removed, ["gone"]);
        let mut old = old;
        old[0].pid = Some(4242);
        let table = rebuild(old, &new, dir);
        let names: Vec<&str> = table.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["edit", "fresh", "same"]);
        assert_eq!(
            table[2].pid,
            Some(4242),
            "the unchanged record is moved over"
        );
        assert_eq!(table[0].config, sh("sleep 20"));
        assert_eq!(table[0].pid, None);
    }
}
