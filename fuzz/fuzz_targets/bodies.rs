//! Every JSON request body the API adapters read (each subsystem's
//! `api::decode_bodies`: the serde body types and the checks that need no
//! state), on arbitrary bytes. A client's bytes get a 400 with a message, never
//! a panic or another status; bytes that are not JSON are never accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pistack::http::request::Ctx;
use pistack::{auth, email, gpio, supervisor};

fuzz_target!(|data: &[u8]| {
    let ctx = Ctx {
        params: vec![("name", "x".into()), ("id", "x".into())],
        query: Vec::new(),
        headers: Vec::new(),
        body: data.to_vec(),
        remote: None,
        caller: None,
    };
    let blank = data.iter().all(|b| b.is_ascii_whitespace());
    let json = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    let results = [
        auth::api::decode_bodies(&ctx),
        supervisor::api::decode_bodies(&ctx),
        gpio::api::decode_bodies(&ctx),
        email::api::decode_bodies(&ctx),
    ];
    for (i, r) in results.iter().flatten().enumerate() {
        match r {
            // The one optional body (logout's) may be blank.
            Ok(()) => assert!(
                json || blank,
                "decoder {i} accepted bytes that are not JSON"
            ),
            Err(e) => {
                assert_eq!(e.status, 400, "decoder {i}: {}", e.message);
                assert!(!e.message.is_empty());
            }
        }
    }
});
