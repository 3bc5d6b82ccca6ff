//! The static handler end to end (TOML front end): path traversal, a file
//! replaced by rename under open_file_cache, and a large file streamed.

mod common;

use common::{config, get, raw_all, Rampart};
use std::time::{Duration, Instant};

/// Starts rampart on a tree `@DIR@/www` with `@DIR@/secret.txt` outside it.
fn start(http_extra: &str) -> Rampart {
    let locs = r#"
root = "www"

[[http.server.location]]
match = "/img"
alias = "www/img/"

[[http.server.location]]
match = "/al/"
alias = "www/sub/"

[[http.server.location]]
match = "~ ^/rx/(.*)$"
alias = "www/$1"
"#;
    let r = Rampart::start(&config(http_extra, locs));
    let www = r.dir.path().join("www");
    std::fs::create_dir_all(www.join("img")).unwrap();
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("a.txt"), b"inside\n").unwrap();
    std::fs::write(www.join("sub/b.txt"), b"sub\n").unwrap();
    std::fs::write(r.dir.path().join("secret.txt"), b"TOPSECRET\n").unwrap();
    r
}

#[test]
fn hostile_uris_never_leave_the_root() {
    let r = start("");
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    assert_eq!(get(r.addr(), "/al/b.txt").text(), "sub\n");
    let hostile = [
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/a/../../secret.txt",
        "/a/%2e%2e/%2e%2e/secret.txt",
        "/./../secret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%5c..%5csecret.txt",
        "/..%00/secret.txt",
        "/secret.txt%00.txt",
        "/%00../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%2e%c0%2e/secret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%c1%9c../secret.txt",
        "/img../secret.txt",
        "/img/../secret.txt",
        "/img/..%2fsecret.txt",
        "/img%2f..%2f..%2fsecret.txt",
        "/img..%2fsecret.txt",
        "/al/../../secret.txt",
        "/al/..%2f..%2fsecret.txt",
        "/al/%2e%2e/%2e%2e/secret.txt",
        "/rx/../secret.txt",
        "/rx/..%2fsecret.txt",
        "/rx/%2e%2e/secret.txt",
        "/rx/%2e%2e%2fsecret.txt",
        "//../secret.txt",
        "/.../secret.txt",
        "/....//secret.txt",
        "/%252e%252e/secret.txt",
        "/..;/secret.txt",
        "/sub/../../secret.txt",
        "/sub/./../../secret.txt",
        "/%2e%2e%5csecret.txt",
        "http://localhost/../secret.txt",
        "/a.txt/../../secret.txt",
    ];
    assert!(hostile.len() >= 40);
    for u in hostile {
        let out = raw_all(
            r.addr(),
            format!("GET {u} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("TOPSECRET"), "{u} leaked: {text}");
        assert!(
            text.starts_with("HTTP/1.1 400")
                || text.starts_with("HTTP/1.1 404")
                || text.starts_with("HTTP/1.1 403"),
            "{u}: {}",
            text.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn rename_under_open_file_cache_is_never_mixed() {
    let r = start("open_file_cache = \"max=100 inactive=60s\"\nopen_file_cache_valid = \"1s\"\n");
    let www = r.dir.path().join("www");
    let size = 600 * 1024;
    std::fs::write(www.join("big.bin"), vec![b'A'; size]).unwrap();
    let first = get(r.addr(), "/big.bin");
    assert_eq!(first.body, vec![b'A'; size]);
    // Replace it by rename with a different size and content.
    let tmp = www.join("big.tmp");
    std::fs::write(&tmp, vec![b'B'; size + 1000]).unwrap();
    std::fs::rename(&tmp, www.join("big.bin")).unwrap();
    let changed = Instant::now();
    let mut saw_new = None;
    while changed.elapsed() < Duration::from_secs(5) {
        let resp = get(r.addr(), "/big.bin");
        let len: usize = resp.header("content-length").unwrap().parse().unwrap();
        assert_eq!(resp.body.len(), len);
        let all_a = resp.body.iter().all(|&b| b == b'A') && len == size;
        let all_b = resp.body.iter().all(|&b| b == b'B') && len == size + 1000;
        assert!(all_a || all_b, "a mixed body of {len} bytes");
        if all_b {
            saw_new = Some(changed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = saw_new.expect("the new file was never served");
    assert!(t <= Duration::from_millis(1500), "new content after {t:?}");
}

#[test]
fn large_file_streams_whole() {
    let r = start("");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(r.dir.path().join("www/large.bin"), &data).unwrap();
    let resp = get(r.addr(), "/large.bin");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), data.len());
    assert!(resp.body == data);
}

#[test]
fn stalled_readers_of_a_big_file_neither_block_others_nor_buffer_it() {
    let r = start("");
    let data = vec![b'z'; 8 << 20];
    std::fs::write(r.dir.path().join("www/huge.bin"), &data).unwrap();
    let before = common::rss_kib(r.pid());
    // 16 clients ask for 8 MiB each and never read: their responses stall on
    // the socket, each holding at most one chunk.
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut s = common::connect(r.addr());
        std::io::Write::write_all(&mut s, b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let grown = common::rss_kib(r.pid()).saturating_sub(before);
    // 16 × 8 MiB would be 128 MiB if bodies were read whole.
    assert!(grown < 24 * 1024, "RSS grew by {grown} KiB");
    drop(stalled);
}

#[test]
fn gzip_of_a_file_larger_than_one_compression_step() {
    // 700 KB: several read-and-compress steps, HTTP/1.1 (chunked) and 1.0 (until close).
    let r = start("gzip = true\ngzip_http_version = \"1.0\"");
    let page: Vec<u8> = (0..20000u32)
        .flat_map(|i| format!("<p>w{} {}</p>\n", i % 97, i.wrapping_mul(2654435761) % 9973).into_bytes())
        .collect();
    std::fs::write(r.dir.path().join("www/big.html"), &page).unwrap();
    for version in ["1.1", "1.0"] {
        let resp = common::raw(
            r.addr(),
            format!("GET /big.html HTTP/{version}\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding"), Some("gzip"));
        assert_eq!(resp.header("content-length"), None);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&resp.body[..]), &mut back).unwrap();
        assert_eq!(back.len(), page.len(), "HTTP/{version}");
        assert!(back == page, "HTTP/{version}");
        assert!(resp.body.len() < page.len() / 3);
    }
}
