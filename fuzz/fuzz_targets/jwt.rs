//! The JWT decoder (src/auth/jwt.rs). Two kinds of input from the same bytes:
//! arbitrary text as a token, which must be refused (nothing here knows the
//! secret), and tokens correctly signed with the secret around an arbitrary
//! header and payload, which reach the header and claims decoding behind the
//! signature check: refused unless the header says HS256 and the payload is
//! pistack's claims, and what is accepted signs back to the same claims.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use pistack::auth::jwt::{self, Claims, TokenError};

const SECRET: &[u8] = b"pistack-fuzz-secret-of-32-bytes!";

fn signed(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    assert!(
        jwt::verify(&text, SECRET, 0).is_err(),
        "a token not signed with the secret was accepted: {text:?}"
    );

    // header NUL payload, signed with the secret.
    let (header, payload) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], data),
    };
    let token = signed(header, payload);
    let hs256 = serde_json::from_slice::<serde_json::Value>(header)
        .ok()
        .is_some_and(|h| h.get("alg").and_then(|a| a.as_str()) == Some("HS256"));
    match jwt::verify(&token, SECRET, 0) {
        Ok(claims) => {
            assert!(hs256, "accepted a header without alg HS256: {header:?}");
            assert!(claims.exp > 0);
            let again = jwt::sign(&claims, SECRET);
            assert_eq!(jwt::verify(&again, SECRET, 0), Ok(claims.clone()));
            assert_eq!(
                jwt::verify(&again, SECRET, claims.exp),
                Err(TokenError::Expired)
            );
            assert_eq!(
                jwt::verify(&again, b"another secret", 0),
                Err(TokenError::Signature)
            );
        }
        Err(TokenError::Signature) => panic!("the right signature was refused"),
        Err(TokenError::Algorithm(_)) => assert!(!hs256),
        Err(TokenError::Malformed) => {
            assert!(!hs256 || serde_json::from_slice::<Claims>(payload).is_err())
        }
        Err(TokenError::Expired) => {}
    }
});
