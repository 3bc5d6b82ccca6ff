//! `proxy_pass` with variables (`proxy_pass http://$backend:8080$request_uri;`):
//! the URL is evaluated per request (nginx/nginx:
//! src/http/modules/ngx_http_proxy_module.c `ngx_http_proxy_eval`).
//!
//! - a host without a port that names an `upstream` block uses that block;
//! - otherwise the host is an address: an IP literal is used as is, a name
//!   is resolved with the system resolver off the event loop (nginx needs its
//!   own `resolver` directive for this; rampart uses getaddrinfo through
//!   tokio's blocking pool), bounded by `proxy_connect_timeout`; a failure
//!   is a 502 with an error-log line;
//! - a URI part, if any, is the whole upstream request URI (not a prefix
//!   replacement), as nginx sends `ctx->vars.uri` unchanged;
//! - each request gets its own round-robin peer list, as nginx's
//!   `ngx_http_upstream_create_round_robin_peer` does.

use super::conf::{DynamicProxy, ProxyTarget};
use crate::config::units::Dur;
use crate::exchange::Exchange;
use crate::log::Level;
use crate::upstream::{Peer, Pool};
use std::net::SocketAddr;
use std::sync::Arc;

/// The parts of an evaluated `http://host[:port][/uri]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Url<'a> {
    pub authority: &'a str,
    pub has_port: bool,
    pub uri: Option<&'a str>,
}

/// Splits an evaluated URL; `Err` carries nginx's wording.
pub fn split(url: &str) -> Result<Url<'_>, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!("invalid URL prefix in \"{url}\""));
    };
    let (authority, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.is_empty() {
        return Err(format!("no host in upstream \"{rest}\""));
    }
    let has_port = match authority.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => authority.contains(':'),
    };
    Ok(Url {
        authority,
        has_port,
        uri,
    })
}

/// Builds this request's target, or logs why it cannot and gives the status
/// to answer: 500 for a URL nginx cannot parse (ngx_http_proxy_eval fails),
/// 502 for a host that does not resolve.
pub async fn target(
    ex: &mut Exchange<'_>,
    d: &DynamicProxy,
    connect_timeout: std::time::Duration,
) -> Result<ProxyTarget, u16> {
    let raw = d.url.eval_to_vec(&ex.req);
    let url = String::from_utf8_lossy(&raw);
    let u = match split(&url) {
        Ok(u) => u,
        Err(e) => {
            // nginx has set `$proxy_host`/`$proxy_port` to empty values by then.
            ex.req.proxy_host = Some((Box::default(), Box::default()));
            log(ex, &e);
            return Err(500);
        }
    };
    let (pool, proxy_host, proxy_port) = match d.upstreams.get(u.authority) {
        Some(pool) if !u.has_port => (pool.clone(), u.authority.to_string(), "80".to_string()),
        _ => {
            let hostport = if u.has_port {
                u.authority.to_string()
            } else {
                format!("{}:80", u.authority)
            };
            let port = hostport.rsplit_once(':').map_or("80", |(_, p)| p).to_string();
            let host = if port == "80" {
                hostport.trim_end_matches(":80").to_string()
            } else {
                hostport.clone()
            };
            ex.req.proxy_host = Some((host.as_bytes().into(), port.as_bytes().into()));
            let addrs = match resolve(&hostport, connect_timeout).await {
                Some(a) if !a.is_empty() => a,
                _ => {
                    let host = hostport.rsplit_once(':').map_or(hostport.as_str(), |(h, _)| h);
                    log(ex, &format!("{host} could not be resolved (3: Host not found)"));
                    return Err(502);
                }
            };
            let peers = addrs
                .into_iter()
                .map(|a| Peer {
                    addr: a,
                    name: a.to_string(),
                    server: u.authority.to_string(),
                    weight: 1,
                    max_fails: 1,
                    fail_timeout: Dur::secs(10),
                    max_conns: 0,
                    backup: false,
                    down: false,
                })
                .collect();
            (Arc::new(Pool::new(hostport, peers)), host, port)
        }
    };
    Ok(ProxyTarget {
        pool,
        uri: u.uri.map(|s| s.as_bytes().into()),
        full_uri: true,
        dynamic: None,
        proxy_host: proxy_host.into_bytes().into(),
        proxy_port: proxy_port.into_bytes().into(),
        // No `proxy_redirect default` with variables (nginx refuses it): an
        // empty prefix leaves every Location as the upstream sent it.
        redirect_from: Box::default(),
        redirect_to: Box::default(),
        peer_stats: Box::default(),
    })
}

async fn resolve(hostport: &str, limit: std::time::Duration) -> Option<Vec<SocketAddr>> {
    if let Ok(a) = hostport.parse::<SocketAddr>() {
        return Some(vec![a]);
    }
    let found = tokio::time::timeout(limit, tokio::net::lookup_host(hostport))
        .await
        .ok()?
        .ok()?;
    Some(found.collect())
}

fn log(ex: &Exchange<'_>, msg: &str) {
    crate::log::error_log::log(
        Level::Error,
        Some(ex.req.conn.number),
        format_args!(
            "{msg}, client: {}, server: {}, request: \"{}\"",
            ex.req.conn.peer.ip(),
            String::from_utf8_lossy(&ex.req.server.name),
            String::from_utf8_lossy(ex.req.head.request_line())
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_evaluated_urls() {
        let ok: &[(&str, &str, bool, Option<&str>)] = &[
            ("http://backend", "backend", false, None),
            ("http://backend/x?y", "backend", false, Some("/x?y")),
            ("http://127.0.0.1:8080/a", "127.0.0.1:8080", true, Some("/a")),
            ("http://[::1]:81", "[::1]:81", true, None),
            ("http://[::1]/p", "[::1]", false, Some("/p")),
        ];
        for (url, auth, port, uri) in ok {
            assert_eq!(
                split(url),
                Ok(Url {
                    authority: auth,
                    has_port: *port,
                    uri: *uri
                }),
                "{url}"
            );
        }
        assert_eq!(
            split("https://x").unwrap_err(),
            "invalid URL prefix in \"https://x\""
        );
        assert_eq!(split("ftp://x").unwrap_err(), "invalid URL prefix in \"ftp://x\"");
        assert_eq!(split("http:///x").unwrap_err(), "no host in upstream \"/x\"");
    }
}
