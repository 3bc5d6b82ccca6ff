//! nginx.conf tokens, read exactly as `ngx_conf_read_token` reads them
//! (nginx/nginx: src/core/ngx_conf_file.c), one statement at a time.
//!
//! The rules that matter, all from that function:
//! - A statement is words ended by `;` (a directive), `{` (a block start), or a
//!   lone `}` (a block end). `;` and `{` with no word before them, and `}`
//!   after words, are errors (`unexpected ";"`, `unexpected "}"`).
//! - Words are separated by blanks; `;` and `{` also end an unquoted word, but
//!   `}` does not (`foo}` is one word). `#` starts a comment only where a word
//!   could start.
//! - `"..."` and `'...'` quote a word; after the closing quote a blank, `;`,
//!   `{` or `)` must follow (`unexpected "b"` for `"a"b`).
//! - `\` hides the next character from the rules above. When a word is kept,
//!   `\"`, `\'` and `\\` lose their backslash and `\n`, `\r`, `\t` become the
//!   control characters; any other `\x` stays as written (regexes keep `\.`).
//! - `${` does not end a word: `${var}` stays verbatim, as does `$var`.
//! - The line reported for a statement (and for errors) is the line where its
//!   terminator was read, which is what `nginx -t` prints.

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `;`
    Semicolon,
    /// `{`
    BlockStart,
    /// `}`
    BlockEnd,
    /// The end of the text (only with no words pending).
    Eof,
}

/// One statement: its words and how it ended, with the line of the terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub words: Vec<String>,
    pub end: End,
    pub line: usize,
}

/// A lexical error: nginx's message and the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub line: usize,
}

/// Reads statements from one file's text.
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            src: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The current line (where the lexer stopped).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next statement, or nginx's error for malformed text.
    pub fn next_statement(&mut self) -> Result<Statement, LexError> {
        let mut words: Vec<String> = Vec::new();
        let mut need_space = false;
        let mut last_space = true;
        let mut comment = false;
        let mut variable = false;
        let mut quoted = false;
        let mut s_quoted = false;
        let mut d_quoted = false;
        let mut start = self.pos;
        loop {
            let Some(&ch) = self.src.get(self.pos) else {
                if !words.is_empty() || !last_space {
                    return Err(self.err("unexpected end of file, expecting \";\" or \"}\""));
                }
                return Ok(self.stmt(words, End::Eof));
            };
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                comment = false;
                // nginx leaves the comment state on the newline itself, which is then
                // handled as a blank below.
            }
            if comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                if is_blank(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                match ch {
                    b';' => return Ok(self.stmt(words, End::Semicolon)),
                    b'{' => return Ok(self.stmt(words, End::BlockStart)),
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => return Err(self.unexpected(ch)),
                }
            }
            if last_space {
                start = self.pos - 1;
                if is_blank(ch) {
                    continue;
                }
                match ch {
                    b';' | b'{' => {
                        if words.is_empty() {
                            return Err(self.unexpected(ch));
                        }
                        let end = if ch == b'{' {
                            End::BlockStart
                        } else {
                            End::Semicolon
                        };
                        return Ok(self.stmt(words, end));
                    }
                    b'}' => {
                        if !words.is_empty() {
                            return Err(self.unexpected(ch));
                        }
                        return Ok(self.stmt(words, End::BlockEnd));
                    }
                    b'#' => {
                        comment = true;
                        continue;
                    }
                    b'\\' => quoted = true,
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                    }
                    b'$' => variable = true,
                    _ => {}
                }
                last_space = false;
                continue;
            }
            if ch == b'{' && variable {
                continue;
            }
            variable = false;
            match ch {
                b'\\' => {
                    quoted = true;
                    continue;
                }
                b'$' => {
                    variable = true;
                    continue;
                }
                _ => {}
            }
            let found = if d_quoted {
                d_quoted = ch != b'"';
                need_space = !d_quoted;
                !d_quoted
            } else if s_quoted {
                s_quoted = ch != b'\'';
                need_space = !s_quoted;
                !s_quoted
            } else if is_blank(ch) || ch == b';' || ch == b'{' {
                last_space = true;
                true
            } else {
                false
            };
            if found {
                let raw = self.src.get(start..self.pos - 1).unwrap_or_default();
                words.push(unescape(raw));
                match ch {
                    b';' => return Ok(self.stmt(words, End::Semicolon)),
                    b'{' => return Ok(self.stmt(words, End::BlockStart)),
                    _ => {}
                }
            }
        }
    }

    fn stmt(&self, words: Vec<String>, end: End) -> Statement {
        Statement {
            words,
            end,
            line: self.line,
        }
    }

    fn err(&self, message: &str) -> LexError {
        LexError {
            message: message.to_string(),
            line: self.line,
        }
    }

    fn unexpected(&self, ch: u8) -> LexError {
        // nginx prints the byte as is (`"%c"`); a newline cannot get here.
        let c = String::from_utf8_lossy(&[ch]).into_owned();
        self.err(&format!("unexpected \"{c}\""))
    }
}

fn is_blank(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

/// The copy loop of `ngx_conf_read_token`: `\"`, `\'`, `\\` lose the
/// backslash, `\n` `\r` `\t` become control characters, anything else is kept.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'\\' {
            match raw.get(i + 1) {
                Some(&c @ (b'"' | b'\'' | b'\\')) => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All statements of `src`, up to and including the end of file.
    fn all(src: &str) -> Result<Vec<(Vec<String>, End, usize)>, LexError> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let s = l.next_statement()?;
            let end = s.end;
            out.push((s.words, s.end, s.line));
            if end == End::Eof {
                return Ok(out);
            }
        }
    }

    fn words(src: &str) -> Vec<String> {
        let st = all(src).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
        st.into_iter().next().map(|s| s.0).unwrap_or_default()
    }

    #[test]
    fn words_quotes_and_escapes() {
        let cases: &[(&str, &[&str])] = &[
            ("a b c;", &["a", "b", "c"]),
            ("a\t b\r\n c;", &["a", "b", "c"]),
            ("a \"b c\";", &["a", "b c"]),
            ("a 'b c';", &["a", "b c"]),
            ("a \"\";", &["a", ""]),
            ("a \"x\\\"y\";", &["a", "x\"y"]),
            ("a 'x\\'y';", &["a", "x'y"]),
            ("a \"x'y\" 'p\"q';", &["a", "x'y", "p\"q"]),
            ("a \\\\;", &["a", "\\"]),
            ("a \"1\\n2\\r3\\t4\";", &["a", "1\n2\r3\t4"]),
            ("a x\\ny;", &["a", "x\ny"]),
            // Other escapes stay as written: regexes need them.
            ("location ~ \\.php$ {", &["location", "~", "\\.php$"]),
            ("a \"\\d+\";", &["a", "\\d+"]),
            // An escaped blank or semicolon does not end a word.
            ("a x\\ y;", &["a", "x\\ y"]),
            ("a x\\;y;", &["a", "x\\;y"]),
            // Variables stay verbatim, braces included.
            ("a $host${request_uri}x;", &["a", "$host${request_uri}x"]),
            ("a ${x};", &["a", "${x}"]),
            ("a \"${x} y\";", &["a", "${x} y"]),
            // `}` does not end a word, `#` inside a word is not a comment.
            ("a b};", &["a", "b}"]),
            ("a b#c;", &["a", "b#c"]),
            // A quote inside a word is literal.
            ("a b\"c;", &["a", "b\"c"]),
            // Words may touch the terminator.
            ("a;", &["a"]),
            ("a\"b\";", &["a\"b\""]),
            ("a 'b';", &["a", "b"]),
            ("if ($x) {", &["if", "($x)"]),
            ("if ($x = \"a\") {", &["if", "($x", "=", "a", ")"]),
        ];
        for (src, want) in cases {
            assert_eq!(words(src), *want, "{src:?}");
        }
    }

    #[test]
    fn statements_comments_and_lines() {
        let got = all("# c1\nevents { # c2\n}\nhttp {\n  a \"x\n y\";\n}# end").unwrap();
        let want: Vec<(Vec<String>, End, usize)> = vec![
            (vec!["events".into()], End::BlockStart, 2),
            (vec![], End::BlockEnd, 3),
            (vec!["http".into()], End::BlockStart, 4),
            (vec!["a".into(), "x\n y".into()], End::Semicolon, 6),
            (vec![], End::BlockEnd, 7),
            (vec![], End::Eof, 7),
        ];
        assert_eq!(got, want);
        // A directive spread over lines reports the line of its `;`, as nginx.
        let got = all("log_format a\n  'x'\n  'y';\n").unwrap();
        assert_eq!(got[0].2, 3);
        assert_eq!(all("").unwrap(), vec![(vec![], End::Eof, 1)]);
        assert_eq!(all("# only\n# comments").unwrap().len(), 1);
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str, usize)] = &[
            ("a \"b", "unexpected end of file, expecting \";\" or \"}\"", 1),
            ("a 'b\n\n", "unexpected end of file, expecting \";\" or \"}\"", 3),
            ("a b", "unexpected end of file, expecting \";\" or \"}\"", 1),
            ("a \\", "unexpected end of file, expecting \";\" or \"}\"", 1),
            ("a\n\"b\"c;", "unexpected \"c\"", 2),
            ("'a'b;", "unexpected \"b\"", 1),
            (";", "unexpected \";\"", 1),
            ("\n {", "unexpected \"{\"", 2),
            ("a b }", "unexpected \"}\"", 1),
        ];
        for (src, msg, line) in cases {
            let e = all(src).unwrap_err();
            assert_eq!((e.message.as_str(), e.line), (*msg, *line), "{src:?}");
        }
    }
}
