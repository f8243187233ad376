//! The one rule for the names that configs and clients give things (programs, pins,
//! users). Names end up in URLs, log lines, metric labels and file names, so they
//! are kept to ASCII letters, digits, `_`, `.` and `-`, and bounded in length.

/// Longest program or pin name, in bytes.
pub const MAX_LEN: usize = 64;

/// Is `name` 1 to `max` bytes of `A-Z a-z 0-9 _ . -`?
pub fn valid(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_three_marks_within_the_length() {
        assert!(valid("LED_1.a-b", MAX_LEN));
        assert!(valid(&"x".repeat(64), MAX_LEN));
        assert!(!valid(&"x".repeat(65), MAX_LEN));
        assert!(!valid("", MAX_LEN));
        for bad in ["a b", "a/b", "é", "a:b", "a\n"] {
            assert!(!valid(bad, MAX_LEN), "{bad:?}");
        }
        assert!(!valid("abcd", 3));
    }
}
