//! The static content handler's settings: `index`, `try_files`, `types`,
//! `charset`, `charset_types`, `etag`, `if_modified_since`, `max_ranges`,
//! `log_not_found`, `disable_symlinks`, `open_file_cache*` and
//! `gzip_static` (nginx's static, index, try_files, charset and gzip_static
//! modules and the core settings only they read): their section of the
//! model and their compilation into [`StaticConf`], with nginx's defaults.

use super::{cache, cond::ImsMode, mime, symlinks::Symlinks, StaticConf};
use crate::config::nginx::parser::Directive;
use crate::config::nginx::values;
use crate::config::section::{Context, Offer};
use crate::config::units::Dur;
use crate::config::ConfigError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

crate::section! {
    /// The static section of an http, server or location level.
    pub struct StaticSettings {
        /// `index NAME...` (default `index.html`): tried in order for URIs ending in `/`.
        index: Vec<String>,
        /// `try_files FILE... FALLBACK` (FALLBACK: a URI, `@name` or `=CODE`).
        try_files: Vec<String> = args,
        /// `types { MIME EXT...; }`: `{ "text/html" = ["html", "htm"] }`.
        types: BTreeMap<String, Vec<String>>,
        /// `charset NAME | off`: appended to Content-Type for `charset_types`.
        charset: String = string,
        charset_types: Vec<String> = args,
        /// `etag on|off` (default on).
        etag: bool = flag,
        /// `if_modified_since off | exact | before` (default exact).
        if_modified_since: String,
        /// `max_ranges N`: more ranges than N and the Range header is ignored.
        max_ranges: u64 = number,
        /// `log_not_found` (default on): log a missing file at error level.
        log_not_found: bool = flag,
        /// `disable_symlinks off | on | if_not_owner [from=PART]`, as written.
        disable_symlinks: String,
        /// `open_file_cache "max=N [inactive=T]" | "off"`.
        open_file_cache: String,
        open_file_cache_valid: Dur = msec,
        open_file_cache_min_uses: u64 = number,
        open_file_cache_errors: bool = flag,
        /// `off` | `on` | `always`.
        gzip_static: String,
    }
    custom = custom;
}

/// The directives whose setters are more than a slot.
fn custom(s: &mut StaticSettings, d: &Directive) -> Offer {
    let enum_err = |words: &str| {
        d.err(format!(
            "invalid value \"{}\" in \"{}\" directive, it must be {words}",
            values::first(d),
            d.name
        ))
    };
    let r = match d.name.as_str() {
        // Each `index` line adds its names (ngx_http_index_set_index).
        "index" => {
            s.index
                .get_or_insert_with(Vec::new)
                .extend(d.args.iter().cloned());
            Ok(())
        }
        "types" => {
            let t = s.types.get_or_insert_with(Default::default);
            for e in d.block.as_deref().unwrap_or_default() {
                t.entry(e.name.clone())
                    .or_default()
                    .extend(e.args.iter().cloned());
            }
            Ok(())
        }
        "if_modified_since" => match values::first(d) {
            v @ ("off" | "exact" | "before") => values::once(&mut s.if_modified_since, v.to_string(), d),
            _ => Err(enum_err("\"off\", \"exact\" or \"before\"")),
        },
        "gzip_static" => match values::first(d) {
            v @ ("on" | "off" | "always") => values::once(&mut s.gzip_static, v.to_string(), d),
            _ => Err(enum_err("\"on\", \"off\" or \"always\"")),
        },
        "disable_symlinks" => {
            let v = d.args.join(" ");
            match Symlinks::parse(&v) {
                Ok(_) => values::once(&mut s.disable_symlinks, v, d),
                Err(e) => Err(d.err(format!("{e} in \"disable_symlinks\" directive"))),
            }
        }
        "open_file_cache" => {
            let v = d.args.join(" ");
            match cache::CacheConf::parse(&v) {
                Ok(_) => values::once(&mut s.open_file_cache, v, d),
                Err(e) => Err(d.err(e)),
            }
        }
        _ => return None,
    };
    Some(r)
}

impl StaticConf {
    /// Compiles a location's merged settings (defaults from
    /// ngx_http_core_module.c, ngx_http_index_module.c,
    /// ngx_http_charset_filter_module.c); `line` is where the level starts.
    pub fn compile(cx: &dyn Context, s: &StaticSettings, line: usize) -> Result<StaticConf, ConfigError> {
        let index = s
            .index
            .clone()
            .unwrap_or_else(|| vec!["index.html".to_string()])
            .iter()
            .map(|i| cx.template(line, "index", i))
            .collect::<Result<Vec<_>, _>>()?;
        let try_files = s
            .try_files
            .iter()
            .flatten()
            .map(|i| Ok((cx.template(line, "try_files", i)?, i.ends_with('/'))))
            .collect::<Result<Vec<_>, _>>()?;
        let types = Arc::new(match &s.types {
            Some(t) => mime::Types::from_model(t),
            None => mime::Types::builtin(),
        });
        let charset = s
            .charset
            .as_deref()
            .filter(|c| *c != "off")
            .map(|c| bytes::Bytes::copy_from_slice(c.as_bytes()));
        let charset_types = match &s.charset_types {
            Some(v) => v.iter().map(|t| t.as_bytes().to_vec()).collect(),
            None => mime::DEFAULT_CHARSET_TYPES
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
        };
        let ims = match s.if_modified_since.as_deref() {
            None | Some("exact") => ImsMode::Exact,
            Some("off") => ImsMode::Off,
            Some("before") => ImsMode::Before,
            Some(v) => return Err(cx.err(line, "if_modified_since", format!("invalid value \"{v}\""))),
        };
        let symlinks = match s.disable_symlinks.as_deref() {
            None => Symlinks::default(),
            Some(v) => Symlinks::parse(v).map_err(|m| cx.err(line, "disable_symlinks", m))?,
        };
        let cache = match s.open_file_cache.as_deref() {
            None => None,
            Some(v) => cache::CacheConf::parse(v)
                .map_err(|m| cx.err(line, "open_file_cache", m))?
                .map(|c| {
                    Arc::new(cache::OpenFileCache::new(
                        c,
                        s.open_file_cache_valid.map_or(Duration::from_secs(60), |v| v.0),
                        s.open_file_cache_min_uses.unwrap_or(1),
                        s.open_file_cache_errors.unwrap_or(false),
                    ))
                }),
        };
        Ok(StaticConf {
            index,
            try_files,
            types,
            charset,
            charset_types,
            etag: s.etag.unwrap_or(true),
            ims,
            max_ranges: s.max_ranges,
            log_not_found: s.log_not_found.unwrap_or(true),
            cache,
            symlinks,
            gzip_static: match s.gzip_static.as_deref() {
                Some("on") => 1,
                Some("always") => 2,
                _ => 0,
            },
        })
    }
}
