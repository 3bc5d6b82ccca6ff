//! Access-log variables for a request that failed before it had a parsed head
//! (400, 414, 494, 408): nginx still logs it, with what it knows.

use crate::exchange::loc_conf::ServerCore;
use crate::http::conn::ConnInfo;
use crate::log::clock;
use crate::vars::{Var, VarSource};
use std::time::Instant;

pub struct RejectedRequest<'a> {
    pub conn: ConnInfo,
    pub status: u16,
    pub bytes_sent: u64,
    pub header_bytes: u64,
    pub started: Instant,
    pub server: &'a ServerCore,
    /// The raw request line as far as it arrived (for `$request`).
    pub request_line: &'a [u8],
    /// What the error page's head carried: Content-Type and Content-Length
    /// (`$sent_http_*`; `Connection: close` always). None when nothing was sent.
    pub sent: Option<(bytes::Bytes, u64)>,
}

impl RejectedRequest<'_> {
    /// The method, once the request line got past it (nginx sets
    /// `r->method_name` when it has parsed the method and its space).
    fn method(&self) -> Option<&[u8]> {
        let sp = self.request_line.iter().position(|&b| b == b' ')?;
        let m = &self.request_line[..sp];
        (!m.is_empty()
            && m.iter()
                .all(|b| b.is_ascii_uppercase() || matches!(b, b'_' | b'-')))
        .then_some(m)
    }
}

impl VarSource for RejectedRequest<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::RemoteAddr => out.extend_from_slice(self.conn.peer.ip().to_string().as_bytes()),
            Var::RemotePort => out.extend_from_slice(self.conn.peer.port().to_string().as_bytes()),
            Var::ServerAddr => out.extend_from_slice(self.conn.local.ip().to_string().as_bytes()),
            Var::ServerPort => out.extend_from_slice(self.conn.local.port().to_string().as_bytes()),
            Var::ServerName | Var::Host => out.extend_from_slice(&self.server.name),
            Var::Request => out.extend_from_slice(self.request_line),
            Var::RequestMethod => match self.method() {
                Some(m) => out.extend_from_slice(m),
                None => return false,
            },
            // r->uri and the `?` flag are empty (found) for a request nginx
            // rejected: the URI was never set.
            Var::Uri | Var::IsArgs => {}
            Var::SentHttp(name) => match (name.as_str(), &self.sent) {
                ("content_type", Some((t, _))) => out.extend_from_slice(t),
                ("content_length", Some((_, n))) => out.extend_from_slice(n.to_string().as_bytes()),
                ("connection", Some(_)) => out.extend_from_slice(b"close"),
                _ => return false,
            },
            // nginx: an empty (found) value on HTTP/1.x.
            Var::Http2 => out.extend_from_slice(self.conn.http2.unwrap_or("").as_bytes()),
            Var::Status => out.extend_from_slice(
                format!("{:03}", crate::http::status::wire_status(self.status)).as_bytes(),
            ),
            Var::BytesSent => out.extend_from_slice(self.bytes_sent.to_string().as_bytes()),
            Var::BodyBytesSent => out.extend_from_slice(
                self.bytes_sent
                    .saturating_sub(self.header_bytes)
                    .to_string()
                    .as_bytes(),
            ),
            Var::Msec => out.extend_from_slice(clock::now().msec().as_bytes()),
            Var::TimeLocal => out.extend_from_slice(clock::now().time_local().as_bytes()),
            Var::TimeIso8601 => out.extend_from_slice(clock::now().time_iso8601().as_bytes()),
            Var::RequestTime => {
                let ms = self.started.elapsed().as_millis() as u64;
                out.extend_from_slice(format!("{}.{:03}", ms / 1000, ms % 1000).as_bytes());
            }
            Var::Connection => out.extend_from_slice(self.conn.number.to_string().as_bytes()),
            Var::ConnectionRequests => out.extend_from_slice(self.conn.requests.to_string().as_bytes()),
            Var::Pipe => out.push(b'.'),
            _ => return false,
        }
        true
    }
}
