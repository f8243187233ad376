use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::common::HTTPVersion;
use crate::connection::Connection;
use crate::framing::{self, BodyError, Refusal, MAX_HEAD_BYTES};
use crate::util::guard::{Deadline, DeadlineStream, Slot};
use crate::util::RefinedTcpStream;
use crate::util::SequentialWriterBuilder;
use crate::{ConnectionLimits, Request, Response};

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
///
/// pistack patch: a request is read whole here — head, then body, each within
/// the idle timeout as a total deadline, the body at most `max_body_bytes` —
/// before it is handed to a worker, so a slow or lying client holds only its
/// own connection thread, never a worker. The framing rules are in
/// `framing.rs`; a request they refuse gets a JSON error and the connection
/// is closed.
pub struct ClientConnection {
    // address of the client (pistack patch: `None` when the client is already
    // gone, instead of a panic when the request is built)
    remote_addr: Option<SocketAddr>,

    // pistack patch: the one reader of the socket; every read is bounded by `deadline`
    reader: BufReader<DeadlineStream<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // pistack patch: the socket itself (timeouts, shutdown), its place in the
    // connection registry, the deadline of what is being read, and the limits
    control: Arc<Connection>,
    slot: Slot,
    deadline: Arc<Deadline>,
    limits: ConnectionLimits,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    /// pistack patch: answer with this status and message, then close.
    Refused(Refusal),
    ReadIoError(IoError),
}

/// Longest a refused client is given to stop sending before the socket closes.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes read and thrown away while lingering.
const LINGER_BYTES: usize = 256 * 1024;

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub(crate) fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        control: Arc<Connection>,
        slot: Slot,
        limits: ConnectionLimits,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr().ok().flatten();
        let secure = read_socket.secure();
        let deadline = Arc::new(Deadline::default());
        let stream = DeadlineStream::new(
            read_socket,
            control.clone(),
            limits.idle_timeout,
            deadline.clone(),
        );

        ClientConnection {
            reader: BufReader::with_capacity(1024, stream),
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            no_more_requests: false,
            secure,
            control,
            slot,
            deadline,
            limits,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    fn next_byte(&mut self) -> IoResult<u8> {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte)? {
            0 => Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            _ => Ok(byte[0]),
        }
    }

    /// pistack patch: the raw head, up to and with its empty line. Waiting for
    /// the first byte is idle time (the connection may be reclaimed); from the
    /// first byte on, the whole head must arrive within the idle timeout.
    fn read_head(&mut self) -> Result<Vec<u8>, ReadError> {
        self.slot.set_idle(true);
        let first = self.next_byte();
        self.slot.set_idle(false);
        let mut byte = first.map_err(ReadError::ReadIoError)?;
        self.deadline.set(self.limits.idle_timeout);
        let next = |c: &mut Self| {
            c.next_byte().map_err(|e| match e.kind() {
                ErrorKind::WouldBlock => ReadError::ReadIoError(ErrorKind::TimedOut.into()),
                _ => ReadError::ReadIoError(e),
            })
        };
        // RFC 9112 §2.2: ignore a few empty lines before a request line.
        for _ in 0..4 {
            if byte != b'\r' && byte != b'\n' {
                break;
            }
            byte = next(self)?;
        }
        let mut head = vec![byte];
        while !framing::head_complete(&head) {
            if head.len() >= MAX_HEAD_BYTES {
                return Err(ReadError::Refused(Refusal {
                    status: 431,
                    message: "the request head is too large",
                }));
            }
            head.push(next(self)?);
        }
        Ok(head)
    }

    /// Reads a request from the stream: its head, then its whole body.
    fn read(&mut self) -> Result<Request, ReadError> {
        let raw = self.read_head()?;
        let head = framing::parse_head(&raw).map_err(ReadError::Refused)?;
        let max = self.limits.max_body_bytes;
        let declared = match head.body {
            framing::BodyFraming::Length(n) => Some(n),
            _ => None,
        };
        if declared.is_some_and(|n| n > max as u64) {
            return Err(ReadError::Refused(too_large()));
        }
        let has_body = head.body != framing::BodyFraming::None;
        if head.expects_continue && has_body && head.version >= HTTPVersion(1, 1) {
            let mut writer = self.sink.next().unwrap();
            writer
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .and_then(|_| writer.flush())
                .map_err(ReadError::ReadIoError)?;
        }
        // The body has its own deadline, as long as the head's.
        self.deadline.set(self.limits.idle_timeout);
        let body = framing::read_body(&mut self.reader, head.body, max).map_err(|e| match e {
            BodyError::TooLarge => ReadError::Refused(too_large()),
            BodyError::Malformed(message) => ReadError::Refused(Refusal {
                status: 400,
                message,
            }),
            BodyError::Io(e) if e.kind() == ErrorKind::WouldBlock => {
                ReadError::ReadIoError(ErrorKind::TimedOut.into())
            }
            BodyError::Io(e) => ReadError::ReadIoError(e),
        })?;
        self.deadline.set(None);

        // building the writer for the request
        let writer = self.sink.next().unwrap();
        Ok(crate::request::new_request(
            self.secure,
            head.method,
            head.target,
            head.version,
            head.headers,
            self.remote_addr,
            body,
            declared.map(|n| n as usize),
            writer,
        ))
    }

    /// pistack patch: answer a refused request with a JSON error and close.
    /// The client may still be sending (a body we will not read): shut our
    /// side, then read and drop what arrives for a moment, so that the answer
    /// reaches the client before the socket closes, instead of a reset.
    fn refuse(&mut self, refusal: Refusal) {
        let mut writer = self.sink.next().unwrap();
        let response = Response::json_error(refusal.status, refusal.message);
        response
            .raw_print(&mut writer, HTTPVersion(1, 1), &[], false, None)
            .ok();
        writer.flush().ok();
        drop(writer);
        let _ = self.control.shutdown(Shutdown::Write);
        self.deadline.set(Some(LINGER));
        let mut buf = [0u8; 4096];
        let mut thrown = 0;
        while thrown < LINGER_BYTES {
            match self.reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => thrown += n,
            }
        }
    }
}

fn too_large() -> Refusal {
    Refusal {
        status: 413,
        message: "the body is over the server's limit (http.max_body_bytes)",
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        let rq = match self.read() {
            Err(ReadError::Refused(refusal)) => {
                self.refuse(refusal);
                return None;
            }
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                self.refuse(Refusal {
                    status: 408,
                    message: "the request did not arrive in time",
                });
                return None;
            }
            Err(ReadError::ReadIoError(_)) => return None,
            Ok(rq) => rq,
        };

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };

        // returning the request
        Some(rq)
    }
}
