//! Criterion benches of the functions every request runs: head parsing, URI
//! normalisation, location matching, access-log rendering; and the gzip
//! filter's raw compression of the compare.sh gzip scenarios' 100 KiB HTML
//! page at each deflate level, with a fresh and with a reused deflate state.

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

/// The 100 KiB page of benches/compare.sh (same awk program, so the same
/// bytes with the same awk); a Rust stand-in when awk is missing.
fn bench_html() -> Vec<u8> {
    let prog = r#"BEGIN { srand(7); printf "<html><body>"; while (n < 102400) { w = sprintf("<p class=\"c%d\">word%d text %d</p>\n", int(rand()*50), int(rand()*997), int(rand()*100000)); printf "%s", w; n += length(w) } }"#;
    let mut v = std::process::Command::new("awk")
        .arg(prog)
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if v.len() < 102400 {
        v = (0u64..)
            .map(|i| {
                format!(
                    "<p class=\"c{}\">word{} text {}</p>\n",
                    i % 50,
                    i * 7 % 997,
                    i * 2654435761 % 100000
                )
            })
            .take(4000)
            .collect::<String>()
            .into_bytes();
    }
    v.truncate(102400);
    v
}

fn gzip_benches(c: &mut Criterion) {
    use flate2::{Compress, Compression, FlushCompress};
    let page = bench_html();
    let deflate = |z: &mut Compress, out: &mut Vec<u8>| {
        out.clear();
        let _ = z.compress_vec(&page, out, FlushCompress::Finish);
    };
    for level in 1..=4u32 {
        let mut out = Vec::with_capacity(page.len() + 1024);
        let mut z = Compress::new(Compression::new(level), false);
        deflate(&mut z, &mut out);
        eprintln!("zlib-rs level {level}: {} -> {} bytes", page.len(), out.len());
        c.bench_function(&format!("deflate_100k_html_l{level}_reused"), |b| {
            b.iter(|| {
                z.reset();
                deflate(&mut z, &mut out);
                black_box(out.len())
            })
        });
        c.bench_function(&format!("deflate_100k_html_l{level}_fresh"), |b| {
            b.iter(|| {
                let mut z = Compress::new(Compression::new(level), false);
                deflate(&mut z, &mut out);
                black_box(out.len())
            })
        });
    }
    // libdeflate in one piece, as static files up to 128 KiB are compressed.
    for level in [1u32, 2] {
        let mut out = Vec::with_capacity(page.len());
        rampart::filters::gzip_encoder::gzip_whole(level, &page, &mut out);
        eprintln!(
            "libdeflate (comp_level {level}): {} -> {} bytes gzip",
            page.len(),
            out.len()
        );
        c.bench_function(&format!("gzip_whole_100k_html_comp_level{level}"), |b| {
            b.iter(|| {
                out.clear();
                rampart::filters::gzip_encoder::gzip_whole(level, &page, &mut out);
                black_box(out.len())
            })
        });
    }
    // The streaming filter (gzip_comp_level 1 and 2), in 64 KiB feeds.
    for level in [1u32, 2] {
        c.bench_function(&format!("gzip_filter_100k_html_comp_level{level}"), |b| {
            let mut out = Vec::with_capacity(page.len());
            b.iter(|| {
                out.clear();
                let mut g = rampart::filters::gzip::Gzip::new(level);
                for part in page.chunks(64 * 1024) {
                    g.feed_into(part, &mut out);
                }
                g.finish_into(&mut out);
                black_box(out.len())
            })
        });
    }
}

criterion_group!(hot, benches, gzip_benches);
criterion_main!(hot);
