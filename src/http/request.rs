//! The parts of a request a handler reads: path parameters, query, JSON body, caller.

use super::reply::ApiError;
use crate::auth::Caller;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::net::IpAddr;

/// The schema of a query value [`Ctx::query_u64`] accepts: a whole number to `max`.
pub fn whole(max: u64) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": max})
}

pub struct Ctx {
    pub params: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote: Option<IpAddr>,
    /// The authenticated user; `None` only on public routes.
    pub caller: Option<Caller>,
}

impl Ctx {
    /// A path parameter declared in the route (`{name}`), percent-decoded.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric query parameter, with a default and an upper bound.
    /// `?after=SEQ&limit=N` of the event rings' routes: entries after `after`
    /// (default 0), at most `limit` (default 100, at most `max`).
    pub fn page(&self, max: usize) -> Result<(u64, usize), ApiError> {
        let after = self.query_u64("after", 0, u64::MAX)?;
        let limit = self.query_u64("limit", 100, max as u64)?;
        Ok((after, limit as usize))
    }

    /// The query parameters [`Ctx::page`] reads, for a route's document.
    pub fn page_query(max: usize) -> [(&'static str, &'static str, Value); 2] {
        [
            (
                "after",
                "Only entries after this sequence number (default 0)",
                whole(u64::MAX),
            ),
            (
                "limit",
                "At most this many entries (default 100)",
                whole(max as u64),
            ),
        ]
    }

    /// A whole-number query parameter (absent: `default`; empty or not a number
    /// up to `max`: 400, as its documented schema says).
    pub fn query_u64(&self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        match self.query(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "query parameter {name} must be a whole number from 0 to {max}"
                ))),
            },
        }
    }

    /// Refuse a query that gives one of `declared` more than once: which of the
    /// values would count is a guess the caller should not have to make.
    pub fn single_query(&self, declared: &[super::router::QueryParam]) -> Result<(), ApiError> {
        for q in declared {
            if self.query.iter().filter(|(k, _)| k == q.name).count() > 1 {
                return Err(ApiError::bad_request(format!(
                    "query parameter {} is given more than once",
                    q.name
                )));
            }
        }
        Ok(())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The caller; handlers of non-public routes can rely on it.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("log in first"))
    }

    /// The body as JSON of type `T`; the error says what is wrong and where.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ApiError::bad_request("a JSON body is required"));
        }
        // serde_json checks UTF-8 only in the strings it keeps: a body whose
        // ignored fields are not UTF-8 would pass as JSON. Found by fuzz/bodies.
        if let Err(e) = std::str::from_utf8(&self.body) {
            return Err(ApiError::bad_request(format!(
                "invalid JSON: not UTF-8 at byte {}",
                e.valid_up_to()
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) => &msg[..i],
                None => &msg,
            };
            let kind = if e.is_syntax() || e.is_eof() {
                "invalid JSON"
            } else {
                "invalid body"
            };
            ApiError::bad_request(format!(
                "{kind}: {msg} (line {} column {})",
                e.line(),
                e.column()
            ))
        })
    }

    /// The body as JSON if there is one, else `T::default()`.
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(T::default())
        } else {
            self.json()
        }
    }
}

/// Decode `%XX` escapes (and nothing else: `+` stays `+` in paths). `None` when
/// an escape is malformed or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `a=1&b=x%20y` → pairs; `+` is a space in a query.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_default();
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that is not UTF-8 is not JSON, also where the type ignores the field.
    #[test]
    fn a_body_that_is_not_utf8_is_refused_even_in_ignored_fields() {
        #[derive(serde::Deserialize, Debug)]
        struct Lenient {
            #[allow(dead_code)]
            a: Option<String>,
        }
        let ctx = Ctx {
            params: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: b"{\"b\": \"\xd6u\"}".to_vec(),
            remote: None,
            caller: None,
        };
        let err = ctx.json::<Lenient>().unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("UTF-8"), "{}", err.message);
    }

    fn with_query(query: &str) -> Ctx {
        Ctx {
            params: Vec::new(),
            query: parse_query(query),
            headers: Vec::new(),
            body: Vec::new(),
            remote: None,
            caller: None,
        }
    }

    /// A number's schema is an integer: empty or repeated is a 400, not a guess.
    #[test]
    fn numeric_query_values_are_what_their_schema_says() {
        assert_eq!(with_query("").page(1000), Ok((0, 100)));
        assert_eq!(with_query("after=5&limit=3").page(1000), Ok((5, 3)));
        for bad in ["after=", "limit=1001", "after=-1", "limit=x"] {
            assert_eq!(with_query(bad).page(1000).unwrap_err().status, 400, "{bad}");
        }
        let declared = Ctx::page_query(1000).map(|(name, description, schema)| {
            super::super::router::QueryParam {
                name,
                description,
                schema,
            }
        });
        assert_eq!(
            with_query("after=1&limit=2").single_query(&declared),
            Ok(())
        );
        let twice = with_query("after=&after=x")
            .single_query(&declared)
            .unwrap_err();
        assert_eq!(
            twice.message,
            "query parameter after is given more than once"
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("%2e%2E").as_deref(), Some(".."));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(
            parse_query("bytes=10&stream=std+err&x"),
            vec![
                ("bytes".into(), "10".into()),
                ("stream".into(), "std err".into()),
                ("x".into(), "".into())
            ]
        );
    }
}
