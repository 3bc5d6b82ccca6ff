//! nginx's rewrite module: `rewrite`, `set`, `return` and `break`, compiled
//! into one script per server and per location and run in nginx's rewrite
//! phases (nginx/nginx: src/http/modules/ngx_http_rewrite_module.c and the
//! regex codes of src/http/ngx_http_script.c).
//!
//! The rules reproduced here, each checked against nginx 1.22.1 by
//! tests/rewrite.rs:
//! - the regex runs on `$uri` (decoded, normalised); on a match its captures
//!   replace `$1..$9` and its named captures become variables;
//! - a replacement starting with `http://`, `https://` or `$scheme`, or the
//!   flags `redirect` (302) / `permanent` (301), answer with a redirect and
//!   stop the script; the original arguments are appended (`?` or `&`)
//!   unless the replacement ends with `?`;
//! - otherwise the replacement's path becomes `$uri`; with a `?` in it, its
//!   arguments become `$args` (followed by `&` and the original ones unless it
//!   ends with `?`); a replacement ending with `?` and no other `?` clears
//!   `$args`;
//! - `last` stops the script and searches the location again with the new
//!   URI; `break` stops it and stays in the location; no flag goes on with
//!   the next statement (and the location is searched again at the end if the
//!   URI changed); `break;` stops the script and cancels a pending search;
//! - at server level `last` acts as `break` (the location search follows anyway);
//! - a rewrite regex that does not match empties `$1..$9` (measured on nginx).

use crate::exchange::request::Request;
use crate::model::RewriteStep;
use crate::routing::{Captures, PcreRegex};
use crate::vars::Template;
use std::sync::Arc;

/// A compiled `return CODE [TEXT|URL]` (a location's handler or a script statement).
#[derive(Debug, Clone)]
pub struct ReturnRt {
    pub code: u16,
    /// Body text, or the Location for 301/302/303/307/308.
    pub text: Option<Template>,
}

/// What a rewrite does after a match (`rewrite`'s fourth argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    None,
    Last,
    Break,
    Redirect,
    Permanent,
}

/// One compiled `rewrite REGEX REPLACEMENT [FLAG]`.
#[derive(Debug)]
pub struct Rewrite {
    pub re: PcreRegex,
    /// The replacement without a final `?`.
    pub replacement: Template,
    pub flag: Flag,
    /// The replacement makes an external redirect (`http://`, `https://`, `$scheme`).
    pub external: bool,
    /// The replacement has arguments of its own (a `?` inside it).
    pub has_args: bool,
    /// The original arguments are kept (the replacement does not end with `?`).
    pub add_args: bool,
}

/// One statement of a script.
#[derive(Debug)]
pub enum Op {
    Rewrite(Box<Rewrite>),
    /// `set $name value`.
    Set(Arc<str>, Template),
    Return(ReturnRt),
    Break,
}

/// How a script ended.
#[derive(Debug)]
pub enum End<'a> {
    /// Ran to the end; `true` when a flagless rewrite changed the URI (the
    /// location must be searched again).
    Done(bool),
    /// `rewrite ... last`: search the location again with the new URI.
    Last,
    /// `break` or `rewrite ... break`: stay in this location.
    Break,
    Return(&'a ReturnRt),
    /// External redirect: status and Location.
    Redirect(u16, Vec<u8>),
}

/// Compiles a `rewrite` step's arguments. Errors are worded as nginx's.
pub fn compile_rewrite(args: &[String]) -> Result<Rewrite, String> {
    let (pattern, repl) = match args {
        [p, r] | [p, r, _] => (p.as_str(), r.as_str()),
        _ => return Err("invalid number of arguments in \"rewrite\" directive".into()),
    };
    let flag = match args.get(2).map(String::as_str) {
        None => Flag::None,
        Some("last") => Flag::Last,
        Some("break") => Flag::Break,
        Some("redirect") => Flag::Redirect,
        Some("permanent") => Flag::Permanent,
        Some(other) => return Err(format!("invalid parameter \"{other}\"")),
    };
    let re = PcreRegex::compile(pattern, false)
        .map_err(|e| format!("pcre_compile() failed: {e} in \"{pattern}\""))?;
    let external = repl.starts_with("http://") || repl.starts_with("https://") || repl.starts_with("$scheme");
    let (body, add_args) = match repl.strip_suffix('?') {
        Some(b) => (b, false),
        None => (repl, true),
    };
    let has_args = body.contains('?');
    let replacement = Template::compile(body).map_err(|e| e.to_string())?;
    Ok(Rewrite {
        re,
        replacement,
        flag,
        external,
        has_args,
        add_args,
    })
}

/// Compiles a `rewrite`, `set` or `break` step (the runtime compiles `return`
/// steps itself). The error names the directive.
pub fn compile_step(st: &RewriteStep) -> Result<Op, (&'static str, String)> {
    if let Some(args) = &st.rewrite {
        return compile_rewrite(args)
            .map(|r| Op::Rewrite(Box::new(r)))
            .map_err(|e| ("rewrite", e));
    }
    if let Some((name, value)) = &st.set {
        let n = name.strip_prefix('$').unwrap_or_default();
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(("set", format!("invalid variable name \"{name}\"")));
        }
        // Built-in variables are read-only, except `$args` (nginx marks it
        // NGX_HTTP_VAR_CHANGEABLE; `set $args ...` rewrites the arguments).
        // Prefix families (`$http_x`, `$arg_x`, ...) are no named variables in
        // nginx: `set $http_x` defines one that then shadows the header.
        use crate::vars::Var;
        if !matches!(
            Var::from_name(n),
            Var::Named(_)
                | Var::Args
                | Var::Http(_)
                | Var::SentHttp(_)
                | Var::UpstreamHttp(_)
                | Var::Arg(_)
                | Var::Cookie(_)
        ) {
            return Err(("set", format!("the duplicate \"{n}\" variable")));
        }
        let t = Template::compile(value).map_err(|e| ("set", e.to_string()))?;
        return Ok(Op::Set(Arc::from(n), t));
    }
    if st.break_ == Some(true) {
        return Ok(Op::Break);
    }
    Err((
        "rewrite",
        "a rewrite step needs one of \"rewrite\", \"set\", \"return\", \"break\"".into(),
    ))
}

/// Names a script defines: `set` variables and the regexes' named captures.
pub fn defined_names(ops: &[Op], out: &mut Vec<String>) {
    for op in ops {
        match op {
            Op::Set(n, _) => out.push(n.to_string()),
            Op::Rewrite(r) => out.extend(r.re.names().map(str::to_string)),
            _ => {}
        }
    }
}

/// Runs `ops` on `req` (ngx_http_rewrite_handler).
pub fn run<'a>(ops: &'a [Op], req: &mut Request) -> End<'a> {
    let mut changed = false;
    for op in ops {
        match op {
            Op::Rewrite(r) => {
                let mut caps = Captures::default();
                if !r.re.exec(&req.uri, &mut caps) {
                    // nginx 1.22.1 empties `$1..$9` when a rewrite regex does
                    // not match (a failed location regex leaves them): checked
                    // against nginx, named captures stay.
                    req.captures.clear_positional();
                    continue;
                }
                let subject = req.uri.clone();
                req.set_captures(caps, subject);
                let redirect = r.external || matches!(r.flag, Flag::Redirect | Flag::Permanent);
                let value = eval_replacement(&r.replacement, req, redirect);
                if redirect {
                    let mut location = unescape_redirect(&value);
                    if r.add_args {
                        if let Some(a) = req.query() {
                            location.push(if r.has_args { b'&' } else { b'?' });
                            location.extend_from_slice(a);
                        }
                    }
                    let status = if r.flag == Flag::Permanent { 301 } else { 302 };
                    return End::Redirect(status, location);
                }
                apply_internal(req, r, value);
                changed = true;
                match r.flag {
                    Flag::Last => return End::Last,
                    Flag::Break => {
                        req.uri_rewritten_break = true;
                        return End::Break;
                    }
                    _ => {}
                }
            }
            Op::Set(name, t) => {
                let v = t.eval_to_vec(req);
                if matches!(&**name, "args" | "query_string") {
                    req.args = Some(v);
                } else {
                    req.set_var(name, v);
                }
            }
            Op::Return(r) => return End::Return(r),
            Op::Break => return End::Break,
        }
    }
    End::Done(changed)
}

/// nginx 1.22's NGX_ESCAPE_ARGS set (measured on nginx 1.22.1): blank, `"`,
/// `#`, `%`, `&`, `+`, `;`, `<`, `>`, `?`, `\`, `^`, `` ` ``, `{`, `|`, `}`,
/// control bytes, DEL and bytes >= 0x80.
fn escaped_in_args(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || b"\"#%&+;<>?\\^`{|}".contains(&b)
}

/// The replacement's value (ngx_http_script_copy_capture_code): when the
/// request URI had `%` escapes or a `+`, a capture copied into the arguments
/// part (after a literal `?`) or into a redirect is escaped with nginx's
/// ARGS set, since `$uri` holds it decoded.
fn eval_replacement(t: &Template, req: &Request, redirect: bool) -> Vec<u8> {
    use crate::vars::{Part, Var, VarSource};
    let path = req.head.target().split(|&b| b == b'?').next().unwrap_or_default();
    let quoted = path.iter().any(|&b| b == b'%' || b == b'+');
    let mut out = Vec::new();
    let mut is_args = false;
    let mut cap = Vec::new();
    for p in t.parts() {
        match p {
            Part::Lit(l) => {
                is_args |= l.contains(&b'?');
                out.extend_from_slice(l);
            }
            Part::Var(v @ Var::Capture(_)) if quoted && (is_args || redirect) => {
                cap.clear();
                req.var(v, &mut cap);
                for &b in &cap {
                    if escaped_in_args(b) {
                        out.extend_from_slice(format!("%{b:02X}").as_bytes());
                    } else {
                        out.push(b);
                    }
                }
            }
            Part::Var(v) => {
                req.var(v, &mut out);
            }
        }
    }
    out
}

/// `ngx_unescape_uri(NGX_UNESCAPE_REDIRECT)` as nginx 1.22.1 applies it to a
/// redirect (measured): up to the first `?` (raw or `%3F`), a `%XX` whose
/// byte is above `%` and below DEL is decoded;
/// everything from that `?` on is copied as it is.
fn unescape_redirect(v: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'?' {
            out.extend_from_slice(v.get(i..).unwrap_or_default());
            return out;
        }
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                v.get(i + 1).and_then(|&c| hex(c)),
                v.get(i + 2).and_then(|&c| hex(c)),
            ) {
                let ch = (h << 4) | l;
                if ch == b'?' {
                    out.push(b'?');
                    out.extend_from_slice(v.get(i + 3..).unwrap_or_default());
                    return out;
                }
                if ch > b'%' && ch < 0x7f {
                    out.push(ch);
                } else {
                    out.extend_from_slice(v.get(i..i + 3).unwrap_or_default());
                }
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The new `$uri` and `$args` of an internal rewrite (ngx_http_script_regex_end_code).
fn apply_internal(req: &mut Request, r: &Rewrite, value: Vec<u8>) {
    let (path, new_args) = if r.has_args {
        match value.iter().position(|&b| b == b'?') {
            Some(i) => (
                value.get(..i).unwrap_or_default().to_vec(),
                Some(value.get(i + 1..).unwrap_or_default().to_vec()),
            ),
            None => (value, None),
        }
    } else {
        (value, None)
    };
    match new_args {
        Some(mut a) => {
            if r.add_args {
                if let Some(old) = req.query() {
                    a.push(b'&');
                    a.extend_from_slice(old);
                }
            }
            req.args = Some(a);
        }
        None => {
            // A final `?` empties the arguments (nginx: `r->args.len = 0`,
            // its data kept): `$args` is then "" after a request with
            // arguments, still not found after one without.
            if !r.add_args {
                if let Some(a) = req.args.as_mut() {
                    a.clear();
                }
            }
        }
    }
    req.uri = path;
    req.uri_changed = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn compiles_flags_and_args_rules() {
        // (args, external, has_args, add_args, flag)
        let cases: &[(&[&str], bool, bool, bool, Flag)] = &[
            (&["^/a", "/b"], false, false, true, Flag::None),
            (&["^/a", "/b?"], false, false, false, Flag::None),
            (&["^/a", "/b?x=1"], false, true, true, Flag::None),
            (&["^/a", "/b?x=1?"], false, true, false, Flag::None),
            (&["^/a", "http://h/b", "last"], true, false, true, Flag::Last),
            (&["^/a", "https://h/b?", "break"], true, false, false, Flag::Break),
            (
                &["^/a", "$scheme://h/b", "redirect"],
                true,
                false,
                true,
                Flag::Redirect,
            ),
            (&["^/a", "/b", "permanent"], false, false, true, Flag::Permanent),
        ];
        for (a, ext, has, add, flag) in cases {
            let r = compile_rewrite(&args(a)).unwrap();
            assert_eq!(
                (r.external, r.has_args, r.add_args, r.flag),
                (*ext, *has, *add, *flag),
                "{a:?}"
            );
        }
    }

    #[test]
    fn redirect_unescaping_as_nginx() {
        let cases: &[(&str, &str)] = &[
            (
                "/a%22b%27c%23d%25e%3Bf%2Bg%26h%3Fi%3Cj",
                "/a%22b'c%23d%25e;f+g&h?i%3Cj",
            ),
            ("/a%20b%5Cc%7Bd", "/a%20b\\c{d"),
            ("/x?a=%20%26", "/x?a=%20%26"),
            ("/a b%20c?d e", "/a b%20c?d e"),
            ("/%3c%3E%7e", "/<>~"),
            ("/bad%zz%4", "/bad%zz%4"),
        ];
        for (v, want) in cases {
            assert_eq!(
                String::from_utf8(unescape_redirect(v.as_bytes())).unwrap(),
                *want,
                "{v}"
            );
        }
        assert!(escaped_in_args(b' ') && escaped_in_args(b'&') && escaped_in_args(0xc3));
        assert!(!escaped_in_args(b'\'') && !escaped_in_args(b'=') && !escaped_in_args(b'~'));
    }

    #[test]
    fn rejects_bad_rewrites() {
        assert_eq!(
            compile_rewrite(&args(&["^/a", "/b", "stop"])).unwrap_err(),
            "invalid parameter \"stop\""
        );
        assert!(compile_rewrite(&args(&["(?<=a)b", "/b"])).is_err());
        assert!(compile_rewrite(&args(&["^/a", "/b$"])).is_err());
        let set = RewriteStep {
            set: Some(("x".into(), "1".into())),
            ..RewriteStep::default()
        };
        let e = compile_step(&set).unwrap_err();
        assert_eq!(e.1, "invalid variable name \"x\"");
        let set = |n: &str| RewriteStep {
            set: Some((n.into(), "1".into())),
            ..RewriteStep::default()
        };
        assert_eq!(
            compile_step(&set("$host")).unwrap_err().1,
            "the duplicate \"host\" variable"
        );
        assert!(compile_step(&set("$http_x")).is_ok());
        assert!(compile_step(&set("$args")).is_ok());
        assert!(compile_step(&set("$mine")).is_ok());
    }
}
