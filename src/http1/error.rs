//! Error values of the HTTP/1 codec.
//!
//! Each error carries the status nginx would answer with and the text nginx writes to its error log
//! (at `info` level for client errors, `error` for upstream ones), so that rampart's error log reads
//! like nginx's and the caller never has to map parse failures to statuses itself.

use std::fmt;

/// A client request head that nginx would reject.
///
/// `status` is what nginx finalises the request with: 400, 405, 414, 494, 501 or 505. 494 is
/// nginx's internal "Request Header Or Cookie Too Large": it goes on the wire as `400 Bad Request`
/// with its own error-page title (`ngx_http_special_response.c`) and is logged as 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadError {
    pub status: u16,
    pub reason: &'static str,
    /// The request line had already been parsed as HTTP/0.9 (no version): nginx answers such a
    /// request, errors included, with the body alone (`ngx_http_header_filter` writes no status
    /// line or headers for `r->http_version < NGX_HTTP_VERSION_10`).
    pub http09: bool,
}

impl HeadError {
    pub(crate) const fn new(status: u16, reason: &'static str) -> Self {
        HeadError {
            status,
            reason,
            http09: false,
        }
    }

    /// The same error, found after an HTTP/0.9 request line (`http09`).
    pub(crate) const fn in_09(self, http09: bool) -> Self {
        HeadError { http09, ..self }
    }

    /// The status that goes on the wire (494 is sent as 400, `ngx_http_special_response.c`).
    pub fn wire_status(&self) -> u16 {
        if self.status == 494 {
            400
        } else {
            self.status
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)
    }
}

impl std::error::Error for HeadError {}

// The reason texts below are nginx 1.22's error-log messages (ngx_http_request.c), minus the
// quoted header values nginx appends.
pub(crate) const INVALID_METHOD: HeadError = HeadError::new(400, "client sent invalid method");
pub(crate) const INVALID_REQUEST: HeadError = HeadError::new(400, "client sent invalid request");
pub(crate) const INVALID_09_METHOD: HeadError =
    HeadError::new(400, "client sent invalid method in HTTP/0.9 request").in_09(true);
pub(crate) const INVALID_VERSION: HeadError = HeadError::new(505, "client sent invalid version");
pub(crate) const INVALID_HEADER: HeadError = HeadError::new(400, "client sent invalid header line");
pub(crate) const DUPLICATE_HEADER: HeadError = HeadError::new(400, "client sent duplicate header line");
pub(crate) const DUPLICATE_HOST: HeadError = HeadError::new(400, "client sent duplicate host header");
pub(crate) const INVALID_HOST: HeadError = HeadError::new(400, "client sent invalid host header");
pub(crate) const INVALID_HOST_IN_LINE: HeadError =
    HeadError::new(400, "client sent invalid host in request line");
pub(crate) const NO_HOST: HeadError =
    HeadError::new(400, "client sent HTTP/1.1 request without \"Host\" header");
pub(crate) const INVALID_CONTENT_LENGTH: HeadError =
    HeadError::new(400, "client sent invalid \"Content-Length\" header");
pub(crate) const TE_IN_HTTP10: HeadError = HeadError::new(
    400,
    "client sent HTTP/1.0 request with \"Transfer-Encoding\" header",
);
pub(crate) const CL_AND_TE: HeadError = HeadError::new(
    400,
    "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time",
);
pub(crate) const UNKNOWN_TE: HeadError = HeadError::new(501, "client sent unknown \"Transfer-Encoding\"");
pub(crate) const CONNECT_METHOD: HeadError = HeadError::new(405, "client sent CONNECT method");
pub(crate) const TRACE_METHOD: HeadError = HeadError::new(405, "client sent TRACE method");
pub(crate) const TOO_LONG_URI: HeadError = HeadError::new(414, "client sent too long URI");
pub(crate) const TOO_LONG_HEADER: HeadError = HeadError::new(494, "client sent too long header line");

/// An upstream response head nginx would refuse: the client gets 502 (`ngx_http_upstream.c`,
/// `NGX_HTTP_UPSTREAM_INVALID_HEADER`), and the upstream counts as failed for
/// `proxy_next_upstream invalid_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamHeadError {
    pub reason: &'static str,
    /// For an invalid header line: where the line starts and the offset of
    /// the byte the parser stopped at, in the buffer parsed.
    pub invalid_at: Option<(usize, usize)>,
}

impl UpstreamHeadError {
    /// nginx answers every upstream header error with 502 Bad Gateway.
    pub const STATUS: u16 = 502;

    /// nginx's log message for it (ngx_http_proxy_process_header): for an
    /// invalid line, the line up to the bad byte, then `\xHH...`:
    /// `upstream sent invalid header: "X-A: b\x00..."`.
    pub fn message(&self, buf: &[u8]) -> String {
        match self.invalid_at {
            Some((start, bad)) if start <= bad && bad < buf.len() => format!(
                "{}: \"{}\\x{:02x}...\"",
                self.reason,
                String::from_utf8_lossy(&buf[start..bad]),
                buf[bad]
            ),
            _ => self.reason.to_string(),
        }
    }
}

impl fmt::Display for UpstreamHeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for UpstreamHeadError {}

pub(crate) const UP_TOO_BIG: UpstreamHeadError = UpstreamHeadError {
    reason: "upstream sent too big header",
    invalid_at: None,
};
pub(crate) const UP_INVALID_HEADER: UpstreamHeadError = UpstreamHeadError {
    reason: "upstream sent invalid header",
    invalid_at: None,
};

/// Malformed chunked framing. A client body gets 400 (`ngx_http_request_body.c`: "client sent
/// invalid chunked body"); an upstream body is a 502 before the response head went out, and a
/// closed connection after ("upstream sent invalid chunked response").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError {
    pub reason: &'static str,
}

impl ChunkError {
    /// Status for a client request body.
    pub const CLIENT_STATUS: u16 = 400;
    /// Status for an upstream response body whose head has not been sent yet.
    pub const UPSTREAM_STATUS: u16 = 502;
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for ChunkError {}
