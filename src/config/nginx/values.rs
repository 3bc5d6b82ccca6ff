//! Directive values read as nginx's slot handlers read them, with their
//! wording (nginx/nginx: src/core/ngx_conf_file.c `ngx_conf_set_*_slot`,
//! src/core/ngx_string.c `ngx_atoi`, src/http/modules/ngx_http_log_module.c,
//! src/http/modules/ngx_http_rewrite_module.c).

use super::parser::Directive;
use crate::config::units::{self, Dur, Size};
use crate::config::ConfigError;

type R<T = ()> = Result<T, ConfigError>;

/// `ngx_atoi`: decimal digits only (no sign, no blanks), no overflow.
pub fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Sets a single-valued setting; a second one at the same level is nginx's
/// "is duplicate" (the slot is already set).
pub fn once<T>(slot: &mut Option<T>, v: T, d: &Directive) -> R {
    if slot.is_some() {
        return Err(duplicate(d));
    }
    *slot = Some(v);
    Ok(())
}

pub fn duplicate(d: &Directive) -> ConfigError {
    d.err(format!("\"{}\" directive is duplicate", d.name))
}

/// The slot handlers' "invalid value": nginx prints `"x" directive invalid value`.
pub fn invalid_value(d: &Directive) -> ConfigError {
    d.err(format!("\"{}\" directive invalid value", d.name))
}

pub fn invalid_number(d: &Directive) -> ConfigError {
    d.err(format!("\"{}\" directive invalid number", d.name))
}

pub fn first(d: &Directive) -> &str {
    d.args.first().map(String::as_str).unwrap_or_default()
}

/// `ngx_conf_set_size_slot`.
pub fn size(d: &Directive) -> R<Size> {
    units::parse_size(first(d)).map_err(|_| invalid_value(d))
}

/// `ngx_conf_set_msec_slot`.
pub fn msec(d: &Directive) -> R<Dur> {
    units::parse_duration(first(d)).map_err(|_| invalid_value(d))
}

/// `ngx_conf_set_flag_slot`: `on` or `off`, in any case.
/// `N SIZE` as ngx_conf_set_bufs_slot reads it (a positive number and a
/// positive size), kept as written.
pub fn bufs(d: &Directive) -> R<String> {
    let v = d.args.join(" ");
    match units::parse_bufs(&v) {
        Some(_) => Ok(v),
        None => Err(invalid_value(d)),
    }
}

pub fn flag(d: &Directive) -> R<bool> {
    let v = first(d);
    if v.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(d.err(format!(
            "invalid value \"{v}\" in \"{}\" directive, it must be \"on\" or \"off\"",
            d.name
        )))
    }
}

/// A log destination rampart can open: a file path (or `stderr` for the
/// error log). The model keeps `"PATH [PARAM]"` as one string, so a path
/// with a blank cannot be carried; syslog and variables are later work.
pub fn plain_path(d: &Directive, what: &str, path: &str) -> R {
    if path.starts_with("syslog:") || path.starts_with("memory:") {
        let kind = path.split(':').next().unwrap_or_default();
        return Err(d.err(format!(
            "logging to \"{kind}:\" in \"{what}\" is not implemented yet"
        )));
    }
    if path.contains('$') {
        return Err(d.err(format!(
            "variables in the \"{what}\" path are not implemented yet"
        )));
    }
    if path.is_empty() || path.contains(char::is_whitespace) {
        return Err(d.err(format!("invalid value \"{path}\" in \"{what}\" directive")));
    }
    Ok(())
}

/// `access_log off` or `access_log PATH [FORMAT]` (ngx_http_log_set_log);
/// returns the model's `"PATH [FORMAT]"` entry.
pub fn access_log(d: &Directive) -> R<String> {
    let path = first(d);
    if path == "off" {
        if let Some(p) = d.args.get(1) {
            return Err(d.err(format!("invalid parameter \"{p}\"")));
        }
        return Ok("off".into());
    }
    plain_path(d, "access_log", path)?;
    let params = d.args.get(2..).unwrap_or_default().iter().map(String::as_str);
    crate::config::value::access_log::access_log_params(params).map_err(|e| d.err(e))?;
    // The model keeps one string per entry, split on blanks again at load.
    if let Some(p) = d.args.iter().skip(2).find(|a| a.contains(char::is_whitespace)) {
        return Err(d.err(format!(
            "a blank in \"{p}\" of \"access_log\" is not implemented yet"
        )));
    }
    Ok(d.args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::test(name, args, "/t/n.conf", 7)
    }

    #[test]
    fn numbers_as_ngx_atoi() {
        for (s, want) in [
            ("0", Some(0)),
            ("42", Some(42)),
            ("", None),
            ("+1", None),
            ("-1", None),
            ("1 ", None),
        ] {
            assert_eq!(number(s), want, "{s:?}");
        }
        assert_eq!(number("99999999999999999999999"), None);
    }

    #[test]
    fn flags() {
        assert_eq!(flag(&dir("merge_slashes", &["on"])), Ok(true));
        assert_eq!(flag(&dir("merge_slashes", &["OFF"])), Ok(false));
        let e = flag(&dir("merge_slashes", &["yes"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"yes\" in \"merge_slashes\" directive, it must be \"on\" or \"off\" in /t/n.conf:7"
        );
    }

    #[test]
    fn access_logs() {
        assert_eq!(access_log(&dir("access_log", &["off"])).unwrap(), "off");
        assert_eq!(
            access_log(&dir("access_log", &["logs/a.log", "main"])).unwrap(),
            "logs/a.log main"
        );
        assert_eq!(
            access_log(&dir(
                "access_log",
                &["a.log", "main", "buffer=32k", "flush=5s", "if=$x"]
            ))
            .unwrap(),
            "a.log main buffer=32k flush=5s if=$x"
        );
        let cases: &[(&[&str], &str)] = &[
            (&["off", "x"], "invalid parameter \"x\""),
            (&["a.log", "main", "gzip=0"], "invalid compression level \"0\""),
            (
                &["a.log", "main", "flush=1s"],
                "no buffer is defined for access_log",
            ),
            (&["a.log", "main", "buffer=k"], "invalid buffer size \"k\""),
            (
                &["a.log", "main", "if=$a b"],
                "a blank in \"if=$a b\" of \"access_log\" is not implemented yet",
            ),
            (
                &["syslog:server=1.2.3.4"],
                "logging to \"syslog:\" in \"access_log\" is not implemented yet",
            ),
            (
                &["logs/$host.log"],
                "variables in the \"access_log\" path are not implemented yet",
            ),
            (
                &["a b.log"],
                "invalid value \"a b.log\" in \"access_log\" directive",
            ),
        ];
        for (args, msg) in cases {
            assert_eq!(
                access_log(&dir("access_log", args)).unwrap_err().message,
                *msg,
                "{args:?}"
            );
        }
    }
}
