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
    located::with_source(text, || toml::from_str::<Config>(text)).map_err(|e| {
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
        err
    })
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
