//! supervisord.conf as supervisord reads it: Python's configparser (sections,
//! `key = value` or `key: value`, `;`/`#` comment lines, inline comments after
//! whitespace, indented continuation lines, lower-cased keys) and `%(name)s`
//! expansion.

/// One `[section]` with its entries, in file order, each with its line number.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parse the file; errors name their line.
pub fn parse(text: &str) -> Result<Vec<Section>, String> {
    let mut sections: Vec<Section> = Vec::new();
    let mut continuing = false;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continuing = continuing && !trimmed.is_empty();
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if indented && continuing {
            if let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                let more = strip_inline_comment(trimmed);
                if !more.is_empty() {
                    entry.value.push('\n');
                    entry.value.push_str(more);
                }
                continue;
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.push(Section {
                name: name.trim().to_string(),
                line: line_no,
                entries: Vec::new(),
            });
            continuing = false;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(format!("line {line_no}: a key before any [section]"));
        };
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(format!(
                "line {line_no}: expected key=value, found {trimmed:?}"
            ));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(format!("line {line_no}: a value without a key"));
        }
        let value = strip_inline_comment(trimmed[at + 1..].trim()).to_string();
        // configparser (strict=False): a repeated key replaces the earlier one.
        section.entries.retain(|e| e.key != key);
        section.entries.push(Entry {
            key,
            value,
            line: line_no,
        });
        continuing = true;
    }
    Ok(sections)
}

/// Cut a `;` or `#` comment that follows whitespace (supervisord's
/// `inline_comment_prefixes`); a `;` inside a word stays.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b';' || bytes[i] == b'#') && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    if value.starts_with(';') || value.starts_with('#') {
        return "";
    }
    value
}

/// Replace `%(name)s` (and `%(name)d`) with `lookup(name)`, `%%` with `%`. Names
/// that `lookup` does not know are left as written and returned, so that the
/// caller can report them.
pub fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(value.len());
    let mut missing = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("%%") {
            out.push('%');
            rest = after;
            continue;
        }
        let parsed = tail.strip_prefix("%(").and_then(|t| {
            let close = t.find(')')?;
            let kind = t[close + 1..].chars().next()?;
            matches!(kind, 's' | 'd').then(|| (&t[..close], &t[close + 2..]))
        });
        match parsed {
            Some((name, after)) => {
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push_str(&tail[..tail.len() - after.len()]);
                        missing.push(name.to_string());
                    }
                }
                rest = after;
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments_and_continuations() {
        let text = "; top comment\n[program:a]\nCommand = /bin/x --y ; comment\nexitcodes=0,2   ; why\n\
                    environment=A=\"1\",\n    B=\"2\"\nurl=http://h/#frag\nkey: v\nkey=w\n# c\n[group:g]\nprograms=a\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "program:a");
        let get = |k: &str| {
            s[0].entries
                .iter()
                .find(|e| e.key == k)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(get("command"), "/bin/x --y");
        assert_eq!(get("exitcodes"), "0,2");
        assert_eq!(get("environment"), "A=\"1\",\nB=\"2\"");
        assert_eq!(get("url"), "http://h/#frag");
        assert_eq!(get("key"), "w");
        assert_eq!(
            s[0].entries
                .iter()
                .find(|e| e.key == "command")
                .unwrap()
                .line,
            3
        );
        assert_eq!(s[1].entries[0].value, "a");
    }

    #[test]
    fn parse_errors_name_the_line() {
        assert!(parse("x=1\n").unwrap_err().starts_with("line 1"));
        assert!(parse("[a]\njust words\n")
            .unwrap_err()
            .starts_with("line 2"));
    }

    #[test]
    fn expansion() {
        let lookup = |n: &str| match n {
            "here" => Some("/opt/app".to_string()),
            "ENV_HOME" => Some("/root".to_string()),
            _ => None,
        };
        assert_eq!(
            expand("%(here)s/x %(ENV_HOME)s", &lookup),
            ("/opt/app/x /root".to_string(), vec![])
        );
        assert_eq!(
            expand("100%% sure, 5% off", &lookup),
            ("100% sure, 5% off".to_string(), vec![])
        );
        assert_eq!(
            expand("%(ENV_NOPE)s/bin", &lookup),
            ("%(ENV_NOPE)s/bin".to_string(), vec!["ENV_NOPE".to_string()])
        );
    }
}
