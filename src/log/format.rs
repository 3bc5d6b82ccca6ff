//! `log_format`: compiled access-log line templates and nginx's three escaping modes.
//!
//! Source: nginx/nginx: src/http/modules/ngx_http_log_module.c (`ngx_http_log_escape`,
//! `ngx_http_log_variable*`, `ngx_http_log_json_variable*`, `ngx_http_log_unescaped_variable*`)
//! and src/core/ngx_string.c (`ngx_escape_json`). Every rule below was compared byte for byte with
//! the access log of Debian's nginx 1.22.1 (see the tests' comments).

use crate::vars::{Part, Template, TemplateError, VarSource};

/// The `escape=` parameter of `log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// `\xHH` for control bytes, `"`, `\`, DEL and 8-bit bytes; not-found prints `-`.
    #[default]
    Default,
    /// JSON string escaping; not-found prints nothing.
    Json,
    /// Raw bytes; not-found prints nothing.
    None,
}

/// A compiled `log_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    name: String,
    escape: Escape,
    template: Template,
}

/// The predefined `combined` format (ngx_http_log_module.c `ngx_http_combined_fmt`).
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status \
                            $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

impl LogFormat {
    /// `combined`, which nginx always defines and does not let a config redefine.
    pub fn combined() -> LogFormat {
        LogFormat {
            name: "combined".to_string(),
            escape: Escape::Default,
            // The constant compiles; the fallback keeps this function total.
            template: Template::compile(COMBINED).unwrap_or_default(),
        }
    }

    /// Compiles `format` (the already concatenated strings of the directive).
    pub fn compile(name: &str, escape: Escape, format: &str) -> Result<LogFormat, TemplateError> {
        Ok(LogFormat {
            name: name.to_string(),
            escape,
            template: Template::compile(format)?,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn escape(&self) -> Escape {
        self.escape
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Appends one log line (with the trailing '\n') to `out`: literals as is, variables escaped
    /// per the format's [`Escape`]; a not-found variable prints `-` with [`Escape::Default`] and
    /// nothing with [`Escape::Json`] or [`Escape::None`] (nginx 1.22.1 prints nothing for
    /// `escape=none`: `ngx_http_log_unescaped_variable_getlen` returns 0 when not found).
    ///
    /// Values are written straight into `out` and escaped only if they contain a byte that
    /// needs it, so the common line costs no allocation.
    pub fn render(&self, src: &dyn VarSource, out: &mut Vec<u8>) {
        for part in self.template.parts() {
            match part {
                Part::Lit(lit) => out.extend_from_slice(lit),
                Part::Var(var) => {
                    let start = out.len();
                    if !src.var(var, out) {
                        // A source may have appended before reporting not-found; drop it.
                        out.truncate(start);
                        if self.escape == Escape::Default {
                            out.push(b'-');
                        }
                        continue;
                    }
                    match self.escape {
                        Escape::Default => escape_tail(out, start, needs_default_escape, escape_default),
                        Escape::Json => escape_tail(out, start, needs_json_escape, escape_json),
                        Escape::None => {}
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

/// Re-escapes `out[start..]` in place when any byte in it needs escaping.
fn escape_tail(out: &mut Vec<u8>, start: usize, needs: fn(u8) -> bool, escape: fn(&[u8], &mut Vec<u8>)) {
    let dirty = out
        .get(start..)
        .is_some_and(|tail| tail.iter().any(|&b| needs(b)));
    if dirty {
        let raw = out.split_off(start);
        escape(&raw, out);
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The `escape[]` bitmap of `ngx_http_log_escape`: every byte < 0x20, `"`, `\`, 0x7F and every
/// byte >= 0x80. Space is not escaped.
pub fn needs_default_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f
}

/// `ngx_http_log_escape`: each flagged byte becomes `\xHH` with uppercase hex.
pub fn escape_default(raw: &[u8], out: &mut Vec<u8>) {
    out.reserve(raw.len());
    for &b in raw {
        if needs_default_escape(b) {
            out.extend_from_slice(&[b'\\', b'x', hex(b >> 4), hex(b & 0xf)]);
        } else {
            out.push(b);
        }
    }
}

/// Bytes `ngx_escape_json` changes: control bytes (< 0x20), `"` and `\`. DEL and 8-bit bytes
/// pass through raw.
pub fn needs_json_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `ngx_escape_json`: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and other control bytes as
/// `\u00XX` with **uppercase** hex (nginx 1.22.1 logs `\u001F`, `\u001B`).
pub fn escape_json(raw: &[u8], out: &mut Vec<u8>) {
    out.reserve(raw.len());
    for &b in raw {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b & 0xf)]),
            _ => out.push(b),
        }
    }
}

fn hex(nibble: u8) -> u8 {
    HEX_UPPER.get(usize::from(nibble & 0xf)).copied().unwrap_or(b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::Var;

    /// A fake request: named values are found (possibly empty); anything else is not found.
    #[derive(Default)]
    struct Fake(Vec<(Var, Vec<u8>)>);

    impl Fake {
        fn with(mut self, name: &str, value: &[u8]) -> Fake {
            self.0.push((Var::from_name(name), value.to_vec()));
            self
        }
    }

    impl VarSource for Fake {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            match self.0.iter().find(|(v, _)| v == var).map(|(_, val)| val) {
                Some(v) => {
                    out.extend_from_slice(v);
                    true
                }
                None => false,
            }
        }
    }

    /// Misbehaving source: appends and then says not found.
    struct Sloppy;
    impl VarSource for Sloppy {
        fn var(&self, _: &Var, out: &mut Vec<u8>) -> bool {
            out.extend_from_slice(b"junk");
            false
        }
    }

    fn render(f: &LogFormat, src: &dyn VarSource) -> Vec<u8> {
        let mut out = Vec::new();
        f.render(src, &mut out);
        out
    }

    #[test]
    fn default_escape_table() {
        // Every byte value against the ngx_http_log_escape bitmap.
        for b in 0u8..=255 {
            let want = b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f;
            assert_eq!(needs_default_escape(b), want, "byte {b:#04x}");
            let mut out = Vec::new();
            escape_default(&[b], &mut out);
            if want {
                assert_eq!(out, format!("\\x{b:02X}").into_bytes());
            } else {
                assert_eq!(out, vec![b]);
            }
        }
    }

    #[test]
    fn default_escape_cases() {
        // Compared with nginx 1.22.1's access log for the same request bytes.
        let cases: &[(&[u8], &[u8])] = &[
            (
                b"GET /a%20b?x=\"q\"&y=\\z HTTP/1.1",
                br#"GET /a%20b?x=\x22q\x22&y=\x5Cz HTTP/1.1"#,
            ),
            (
                b"ua \"quoted\" \\ back \xc3\xa9\xff\x7f tab\there",
                br#"ua \x22quoted\x22 \x5C back \xC3\xA9\xFF\x7F tab\x09here"#,
            ),
            (b"GET /\x80\xfe HTTP/1.1", br#"GET /\x80\xFE HTTP/1.1"#),
            (b"\x1b[31m \x7f", br#"\x1B[31m \x7F"#),
            (b"c\x01\x1f\x08\x0c", br#"c\x01\x1F\x08\x0C"#),
            (b"\r\n\0", br#"\x0D\x0A\x00"#),
            (b"plain space ~'{}", b"plain space ~'{}"),
            (b"", b""),
        ];
        let f = LogFormat::compile("d", Escape::Default, "$http_x").unwrap();
        for (raw, want) in cases {
            let got = render(&f, &Fake::default().with("http_x", raw));
            assert_eq!(got, [*want, b"\n"].concat(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn json_escape_cases() {
        // Compared with nginx 1.22.1 (`escape=json`): DEL and 8-bit bytes are raw, \u00XX is uppercase.
        let cases: &[(&[u8], &[u8])] = &[
            (
                b"GET /a%20b?x=\"q\"&y=\\z HTTP/1.1",
                br#"GET /a%20b?x=\"q\"&y=\\z HTTP/1.1"#,
            ),
            (
                b"ua \"quoted\" \\ back \xc3\xa9\xff\x7f tab\there",
                b"ua \\\"quoted\\\" \\\\ back \xc3\xa9\xff\x7f tab\\there",
            ),
            (b"c\x01\x1f\x08\x0c", br#"c\u0001\u001F\b\f"#),
            (b"\x1b[31m \x7f", b"\\u001B[31m \x7f"),
            (b"a\nb\rc\td", br#"a\nb\rc\td"#),
            (b"\0\x0b\x1a", br#"\u0000\u000B\u001A"#),
            (b"/ ok", b"/ ok"),
        ];
        for b in 0u8..=255 {
            assert_eq!(
                needs_json_escape(b),
                b < 0x20 || b == b'"' || b == b'\\',
                "byte {b:#04x}"
            );
        }
        let f = LogFormat::compile("j", Escape::Json, "$http_x").unwrap();
        for (raw, want) in cases {
            let got = render(&f, &Fake::default().with("http_x", raw));
            assert_eq!(got, [*want, b"\n"].concat(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn none_escape_is_raw() {
        let f = LogFormat::compile("n", Escape::None, "[$http_x]").unwrap();
        let raw = b"\"\\\x00\x7f\xff\n";
        assert_eq!(
            render(&f, &Fake::default().with("http_x", raw)),
            [b"[", &raw[..], b"]\n"].concat()
        );
    }

    #[test]
    fn not_found_vs_empty() {
        // nginx 1.22.1: absent Referer -> "-" (default) / "" (json, none); sent-but-empty -> "".
        let cases: &[(Escape, &str, &str)] = &[
            (Escape::Default, "\"-\" \"\"", "absent then empty"),
            (Escape::Json, "\"\" \"\"", "json prints nothing for not found"),
            (Escape::None, "\"\" \"\"", "none prints nothing for not found"),
        ];
        for (esc, want, what) in cases {
            let f = LogFormat::compile("t", *esc, "\"$http_referer\" \"$http_x\"").unwrap();
            let got = render(&f, &Fake::default().with("http_x", b""));
            assert_eq!(String::from_utf8(got).unwrap(), format!("{want}\n"), "{what}");
            let got = render(&f, &Sloppy);
            let dash = if *esc == Escape::Default {
                "\"-\" \"-\"\n"
            } else {
                "\"\" \"\"\n"
            };
            assert_eq!(String::from_utf8(got).unwrap(), dash, "sloppy source, {what}");
        }
    }

    #[test]
    fn literals_are_not_escaped() {
        let f = LogFormat::compile("l", Escape::Default, "\"\\ é $status").unwrap();
        assert_eq!(
            render(&f, &Fake::default().with("status", b"200")),
            "\"\\ é 200\n".as_bytes()
        );
    }

    #[test]
    fn combined_line() {
        let f = LogFormat::combined();
        assert_eq!(f.name(), "combined");
        assert_eq!(f.escape(), Escape::Default);
        let src = Fake::default()
            .with("remote_addr", b"203.0.113.7")
            .with("time_local", b"10/Oct/2025:13:55:36 +0000")
            .with("request", b"GET /a.png HTTP/1.1")
            .with("status", b"200")
            .with("body_bytes_sent", b"2326")
            .with("http_user_agent", b"curl/8.5.0");
        assert_eq!(
            String::from_utf8(render(&f, &src)).unwrap(),
            "203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] \"GET /a.png HTTP/1.1\" 200 2326 \"-\" \
             \"curl/8.5.0\"\n"
        );
        // The same odd request nginx 1.22.1 logged as:
        // 127.0.0.1 - user\x22q [..] "GET /\x80\xFE HTTP/1.1" 200 3 "" "ua \x22q\x22 \xC3\xA9"
        let src = Fake::default()
            .with("remote_addr", b"127.0.0.1")
            .with("remote_user", b"user\"q")
            .with("time_local", b"25/Nov/2026:16:39:33 +0000")
            .with("request", b"GET /\x80\xfe HTTP/1.1")
            .with("status", b"200")
            .with("body_bytes_sent", b"3")
            .with("http_referer", b"")
            .with("http_user_agent", b"ua \"q\" \xc3\xa9");
        assert_eq!(
            String::from_utf8(render(&f, &src)).unwrap(),
            "127.0.0.1 - user\\x22q [25/Nov/2026:16:39:33 +0000] \"GET /\\x80\\xFE HTTP/1.1\" 200 3 \"\" \
             \"ua \\x22q\\x22 \\xC3\\xA9\"\n"
        );
    }

    #[test]
    fn render_appends() {
        let f = LogFormat::compile("a", Escape::Default, "$status").unwrap();
        let mut out = b"first\n".to_vec();
        f.render(&Fake::default().with("status", b"\"x"), &mut out);
        assert_eq!(out, b"first\n\\x22x\n");
    }

    #[test]
    fn compile_errors_propagate() {
        assert!(LogFormat::compile("bad", Escape::Default, "$").is_err());
        assert!(LogFormat::compile("bad", Escape::Json, "${oops").is_err());
    }
}
