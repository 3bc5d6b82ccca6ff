#!/usr/bin/env python3
"""Writes seed inputs into fuzz/corpus/TARGET/seed-* (issue 18).

The layouts (control bytes first) are the ones rampart::fuzzing documents per
target. Run from the repository root: python3 fuzz/make_seeds.py
"""
import base64
import glob
import os
import subprocess

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# http1_request: limits byte, split (2 bytes), body split, stream.
requests = {
    "get": b"GET /index.html?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "post-chunked": b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    "post-length": b"POST /f HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
    "absolute": b"GET http://Example.COM:8080?x=1 HTTP/1.1\r\nHost: other\r\nExpect: 100-continue\r\n\r\n",
    "http09": b"GET /old\r\n",
    "lf-only": b"\r\nHEAD /a/../b/./c HTTP/1.1\nHost: [::1]:80\nX_Under: 1\nConnection: Upgrade, close\nUpgrade: websocket\n\n",
    "pipelined": b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "bad": b"get / HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 1\r\nTransfer-Encoding: gzip\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
}
for i, (name, req) in enumerate(requests.items()):
    split = (len(req) // 2).to_bytes(2, "big")
    write("http1_request", name, bytes([i * 5 % 256]) + split + bytes([3]) + req)

# http1_response: proxy_buffer_size (2 bytes), split (2 bytes), body split, stream.
responses = {
    "ok-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n",
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n",
    "upgrade": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "http09": b"hello world\n",
    "iis": b"HTTP/1.1   404   Not  Here  \r\nHTTP/1.1 200 OK\r\nX_B: 1\r\nnocolon\r\nConnection: close\r\n\r\n",
    "status-403.1": b"HTTP/1.1 403.1 Forbidden\nContent-Length: x\n\n",
}
for i, (name, resp) in enumerate(responses.items()):
    size = (4096 if i % 2 == 0 else 64).to_bytes(2, "big")
    split = (len(resp) // 3).to_bytes(2, "big")
    write("http1_response", name, size + split + bytes([2]) + resp)

# nginx_conf: real configs.
confs = sorted(glob.glob(os.path.join(ROOT, "..", "..", "shared", "reference", "*.conf")))
confs += sorted(glob.glob(os.path.join(ROOT, "..", "tests", "nginx_conf", "*", "*.conf")))
for p in confs:
    with open(p, "rb") as f:
        data = f.read()
    write("nginx_conf", os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p), data)
with open(os.path.join(ROOT, "..", "conf", "rampart.toml"), "rb") as f:
    write("nginx_conf", "rampart.toml", f.read())

# uri: flags byte (bit 0 merge_slashes), raw target.
uris = [b"/a//b/./c/../d?x=1#frag", b"/%2e%2E/x", b"/foo%2Fbar%3Fq%25", b"?only=args", b"/dir/.", b"//..",
        b"/\xc3\xa9t\xc3\xa9.html", b"/a/b/..%2f..%2fc", b"/%zz", b"/x.tar.gz"]
for i, u in enumerate(uris):
    write("uri", "u%d" % i, bytes([i % 2]) + u)

# proxy_protocol: split (2 bytes), stream.
sig = b"\r\n\r\n\x00\r\nQUIT\n"
v2_tcp4 = sig + b"\x21\x11\x00\x0c" + bytes([192, 0, 2, 1, 198, 51, 100, 2]) + b"\x30\x39\x00\x50"
v2_tcp6 = sig + b"\x21\x21\x00\x24" + bytes(range(32)) + b"\x30\x39\x01\xbb"
tlv = b"\x04\x00\x02ab"
v2_tlv = sig + b"\x21\x11" + (12 + len(tlv) + 7).to_bytes(2, "big") + bytes(8) + b"\x00\x01\x00\x02" + tlv + b"\x03\x00\x04\x00\x00\x00\x00"
pp = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 12345 80\r\nGET / HTTP/1.1\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::1 65535 0\r\n",
    "v1-unknown": b"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
    "v2-tcp4": v2_tcp4,
    "v2-tcp6": v2_tcp6,
    "v2-local": sig + b"\x20\x00\x00\x00",
    "v2-tlv-crc": v2_tlv,
    "v2-unix": sig + b"\x21\x31\x00\xd8" + bytes(216),
}
for name, s in pp.items():
    write("proxy_protocol", name, (len(s) // 2).to_bytes(2, "big") + s)


# htpasswd: Authorization value (or user:password), newline, htpasswd file.
def tool(*args):
    try:
        return subprocess.run(args, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


hashes = [b"{PLAIN}secret", b"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
          b"{SSHA}" + base64.b64encode(b"\x00" * 20 + b"salt")]
for args in (["openssl", "passwd", "-apr1", "-salt", "abcdefgh", "secret"],
             ["openssl", "passwd", "-1", "-salt", "xyz", "secret"],
             ["openssl", "passwd", "-5", "-salt", "saltsalt", "secret"],
             ["openssl", "passwd", "-6", "-salt", "saltsalt", "secret"]):
    h = tool(*args)
    if h:
        hashes.append(h)
for i, h in enumerate(hashes):
    auth = b"Basic " + base64.b64encode(b"alice:secret") if i % 2 == 0 else b"alice:secret"
    file = b"# users\nbob:{PLAIN}x\r\nalice:" + h + b":comment\n"
    write("htpasswd", "h%d" % i, auth + b"\n" + file)

# regex: flags (bit 0 caseless, bit 1 `~` prefix), pattern, NUL, subject.
regexes = [
    (0, rb"^/images/.*\.(gif|jpe?g|png)$", b"/images/a/b.JPG\n"),
    (1, rb"\.(?:css|js)$", b"/static/app.JS"),
    (0, rb"^/u/(?<user>[^/]+)/(\d+)?", b"/u/alice/42"),
    (2, rb"~^http://([^/]+)(/.*)$", b"http://backend:8080/path"),
    (2, rb"~*\.example\.com$", b"www.EXAMPLE.com"),
    (0, rb"^(?P<host>.+)\.internal$", b"db.internal"),
    (0, rb"(?i)^[a-z\d_-]{1,8}\b\w*\s+\Z", b"abc_de \n"),
    (0, rb"^/(\d+)/(?:x|y){2,3}[^\]a-c]", b"/123/xyxz"),
]
for i, (flags, p, s) in enumerate(regexes):
    write("regex", "r%d" % i, bytes([flags]) + p + b"\x00" + s)
