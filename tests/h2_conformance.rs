//! An h2spec-style conformance run against a cleartext `listen ... http2`
//! address (prior knowledge): each case sends exactly the frames RFC 9113
//! (and RFC 7541) talk about, over a real TCP connection, and checks the
//! server's reaction. h2spec itself (Go) cannot be installed here; the case
//! names follow its section numbers. The run prints the pass count.

mod common;
#[path = "common/h2frames.rs"]
mod h2frames;

use common::*;
use h2frames::*;
use std::net::SocketAddr;

fn start() -> (Rampart, Backend) {
    let be = Backend::start("conf");
    let dir = TempDir::new("h2spec");
    let port = rampart_port();
    let text = format!(
        r#"
worker_processes 1;
daemon off;
pid logs/rampart.pid;
error_log logs/error.log info;
events {{}}
http {{
    access_log off;
    http2_max_concurrent_streams 2;
    http2_body_preread_size 16k;
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{ return 200 "ok\n"; }}
        location /echo {{ proxy_pass http://{}; }}
    }}
}}
"#,
        be.addr
    );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text).expect("write config");
    (Rampart::run_file(dir, port, conf), be)
}

type Case = (&'static str, fn(SocketAddr) -> Result<(), String>);

fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    p
}

fn ok_response(h: &mut H2, stream: u32) -> Result<(), String> {
    let (first, body) = h.response(stream)?;
    // 0x88: HPACK static index 8, ":status: 200".
    if first != 0x88 || body != b"ok\n" {
        return Err(format!("unexpected response {first:#x} {body:?}"));
    }
    Ok(())
}

fn with_fields(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

const CASES: &[Case] = &[
    ("3.5/1 valid preface and SETTINGS exchange; GET answered", |a| {
        let mut h = H2::connect(a);
        h.get(1, "/");
        ok_response(&mut h, 1)
    }),
    ("3.5/2 invalid connection preface -> connection error", |a| {
        let mut h = H2::raw(a);
        h.send_bytes(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("4.1/1 unknown frame type is ignored", |a| {
        let mut h = H2::connect(a);
        h.send(0x16, 0, 0, b"hello");
        h.alive()
    }),
    ("4.1/2 undefined flags are ignored", |a| {
        let mut h = H2::connect(a);
        h.send(PING, 0x16 & !ACK, 0, b"12345678");
        h.alive()
    }),
    (
        "4.2/1 DATA larger than SETTINGS_MAX_FRAME_SIZE -> FRAME_SIZE_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.headers(1, &request("/echo"), false);
            h.send(DATA, 0, 1, &vec![b'x'; 16385]);
            h.expect(&Outcome::GoAway(FRAME_SIZE_ERROR))
        },
    ),
    ("5.1/1 DATA on an idle stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(DATA, END_STREAM, 1, b"x");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("5.1/2 RST_STREAM on an idle stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(RST_STREAM, 0, 1, &CANCEL.to_be_bytes());
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("5.1/3 WINDOW_UPDATE on an idle stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.window_update(1, 100);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("5.1.1/1 even stream identifier -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.get(2, "/");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "5.1.1/2 stream identifier lower than a previous one -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.get(5, "/");
            ok_response(&mut h, 5)?;
            h.get(3, "/");
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    (
        "5.1.2/1 beyond SETTINGS_MAX_CONCURRENT_STREAMS -> REFUSED_STREAM",
        |a| {
            let mut h = H2::connect(a);
            // Two request bodies left open keep two streams open.
            h.headers(1, &request("/echo"), false);
            h.headers(3, &request("/echo"), false);
            h.headers(5, &request("/echo"), false);
            h.expect(&Outcome::Rst(5, REFUSED_STREAM))
        },
    ),
    (
        "5.4.1/1 GOAWAY from the client: the server closes when done",
        |a| {
            let mut h = H2::connect(a);
            let mut p = 0u32.to_be_bytes().to_vec();
            p.extend_from_slice(&NO_ERROR.to_be_bytes());
            h.send(GOAWAY, 0, 0, &p);
            loop {
                match h.event() {
                    Event::Closed => return Ok(()),
                    Event::Frame(_) => {}
                    Event::Timeout => return Err("connection not closed".into()),
                }
            }
        },
    ),
    ("5.5/1 unknown frame in the middle of a stream is ignored", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &request("/"), false);
        h.send(0x20, 0, 1, b"junk");
        h.send(DATA, END_STREAM, 1, b"");
        ok_response(&mut h, 1)
    }),
    ("6.1/1 DATA on stream 0 -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(DATA, 0, 0, b"x");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.1/2 DATA padding longer than the payload -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.headers(1, &request("/echo"), false);
            h.send(DATA, PADDED, 1, &[10, b'x', b'y']);
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.2/1 HEADERS on stream 0 -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.get(0, "/");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.2/2 HEADERS followed by a frame other than CONTINUATION -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            let block = hpack(&request("/"));
            h.send(HEADERS, END_STREAM, 1, &block);
            h.send(PING, 0, 0, b"12345678");
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.4/1 RST_STREAM on stream 0 -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(RST_STREAM, 0, 0, &CANCEL.to_be_bytes());
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("6.4/3 RST_STREAM from the client ends only that stream", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &request("/echo"), false);
        h.send(RST_STREAM, 0, 1, &CANCEL.to_be_bytes());
        h.get(3, "/");
        ok_response(&mut h, 3)
    }),
    ("6.5/2 SETTINGS on a stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(SETTINGS, 0, 1, &settings(&[(3, 10)]));
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("6.5/4 SETTINGS is acknowledged", |a| {
        let mut h = H2::connect(a);
        h.send(SETTINGS, 0, 0, &settings(&[(3, 100)]));
        match h.next_of(SETTINGS, |f| f.flags & ACK != 0) {
            Some(f) if f.payload.is_empty() => Ok(()),
            other => Err(format!("no SETTINGS ACK: {other:?}")),
        }
    }),
    ("6.5.2/1 SETTINGS_ENABLE_PUSH = 2 -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(SETTINGS, 0, 0, &settings(&[(2, 2)]));
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.5.2/3 SETTINGS_MAX_FRAME_SIZE below 16384 -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.send(SETTINGS, 0, 0, &settings(&[(5, 16383)]));
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.5.2/4 unknown SETTINGS identifier is ignored", |a| {
        let mut h = H2::connect(a);
        h.send(SETTINGS, 0, 0, &settings(&[(0xff, 1)]));
        match h.next_of(SETTINGS, |f| f.flags & ACK != 0) {
            Some(_) => h.alive(),
            None => Err("no SETTINGS ACK".into()),
        }
    }),
    ("6.7/1 PING is answered with the same payload", |a| {
        H2::connect(a).alive()
    }),
    ("6.7/2 PING ACK from the client is not answered", |a| {
        let mut h = H2::connect(a);
        h.send(PING, ACK, 0, b"ignoreme");
        h.alive()
    }),
    ("6.7/3 PING on a stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(PING, 0, 1, b"12345678");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("6.8/1 GOAWAY on a stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(GOAWAY, 0, 1, &[0, 0, 0, 0, 0, 0, 0, 0]);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.9/1 WINDOW_UPDATE increment 0 on the connection -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.window_update(0, 0);
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    (
        "6.9/2 WINDOW_UPDATE increment 0 on a stream -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.headers(1, &request("/echo"), false);
            h.window_update(1, 0);
            h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
        },
    ),
    (
        "6.9.1/1 connection window above 2^31-1 -> FLOW_CONTROL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.window_update(0, 0x7fff_ffff);
            h.expect(&Outcome::GoAway(FLOW_CONTROL_ERROR))
        },
    ),
    ("6.9.1/2 stream window above 2^31-1 -> FLOW_CONTROL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &request("/echo"), false);
        h.window_update(1, 0x7fff_ffff);
        h.expect(&Outcome::Rst(1, FLOW_CONTROL_ERROR))
    }),
    (
        "6.9.1/3 DATA beyond the advertised stream window -> FLOW_CONTROL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            // http2_body_preread_size 16k: all in one write, so the server
            // meets the 16385th byte before it could have given window back.
            let mut b = frame(HEADERS, END_HEADERS, 1, &hpack(&request("/echo")));
            b.extend(frame(DATA, 0, 1, &[b'x'; 16384]));
            b.extend(frame(DATA, 0, 1, b"y"));
            h.send_bytes(&b);
            h.expect(&Outcome::Rst(1, FLOW_CONTROL_ERROR))
        },
    ),
    ("6.10/1 CONTINUATION completes a header block", |a| {
        let mut h = H2::connect(a);
        let block = hpack(&request("/"));
        let (x, y) = block.split_at(block.len() / 2);
        h.send(HEADERS, END_STREAM, 1, x);
        h.send(CONTINUATION, END_HEADERS, 1, y);
        ok_response(&mut h, 1)
    }),
    (
        "6.10/2 CONTINUATION without a preceding HEADERS -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.send(CONTINUATION, END_HEADERS, 1, &hpack(&request("/")));
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.10/3 CONTINUATION on another stream -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let block = hpack(&request("/"));
        let (x, y) = block.split_at(block.len() / 2);
        h.send(HEADERS, END_STREAM, 1, x);
        h.send(CONTINUATION, END_HEADERS, 3, y);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("8.1.2/1 uppercase header name -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let mut f = with_fields(&[]);
        f.extend(request("/").into_iter().map(|(n, v)| (n.to_string(), v)));
        f.push(("X-Upper".into(), "1".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.1/1 unknown pseudo-header -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/");
        f.push((":foo", "bar".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    (
        "8.1.2.1/2 response pseudo-header in a request -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            let mut f = request("/");
            f.push((":status", "200".into()));
            h.headers(1, &f, true);
            h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
        },
    ),
    (
        "8.1.2.1/3 pseudo-header after a regular one -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            let f = with_fields(&[
                (":method", "GET"),
                (":scheme", "http"),
                ("x-a", "1"),
                (":path", "/"),
            ]);
            h.headers(1, &f, true);
            h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
        },
    ),
    ("8.1.2.2/1 connection-specific header -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/");
        f.push(("connection", "keep-alive".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.2/2 TE other than trailers -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/");
        f.push(("te", "gzip".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.3/1 missing :method -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &with_fields(&[(":scheme", "http"), (":path", "/")]), true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.3/2 missing :path -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &with_fields(&[(":method", "GET"), (":scheme", "http")]), true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.3/3 empty :path -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.headers(
            1,
            &with_fields(&[(":method", "GET"), (":scheme", "http"), (":path", "")]),
            true,
        );
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    ("8.1.2.3/4 duplicated :path -> PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/");
        f.push((":path", "/".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
    }),
    (
        "8.1.2.6/1 content-length not matching the DATA -> PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            let mut f = request("/echo");
            f[0].1 = "POST".into();
            f.push(("content-length", "10".into()));
            h.headers(1, &f, false);
            h.send(DATA, END_STREAM, 1, b"short");
            h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))
        },
    ),
    ("8.1/1 a stream error leaves the connection usable", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/");
        f.push(("connection", "close".into()));
        h.headers(1, &f, true);
        h.expect(&Outcome::Rst(1, PROTOCOL_ERROR))?;
        h.get(3, "/");
        ok_response(&mut h, 3)
    }),
    ("8.1/2 POST body echoed through the proxy", |a| {
        let mut h = H2::connect(a);
        let mut f = request("/echo");
        f[0].1 = "POST".into();
        h.headers(1, &f, false);
        h.send(DATA, 0, 1, b"hello ");
        h.send(DATA, END_STREAM, 1, b"world");
        let (first, body) = h.response(1)?;
        if first == 0x88 && body == b"hello world" {
            Ok(())
        } else {
            Err(format!("got {first:#x} {:?}", String::from_utf8_lossy(&body)))
        }
    }),
    ("8.1/3 streams are multiplexed on one connection", |a| {
        let mut h = H2::connect(a);
        h.get(1, "/");
        h.get(3, "/");
        // Both answered, whichever comes first.
        let mut done = [false, false];
        for _ in 0..20 {
            match h.event() {
                Event::Frame(f) if f.flags & END_STREAM != 0 && (f.stream == 1 || f.stream == 3) => {
                    done[(f.stream / 2) as usize] = true;
                    if done == [true, true] {
                        return Ok(());
                    }
                }
                Event::Frame(_) => {}
                e => return Err(format!("{e:?}")),
            }
        }
        Err("both streams not answered".into())
    }),
    (
        "6.1/3 empty DATA frames in the middle of a body change nothing",
        |a| {
            let mut h = H2::connect(a);
            let mut f = request("/echo");
            f[0].1 = "POST".into();
            h.headers(1, &f, false);
            h.send(DATA, 0, 1, b"ab");
            h.send(DATA, 0, 1, b"");
            h.send(DATA, 0, 1, b"cd");
            h.send(DATA, END_STREAM, 1, b"");
            let (first, body) = h.response(1)?;
            if first == 0x88 && body == b"abcd" {
                Ok(())
            } else {
                Err(format!("got {first:#x} {:?}", String::from_utf8_lossy(&body)))
            }
        },
    ),
];

/// Cases where the h2 crate tears the connection down (or refuses the frame)
/// but reports PROTOCOL_ERROR rather than the RFC's more specific code: its
/// frame decoder maps every malformed frame to PROTOCOL_ERROR, and DATA on a
/// half-closed stream is a connection error there. Checked as they behave,
/// so that a change shows, and reported apart from the exact passes.
const CODE_DEVIATIONS: &[Case] = &[
    ("4.3/1 invalid header block fragment -> RFC: COMPRESSION_ERROR; rampart: GOAWAY PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        // Indexed field 0 does not exist.
        h.send(HEADERS, END_HEADERS | END_STREAM, 1, &[0x80]);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "5.1/4 DATA after END_STREAM (half-closed remote) -> RFC: STREAM_CLOSED; rampart: GOAWAY PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.headers(1, &request("/echo"), true);
            h.send(DATA, 0, 1, b"x");
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.3/1 PRIORITY of the wrong length -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(PRIORITY, 0, 1, &[0, 0, 0, 0]);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("6.4/2 RST_STREAM of the wrong length -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.headers(1, &request("/echo"), false);
        h.send(RST_STREAM, 0, 1, &[0, 0, 0]);
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    ("6.5/1 SETTINGS ACK with a payload -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(SETTINGS, ACK, 0, &settings(&[(3, 10)]));
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.5/3 SETTINGS length not a multiple of 6 -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.send(SETTINGS, 0, 0, &[0, 3, 0, 0]);
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    (
        "6.5.2/2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 -> RFC: FLOW_CONTROL_ERROR; rampart: GOAWAY PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.send(SETTINGS, 0, 0, &settings(&[(4, 0x8000_0000)]));
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
    ("6.7/4 PING of the wrong length -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR", |a| {
        let mut h = H2::connect(a);
        h.send(PING, 0, 0, b"1234567");
        h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
    }),
    (
        "6.9/3 WINDOW_UPDATE of the wrong length -> RFC: FRAME_SIZE_ERROR; rampart: GOAWAY PROTOCOL_ERROR",
        |a| {
            let mut h = H2::connect(a);
            h.send(WINDOW_UPDATE, 0, 0, &[0, 0, 1]);
            h.expect(&Outcome::GoAway(PROTOCOL_ERROR))
        },
    ),
];

#[test]
fn h2spec_style_conformance() {
    let (r, _be) = start();
    let mut failed = Vec::new();
    for (name, case) in CASES.iter().chain(CODE_DEVIATIONS) {
        if let Err(e) = case(r.addr()) {
            failed.push(format!("{name}: {e}"));
        }
    }
    let total = CASES.len() + CODE_DEVIATIONS.len();
    println!(
        "h2 conformance: {}/{total} cases as checked; {} exactly as RFC 9113 says, {} with PROTOCOL_ERROR for the RFC's code",
        total - failed.len(),
        CASES.len(),
        CODE_DEVIATIONS.len()
    );
    for f in &failed {
        println!("FAILED {f}");
    }
    assert!(
        failed.is_empty(),
        "{} of {total} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
