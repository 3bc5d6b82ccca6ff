//! The `expires` value (nginx/nginx: src/http/modules/ngx_http_headers_filter_module.c,
//! `ngx_http_headers_expires`). The header filter that applies it is
//! `crate::filters::expires`.

use crate::config::units::parse_seconds;

/// A parsed `expires` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expires {
    Off,
    /// `expires epoch`.
    Epoch,
    /// `expires max`.
    Max,
    /// `expires [modified] [-]TIME` (seconds, may be negative).
    Access(i64),
    Modified(i64),
    /// `expires @15h30m`: seconds after local midnight.
    Daily(i64),
}

impl Expires {
    /// The directive's arguments joined by a space.
    pub fn parse(s: &str) -> Result<Expires, String> {
        let mut words = s.split_whitespace();
        let first = words.next().unwrap_or("");
        let (modified, value) = if first == "modified" {
            (true, words.next().unwrap_or(""))
        } else {
            (false, first)
        };
        if words.next().is_some() {
            return Err(format!("invalid value \"{s}\""));
        }
        if !modified {
            match value {
                "epoch" => return Ok(Expires::Epoch),
                "max" => return Ok(Expires::Max),
                "off" => return Ok(Expires::Off),
                _ => {}
            }
        }
        let invalid = || format!("invalid value \"{value}\"");
        if let Some(daily) = value.strip_prefix('@') {
            if modified {
                return Err("daily time cannot be used with \"modified\" parameter".into());
            }
            let t = parse_seconds(daily).ok_or_else(invalid)?;
            if t >= 24 * 3600 {
                return Err("daily time value must be less than 24 hours".into());
            }
            return Ok(Expires::Daily(t));
        }
        let (neg, v) = match value.as_bytes().first() {
            Some(b'+') => (false, value.get(1..).unwrap_or("")),
            Some(b'-') => (true, value.get(1..).unwrap_or("")),
            _ => (false, value),
        };
        let t = parse_seconds(v).ok_or_else(invalid)?;
        let t = if neg { -t } else { t };
        Ok(if modified {
            Expires::Modified(t)
        } else {
            Expires::Access(t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_forms() {
        let t: &[(&str, Result<Expires, ()>)] = &[
            ("off", Ok(Expires::Off)),
            ("epoch", Ok(Expires::Epoch)),
            ("max", Ok(Expires::Max)),
            ("30d", Ok(Expires::Access(30 * 86400))),
            ("1h30m", Ok(Expires::Access(5400))),
            ("-1", Ok(Expires::Access(-1))),
            ("+60", Ok(Expires::Access(60))),
            ("0", Ok(Expires::Access(0))),
            ("modified 1h", Ok(Expires::Modified(3600))),
            ("@15h30m", Ok(Expires::Daily(15 * 3600 + 1800))),
            ("@24h", Err(())),
            ("modified @1h", Err(())),
            ("1x", Err(())),
            ("m1", Err(())),
            ("1m1h", Err(())),
            ("", Err(())),
            ("1h 2h", Err(())),
        ];
        for (s, want) in t {
            assert_eq!(Expires::parse(s).map_err(|_| ()), *want, "{s}");
        }
    }
}
