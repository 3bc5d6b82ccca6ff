//! Chunked transfer coding (RFC 9112 §7.1): an incremental, zero-copy decoder for request and
//! upstream response bodies, and the two encoder pieces rampart writes.
//!
//! The decoder is nginx 1.22's `ngx_http_parse_chunked` (src/http/ngx_http_parse.c) with
//! `keep_trailers` off:
//! - hex sizes of any length with leading zeros; a size over 2^63 - 1 (checked before each digit
//!   as nginx does) is an error;
//! - SP, HT or `;` after the size start an extension, which is skipped up to the line end;
//! - a bare LF ends any framing line (nginx rejects that only since 1.29.4); a CR must be
//!   followed by LF; the CR LF after chunk data is required, with nothing before it;
//! - trailer lines after the last chunk are read and discarded, unchecked;
//! - the body ends after the empty line that closes the trailer section. Bytes after it belong
//!   to the next message and are not consumed.
//!
//! Usage: feed whatever arrived; each [`Step`] says how many bytes were consumed, which of them
//! (if any) are body data, and whether the body is complete. Loop on the unconsumed rest.
//!
//! ```
//! use rampart::http1::chunked::ChunkedDecoder;
//! let mut dec = ChunkedDecoder::new();
//! let mut input: &[u8] = b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nNEXT";
//! let mut body = Vec::new();
//! loop {
//!     let step = dec.decode(input).unwrap();
//!     if let Some(r) = step.data.clone() { body.extend_from_slice(&input[r]); }
//!     input = &input[step.consumed..];
//!     if step.done || input.is_empty() { break; }
//! }
//! assert_eq!(body, b"hello");
//! assert_eq!(input, b"NEXT");
//! ```

use std::ops::Range;

use super::error::ChunkError;

/// The last chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends a chunk-size line (`{len:x}\r\n`) for a chunk of `len` bytes. `len` must not be 0
/// (that is [`LAST_CHUNK`]).
pub fn write_chunk_header(len: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// nginx `NGX_MAX_OFF_T_VALUE`.
const MAX_SIZE: u64 = i64::MAX as u64;

const INVALID: ChunkError = ChunkError {
    reason: "invalid chunked body",
};
const TOO_LARGE: ChunkError = ChunkError {
    reason: "chunk size is too large",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    ChunkStart,
    Size,
    Extension,
    ExtensionAlmostDone,
    Data,
    AfterData,
    AfterDataAlmostDone,
    LastExtension,
    LastExtensionAlmostDone,
    Trailer,
    TrailerAlmostDone,
    TrailerHeader,
    TrailerHeaderAlmostDone,
    Done,
}

/// Incremental chunked-body decoder; see the module documentation.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Chunk size being parsed, then the data bytes left in the current chunk.
    size: u64,
}

/// The outcome of one [`ChunkedDecoder::decode`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Bytes of the input used (framing and data). The rest is to be fed again, or, once `done`,
    /// belongs to whatever follows the body.
    pub consumed: usize,
    /// Body bytes, as a range of the input given to this call.
    pub data: Option<Range<usize>>,
    /// The last chunk and the trailer section have been read.
    pub done: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn hex_value(ch: u8) -> Option<u64> {
    match ch {
        b'0'..=b'9' => Some(u64::from(ch - b'0')),
        b'a'..=b'f' => Some(u64::from(ch - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(ch - b'A' + 10)),
        _ => None,
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::ChunkStart,
            size: 0,
        }
    }

    /// The whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes still expected in the current chunk (0 between chunks).
    pub fn remaining_in_chunk(&self) -> u64 {
        if self.state == State::Data {
            self.size
        } else {
            0
        }
    }

    /// Decodes from the start of `input`: stops after the first run of data bytes, at the end of
    /// the body, or when the input is used up. After an error the decoder must not be reused.
    pub fn decode(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        if self.state == State::Done {
            return Ok(Step {
                consumed: 0,
                data: None,
                done: true,
            });
        }
        let mut pos = 0;
        while pos < input.len() {
            if self.state == State::Data {
                let avail = (input.len() - pos) as u64;
                let n = self.size.min(avail);
                self.size -= n;
                if self.size == 0 {
                    self.state = State::AfterData;
                }
                // n <= avail, so it fits in usize.
                let end = pos + n as usize;
                return Ok(Step {
                    consumed: end,
                    data: Some(pos..end),
                    done: false,
                });
            }
            let ch = input[pos];
            pos += 1;
            self.state = match self.state {
                State::ChunkStart => {
                    self.size = hex_value(ch).ok_or(INVALID)?;
                    State::Size
                }
                State::Size => self.after_size_byte(ch)?,
                State::Extension => match ch {
                    b'\r' => State::ExtensionAlmostDone,
                    b'\n' => State::Data,
                    _ => State::Extension,
                },
                State::ExtensionAlmostDone | State::AfterDataAlmostDone | State::LastExtensionAlmostDone => {
                    if ch != b'\n' {
                        return Err(INVALID);
                    }
                    match self.state {
                        State::ExtensionAlmostDone => State::Data,
                        State::AfterDataAlmostDone => State::ChunkStart,
                        _ => State::Trailer,
                    }
                }
                State::AfterData => match ch {
                    b'\r' => State::AfterDataAlmostDone,
                    b'\n' => State::ChunkStart,
                    _ => return Err(INVALID),
                },
                State::LastExtension => match ch {
                    b'\r' => State::LastExtensionAlmostDone,
                    b'\n' => State::Trailer,
                    _ => State::LastExtension,
                },
                State::Trailer => match ch {
                    b'\r' => State::TrailerAlmostDone,
                    b'\n' => State::Done,
                    _ => State::TrailerHeader,
                },
                State::TrailerAlmostDone => match ch {
                    b'\n' => State::Done,
                    _ => return Err(INVALID),
                },
                State::TrailerHeader => match ch {
                    b'\r' => State::TrailerHeaderAlmostDone,
                    b'\n' => State::Trailer,
                    _ => State::TrailerHeader,
                },
                State::TrailerHeaderAlmostDone => match ch {
                    b'\n' => State::Trailer,
                    _ => return Err(INVALID),
                },
                // Both are handled before the byte is read.
                State::Data | State::Done => return Err(INVALID),
            };
            if self.state == State::Done {
                return Ok(Step {
                    consumed: pos,
                    data: None,
                    done: true,
                });
            }
            if self.state == State::Data && self.size > MAX_SIZE - 5 {
                return Err(TOO_LARGE);
            }
        }
        Ok(Step {
            consumed: pos,
            data: None,
            done: self.state == State::Done,
        })
    }

    /// nginx `sw_chunk_size`: the overflow guard runs before every byte, the terminator included.
    fn after_size_byte(&mut self, ch: u8) -> Result<State, ChunkError> {
        if self.size > MAX_SIZE / 16 {
            return Err(TOO_LARGE);
        }
        if let Some(d) = hex_value(ch) {
            self.size = self.size * 16 + d;
            return Ok(State::Size);
        }
        let last = self.size == 0;
        Ok(match ch {
            b'\r' if last => State::LastExtensionAlmostDone,
            b'\n' if last => State::Trailer,
            b';' | b' ' | b'\t' if last => State::LastExtension,
            b'\r' => State::ExtensionAlmostDone,
            b'\n' => State::Data,
            b';' | b' ' | b'\t' => State::Extension,
            _ => return Err(INVALID),
        })
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
