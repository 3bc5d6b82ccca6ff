//! Binding listening sockets with nginx's options (backlog 511, IPV6_V6ONLY
//! on `[::]`, SO_REUSEADDR, optional SO_REUSEPORT, rcvbuf/sndbuf).
//!
//! Without `reuseport` every worker thread accepts from one shared socket (as
//! nginx's workers do with accept_mutex off): a second process cannot bind the
//! same port by accident. With `reuseport`, each worker gets its own socket
//! and the kernel spreads connections over them.

use crate::runtime::ListenOpts;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::TcpListener;

/// Binds the sockets for one listen address: one per worker with
/// `reuseport`, otherwise one shared by all (cloned per worker).
pub fn bind(opts: &ListenOpts, workers: usize) -> io::Result<Vec<TcpListener>> {
    if opts.reuseport {
        (0..workers).map(|_| bind_one(opts)).collect()
    } else {
        let l = bind_one(opts)?;
        let mut v = Vec::with_capacity(workers);
        for _ in 1..workers {
            v.push(l.try_clone()?);
        }
        v.push(l);
        Ok(v)
    }
}

fn bind_one(opts: &ListenOpts) -> io::Result<TcpListener> {
    let domain = if opts.addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if opts.reuseport {
        s.set_reuse_port(true)?;
    }
    if opts.addr.is_ipv6() {
        s.set_only_v6(opts.ipv6only)?;
    }
    if let Some(n) = opts.rcvbuf {
        s.set_recv_buffer_size(n)?;
    }
    if let Some(n) = opts.sndbuf {
        s.set_send_buffer_size(n)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&opts.addr.into())?;
    s.listen(opts.backlog)?;
    Ok(s.into())
}
