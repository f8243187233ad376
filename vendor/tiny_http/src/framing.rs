//! pistack patch: the request head and body framing as pure functions, so that
//! every rule is in one place, testable without a socket and fuzzable
//! (`fuzz/` in the pistack repository).
//!
//! The rules follow RFC 9112: a message whose framing is ambiguous (a
//! `Content-Length` that is not plain decimal, two that differ, one together
//! with `Transfer-Encoding`, a transfer coding other than `chunked`) is refused
//! with 400 and the connection closed, never guessed at: a proxy in front that
//! guessed differently would let a request be smuggled.

use std::io::{ErrorKind, Read};
use std::str::FromStr;

use ascii::AsciiString;

use crate::common::{HTTPVersion, Header, HeaderField, Method};

/// Largest request head (request line and headers), in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest request line (method, target, version).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most header fields in one head.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line of a chunked body (size, extensions).
const MAX_CHUNK_LINE: usize = 1024;

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    pub method: Method,
    pub target: String,
    pub version: HTTPVersion,
    pub headers: Vec<Header>,
    pub body: BodyFraming,
    /// The client sent `Expect: 100-continue` and waits before sending the body.
    pub expects_continue: bool,
}

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// A request refused before it reaches the application: the status to answer
/// with and a sentence for the client. The connection is always closed after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: &'static str,
}

const fn refuse(status: u16, message: &'static str) -> Refusal {
    Refusal { status, message }
}

/// Is `bytes` (read so far) a complete head? True once it ends with an empty
/// line; a bare LF is accepted here so that the parser can refuse it with 400
/// rather than waiting for a CRLF that never comes.
pub fn head_complete(bytes: &[u8]) -> bool {
    bytes.ends_with(b"\n\r\n") || bytes.ends_with(b"\n\n")
}

/// Parse a complete head (request line, header lines, the empty line).
pub fn parse_head(bytes: &[u8]) -> Result<Head, Refusal> {
    if bytes.len() > MAX_HEAD_BYTES {
        return Err(refuse(431, "the request head is too large"));
    }
    let mut lines = split_lines(bytes)?;
    let request_line = lines
        .next()
        .ok_or(refuse(400, "the request line is missing"))?;
    if request_line.len() > MAX_REQUEST_LINE {
        return Err(refuse(414, "the request target is too long"));
    }
    let (method, target, version) = parse_request_line(request_line)?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(refuse(431, "the request has too many header fields"));
        }
        headers.push(parse_header_line(line)?);
    }
    let body = body_framing(&headers, &version)?;
    let expects_continue = match find_one(&headers, "Expect")? {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
        Some(_) => return Err(refuse(417, "the only Expect this server knows is 100-continue")),
    };
    Ok(Head {
        method,
        target,
        version,
        headers,
        body,
        expects_continue,
    })
}

/// The lines of a head, each without its CRLF; a lone CR or LF is refused.
fn split_lines(bytes: &[u8]) -> Result<impl Iterator<Item = &[u8]>, Refusal> {
    let bare = |i: usize, b: &u8| {
        (*b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
            || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    };
    if bytes.iter().enumerate().any(|(i, b)| bare(i, b)) {
        return Err(refuse(400, "lines of a request head must end with CRLF"));
    }
    if !bytes.ends_with(b"\r\n\r\n") {
        return Err(refuse(400, "the request head is incomplete"));
    }
    let body = &bytes[..bytes.len() - 4];
    Ok(body.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)))
}

fn parse_request_line(line: &[u8]) -> Result<(Method, String, HTTPVersion), Refusal> {
    let bad = refuse(400, "the request line must be METHOD TARGET HTTP/1.1");
    let line = std::str::from_utf8(line).map_err(|_| bad)?;
    if !line.is_ascii() {
        return Err(bad);
    }
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(bad),
    };
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(bad);
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad);
    }
    let version = match version {
        "HTTP/1.0" => HTTPVersion(1, 0),
        "HTTP/1.1" => HTTPVersion(1, 1),
        v if v.starts_with("HTTP/") => {
            return Err(refuse(505, "this server speaks HTTP/1.0 and HTTP/1.1 only"))
        }
        _ => return Err(bad),
    };
    let method = Method::from_str(method).map_err(|_| bad)?;
    Ok((method, target.to_owned(), version))
}

/// `Name: value`, the name a token right before the colon (no space: RFC 9112
/// §5.1), the value visible ASCII, spaces and tabs; no line folding.
fn parse_header_line(line: &[u8]) -> Result<Header, Refusal> {
    let bad = refuse(400, "a header line must be Name: value");
    let colon = line.iter().position(|b| *b == b':').ok_or(bad)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().copied().all(is_token) {
        return Err(bad);
    }
    if !value
        .iter()
        .all(|b| *b == b'\t' || (b' '..0x7f).contains(b))
    {
        return Err(refuse(400, "header values must be visible ASCII (no control bytes, no UTF-8)"));
    }
    let value = trim_ows(value);
    let field = HeaderField::from_bytes(name.to_vec()).map_err(|_| bad)?;
    let value = AsciiString::from_ascii(value.to_vec()).map_err(|_| bad)?;
    Ok(Header { field, value })
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// tchar of RFC 9110 §5.6.2.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The one value of a header that may appear once (or repeated identically).
fn find_one<'a>(headers: &'a [Header], name: &'static str) -> Result<Option<&'a str>, Refusal> {
    let mut found: Option<&str> = None;
    for h in headers.iter().filter(|h| h.field.equiv(name)) {
        match found {
            Some(v) if v != h.value.as_str() => {
                return Err(refuse(400, "a header that must appear once appears with different values"))
            }
            _ => found = Some(h.value.as_str()),
        }
    }
    Ok(found)
}

fn body_framing(headers: &[Header], version: &HTTPVersion) -> Result<BodyFraming, Refusal> {
    let te_count = headers
        .iter()
        .filter(|h| h.field.equiv("Transfer-Encoding"))
        .count();
    let length = match find_one(headers, "Content-Length") {
        Ok(v) => v,
        Err(_) => return Err(refuse(400, "two different Content-Length headers")),
    };
    if te_count > 0 {
        if length.is_some() {
            return Err(refuse(400, "Transfer-Encoding and Content-Length together are ambiguous"));
        }
        if *version < HTTPVersion(1, 1) {
            return Err(refuse(400, "Transfer-Encoding is not allowed in HTTP/1.0"));
        }
        let te = find_one(headers, "Transfer-Encoding")
            .map_err(|_| refuse(400, "the only Transfer-Encoding accepted is chunked"))?;
        return match te {
            Some(v) if v.eq_ignore_ascii_case("chunked") => Ok(BodyFraming::Chunked),
            _ => Err(refuse(400, "the only Transfer-Encoding accepted is chunked")),
        };
    }
    match length {
        None => Ok(BodyFraming::None),
        Some(v) => parse_decimal(v)
            .map(|n| if n == 0 { BodyFraming::None } else { BodyFraming::Length(n) })
            .ok_or(refuse(400, "Content-Length must be a plain decimal number")),
    }
}

/// 1*DIGIT that fits in a u64; nothing else (no sign, no spaces, no hex).
fn parse_decimal(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is larger than the limit (declared or sent).
    TooLarge,
    /// The chunked coding is malformed.
    Malformed(&'static str),
    /// The socket failed, timed out or closed early.
    Io(std::io::Error),
}

impl From<std::io::Error> for BodyError {
    fn from(e: std::io::Error) -> BodyError {
        BodyError::Io(e)
    }
}

/// Read a body framed as `framing`, at most `max` bytes. Memory grows with
/// the bytes actually received, never with a number the client wrote.
pub fn read_body<R: Read>(source: &mut R, framing: BodyFraming, max: usize) -> Result<Vec<u8>, BodyError> {
    match framing {
        BodyFraming::None => Ok(Vec::new()),
        BodyFraming::Length(n) if n > max as u64 => Err(BodyError::TooLarge),
        BodyFraming::Length(n) => {
            let mut body = Vec::new();
            let got = source.take(n).read_to_end(&mut body)?;
            if (got as u64) < n {
                return Err(BodyError::Io(ErrorKind::UnexpectedEof.into()));
            }
            Ok(body)
        }
        BodyFraming::Chunked => read_chunked(source, max),
    }
}

/// A chunked body (RFC 9112 §7.1): size lines bounded, extensions ignored,
/// trailer fields read and dropped (bounded like a head).
fn read_chunked<R: Read>(source: &mut R, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(source, MAX_CHUNK_LINE)?;
        let size = line.split(|b| *b == b';').next().unwrap_or(&[]);
        let size = std::str::from_utf8(trim_ows(size))
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or(BodyError::Malformed("a chunk size must be hexadecimal"))?;
        if size == 0 {
            break;
        }
        if size > (max - body.len()) as u64 {
            return Err(BodyError::TooLarge);
        }
        let before = body.len();
        source.take(size).read_to_end(&mut body)?;
        if ((body.len() - before) as u64) < size {
            return Err(BodyError::Io(ErrorKind::UnexpectedEof.into()));
        }
        if !read_line(source, 0)?.is_empty() {
            return Err(BodyError::Malformed("a chunk must end with CRLF"));
        }
    }
    let mut trailers = 0;
    while !read_line(source, MAX_CHUNK_LINE)?.is_empty() {
        trailers += 1;
        if trailers > MAX_HEADERS {
            return Err(BodyError::Malformed("too many trailer fields"));
        }
    }
    Ok(body)
}

/// One CRLF-terminated line of at most `max` bytes, without the CRLF.
fn read_line<R: Read>(source: &mut R, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if source.read(&mut byte)? == 0 {
            return Err(BodyError::Io(ErrorKind::UnexpectedEof.into()));
        }
        match byte[0] {
            b'\r' => {
                if source.read(&mut byte)? == 0 {
                    return Err(BodyError::Io(ErrorKind::UnexpectedEof.into()));
                }
                if byte[0] != b'\n' {
                    return Err(BodyError::Malformed("a line must end with CRLF"));
                }
                return Ok(line);
            }
            b'\n' => return Err(BodyError::Malformed("a line must end with CRLF")),
            b if line.len() < max => line.push(b),
            _ => return Err(BodyError::Malformed("a chunk line is too long")),
        }
    }
}
