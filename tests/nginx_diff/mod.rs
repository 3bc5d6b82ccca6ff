//! Runs Debian's nginx 1.22.1 and rampart on the SAME nginx.conf and compares
//! their raw answers (tests/rewrite.rs, tests/variables.rs). The config's
//! `@PORT@`, `@PORT2@` and `@DIR@` are filled per server; answers are compared
//! with `Date:` and the ports normalised.

#![allow(dead_code)]

use crate::common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One server (nginx or rampart) on its own ports and temp dir.
pub struct Side {
    pub server: Server,
    pub port: u16,
    pub port2: u16,
    pub name: &'static str,
}

impl Side {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn addr2(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port2))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.server.dir().join(rel)
    }

    /// Sends `req` on a fresh connection and returns everything up to the
    /// close, `Date:` and this side's ports replaced by `DATE`, `PORT`, `PORT2`.
    pub fn ask(&self, req: &str) -> String {
        self.ask_at(self.addr(), req)
    }

    pub fn ask_at(&self, addr: SocketAddr, req: &str) -> String {
        let mut s = connect(addr);
        s.write_all(req.as_bytes()).expect("send");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        self.normalise(&without_date(&out))
    }

    pub fn normalise(&self, s: &str) -> String {
        s.replace(&self.port2.to_string(), "PORT2")
            .replace(&self.port.to_string(), "PORT")
            .replace(&self.server.dir().display().to_string(), "DIR")
    }
}

/// Starts nginx or rampart on `conf` (the whole nginx.conf after the preamble).
fn start(nginx: bool, name: &'static str, conf: &str) -> Side {
    let dir = TempDir::new(name);
    // rampart inherits its listeners from the harness (no port race).
    let pick = if nginx { free_port } else { rampart_port };
    let port = pick();
    let mut port2 = pick();
    while port2 == port {
        port2 = pick();
    }
    let d = dir.path().display().to_string();
    let text = format!("{}{}", Nginx::preamble(dir.path()), conf)
        .replace("@TEMP@", &Nginx::temp_paths(dir.path()))
        .replace("@PORT2@", &port2.to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@DIR@", &d);
    let how = Launch {
        error_log: true,
        ..Launch::default()
    };
    let server = Server::start(nginx, dir, port, &text, &how);
    // nginx writes its pid before the worker accepts; one probe settles it.
    wait_for("a listener", Duration::from_secs(5), || {
        std::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).ok()
    });
    Side {
        server,
        port,
        port2,
        name,
    }
}

pub fn start_rampart(conf: &str) -> Side {
    start(false, "rampart", conf)
}

/// None (SKIPPED, or a failure under CI=true) when the reference nginx is not
/// installed: the caller then compares with recorded nginx answers only.
pub fn start_nginx(conf: &str) -> Option<Side> {
    if !require_nginx() {
        return None;
    }
    Some(start(true, "nginx", conf))
}

/// `GET target` with `Host: host` and `Connection: close`.
pub fn get_req(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}
