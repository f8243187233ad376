//! What a handler answers: a [`Reply`], or an [`ApiError`] that becomes
//! `{"message": ...}` with its status.

use serde::Serialize;

/// A response before it is written: status, content type, extra headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

pub const JSON: &str = "application/json; charset=utf-8";

impl Reply {
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status,
                content_type: JSON,
                headers: Vec::new(),
                body,
            },
            Err(e) => ApiError::internal(format!("cannot encode the answer: {e}")).into_reply(),
        }
    }

    pub fn ok<T: Serialize + ?Sized>(value: &T) -> Reply {
        Reply::json(200, value)
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            content_type: JSON,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body,
        }
    }
}

/// A failed request: the status and a sentence for the person reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(400, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> ApiError {
        ApiError::new(401, m).with_header("WWW-Authenticate", "Bearer")
    }
    pub fn forbidden(m: impl Into<String>) -> ApiError {
        ApiError::new(403, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(404, m)
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        ApiError::new(409, m)
    }
    pub fn unavailable(m: impl Into<String>) -> ApiError {
        ApiError::new(503, m)
    }
    /// Something on our side broke (a disk write failed). Logged, never a client's fault.
    pub fn internal(m: impl Into<String>) -> ApiError {
        let m = m.into();
        log::error!("{m}");
        ApiError::new(500, m)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    pub fn into_reply(self) -> Reply {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
        }
        let mut reply = Reply {
            status: self.status,
            content_type: JSON,
            headers: self.headers,
            body: serde_json::to_vec(&Body {
                message: &self.message,
            })
            .unwrap_or_default(),
        };
        if reply.body.is_empty() {
            reply.body = b"{\"message\":\"error\"}".to_vec();
        }
        reply
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::internal(format!("I/O error: {e}"))
    }
}
