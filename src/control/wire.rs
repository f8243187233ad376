//! Just enough HTTP/1.1 for the control socket: a request with a
//! `Content-Length` body (what supervisorctl, Python's http.client and `pistack
//! ctl` send), a response with a length, and chunks for `/logtail`.

use crate::http::reply::Reply;
use std::io::{self, BufRead, Read, Write};

/// Longest request line or header line.
const MAX_LINE: u64 = 8 * 1024;
/// Most header lines in one request.
const MAX_HEADERS: usize = 64;

pub struct Request {
    pub method: String,
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client wants the connection kept open (HTTP/1.1 without `close`).
    pub keep_alive: bool,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection between requests (or timed out).
    Closed,
    /// A request we will not read: status and reason, then the connection closes.
    Refused(u16, String),
}

fn line(r: &mut impl BufRead) -> Result<String, ReadError> {
    let mut buf = Vec::new();
    match r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => return Err(ReadError::Closed),
        Ok(_) => {}
    }
    if buf.last() != Some(&b'\n') {
        return Err(ReadError::Refused(431, "a line is too long".into()));
    }
    let text = String::from_utf8(buf).map_err(|_| ReadError::Refused(400, "not UTF-8".into()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Read one request; its body at most `max_body` bytes.
pub fn read_request(r: &mut impl BufRead, max_body: usize) -> Result<Request, ReadError> {
    // Blank lines before a request are allowed (supervisorctl sends one extra).
    let mut first = line(r)?;
    while first.is_empty() {
        first = line(r)?;
    }
    let bad = |why: &str| ReadError::Refused(400, why.to_string());
    let mut parts = first.split(' ');
    let (Some(method), Some(url), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the request line is not METHOD URL HTTP/1.x"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Refused(
            505,
            "only HTTP/1.x is spoken here".into(),
        ));
    }
    let mut headers = Vec::new();
    loop {
        let l = line(r)?;
        if l.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Refused(431, "too many headers".into()));
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| bad("a header without a colon"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some() {
        return Err(ReadError::Refused(
            411,
            "send a Content-Length, not chunks".into(),
        ));
    }
    let length = match header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| bad("Content-Length is not a number"))?,
    };
    if length > max_body {
        return Err(ReadError::Refused(
            413,
            format!("the body is over the limit of {max_body} bytes"),
        ));
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Ok(Request {
        method: method.to_string(),
        url: url.to_string(),
        keep_alive: version == "HTTP/1.1" && !close,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        s if s < 400 => "OK",
        s if s < 500 => "Client Error",
        _ => "Server Error",
    }
}

/// Write `reply` with its length.
pub fn write_reply(w: &mut impl Write, reply: &Reply, keep_alive: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    for (k, v) in &reply.headers {
        if !v.contains(['\r', '\n']) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(&reply.body)?;
    w.flush()
}

/// The head of a chunked answer (a stream of unknown length).
pub fn write_chunked_head(w: &mut impl Write, content_type: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    w.write_all(head.as_bytes())?;
    w.flush()
}

/// One chunk; an empty `data` writes nothing (it would end the stream).
pub fn write_chunk(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Request, ReadError> {
        read_request(&mut io::BufReader::new(raw.as_bytes()), 10)
    }

    #[test]
    fn requests_and_refusals() {
        let r = read("\r\nPOST /RPC2 HTTP/1.1\r\nContent-Length: 3\r\nHost: x\r\n\r\nabc").unwrap();
        assert_eq!(
            (r.method.as_str(), r.url.as_str(), r.body.as_slice()),
            ("POST", "/RPC2", &b"abc"[..])
        );
        assert!(r.keep_alive);
        let r = read("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!r.keep_alive);
        let status = |raw: &str| match read(raw) {
            Err(ReadError::Refused(s, _)) => s,
            other => panic!("{raw:?}: {:?}", other.map(|r| r.url)),
        };
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"), 413);
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(status("GET /\r\n\r\n"), 400);
        assert_eq!(status("GET / SPDY/3\r\n\r\n"), 505);
        assert_eq!(
            status(&format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000))),
            431
        );
        assert!(matches!(read(""), Err(ReadError::Closed)));
    }
}
