//! Binding listening sockets with nginx's options (backlog 511, IPV6_V6ONLY
//! on `[::]`, SO_REUSEADDR, optional SO_REUSEPORT, rcvbuf/sndbuf).
//!
//! Without `reuseport` every worker thread accepts from one shared socket (as
//! nginx's workers do with accept_mutex off): a second process cannot bind the
//! same port by accident. With `reuseport`, each worker gets its own socket
//! and the kernel spreads connections over them.
//!
//! Inherited listeners, as nginx's (src/core/nginx.c,
//! `ngx_add_inherited_sockets`): the `NGINX` environment variable lists
//! listening-socket fds, `fd;fd;...` (`:` separates too), handed over by
//! whoever started rampart (a supervisor, socket activation, a test harness).
//! A listen address whose socket was inherited uses that socket instead of
//! binding; inherited sockets no listen address claims are closed once every
//! listener of the first config is in place ([`close_unclaimed`]). The
//! inherited sockets are process state by nature, like the signal plumbing.

use crate::log::error_log::Level;
use crate::runtime::ListenOpts;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd as _, RawFd};
use std::sync::{Mutex, OnceLock};

/// The environment variable nginx reads its inherited sockets from.
pub const INHERIT_VAR: &str = "NGINX";

/// Binds the sockets for one listen address: one per worker with
/// `reuseport`, otherwise one shared by all (cloned per worker). An
/// inherited socket for the address is used instead of the first bind (with
/// `reuseport` the other workers bind their own next to it, which needs the
/// inherited socket to have SO_REUSEPORT too).
pub fn bind(opts: &ListenOpts, workers: usize) -> io::Result<Vec<TcpListener>> {
    let first = match take_inherited(opts.addr) {
        Some(s) => Some(adopt(s, opts)?),
        None => None,
    };
    if opts.reuseport {
        let mut v = Vec::with_capacity(workers);
        if let Some(l) = first {
            v.push(l);
        }
        while v.len() < workers {
            v.push(bind_one(opts)?);
        }
        Ok(v)
    } else {
        let l = match first {
            Some(l) => l,
            None => bind_one(opts)?,
        };
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

/// An inherited socket, configured as `bind_one` would have: non-blocking,
/// the buffer sizes, and `listen()` again for the configured backlog (as
/// nginx's `ngx_configure_listening_sockets` does).
fn adopt(s: Socket, opts: &ListenOpts) -> io::Result<TcpListener> {
    if let Some(n) = opts.rcvbuf {
        s.set_recv_buffer_size(n)?;
    }
    if let Some(n) = opts.sndbuf {
        s.set_send_buffer_size(n)?;
    }
    s.set_nonblocking(true)?;
    s.listen(opts.backlog)?;
    Ok(s.into())
}

/// The inherited sockets not yet claimed, by local address.
fn inherited() -> &'static Mutex<Vec<(SocketAddr, Socket)>> {
    static INHERITED: OnceLock<Mutex<Vec<(SocketAddr, Socket)>>> = OnceLock::new();
    INHERITED.get_or_init(|| {
        let list = match std::env::var(INHERIT_VAR) {
            Ok(v) => adopt_env(&v),
            Err(_) => Vec::new(),
        };
        Mutex::new(list)
    })
}

fn take_inherited(addr: SocketAddr) -> Option<Socket> {
    let mut list = inherited().lock().unwrap_or_else(|e| e.into_inner());
    let i = list.iter().position(|(a, _)| *a == addr)?;
    Some(list.swap_remove(i).1)
}

/// Closes the inherited sockets no listen address claimed (nginx closes the
/// listening sockets the new cycle does not use). Call once every listener
/// of the first config is bound.
pub fn close_unclaimed() {
    let mut list = inherited().lock().unwrap_or_else(|e| e.into_inner());
    for (addr, _) in list.drain(..) {
        crate::log::error_log::log(
            Level::Notice,
            None,
            format_args!("closing the inherited socket for {addr}: no listen directive uses it"),
        );
    }
}

/// The fd numbers of an `NGINX` value, as nginx parses it: each number ends
/// with `;` or `:`; a bad number ends the list; trailing characters without
/// a separator are ignored. Returns the fds and the error messages.
fn parse_fds(v: &str) -> (Vec<RawFd>, Vec<String>) {
    let (mut fds, mut errs) = (Vec::new(), Vec::new());
    let mut rest = v;
    while let Some(end) = rest.find([';', ':']) {
        let num = &rest[..end];
        match num.parse::<RawFd>() {
            Ok(fd) if fd >= 0 && !num.starts_with('+') => fds.push(fd),
            _ => {
                errs.push(format!(
                    "invalid socket number \"{rest}\" in {INHERIT_VAR} environment variable, \
                     ignoring the rest of the variable"
                ));
                return (fds, errs);
            }
        }
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        errs.push(format!(
            "invalid socket number \"{rest}\" in {INHERIT_VAR} environment variable, ignoring"
        ));
    }
    (fds, errs)
}

/// Takes ownership of the listening sockets named by an `NGINX` value. An fd
/// that is not an open TCP socket with an IPv4/IPv6 address is skipped with
/// a message (nginx: "getsockname() of the inherited socket #N failed").
fn adopt_env(v: &str) -> Vec<(SocketAddr, Socket)> {
    use crate::log::error_log::log;
    log(
        Level::Notice,
        None,
        format_args!("using inherited sockets from \"{v}\""),
    );
    let (fds, errs) = parse_fds(v);
    for e in errs {
        log(Level::Emerg, None, format_args!("{e}"));
    }
    let mut out: Vec<(SocketAddr, Socket)> = Vec::new();
    for fd in fds {
        if out.iter().any(|(_, s)| std::os::fd::AsRawFd::as_raw_fd(s) == fd) {
            continue;
        }
        match inherited_addr(fd) {
            Ok(addr) => {
                // SAFETY: `fd` is an open socket (getsockname succeeded on it)
                // that this process now owns: it was handed over for this use,
                // and nothing else in rampart refers to it.
                let s = unsafe { Socket::from_raw_fd(fd) };
                // Not passed on to anything rampart might start.
                let _ = s.set_cloexec(true);
                out.push((addr, s));
            }
            Err(e) => log(
                Level::Crit,
                None,
                format_args!(
                    "getsockname() of the inherited socket #{fd} failed ({})",
                    crate::log::OsErr(&e)
                ),
            ),
        }
    }
    out
}

/// The local address of `fd` if it is a TCP stream socket.
fn inherited_addr(fd: RawFd) -> io::Result<SocketAddr> {
    // SAFETY: the storage is large enough for any address; getsockname and
    // getsockopt write at most `len` bytes into the buffers we pass.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getsockname(fd, (&mut ss as *mut libc::sockaddr_storage).cast(), &mut len) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ty: libc::c_int = 0;
        let mut tlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        if libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut tlen,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let addr = socket2::SockAddr::new(ss, len).as_socket();
        match addr {
            Some(a) if ty == libc::SOCK_STREAM => Ok(a),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a TCP socket of the IPv4 or IPv6 family",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_var_parsing() {
        let cases: &[(&str, &[RawFd], usize)] = &[
            ("", &[], 0),
            ("3;", &[3], 0),
            ("3;4;", &[3, 4], 0),
            ("3:4;5:", &[3, 4, 5], 0),
            // nginx: a bad number ends the list; a tail without `;` is ignored.
            ("3;x;4;", &[3], 1),
            ("3;-1;", &[3], 1),
            ("3;;", &[3], 1),
            ("3;4", &[3], 1),
        ];
        for (v, fds, errs) in cases {
            let (got, e) = parse_fds(v);
            assert_eq!((&got[..], e.len()), (*fds, *errs), "{v:?}: {e:?}");
        }
    }

    #[test]
    fn inherited_addr_of_a_listener_and_of_other_fds() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        assert_eq!(inherited_addr(fd).unwrap(), l.local_addr().unwrap());
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(inherited_addr(std::os::fd::AsRawFd::as_raw_fd(&u)).is_err());
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(inherited_addr(std::os::fd::AsRawFd::as_raw_fd(&f)).is_err());
    }
}
