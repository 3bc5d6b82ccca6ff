//! The import layering of src/ (../shared/DESIGN.md, "Layering"; issue 15):
//! no cycle between src/'s top-level modules.
//!
//! Builds the graph of which top-level module refers to which: `crate::NAME`
//! paths, the names at the top of `use crate::{..}` groups, and `super::`
//! paths that climb out of a top-level module (`super::super::NAME` from
//! src/a/b/c.rs). Test code is left out (files whose name ends in `tests.rs`,
//! and each item under `#[cfg(test)]`), and so are comments and string
//! literals. ../shared/tools/modgraph.py differs in one way: it drops all of a
//! file after its first `#[cfg(test)]`, so it misses e.g. health/mod.rs's
//! code after its `#[cfg(test)] mod balance_tests;`.
//!
//! There is no allowance: any cycle fails the test, which names the edges
//! and the files causing each (the last ones, proxy/rewrite/static_files ->
//! server, went when the request types moved to src/exchange).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The leaves: they import nothing of rampart (DESIGN.md: "http/ (leaf) ...
/// imports nothing of rampart").
const LEAVES: &[&str] = &["http", "http1", "vars"];

/// from -> to -> files (relative to src/) causing the edge.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code the graph counts: the text with comments, string and char
/// literals blanked out, and every item under `#[cfg(test)]` (an inline
/// `mod tests { .. }` or an out-of-line `mod tests;`) left out.
fn code_of(text: &str) -> String {
    let mut s = blank_literals(text);
    let attr = b"#[cfg(test)]";
    let mut from = 0;
    while let Some(at) = find(&s, attr, from) {
        let end = item_end(&s, at + attr.len());
        for b in &mut s[at..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        from = end;
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn find(s: &[u8], pat: &[u8], from: usize) -> Option<usize> {
    (from..s.len().saturating_sub(pat.len() - 1)).find(|&i| s[i..].starts_with(pat))
}

/// The end of the item that starts at `i` (after any further attributes):
/// past its `;`, or past the `}` that closes its first `{`.
fn item_end(s: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    let mut bracket = 0usize;
    while i < s.len() {
        match s[i] {
            b'[' => bracket += 1,
            b']' => bracket = bracket.saturating_sub(1),
            b';' if depth == 0 && bracket == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// `text` with comments and the insides of string, raw string and char
/// literals replaced by blanks (newlines kept), so that neither a path in a
/// comment or a string nor a brace in a literal counts.
fn blank_literals(text: &str) -> Vec<u8> {
    let s = text.as_bytes();
    let mut out = s.to_vec();
    let blank = |out: &mut Vec<u8>, a: usize, b: usize| {
        for c in &mut out[a..b.min(s.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < s.len() {
        let at_word = i == 0 || !is_ident(s[i - 1]);
        if s[i..].starts_with(b"//") {
            let end = s[i..].iter().position(|&c| c == b'\n').map_or(s.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if s[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < s.len() && depth > 0 {
                if s[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 1;
                } else if s[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if at_word
            && (s[i..].starts_with(b"r#") || s[i..].starts_with(b"r\"") || s[i..].starts_with(b"br"))
        {
            let start = if s[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
            if s.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = start + hashes + 1;
            let end = find(s, &close, body).map_or(s.len(), |e| e + close.len());
            blank(&mut out, body, end.saturating_sub(close.len()));
            i = end;
        } else if s[i] == b'"' {
            let mut j = i + 1;
            while j < s.len() && s[j] != b'"' {
                j += if s[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if s[i] == b'\'' {
            // A char literal ('x', '\n', '\'', '\u{..}', 'é'), else a lifetime.
            let end = if s.get(i + 1) == Some(&b'\\') {
                s[i + 3..].iter().position(|&c| c == b'\'').map(|n| i + 3 + n)
            } else {
                let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (s.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
            };
            match end {
                Some(e) => {
                    blank(&mut out, i + 1, e);
                    i = e + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < s.len() && is_ident(s[i]) {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

/// The top-level modules a file's code names. `module` is the file's module
/// path below the crate root (`["server", "h2"]` for src/server/h2/mod.rs).
fn refs(code: &str, module: &[String]) -> BTreeSet<String> {
    let s = code.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < s.len() {
        let word_start = i == 0 || !is_ident(s[i - 1]);
        if word_start && s[i..].starts_with(b"crate::") {
            i += "crate::".len();
            if s.get(i) == Some(&b'{') {
                // `crate::{a::X, b::{Y, Z}, c}`: the first name of each item.
                let mut depth = 0;
                let mut expect = true;
                while i < s.len() {
                    match s[i] {
                        b'{' => {
                            depth += 1;
                            if depth == 1 {
                                expect = true;
                            }
                        }
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        b',' if depth == 1 => expect = true,
                        c if depth == 1 && expect && is_ident(c) => {
                            let (name, end) = ident_at(s, i);
                            out.insert(name);
                            expect = false;
                            i = end;
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            } else {
                let (name, end) = ident_at(s, i);
                out.insert(name);
                i = end;
            }
            continue;
        }
        if word_start && s[i..].starts_with(b"super::") {
            // Count the `super::`s; out of the crate root's children they name a top-level module.
            let mut ups = 0;
            while s[i..].starts_with(b"super::") {
                ups += 1;
                i += "super::".len();
            }
            if ups == module.len() {
                if s.get(i) == Some(&b'{') {
                    let group = &code[i + 1..code[i..].find('}').map_or(i + 1, |j| i + j)];
                    for item in group.split(',') {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        out.insert(name);
                    }
                } else {
                    let (name, end) = ident_at(s, i);
                    out.insert(name);
                    i = end;
                }
            }
            continue;
        }
        i += 1;
    }
    out
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let rel = |p: &Path| p.strip_prefix(src).unwrap().to_string_lossy().into_owned();
    let top = |r: &str| r.split('/').next().unwrap().trim_end_matches(".rs").to_string();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| rel(p))
        .filter(|r| r != "lib.rs" && r != "main.rs")
        .map(|r| top(&r))
        .collect();
    let mut g: Graph = names.iter().map(|n| (n.clone(), BTreeMap::new())).collect();
    for p in &files {
        let r = rel(p);
        if r == "lib.rs" || r == "main.rs" || r.ends_with("tests.rs") {
            continue;
        }
        let from = top(&r);
        let mut module: Vec<String> = r.trim_end_matches(".rs").split('/').map(String::from).collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        let code = code_of(&fs::read_to_string(p).unwrap());
        for to in refs(&code, &module) {
            if to != from && names.contains(&to) {
                g.get_mut(&from).unwrap().entry(to).or_default().insert(r.clone());
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn strong(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g[v].iter().filter(|w| self.g.contains_key(*w)) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.strong(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.on.contains(w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let mut c = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    c.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if c.len() > 1 {
                    c.sort();
                    self.out.push(c);
                }
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.strong(v);
        }
    }
    t.out
}

/// The graph's edges minus `allowed`.
fn without(g: &Graph, allowed: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    g.iter()
        .map(|(a, tos)| {
            let kept = tos
                .keys()
                .filter(|b| !allowed.contains(&(a.as_str(), b.as_str())))
                .cloned()
                .collect();
            (a.clone(), kept)
        })
        .collect()
}

/// The report for the cycles found: each module of a cycle, and each edge
/// inside it with the files causing it (as modgraph.py prints them).
fn report(g: &Graph, cyc: &[Vec<String>]) -> String {
    let mut s = String::new();
    for c in cyc {
        s += &format!("cycle: {}\n", c.join(" "));
        for a in c {
            for (b, files) in &g[a] {
                if c.contains(b) {
                    let files: Vec<_> = files.iter().map(String::as_str).collect();
                    s += &format!("   {a} -> {b}: {}\n", files.join(", "));
                }
            }
        }
    }
    s
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    if std::env::var_os("LAYERING_PRINT").is_some() {
        // `LAYERING_PRINT=1 cargo test --test layering -- --nocapture`: the whole graph.
        for (a, tos) in &g {
            for (b, files) in tos {
                let files: Vec<_> = files.iter().map(String::as_str).collect();
                println!("{a} -> {b}: {}", files.join(", "));
            }
        }
        let edges: usize = g.values().map(BTreeMap::len).sum();
        println!("modules: {}, edges: {edges}", g.len());
    }
    assert!(g.len() > 10, "found only {:?} under {}", g.keys(), src.display());
    for leaf in LEAVES {
        let out = g
            .get(*leaf)
            .map(|t| t.iter().collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(
            out.is_empty(),
            "the leaf module {leaf} imports rampart's: {out:?}"
        );
    }
    let cyc = cycles(&without(&g, &[]));
    let edges: usize = g.values().map(BTreeMap::len).sum();
    assert!(
        cyc.is_empty(),
        "import cycle between src/'s top-level modules (layers import only downward, \
         ../shared/DESIGN.md \"Layering\"; README \"Layering\"):\n{}modules: {}, edges: {edges}",
        report(&g, &cyc),
        g.len()
    );
}

/// The scanner itself: paths, groups, `super::` out of a module, and a cycle.
#[test]
fn the_check_sees_paths_groups_super_and_cycles() {
    let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    let code = code_of(
        "use crate::a::X;\nuse crate::{b::{Y, Z}, c, d::W};\nfn f() { crate::e::g(); }\n\
         // crate::commented::out\nuse super::super::h::Q;\n#[cfg(test)]\nuse crate::t::T;\n\
         #[cfg(test)]\n#[path = \"x_tests.rs\"]\nmod x_tests;\nuse crate::i::I;\n\
         #[cfg(test)]\nmod tests {\n    fn t() { let _ = ('{', \"}\"); crate::u::v(); }\n}\n\
         fn g<'a>(_: &'a str) -> &'static str { crate::j::k(); \"crate::s\" }\n\
         /* crate::block */ const R: &str = r#\"crate::raw\"#;\n",
    );
    assert_eq!(
        refs(&code, &m(&["k", "sub"])),
        set(&["a", "b", "c", "d", "e", "h", "i", "j"])
    );
    assert_eq!(
        refs("use super::x::Y;", &m(&["k", "sub"])),
        set(&[]),
        "super:: inside k stays in k"
    );
    assert_eq!(refs("use super::{x, y::Z};", &m(&["k"])), set(&["x", "y"]));
    assert_eq!(refs("let v = mycrate::z;", &m(&["k"])), set(&[]));
    let mut g: Graph = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.into())
            .or_default()
            .entry(b.into())
            .or_default()
            .insert(format!("{a}/x.rs"));
        g.entry(b.into()).or_default();
    }
    let cyc = cycles(&without(&g, &[]));
    assert_eq!(cyc, vec![m(&["a", "b", "c"])]);
    assert!(report(&g, &cyc).contains("   c -> a: c/x.rs\n"));
    assert!(cycles(&without(&g, &[("c", "a")])).is_empty());
}
