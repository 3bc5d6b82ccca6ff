//! Virtual server selection among the servers of one listen address:port, by
//! name (nginx/nginx: src/http/ngx_http_core_module.c `ngx_http_core_server_name`,
//! src/http/ngx_http.c `ngx_http_server_names`, src/core/ngx_hash.c
//! `ngx_hash_add_key`, `ngx_hash_find_combined`, `_wc_head`, `_wc_tail`;
//! src/http/ngx_http_request.c `ngx_http_find_virtual_server`).
//!
//! Order: exact name -> longest leading wildcard (`*.x.org`; `.x.org` also
//! matches `x.org`) -> longest trailing wildcard (`mail.*`) -> regex names in
//! config order (never for an empty host) -> the default server.
//!
//! Conflicts follow `ngx_hash_add_key`: a name already taken on this address
//! is ignored with a warning, and `.x.org` also claims the exact name `x.org`
//! (so an exact `x.org` in a later server is ignored, and an earlier exact
//! `x.org` makes `.x.org` ignored entirely). As in nginx, names are only put
//! in a table (and validated as wildcards) when the address has more than one
//! server or the default server's regex name has captures; otherwise the
//! default server always answers.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::location::Captures;
use super::PcreRegex;

/// An invalid server_name; the text is nginx's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Invalid(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Invalid(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for NameError {}

/// The server_name tables of one listen address:port.
#[derive(Debug)]
pub struct NameTable {
    /// Names are looked up at all (see the module docs).
    enabled: bool,
    exact: HashMap<Box<[u8]>, usize>,
    /// `*.x.org` and `.x.org`, keyed by `x.org`; the flag is "also matches `x.org`".
    head: HashMap<Box<[u8]>, (usize, bool)>,
    /// `mail.*`, keyed by `mail`.
    tail: HashMap<Box<[u8]>, usize>,
    regex: Vec<(PcreRegex, usize)>,
    default: usize,
}

enum Kind<'a> {
    Exact(&'a [u8]),
    /// (base without the `*.` / `.`, dot form)
    Head(&'a [u8], bool),
    Tail(&'a [u8]),
}

/// `ngx_hash_add_key` with NGX_HASH_WILDCARD_KEY: classifies a (lowercased) name.
fn classify(name: &[u8]) -> Option<Kind<'_>> {
    let stars = name.iter().filter(|&&c| c == b'*').count();
    if stars > 1 || name.windows(2).any(|w| w == b"..") || name.contains(&0) {
        return None;
    }
    if name.len() > 1 && name.first() == Some(&b'.') {
        return name.get(1..).map(|b| Kind::Head(b, true));
    }
    if name.len() > 2 {
        if name.starts_with(b"*.") {
            return name.get(2..).map(|b| Kind::Head(b, false));
        }
        if name.ends_with(b".*") {
            return name.get(..name.len() - 2).map(Kind::Tail);
        }
    }
    if stars > 0 {
        return None;
    }
    Some(Kind::Exact(name))
}

impl NameTable {
    /// `servers[i]` = the server_name list of the i-th server on this address
    /// (an empty list = the "" name, as nginx gives a server without
    /// server_name; `$hostname` must already be substituted). `default` = the
    /// index of the default server. Returns the table plus warnings.
    pub fn build(servers: &[Vec<String>], default: usize) -> Result<(NameTable, Vec<String>), NameError> {
        let mut warnings = Vec::new();
        let empty = [String::new()];
        let names_of = |s: &Vec<String>| -> Vec<String> {
            if s.is_empty() {
                empty.to_vec()
            } else {
                s.clone()
            }
        };
        // Parse-time checks and regex compilation (ngx_http_core_server_name).
        let mut regex = Vec::new();
        let mut plain: Vec<(Vec<u8>, String, usize)> = Vec::new();
        let mut default_captures = false;
        for (idx, server) in servers.iter().enumerate() {
            for name in names_of(server) {
                let b = name.as_bytes();
                let first = b.first().copied();
                if (first == Some(b'*') && (b.len() < 3 || b.get(1) != Some(&b'.')))
                    || (first == Some(b'.') && b.len() < 2)
                {
                    return Err(NameError::Invalid(format!("server name \"{name}\" is invalid")));
                }
                if b.contains(&b'/') {
                    warnings.push(format!("server name \"{name}\" has suspicious symbols"));
                }
                if let Some(pattern) = name.strip_prefix('~') {
                    if pattern.is_empty() {
                        return Err(NameError::Invalid(format!(
                            "empty regex in server name \"{name}\""
                        )));
                    }
                    // ngx_http_core_server_name: caseless when the pattern has an
                    // uppercase ASCII letter (hosts are lowercase already).
                    let caseless = pattern.bytes().any(|c| c.is_ascii_uppercase());
                    let re = PcreRegex::compile(pattern, caseless).map_err(|e| {
                        NameError::Invalid(format!("invalid regex in server name \"{name}\": {e}"))
                    })?;
                    if idx == default {
                        // cscf->captures is overwritten by each regex name
                        default_captures = re.captures_len() > 0;
                    }
                    regex.push((re, idx));
                } else {
                    plain.push((b.to_ascii_lowercase(), name, idx));
                }
            }
        }
        let mut table = NameTable {
            enabled: servers.len() > 1 || default_captures,
            exact: HashMap::new(),
            head: HashMap::new(),
            tail: HashMap::new(),
            regex,
            default,
        };
        if !table.enabled {
            return Ok((table, warnings));
        }
        // ngx_http_server_names / ngx_hash_add_key. `claimed` is nginx's
        // keys_hash: exact names plus the bare names `.x` forms claim.
        let mut claimed: HashSet<Vec<u8>> = HashSet::new();
        for (lower, name, idx) in plain {
            let conflict = || format!("conflicting server name \"{name}\", ignored");
            match classify(&lower) {
                None => {
                    return Err(NameError::Invalid(format!(
                        "invalid server name or wildcard \"{name}\""
                    )))
                }
                Some(Kind::Exact(n)) => {
                    if claimed.insert(n.to_vec()) {
                        table.exact.insert(n.into(), idx);
                    } else {
                        warnings.push(conflict());
                    }
                }
                Some(Kind::Head(base, dot)) => {
                    if dot && !claimed.insert(base.to_vec()) {
                        warnings.push(conflict());
                        continue;
                    }
                    if table.head.contains_key(base) {
                        warnings.push(conflict());
                        continue;
                    }
                    table.head.insert(base.into(), (idx, dot));
                }
                Some(Kind::Tail(base)) => {
                    if table.tail.contains_key(base) {
                        warnings.push(conflict());
                        continue;
                    }
                    table.tail.insert(base.into(), idx);
                }
            }
        }
        Ok((table, warnings))
    }

    /// `host` is already normalised (lowercase); `None` = no host known, which
    /// looks up "" as nginx does. Returns the chosen server index and, for a
    /// regex name, its captures (byte ranges into `host`).
    pub fn find(&self, host: Option<&[u8]>) -> (usize, Captures) {
        let mut caps = Captures::default();
        if !self.enabled {
            return (self.default, caps);
        }
        let host = host.unwrap_or_default();
        if let Some(&i) = self.exact.get(host) {
            return (i, caps);
        }
        if host.is_empty() {
            return (self.default, caps);
        }
        if let Some(i) = self.find_head(host) {
            return (i, caps);
        }
        if let Some(i) = self.find_tail(host) {
            return (i, caps);
        }
        for (re, idx) in &self.regex {
            if re.exec(host, &mut caps) {
                return (*idx, caps);
            }
        }
        (self.default, caps)
    }

    /// `ngx_hash_find_wc_head`: the longest suffix `S` (at a label boundary)
    /// with `*.S` or `.S`; the host equal to `S` itself needs the `.S` form.
    fn find_head(&self, host: &[u8]) -> Option<usize> {
        if self.head.is_empty() {
            return None;
        }
        if let Some(&(i, true)) = self.head.get(host) {
            return Some(i);
        }
        let mut rest = host;
        while let Some(dot) = memchr::memchr(b'.', rest) {
            rest = rest.get(dot + 1..)?;
            if let Some(&(i, _)) = self.head.get(rest) {
                return Some(i);
            }
        }
        None
    }

    /// `ngx_hash_find_wc_tail`: the longest prefix `P` followed by a '.' with `P.*`.
    fn find_tail(&self, host: &[u8]) -> Option<usize> {
        if self.tail.is_empty() {
            return None;
        }
        let mut end = host.len();
        while let Some(dot) = host.get(..end).and_then(|h| memchr::memrchr(b'.', h)) {
            if let Some(&i) = host.get(..dot).and_then(|p| self.tail.get(p)) {
                return Some(i);
            }
            end = dot;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|s| s.iter().map(|n| n.to_string()).collect())
            .collect()
    }

    /// Servers 0..=8 on one address; 0 is the default. Checked against nginx
    /// 1.22.1 with one `server { listen ...; server_name ...; return 200 "<i>"; }`
    /// per entry and `curl -H "Host: ..."`.
    const SERVERS: &[&[&str]] = &[
        &["default.test"],
        &["example.org", "www.example.org"],
        &["*.example.org"],
        &["*.sub.example.org"],
        &[".example.net"],
        &["mail.*"],
        &["mail.example.*"],
        &["~^(?<user>[a-z]+)\\.users\\.test$", "~^www\\d+\\.test$"],
        &[],
        &["~^CASE\\.test$"],
    ];

    const CASES: &[(Option<&str>, usize)] = &[
        (Some("example.org"), 1),
        (Some("www.example.org"), 1),
        (Some("a.example.org"), 2),
        (Some("a.b.example.org"), 2),
        (Some("x.sub.example.org"), 3),
        (Some("sub.example.org"), 2),
        (Some("example.net"), 4),
        (Some("a.b.example.net"), 4),
        (Some("mail.foo"), 5),
        (Some("mail.a.b"), 5),
        (Some("mail"), 0),
        (Some("mail.example.com"), 6),
        (Some("mail.example"), 5),
        (Some("bob.users.test"), 7),
        (Some("www12.test"), 7),
        (Some("wwwx.test"), 0),
        (Some("unknown.test"), 0),
        (Some(""), 8),
        (None, 8),
        (Some("case.test"), 9),
        (Some("mail.example.org"), 2),
        (Some(".example.org"), 2),
    ];

    #[test]
    fn server_name_table() {
        let (t, warnings) = NameTable::build(&names(SERVERS), 0).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        for &(host, want) in CASES {
            assert_eq!(t.find(host.map(str::as_bytes)).0, want, "{host:?}");
        }
    }

    #[test]
    fn regex_captures() {
        let (t, _) = NameTable::build(&names(SERVERS), 0).unwrap();
        let (i, caps) = t.find(Some(b"bob.users.test"));
        assert_eq!(i, 7);
        assert_eq!(caps.named("user"), Some(0..3));
        assert_eq!(caps.get(1), Some(0..3));
    }

    #[test]
    fn no_empty_name_falls_to_default() {
        let (t, _) = NameTable::build(&names(&[&["a.test"], &["b.test"]]), 1).unwrap();
        assert_eq!(t.find(None).0, 1);
        assert_eq!(t.find(Some(b"zzz")).0, 1);
        assert_eq!(t.find(Some(b"a.test")).0, 0);
    }

    #[test]
    fn conflicts_keep_the_first() {
        let (t, w) = NameTable::build(&names(&[&["a.test"], &["a.test", "b.test"]]), 0).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(t.find(Some(b"a.test")).0, 0);
        assert_eq!(t.find(Some(b"b.test")).0, 1);
        // `.x` claims the exact name: a later exact `x` is ignored ...
        let (t, w) = NameTable::build(&names(&[&["d.test"], &[".x.test"], &["x.test"]]), 0).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(t.find(Some(b"x.test")).0, 1);
        // ... and an earlier exact `x` makes `.x` ignored entirely.
        let (t, w) = NameTable::build(&names(&[&["d.test"], &["x.test"], &[".x.test"]]), 0).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(t.find(Some(b"x.test")).0, 1);
        assert_eq!(t.find(Some(b"a.x.test")).0, 0);
        // `*.x` and `.x` are the same wildcard key.
        let (_, w) = NameTable::build(&names(&[&["d.test"], &["*.x.test"], &[".x.test"]]), 0).unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn invalid_names() {
        let two = |n: &str| NameTable::build(&[vec!["d.test".to_string()], vec![n.to_string()]], 0);
        for bad in [
            "www.*.example.org",
            "w*.example.org",
            "a..b",
            "*",
            "*x",
            "*.",
            ".",
            "~",
            "~(",
            "*.a.*",
        ] {
            assert!(two(bad).is_err(), "{bad} should be invalid");
        }
        for good in ["*.a", ".a", "a.*", "_", "", "UPPER.test", "~^x$"] {
            assert!(two(good).is_ok(), "{good} should be valid");
        }
        // With a single server nginx never builds the hash: no wildcard check.
        assert!(NameTable::build(&[vec!["w*.example.org".to_string()]], 0).is_ok());
        assert!(NameTable::build(&[vec!["*x".to_string()]], 0).is_err());
    }

    #[test]
    fn uppercase_names_are_lowercased() {
        let (t, _) = NameTable::build(&names(&[&["d.test"], &["WWW.Example.ORG"]]), 0).unwrap();
        assert_eq!(t.find(Some(b"www.example.org")).0, 1);
    }
}
