//! The gzip filter for proxied responses: nginx runs its gzip header filter
//! on upstream responses exactly as on static ones (after `expires` and
//! `add_header`, before the chunked filter), so the decision is the same —
//! status 200/403/404, no Content-Encoding yet, upstream Content-Length (when
//! known) at least `gzip_min_length`, a type in `gzip_types`, then
//! `ngx_http_gzip_ok` (Accept-Encoding, HTTP version, `gzip_disable`, and
//! `gzip_proxied` when the request came through a proxy, judged on the
//! response's Expires / Cache-Control / Last-Modified / ETag). The body is
//! then compressed on its way through `relay::BodyRelay`: in one piece when
//! it ends within 128 KiB, else chunk by chunk as it arrives.

use crate::filters::gzip::{ClientSide, Gzip, RespSide};
use crate::server::pipeline::Exchange;
use crate::server::response::ResponseHead;

/// Decides whether the response to `ex` is compressed; when it is, changes
/// the head as nginx does (Vary with `gzip_vary` as soon as the response
/// type qualifies, then Content-Encoding, weak ETag, no Accept-Ranges). A
/// HEAD response gets the same headers (nginx sets `header_only` only in its
/// last header filter). `up_len` is the upstream Content-Length.
pub(super) fn decide(ex: &Exchange<'_>, h: &mut ResponseHead, up_len: Option<u64>) -> Decision {
    let gz = &ex.req.loc.conf.gzip;
    if !gz.on {
        return Decision::Plain;
    }
    let ct = h.content_type.as_deref().unwrap_or_default();
    let encoded = h
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"content-encoding") && !v.is_empty());
    if !gz.eligible(h.status, ct, up_len, encoded) {
        return Decision::Plain;
    }
    if gz.vary {
        h.vary_accept_encoding = true;
    }
    let rh = &ex.req.head;
    let client = ClientSide {
        accept_encoding: rh.header(b"accept-encoding"),
        user_agent: rh.header(b"user-agent"),
        http11: rh.version() == crate::http1::Version::Http11,
        via: rh.header(b"via").is_some(),
        authorization: rh.header(b"authorization").is_some(),
    };
    let header = |name: &'static [u8]| {
        h.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    };
    let resp = RespSide {
        expires: header(b"expires").next(),
        cache_control: header(b"cache-control").collect(),
        last_modified: h.last_modified.is_some(),
        etag: header(b"etag").next().is_some(),
        now: crate::log::clock::now().unix_secs(),
    };
    if !gz.client_ok(&client, &resp) {
        return Decision::Plain;
    }
    crate::filters::gzip::compressed_headers(&mut h.headers);
    Decision::Compress(gz.level)
}

/// What `decide` found.
pub(super) enum Decision {
    /// The body passes unchanged.
    Plain,
    /// Compress at this `gzip_comp_level` (headers already changed).
    Compress(u32),
}

impl Decision {
    /// The encoder, unless there is no body to compress. `up_len` is the
    /// upstream Content-Length: a buffered body known or still likely to fit
    /// in one piece is compressed whole when it ends (see `Gzip::buffered`);
    /// an unbuffered one streams (and is flushed after each read).
    pub(super) fn encoder(&self, no_body: bool, up_len: Option<u64>, buffering: bool) -> Option<Gzip> {
        match self {
            Decision::Compress(level) if !no_body && buffering => Some(Gzip::buffered(*level, up_len)),
            Decision::Compress(level) if !no_body => Some(Gzip::new(*level)),
            _ => None,
        }
    }

    pub(super) fn compresses(&self) -> bool {
        matches!(self, Decision::Compress(_))
    }
}
