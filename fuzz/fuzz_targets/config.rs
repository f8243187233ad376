//! The config loader (config::parse, then Config::validate) on arbitrary text:
//! a syntax error names its place, validation answers problems rather than
//! panicking, and a config that parses serialises to one that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pistack::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text) {
        Ok(cfg) => {
            for problem in cfg.validate() {
                assert!(!problem.is_empty());
            }
            let json = serde_json::to_string(&cfg).expect("a Config serialises");
            let again = config::parse(&json).expect("a serialised Config parses");
            assert_eq!(serde_json::to_string(&again).unwrap(), json);
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
});
