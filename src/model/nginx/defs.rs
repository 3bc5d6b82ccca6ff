//! nginx.conf arguments → the model's own definition types (`log_format`,
//! `return`), with nginx's wording for errors.

use crate::config::nginx::parser::Directive;
use crate::config::nginx::values::{first, number};
use crate::config::ConfigError;
use crate::model::{LogFormatDef, ReturnDef};

type R<T> = Result<T, ConfigError>;

/// `log_format NAME [escape=default|json|none] STRING ...`: the strings are
/// joined with nothing between them, as nginx compiles them.
pub fn log_format(d: &Directive) -> R<(String, LogFormatDef)> {
    let name = first(d).to_string();
    let mut rest = d.args.get(1..).unwrap_or_default();
    let mut escape = None;
    if let Some(e) = rest.first().and_then(|a| a.strip_prefix("escape=")) {
        if !matches!(e, "default" | "json" | "none") {
            return Err(d.err(format!("unknown log format escaping \"{e}\"")));
        }
        escape = Some(e.to_string());
        rest = rest.get(1..).unwrap_or_default();
    }
    if rest.is_empty() {
        return Err(d.err(format!("invalid number of arguments in \"{}\" directive", d.name)));
    }
    let format = rest.concat();
    Ok((
        name,
        match escape {
            None => LogFormatDef::Plain(format),
            Some(e) => LogFormatDef::Full {
                escape: Some(e),
                format,
            },
        },
    ))
}

/// `return CODE [TEXT]` or `return URL` (ngx_http_rewrite_return).
pub fn return_def(d: &Directive) -> R<ReturnDef> {
    let v = first(d);
    let bad = || d.err(format!("invalid return code \"{v}\""));
    match (number(v), d.args.get(1)) {
        (None, None)
            if (v.len() > 7 && v.starts_with("http://"))
                || (v.len() > 8 && v.starts_with("https://"))
                || v.starts_with("$scheme") =>
        {
            Ok(ReturnDef::Url(v.to_string()))
        }
        (None, _) => Err(bad()),
        (Some(c), _) if c > 999 => Err(bad()),
        (Some(c), None) => Ok(ReturnDef::Code(c as u16)),
        (Some(c), Some(text)) => Ok(ReturnDef::CodeText(c as u16, text.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::test(name, args, "/t/n.conf", 7)
    }

    #[test]
    fn returns() {
        let ok: &[(&[&str], ReturnDef)] = &[
            (&["404"], ReturnDef::Code(404)),
            (&["444"], ReturnDef::Code(444)),
            (&["http://x/"], ReturnDef::Url("http://x/".into())),
            (&["https://x"], ReturnDef::Url("https://x".into())),
            (&["$scheme://$host/"], ReturnDef::Url("$scheme://$host/".into())),
            (&["301", "/p"], ReturnDef::CodeText(301, "/p".into())),
            (&["200", ""], ReturnDef::CodeText(200, "".into())),
            (&["999"], ReturnDef::Code(999)),
        ];
        for (args, want) in ok {
            assert_eq!(return_def(&dir("return", args)).as_ref(), Ok(want), "{args:?}");
        }
        for args in [
            &["1000"][..],
            &["foo"],
            &["http://"],
            &["https://"],
            &["/x"],
            &["http://x", "y"],
            &["-1"],
        ] {
            let e = return_def(&dir("return", args)).unwrap_err();
            assert!(e.message.starts_with("invalid return code"), "{args:?}: {e}");
        }
    }

    #[test]
    fn log_formats() {
        let (n, f) = log_format(&dir("log_format", &["main", "$a ", "$b"])).unwrap();
        assert_eq!((n.as_str(), f), ("main", LogFormatDef::Plain("$a $b".into())));
        let (_, f) = log_format(&dir("log_format", &["j", "escape=json", "{\"a\":\"$a\"}"])).unwrap();
        assert_eq!(
            f,
            LogFormatDef::Full {
                escape: Some("json".into()),
                format: "{\"a\":\"$a\"}".into()
            }
        );
        let e = log_format(&dir("log_format", &["j", "escape=xml", "x"])).unwrap_err();
        assert_eq!(e.message, "unknown log format escaping \"xml\"");
        assert!(log_format(&dir("log_format", &["j", "escape=json"])).is_err());
    }
}
