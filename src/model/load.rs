//! Reading a config file into the model: `load` picks the front end by file
//! name: `*.toml` is rampart's native format; anything else (`nginx.conf`,
//! `sites-enabled/default`, ...) is read as nginx.conf by [`super::nginx`].
//! Both produce the same [`Config`].

use super::{nginx, Config};
use crate::config::{located, ConfigError};

use std::path::Path;

/// Reads and parses the config file at `path` into the model (no semantic
/// checks yet: those happen when the model is compiled into a snapshot).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut cfg = load_file(path)?;
    if let Some(g) = GLOBALS.get() {
        apply_globals(&mut cfg, g.clone())?;
    }
    // nginx's default is `daemon on` (src/core/nginx.c); rampart.toml's is off.
    if !is_toml(path) && cfg.daemon.is_none() {
        cfg.daemon = Some(true);
    }
    Ok(cfg)
}

/// `-g "directives;"` for the whole process (every load and reload applies it).
static GLOBALS: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// Parses `-g`'s text (nginx syntax, main context) once at start-up.
pub fn set_globals(text: &str) -> Result<(), ConfigError> {
    let g = nginx::globals(text)?;
    let _ = GLOBALS.set(g);
    Ok(())
}

/// Main-level directives from `-g` fill the file's; one set in both is a
/// duplicate, as nginx says.
fn apply_globals(cfg: &mut Config, g: Config) -> Result<(), ConfigError> {
    let dup = |name: &str| {
        ConfigError::new(
            Path::new("command line"),
            0,
            format!("\"{name}\" directive is duplicate"),
        )
    };
    macro_rules! overlay {
        ($($f:ident),*) => {$(
            if let Some(v) = g.$f {
                if cfg.$f.is_some() {
                    return Err(dup(stringify!($f)));
                }
                cfg.$f = Some(v);
            }
        )*};
    }
    overlay!(
        worker_processes,
        worker_rlimit_nofile,
        pid,
        error_log,
        worker_shutdown_timeout,
        drain_grace_time,
        daemon,
        master_process,
        user
    );
    Ok(())
}

fn load_file(path: &Path) -> Result<Config, ConfigError> {
    if !is_toml(path) {
        return nginx::load(path);
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            path,
            0,
            format!("open() \"{}\" failed ({})", path.display(), crate::log::OsErr(&e)),
        )
    })?;
    parse_toml(path, &text)
}

/// Whether `path` names a rampart.toml (by its extension) rather than an nginx.conf.
pub fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// Parses rampart.toml text. Syntax errors, unknown keys and wrong types come
/// back with the line of the offending key.
pub fn parse_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let parsed = located::with_source(text, || toml::from_str::<Config>(text));
    let e = match parsed {
        Ok(mut cfg) => {
            section_lines(&mut cfg, text);
            return Ok(cfg);
        }
        Err(e) => e,
    };
    // A feature section's values reach serde through `flatten`, which
    // keeps no positions: toml's error then spans the whole table. Find the
    // key by checking each section key alone.
    if let Some((line, key, msg)) = section_error(text) {
        return Err(ConfigError::new(path, line, msg).directive(&key));
    }
    let mut start = e.span().map(|s| s.start);
    // A key no field or section took (config::section::Unknown): the
    // error's span is its table; point at the key's own line.
    if let Some(k) = e
        .message()
        .strip_prefix("unknown field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        start = start.and_then(|from| key_after(text, from, k)).or(start);
    }
    let line = start.map(|s| located::line_of(text, s)).unwrap_or(0);
    let key = start.and_then(|s| key_at(text, s));
    let msg = e.message().trim().to_string();
    let mut err = ConfigError::new(path, line, msg);
    if let Some(k) = key {
        err = err.directive(&k);
    }
    Err(err)
}

/// The tables of `item`: one table, or each of an array of tables.
fn tables(item: Option<&toml_edit::Item>) -> Vec<&dyn toml_edit::TableLike> {
    let Some(item) = item else {
        return Vec::new();
    };
    if let Some(t) = item.as_table_like() {
        return vec![t];
    }
    if let Some(a) = item.as_array_of_tables() {
        return a.iter().map(|t| t as &dyn toml_edit::TableLike).collect();
    }
    match item.as_array() {
        Some(a) => a
            .iter()
            .filter_map(|v| v.as_inline_table())
            .map(|t| t as &dyn toml_edit::TableLike)
            .collect(),
        None => Vec::new(),
    }
}

/// Sets the lines of the sections' `Located` values from their keys'
/// positions, level by level (`[http]`, each `[[http.server]]`, each
/// `location` at any depth).
fn section_lines(cfg: &mut Config, text: &str) {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return;
    };
    let line_in = |t: &dyn toml_edit::TableLike, key: &str| -> Option<usize> {
        let span = t.get(key)?.span()?;
        Some(located::line_of(text, span.start))
    };
    fn locations(
        locs: &mut [super::Location],
        tables: Vec<&dyn toml_edit::TableLike>,
        line_in: &dyn Fn(&dyn toml_edit::TableLike, &str) -> Option<usize>,
    ) {
        for (l, t) in locs.iter_mut().zip(tables) {
            l.fix_section_lines(&|k| line_in(t, k));
            locations(&mut l.location, self::tables(t.get("location")), line_in);
        }
    }
    let Some(http) = tables(doc.get("http")).into_iter().next() else {
        return;
    };
    cfg.http.fix_section_lines(&|k| line_in(http, k));
    for (srv, t) in cfg.http.server.iter_mut().zip(tables(http.get("server"))) {
        srv.fix_section_lines(&|k| line_in(t, k));
        locations(&mut srv.location, tables(t.get("location")), &line_in);
    }
}

/// The first section key (in file order) whose value its section refuses:
/// its line, the key and toml's message.
fn section_error(text: &str) -> Option<(usize, String, String)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut found: Option<(usize, String, String)> = None;
    fn walk(t: &dyn toml_edit::TableLike, text: &str, found: &mut Option<(usize, String, String)>) {
        for (key, item) in t.iter() {
            if item.is_value() && item.as_inline_table().is_none() {
                let Some(span) = item.span() else { continue };
                let Some(value) = text.get(span.clone()) else {
                    continue;
                };
                if let Some(Err(msg)) = super::LocSettings::section_check(key, &format!("{key} = {value}")) {
                    let line = located::line_of(text, span.start);
                    if found.as_ref().is_none_or(|(l, _, _)| line < *l) {
                        *found = Some((line, key.to_string(), msg));
                    }
                }
                continue;
            }
            for sub in tables(Some(item)) {
                walk(sub, text, found);
            }
        }
    }
    walk(doc.as_table(), text, &mut found);
    found
}

/// The offset of the first line at or after `from` that sets `key`.
fn key_after(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut at = text[..from.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    for line in text[at..].split_inclusive('\n') {
        if let Some((k, _)) = line.split_once('=') {
            if k.trim().trim_matches('"') == key {
                return Some(at);
            }
        }
        at += line.len();
    }
    None
}

/// The TOML key on the line holding `offset`, if that line is `key = ...`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (k, _) = line.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        parse_toml(&PathBuf::from("/t/rampart.toml"), s)
    }

    #[test]
    fn parses_nested_levels_with_lines() {
        let c = parse(
            "worker_processes = \"auto\"\n[http]\nclient_max_body_size = \"8m\"\n\
             [[http.server]]\nlisten = [\"127.0.0.1:8080\"]\n[[http.server.location]]\nmatch = \"/\"\n\
             proxy_pass = \"http://b\"\n",
        )
        .unwrap();
        assert_eq!(
            c.http.client_max_body_size,
            Some(crate::config::units::Size(8 << 20))
        );
        let loc = &c.http.server[0].location[0];
        assert_eq!(loc.match_.value, "/");
        assert_eq!(loc.match_.line, 7);
        assert_eq!(c.http.server[0].listen[0].line, 5);
    }

    #[test]
    fn section_lists_get_their_keys_lines() {
        let c = parse(
            "[http]\nproxy_set_header = [[\"A\", \"x\"]]\n[[http.server]]\n[[http.server.location]]\n\
             match = \"/\"\n\nproxy_redirect = [[\"off\"]]\n[[http.server.location.location]]\n\
             match = \"/a\"\nproxy_cookie_path = [[\"/a\", \"/\"]]\n",
        )
        .unwrap();
        assert_eq!(c.http.proxy.proxy_set_header.as_ref().map(|l| l.line), Some(2));
        let loc = &c.http.server[0].location[0];
        assert_eq!(loc.proxy.proxy_redirect.as_ref().map(|l| l.line), Some(7));
        let inner = &loc.location[0];
        assert_eq!(inner.proxy.proxy_cookie_path.as_ref().map(|l| l.line), Some(10));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[http]\nclient_max_body_size = \"8x\"\n",
                2,
                "client_max_body_size",
            ),
            ("[http]\n\nno_such_thing = 1\n", 3, "no_such_thing"),
            (
                "[http]\ngzip = true\n[[http.server]]\nlisten = [\"1\"]\n\nbogus = 2\n",
                6,
                "bogus",
            ),
            (
                "[http]\n[[http.server]]\n[[http.server.location]]\nmatch = \"/\"\nauth_basicc = \"x\"\n",
                5,
                "auth_basicc",
            ),
            // A wrong type in a feature's section (flattened: toml's own
            // span is the table) still names the key's line.
            (
                "[http]\ngzip = true\n[[http.server]]\n[[http.server.location]]\nmatch = \"/\"\n\ngzip_vary = 3\n",
                7,
                "gzip_vary",
            ),
            ("[http]\n\nproxy_read_timeout = \"5q\"\n", 3, "proxy_read_timeout"),
            (
                "[http]\nkeepalive_timeout = \"forever\"\n",
                2,
                "keepalive_timeout",
            ),
            ("[http\n", 1, ""),
        ];
        for (src, line, key) in cases {
            let e = parse(src).unwrap_err();
            assert_eq!(e.line, *line, "{src:?}: {e}");
            if !key.is_empty() {
                assert_eq!(e.directive.as_deref(), Some(*key), "{src:?}: {e}");
            }
            assert!(e.to_string().contains("/t/rampart.toml:"), "{e}");
        }
    }
}
