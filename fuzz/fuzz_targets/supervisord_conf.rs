//! The supervisord.conf importer (`pistack import-supervisord`) on arbitrary
//! text: never a panic, and an import without errors is a `programs` section
//! that pistack's config loader reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pistack::{config, supervisor::import};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |k: &str| (k == "HOME").then(|| "/home/pi".to_string());
    let out = import::convert(text, Path::new("/etc/supervisor"), &env);
    for line in out.notes.iter().chain(&out.errors) {
        assert!(!line.is_empty());
    }
    if out.errors.is_empty() {
        let doc = serde_json::json!({ "programs": out.programs });
        if let Err(e) = config::parse(&doc.to_string()) {
            panic!(
                "the importer wrote a config pistack cannot read: {}",
                e.message
            );
        }
    }
});
