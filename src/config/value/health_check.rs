//! The `check` and `check_http_expect_alive` values of an upstream's active
//! health check (nginx_upstream_check_module). The checker is `crate::health`.

use std::time::Duration;

/// The check types rampart implements (the module's `ngx_check_types[]` also
/// has mysql, ajp and fastcgi; they are rejected at load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckType {
    Tcp,
    Http,
    SslHello,
}

impl CheckType {
    /// The name the status page shows.
    pub fn name(self) -> &'static str {
        match self {
            CheckType::Tcp => "tcp",
            CheckType::Http => "http",
            CheckType::SslHello => "ssl_hello",
        }
    }
}

/// The `check` directive's parameters (function `ngx_http_upstream_check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckParams {
    pub interval: Duration,
    pub rise: u64,
    pub fall: u64,
    pub timeout: Duration,
    pub default_down: bool,
    pub kind: CheckType,
    /// 0: the server's own port.
    pub port: u16,
}

impl Default for CheckParams {
    /// The module's values for omitted keys: `interval=30000 rise=2 fall=5
    /// timeout=1000 default_down=true type=tcp port=0` (not the swapped
    /// fall=2/rise=5 of `_init_srv_conf`, which never takes effect).
    fn default() -> Self {
        CheckParams {
            interval: Duration::from_millis(30_000),
            rise: 2,
            fall: 5,
            timeout: Duration::from_millis(1000),
            default_down: true,
            kind: CheckType::Tcp,
            port: 0,
        }
    }
}

impl CheckParams {
    /// Parses `interval=3000 rise=2 fall=5 timeout=1000 type=http ...` in any
    /// order. interval, timeout, rise and fall must be positive integers, port
    /// non-zero; errors are worded as the module's (`invalid parameter "X"`).
    pub fn parse(s: &str) -> Result<CheckParams, String> {
        let mut p = CheckParams::default();
        for w in s.split_whitespace() {
            let bad = || format!("invalid parameter \"{w}\"");
            let pos = |v: &str| v.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(bad);
            match w.split_once('=') {
                Some(("interval", v)) => p.interval = Duration::from_millis(pos(v)?),
                Some(("timeout", v)) => p.timeout = Duration::from_millis(pos(v)?),
                Some(("rise", v)) => p.rise = pos(v)?,
                Some(("fall", v)) => p.fall = pos(v)?,
                Some(("port", v)) => p.port = u16::try_from(pos(v)?).map_err(|_| bad())?,
                Some(("default_down", v)) => {
                    p.default_down = if v.eq_ignore_ascii_case("true") {
                        true
                    } else if v.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return Err(format!("invalid value \"{w}\", it must be \"true\" or \"false\""));
                    }
                }
                Some(("type", v)) => {
                    p.kind = match v {
                        "tcp" => CheckType::Tcp,
                        "http" => CheckType::Http,
                        "ssl_hello" => CheckType::SslHello,
                        "mysql" | "ajp" | "fastcgi" => {
                            return Err(format!("check type \"{v}\" is not implemented yet"))
                        }
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(p)
    }
}

/// Status classes of `check_http_expect_alive` (`NGX_CHECK_HTTP_2XX` ...).
pub const HTTP_2XX: u8 = 1 << 1;
pub const HTTP_3XX: u8 = 1 << 2;
pub const HTTP_4XX: u8 = 1 << 3;
pub const HTTP_5XX: u8 = 1 << 4;

/// `check_http_expect_alive` values (case-insensitive) → a class mask.
pub fn expect_mask(words: &[String]) -> Result<u8, String> {
    let mut m = 0;
    for w in words {
        m |= match w.to_ascii_lowercase().as_str() {
            "http_2xx" => HTTP_2XX,
            "http_3xx" => HTTP_3XX,
            "http_4xx" => HTTP_4XX,
            "http_5xx" => HTTP_5XX,
            _ => return Err(format!("invalid value \"{w}\"")),
        };
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_params() {
        let p = CheckParams::parse("").unwrap();
        assert_eq!(p, CheckParams::default());
        assert_eq!((p.rise, p.fall, p.interval.as_millis()), (2, 5, 30_000));
        let p = CheckParams::parse(
            "fall=3 interval=3000 rise=1 timeout=500 type=http port=8081 default_down=FALSE",
        )
        .unwrap();
        assert_eq!(
            p,
            CheckParams {
                interval: Duration::from_millis(3000),
                rise: 1,
                fall: 3,
                timeout: Duration::from_millis(500),
                default_down: false,
                kind: CheckType::Http,
                port: 8081,
            }
        );
        for bad in [
            "interval=0",
            "rise=x",
            "fall=-1",
            "timeout=",
            "port=0",
            "port=70000",
            "type=udp",
            "foo=1",
            "interval",
        ] {
            assert_eq!(
                CheckParams::parse(bad),
                Err(format!("invalid parameter \"{bad}\"")),
                "{bad}"
            );
        }
        assert_eq!(
            CheckParams::parse("default_down=yes"),
            Err("invalid value \"default_down=yes\", it must be \"true\" or \"false\"".into())
        );
        assert!(CheckParams::parse("type=mysql")
            .unwrap_err()
            .contains("not implemented"));
    }

    #[test]
    fn expect_alive() {
        let w = |v: &[&str]| expect_mask(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(w(&["http_2xx", "HTTP_3XX"]), Ok(HTTP_2XX | HTTP_3XX));
        assert_eq!(w(&["http_5xx", "http_5xx"]), Ok(HTTP_5XX));
        assert!(w(&["http_6xx"]).is_err());
    }
}
