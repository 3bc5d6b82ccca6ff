//! Process plumbing nginx's init scripts rely on: `daemon on` (detach, and
//! let the launching command exit only once the server is ready or has
//! failed) and `user` (drop root after binding the ports).
//!
//! Detaching forks, so it must happen before any thread exists: the caller
//! reads the config model (which starts no thread) to learn `daemon`, then
//! calls [`detach`] before building runtimes or opening logs.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// The child's end of the readiness pipe: [`Ready::ok`] once the pid file
/// exists, [`Ready::fail`] with the error otherwise. The parent exits with 0
/// or 1 accordingly, so `rampart` behaves like `nginx` for an init script.
pub struct Ready(Option<std::fs::File>);

impl Ready {
    /// Not daemonized: nothing to report to.
    pub fn none() -> Ready {
        Ready(None)
    }

    pub fn ok(&mut self) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(b"OK\n");
            redirect_stdio();
        }
    }

    /// The parent prints `msg`; the child's own stderr goes quiet so the
    /// operator sees the error once.
    pub fn fail(&mut self, msg: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(format!("ERR {msg}\n").as_bytes());
            redirect_stdio();
        }
    }
}

fn redirect_stdio() {
    // SAFETY: plain libc calls on fds we own; failures leave the fds as they were.
    unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Forks into the background. Returns in the child (with its end of the
/// readiness pipe); the parent waits for the child's verdict and exits.
pub fn detach() -> Result<Ready, String> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe writes two fds into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe() failed ({})", std::io::Error::last_os_error()));
    }
    // SAFETY: no other thread exists yet (see the module doc), so fork is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork() failed ({})", std::io::Error::last_os_error()));
    }
    // SAFETY: each fd is owned exactly once from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    if pid > 0 {
        drop(w);
        let mut verdict = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut verdict);
        if verdict.starts_with("OK") {
            std::process::exit(0);
        }
        match verdict.strip_prefix("ERR ") {
            Some(msg) => eprintln!("rampart: [emerg] {}", msg.trim_end()),
            None => eprintln!("rampart: [emerg] the daemon exited during start-up"),
        }
        std::process::exit(1);
    }
    drop(r);
    // SAFETY: setsid has no preconditions; it detaches from the terminal.
    unsafe {
        libc::setsid();
    }
    Ok(Ready(Some(std::fs::File::from(w))))
}

/// `user NAME [GROUP]`: when running as root, switch to that user (and its
/// group, or GROUP) once the ports are bound and the logs are open. As
/// nginx, a non-root process ignores it.
pub fn drop_privileges(spec: &str) -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let mut words = spec.split_whitespace();
    let user = words.next().ok_or("invalid \"user\"")?;
    let cuser = CString::new(user).map_err(|_| format!("invalid user \"{user}\""))?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy what we need at once.
    let pw = unsafe { libc::getpwnam(cuser.as_ptr()) };
    if pw.is_null() {
        return Err(format!("getpwnam(\"{user}\") failed"));
    }
    // SAFETY: pw is non-null and points at a valid passwd entry.
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if let Some(group) = words.next() {
        let cgroup = CString::new(group).map_err(|_| format!("invalid group \"{group}\""))?;
        // SAFETY: as getpwnam.
        let gr = unsafe { libc::getgrnam(cgroup.as_ptr()) };
        if gr.is_null() {
            return Err(format!("getgrnam(\"{group}\") failed"));
        }
        // SAFETY: gr is non-null.
        gid = unsafe { (*gr).gr_gid };
    }
    // SAFETY: plain credential syscalls; order matters (groups and gid before uid).
    unsafe {
        if libc::initgroups(cuser.as_ptr(), gid) != 0 {
            return Err(format!(
                "initgroups({user}, {gid}) failed ({})",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "setgid({gid}) failed ({})",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "setuid({uid}) failed ({})",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
