//! One request and its response: the types every phase and content
//! handler works on, below the features and above the leaf HTTP types.
//!
//! The server (src/server) reads a request head, builds an [`Exchange`] and
//! runs the phases on it; a feature's handler (proxy, static_files, ...)
//! gets the exchange and its own settings, and answers with a [`Reply`] or
//! by streaming through [`respond`] and [`io::ClientIo`]. Nothing here knows
//! the runtime snapshot or any feature: the location a request runs in is
//! its core part ([`loc_conf::LocCore`]), the features' settings are handed
//! to them by the server.

pub mod body;
pub mod doc_root;
pub mod h2_stream;
pub mod io;
pub mod lifecycle;
pub mod loc_conf;
pub mod request;
pub mod respond;

use crate::http::response::{ConnHeader, ResponseHead};
use crate::http1::Version;
use body::ReqBody;
use io::ClientIo;
use request::Request;
use std::time::Duration;

/// What a phase produced.
pub enum Reply {
    /// A status nginx generates itself (its built-in page; error_page applies).
    /// `location` is as configured: a relative one is made absolute when sent.
    Special { status: u16, location: Option<Vec<u8>> },
    /// A complete response held in memory.
    Full { head: ResponseHead, body: Vec<u8> },
    /// The handler streamed the response itself. `reusable` is false when the
    /// connection cannot carry another request (close-delimited body, broken
    /// upstream, unread request body).
    Sent { reusable: bool },
    /// Close without answering (`return 444`, client gone, 408).
    Close,
    /// An internal redirect asked for by a handler (index, try_files).
    Internal(Vec<u8>),
    /// A jump to a named location (try_files `@name`).
    Named(String),
}

/// Per-request state that the handlers share.
pub struct Exchange<'a> {
    pub io: &'a mut ClientIo,
    pub req: Request,
    pub body: ReqBody,
    /// The status error_page imposes on whatever the redirected request produces.
    pub override_status: Option<u16>,
    /// Set when the response went out with `Connection: close` semantics.
    pub close_after: bool,
    /// How long the connection has been open (for keepalive_time).
    pub conn_age: Duration,
    /// `WWW-Authenticate` set by auth_basic; kept through error_page as in nginx
    /// (it lives in `headers_out`, which an internal redirect does not clear).
    pub www_authenticate: Option<bytes::Bytes>,
}

impl Exchange<'_> {
    /// The client wants keep-alive and nginx's rules allow it (§11.6).
    pub fn keepalive_allowed(&self) -> bool {
        let h = &self.req.head;
        let wants = match h.version() {
            Version::Http11 => !h.conn_close(),
            Version::Http10 => h.conn_keep_alive() && !h.conn_close(),
            Version::Http09 => false,
        };
        let c = &self.req.loc.conf;
        // keepalive_disable (ngx_http_update_location_config): MSIE 4-6 after
        // a POST, and Safari on Mac OS X when `safari` is listed.
        let browser_ok = !(c.keepalive_disable_msie6 || c.keepalive_disable_safari)
            || h.header(b"user-agent").is_none_or(|ua| {
                let b = crate::filters::user_agent::classify(ua);
                !(b.msie6 && c.keepalive_disable_msie6 && h.method() == b"POST"
                    || b.safari && c.keepalive_disable_safari)
            });
        wants
            && browser_ok
            && !self.close_after
            && !c.keepalive_timeout.is_zero()
            && self.req.conn.requests < c.keepalive_requests
            && self.conn_age < c.keepalive_time
            && !lifecycle::draining()
            // An HTTP/2 stream carries one request; its connection lives on.
            && self.req.conn.http2.is_none()
    }

    pub fn conn_header(&self) -> ConnHeader {
        if self.keepalive_allowed() {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        }
    }
}

/// A status nginx generates itself, with no Location.
pub fn special(status: u16) -> Reply {
    Reply::Special {
        status,
        location: None,
    }
}
