//! The gzip filter's settings (`gzip`, `gzip_comp_level`, `gzip_min_length`,
//! `gzip_types`, `gzip_http_version`, `gzip_vary`, `gzip_proxied`,
//! `gzip_disable`, `gzip_buffers`): its section of the model and their
//! compilation into [`GzipConf`], with the defaults of
//! ngx_http_gzip_filter_module.c.

use super::gzip::GzipConf;
use crate::config::nginx::parser::Directive;
use crate::config::nginx::values;
use crate::config::section::Offer;
use crate::config::ConfigError;
use std::path::Path;

crate::section! {
    /// The gzip section of an http, server or location level.
    pub struct GzipSettings {
        gzip: bool = flag,
        /// 1-9 (default 1).
        gzip_comp_level: u64,
        /// Bytes (default 20); compared with a known Content-Length only.
        gzip_min_length: u64 = size_bytes,
        /// MIME types besides text/html; `"*"` is any.
        gzip_types: Vec<String> = args,
        /// "1.0" or "1.1" (default).
        gzip_http_version: String = one_of("1.0", "1.1"),
        gzip_vary: bool = flag,
        /// `off` | `expired no-cache no-store private no_last_modified no_etag auth any`.
        gzip_proxied: Vec<String> = args,
        /// User-Agent regexes (case-insensitive) or `msie6`.
        gzip_disable: Vec<String> = args,
        /// `"32 4k"`: accepted (rampart streams through one bounded buffer).
        gzip_buffers: String = joined,
    }
    custom = comp_level;
}

/// `gzip_comp_level N`: a number from 1 to 9, in nginx's words.
fn comp_level(s: &mut GzipSettings, d: &Directive) -> Offer {
    if d.name != "gzip_comp_level" {
        return None;
    }
    let n = match values::number(values::first(d)) {
        Some(n) if (1..=9).contains(&n) => n,
        Some(_) => return Some(Err(d.err("value must be between 1 and 9"))),
        None => return Some(Err(values::invalid_number(d))),
    };
    Some(values::once(&mut s.gzip_comp_level, n, d))
}

impl GzipConf {
    /// Compiles a location's merged settings; `file` and `line` (where the
    /// level starts) name errors about their values.
    pub fn compile(s: &GzipSettings, file: &Path, line: usize) -> Result<GzipConf, ConfigError> {
        let mut disable = Vec::new();
        let mut disable_msie6 = false;
        for d in s.gzip_disable.iter().flatten() {
            if d == "msie6" {
                disable_msie6 = true;
                continue;
            }
            let r = regex::bytes::RegexBuilder::new(d)
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    ConfigError::new(file, line, format!("invalid regex \"{d}\": {e}"))
                        .directive("gzip_disable")
                })?;
            disable.push(r);
        }
        Ok(GzipConf {
            on: s.gzip.unwrap_or(false),
            level: s.gzip_comp_level.unwrap_or(1).clamp(1, 9) as u32,
            min_length: s.gzip_min_length.unwrap_or(20),
            types: s
                .gzip_types
                .iter()
                .flatten()
                .map(|t| t.to_ascii_lowercase().into_bytes())
                .collect(),
            http10: s.gzip_http_version.as_deref() == Some("1.0"),
            vary: s.gzip_vary.unwrap_or(false),
            proxied: s.gzip_proxied.clone().unwrap_or_else(|| vec!["off".into()]),
            disable,
            disable_msie6,
        })
    }
}
