//! supervisord's value syntaxes: `command` split like a POSIX shell (Python's
//! `shlex.split`), `environment` as `KEY="value",KEY2=value2`, byte sizes (`50MB`),
//! booleans and exit code lists.

/// Split like `shlex.split(s)` (POSIX mode): whitespace separates words, `'...'`
/// is literal, `"..."` allows `\"` and `\\`, a backslash outside quotes escapes
/// the next character. `#` is not a comment.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation (')".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("no closing quotation (\")".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation (\")".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a backslash at the end escapes nothing".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `KEY="value",KEY2=value2` (supervisord's `environment`): values may be quoted
/// with `"` or `'` (which are removed) or bare up to the next comma.
pub fn env_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected KEY=value, found {rest:?}"))?;
        let key = rest[..eq].trim();
        if key.is_empty() || key.contains(',') || key.chars().any(char::is_whitespace) {
            return Err(format!("{key:?} is not a variable name"));
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = rest[1..]
                    .find(q)
                    .ok_or_else(|| format!("the value of {key} has no closing {q}"))?;
                value = rest[1..1 + end].to_string();
                rest = rest[end + 2..].trim_start();
            }
            _ => {
                let end = rest.find(',').unwrap_or(rest.len());
                value = rest[..end].trim().to_string();
                rest = &rest[end..];
            }
        }
        pairs.push((key.to_string(), value));
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => {
                return Err(format!(
                    "expected a comma after the value of {key}, found {rest:?}"
                ))
            }
        }
    }
    Ok(pairs)
}

/// supervisord's byte sizes: `1024`, `10KB`, `50MB`, `1GB` (powers of 1024).
pub fn byte_size(s: &str) -> Result<u64, String> {
    let upper = s.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.len().checked_sub(2).map(|i| upper.split_at(i)) {
        Some((d, "KB")) => (d, 1024),
        Some((d, "MB")) => (d, 1024 * 1024),
        Some((d, "GB")) => (d, 1024 * 1024 * 1024),
        _ => (upper.as_str(), 1),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("{s:?} is not a size such as 1024, 10KB or 50MB"))
}

/// supervisord's booleans: true/yes/on/1 and false/no/off/0, any case.
pub fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false)")),
    }
}

/// `0,2` → [0, 2].
pub fn exit_codes(s: &str) -> Result<Vec<i32>, String> {
    s.split(',')
        .map(|c| {
            c.trim()
                .parse::<i32>()
                .ok()
                .filter(|c| (0..=255).contains(c))
                .ok_or_else(|| format!("{c:?} is not an exit code"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        shell_split(s).unwrap()
    }

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split("  /bin/sh -c 'echo a  b' "),
            ["/bin/sh", "-c", "echo a  b"]
        );
        assert_eq!(split(r#"x "a \"q\" \n" y\ z"#), ["x", r#"a "q" \n"#, "y z"]);
        assert_eq!(split("a '' \"\" b#c"), ["a", "", "", "b#c"]);
        assert_eq!(split("a'b c'd \"e'f\""), ["ab cd", "e'f"]);
        assert!(shell_split("'open").is_err());
        assert!(shell_split("\"open").is_err());
        assert!(shell_split("end\\").is_err());
        assert!(split("").is_empty());
    }

    #[test]
    fn environment_pairs() {
        let got = env_pairs(
            r#"PYTHONUNBUFFERED="1",GUNICORN_CMD_ARGS="--access-logfile - --error-logfile -""#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
                (
                    "GUNICORN_CMD_ARGS".to_string(),
                    "--access-logfile - --error-logfile -".to_string()
                )
            ]
        );
        let got = env_pairs("PYTHONPATH=/opt/x, B = 'two, three' ,\nC=").unwrap();
        assert_eq!(got[0], ("PYTHONPATH".to_string(), "/opt/x".to_string()));
        assert_eq!(got[1], ("B".to_string(), "two, three".to_string()));
        assert_eq!(got[2], ("C".to_string(), String::new()));
        assert!(env_pairs("NOEQUALS").is_err());
        assert!(env_pairs("A=\"open").is_err());
        assert!(env_pairs("A='x' B=2").is_err());
    }

    #[test]
    fn sizes_booleans_codes() {
        assert_eq!(byte_size("50MB"), Ok(50 * 1024 * 1024));
        assert_eq!(byte_size("10kb"), Ok(10 * 1024));
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("1GB"), Ok(1 << 30));
        assert!(byte_size("lots").is_err());
        assert_eq!(boolean("Yes"), Ok(true));
        assert_eq!(boolean("off"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert_eq!(exit_codes("0, 2"), Ok(vec![0, 2]));
        assert!(exit_codes("0,300").is_err());
    }
}
