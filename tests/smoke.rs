//! The shipped shape end to end: a return location and a proxied location.

mod common;
use common::*;

#[test]
fn serves_return_and_proxies_to_a_real_upstream() {
    let be = Backend::start("b1");
    let cfg = config(
        &format!("[http.upstream.app]\nserver = [\"{}\"]", be.addr),
        "[[http.server.location]]\nmatch = \"= /\"\nreturn = [200, \"hi\\n\"]\n\n\
         [[http.server.location]]\nmatch = \"/app/\"\nproxy_pass = \"http://app/\"\n",
    );
    let r = Rampart::start(&cfg);
    let resp = get(r.addr(), "/");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hi\n"));
    let resp = get(r.addr(), "/app/id");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "b1");
    assert_eq!(resp.header("x-backend"), Some("b1"));
    let resp = get(r.addr(), "/app");
    assert_eq!(resp.status, 301, "nginx's trailing-slash redirect");
    assert_eq!(
        resp.header("location"),
        Some(format!("http://localhost:{}/app/", r.port).as_str())
    );
}
