//! Location matching exactly as nginx does it (nginx/nginx:
//! src/http/ngx_http.c `ngx_http_init_locations`, `ngx_http_cmp_locations`,
//! `ngx_http_join_exact_locations`, `ngx_http_create_locations_list`,
//! `ngx_http_create_locations_tree`; src/http/ngx_http_core_module.c
//! `ngx_http_core_location`, `ngx_http_core_find_location`,
//! `ngx_http_core_find_static_location`).
//!
//! The static (`=`, `^~`, plain prefix) locations of each level are built into
//! the same tree nginx builds, and searched with the same walk, so quirks of
//! that walk (which auto-redirect wins, what `^~` blocks) are reproduced, not
//! re-derived. Per level the search is:
//! 1. walk the static tree: an `=` equal to the URI ends everything; otherwise
//!    remember the longest matching prefix (config order is irrelevant);
//! 2. search that prefix's nested locations; a nested `=`, regex or redirect is final;
//! 3. unless the remembered prefix is `^~`, try this level's regexes in config
//!    order; the first match wins and its nested locations are searched too;
//! 4. otherwise the remembered prefix (or nothing) stands.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::PcreRegex;

/// The location modifier as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// `location = /x`
    Exact,
    /// `location ^~ /x`
    NoRegex,
    /// `location /x`
    Prefix,
    /// `location ~ re` (`caseless: false`) and `location ~* re` (`caseless: true`).
    Regex { caseless: bool },
    /// `location @name`: reached only by internal redirects.
    Named,
}

/// One `location` block of the config, with its nested blocks.
#[derive(Debug, Clone)]
pub struct LocationSpec<T> {
    pub modifier: Modifier,
    /// The URI prefix, exact URI, regex source, or name (`@x` or `x`).
    pub pattern: String,
    pub data: T,
    /// Set by the caller when the location's handler is proxy_pass (or another
    /// `*_pass`): nginx's `auto_redirect` (§2.5). It only takes effect for an
    /// `=`/prefix name ending in `/` (ngx_http_proxy_module.c `ngx_http_proxy_pass`).
    pub auto_redirect: bool,
    pub nested: Vec<LocationSpec<T>>,
}

/// A configuration error, worded as nginx words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationError {
    /// "duplicate location" (same class, `=` or prefix/`^~`, and same name at one level).
    Duplicate(String),
    /// "location X is outside location Y": a nested non-regex name must start
    /// with its parent's name.
    Outside { child: String, parent: String },
    /// "location ... cannot be inside the exact/named location X"; holds X.
    NestedInExactOrNamed(String),
    /// "named location X can be on the server level only".
    NamedNotAtServerLevel(String),
    /// The regex does not compile or uses a PCRE construct without an exact equivalent.
    BadRegex { pattern: String, reason: String },
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationError::Duplicate(n) => write!(f, "duplicate location \"{n}\""),
            LocationError::Outside { child, parent } => {
                write!(f, "location \"{child}\" is outside location \"{parent}\"")
            }
            LocationError::NestedInExactOrNamed(p) => {
                write!(
                    f,
                    "location \"{p}\" is exact or named and cannot contain nested locations"
                )
            }
            LocationError::NamedNotAtServerLevel(n) => {
                write!(f, "named location \"@{n}\" can be on the server level only")
            }
            LocationError::BadRegex { pattern, reason } => write!(f, "invalid regex \"{pattern}\": {reason}"),
        }
    }
}

impl std::error::Error for LocationError {}

/// Positional (`$1`..`$9`) captures of the last regex that matched and the
/// named captures of every regex that matched, as byte ranges into the subject (the URI, or the host
/// for server_name regexes). Mirrors `r->captures` / named capture variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    /// Index 0 is the whole match; `None` = the group did not participate.
    groups: Vec<Option<Range<usize>>>,
    named: Vec<(Arc<str>, Range<usize>)>,
}

impl Captures {
    /// `$n` (n = 0 is the whole match). `None` for a group that did not take
    /// part or does not exist; nginx substitutes the empty string for both.
    pub fn get(&self, n: usize) -> Option<Range<usize>> {
        self.groups.get(n).cloned().flatten()
    }

    /// A named capture. A named group that did not take part in the match
    /// yields an empty range (nginx sets the variable to "").
    pub fn named(&self, name: &str) -> Option<Range<usize>> {
        self.named
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, r)| r.clone())
    }

    /// Every named capture (name, range into the subject).
    pub fn named_all(&self) -> impl Iterator<Item = (&str, Range<usize>)> {
        self.named.iter().map(|(n, r)| (&**n, r.clone()))
    }

    /// Whether there are neither positional nor named captures.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.named.is_empty()
    }

    /// Number of positional slots including `$0` (0 when empty).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// A match by a regex without groups: `$1`.. become empty.
    pub(crate) fn clear_positional(&mut self) {
        self.groups.clear();
    }

    /// Records a match: positional captures are replaced, named ones are set
    /// (nginx keeps earlier named variables that this regex does not define).
    pub(crate) fn record(&mut self, m: &regex::bytes::Captures<'_>, names: &[(usize, Arc<str>)]) {
        self.groups.clear();
        self.groups.extend(m.iter().map(|g| g.map(|g| g.range())));
        for (idx, name) in names {
            let range = m.get(*idx).map_or(0..0, |g| g.range());
            match self.named.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = range,
                None => self.named.push((name.clone(), range)),
            }
        }
    }
}

/// The result of a location search.
#[derive(Debug)]
pub enum Found<'a, T> {
    /// A location handles the request. `captures` are those of the regex
    /// location(s) that matched on the way (empty for prefix/exact matches).
    Location { data: &'a T, captures: Captures },
    /// §2.5: answer 301 with `Location:` = the escaped URI + "/" (+ "?args").
    /// `data` is the location that owns the redirect: nginx produces the 301 in
    /// that location's context (its add_header, error_page, ... apply).
    AutoRedirect { data: &'a T },
    /// No location matched; the server-level configuration applies.
    None,
}

struct Loc<T> {
    data: T,
    noregex: bool,
    auto_redirect: bool,
    regex: Option<PcreRegex>,
    level: Level,
}

/// The locations nested at one level: the static tree plus regexes in config order.
#[derive(Default)]
struct Level {
    statics: Option<Box<Node>>,
    regexes: Vec<usize>,
}

/// `ngx_http_location_tree_node_t`: `name` is relative to the parent node's
/// full name; `tree` holds the locations whose names extend this one.
struct Node {
    name: Box<[u8]>,
    exact: Option<usize>,
    inclusive: Option<usize>,
    auto_redirect: bool,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
    tree: Option<Box<Node>>,
}

/// `ngx_http_location_queue_t`.
struct Queued {
    name: Vec<u8>,
    exact: Option<usize>,
    inclusive: Option<usize>,
    list: Vec<Queued>,
}

/// The search result codes of ngx_http_core_find_(static_)location.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rc {
    /// An exact or regex match: final.
    Ok,
    /// A prefix match: search nested locations, then regexes.
    Again,
    /// The auto-redirect (301 with a trailing slash).
    Done,
    /// Nothing at this level.
    Declined,
}

/// The compiled locations of one server.
pub struct LocationTree<T> {
    locs: Vec<Loc<T>>,
    root: Level,
    named: Vec<(String, usize)>,
}

impl<T> fmt::Debug for LocationTree<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocationTree")
            .field("locations", &self.locs.len())
            .field("named", &self.named.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl<T> LocationTree<T> {
    /// Builds the server's location tree, applying nginx's config checks.
    pub fn build(specs: Vec<LocationSpec<T>>) -> Result<Self, LocationError> {
        let mut tree = LocationTree {
            locs: Vec::new(),
            root: Level::default(),
            named: Vec::new(),
        };
        tree.root = tree.add_level(specs, None)?;
        Ok(tree)
    }

    fn add_level(
        &mut self,
        specs: Vec<LocationSpec<T>>,
        parent: Option<(&str, Modifier)>,
    ) -> Result<Level, LocationError> {
        let mut statics: Vec<Queued> = Vec::new();
        let mut regexes = Vec::new();
        for spec in specs {
            let LocationSpec {
                modifier,
                pattern,
                data,
                auto_redirect,
                nested,
            } = spec;
            // ngx_http_core_location: the regex is compiled first ...
            let regex = match modifier {
                Modifier::Regex { caseless } => {
                    Some(PcreRegex::compile(&pattern, caseless).map_err(|reason| {
                        LocationError::BadRegex {
                            pattern: pattern.clone(),
                            reason,
                        }
                    })?)
                }
                _ => None,
            };
            // ... then the nesting rules are checked, in this order.
            if let Some((pname, pmod)) = parent {
                if matches!(pmod, Modifier::Exact | Modifier::Named) {
                    return Err(LocationError::NestedInExactOrNamed(pname.to_string()));
                }
                if modifier == Modifier::Named {
                    let name = pattern.strip_prefix('@').unwrap_or(&pattern);
                    return Err(LocationError::NamedNotAtServerLevel(name.to_string()));
                }
                if regex.is_none() && !pattern.as_bytes().starts_with(pname.as_bytes()) {
                    return Err(LocationError::Outside {
                        child: pattern,
                        parent: pname.to_string(),
                    });
                }
            }
            let idx = self.locs.len();
            let is_static = matches!(modifier, Modifier::Exact | Modifier::Prefix | Modifier::NoRegex);
            self.locs.push(Loc {
                data,
                noregex: modifier == Modifier::NoRegex,
                auto_redirect: auto_redirect && is_static && pattern.ends_with('/'),
                regex,
                level: Level::default(),
            });
            let level = self.add_level(nested, Some((&pattern, modifier)))?;
            if let Some(loc) = self.locs.get_mut(idx) {
                loc.level = level;
            }
            match modifier {
                Modifier::Exact => statics.push(Queued {
                    name: pattern.into_bytes(),
                    exact: Some(idx),
                    inclusive: None,
                    list: Vec::new(),
                }),
                Modifier::Prefix | Modifier::NoRegex => statics.push(Queued {
                    name: pattern.into_bytes(),
                    exact: None,
                    inclusive: Some(idx),
                    list: Vec::new(),
                }),
                Modifier::Regex { .. } => regexes.push(idx),
                Modifier::Named => {
                    let name = pattern.strip_prefix('@').unwrap_or(&pattern).to_string();
                    self.named.push((name, idx));
                }
            }
        }
        // ngx_http_cmp_locations: by name; at an equal name `=` first. Stable,
        // like ngx_queue_sort.
        statics.sort_by(|a, b| {
            filename_cmp(&a.name, &b.name).then_with(|| b.exact.is_some().cmp(&a.exact.is_some()))
        });
        let statics = join_exact(statics)?;
        let list = create_list(statics);
        Ok(Level {
            statics: self.create_tree(list, 0),
            regexes,
        })
    }

    /// `ngx_http_create_locations_tree`: the middle element is the node, the
    /// halves its left/right subtrees, its absorbed list the inclusive subtree.
    fn create_tree(&self, mut list: Vec<Queued>, prefix: usize) -> Option<Box<Node>> {
        if list.is_empty() {
            return None;
        }
        let mid = list.len() / 2;
        let right = list.split_off(mid + 1);
        let q = list.pop()?;
        let flag = |i: Option<usize>| i.and_then(|i| self.locs.get(i)).is_some_and(|l| l.auto_redirect);
        let full = q.name.len();
        Some(Box::new(Node {
            name: q.name.get(prefix..).unwrap_or_default().into(),
            exact: q.exact,
            inclusive: q.inclusive,
            auto_redirect: flag(q.exact) || flag(q.inclusive),
            left: self.create_tree(list, prefix),
            right: self.create_tree(right, prefix),
            tree: self.create_tree(q.list, full),
        }))
    }

    /// Finds the location for a normalised URI (`$uri`). Prefix and exact
    /// matches allocate nothing; captures are filled only by regex matches.
    pub fn find<'a>(&'a self, uri: &[u8]) -> Found<'a, T> {
        let mut cur = None;
        let mut caps = Captures::default();
        let rc = self.find_location(&self.root, uri, &mut cur, &mut caps);
        match (rc, cur.and_then(|i| self.locs.get(i))) {
            (Rc::Done, Some(loc)) => Found::AutoRedirect { data: &loc.data },
            (_, Some(loc)) => Found::Location {
                data: &loc.data,
                captures: caps,
            },
            (_, None) => Found::None,
        }
    }

    /// A named location, by its name with or without the leading '@'.
    pub fn named(&self, name: &str) -> Option<&T> {
        let name = name.strip_prefix('@').unwrap_or(name);
        let (_, idx) = self.named.iter().find(|(n, _)| n == name)?;
        self.locs.get(*idx).map(|l| &l.data)
    }

    /// `ngx_http_core_find_location`.
    fn find_location(&self, level: &Level, uri: &[u8], cur: &mut Option<usize>, caps: &mut Captures) -> Rc {
        let mut noregex = false;
        let mut rc = find_static(level.statics.as_deref(), uri, cur);
        if rc == Rc::Again {
            if let Some(loc) = cur.and_then(|i| self.locs.get(i)) {
                noregex = loc.noregex;
                rc = self.find_location(&loc.level, uri, cur, caps);
            }
        }
        if rc == Rc::Ok || rc == Rc::Done {
            return rc;
        }
        if !noregex {
            for &ri in &level.regexes {
                let Some(loc) = self.locs.get(ri) else { continue };
                let Some(re) = &loc.regex else { continue };
                if re.exec(uri, caps) {
                    *cur = Some(ri);
                    self.find_location(&loc.level, uri, cur, caps);
                    return Rc::Ok;
                }
            }
        }
        rc
    }
}

/// `ngx_http_core_find_static_location`, step for step.
fn find_static(mut node: Option<&Node>, uri: &[u8], cur: &mut Option<usize>) -> Rc {
    let mut uri = uri;
    let mut rv = Rc::Declined;
    while let Some(n) = node {
        let len = uri.len();
        let nlen = n.name.len();
        let m = len.min(nlen);
        let (Some(a), Some(b)) = (uri.get(..m), n.name.get(..m)) else {
            return rv;
        };
        match filename_cmp(a, b) {
            std::cmp::Ordering::Less => {
                node = n.left.as_deref();
                continue;
            }
            std::cmp::Ordering::Greater => {
                node = n.right.as_deref();
                continue;
            }
            std::cmp::Ordering::Equal => {}
        }
        if len > nlen {
            if n.inclusive.is_some() {
                *cur = n.inclusive;
                rv = Rc::Again;
                node = n.tree.as_deref();
                uri = uri.get(m..).unwrap_or_default();
                continue;
            }
            // exact only
            node = n.right.as_deref();
            continue;
        }
        if len == nlen {
            if n.exact.is_some() {
                *cur = n.exact;
                return Rc::Ok;
            }
            *cur = n.inclusive;
            return Rc::Again;
        }
        // len < nlen: the URI is a proper prefix of this name.
        if len + 1 == nlen && n.auto_redirect {
            *cur = n.exact.or(n.inclusive);
            rv = Rc::Done;
        }
        node = n.left.as_deref();
    }
    rv
}

/// `ngx_filename_cmp` (nginx/nginx: src/core/ngx_string.c) on Linux: byte
/// order, except that '/' sorts below every other byte ("we need '/' to be the
/// lowest character"); a string that is a prefix of the other sorts first.
/// Both the tree construction and the search use it, so the tree's shape (and
/// thus which auto-redirect the walk meets) is nginx's.
fn filename_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (&x, &y) in a.iter().zip(b) {
        if x != y {
            if x == 0 || y == 0 {
                return x.cmp(&y);
            }
            let key = |c: u8| if c == b'/' { 0 } else { c };
            return key(x).cmp(&key(y));
        }
    }
    a.len().cmp(&b.len())
}

/// `ngx_http_join_exact_locations`: `= /x` and `/x` share one entry; two of a
/// kind are a duplicate.
fn join_exact(sorted: Vec<Queued>) -> Result<Vec<Queued>, LocationError> {
    let mut out: Vec<Queued> = Vec::with_capacity(sorted.len());
    for q in sorted {
        if let Some(last) = out.last_mut() {
            if last.name == q.name {
                if (last.exact.is_some() && q.exact.is_some())
                    || (last.inclusive.is_some() && q.inclusive.is_some())
                {
                    return Err(LocationError::Duplicate(
                        String::from_utf8_lossy(&q.name).into_owned(),
                    ));
                }
                last.inclusive = q.inclusive;
                continue;
            }
        }
        out.push(q);
    }
    Ok(out)
}

/// `ngx_http_create_locations_list`: each inclusive entry absorbs the entries
/// that follow it and start with its name.
fn create_list(sorted: Vec<Queued>) -> Vec<Queued> {
    let mut out = Vec::with_capacity(sorted.len());
    let mut it = sorted.into_iter().peekable();
    while let Some(mut q) = it.next() {
        if q.inclusive.is_some() {
            let mut children = Vec::new();
            while let Some(x) = it.next_if(|x| x.name.starts_with(&q.name)) {
                children.push(x);
            }
            q.list = create_list(children);
        }
        out.push(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test configs in a tiny notation: one location per line, two spaces of
    /// indent per nesting level, `[modifier] pattern ID [auto]`. The same
    /// notation was turned into nginx.conf (`location ... { return 200 "ID"; }`,
    /// `proxy_pass` + `add_header X-Loc ID` for `auto`) to check every case
    /// below against nginx 1.22.1.
    const CONFIGS: &[(&str, &str)] = &[
        (
            "docs",
            r#"
= / A
/ B
/documents/ C
^~ /images/ D
~* \.(gif|jpg|jpeg)$ E
"#,
        ),
        (
            "traps",
            r#"
/ ROOT
^~ /img/ NR
/img/big/ BIG
~ \.jpg$ JPG
/abc ABC
/a A
~ ^/ab RX1
~ ^/abc RX2
= /exact EX
/exact PRE
~ ^/exact RXEX
/x/ X
/x/y/ XY
~* \.PNG$ PNG
~ \.GIF$ GIFCS
~ \.php$ PHP
"#,
        ),
        (
            "nested",
            r#"
/ ROOT
/app/ APP
  /app/api/ API
    ~ \.json$ APIJSON
  ~ \.php$ APPPHP
  = /app/exact APPEX
~ \.json$ JSON
~ /api/ RXAPI
^~ /static/ ST
  ~ \.css$ STCSS
  /static/img/ STIMG
~ \.css$ CSS
~ ^/r/ R
  ~ \.txt$ RTXT
"#,
        ),
        (
            "auto",
            r#"
/ ROOT
/proxy/ PX auto
/p2/ P2 auto
= /p2 P2EX
/p3/ P3 auto
/p3 P3PRE
/noauto/ NA
= /ex/ EXA auto
~ ^/proxy RXP
/deep/ DEEP
  /deep/inner/ INNER auto
/app/ APP auto
/app-x APPX
/b/ B auto
/b-1 B1
/b-2 B2
/b-3 B3
"#,
        ),
        (
            "nomatch",
            r#"
/a A
~ ^/b B
"#,
        ),
    ];

    /// (config, $uri, expected): an ID, "301 ID" for the auto-redirect owned
    /// by ID, or "-" for no location.
    const CASES: &[(&str, &str, &str)] = &[
        ("docs", "/", "A"),
        ("docs", "/index.html", "B"),
        ("docs", "/documents/document.html", "C"),
        ("docs", "/images/1.gif", "D"),
        ("docs", "/documents/1.jpg", "E"),
        ("docs", "/DOCUMENTS/1.JPG", "E"),
        ("docs", "/documents", "B"),
        ("docs", "/images", "B"),
        ("docs", "/images/", "D"),
        ("docs", "/x.jpeg", "E"),
        ("traps", "/img/x.jpg", "NR"),
        ("traps", "/img/big/x.jpg", "JPG"),
        ("traps", "/img/big/x.txt", "BIG"),
        ("traps", "/img/", "NR"),
        ("traps", "/img", "ROOT"),
        ("traps", "/abcd", "RX1"),
        ("traps", "/abc", "RX1"),
        ("traps", "/a", "A"),
        ("traps", "/ax", "A"),
        ("traps", "/ab", "RX1"),
        ("traps", "/exact", "EX"),
        ("traps", "/exactly", "RXEX"),
        ("traps", "/x/y/z", "XY"),
        ("traps", "/x/z", "X"),
        ("traps", "/x", "ROOT"),
        ("traps", "/a.PNG", "PNG"),
        ("traps", "/a.png", "PNG"),
        ("traps", "/a.gif", "A"),
        ("traps", "/a.GIF", "GIFCS"),
        ("traps", "/b.jpg", "JPG"),
        ("traps", "/y.php\n", "PHP"),
        ("traps", "/y.php\n\n", "ROOT"),
        ("nested", "/app/x", "APP"),
        ("nested", "/app/x.php", "APPPHP"),
        ("nested", "/app/api/x", "RXAPI"),
        ("nested", "/app/api/x.json", "APIJSON"),
        ("nested", "/app/api/x.php", "APPPHP"),
        ("nested", "/app/exact", "APPEX"),
        ("nested", "/app/exact.json", "JSON"),
        ("nested", "/app", "ROOT"),
        ("nested", "/static/a.css", "STCSS"),
        ("nested", "/static/a.json", "ST"),
        ("nested", "/static/img/a.json", "STIMG"),
        ("nested", "/static/img/a.css", "STCSS"),
        ("nested", "/r/a.txt", "RTXT"),
        ("nested", "/r/a", "R"),
        ("nested", "/other.css", "CSS"),
        ("auto", "/proxy", "301 PX"),
        ("auto", "/proxy/", "RXP"),
        ("auto", "/proxy/x", "RXP"),
        ("auto", "/proxyx", "RXP"),
        ("auto", "/p2", "P2EX"),
        ("auto", "/p2/x", "P2"),
        ("auto", "/p3", "P3PRE"),
        ("auto", "/noauto", "ROOT"),
        ("auto", "/ex", "301 EXA"),
        ("auto", "/ex/", "EXA"),
        ("auto", "/deep/inner", "301 INNER"),
        ("auto", "/deep/inne", "DEEP"),
        ("auto", "/app", "301 APP"),
        ("auto", "/app-x1", "APPX"),
        ("auto", "/b", "301 B"), // "/" sorts lowest (ngx_filename_cmp): the walk meets "/b/"
        ("nomatch", "/zzz", "-"),
        ("nomatch", "/a", "A"),
        ("nomatch", "/b", "B"),
        ("nomatch", "/", "-"),
    ];

    fn parse(cfg: &'static str) -> Vec<LocationSpec<&'static str>> {
        fn insert(
            into: &mut Vec<LocationSpec<&'static str>>,
            depth: usize,
            spec: LocationSpec<&'static str>,
        ) {
            match into.last_mut() {
                Some(last) if depth > 0 => insert(&mut last.nested, depth - 1, spec),
                _ => into.push(spec),
            }
        }
        let mut top = Vec::new();
        for line in cfg.lines().filter(|l| !l.trim().is_empty()) {
            let depth = (line.len() - line.trim_start().len()) / 2;
            let mut t: Vec<&str> = line.split_whitespace().collect();
            let auto = t.last() == Some(&"auto");
            if auto {
                t.pop();
            }
            let (modifier, pattern, id) = match t.as_slice() {
                ["=", p, id] => (Modifier::Exact, *p, *id),
                ["^~", p, id] => (Modifier::NoRegex, *p, *id),
                ["~", p, id] => (Modifier::Regex { caseless: false }, *p, *id),
                ["~*", p, id] => (Modifier::Regex { caseless: true }, *p, *id),
                [p, id] if p.starts_with('@') => (Modifier::Named, *p, *id),
                [p, id] => (Modifier::Prefix, *p, *id),
                _ => panic!("bad line {line:?}"),
            };
            let spec = LocationSpec {
                modifier,
                pattern: pattern.to_string(),
                data: id,
                auto_redirect: auto,
                nested: Vec::new(),
            };
            insert(&mut top, depth, spec);
        }
        top
    }

    #[test]
    fn location_table() {
        assert!(CASES.len() >= 45);
        for &(cfg, uri, want) in CASES {
            let text = CONFIGS.iter().find(|(n, _)| *n == cfg).map(|(_, t)| *t).unwrap();
            let tree = LocationTree::build(parse(text)).unwrap();
            let got = match tree.find(uri.as_bytes()) {
                Found::Location { data, .. } => data.to_string(),
                Found::AutoRedirect { data } => format!("301 {data}"),
                Found::None => "-".to_string(),
            };
            assert_eq!(got, want, "config {cfg}, uri {uri:?}");
        }
    }

    #[test]
    fn order_of_config_is_irrelevant_for_prefixes() {
        let fwd = LocationTree::build(parse("/a A\n/a/b AB\n/a/b/c ABC\n")).unwrap();
        let rev = LocationTree::build(parse("/a/b/c ABC\n/a/b AB\n/a A\n")).unwrap();
        for (uri, want) in [("/a/b/c/d", "ABC"), ("/a/bx", "AB"), ("/a/x", "A")] {
            for t in [&fwd, &rev] {
                match t.find(uri.as_bytes()) {
                    Found::Location { data, .. } => assert_eq!(*data, want, "{uri}"),
                    other => panic!("{uri}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn captures_of_the_matching_regex() {
        let cfg = "~ ^/u/(?<user>[^/]+)/(.+)$ U\n  ~ \\.txt$ UTXT\n  ~ ^/u/[^/]+/(?<f>[^/]+)\\.bin$ UBIN\n~ ^/(x)(y)? XY\n";
        let tree = LocationTree::build(parse(cfg)).unwrap();
        let uri = b"/u/bob/a/b.txt";
        let Found::Location { data, captures } = tree.find(uri) else {
            panic!()
        };
        assert_eq!(*data, "UTXT");
        // nginx 1.22 answers "UTXT [][][bob]": the nested regex has no groups,
        // so $1/$2 are empty, but the named $user set by the outer one stays.
        assert_eq!(captures.get(1), None);
        assert_eq!(captures.get(2), None);
        assert_eq!(captures.named("user"), Some(3..6));
        let uri = b"/u/bob/f.bin";
        let Found::Location { data, captures } = tree.find(uri) else {
            panic!()
        };
        assert_eq!(*data, "UBIN");
        // nginx: "UBIN [f][][bob][f]": positional replaced, named ones accumulate
        assert_eq!(captures.get(1), Some(7..8));
        assert_eq!(captures.get(2), None);
        assert_eq!(captures.named("user"), Some(3..6));
        assert_eq!(captures.named("f"), Some(7..8));
        let Found::Location { data, captures } = tree.find(b"/xz") else {
            panic!()
        };
        assert_eq!(*data, "XY");
        assert_eq!(captures.get(0), Some(0..2));
        assert_eq!(captures.get(2), None);
        assert_eq!(captures.named("user"), None);
        let prefix_only = LocationTree::build(parse("/ ROOT\n")).unwrap();
        let Found::Location { captures, .. } = prefix_only.find(b"/x") else {
            panic!()
        };
        assert!(captures.is_empty());
    }

    #[test]
    fn named_locations() {
        let tree = LocationTree::build(parse("/ ROOT\n@fallback FB\n")).unwrap();
        assert_eq!(tree.named("@fallback"), Some(&"FB"));
        assert_eq!(tree.named("fallback"), Some(&"FB"));
        assert_eq!(tree.named("@other"), None);
        // never matched against a URI
        match tree.find(b"@fallback") {
            Found::None => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_errors() {
        let err = |cfg: &'static str| LocationTree::build(parse(cfg)).err();
        assert_eq!(err("/x A\n/x B\n"), Some(LocationError::Duplicate("/x".into())));
        assert_eq!(
            err("^~ /x A\n/x B\n"),
            Some(LocationError::Duplicate("/x".into()))
        );
        assert_eq!(
            err("= /x A\n= /x B\n"),
            Some(LocationError::Duplicate("/x".into()))
        );
        assert_eq!(err("= /x A\n/x B\n= /y C\n"), None);
        assert_eq!(err("~ ^/x A\n~ ^/x B\n"), None);
        assert_eq!(err("/a/ A\n  /a/b B\n  /a/ C\n"), None);
        assert_eq!(
            err("/a/ A\n  /b/ B\n"),
            Some(LocationError::Outside {
                child: "/b/".into(),
                parent: "/a/".into()
            })
        );
        assert_eq!(
            err("~ ^/a A\n  /a B\n"),
            Some(LocationError::Outside {
                child: "/a".into(),
                parent: "^/a".into()
            })
        );
        assert_eq!(err("~ ^/a A\n  ~ b B\n"), None);
        assert_eq!(
            err("= /a A\n  /a/b B\n"),
            Some(LocationError::NestedInExactOrNamed("/a".into()))
        );
        assert_eq!(
            err("@n A\n  /a B\n"),
            Some(LocationError::NestedInExactOrNamed("@n".into()))
        );
        assert_eq!(
            err("/a A\n  @n B\n"),
            Some(LocationError::NamedNotAtServerLevel("n".into()))
        );
        assert!(matches!(
            err("~ a(?=b) A\n"),
            Some(LocationError::BadRegex { .. })
        ));
        assert!(matches!(err("~* (a A\n"), Some(LocationError::BadRegex { .. })));
    }
}
