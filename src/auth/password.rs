//! Password hashes: PBKDF2-HMAC-SHA256 as PHC strings
//! (`$pbkdf2-sha256$i=N$<salt>$<hash>`, unpadded standard base64), the iteration
//! count stored per hash so the configured cost can change without locking anyone out.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::Sha256;

const PREFIX: &str = "$pbkdf2-sha256$i=";

/// The rules a new password must meet.
pub fn check_rules(p: &str) -> Result<(), super::Error> {
    if p.chars().count() < 8 {
        return Err(super::Error::Invalid(
            "password: at least 8 characters".into(),
        ));
    }
    // Characters, as the OpenAPI document's maxLength counts them (at most 4 KiB).
    if p.chars().count() > 1024 {
        return Err(super::Error::Invalid(
            "password: at most 1024 characters".into(),
        ));
    }
    Ok(())
}

pub fn hash(password: &str, iterations: u32) -> std::io::Result<String> {
    let salt = crate::random::bytes::<16>()?;
    Ok(hash_with_salt(password, &salt, iterations))
}

fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// One derivation of `iterations`, for [`super::cost::calibrate`] to time.
pub fn derive_for_timing(iterations: u32) {
    std::hint::black_box(derive("calibration", &[0u8; 16], iterations));
}

fn hash_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let out = derive(password, salt, iterations);
    format!(
        "{PREFIX}{iterations}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    )
}

/// The iteration count and parts of a stored hash; `None` if it is not ours.
fn parse(phc: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let rest = phc.strip_prefix(PREFIX)?;
    let mut parts = rest.split('$');
    let iterations = parts.next()?.parse().ok().filter(|&i| i > 0)?;
    let salt = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
    let expected = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
    if parts.next().is_some() || expected.len() != 32 {
        return None;
    }
    Some((iterations, salt, expected))
}

pub fn iterations(phc: &str) -> Option<u32> {
    parse(phc).map(|(i, _, _)| i)
}

/// Does `password` match `phc`? Compared in constant time.
pub fn verify(password: &str, phc: &str) -> bool {
    match parse(phc) {
        Some((iterations, salt, expected)) => {
            constant_time_eq(&derive(password, &salt, iterations), &expected)
        }
        None => false,
    }
}

/// Equal length and bytes, without an early exit that would leak where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published PBKDF2-HMAC-SHA256 vectors (RFC 7914 section 11, and the widely
    /// cited "password"/"salt" set).
    #[test]
    fn known_answers() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
        assert_eq!(
            hex(&derive("password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex(&derive("password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    #[test]
    fn phc_round_trip() {
        let h = hash("correct horse", 1000).unwrap();
        assert!(h.starts_with("$pbkdf2-sha256$i=1000$"));
        assert_eq!(iterations(&h), Some(1000));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("x", "$pbkdf2-sha256$i=0$AAAA$BBBB"));
        assert!(!verify("x", "plain"));
        assert_eq!(
            hash_with_salt("p", b"0123456789abcdef", 1000),
            hash_with_salt("p", b"0123456789abcdef", 1000)
        );
    }
}
