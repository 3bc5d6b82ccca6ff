//! The `ssl_session_cache` value (ngx_http_ssl_session_cache). The session
//! storage it plans is `crate::tls::session`.

/// nginx: "one megabyte of the cache contains about 4000 sessions".
const SESSIONS_PER_MIB: u64 = 4000;
/// `builtin` without a size: OpenSSL's default (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT).
const BUILTIN_DEFAULT: usize = 20 * 1024;

/// The parsed `ssl_session_cache` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlan {
    /// `off` and `none` (the default): no server-side session state.
    /// (`none` tells OpenSSL clients the session may be reused but stores
    /// nothing, so it resumes no more than `off` does.)
    None,
    /// `builtin[:N]` and/or `shared:NAME:SIZE`: one in-memory cache of this
    /// many sessions; `name` when a shared zone names it.
    Memory { sessions: usize, name: Option<String> },
}

/// Parses `ssl_session_cache` arguments (ngx_http_ssl_session_cache).
pub fn parse_cache(args: &[String]) -> Result<CachePlan, String> {
    let invalid = |a: &str| format!("invalid session cache \"{a}\"");
    let mut sessions = 0usize;
    let mut name = None;
    let mut off = false;
    for a in args {
        match a.as_str() {
            "off" | "none" => off = true,
            "builtin" => sessions += BUILTIN_DEFAULT,
            _ if a.starts_with("builtin:") => {
                let n: usize = a["builtin:".len()..]
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| invalid(a))?;
                sessions += n;
            }
            _ if a.starts_with("shared:") => {
                let rest = &a["shared:".len()..];
                let (zone, size) = rest.rsplit_once(':').ok_or_else(|| invalid(a))?;
                if zone.is_empty() {
                    return Err(invalid(a));
                }
                let bytes = crate::config::units::parse_size(size).map_err(|_| invalid(a))?.0;
                // nginx: a zone must hold at least 8 pages.
                if bytes < 8 * 4096 {
                    return Err(format!("session cache \"{a}\" is too small"));
                }
                let n = (bytes * SESSIONS_PER_MIB / (1 << 20)).max(1);
                sessions += usize::try_from(n).unwrap_or(usize::MAX);
                name = Some(zone.to_string());
            }
            _ => return Err(invalid(a)),
        }
    }
    if off && (sessions > 0 || args.len() > 1) {
        return Err(format!("invalid session cache \"{}\"", args.join(" ")));
    }
    Ok(if sessions == 0 {
        CachePlan::None
    } else {
        CachePlan::Memory { sessions, name }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn session_cache_values_as_nginx() {
        assert_eq!(parse_cache(&s(&["none"])), Ok(CachePlan::None));
        assert_eq!(parse_cache(&s(&["off"])), Ok(CachePlan::None));
        assert_eq!(
            parse_cache(&s(&["builtin"])),
            Ok(CachePlan::Memory {
                sessions: 20480,
                name: None
            })
        );
        assert_eq!(
            parse_cache(&s(&["builtin:1000", "shared:SSL:1m"])),
            Ok(CachePlan::Memory {
                sessions: 5000,
                name: Some("SSL".into())
            })
        );
        assert_eq!(
            parse_cache(&s(&["shared:SSL:10m"])),
            Ok(CachePlan::Memory {
                sessions: 40000,
                name: Some("SSL".into())
            })
        );
        for bad in [
            &["shared:SSL"][..],
            &["shared::1m"],
            &["shared:SSL:1k"],
            &["builtin:0"],
            &["builtin:x"],
            &["nonsense"],
            &["off", "builtin"],
        ] {
            assert!(parse_cache(&s(bad)).is_err(), "{bad:?}");
        }
    }
}
