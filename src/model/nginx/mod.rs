//! The nginx.conf front end: reads an operator's nginx.conf into the same
//! model as rampart.toml (`model::Config`), so everything downstream is
//! shared. The syntax (lexer, parser, directive table) is `config::nginx`.
//!
//! - `lexer`: `ngx_conf_read_token`'s rules (quotes, escapes, comments, `${var}`).
//! - `parser`: statements → a directive tree, `include` expanded in place.
//! - `directives`: the table (contexts, argument counts, and whether rampart
//!   maps, ignores with a warning, or does not implement each directive yet).
//! - `map` / `values`: the tree → the model, with nginx's wording for errors.
//!
//! Errors come out as nginx prints them: `MESSAGE in FILE:LINE`, the first
//! one in file order. A directive nginx has and rampart will implement later is
//! `"X" directive is not implemented yet`; [`analyze`] lists all of them.

pub mod defs;
pub mod map;

use crate::config::nginx::parser;
use crate::config::ConfigError;
use crate::log::Level;
use crate::model::Config;
use std::path::Path;

/// Everything reading an nginx.conf found.
#[derive(Debug)]
pub struct Report {
    /// The model, as far as mapping got (complete when `error` is None).
    pub config: Config,
    /// Every `"X" directive is not implemented yet`, in file order.
    pub not_implemented: Vec<ConfigError>,
    /// Every accepted-and-ignored directive (the warning `load` logs).
    pub ignored: Vec<ConfigError>,
    /// The error nginx would report: the first one in file order.
    pub error: Option<ConfigError>,
}

/// Reads `path` (and its includes) completely, collecting every
/// not-implemented directive rather than stopping at the first.
pub fn analyze(path: &Path) -> Report {
    finish(path, parser::parse_file(path))
}

/// [`analyze`] for text said to come from `path` (includes resolve against
/// its directory).
/// `-g "directives;"`: main-context directives from the command line, mapped
/// into an otherwise empty model (nginx's `ngx_conf_param`).
pub fn globals(text: &str) -> Result<Config, ConfigError> {
    let path = Path::new("command line");
    let parsed = parser::parse_str(path, text);
    if let Some(e) = parsed.error {
        return Err(e);
    }
    let mut m = map::Mapper {
        complete: true,
        ..map::Mapper::default()
    };
    let mut config = Config::default();
    m.main(&parsed.tree, &mut config)?;
    match m.not_implemented.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(config),
    }
}

pub fn analyze_str(path: &Path, text: &str) -> Report {
    finish(path, parser::parse_str(path, text))
}

fn finish(path: &Path, parsed: parser::Parsed) -> Report {
    let mut m = map::Mapper {
        complete: parsed.error.is_none(),
        ..map::Mapper::default()
    };
    let mut config = Config::default();
    let hard = m.main(&parsed.tree, &mut config).err();
    let mut error = m.not_implemented.first().cloned().or(hard).or(parsed.error);
    if error.is_none() && !parsed.tree.iter().any(|d| d.name == "events") {
        // ngx_event_init_conf: nginx refuses to start without an events block.
        error = Some(ConfigError::new(
            path,
            0,
            "no \"events\" section in configuration",
        ));
    }
    Report {
        config,
        not_implemented: m.not_implemented,
        ignored: m.ignored,
        error,
    }
}

/// Loads an nginx.conf: logs a warning for each ignored directive (with its
/// file:line) and returns the model or the first error.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let r = analyze(path);
    if let Some(e) = r.error {
        return Err(e);
    }
    for w in &r.ignored {
        crate::log::error_log::log(Level::Warn, None, format_args!("{w}"));
    }
    Ok(r.config)
}

#[cfg(test)]
mod tests;
