//! `access_log PATH FORMAT gzip[=LEVEL]`: the file is a series of gzip
//! members that decompress to exactly the lines written (as nginx's, which
//! `zcat` reads).

mod common;
use common::*;
use std::io::Read;
use std::time::Duration;

#[test]
fn gzip_access_log_decompresses_to_every_line() {
    let cfg = config(
        "[http.log_format]\nshort = '$request_method $uri $status'",
        "[[http.server.location]]\nmatch = \"/\"\naccess_log = \"logs/gz.log short buffer=16k gzip=5\"\nreturn = [200, \"ok\"]\n",
    );
    let r = Rampart::start(&cfg);
    for i in 0..50 {
        assert_eq!(get(r.addr(), &format!("/n{i}")).status, 200);
    }
    // Two worker threads buffer their own lines, so compare the set of lines.
    let mut want: Vec<String> = (0..50).map(|i| format!("GET /n{i} 200")).collect();
    want.sort();
    let got = wait_for("the gzip access log", Duration::from_secs(5), || {
        let raw = std::fs::read(r.log_path("gz.log")).ok()?;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .ok()?;
        (text.lines().count() >= 50).then_some((raw, text))
    });
    assert_eq!(&got.0[..2], &[0x1f, 0x8b], "the file is gzip");
    let mut lines: Vec<String> = got.1.lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, want);
}
