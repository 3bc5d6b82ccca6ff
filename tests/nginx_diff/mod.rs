//! Runs Debian's nginx 1.22.1 and rampart on the SAME nginx.conf and compares
//! their raw answers (tests/rewrite.rs, tests/variables.rs). The config's
//! `@PORT@`, `@PORT2@` and `@DIR@` are filled per server; answers are compared
//! with `Date:` and the ports normalised.

#![allow(dead_code)]

use crate::common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One server (nginx or rampart) on its own ports and temp dir.
pub struct Side {
    pub child: Child,
    pub dir: TempDir,
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
        self.dir.path().join(rel)
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
            .replace(&self.dir.path().display().to_string(), "DIR")
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `prog` on `conf` (the whole nginx.conf after the preamble).
fn start(prog: &str, name: &'static str, conf: &str) -> Side {
    let dir = TempDir::new(name);
    std::fs::create_dir_all(dir.path().join("logs")).expect("logs dir");
    let port = free_port();
    let mut port2 = free_port();
    while port2 == port {
        port2 = free_port();
    }
    let d = dir.path().display().to_string();
    let text = format!("{}{}{}", Nginx::preamble(dir.path()), "", conf)
        .replace("@TEMP@", &Nginx::temp_paths(dir.path()))
        .replace("@PORT2@", &port2.to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@DIR@", &d);
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, text).expect("write nginx.conf");
    let mut child = Command::new(prog)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("logs/error.log"))
        .arg("-c")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let pid = dir.path().join("nginx.pid");
    wait_for(name, Duration::from_secs(10), || {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(e) = child.stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            let log = std::fs::read_to_string(dir.path().join("logs/error.log")).unwrap_or_default();
            panic!("{name} exited early ({status}): {err}{log}");
        }
        pid.exists().then_some(())
    });
    // nginx writes its pid before the worker accepts; one probe settles it.
    wait_for("a listener", Duration::from_secs(5), || {
        std::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).ok()
    });
    Side {
        child,
        dir,
        port,
        port2,
        name,
    }
}

pub fn start_rampart(conf: &str) -> Side {
    start(RAMPART, "rampart", conf)
}

/// None (SKIPPED, or a failure under CI=true) when the reference nginx is not
/// installed: the caller then compares with recorded nginx answers only.
pub fn start_nginx(conf: &str) -> Option<Side> {
    if !require_nginx() {
        return None;
    }
    Some(start(NGINX, "nginx", conf))
}

/// `GET target` with `Host: host` and `Connection: close`.
pub fn get_req(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}
