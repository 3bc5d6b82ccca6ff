//! Criterion benches of the functions every request runs: head parsing, URI
//! normalisation, location matching, access-log rendering.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rampart::http1::{find_head_end, parse_request_head, HeadLimits};
use rampart::routing::location::{LocationSpec, LocationTree, Modifier};
use rampart::routing::uri;

const HEAD: &[u8] = b"GET /static/img/logo.png?v=3 HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\nAccept: image/avif,image/webp,*/*\r\nAccept-Encoding: gzip, deflate, br\r\nCookie: a=1; b=2\r\nConnection: keep-alive\r\n\r\n";

fn spec(m: Modifier, p: &str, id: u32) -> LocationSpec<u32> {
    LocationSpec {
        modifier: m,
        pattern: p.into(),
        data: id,
        auto_redirect: false,
        nested: Vec::new(),
    }
}

fn benches(c: &mut Criterion) {
    let limits = HeadLimits::default();
    c.bench_function("find_head_end", |b| b.iter(|| find_head_end(black_box(HEAD), 0)));
    c.bench_function("parse_request_head", |b| {
        let buf = Bytes::from_static(HEAD);
        b.iter(|| parse_request_head(black_box(buf.clone()), &limits).is_ok())
    });
    c.bench_function("uri_normalize", |b| {
        b.iter(|| uri::normalize(black_box(b"/static/./img//logo.png?v=3"), true).is_ok())
    });
    let tree = LocationTree::build(vec![
        spec(Modifier::Exact, "/", 1),
        spec(Modifier::Prefix, "/", 2),
        spec(Modifier::Prefix, "/api/", 3),
        spec(Modifier::NoRegex, "/static/", 4),
        spec(Modifier::Prefix, "/NginxStatus", 5),
        spec(
            Modifier::Regex { caseless: false },
            r".*\.(gif|jpg|jpeg|png|bmp|swf|html|mp3|wma|wmv)$",
            6,
        ),
        spec(Modifier::Regex { caseless: false }, r".*\.(js|css)?$", 7),
    ])
    .expect("tree");
    c.bench_function("location_prefix", |b| {
        b.iter(|| {
            matches!(
                tree.find(black_box(b"/api/v1/users")),
                rampart::routing::Found::Location { .. }
            )
        })
    });
    c.bench_function("location_regex", |b| {
        b.iter(|| {
            matches!(
                tree.find(black_box(b"/img/a/logo.png")),
                rampart::routing::Found::Location { .. }
            )
        })
    });
}

criterion_group!(hot, benches);
criterion_main!(hot);
