//! Routing: which virtual server and which location handle a request, and the
//! `$uri` they are matched against.
//!
//! - [`host`]: Host header validation and normalisation (`ngx_http_validate_host`).
//! - [`server_name`]: server_name lookup among the servers of one listen address.
//! - [`uri`]: `$uri` from the raw request target (`ngx_http_parse_complex_uri`).
//! - [`location`]: nginx's location tree and search (`ngx_http_core_find_location`).
//!
//! Regexes from the config (`location ~`, `server_name ~`) are PCRE in nginx;
//! rampart runs them on the `regex` crate (linear time). [`PcreRegex`]
//! translates what has an exact equivalent and rejects the rest, naming the
//! construct, so a pattern never silently matches something else.

pub mod host;
pub mod location;
pub mod server_name;
pub mod uri;

use std::sync::Arc;

pub use host::{normalize_host, HostError};
pub use location::{Captures, Found, LocationError, LocationSpec, LocationTree, Modifier};
pub use server_name::{NameError, NameTable};
pub use uri::{escape_uri, extension, normalize, UriError};

/// A PCRE pattern from an nginx config, compiled for the `regex` crate with
/// PCRE's byte semantics (nginx does not set PCRE's UTF flag): Unicode off,
/// `\w`/`\d`/`\s`/`\b` ASCII-only, case folding ASCII-only, `.` any byte but `\n`.
#[derive(Debug, Clone)]
pub struct PcreRegex {
    re: regex::bytes::Regex,
    source: Box<str>,
    /// PCRE's non-multiline `$` (and `\Z`) also matches before a final `\n`.
    /// The translation uses `\z`; a subject ending in `\n` that does not match
    /// is retried without that byte (every other construct sees the same bytes).
    retry_without_final_newline: bool,
    /// Capture groups, not counting group 0.
    groups: usize,
    /// Named groups: (group index, name).
    names: Box<[(usize, Arc<str>)]>,
}

impl PcreRegex {
    /// Compiles `pattern`; `caseless` is PCRE_CASELESS (`~*`, or a server_name
    /// regex with an uppercase letter). The error names the unsupported construct.
    pub fn compile(pattern: &str, caseless: bool) -> Result<PcreRegex, String> {
        let t = translate(pattern)?;
        let re = regex::bytes::RegexBuilder::new(&t.pattern)
            .unicode(false)
            .case_insensitive(caseless)
            .build()
            .map_err(|e| e.to_string())?;
        let names: Box<[(usize, Arc<str>)]> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, Arc::from(n))))
            .collect();
        Ok(PcreRegex {
            groups: re.captures_len().saturating_sub(1),
            re,
            source: pattern.into(),
            retry_without_final_newline: t.dollar,
            names,
        })
    }

    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The names of the named groups (they define variables of that name).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(_, n)| &**n)
    }

    /// Number of capture groups (PCRE's capture count, named ones included).
    pub fn captures_len(&self) -> usize {
        self.groups
    }

    /// The part of `subject` this regex matches against: all of it, or all
    /// but a final `\n` for PCRE's `$` (see `retry_without_final_newline`).
    fn matching_subject<'s>(&self, subject: &'s [u8]) -> Option<&'s [u8]> {
        if self.re.is_match(subject) {
            return Some(subject);
        }
        if self.retry_without_final_newline {
            if let Some(rest) = subject.strip_suffix(b"\n") {
                if self.re.is_match(rest) {
                    return Some(rest);
                }
            }
        }
        None
    }

    /// Whether the pattern matches anywhere in `subject` (PCRE is unanchored).
    pub fn is_match(&self, subject: &[u8]) -> bool {
        self.matching_subject(subject).is_some()
    }

    /// Runs the regex like `ngx_http_regex_exec` (nginx/nginx:
    /// src/http/ngx_http_variables.c): on a match the positional captures are
    /// replaced by this regex's (none for a regex without groups, so `$1`
    /// becomes empty: nginx sets `r->ncaptures` on every match) and its named
    /// captures are set, earlier named ones staying. On no match nothing changes.
    pub fn exec(&self, subject: &[u8], caps: &mut Captures) -> bool {
        let Some(s) = self.matching_subject(subject) else {
            return false;
        };
        if self.groups == 0 {
            caps.clear_positional();
            return true;
        }
        match self.re.captures(s) {
            Some(m) => {
                caps.record(&m, &self.names);
                true
            }
            None => false,
        }
    }
}

struct Translated {
    pattern: String,
    dollar: bool,
}

/// Characters that must be backslash-escaped to be literal in the `regex`
/// crate (its meta characters plus the class set-operation characters).
fn push_literal(out: &mut String, b: u8) {
    if b >= 0x80 {
        out.push_str(&format!("\\x{b:02X}"));
    } else if b"\\.+*?()|[]{}^$#&-~".contains(&b) {
        out.push('\\');
        out.push(char::from(b));
    } else {
        out.push(char::from(b));
    }
}

/// Whether an inline flag group enables multiline mode anywhere (`(?m)`, `(?im:`).
fn enables_multiline(p: &[u8]) -> bool {
    let mut i = 0;
    while let Some(pos) = p.get(i..).and_then(|s| memchr::memmem::find(s, b"(?")) {
        let start = i + pos + 2;
        for &c in p.get(start..).unwrap_or_default() {
            match c {
                b'm' => return true,
                b'-' | b':' | b')' => break,
                c if c.is_ascii_alphabetic() => {}
                _ => break,
            }
        }
        i = start;
    }
    false
}

/// Translates PCRE syntax to the `regex` crate's, or names the construct the
/// crate cannot express exactly (nginx/nginx: src/core/ngx_regex.c compiles
/// with PCRE2 defaults plus PCRE2_CASELESS).
fn translate(p: &str) -> Result<Translated, String> {
    let b = p.as_bytes();
    let multiline = enables_multiline(b);
    let has_abs_end = memchr::memmem::find(b, b"\\z").is_some();
    // With an explicit \z the truncated-subject retry would let \z match
    // before the final newline, so `$` then consumes the optional newline.
    let dollar = if multiline {
        "$"
    } else if has_abs_end {
        "(?:\\n?\\z)"
    } else {
        "\\z"
    };
    let mut saw_dollar = false;
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => {
                let Some(&n) = b.get(i + 1) else {
                    return Err("pattern ends with a backslash".into());
                };
                i += 2;
                match n {
                    b'Q' => i = quote_literal(b, i, &mut out),
                    b'E' => {}
                    b'Z' => {
                        out.push_str(dollar);
                        saw_dollar = true;
                    }
                    b'1'..=b'9' | b'g' | b'k' => {
                        return Err(format!("back-reference \"\\{}\" is not supported", char::from(n)))
                    }
                    b'z' | b'A' | b'b' | b'B' | b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'n' | b'r'
                    | b't' | b'f' | b'a' | b'x' => {
                        out.push('\\');
                        out.push(char::from(n));
                    }
                    n if n.is_ascii_alphanumeric() => {
                        return Err(format!("PCRE escape \"\\{}\" is not supported", char::from(n)))
                    }
                    n => push_literal(&mut out, n),
                }
            }
            b'[' => i = translate_class(b, i, &mut out)?,
            b'(' => i = translate_group(b, i, &mut out)?,
            b'$' => {
                out.push_str(dollar);
                saw_dollar = true;
                i += 1;
            }
            b'*' | b'+' | b'?' | b'}' => {
                out.push(char::from(c));
                i += 1;
                if b.get(i) == Some(&b'+') && (c != b'}' || closes_counted_repetition(b, i - 1)) {
                    return Err(format!(
                        "possessive quantifier \"{}+\" is not supported",
                        char::from(c)
                    ));
                }
            }
            c if c >= 0x80 => {
                push_literal(&mut out, c);
                i += 1;
            }
            c => {
                out.push(char::from(c));
                i += 1;
            }
        }
    }
    Ok(Translated {
        pattern: out,
        dollar: saw_dollar && !multiline && !has_abs_end,
    })
}

/// `\Q...\E`: everything up to `\E` (or the end) is literal. Returns the index after it.
fn quote_literal(b: &[u8], mut i: usize, out: &mut String) -> usize {
    while let Some(&c) = b.get(i) {
        if c == b'\\' && b.get(i + 1) == Some(&b'E') {
            return i + 2;
        }
        push_literal(out, c);
        i += 1;
    }
    i
}

/// Whether the `}` at `close` ends a `{n}`, `{n,}` or `{n,m}` quantifier.
fn closes_counted_repetition(b: &[u8], close: usize) -> bool {
    let Some(open) = b.get(..close).and_then(|s| memchr::memrchr(b'{', s)) else {
        return false;
    };
    let inner = b.get(open + 1..close).unwrap_or_default();
    !inner.is_empty() && inner.iter().all(|c| c.is_ascii_digit() || *c == b',')
}

/// Translates a character class starting at `b[i] == '['`. PCRE has no nested
/// classes or set operators, so `[`, `&&`, `~~` are literal there; `--` is
/// rejected because PCRE reads it as a range ending in '-'.
fn translate_class(b: &[u8], mut i: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    i += 1;
    if b.get(i) == Some(&b'^') {
        out.push('^');
        i += 1;
    }
    if b.get(i) == Some(&b']') {
        out.push_str("\\]");
        i += 1;
    }
    let mut prev_dash = false;
    loop {
        let Some(&c) = b.get(i) else {
            return Err("missing terminating ] for character class".into());
        };
        let dash = c == b'-';
        match c {
            b']' => {
                out.push(']');
                return Ok(i + 1);
            }
            b'\\' => {
                let Some(&n) = b.get(i + 1) else {
                    return Err("pattern ends with a backslash".into());
                };
                i += 2;
                match n {
                    b'Q' => i = quote_literal(b, i, out),
                    b'E' => {}
                    b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'n' | b'r' | b't' | b'f' | b'a' | b'x' => {
                        out.push('\\');
                        out.push(char::from(n));
                    }
                    n if n.is_ascii_alphanumeric() => {
                        return Err(format!(
                            "PCRE escape \"\\{}\" in a character class is not supported",
                            char::from(n)
                        ))
                    }
                    n => push_literal(out, n),
                }
                prev_dash = false;
                continue;
            }
            b'[' if b.get(i + 1) == Some(&b':') => {
                let rest = b.get(i..).unwrap_or_default();
                let Some(end) = memchr::memmem::find(rest, b":]") else {
                    return Err("unterminated POSIX class".into());
                };
                let class = rest.get(..end + 2).unwrap_or_default();
                out.push_str(&String::from_utf8_lossy(class));
                i += end + 2;
                prev_dash = false;
                continue;
            }
            b'[' | b'&' | b'~' => {
                out.push('\\');
                out.push(char::from(c));
            }
            b'-' if prev_dash => return Err("\"--\" in a character class is not supported".into()),
            c if c >= 0x80 => push_literal(out, c),
            c => out.push(char::from(c)),
        }
        prev_dash = dash;
        i += 1;
    }
}

/// Translates the opening of a group at `b[i] == '('`.
fn translate_group(b: &[u8], i: usize, out: &mut String) -> Result<usize, String> {
    let construct = |name: &str| Err(format!("{name} is not supported"));
    match b.get(i + 1) {
        Some(b'*') => return construct("backtracking verb \"(*\""),
        Some(b'?') => {}
        _ => {
            out.push('(');
            return Ok(i + 1);
        }
    }
    let at = |k: usize| b.get(i + k).copied();
    match at(2) {
        Some(b'#') => {
            let rest = b.get(i..).unwrap_or_default();
            match memchr::memchr(b')', rest) {
                Some(end) => Ok(i + end + 1),
                None => Err("missing ) after comment".into()),
            }
        }
        Some(b'=') => construct("look-ahead \"(?=\""),
        Some(b'!') => construct("negative look-ahead \"(?!\""),
        Some(b'>') => construct("atomic group \"(?>\""),
        Some(b'|') => construct("branch reset \"(?|\""),
        Some(b'(') => construct("conditional group \"(?(\""),
        Some(b'C') => construct("callout \"(?C\""),
        Some(b'R' | b'&' | b'+' | b'0'..=b'9') => construct("recursion \"(?R\" / \"(?N\""),
        Some(b'<') => match at(3) {
            Some(b'=') => construct("look-behind \"(?<=\""),
            Some(b'!') => construct("negative look-behind \"(?<!\""),
            _ => named_group(b, i + 3, b'>', out),
        },
        Some(b'\'') => named_group(b, i + 3, b'\'', out),
        Some(b'P') => match at(3) {
            Some(b'<') => named_group(b, i + 4, b'>', out),
            Some(b'=') => construct("back-reference \"(?P=\""),
            _ => construct("recursion \"(?P>\""),
        },
        _ => {
            // Inline flags `(?imsU-imsU)` or `(?flags:`.
            let mut j = i + 2;
            while let Some(c) = b.get(j).copied() {
                match c {
                    b'i' | b'm' | b's' | b'U' | b'-' => j += 1,
                    b':' | b')' => {
                        out.push_str(&String::from_utf8_lossy(b.get(i..=j).unwrap_or_default()));
                        return Ok(j + 1);
                    }
                    b'x' => return construct("extended mode \"(?x)\""),
                    _ => return Err(format!("inline option \"{}\" is not supported", char::from(c))),
                }
            }
            Err("missing ) after inline options".into())
        }
    }
}

/// `(?<name>`, `(?'name'`, `(?P<name>` all become `(?P<name>`.
fn named_group(b: &[u8], start: usize, close: u8, out: &mut String) -> Result<usize, String> {
    let rest = b.get(start..).unwrap_or_default();
    let Some(end) = memchr::memchr(close, rest) else {
        return Err("unterminated group name".into());
    };
    out.push_str("(?P<");
    out.push_str(&String::from_utf8_lossy(rest.get(..end).unwrap_or_default()));
    out.push('>');
    Ok(start + end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, caseless: bool, s: &[u8]) -> bool {
        PcreRegex::compile(p, caseless).unwrap().is_match(s)
    }

    #[test]
    fn matches_like_pcre() {
        // (pattern, caseless, subject, PCRE result)
        let cases: &[(&str, bool, &[u8], bool)] = &[
            (r"\.php$", false, b"/x.php", true),
            (r"\.php$", false, b"/x.php\n", true), // PCRE `$` before a final newline
            (r"\.php$", false, b"/x.php\n\n", false),
            (r"\.php\z", false, b"/x.php\n", false),
            (r"\.php\Z", false, b"/x.php\n", true),
            (r"^/a\/b", false, b"/a/b", true),
            (r"\Q.*\E$", false, b"/x.*", true),
            (r"\Q.*\E$", false, b"/xyz", false),
            (r"[[a]]", false, b"[]", true), // class {'[', 'a'} then ']'
            (r"[[a]]", false, b"a", false),
            (r"[a&&b]", false, b"&", true),
            (r"[]x]", false, b"]", true),
            (r"^/\w+$", false, b"/caf\xc3\xa9", false), // \w is ASCII-only
            (r"^/.$", false, b"/\xe9", true),           // '.' is one byte
            (r"^/\xe9$", false, b"/\xe9", true),
            (r"\.JPG$", true, b"/a.jpg", true),
            (r"\.JPG$", false, b"/a.jpg", false),
            (r"(?i)\.jpg$", false, b"/A.JPG", true),
            (r"a\<b\>", false, b"a<b>", true), // \< is a literal in PCRE
            (r"(?<n>x)(?'m'y)(?P<o>z)", false, b"xyz", true),
            (r"a{2}b", false, b"aab", true),
            (r"(?#comment)ab", false, b"ab", true),
            (r"^/(?m)a$", false, b"/a\nb", true),
        ];
        for &(p, ci, s, want) in cases {
            assert_eq!(m(p, ci, s), want, "{p} on {:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn rejects_what_has_no_equivalent() {
        for p in [
            r"a(?=b)", r"a(?!b)", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"a*+", r"a++", r"a?+", r"a{2}+",
            r"(?>a)", r"\k<n>", r"(?P=n)", r"(?x) a", r"\v", r"[+--]", r"(*UTF)a", r"(?R)", r"a\",
        ] {
            assert!(PcreRegex::compile(p, false).is_err(), "{p} should be rejected");
        }
    }

    #[test]
    fn exec_captures() {
        let re = PcreRegex::compile(r"^/u/(?<user>[^/]+)/(\d+)?", false).unwrap();
        let mut caps = Captures::default();
        assert!(re.exec(b"/u/bob/42", &mut caps));
        assert_eq!(caps.get(1), Some(3..6));
        assert_eq!(caps.get(2), Some(7..9));
        assert_eq!(caps.named("user"), Some(3..6));
        assert!(re.exec(b"/u/al/", &mut caps));
        assert_eq!(caps.get(2), None);
        // A failed match changes nothing.
        assert!(!re.exec(b"/nope", &mut caps));
        assert_eq!(caps.get(1), Some(3..5));
        // A regex without groups empties $1.. but keeps named captures (nginx 1.22).
        let plain = PcreRegex::compile(r"^/u/", false).unwrap();
        assert!(plain.exec(b"/u/x", &mut caps));
        assert_eq!(caps.get(1), None);
        assert_eq!(caps.named("user"), Some(3..5));
    }
}
