//! The documents in the repository are true to the code: every route the real
//! binary serves (its `/api/openapi.json`, generated from the route table) has a
//! row in `docs/api.md` and every row there is served, both ways; the configuration
//! example of `docs/config.md` is `conf/full.json`, which the real loader accepts.

mod common;
use common::Daemon;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

const API_MD: &str = include_str!("../docs/api.md");
const CONFIG_MD: &str = include_str!("../docs/config.md");

type Routes = BTreeSet<(String, String)>;

/// `docs/api.md`'s table rows `` | `METHOD /path?query` | ... ``, split by whether
/// their section's heading says *(planned)*: (served now, planned).
fn documented_routes() -> (Routes, Routes) {
    let (mut now, mut planned) = (Routes::new(), Routes::new());
    let mut in_planned = false;
    for line in API_MD.lines() {
        if line.starts_with('#') {
            in_planned = line.contains("*(planned)*");
            continue;
        }
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((method, rest)) = cell.split_once(' ') else {
            continue;
        };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
            continue;
        }
        let path = rest.split(['`', '?']).next().unwrap_or("").to_string();
        let set = if in_planned { &mut planned } else { &mut now };
        assert!(
            set.insert((method.to_string(), path.clone())),
            "docs/api.md has {method} {path} twice"
        );
    }
    (now, planned)
}

fn served_routes(doc: &Value) -> Routes {
    let mut served = Routes::new();
    for (path, ops) in doc["paths"]
        .as_object()
        .expect("paths in the OpenAPI document")
    {
        for method in ops.as_object().expect("operations").keys() {
            served.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    served
}

fn show(routes: &[&(String, String)]) -> String {
    routes.iter().map(|(m, p)| format!("\n  {m} {p}")).collect()
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    // The sim backend has its one extra route, and weather its own; metrics public
    // or not is the same path.
    let d = Daemon::start(json!({
        "gpio": {"backend": "sim"},
        "info": {"weather": {"url": "http://127.0.0.1:9/v1/forecast"}}
    }));
    let doc = d.call("GET", "/api/openapi.json", None, None);
    assert_eq!(doc.status, 200, "{:?}", doc.body);
    let served = served_routes(&doc.body);
    let (documented, planned) = documented_routes();
    assert!(
        documented.len() > 30,
        "too few routes parsed from docs/api.md: {documented:?}"
    );

    let early: Vec<_> = planned.intersection(&served).collect();
    assert!(
        early.is_empty(),
        "served but docs/api.md still calls them planned (move the rows up):{}",
        show(&early)
    );
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in docs/api.md (add a row):{}",
        show(&undocumented)
    );
    let missing: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "in docs/api.md but not served (remove the row, or mark its section *(planned)*):{}",
        show(&missing)
    );
}

#[test]
fn every_service_document_is_the_whole_one_cut_to_its_service() {
    let d = Daemon::start(json!({}));
    let whole = served_routes(&d.call("GET", "/api/openapi.json", None, None).body);
    let mut union = Routes::new();
    for service in ["auth", "supervisor", "io", "info", "email", "rules"] {
        let r = d.call("GET", &format!("/api/{service}/apispec.json"), None, None);
        assert_eq!(r.status, 200, "{service}: {:?}", r.body);
        let part = served_routes(&r.body);
        let prefix = format!("/api/{service}/");
        assert!(
            part.iter()
                .all(|(_, p)| p.starts_with(&prefix) || *p == prefix[..prefix.len() - 1]),
            "{service}: {part:?}"
        );
        union.extend(part);
    }
    let rest: Routes = whole.difference(&union).cloned().collect();
    let expected: Routes = [
        ("GET", "/api/health"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/docs"),
        ("GET", "/api/audit"),
        ("GET", "/metrics"),
        ("POST", "/RPC2"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(rest, expected, "routes in no service document");
}

#[test]
fn the_config_example_is_conf_full_json_and_the_loader_accepts_it() {
    let start = CONFIG_MD
        .find("```json\n")
        .expect("a ```json block in docs/config.md")
        + 8;
    let len = CONFIG_MD[start..].find("```").unwrap();
    let example: Value = serde_json::from_str(&CONFIG_MD[start..start + len]).unwrap();
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/full.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
    assert_eq!(
        example, file,
        "docs/config.md's example differs from conf/full.json"
    );
    let (code, text) = common::check_config(&full);
    assert_eq!(code, Some(0), "{text}");
}
