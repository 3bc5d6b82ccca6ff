//! The `open_file_cache` value (ngx_http_core_open_file_cache). The cache
//! itself is `crate::static_files::cache`.

use std::time::Duration;

/// `open_file_cache max=N [inactive=T]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConf {
    pub max: usize,
    pub inactive: Duration,
}

impl CacheConf {
    /// None for `off` (ngx_http_core_open_file_cache).
    pub fn parse(s: &str) -> Result<Option<CacheConf>, String> {
        let mut max = None;
        let mut inactive = Duration::from_secs(60);
        for w in s.split_whitespace() {
            if w == "off" {
                return Ok(None);
            } else if let Some(v) = w.strip_prefix("max=") {
                max = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("invalid \"open_file_cache\" parameter \"{w}\""))?,
                );
            } else if let Some(v) = w.strip_prefix("inactive=") {
                let t = crate::config::units::parse_seconds(v)
                    .ok_or_else(|| format!("invalid \"open_file_cache\" parameter \"{w}\""))?;
                inactive = Duration::from_secs(t as u64);
            } else {
                return Err(format!("invalid \"open_file_cache\" parameter \"{w}\""));
            }
        }
        match max {
            Some(max) => Ok(Some(CacheConf { max, inactive })),
            None => Err("\"open_file_cache\" must have the \"max\" parameter".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_parse() {
        assert_eq!(
            CacheConf::parse("max=10 inactive=20s"),
            Ok(Some(CacheConf {
                max: 10,
                inactive: Duration::from_secs(20)
            }))
        );
        assert_eq!(CacheConf::parse("off"), Ok(None));
        assert!(CacheConf::parse("inactive=20s").is_err());
        assert!(CacheConf::parse("max=0").is_err());
        assert!(CacheConf::parse("max=1 x=2").is_err());
    }
}
