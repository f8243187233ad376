//! The request head and body framing parser on arbitrary bytes, as the server
//! reads them: a head up to its empty line (at most MAX_HEAD_BYTES), then the
//! body it declares. It must never panic, never accept ambiguous framing, and
//! never hold more body than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiny_http::{head_complete, parse_head, read_body, BodyError, BodyFraming};

const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_BODY: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let limit = data.len().min(MAX_HEAD_BYTES + 1);
    let Some(end) = (1..=limit).find(|&i| head_complete(&data[..i])) else {
        // An unfinished head: the server waits or refuses; the parser must cope.
        let _ = parse_head(&data[..limit]);
        return;
    };
    let head = match parse_head(&data[..end]) {
        Ok(head) => head,
        Err(refusal) => {
            assert!(
                matches!(refusal.status, 400 | 414 | 417 | 431 | 505),
                "unexpected status {}",
                refusal.status
            );
            assert!(!refusal.message.is_empty());
            return;
        }
    };
    let count = |name: &str| {
        head.headers
            .iter()
            .filter(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .count()
    };
    let (lengths, codings) = (count("Content-Length"), count("Transfer-Encoding"));
    assert!(
        lengths == 0 || codings == 0,
        "Content-Length with Transfer-Encoding accepted"
    );
    match head.body {
        BodyFraming::Chunked => assert!(codings > 0),
        BodyFraming::Length(_) => assert!(lengths > 0 && codings == 0),
        BodyFraming::None => assert_eq!(codings, 0),
    }
    let mut rest = &data[end..];
    match read_body(&mut rest, head.body, MAX_BODY) {
        Ok(body) => assert!(body.len() <= MAX_BODY),
        Err(BodyError::TooLarge | BodyError::Malformed(_) | BodyError::Io(_)) => {}
    }
});
