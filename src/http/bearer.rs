//! The token of an `Authorization` header.

/// The token in an `Authorization` value, tolerating what the original did:
/// `Bearer Bearer x`, `Bearer%20x`, quotes around the token.
pub fn token(header: &str) -> Option<String> {
    let mut rest = header.trim();
    loop {
        let lower = rest.get(..7).map(|s| s.to_ascii_lowercase());
        if lower.as_deref() == Some("bearer ") {
            rest = rest[7..].trim_start();
        } else if rest.get(..9).map(|s| s.to_ascii_lowercase()).as_deref() == Some("bearer%20") {
            rest = &rest[9..];
        } else {
            break;
        }
    }
    let token = rest.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let usable = !token.is_empty() && !token.contains(' ') && !token.eq_ignore_ascii_case("bearer");
    usable.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_variants() {
        for h in [
            "Bearer abc",
            "Bearer Bearer abc",
            "Bearer%20abc",
            "bearer \"abc\"",
            "Bearer 'abc' ",
            "abc",
        ] {
            assert_eq!(token(h).as_deref(), Some("abc"), "{h}");
        }
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Basic a b"), None);
    }
}
