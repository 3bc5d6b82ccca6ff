//! `proxy_cookie_domain` and `proxy_cookie_path`: rewriting the `domain=`
//! and `path=` attributes of upstream `Set-Cookie` headers (nginx/nginx:
//! src/http/modules/ngx_http_proxy_module.c, `ngx_http_proxy_rewrite_cookie`,
//! `ngx_http_proxy_parse_cookie`, `ngx_http_proxy_rewrite_domain_handler`).
//!
//! - rules in config order, the first that matches an attribute wins;
//! - a plain domain (variables allowed, a leading `.` ignored on both sides)
//!   must equal the attribute's value, in any case, after its own leading
//!   `.`, which is kept; a plain path is a case-sensitive prefix, replaced;
//! - a `~`/`~*` regex replaces the whole value, with `$1..$9`;
//! - once anything was rewritten, the cookie is written again as nginx
//!   writes it: `name=value; attr=value; flag`, blanks around parts dropped.

use crate::exchange::request::Request;
use crate::routing::PcreRegex;
use crate::vars::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Domain,
    Path,
}

#[derive(Debug, Clone)]
pub enum Rule {
    Plain {
        pattern: Template,
        replacement: Template,
    },
    Regex {
        re: PcreRegex,
        replacement: Template,
    },
}

/// Compiles one level's entries (`["off"]` or `[PATTERN, REPLACEMENT]`);
/// `off` gives no rules. `Err` carries nginx's wording.
pub fn compile(attr: Attr, name: &str, entries: &[Vec<String>]) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::with_capacity(entries.len());
    for e in entries {
        match e.as_slice() {
            [w] if w == "off" => {
                if entries.len() > 1 {
                    return Err(format!("\"{name}\" directive is duplicate"));
                }
                return Ok(Vec::new());
            }
            [w] => return Err(format!("invalid parameter \"{w}\"")),
            [pattern, replacement] => {
                let strip = |s: &'_ str| -> String {
                    match attr {
                        Attr::Domain => s.strip_prefix('.').unwrap_or(s).to_string(),
                        Attr::Path => s.to_string(),
                    }
                };
                let replacement = Template::compile(&strip(replacement)).map_err(|e| e.to_string())?;
                rules.push(if let Some(re) = super::redirect::tilde_regex(pattern)? {
                    Rule::Regex { re, replacement }
                } else {
                    let pattern = Template::compile(&strip(pattern)).map_err(|e| e.to_string())?;
                    Rule::Plain { pattern, replacement }
                });
            }
            _ => return Err(format!("invalid number of arguments in \"{name}\" directive")),
        }
    }
    Ok(rules)
}

/// Every template of the rules (for the config's variable check).
pub fn templates(rules: &[Rule]) -> impl Iterator<Item = &Template> {
    rules
        .iter()
        .flat_map(|r| match r {
            Rule::Plain { pattern, replacement } => [Some(pattern), Some(replacement)],
            Rule::Regex { replacement, .. } => [Some(replacement), None],
        })
        .flatten()
}

/// One `name[=value]` part of a cookie; `value` is `None` without `=`.
struct Part<'a> {
    name: &'a [u8],
    value: Option<std::borrow::Cow<'a, [u8]>>,
}

fn parse(value: &[u8]) -> Vec<Part<'_>> {
    value
        .split(|&b| b == b';')
        .map(|p| {
            let p = trim_start(p);
            match p.iter().position(|&b| b == b'=') {
                Some(i) => Part {
                    name: trim_end(&p[..i]),
                    value: Some(trim_end(&p[i + 1..]).into()),
                },
                None => Part {
                    name: trim_end(p),
                    value: None,
                },
            }
        })
        .collect()
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| b == b' ').count();
    &s[..s.len() - n]
}

/// The rewritten `Set-Cookie` value, or `None` when no rule matched.
pub fn rewrite(domains: &[Rule], paths: &[Rule], req: &Request, value: &[u8]) -> Option<Vec<u8>> {
    if domains.is_empty() && paths.is_empty() {
        return None;
    }
    let mut parts = parse(value);
    // The first part must be `name=value`, else nginx leaves the header alone.
    parts.first()?.value.as_ref()?;
    let mut changed = false;
    for p in parts.iter_mut().skip(1) {
        let Some(v) = &p.value else { continue };
        let (attr, rules) = if p.name.eq_ignore_ascii_case(b"domain") {
            (Attr::Domain, domains)
        } else if p.name.eq_ignore_ascii_case(b"path") {
            (Attr::Path, paths)
        } else {
            continue;
        };
        if let Some(new) = rewrite_value(attr, rules, req, v) {
            p.value = Some(new.into());
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    let mut out = Vec::with_capacity(value.len() + 16);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(p.name);
        if let Some(v) = &p.value {
            out.push(b'=');
            out.extend_from_slice(v);
        }
    }
    Some(out)
}

fn rewrite_value(attr: Attr, rules: &[Rule], req: &Request, v: &[u8]) -> Option<Vec<u8>> {
    for r in rules {
        match r {
            Rule::Plain { pattern, replacement } => {
                let p = pattern.eval_to_vec(req);
                let keep = match attr {
                    Attr::Domain => usize::from(v.first() == Some(&b'.')),
                    Attr::Path => 0,
                };
                let rest = &v[keep..];
                let len = match attr {
                    Attr::Domain if rest.eq_ignore_ascii_case(&p) => rest.len(),
                    Attr::Path if rest.starts_with(&p) => p.len(),
                    _ => continue,
                };
                let mut out = v[..keep].to_vec();
                replacement.eval(req, &mut out);
                out.extend_from_slice(&rest[len..]);
                return Some(out);
            }
            Rule::Regex { re, replacement } => {
                let mut caps = crate::routing::Captures::default();
                if !re.exec(v, &mut caps) {
                    continue;
                }
                let src = super::redirect::WithCaptures {
                    req,
                    caps: &caps,
                    subject: v,
                };
                return Some(replacement.eval_to_vec(&src));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_entries_as_nginx() {
        let e = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter()
                .map(|e| e.iter().map(|s| s.to_string()).collect())
                .collect()
        };
        assert!(compile(Attr::Domain, "proxy_cookie_domain", &e(&[&["off"]]))
            .unwrap()
            .is_empty());
        assert_eq!(
            compile(Attr::Domain, "proxy_cookie_domain", &e(&[&["a", "b"], &["off"]])).unwrap_err(),
            "\"proxy_cookie_domain\" directive is duplicate"
        );
        assert_eq!(
            compile(Attr::Path, "proxy_cookie_path", &e(&[&["on"]])).unwrap_err(),
            "invalid parameter \"on\""
        );
        assert_eq!(
            compile(
                Attr::Path,
                "proxy_cookie_path",
                &e(&[&["/a", "/b"], &["~^/(x)", "/$1"]])
            )
            .unwrap()
            .len(),
            2
        );
        assert!(compile(Attr::Path, "proxy_cookie_path", &e(&[&["~(x", "/"]])).is_err());
    }

    #[test]
    fn parses_cookie_parts_as_nginx() {
        let p = parse(b"a=b;  Path=/x ; HttpOnly;Domain=.E.com");
        let got: Vec<(String, Option<String>)> = p
            .iter()
            .map(|p| {
                (
                    String::from_utf8_lossy(p.name).into(),
                    p.value.as_ref().map(|v| String::from_utf8_lossy(v).into()),
                )
            })
            .collect();
        let want: Vec<(String, Option<String>)> = vec![
            ("a".into(), Some("b".into())),
            ("Path".into(), Some("/x".into())),
            ("HttpOnly".into(), None),
            ("Domain".into(), Some(".E.com".into())),
        ];
        assert_eq!(got, want);
    }
}
