//! rampart's own HTTP/1.x wire codec for the client side and for upstream responses.
//!
//! rampart does not hand client connections to hyper: nginx answers bad input with specific
//! statuses (400/414/494/501/505), sizes request heads with its header-buffer model, and keeps
//! idle connections nearly free. This module reproduces nginx 1.22.1's parsers
//! (src/http/ngx_http_parse.c, ngx_http_request.c, ngx_http_upstream.c) without copying: a parsed
//! head keeps its bytes and ranges into them.
//!
//! - [`request`]: client request heads ([`find_head_end`], [`HeadScan`],
//!   [`parse_request_head`]).
//! - [`response`]: upstream response heads ([`parse_response_head`]).
//! - [`chunked`]: an incremental, zero-copy chunked-body decoder and the encoder helpers.

pub mod chunked;
pub mod error;
mod header;
mod limits;
pub mod request;
mod request_line;
pub mod response;

pub use chunked::{write_chunk_header, ChunkedDecoder, Step, LAST_CHUNK};
pub use error::{ChunkError, HeadError, UpstreamHeadError};
pub use request::{
    check_partial_head, find_head_end, parse_request_head, parse_request_head_with, HeadLimits, HeadScan,
    RequestHead, Version,
};
pub use request_line::validate_host;
pub use response::{parse_response_head, BodyFraming, ResponseHead};
