//! The upstream response body on its way to the client: passed through when
//! length-delimited, decoded when chunked, and re-chunked for HTTP/1.1
//! clients when the length is unknown; gzip-compressed on the way when the
//! gzip filter chose to (a body of up to 128 KiB is held and compressed in
//! one piece when it ends, a longer one as each upstream read arrives, so
//! memory stays bounded: see `Gzip::buffered`).

use crate::filters::gzip::Gzip;
use crate::http1::{ChunkedDecoder, ResponseHead as UpHead};

/// Turns upstream body bytes into client body bytes: passes length-delimited
/// bodies through, decodes chunked, and re-chunks for HTTP/1.1 clients when
/// the length is unknown.
pub(super) struct BodyRelay {
    mode: RelayMode,
    /// The client takes the body in HTTP/1.1 chunks (`ClientIo::chunks`).
    chunked: bool,
    /// Upstream body bytes consumed, chunk framing included: nginx's
    /// `$upstream_response_length` (what its pipe read after the header).
    counted: u64,
    /// This read produced body bytes (for the unbuffered flush).
    emitted: bool,
    /// The gzip encoder when the response is compressed.
    gzip: Option<Gzip>,
    /// Sync-flush the gzip stream after each upstream read (unbuffered).
    flush: bool,
    /// Compressed bytes of one step, before chunk framing (reused).
    zbuf: Vec<u8>,
    /// The gzip stream's bytes in and out, once it ended (`$gzip_ratio`).
    gzip_totals: Option<(u64, u64)>,
    /// Bytes came past Content-Length (dropped; nginx warns).
    excess: bool,
}

enum RelayMode {
    None,
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl BodyRelay {
    pub(super) fn new(h: &UpHead, no_body: bool, chunked: bool, gzip: Option<Gzip>) -> BodyRelay {
        let mode = if no_body {
            RelayMode::None
        } else if h.chunked() {
            RelayMode::Chunked(ChunkedDecoder::new())
        } else if let Some(n) = h.content_length() {
            RelayMode::Length(n)
        } else {
            RelayMode::UntilClose
        };
        BodyRelay {
            mode,
            chunked,
            counted: 0,
            emitted: false,
            gzip: if no_body { None } else { gzip },
            flush: false,
            zbuf: Vec::new(),
            gzip_totals: None,
            excess: false,
        }
    }

    /// Unbuffered (`proxy_buffering off`): what each upstream read brings
    /// leaves compressed before the next read, as with nginx.
    pub(super) fn flush_each_read(&mut self) {
        self.flush = true;
    }

    /// The gzip stream's bytes in and out once it ended, for `$gzip_ratio`
    /// (None for a plain body or one cut short, as nginx's is "-").
    pub(super) fn gzip_totals(&self) -> Option<(u64, u64)> {
        self.gzip_totals
    }

    /// Body bytes still expected, when the upstream gave a length.
    pub(super) fn remaining(&self) -> Option<u64> {
        match self.mode {
            RelayMode::Length(n) => Some(n),
            _ => None,
        }
    }

    pub(super) fn take_counted(&mut self) -> u64 {
        std::mem::take(&mut self.counted)
    }

    fn emit(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.emitted = true;
        if self.gzip.is_some() {
            self.compressed(out, |z, o| z.feed_into(data, o));
        } else if self.chunked {
            frame_chunk(data, out);
        } else {
            out.extend_from_slice(data);
        }
    }

    /// Runs one step of the gzip stream (if any) into `out`, as one chunk
    /// for a chunked client.
    fn compressed(&mut self, out: &mut Vec<u8>, step: impl FnOnce(&mut Gzip, &mut Vec<u8>)) {
        let Some(z) = self.gzip.as_mut() else {
            return;
        };
        if self.chunked {
            self.zbuf.clear();
            step(z, &mut self.zbuf);
            frame_chunk(&self.zbuf, out);
        } else {
            step(z, out);
        }
    }

    /// The body ended: the rest of the gzip stream (the caller ends the
    /// client's body framing: `ClientIo::end_body`).
    fn end(&mut self, out: &mut Vec<u8>) {
        self.compressed(out, |z, o| z.finish_into(o));
        // Gives the deflate state back to this thread now.
        if let Some(z) = self.gzip.take() {
            self.gzip_totals = Some(z.totals());
        }
    }

    /// Returns true when the body is complete. Unbuffered, the compressed
    /// bytes of this read are flushed out with it.
    pub(super) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<bool, ()> {
        self.emitted = false;
        let done = self.feed_read(input, out)?;
        if self.flush && !done && self.emitted {
            self.compressed(out, |z, o| z.flush_into(o));
        }
        Ok(done)
    }

    fn feed_read(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<bool, ()> {
        loop {
            match &mut self.mode {
                RelayMode::None => return Ok(true),
                RelayMode::Length(left) => {
                    let n = (*left).min(input.len() as u64) as usize;
                    self.excess |= input.len() > n;
                    *left -= n as u64;
                    let done = *left == 0;
                    self.counted += n as u64;
                    self.emit(&input[..n], out);
                    if done {
                        self.end(out);
                    }
                    return Ok(done);
                }
                RelayMode::UntilClose => {
                    self.counted += input.len() as u64;
                    self.emit(input, out);
                    return Ok(false);
                }
                RelayMode::Chunked(dec) => {
                    if input.is_empty() {
                        return Ok(dec.is_done());
                    }
                    let step = dec.decode(input).map_err(|_| ())?;
                    self.counted += step.consumed as u64;
                    // The data is a slice of `input`, not of the decoder: no copy.
                    let data = step.data.clone().and_then(|r| input.get(r)).unwrap_or(&[]);
                    self.emit(data, out);
                    input = input.get(step.consumed..).unwrap_or(&[]);
                    if step.done {
                        self.end(out);
                        return Ok(true);
                    }
                    if step.consumed == 0 && step.data.is_none() {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Bytes came past the announced Content-Length (they are not relayed):
    /// nginx's "upstream sent more data than specified" warning, and the
    /// connection is not kept.
    pub(super) fn excess(&self) -> bool {
        self.excess
    }

    /// The upstream closed: is that a proper end of the body?
    pub(super) fn eof(&self) -> bool {
        matches!(self.mode, RelayMode::UntilClose | RelayMode::None)
    }

    /// Bytes to send after a proper end by close (the gzip stream's end).
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        if matches!(self.mode, RelayMode::UntilClose) {
            self.end(out);
        }
    }
}

/// One HTTP/1.1 chunk (nothing for empty data: that would be the last chunk).
fn frame_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    crate::http1::write_chunk_header(data.len(), out);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
