//! Opening a static file on the event loop when that provably cannot wait
//! on storage, instead of a blocking-pool hop per request.
//!
//! The hop (two thread switches and a wake-up per open) made the static path
//! without `open_file_cache` run at half nginx's rate. nginx simply calls
//! open(2) and fstat(2) on its event loop; rampart must not, because the
//! operator's document root is on NFS, where an open can wait for a server
//! that stalls, and one stalled open would then delay every request of that
//! worker. So an open runs inline only when two things hold:
//!
//! 1. **Every path component is already in the dentry cache.**
//!    `openat2(2)` with `RESOLVE_CACHED` (Linux 5.12+, what io_uring uses for
//!    its non-blocking open attempt) walks the path in RCU mode only and fails
//!    with EAGAIN the moment a lookup or a revalidation would need I/O (an NFS
//!    dentry whose attributes expired, a name never looked up, ...).
//! 2. **The file's file system does nothing remote in its ->open.**
//!    RESOLVE_CACHED covers the walk, not the open itself: NFSv4 sends an OPEN
//!    to the server, FUSE a FUSE_OPEN to its daemon, CIFS a create. So the
//!    parent directory is first opened `O_PATH` (which never calls ->open),
//!    its mount is looked up with `statx(STATX_MNT_ID, AT_STATX_DONT_SYNC)`
//!    (cached attributes only: no round trip even on NFS), and only a mount
//!    whose type is on a whitelist of local file systems (ext4, xfs, btrfs,
//!    tmpfs, overlay, ...) gets the inline open of the last component, with
//!    `RESOLVE_NO_XDEV` so that a symlink or a mount point cannot lead it onto
//!    another mount. The mount's type comes from /proc/self/mountinfo, read
//!    once per mount on the blocking pool by the first request that finds it
//!    unknown (that request takes the pool path, like every one on NFS).
//!
//! When the mount of "/" itself is local (the common case: the document
//! root on the system disk or a container's overlay), the open is first
//! tried in one call, `openat2(AT_FDCWD, path, RESOLVE_CACHED |
//! RESOLVE_NO_XDEV)`: a path that stays on the root mount needs no per-mount
//! check, and one that crosses into another mount fails with EXDEV and takes
//! the per-mount route above. Per request that is openat2 + fstat + close,
//! nginx's open + fstat + close.
//!
//! The attributes of an inline-opened file come from fstat(2) on the open
//! descriptor, as nginx's `ngx_fd_info`: on the local file systems of the
//! whitelist the inode is authoritative, so this never waits and is never
//! stale. (`AT_STATX_DONT_SYNC` is used only for the directory's mount id,
//! where staleness cannot matter; on NFS, where cached size and mtime could
//! be stale and give a Content-Length that does not match the bytes served,
//! the open and the fstat stay on the blocking pool, after the close-to-open
//! revalidation nginx also relies on.)
//!
//! Anything unexpected (EAGAIN, EXDEV, ELOOP, an unknown mount, a relative
//! path, ...) declines, and the caller opens on the blocking pool exactly as
//! before; a kernel or seccomp filter without openat2/RESOLVE_CACHED (ENOSYS,
//! EPERM, EINVAL) turns the inline attempt off for the rest of the process.
//! Only `O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY` opens are made
//! (O_NONBLOCK as nginx's `NGX_FILE_NONBLOCK`: a FIFO does not hang the open).

use super::cache::{FileInfo, OpenError};
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

/// Cleared for good when the kernel (or a seccomp filter) refuses openat2 or
/// RESOLVE_CACHED.
static SUPPORTED: AtomicBool = AtomicBool::new(true);

/// Whether the mount of "/" is local: 0 not known yet, 1 yes, 2 no. When it
/// is, a path that never leaves it (`RESOLVE_NO_XDEV` from "/") is opened in
/// one call, without the directory's O_PATH open and statx.
static ROOT_LOCAL: AtomicU8 = AtomicU8::new(0);

/// The flags of every inline open.
const READ_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;

/// Mount identity: (mount id, st_dev). The pair, rather than the id alone,
/// keeps a recycled mount id of a new mount from inheriting a verdict.
pub type MountKey = (u64, u64);

/// Local-or-not verdicts per mount, filled from the blocking pool.
static VERDICTS: RwLock<Option<HashMap<MountKey, bool>>> = RwLock::new(None);

/// At most this many remembered mounts (a table this big is cleared, and
/// mounts are classified again as they are met).
const MAX_VERDICTS: usize = 4096;

/// What an inline attempt found.
#[derive(Debug)]
pub enum Nowait {
    /// The answer, found without waiting.
    Done(Result<FileInfo, OpenError>),
    /// Open on the blocking pool; with a mount to classify there first.
    Pool(Option<MountKey>),
}

/// `struct open_how` of linux/openat2.h (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_CACHED: u64 = 0x20;

/// openat2(2); the descriptor, or the errno.
fn openat2(
    dir: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    resolve: u64,
) -> Result<OwnedFd, i32> {
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` a valid open_how whose size
    // is passed; the kernel reads both and returns a new descriptor or -1.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    let fd = libc::c_int::try_from(r).map_err(|_| libc::EBADF)?;
    // SAFETY: openat2 returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Errors that are the answer itself, the same the blocking open would give
/// (they come from the same caches); anything else declines.
fn final_error(errno: i32) -> Option<OpenError> {
    match errno {
        libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG => Some(OpenError::NotFound),
        libc::EACCES => Some(OpenError::Forbidden),
        _ => None,
    }
}

/// Notes an errno that means openat2 or RESOLVE_CACHED is unavailable.
fn note_unsupported(errno: i32) {
    if matches!(errno, libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG) {
        SUPPORTED.store(false, Ordering::Relaxed);
    }
}

/// Splits an absolute path into its directory and last component (the
/// component keeps a trailing slash, so "file/" still fails with ENOTDIR).
fn split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.first() != Some(&b'/') {
        return None;
    }
    let trimmed = path.len() - path.iter().rev().take_while(|&&b| b == b'/').count();
    let slash = path.get(..trimmed)?.iter().rposition(|&b| b == b'/')?;
    let dir = if slash == 0 {
        &path[..1]
    } else {
        path.get(..slash)?
    };
    let name = path.get(slash + 1..)?;
    (!name.is_empty() && name.first() != Some(&b'/')).then_some((dir, name))
}

/// The mount of an open file or directory, from cached attributes only.
fn mount_of(dir: &impl AsRawFd) -> Option<MountKey> {
    // SAFETY: an all-zero statx is a valid value for the kernel to fill.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: "" with AT_EMPTY_PATH stats the descriptor itself; `stx` is
    // writable and sized as the kernel expects.
    let r = unsafe {
        libc::statx(
            dir.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if r != 0 || stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return None;
    }
    let dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
    Some((stx.stx_mnt_id, dev))
}

fn verdict(key: MountKey) -> Option<bool> {
    VERDICTS.read().ok()?.as_ref()?.get(&key).copied()
}

/// Opens `path` without waiting on storage, or says to use the blocking pool.
pub fn try_open(path: &Path) -> Nowait {
    if !SUPPORTED.load(Ordering::Relaxed) {
        return Nowait::Pool(None);
    }
    let Some((dir, name)) = split(path.as_os_str().as_bytes()) else {
        return Nowait::Pool(None);
    };
    if ROOT_LOCAL.load(Ordering::Relaxed) == 1 {
        let Ok(full) = CString::new(path.as_os_str().as_bytes()) else {
            return Nowait::Pool(None);
        };
        // EXDEV (the path crosses into another mount), EAGAIN, ...: try the
        // file's own mount below. A missing component is a final answer: the
        // walk reached it without leaving the root mount.
        match openat2(
            libc::AT_FDCWD,
            &full,
            READ_FLAGS,
            RESOLVE_CACHED | RESOLVE_NO_XDEV,
        ) {
            Ok(fd) => return opened(fd),
            Err(e) => {
                note_unsupported(e);
                if let Some(e) = final_error(e) {
                    return Nowait::Done(Err(e));
                }
                if !SUPPORTED.load(Ordering::Relaxed) {
                    return Nowait::Pool(None);
                }
            }
        }
    }
    let (Ok(dir), Ok(name)) = (CString::new(dir), CString::new(name)) else {
        return Nowait::Pool(None);
    };
    let dfd = match openat2(
        libc::AT_FDCWD,
        &dir,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        RESOLVE_CACHED,
    ) {
        Ok(fd) => fd,
        Err(e) => {
            note_unsupported(e);
            return final_error(e).map_or(Nowait::Pool(None), |e| Nowait::Done(Err(e)));
        }
    };
    let Some(key) = mount_of(&dfd) else {
        return Nowait::Pool(None);
    };
    match verdict(key) {
        Some(true) => {}
        Some(false) => return Nowait::Pool(None),
        None => return Nowait::Pool(Some(key)),
    }
    let fd = match openat2(
        dfd.as_raw_fd(),
        &name,
        READ_FLAGS,
        RESOLVE_CACHED | RESOLVE_NO_XDEV,
    ) {
        Ok(fd) => fd,
        Err(e) => return final_error(e).map_or(Nowait::Pool(None), |e| Nowait::Done(Err(e))),
    };
    drop(dfd);
    opened(fd)
}

/// The answer for a descriptor opened inline: fstat on it.
fn opened(fd: OwnedFd) -> Nowait {
    let f = File::from(fd);
    let Ok(m) = f.metadata() else {
        return Nowait::Pool(None);
    };
    let is_file = m.file_type().is_file();
    Nowait::Done(Ok(FileInfo {
        file: is_file.then(|| Arc::new(f)),
        size: m.len(),
        mtime: m.mtime(),
        is_dir: m.is_dir(),
        is_file,
        local: true,
        resident_at: std::sync::atomic::AtomicU64::new(0),
    }))
}

/// Whether a file opened on the blocking pool is on a local file system
/// (blocking: may classify its mount), so that its cached pages may be sent
/// with sendfile like an inline-opened file's.
pub fn is_local(f: &File) -> bool {
    let Some(key) = mount_of(f) else {
        return false;
    };
    classify(key);
    verdict(key) == Some(true)
}

/// File systems whose open, fstat and page-cache reads involve no remote
/// party. Anything else (nfs, nfs4, cifs, smb3, fuse.*, ceph, 9p, ...)
/// stays on the blocking pool.
fn is_local_fs(fstype: &str) -> bool {
    matches!(
        fstype,
        "ext2"
            | "ext3"
            | "ext4"
            | "xfs"
            | "btrfs"
            | "tmpfs"
            | "ramfs"
            | "overlay"
            | "f2fs"
            | "zfs"
            | "bcachefs"
            | "jfs"
            | "reiserfs"
            | "squashfs"
            | "erofs"
            | "iso9660"
            | "vfat"
            | "exfat"
    )
}

/// The file system type of mount `id` in a /proc/self/mountinfo text
/// (proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw").
fn fstype_in(mountinfo: &str, id: u64) -> Option<&str> {
    mountinfo.lines().find_map(|line| {
        let mut f = line.split(' ');
        if f.next()?.parse::<u64>().ok()? != id {
            return None;
        }
        let (_, after) = line.split_once(" - ")?;
        after.split(' ').next()
    })
}

/// Classifies a mount (blocking: reads /proc/self/mountinfo, which never
/// touches the mounted file systems). An unknown id counts as not local.
pub fn classify(key: MountKey) {
    if verdict(key).is_some() {
        return;
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let local = fstype_in(&info, key.0).is_some_and(is_local_fs);
    if ROOT_LOCAL.load(Ordering::Relaxed) == 0 {
        let root = openat2(
            libc::AT_FDCWD,
            c"/",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .ok()
        .and_then(|fd| mount_of(&fd));
        if let Some((id, _)) = root {
            let yes = fstype_in(&info, id).is_some_and(is_local_fs);
            ROOT_LOCAL.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
        }
    }
    if let Ok(mut v) = VERDICTS.write() {
        let map = v.get_or_insert_with(HashMap::new);
        if map.len() >= MAX_VERDICTS {
            map.clear();
        }
        map.insert(key, local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_the_last_component() {
        let cases: [(&str, Option<(&str, &str)>); 7] = [
            ("/a/b/c.txt", Some(("/a/b", "c.txt"))),
            ("/c.txt", Some(("/", "c.txt"))),
            ("/a/b/", Some(("/a", "b/"))),
            ("/a//b", Some(("/a/", "b"))),
            ("/", None),
            ("rel/x", None),
            ("", None),
        ];
        for (p, want) in cases {
            let got = split(p.as_bytes()).map(|(d, n)| {
                (
                    std::str::from_utf8(d).unwrap().to_owned(),
                    std::str::from_utf8(n).unwrap().to_owned(),
                )
            });
            assert_eq!(got, want.map(|(d, n)| (d.to_owned(), n.to_owned())), "{p}");
        }
    }

    #[test]
    fn mountinfo_types() {
        let m = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                 40 22 0:35 / /mnt/nfs rw,relatime shared:20 - nfs4 srv:/export rw,vers=4.2\n\
                 41 22 0:36 / /mnt/f rw - fuse.sshfs u@h: rw\n";
        assert_eq!(fstype_in(m, 22), Some("ext4"));
        assert_eq!(fstype_in(m, 40), Some("nfs4"));
        assert_eq!(fstype_in(m, 41), Some("fuse.sshfs"));
        assert_eq!(fstype_in(m, 7), None);
        assert!(is_local_fs("ext4") && is_local_fs("tmpfs") && is_local_fs("overlay"));
        assert!(!is_local_fs("nfs4") && !is_local_fs("nfs") && !is_local_fs("fuse.sshfs"));
        assert!(!is_local_fs("cifs") && !is_local_fs("fuse") && !is_local_fs("ceph"));
    }

    /// On this machine's local temp dir, once its mount is classified:
    /// files, directories and misses are answered inline.
    #[test]
    fn opens_inline_once_the_mount_is_known_local() {
        let dir = std::env::temp_dir().join(format!("rampart-nowait-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("f.txt"), b"hello").unwrap();
        let f = dir.join("f.txt");
        let key = mount_key(&dir);
        if verdict(key).is_none() {
            assert!(
                matches!(try_open(&f), Nowait::Pool(Some(k)) if k == key)
                    || !SUPPORTED.load(Ordering::Relaxed)
            );
        }
        if !SUPPORTED.load(Ordering::Relaxed) {
            eprintln!("skipped: openat2 RESOLVE_CACHED unavailable");
            return;
        }
        classify(key);
        if verdict(key) != Some(true) {
            eprintln!("skipped: the temp dir is not on a local file system");
            return;
        }
        match try_open(&f) {
            Nowait::Done(Ok(i)) => {
                assert!(i.is_file && !i.is_dir);
                assert_eq!(i.size, 5);
                assert!(i.file.is_some());
            }
            other => panic!("{other:?}"),
        }
        match try_open(&dir.join("sub")) {
            Nowait::Done(Ok(i)) => assert!(i.is_dir && !i.is_file && i.file.is_none()),
            other => panic!("{other:?}"),
        }
        // A name never looked up needs the file system's lookup: the pool;
        // once the miss is in the dentry cache it is answered inline.
        let _ = std::fs::metadata(dir.join("missing"));
        assert!(matches!(
            try_open(&dir.join("missing")),
            Nowait::Done(Err(OpenError::NotFound))
        ));
        assert!(matches!(
            try_open(&dir.join("f.txt/")),
            Nowait::Done(Err(OpenError::NotFound))
        ));
        // A symlink out of the mount (to /proc) is left to the blocking pool.
        std::os::unix::fs::symlink("/proc/self/status", dir.join("out")).unwrap();
        assert!(matches!(try_open(&dir.join("out")), Nowait::Pool(_)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn mount_key(dir: &Path) -> MountKey {
        let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let fd = openat2(libc::AT_FDCWD, &c, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        mount_of(&fd).unwrap()
    }
}
