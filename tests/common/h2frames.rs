//! A raw HTTP/2 client for conformance tests: frames written and read byte
//! by byte over a real TCP connection (cleartext, prior knowledge), with a
//! literal-only HPACK encoder, so that a test can send exactly the malformed
//! input it means to.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;

pub const NO_ERROR: u32 = 0;
pub const PROTOCOL_ERROR: u32 = 1;
pub const INTERNAL_ERROR: u32 = 2;
pub const FLOW_CONTROL_ERROR: u32 = 3;
pub const STREAM_CLOSED: u32 = 5;
pub const FRAME_SIZE_ERROR: u32 = 6;
pub const REFUSED_STREAM: u32 = 7;
pub const CANCEL: u32 = 8;
pub const COMPRESSION_ERROR: u32 = 9;

#[derive(Debug, Clone)]
pub struct Frame {
    pub ty: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.ty {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        let b = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// What came from the server.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    Closed,
    Timeout,
}

/// How a case expects the server to react to an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// RST_STREAM with this code on the stream, or GOAWAY with it.
    Rst(u32, u32),
    /// GOAWAY with this code (or the connection closed without one).
    GoAway(u32),
}

pub struct H2 {
    s: TcpStream,
    buf: Vec<u8>,
    pub wait: Duration,
}

impl H2 {
    /// Connects and sends nothing.
    pub fn raw(addr: SocketAddr) -> H2 {
        let s = TcpStream::connect(addr).expect("connect");
        let _ = s.set_nodelay(true);
        H2 {
            s,
            buf: Vec::new(),
            wait: Duration::from_secs(3),
        }
    }

    /// Connects, sends the preface and an empty SETTINGS, reads the server's
    /// SETTINGS and acknowledges it.
    pub fn connect(addr: SocketAddr) -> H2 {
        H2::connect_after(addr, b"")
    }

    /// [`H2::connect`] with `prefix` (a PROXY protocol header) sent first.
    pub fn connect_after(addr: SocketAddr, prefix: &[u8]) -> H2 {
        let mut h = H2::raw(addr);
        let mut first = prefix.to_vec();
        first.extend_from_slice(PREFACE);
        h.send_bytes(&first);
        h.send(SETTINGS, 0, 0, &[]);
        let f = h
            .next_of(SETTINGS, |f| f.flags & ACK == 0)
            .expect("server SETTINGS");
        assert!(f.payload.len().is_multiple_of(6));
        h.send(SETTINGS, ACK, 0, &[]);
        h
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        // The server may already have closed: the read side reports it.
        let _ = self.s.write_all(b);
    }

    pub fn send(&mut self, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
        self.send_bytes(&frame(ty, flags, stream, payload));
    }

    /// HEADERS with END_HEADERS (and END_STREAM if `end`).
    pub fn headers<N: AsRef<str>, V: AsRef<str>>(&mut self, stream: u32, fields: &[(N, V)], end: bool) {
        let block = hpack(fields);
        let flags = END_HEADERS | if end { END_STREAM } else { 0 };
        self.send(HEADERS, flags, stream, &block);
    }

    /// A GET for `path` on `stream`, ended.
    pub fn get(&mut self, stream: u32, path: &str) {
        self.headers(stream, &request(path), true);
    }

    pub fn window_update(&mut self, stream: u32, inc: u32) {
        self.send(WINDOW_UPDATE, 0, stream, &inc.to_be_bytes());
    }

    /// The next frame, or Closed / Timeout.
    pub fn event(&mut self) -> Event {
        let deadline = Instant::now() + self.wait;
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        ty: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]])
                            & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Event::Frame(f);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Timeout;
            }
            let _ = self.s.set_read_timeout(Some(left));
            let mut chunk = [0u8; 16384];
            match self.s.read(&mut chunk) {
                Ok(0) => return Event::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Event::Timeout
                }
                Err(_) => return Event::Closed,
            }
        }
    }

    /// Skips frames until one of type `ty` that `pick` accepts.
    pub fn next_of(&mut self, ty: u8, pick: impl Fn(&Frame) -> bool) -> Option<Frame> {
        loop {
            match self.event() {
                Event::Frame(f) if f.ty == ty && pick(&f) => return Some(f),
                Event::Frame(_) => {}
                _ => return None,
            }
        }
    }

    /// Waits for the reaction `want` and says what was seen instead.
    pub fn expect(&mut self, want: &Outcome) -> Result<(), String> {
        loop {
            match (self.event(), want) {
                (Event::Frame(f), Outcome::Rst(stream, code))
                    if f.ty == RST_STREAM && f.stream == *stream =>
                {
                    return check(f.error_code(), *code, "RST_STREAM")
                }
                (Event::Frame(f), Outcome::Rst(_, code) | Outcome::GoAway(code)) if f.ty == GOAWAY => {
                    return check(f.error_code(), *code, "GOAWAY")
                }
                (Event::Frame(_), _) => {}
                (Event::Closed, Outcome::GoAway(_)) => return Ok(()),
                (e, _) => return Err(format!("wanted {want:?}, got {e:?}")),
            }
        }
    }

    /// Reads the response to `stream` up to END_STREAM: (first byte of the
    /// header block, body).
    pub fn response(&mut self, stream: u32) -> Result<(u8, Vec<u8>), String> {
        let mut first = None;
        let mut body = Vec::new();
        loop {
            match self.event() {
                Event::Frame(f) if f.stream == stream && f.ty == HEADERS => {
                    first = first.or(f.payload.first().copied());
                    if f.flags & END_STREAM != 0 {
                        break;
                    }
                }
                Event::Frame(f) if f.stream == stream && f.ty == DATA => {
                    body.extend_from_slice(&f.payload);
                    if !f.payload.is_empty() {
                        self.window_update(0, f.payload.len() as u32);
                        self.window_update(stream, f.payload.len() as u32);
                    }
                    if f.flags & END_STREAM != 0 {
                        break;
                    }
                }
                Event::Frame(f) if f.ty == GOAWAY || (f.ty == RST_STREAM && f.stream == stream) => {
                    return Err(format!("stream {stream} ended by {f:?}"))
                }
                Event::Frame(_) => {}
                e => return Err(format!("stream {stream}: {e:?}")),
            }
        }
        first.map(|b| (b, body)).ok_or_else(|| "no HEADERS".to_string())
    }

    /// A PING round trip works: the connection is still alive and usable.
    pub fn alive(&mut self) -> Result<(), String> {
        let data = *b"alive?!!";
        self.send(PING, 0, 0, &data);
        match self.next_of(PING, |f| f.flags & ACK != 0 && f.payload == data) {
            Some(f) if f.payload == data => Ok(()),
            other => Err(format!("no PING ACK: {other:?}")),
        }
    }
}

/// One frame's bytes (to send several in a single write).
pub fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(ty);
    f.push(flags);
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn check(got: Option<u32>, want: u32, what: &str) -> Result<(), String> {
    if got == Some(want) {
        Ok(())
    } else {
        Err(format!("{what} with code {got:?}, wanted {want}"))
    }
}

/// The pseudo-headers of a GET.
pub fn request(path: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "GET".to_string()),
        (":scheme", "http".to_string()),
        (":path", path.to_string()),
        (":authority", "localhost".to_string()),
    ]
}

/// HPACK: every field as "literal without indexing, new name", no Huffman.
pub fn hpack<N: AsRef<str>, V: AsRef<str>>(fields: &[(N, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.push(0x00);
        int(&mut out, n.as_ref().len(), 7, 0);
        out.extend_from_slice(n.as_ref().as_bytes());
        int(&mut out, v.as_ref().len(), 7, 0);
        out.extend_from_slice(v.as_ref().as_bytes());
    }
    out
}

/// HPACK integer with an N-bit prefix (RFC 7541 §5.1).
fn int(out: &mut Vec<u8>, mut v: usize, bits: u8, first: u8) {
    let max = (1usize << bits) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128 + 128) as u8);
        v /= 128;
    }
    out.push(v as u8);
}
