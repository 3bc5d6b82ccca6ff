//! nginx.conf statements → a tree of directives, with `include` expanded in
//! place, as `ngx_conf_parse` and `ngx_conf_include` do (nginx/nginx:
//! src/core/ngx_conf_file.c).
//!
//! - Each file is parsed on its own: a block opened in a file must close in it
//!   (`unexpected end of file, expecting "}"`), and a `}` at a file's top level
//!   is `unexpected "}"`, whether the file is the main one or an included one.
//! - `include PATH` works in every context and is textual. A relative PATH is
//!   resolved against the directory of the main config file (nginx's conf
//!   prefix). A PATH with `*`, `?` or `[` is a glob: its matches are included
//!   in sorted order and no match is fine; a plain missing file is an error.
//! - A syntax error does not throw away what was read before it: the caller
//!   checks that prefix first, so that the first error reported is the first
//!   one in file order, as nginx (which checks directives while it reads).

use super::lexer::{End, Lexer};
use crate::config::ConfigError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep includes may nest: nginx has no limit and loops until it runs
/// out of file descriptors; a loop here is reported instead.
const MAX_INCLUDE_DEPTH: usize = 32;

/// How deep blocks may nest in one file. nginx has no limit; a config that
/// nests thousands of blocks would overflow the stack here, so it is refused.
/// Real configs nest four or five levels.
const MAX_BLOCK_DEPTH: usize = 100;

/// One directive, with its block if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub file: Arc<Path>,
    /// The line of the `;` or `{` that ended the directive (what nginx reports).
    pub line: usize,
    /// `Some` when the directive was followed by `{` (the block may be empty).
    pub block: Option<Vec<Directive>>,
    /// The line of the block's `}` (nginx reports block-level checks there).
    pub end_line: usize,
}

impl Directive {
    pub fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.file, self.line, message)
    }

    /// A directive as the parser would give it, for the setters' unit tests.
    #[cfg(test)]
    pub fn test(name: &str, args: &[&str], file: &str, line: usize) -> Directive {
        Directive {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            file: Arc::from(Path::new(file)),
            line,
            block: None,
            end_line: line,
        }
    }
}

/// The directives read from a main file, and the syntax error that stopped
/// reading, if one did (`tree` then holds everything before it).
#[derive(Debug)]
pub struct Parsed {
    pub tree: Vec<Directive>,
    pub error: Option<ConfigError>,
}

/// Reads `path` and every file it includes.
pub fn parse_file(path: &Path) -> Parsed {
    let conf_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut tree = Vec::new();
    let error = Reader { conf_dir }.file(path, &mut tree, None, 0).err();
    Parsed { tree, error }
}

/// Parses text as if read from `path` (tests, and `-` style callers).
pub fn parse_str(path: &Path, text: &str) -> Parsed {
    let conf_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut tree = Vec::new();
    let file: Arc<Path> = Arc::from(path);
    let error = Reader { conf_dir }.text(&file, text, &mut tree, 0).err();
    Parsed { tree, error }
}

struct Reader {
    conf_dir: PathBuf,
}

impl Reader {
    /// Reads one file's directives into `out`. `from` is the `include` that
    /// named it (errors opening it are reported there, as nginx).
    fn file(
        &self,
        path: &Path,
        out: &mut Vec<Directive>,
        from: Option<&Directive>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let text = std::fs::read(path).map_err(|e| {
            let msg = format!("open() \"{}\" failed ({})", path.display(), crate::log::OsErr(&e));
            match from {
                Some(d) => d.err(msg),
                None => ConfigError::new(path, 0, msg),
            }
        })?;
        let text = String::from_utf8_lossy(&text);
        let file: Arc<Path> = Arc::from(path);
        self.text(&file, &text, out, depth)
    }

    fn text(
        &self,
        file: &Arc<Path>,
        text: &str,
        out: &mut Vec<Directive>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let mut lexer = Lexer::new(text);
        self.block(file, &mut lexer, out, 0, depth)
    }

    /// Reads statements until the block's `}` (or the end of the file at the top).
    fn block(
        &self,
        file: &Arc<Path>,
        lexer: &mut Lexer<'_>,
        out: &mut Vec<Directive>,
        level: usize,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let in_block = level > 0;
        loop {
            let st = lexer
                .next_statement()
                .map_err(|e| ConfigError::new(file, e.line, e.message))?;
            let mut words = st.words.into_iter();
            let name = match (st.end, words.next()) {
                (End::BlockEnd, _) if in_block => return Ok(()),
                (End::BlockEnd, _) => return Err(ConfigError::new(file, st.line, "unexpected \"}\"")),
                (End::Eof, _) if in_block => {
                    return Err(ConfigError::new(
                        file,
                        st.line,
                        "unexpected end of file, expecting \"}\"",
                    ))
                }
                (End::Eof, _) => return Ok(()),
                (_, Some(name)) => name,
                // The lexer never ends a statement with `;` or `{` and no words.
                (_, None) => return Err(ConfigError::new(file, st.line, "unexpected \";\"")),
            };
            let mut d = Directive {
                name,
                args: words.collect(),
                file: file.clone(),
                line: st.line,
                block: None,
                end_line: st.line,
            };
            if d.name == "include" {
                if st.end == End::BlockStart {
                    return Err(d.err("directive \"include\" is not terminated by \";\""));
                }
                if d.args.len() != 1 {
                    return Err(d.err("invalid number of arguments in \"include\" directive"));
                }
                self.include(&d, out, depth)?;
                continue;
            }
            if st.end == End::BlockStart {
                if level >= MAX_BLOCK_DEPTH {
                    return Err(d.err(format!("blocks nested deeper than {MAX_BLOCK_DEPTH} levels")));
                }
                // Push the block before filling it, so that on an error inside
                // it the caller still sees everything read so far.
                d.block = Some(Vec::new());
                out.push(d);
                let Some(Directive {
                    block: Some(inner),
                    end_line,
                    ..
                }) = out.last_mut()
                else {
                    continue;
                };
                self.block(file, lexer, inner, level + 1, depth)?;
                *end_line = lexer.line();
            } else {
                out.push(d);
            }
        }
    }

    fn include(&self, d: &Directive, out: &mut Vec<Directive>, depth: usize) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(d.err(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} levels (an include loop?)"
            )));
        }
        let arg = d.args.first().map(String::as_str).unwrap_or_default();
        let path = if Path::new(arg).is_absolute() {
            PathBuf::from(arg)
        } else {
            self.conf_dir.join(arg)
        };
        if !arg.contains(['*', '?', '[']) {
            return self.file(&path, out, Some(d), depth + 1);
        }
        for p in glob(&path) {
            self.file(&p, out, Some(d), depth + 1)?;
        }
        Ok(())
    }
}

/// Expands a glob (`*`, `?`, `[...]` in any component) as glob(3) does for
/// nginx: wildcards do not match a leading `.`, and the result is sorted.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?', '[']) {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if wildcard(part.as_bytes(), name.as_bytes()) {
                    next.push(base.join(&name));
                }
            }
        }
        found = next;
    }
    found.retain(|p| p.exists());
    found.sort();
    found
}

/// fnmatch(3) without flags for one path component.
pub fn wildcard(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| name.get(i..).is_some_and(|n| wildcard(rest, n))),
        Some((b'?', rest)) => name.split_first().is_some_and(|(_, n)| wildcard(rest, n)),
        Some((b'[', rest)) => {
            let Some((&c, n)) = name.split_first() else {
                return false;
            };
            match class(rest, c) {
                Some((matched, after)) => matched && wildcard(after, n),
                // An unclosed `[` is a literal character.
                None => c == b'[' && wildcard(rest, n),
            }
        }
        Some((&p, rest)) => name
            .split_first()
            .is_some_and(|(&c, n)| c == p && wildcard(rest, n)),
    }
}

/// Matches `c` against the class after a `[`; returns whether it matched and
/// the pattern after the `]`, or None when there is no `]`.
fn class(pat: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut p) = match pat.first() {
        Some(b'!' | b'^') => (true, pat.get(1..)?),
        _ => (false, pat),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&lo, rest) = p.split_first()?;
        if lo == b']' && !first {
            return Some((matched != negate, rest));
        }
        first = false;
        if let (Some(b'-'), Some(&hi)) = (rest.first(), rest.get(1)) {
            if hi != b']' {
                matched |= (lo..=hi).contains(&c);
                p = rest.get(2..)?;
                continue;
            }
        }
        matched |= lo == c;
        p = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> Result<Vec<Directive>, ConfigError> {
        let p = parse_str(Path::new("/t/nginx.conf"), src);
        match p.error {
            Some(e) => Err(e),
            None => Ok(p.tree),
        }
    }

    /// `name(args){children}` notation of a tree, to compare shapes.
    fn shape(ds: &[Directive]) -> String {
        ds.iter()
            .map(|d| {
                let mut s = d.name.clone();
                for a in &d.args {
                    s.push(' ');
                    s.push_str(a);
                }
                s.push_str(&format!("@{}", d.line));
                if let Some(b) = &d.block {
                    s.push_str(&format!("{{{}}}", shape(b)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn nesting() {
        let cases: &[(&str, &str)] = &[
            ("a;", "a@1"),
            ("a 1 2;\nb;", "a 1 2@1;b@2"),
            ("e {}", "e@1{}"),
            (
                "http {\n server {\n  location / {\n   location /a { x; }\n  }\n }\n}",
                "http@1{server@2{location /@3{location /a@4{x@4}}}}",
            ),
            ("a { b { c; } d; }\ne;", "a@1{b@1{c@1};d@1};e@2"),
        ];
        for (src, want) in cases {
            assert_eq!(shape(&tree(src).unwrap()), *want, "{src:?}");
        }
    }

    #[test]
    fn syntax_errors() {
        let cases: &[(&str, &str, usize)] = &[
            ("}", "unexpected \"}\"", 1),
            ("a { b; }\n}", "unexpected \"}\"", 2),
            ("a {\n b;\n", "unexpected end of file, expecting \"}\"", 3),
            ("a { b {", "unexpected end of file, expecting \"}\"", 1),
            ("a { b", "unexpected end of file, expecting \";\" or \"}\"", 1),
            (
                "include;",
                "invalid number of arguments in \"include\" directive",
                1,
            ),
            (
                "include a b;",
                "invalid number of arguments in \"include\" directive",
                1,
            ),
            (
                "include a {",
                "directive \"include\" is not terminated by \";\"",
                1,
            ),
            (
                "\ninclude /nonexistent/x.conf;",
                "open() \"/nonexistent/x.conf\" failed (2: No such file or directory)",
                2,
            ),
        ];
        for (src, msg, line) in cases {
            let e = tree(src).unwrap_err();
            assert_eq!((e.message.as_str(), e.line), (*msg, *line), "{src:?}");
        }
    }

    #[test]
    fn a_syntax_error_keeps_what_came_before() {
        let p = parse_str(Path::new("/t/n.conf"), "a;\nb { c;\n d 'x");
        assert!(p.error.is_some());
        assert_eq!(shape(&p.tree), "a@1;b@2{c@2}");
    }

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.conf", "a.conf", true),
            ("*.conf", "a.confx", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("[a-c]x", "dx", false),
            ("[]]x", "]x", true),
            ("[x", "[x", true),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxx", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(wildcard(p.as_bytes(), n.as_bytes()), *want, "{p} ~ {n}");
        }
    }

    #[test]
    fn includes_and_globs() {
        let dir = std::env::temp_dir().join(format!("rampart-nginx-parser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("vhost")).unwrap();
        std::fs::write(dir.join("vhost/b.conf"), "b;\n").unwrap();
        std::fs::write(dir.join("vhost/a.conf"), "\na { x; }\n").unwrap();
        std::fs::write(dir.join("vhost/.hidden.conf"), "hidden;\n").unwrap();
        std::fs::write(dir.join("vhost/c.txt"), "c;\n").unwrap();
        std::fs::write(dir.join("bad.conf"), "}\n").unwrap();
        std::fs::write(dir.join("open.conf"), "q {\n").unwrap();
        let main = dir.join("nginx.conf");
        std::fs::write(&main, "m { include vhost/*.conf; }\ninclude none/*.conf;\nz;\n").unwrap();
        let p = parse_file(&main);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(shape(&p.tree), "m@1{a@2{x@2};b@1};z@3");
        assert_eq!(
            &*p.tree[0].block.as_ref().unwrap()[0].file,
            dir.join("vhost/a.conf").as_path()
        );
        // An included file is parsed on its own: its blocks close in it.
        for (inc, msg, file, line) in [
            ("bad.conf", "unexpected \"}\"", "bad.conf", 1),
            (
                "open.conf",
                "unexpected end of file, expecting \"}\"",
                "open.conf",
                2,
            ),
        ] {
            std::fs::write(&main, format!("x {{ include {inc}; }}\n")).unwrap();
            let e = parse_file(&main).error.unwrap();
            assert_eq!(
                (e.message.as_str(), e.file.clone(), e.line),
                (msg, dir.join(file), line)
            );
        }
        // Absurd nesting is refused rather than overflowing the stack.
        std::fs::write(&main, "a {".repeat(100_000)).unwrap();
        assert!(parse_file(&main)
            .error
            .unwrap()
            .message
            .contains("blocks nested deeper"));
        // An include loop is reported, not followed forever.
        std::fs::write(&main, "include nginx.conf;\n").unwrap();
        assert!(parse_file(&main).error.unwrap().message.contains("nested deeper"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
