//! The request line and headers sent upstream, by nginx's rules
//! (`ngx_http_proxy_create_request`, nginx/nginx:
//! src/http/modules/ngx_http_proxy_module.c; nginx-semantics.md §4.1–4.2).

use super::conf::{ProxyConf, ProxyTarget};
use crate::exchange::request::Request;
use crate::routing::uri::escape_uri;

/// The URI for the upstream request line.
///
/// - no URI part in proxy_pass, URI unchanged: the client's raw target;
/// - no URI part, URI changed by an internal redirect: escaped `$uri` + args;
/// - URI part: it replaces the first `prefix_len` bytes of `$uri` (positional,
///   so `location /a` + `http://b/x/` turns `/ab` into `/x/b`), rest escaped;
/// - after `rewrite ... break`: escaped `$uri` + args, whatever the URI part.
pub fn upstream_uri(req: &Request, target: &ProxyTarget, prefix_len: usize, out: &mut Vec<u8>) {
    match &target.uri {
        None if !req.uri_changed => out.extend_from_slice(req.head.target()),
        // `rewrite ... break` in this location: the whole changed `$uri` goes
        // upstream, the URI part ignored (nginx: `r->valid_location = 0`).
        _ if req.uri_rewritten_break || target.uri.is_none() => {
            escape_uri(&req.uri, out);
            push_args(req, out);
        }
        None => {}
        // proxy_pass with variables and a URI: that URI, whole.
        Some(part) if target.full_uri => out.extend_from_slice(part),
        Some(part) => {
            out.extend_from_slice(part);
            let cut = prefix_len.min(req.uri.len());
            escape_uri(&req.uri[cut..], out);
            push_args(req, out);
        }
    }
    if out.first() == Some(&b'?') {
        out.insert(0, b'/');
    }
}

/// `?ARGS` when there are arguments (see [`Request::query`]).
fn push_args(req: &Request, out: &mut Vec<u8>) {
    if let Some(a) = req.query() {
        out.push(b'?');
        out.extend_from_slice(a);
    }
}

/// How the request body is framed upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// Appends the whole upstream request head.
pub fn build_head(
    req: &Request,
    target: &ProxyTarget,
    conf: &ProxyConf,
    prefix_len: usize,
    body: BodyFraming,
    out: &mut Vec<u8>,
) {
    // proxy_method: its value replaces the client's method (nginx evaluates it as is).
    match &conf.method {
        Some(m) => m.eval(req, out),
        None => out.extend_from_slice(req.method()),
    }
    out.push(b' ');
    upstream_uri(req, target, prefix_len, out);
    out.extend_from_slice(if conf.http11 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    });

    // proxy_set_header entries (config order, then the defaults); an empty value sends nothing.
    let mut value = Vec::with_capacity(64);
    for (name, tpl) in &conf.set_headers {
        value.clear();
        tpl.eval(req, &mut value);
        if value.is_empty() {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
    match body {
        BodyFraming::None => {}
        // A `proxy_set_header Content-Length` replaces nginx's default one
        // (`$proxy_internal_body_length`): written above, or cleared.
        BodyFraming::Length(_) if conf.skip_client.iter().any(|n| &**n == b"content-length") => {}
        BodyFraming::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        BodyFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    // Every client header not named above, in client order; the body framing
    // headers are always regenerated. `proxy_pass_request_headers off` sends none.
    let client_headers = req.head.headers().filter(|_| conf.pass_request_headers);
    for (name, v) in client_headers {
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding") {
            continue;
        }
        if conf.skip_client.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The body sent upstream instead of the client's, if any
/// (`ngx_http_proxy_create_request`): `proxy_set_body` sends its value with
/// its length; `proxy_pass_request_body off` sends nothing but keeps the
/// client's `Content-Length` (nginx's well-known trap: clear it with
/// `proxy_set_header Content-Length ""`). `client` is the whole client body,
/// already read.
pub fn substitute_body(
    req: &Request,
    conf: &ProxyConf,
    framing: BodyFraming,
    client: Option<&bytes::Bytes>,
) -> Option<(BodyFraming, bytes::Bytes)> {
    if let Some(t) = &conf.set_body {
        let body = bytes::Bytes::from(t.eval_to_vec(req));
        return Some((BodyFraming::Length(body.len() as u64), body));
    }
    if conf.pass_request_body {
        return None;
    }
    let framing = match (framing, client) {
        (BodyFraming::None, _) => BodyFraming::None,
        (_, Some(b)) => BodyFraming::Length(b.len() as u64),
        (f, None) => f,
    };
    Some((framing, bytes::Bytes::new()))
}
