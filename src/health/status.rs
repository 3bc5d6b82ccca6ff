//! The `check_status` page: html, csv and json exactly as the module's
//! `ngx_http_upstream_check_status_{html,csv,json}_format` write them, except
//! that the json never ends a filtered list with a trailing comma (the
//! module's test is `i == last` over the *unfiltered* list; rampart leaves the
//! comma out after the last server it prints, so the output is valid JSON).

use super::{HealthTable, PeerHealth};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
    Json,
}

impl Format {
    /// The format names the directive and `?format=` accept (matched exactly).
    pub fn parse(s: &[u8]) -> Option<Format> {
        match s {
            b"html" => Some(Format::Html),
            b"csv" => Some(Format::Csv),
            b"json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html",
            Format::Csv => "text/plain",
            Format::Json => "application/json",
        }
    }
}

/// `?status=up|down` (value case-insensitive); anything else shows all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Up,
    Down,
}

/// The first `name=` argument of a query string, name matched
/// case-insensitively (nginx's `ngx_http_arg`).
fn arg<'a>(args: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    args.split(|&b| b == b'&').find_map(|kv| {
        let (k, v) = match memchr::memchr(b'=', kv) {
            Some(i) => (kv.get(..i)?, kv.get(i + 1..)?),
            None => (kv, &b""[..]),
        };
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// The format and filter of one request: `?format=` overrides the location's
/// format when valid (an unknown one keeps the default, as the module's
/// "bad argument"), `?status=` filters.
pub fn query(args: &[u8], default: Format) -> (Format, Filter) {
    let format = arg(args, b"format").and_then(Format::parse).unwrap_or(default);
    let filter = match arg(args, b"status") {
        Some(v) if v.eq_ignore_ascii_case(b"up") => Filter::Up,
        Some(v) if v.eq_ignore_ascii_case(b"down") => Filter::Down,
        _ => Filter::All,
    };
    (format, filter)
}

fn shown(p: &PeerHealth, f: Filter) -> bool {
    match f {
        Filter::All => true,
        Filter::Up => !p.is_down(),
        Filter::Down => p.is_down(),
    }
}

/// One row's values, read once so a row is consistent with itself.
struct Row<'a> {
    p: &'a PeerHealth,
    down: bool,
    rise: u64,
    fall: u64,
}

impl Row<'_> {
    fn status(&self) -> &'static str {
        if self.down {
            "down"
        } else {
            "up"
        }
    }
}

/// Renders the page for `table` in `format`, keeping only `filter`'s peers.
pub fn render(table: &HealthTable, format: Format, filter: Filter) -> String {
    let rows: Vec<Row<'_>> = table
        .peers
        .iter()
        .filter(|p| shown(p, filter))
        .map(|p| Row {
            p,
            down: p.is_down(),
            rise: p.rise_count(),
            fall: p.fall_count(),
        })
        .collect();
    let mut out = String::with_capacity(256 + rows.len() * 200);
    let g = table.generation;
    // `write!` into a String cannot fail.
    match format {
        Format::Html => {
            let _ = write!(
                out,
                "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\n\
                 \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n\
                 <html xmlns=\"http://www.w3.org/1999/xhtml\">\n\
                 <head>\n  <title>Nginx http upstream check status</title>\n</head>\n\
                 <body>\n<h1>Nginx http upstream check status</h1>\n\
                 <h2>Check upstream server number: {}, generation: {g}</h2>\n\
                 <table style=\"background-color:white\" cellspacing=\"0\"        \
                 cellpadding=\"3\" border=\"1\">\n  <tr bgcolor=\"#C0C0C0\">\n",
                rows.len()
            );
            for h in [
                "Index",
                "Upstream",
                "Name",
                "Status",
                "Rise counts",
                "Fall counts",
                "Check type",
                "Check port",
            ] {
                let _ = writeln!(out, "    <th>{h}</th>");
            }
            out.push_str("  </tr>\n");
            for r in &rows {
                let _ = write!(
                    out,
                    "  <tr{}>\n    <td>{}</td>\n    <td>{}</td>\n    <td>{}</td>\n    <td>{}</td>\n    \
                     <td>{}</td>\n    <td>{}</td>\n    <td>{}</td>\n    <td>{}</td>\n  </tr>\n",
                    if r.down { " bgcolor=\"#FF0000\"" } else { "" },
                    r.p.index,
                    r.p.upstream,
                    r.p.addr,
                    r.status(),
                    r.rise,
                    r.fall,
                    r.p.conf.params.kind.name(),
                    r.p.conf.params.port
                );
            }
            out.push_str("</table>\n</body>\n</html>\n");
        }
        Format::Csv => {
            for r in &rows {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    r.p.index,
                    r.p.upstream,
                    r.p.addr,
                    r.status(),
                    r.rise,
                    r.fall,
                    r.p.conf.params.kind.name(),
                    r.p.conf.params.port
                );
            }
        }
        Format::Json => {
            let _ = write!(
                out,
                "{{\"servers\": {{\n  \"total\": {},\n  \"generation\": {g},\n  \"server\": [\n",
                rows.len()
            );
            for (i, r) in rows.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {{\"index\": {}, \"upstream\": \"{}\", \"name\": \"{}\", \"status\": \"{}\", \
                     \"rise\": {}, \"fall\": {}, \"type\": \"{}\", \"port\": {}}}{}",
                    r.p.index,
                    r.p.upstream,
                    r.p.addr,
                    r.status(),
                    r.rise,
                    r.fall,
                    r.p.conf.params.kind.name(),
                    r.p.conf.params.port,
                    if i + 1 == rows.len() { "" } else { "," }
                );
            }
            out.push_str("  ]\n}}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CheckConf, PeerHealth};
    use std::sync::Arc;

    fn table() -> HealthTable {
        let c = Arc::new(CheckConf::build("type=http", None, None, None, None, None).unwrap());
        let a = PeerHealth::new(0, "app", "10.1.0.11:8080".parse().unwrap(), c.clone());
        a.set(false, 17, 0);
        let b = PeerHealth::new(1, "app", "10.1.0.12:8080".parse().unwrap(), c);
        b.set(true, 0, 6);
        HealthTable {
            generation: 1,
            peers: vec![Arc::new(a), Arc::new(b)],
        }
    }

    #[test]
    fn doc_examples() {
        // The examples of upstream-check-and-l4.md §2, written from the module's format strings.
        let html = render(&table(), Format::Html, Filter::All);
        assert!(html.starts_with(
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\n\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
        ));
        assert!(html.contains("<h2>Check upstream server number: 2, generation: 1</h2>\n"));
        assert!(html.contains("cellspacing=\"0\"        cellpadding=\"3\" border=\"1\">\n"));
        assert!(html.contains("  <tr bgcolor=\"#FF0000\">\n    <td>1</td>\n    <td>app</td>\n"));
        assert!(html.ends_with("    <td>0</td>\n  </tr>\n</table>\n</body>\n</html>\n"));
        assert_eq!(
            render(&table(), Format::Csv, Filter::All),
            "0,app,10.1.0.11:8080,up,17,0,http,0\n1,app,10.1.0.12:8080,down,0,6,http,0\n"
        );
        assert_eq!(
            render(&table(), Format::Csv, Filter::Up),
            "0,app,10.1.0.11:8080,up,17,0,http,0\n"
        );
        assert_eq!(
            render(&table(), Format::Json, Filter::All),
            "{\"servers\": {\n  \"total\": 2,\n  \"generation\": 1,\n  \"server\": [\n    \
             {\"index\": 0, \"upstream\": \"app\", \"name\": \"10.1.0.11:8080\", \"status\": \"up\", \"rise\": 17, \"fall\": 0, \"type\": \"http\", \"port\": 0},\n    \
             {\"index\": 1, \"upstream\": \"app\", \"name\": \"10.1.0.12:8080\", \"status\": \"down\", \"rise\": 0, \"fall\": 6, \"type\": \"http\", \"port\": 0}\n  ]\n}}\n"
        );
        // The module would end this one with "},": rampart does not.
        let up = render(&table(), Format::Json, Filter::Up);
        assert!(
            up.contains("\"total\": 1,") && up.contains("\"port\": 0}\n  ]"),
            "{up}"
        );
        assert_eq!(render(&HealthTable::default(), Format::Csv, Filter::All), "");
    }

    #[test]
    fn queries() {
        let cases: &[(&str, Format, (Format, Filter))] = &[
            ("", Format::Html, (Format::Html, Filter::All)),
            ("format=csv", Format::Html, (Format::Csv, Filter::All)),
            ("FORMAT=json", Format::Csv, (Format::Json, Filter::All)),
            ("format=htm", Format::Json, (Format::Json, Filter::All)),
            ("format=JSON", Format::Html, (Format::Html, Filter::All)),
            ("format=csv&status=up", Format::Html, (Format::Csv, Filter::Up)),
            (
                "status=DOWN&format=json",
                Format::Html,
                (Format::Json, Filter::Down),
            ),
            ("status=foo", Format::Html, (Format::Html, Filter::All)),
            ("format=csv&format=json", Format::Html, (Format::Csv, Filter::All)),
            ("xformat=csv", Format::Html, (Format::Html, Filter::All)),
        ];
        for (q, d, want) in cases {
            assert_eq!(query(q.as_bytes(), *d), *want, "{q}");
        }
    }
}
