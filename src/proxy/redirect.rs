//! `proxy_redirect`: rewriting the upstream's `Location` and `Refresh`
//! headers (nginx/nginx: src/http/modules/ngx_http_proxy_module.c,
//! `ngx_http_proxy_redirect`, `ngx_http_proxy_rewrite_redirect`,
//! `ngx_http_proxy_rewrite_complex_handler`, `ngx_http_proxy_rewrite_regex_handler`).
//!
//! - rules are tried in config order; the first that matches wins;
//! - a plain REDIRECT (variables allowed) matches as a case-sensitive prefix
//!   of the value and only that prefix is replaced;
//! - a `~`/`~*` REDIRECT is a regex on the value; on a match the WHOLE value
//!   is replaced by REPLACEMENT, in which `$1..$9` are its captures;
//! - `default` is `proxy_pass`'s URL (plus `/` without a URI part) replaced
//!   by the location's prefix (or `/`), taken from the proxy target;
//! - for `Refresh` only the part after `url=` (any case) is matched and replaced.
//!
//! Which levels carry rules follows nginx's merge: a level with any
//! `proxy_redirect` replaces the parent's list, `off` clears it, a level
//! without one inherits, and without any anywhere a static `proxy_pass` gets
//! the implicit `default` (a `proxy_pass` with variables gets none).

use crate::exchange::request::Request;
use crate::routing::{Captures, PcreRegex};
use crate::vars::{Template, Var, VarSource};

/// One `proxy_redirect REDIRECT REPLACEMENT` (or `default`).
#[derive(Debug, Clone)]
pub enum Rule {
    Default,
    Prefix {
        pattern: Template,
        replacement: Template,
    },
    Regex {
        re: PcreRegex,
        replacement: Template,
    },
}

/// The resolved `proxy_redirect` setting of a location.
#[derive(Debug, Clone, Default)]
pub enum Redirects {
    /// No `proxy_redirect` at any level: `default` for a static proxy_pass.
    #[default]
    Implicit,
    /// `proxy_redirect off`.
    Off,
    List(Vec<Rule>),
}

/// What the rewrite did with a header value.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// There is no rewriter (`off`, or proxy_pass with variables and no rules):
    /// nginx's `u->rewrite_redirect` is NULL.
    NoRules,
    /// Rules exist, none matched.
    Declined,
    Rewritten(Vec<u8>),
}

/// Compiles the entries of one level: each is `["off"]`, `["default"]` or
/// `[REDIRECT, REPLACEMENT]`. `Err` carries nginx's wording.
pub fn compile(entries: &[Vec<String>]) -> Result<Redirects, String> {
    let mut rules = Vec::with_capacity(entries.len());
    for e in entries {
        match e.as_slice() {
            // `false` is nginx's old spelling of `off` (it logs a complaint and goes on).
            [w] if w == "off" || w == "false" => {
                if entries.len() > 1 {
                    return Err("\"proxy_redirect\" directive is duplicate".into());
                }
                return Ok(Redirects::Off);
            }
            [w] | [w, _] if w == "default" => rules.push(Rule::Default),
            [w] => return Err(format!("invalid parameter \"{w}\"")),
            [pattern, replacement] => {
                let replacement = Template::compile(replacement).map_err(|e| e.to_string())?;
                let rule = if let Some(re) = tilde_regex(pattern)? {
                    Rule::Regex { re, replacement }
                } else {
                    let pattern = Template::compile(pattern).map_err(|e| e.to_string())?;
                    Rule::Prefix { pattern, replacement }
                };
                rules.push(rule);
            }
            _ => return Err(format!("invalid number of arguments {e:?}")),
        }
    }
    Ok(Redirects::List(rules))
}

/// Every template a rule evaluates (for the config's variable check).
pub fn templates(r: &Redirects) -> impl Iterator<Item = &Template> {
    let rules: &[Rule] = match r {
        Redirects::List(v) => v,
        _ => &[],
    };
    rules
        .iter()
        .flat_map(|r| match r {
            Rule::Default => [None, None],
            Rule::Prefix { pattern, replacement } => [Some(pattern), Some(replacement)],
            Rule::Regex { replacement, .. } => [Some(replacement), None],
        })
        .flatten()
}

/// The proxy target's `default` pair; an empty `from` (proxy_pass with
/// variables) has no default.
pub struct DefaultPair<'a> {
    pub from: &'a [u8],
    pub to: &'a [u8],
}

/// Rewrites `value[prefix..]` by the first matching rule.
pub fn rewrite(r: &Redirects, def: &DefaultPair<'_>, req: &Request, value: &[u8], prefix: usize) -> Outcome {
    let implicit = [Rule::Default];
    let rules: &[Rule] = match r {
        Redirects::Off => return Outcome::NoRules,
        Redirects::Implicit if def.from.is_empty() => return Outcome::NoRules,
        Redirects::Implicit => &implicit,
        Redirects::List(v) => v,
    };
    let Some(rest) = value.get(prefix..) else {
        return Outcome::Declined;
    };
    for rule in rules {
        let (len, replacement) = match rule {
            Rule::Default => {
                if def.from.is_empty() || !rest.starts_with(def.from) {
                    continue;
                }
                (def.from.len(), def.to.to_vec())
            }
            Rule::Prefix { pattern, replacement } => {
                let p = pattern.eval_to_vec(req);
                if !rest.starts_with(&p) {
                    continue;
                }
                (p.len(), replacement.eval_to_vec(req))
            }
            Rule::Regex { re, replacement } => {
                let mut caps = Captures::default();
                if !re.exec(rest, &mut caps) {
                    continue;
                }
                let src = WithCaptures {
                    req,
                    caps: &caps,
                    subject: rest,
                };
                (rest.len(), replacement.eval_to_vec(&src))
            }
        };
        let mut out = Vec::with_capacity(value.len() + replacement.len());
        out.extend_from_slice(&value[..prefix]);
        out.extend_from_slice(&replacement);
        out.extend_from_slice(&rest[len..]);
        return Outcome::Rewritten(out);
    }
    Outcome::Declined
}

/// Where `Refresh`'s URL starts: after the first `url=`, in any case.
pub fn refresh_url_start(value: &[u8]) -> Option<usize> {
    value
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"url="))
        .map(|i| i + 4)
}

/// The request's variables, with `$1..$9` (and named groups) from this
/// rule's regex match, as nginx's `ngx_http_regex_exec` sets them.
pub(crate) struct WithCaptures<'a> {
    pub req: &'a Request,
    pub caps: &'a Captures,
    pub subject: &'a [u8],
}

impl VarSource for WithCaptures<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        let range = match var {
            Var::Capture(n) => self.caps.get(*n as usize),
            Var::Named(name) => self.caps.named(name),
            _ => return self.req.var(var, out),
        };
        match range.and_then(|r| self.subject.get(r)) {
            Some(s) => {
                out.extend_from_slice(s);
                true
            }
            None if matches!(var, Var::Named(_)) => self.req.var(var, out),
            None => false,
        }
    }
}

/// A `~regex` (case-sensitive) or `~*regex` (caseless) pattern of
/// proxy_redirect / proxy_cookie_*, compiled; `None` for a plain one.
pub(crate) fn tilde_regex(pattern: &str) -> Result<Option<PcreRegex>, String> {
    let Some(p) = pattern.strip_prefix('~') else {
        return Ok(None);
    };
    let (p, caseless) = match p.strip_prefix('*') {
        Some(p) => (p, true),
        None => (p, false),
    };
    PcreRegex::compile(p, caseless)
        .map(Some)
        .map_err(|e| format!("{e} in \"{p}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|e| e.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn compiles_entries_as_nginx() {
        assert!(matches!(compile(&entries(&[&["off"]])), Ok(Redirects::Off)));
        assert!(matches!(compile(&entries(&[&["false"]])), Ok(Redirects::Off)));
        // `off` with any other entry of the same level is duplicate (checked with nginx -t).
        assert_eq!(
            compile(&entries(&[&["default"], &["off"]])).unwrap_err(),
            "\"proxy_redirect\" directive is duplicate"
        );
        assert!(compile(&entries(&[&["off"], &["http://a/", "/"]])).is_err());
        assert_eq!(
            compile(&entries(&[&["on"]])).unwrap_err(),
            "invalid parameter \"on\""
        );
        let Ok(Redirects::List(l)) = compile(&entries(&[
            &["default"],
            &["http://a/", "/b/"],
            &["~^http://x(/.*)$", "$1"],
            &["~*^HTTP://Y", "/"],
        ])) else {
            panic!("list expected");
        };
        assert_eq!(l.len(), 4);
        assert!(matches!(l[0], Rule::Default));
        assert!(matches!(l[1], Rule::Prefix { .. }));
        assert!(matches!(l[2], Rule::Regex { .. }));
        assert!(compile(&entries(&[&["~(unclosed", "/"]])).is_err());
        assert!(compile(&entries(&[&["http://a/", "$"]])).is_err());
    }

    #[test]
    fn finds_refresh_url() {
        let t: &[(&str, Option<usize>)] = &[
            ("5; url=http://a/x", Some(7)),
            ("0;URL=/x", Some(6)),
            ("5", None),
            ("url=", Some(4)),
        ];
        for (v, want) in t {
            assert_eq!(refresh_url_start(v.as_bytes()), *want, "{v}");
        }
    }
}
