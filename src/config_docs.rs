//! The configuration reference is checked against the config types: `conf/full.json`
//! must set every key the types serialise, and `conf/README.md` must list every key
//! of it with the default the code really has. Only [`config::parse`] and the types'
//! `Serialize` are used, so moving a section's types to its subsystem changes nothing
//! here; adding a key without documenting it fails these tests.
#![cfg(test)]

use crate::config;
use serde_json::Value;
use std::collections::BTreeSet;

const FULL: &str = include_str!("../conf/full.json");
const README: &str = include_str!("../conf/README.md");

/// Every node of a JSON document as a dotted path (objects are walked into; arrays
/// and scalars are leaves). `leaves_only` drops the paths of non-empty objects.
fn paths(v: &Value, prefix: &str, leaves_only: bool, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            if !leaves_only && !prefix.is_empty() {
                out.insert(prefix.to_string());
            }
            for (k, child) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(child, &p, leaves_only, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn all_paths(v: &Value, leaves_only: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    paths(v, "", leaves_only, &mut out);
    out
}

/// A README key such as `programs.<name>.command` against a concrete path.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, c): (Vec<_>, Vec<_>) = (pattern.split('.').collect(), path.split('.').collect());
    p.len() == c.len() && p.iter().zip(&c).all(|(p, c)| p.starts_with('<') || p == c)
}

/// The rows of the key table: (key, default cell without backticks).
fn readme_rows() -> Vec<(String, String)> {
    README
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let unquote = |s: &str| s.trim_matches('`').to_string();
            (unquote(cells[0]), unquote(cells[1]))
        })
        .collect()
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn remove(v: &mut Value, path: &str) {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    let parent = if parent.is_empty() {
        Some(v)
    } else {
        parent.split('.').try_fold(v, |v, k| v.get_mut(k))
    };
    parent.and_then(Value::as_object_mut).unwrap().remove(key);
}

fn full() -> Value {
    serde_json::from_str(FULL).unwrap()
}

#[test]
fn full_example_sets_every_key_the_types_have() {
    let parsed = config::parse(FULL).unwrap();
    assert_eq!(parsed.validate(), Vec::<String>::new());
    let from_types = all_paths(&serde_json::to_value(&parsed).unwrap(), false);
    let in_example = all_paths(&full(), false);
    let missing: Vec<_> = from_types.difference(&in_example).collect();
    assert!(
        missing.is_empty(),
        "conf/full.json lacks keys the config types have: {missing:?} (add them there and to conf/README.md)"
    );
}

#[test]
fn readme_lists_every_key_of_the_example() {
    let rows = readme_rows();
    assert!(rows.len() > 20, "no key table found in conf/README.md");
    let example = full();
    let undocumented: Vec<_> = all_paths(&example, true)
        .into_iter()
        .filter(|p| !rows.iter().any(|(k, _)| matches(k, p)))
        .collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from conf/README.md: {undocumented:?}"
    );
    let nodes = all_paths(&example, false);
    let unknown: Vec<_> = rows
        .iter()
        .filter(|(k, _)| !nodes.iter().any(|p| matches(k, p)))
        .map(|(k, _)| k)
        .collect();
    assert!(
        unknown.is_empty(),
        "conf/README.md lists keys conf/full.json does not have: {unknown:?}"
    );
}

/// A key's default is what the loader makes of the full example without that key:
/// `required` when it then refuses the file, `—` when nothing is left at that place.
#[test]
fn readme_defaults_are_the_codes() {
    let example = full();
    let nodes = all_paths(&example, false);
    let mut wrong = Vec::new();
    for (key, documented) in readme_rows() {
        let Some(path) = nodes.iter().find(|p| matches(&key, p)) else {
            continue; // reported by readme_lists_every_key_of_the_example
        };
        let mut without = example.clone();
        remove(&mut without, path);
        let actual = match config::parse(&without.to_string()) {
            Err(_) => "required".to_string(),
            Ok(c) => match lookup(&serde_json::to_value(&c).unwrap(), path) {
                None => "—".to_string(),
                Some(v) => v.to_string(),
            },
        };
        let same = match (
            serde_json::from_str::<Value>(&documented),
            serde_json::from_str::<Value>(&actual),
        ) {
            (Ok(d), Ok(a)) => d == a,
            _ => documented == actual,
        };
        if !same {
            wrong.push(format!(
                "{key}: README says {documented}, the code has {actual}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong defaults in conf/README.md:\n{}",
        wrong.join("\n")
    );
}
