//! `disable_symlinks off | on | if_not_owner [from=PART]`, as nginx's
//! `ngx_open_file_wrapper` (src/core/ngx_open_file_cache.c) implements it:
//! the path is walked one component at a time from "/" (or from the
//! already-open PART), each directory opened `O_NOFOLLOW` (`on`) or opened
//! and compared by owner with the link that led to it (`if_not_owner`), so
//! a symlink swapped in between the check and the open cannot be followed.
//! A refused symlink is ELOOP, which the static handler answers with 403,
//! as nginx does.
//!
//! Only `off` (the default) opens inline on the event loop; a checked walk
//! is several opens and runs on the blocking pool, like any open that may
//! touch NFS. open_file_cache keeps checked and unchecked results apart.

use super::cache::{FileInfo, OpenError};
pub use crate::config::value::symlinks::{Mode, Symlinks};
use crate::vars::VarSource;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What one open must check: the mode, and how many leading bytes of the
/// path (the `from=` part) are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Check {
    pub mode: Mode,
    pub from: usize,
}

impl Check {
    pub const OFF: Check = Check {
        mode: Mode::Off,
        from: 0,
    };
}

impl Symlinks {
    /// The check for opening `path` in this request: `from=` counts only
    /// when it names a leading run of whole components of the path, with or
    /// without its trailing slash, and a `from=` equal to the whole path
    /// turns the check off (ngx_http_set_disable_symlinks).
    pub fn check(&self, src: &dyn VarSource, path: &Path) -> Check {
        if self.mode == Mode::Off {
            return Check::OFF;
        }
        let p = path.as_os_str().as_bytes();
        let mut from = 0;
        if let Some(t) = &self.from {
            let f = t.eval_to_vec(src);
            if !f.is_empty() && p.starts_with(&f) {
                if f.len() == p.len() {
                    return Check::OFF;
                }
                if p.get(f.len()) == Some(&b'/') {
                    from = f.len();
                } else if f.ends_with(b"/") {
                    from = f.len() - 1;
                }
            }
        }
        Check {
            mode: self.mode,
            from,
        }
    }
}

fn cstr(b: &[u8]) -> Result<CString, OpenError> {
    CString::new(b).map_err(|_| OpenError::NotFound)
}

fn errno_error(e: i32) -> OpenError {
    OpenError::from(&std::io::Error::from_raw_os_error(e))
}

/// openat(2); the descriptor or the errno.
fn openat(dir: libc::c_int, name: &CString, flags: libc::c_int) -> Result<OwnedFd, i32> {
    // SAFETY: `name` is NUL-terminated; openat returns a new descriptor or -1.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The owner of `name` in `dir` itself (a symlink's own owner).
fn link_owner(dir: libc::c_int, name: &CString) -> Result<u32, i32> {
    // SAFETY: an all-zero stat is a valid buffer for the kernel to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` writable.
    let r = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(st.st_uid)
}

fn fd_owner(fd: &OwnedFd) -> Result<u32, i32> {
    // SAFETY: as in link_owner, on an open descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(st.st_uid)
}

/// One component under `dir`: `on` refuses a symlink outright
/// (O_NOFOLLOW gives ELOOP); `if_not_owner` follows it, then refuses
/// unless the link and what it reached have the same owner
/// (ngx_openat_file_owner: open first, compare after, so a swap in between
/// is caught).
fn step(dir: libc::c_int, name: &CString, flags: libc::c_int, mode: Mode) -> Result<OwnedFd, i32> {
    match mode {
        Mode::IfNotOwner => {
            let fd = openat(dir, name, flags)?;
            if link_owner(dir, name)? != fd_owner(&fd)? {
                return Err(libc::ELOOP);
            }
            Ok(fd)
        }
        _ => openat(dir, name, flags | libc::O_NOFOLLOW),
    }
}

/// Opens and stats `path` under `check` (blocking: call from the blocking
/// pool). Directories on the way are opened O_RDONLY | O_DIRECTORY, as
/// nginx's NGX_FILE_SEARCH is on Linux.
pub fn open_checked(path: &Path, check: Check) -> Result<FileInfo, OpenError> {
    if check.mode == Mode::Off {
        return super::cache::open_blocking(path);
    }
    let p = path.as_os_str().as_bytes();
    let (start, rest) = match p.split_at_checked(check.from) {
        Some((a, b)) if !a.is_empty() => (a, b),
        _ => (&b"/"[..], p),
    };
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK;
    // The trusted part is opened as any path (symlinks followed).
    let mut at = openat(libc::AT_FDCWD, &cstr(start)?, dir_flags).map_err(errno_error)?;
    let comps: Vec<&[u8]> = rest.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    // A trailing slash makes the last component a directory test.
    let last_flags = if p.ends_with(b"/") {
        dir_flags
    } else {
        libc::O_RDONLY | libc::O_NONBLOCK
    };
    let fd = match comps.split_last() {
        // from= matched the whole name: nothing to check.
        None => at,
        Some((last, dirs)) => {
            for c in dirs {
                at = step(at.as_raw_fd(), &cstr(c)?, dir_flags, check.mode).map_err(errno_error)?;
            }
            step(at.as_raw_fd(), &cstr(last)?, last_flags, check.mode).map_err(errno_error)?
        }
    };
    FileInfo::stat(File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct NoVars;
    impl VarSource for NoVars {
        fn var(&self, _var: &crate::vars::Var, _out: &mut Vec<u8>) -> bool {
            false
        }
    }

    #[test]
    fn parses_nginx_forms() {
        let ok = [
            ("off", Mode::Off, false),
            ("on", Mode::On, false),
            ("if_not_owner", Mode::IfNotOwner, false),
            ("on from=/srv/www", Mode::On, true),
            ("if_not_owner from=$document_root", Mode::IfNotOwner, true),
        ];
        for (s, mode, from) in ok {
            let v = Symlinks::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((v.mode, v.from.is_some()), (mode, from), "{s}");
        }
        for bad in ["", "yes", "off from=/x", "on to=/x", "on from=/a from=/b"] {
            assert!(Symlinks::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn from_counts_only_whole_leading_components() {
        let s = Symlinks::parse("on from=/srv/www").unwrap();
        let slash = Symlinks::parse("on from=/srv/www/").unwrap();
        let on = |from| Check { mode: Mode::On, from };
        let cases = [
            (&s, "/srv/www/a/b.html", on(8)),
            (&s, "/srv/www", Check::OFF),
            (&s, "/srv/wwwx/b.html", on(0)),
            (&s, "/other/www/b.html", on(0)),
            (&slash, "/srv/www/a/b.html", on(8)),
            (&slash, "/srv/www/", Check::OFF),
            (&slash, "/srv/www", on(0)),
        ];
        for (sl, p, want) in cases {
            assert_eq!(sl.check(&NoVars, Path::new(p)), want, "{p}");
        }
        assert_eq!(Symlinks::default().check(&NoVars, Path::new("/x")), Check::OFF);
    }

    #[test]
    fn walks_refuse_links_as_configured() {
        let base = std::env::temp_dir().join(format!("rampart-symlinks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/f.txt"), b"data").unwrap();
        symlink(root.join("real"), root.join("dirlink")).unwrap();
        symlink(root.join("real/f.txt"), root.join("filelink")).unwrap();
        symlink(&root, base.join("rootlink")).unwrap();
        let on = |p: &Path, from: usize| open_checked(p, Check { mode: Mode::On, from });
        let owner = |p: &Path| {
            open_checked(
                p,
                Check {
                    mode: Mode::IfNotOwner,
                    from: 0,
                },
            )
        };
        let real = root.join("real/f.txt");
        assert_eq!(on(&real, 0).unwrap().size, 4);
        // A linked directory on the way is ENOTDIR (O_DIRECTORY | O_NOFOLLOW
        // on a link): 404, exactly as nginx 1.22 answers; the link as the
        // last component is ELOOP: 403.
        assert_eq!(
            on(&root.join("dirlink/f.txt"), 0).unwrap_err(),
            OpenError::NotFound
        );
        assert_eq!(on(&root.join("dirlink"), 0).unwrap_err(), OpenError::Loop);
        assert_eq!(on(&root.join("filelink"), 0).unwrap_err(), OpenError::Loop);
        assert_eq!(
            on(&root.join("real/missing"), 0).unwrap_err(),
            OpenError::NotFound
        );
        assert!(on(&root.join("real"), 0).unwrap().is_dir);
        // A symlink inside the trusted from= part is followed.
        let via = base.join("rootlink/real/f.txt");
        assert_eq!(on(&via, 0).unwrap_err(), OpenError::NotFound);
        let from = base.join("rootlink").as_os_str().len();
        assert_eq!(on(&via, from).unwrap().size, 4);
        // Same owner (the test made both): if_not_owner follows.
        assert_eq!(owner(&root.join("dirlink/f.txt")).unwrap().size, 4);
        assert_eq!(owner(&root.join("filelink")).unwrap().size, 4);
        let _ = std::fs::remove_dir_all(&base);
    }
}
