//! nginx's stub_status page, byte for byte (nginx/nginx:
//! src/http/modules/ngx_http_stub_status_module.c, `ngx_http_stub_status_handler`).
//!
//! Four LF-terminated lines; every line but the second ends in a space and
//! the third starts with one. nginx-prometheus-exporter reads it with a Go
//! `fmt.Fscanf` template and Telegraf splits lines 3 and 4 on whitespace, so
//! the newline positions and the field order are the contract.

use super::counters::Snapshot;

/// Content-Type of the page (text/plain, as nginx sets it).
pub const CONTENT_TYPE: &[u8] = b"text/plain";

/// Only GET and HEAD are answered; anything else gets 405 as in nginx.
pub fn method_allowed(method: &[u8]) -> bool {
    method == b"GET" || method == b"HEAD"
}

/// Appends the page for `s` to `out`.
pub fn render(s: &Snapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Active connections: ");
    num(out, s.active);
    out.extend_from_slice(b" \nserver accepts handled requests\n ");
    num(out, s.accepts);
    out.push(b' ');
    num(out, s.handled);
    out.push(b' ');
    num(out, s.requests);
    out.extend_from_slice(b" \nReading: ");
    num(out, s.reading);
    out.extend_from_slice(b" Writing: ");
    num(out, s.writing);
    out.extend_from_slice(b" Waiting: ");
    num(out, s.waiting);
    out.extend_from_slice(b" \n");
}

fn num(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes() {
        let table = [
            (
                Snapshot {
                    active: 291,
                    accepts: 16630948,
                    handled: 16630948,
                    requests: 31070465,
                    reading: 6,
                    writing: 179,
                    waiting: 106,
                },
                "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n",
            ),
            (
                Snapshot {
                    active: 1,
                    accepts: 1,
                    handled: 1,
                    requests: 1,
                    reading: 0,
                    writing: 1,
                    waiting: 0,
                },
                "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n",
            ),
            (
                Snapshot {
                    active: 0,
                    accepts: u64::MAX,
                    handled: 10,
                    requests: 100,
                    reading: 0,
                    writing: 0,
                    waiting: 0,
                },
                "Active connections: 0 \nserver accepts handled requests\n 18446744073709551615 10 100 \nReading: 0 Writing: 0 Waiting: 0 \n",
            ),
        ];
        for (s, want) in table {
            let mut out = Vec::new();
            render(&s, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn methods() {
        for (m, ok) in [
            (&b"GET"[..], true),
            (b"HEAD", true),
            (b"POST", false),
            (b"get", false),
            (b"OPTIONS", false),
        ] {
            assert_eq!(method_allowed(m), ok);
        }
    }
}
