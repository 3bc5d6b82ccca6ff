//! TLS session resumption: `ssl_session_cache` and `ssl_session_tickets`
//! (nginx/nginx: src/http/modules/ngx_http_ssl_module.c,
//! src/event/ngx_event_openssl.c) mapped onto rustls.
//!
//! nginx's defaults, kept here: no server-side cache (`none`) and tickets on,
//! so clients resume with stateless tickets whose key is random per start
//! (and per reload: a reload's new acceptor gets a new key, as nginx's new
//! cycle does). `off` and `none` differ in nginx only in what OpenSSL tells a
//! TLS 1.2 client; neither stores sessions, nor does rampart. A cache (builtin
//! or shared) is one rustls memory cache per listening address, shared by all
//! worker threads (nginx's `shared:` zone is shared by its workers too).
//! `ssl_session_timeout` is accepted and ignored: rustls ticket keys rotate on
//! their own schedule.

use std::sync::Arc;

/// Sessions per byte of a `shared:NAME:SIZE` zone: nginx documents "one
/// megabyte can store about 4000 sessions".
const BYTES_PER_SESSION: u64 = 256;

/// nginx's `builtin` cache size when none is given.
const BUILTIN_DEFAULT: usize = 20480;

/// One listening address's resumption settings (from its default server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sessions {
    /// Sessions the server-side cache holds; None: no cache.
    pub cache: Option<usize>,
    pub tickets: bool,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            cache: None,
            tickets: true,
        }
    }
}

/// Parses `ssl_session_cache off | none | [builtin[:N]] [shared:NAME:SIZE]`
/// into a cache size (None: no cache).
pub fn parse_cache(v: &str) -> Result<Option<usize>, String> {
    let invalid = |w: &str| format!("invalid session cache \"{w}\"");
    let mut total: Option<usize> = None;
    for w in v.split_whitespace() {
        let n = match w {
            "off" | "none" => {
                if v.split_whitespace().count() > 1 {
                    return Err(invalid(w));
                }
                return Ok(None);
            }
            "builtin" => BUILTIN_DEFAULT,
            _ => {
                if let Some(n) = w.strip_prefix("builtin:") {
                    n.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| invalid(w))?
                } else if let Some(rest) = w.strip_prefix("shared:") {
                    let (name, size) = rest.rsplit_once(':').ok_or_else(|| invalid(w))?;
                    if name.is_empty() {
                        return Err(invalid(w));
                    }
                    let bytes = crate::config::units::parse_size(size)
                        .map_err(|_| invalid(w))?
                        .bytes();
                    // nginx: a zone must hold at least 8 pages.
                    if bytes < 8 * 4096 {
                        return Err(format!("session cache \"{w}\" is too small"));
                    }
                    usize::try_from(bytes / BYTES_PER_SESSION).unwrap_or(usize::MAX)
                } else {
                    return Err(invalid(w));
                }
            }
        };
        total = Some(total.unwrap_or(0).saturating_add(n));
    }
    total.map(Some).ok_or_else(|| invalid(v))
}

/// Applies the settings to a listener's rustls config.
pub fn apply(cfg: &mut rustls::ServerConfig, s: Sessions) -> Result<(), String> {
    cfg.session_storage = match s.cache {
        Some(n) => rustls::server::ServerSessionMemoryCache::new(n),
        None => Arc::new(rustls::server::NoServerSessionStorage {}),
    };
    if s.tickets {
        cfg.ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| format!("cannot create the session ticket key: {e}"))?;
    }
    if s.cache.is_none() && !s.tickets {
        // Nothing to resume from: no TLS 1.3 NewSessionTicket at all.
        cfg.send_tls13_tickets = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_values() {
        assert_eq!(parse_cache("off"), Ok(None));
        assert_eq!(parse_cache("none"), Ok(None));
        assert_eq!(parse_cache("builtin"), Ok(Some(20480)));
        assert_eq!(parse_cache("builtin:1000"), Ok(Some(1000)));
        assert_eq!(parse_cache("shared:SSL:1m"), Ok(Some(4096)));
        assert_eq!(parse_cache("builtin:10 shared:SSL:1m"), Ok(Some(4106)));
        for bad in [
            "",
            "on",
            "builtin:0",
            "builtin:x",
            "shared:SSL",
            "shared::1m",
            "shared:SSL:1k",
            "off builtin",
        ] {
            assert!(parse_cache(bad).is_err(), "{bad}");
        }
    }
}
