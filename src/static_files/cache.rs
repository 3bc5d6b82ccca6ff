//! Opening files off the event loop, and `open_file_cache` (nginx/nginx:
//! src/core/ngx_open_file_cache.c).
//!
//! An open/fstat runs on the event loop only when it provably cannot wait on
//! storage (super::nowait_open: the whole path in the dentry cache, a local
//! file system); every other one runs on tokio's blocking pool (bounded by
//! the runtime's `max_blocking_threads`), so a stalled NFS server ties up a
//! pool thread, never an event-loop thread. Files are opened with O_NONBLOCK
//! as nginx does (`NGX_FILE_NONBLOCK`), so a FIFO does not hang the open.
//!
//! A cached entry holds the open descriptor with the size and mtime read
//! from *that* descriptor; bodies are read with `pread` on it, so a file
//! replaced by rename is served whole from the old inode until the entry is
//! revalidated (after `open_file_cache_valid`), then whole from the new one.

use super::symlinks::{Check, Mode};
pub use crate::config::value::open_file_cache::CacheConf;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a lookup found.
#[derive(Debug)]
pub struct FileInfo {
    /// Regular files only.
    pub file: Option<Arc<File>>,
    pub size: u64,
    pub mtime: i64,
    pub is_dir: bool,
    pub is_file: bool,
    /// On a local file system (opened inline by super::nowait_open, or
    /// checked after a pool open), so a body whose pages are all cached may
    /// go out with sendfile(2).
    pub local: bool,
    /// When the whole file was last found in the page cache (unix ms, 0:
    /// never); see `send::resident`. Shared by the requests of one
    /// open_file_cache entry.
    pub resident_at: AtomicU64,
}

/// A lookup error, classified as nginx's static handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// ENOENT, ENOTDIR, ENAMETOOLONG: 404.
    NotFound,
    /// EACCES: 403.
    Forbidden,
    /// ELOOP, EMLINK (a symlink `disable_symlinks` refuses, or a loop): 403.
    Loop,
    /// Anything else: 500.
    Other(i32),
}

impl From<&io::Error> for OpenError {
    fn from(e: &io::Error) -> OpenError {
        match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => OpenError::NotFound,
            Some(libc::EACCES) => OpenError::Forbidden,
            Some(libc::ELOOP | libc::EMLINK) => OpenError::Loop,
            Some(n) => OpenError::Other(n),
            None if e.kind() == io::ErrorKind::NotFound => OpenError::NotFound,
            None => OpenError::Other(0),
        }
    }
}

/// Opens and stats `path` (blocking: call from the blocking pool).
pub fn open_blocking(path: &Path) -> Result<FileInfo, OpenError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| OpenError::from(&e))?;
    FileInfo::stat(f)
}

impl FileInfo {
    /// fstat on an opened file; a regular file keeps its descriptor.
    pub fn stat(f: File) -> Result<FileInfo, OpenError> {
        let m = f.metadata().map_err(|e| OpenError::from(&e))?;
        let is_file = m.file_type().is_file();
        Ok(FileInfo {
            file: is_file.then(|| Arc::new(f)),
            size: m.len(),
            mtime: m.mtime(),
            is_dir: m.is_dir(),
            is_file,
            local: false,
            resident_at: AtomicU64::new(0),
        })
    }
}

/// Opens `path` inline when that cannot wait on storage, else on the
/// blocking pool (which also classifies a mount met for the first time).
/// A `disable_symlinks` walk always runs on the pool.
pub async fn open(path: PathBuf, check: Check) -> Result<Arc<FileInfo>, OpenError> {
    if check.mode != Mode::Off {
        let task = move || super::symlinks::open_checked(&path, check);
        return match tokio::task::spawn_blocking(task).await {
            Ok(r) => r.map(Arc::new),
            Err(_) => Err(OpenError::Other(0)),
        };
    }
    let classify = match super::nowait_open::try_open(&path) {
        super::nowait_open::Nowait::Done(r) => return r.map(Arc::new),
        super::nowait_open::Nowait::Pool(c) => c,
    };
    let task = move || {
        if let Some(key) = classify {
            super::nowait_open::classify(key);
        }
        open_blocking(&path).map(|mut i| {
            i.local = i.file.as_deref().is_some_and(super::nowait_open::is_local);
            i
        })
    };
    match tokio::task::spawn_blocking(task).await {
        Ok(r) => r.map(Arc::new),
        Err(_) => Err(OpenError::Other(0)),
    }
}

struct Entry {
    /// The `disable_symlinks` rules this entry was opened under.
    check: Check,
    found: Result<Arc<FileInfo>, OpenError>,
    validated: Instant,
    accessed: Instant,
    uses: u64,
}

/// One location's cache (nginx keeps one per worker and directive; rampart
/// one per compiled location level, shared by its worker threads).
pub struct OpenFileCache {
    conf: CacheConf,
    valid: Duration,
    min_uses: u64,
    errors: bool,
    map: Mutex<HashMap<PathBuf, Entry>>,
}

impl OpenFileCache {
    pub fn new(conf: CacheConf, valid: Duration, min_uses: u64, errors: bool) -> OpenFileCache {
        OpenFileCache {
            conf,
            valid,
            min_uses: min_uses.max(1),
            errors,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub async fn open(&self, path: &Path, check: Check) -> Result<Arc<FileInfo>, OpenError> {
        let now = Instant::now();
        let mut uses = 1;
        if let Ok(mut m) = self.map.lock() {
            if let Some(e) = m.get_mut(path) {
                // An entry found under other symlink rules is a miss, as
                // nginx reopens when `disable_symlinks` differs.
                if e.check == check && now.duration_since(e.accessed) < self.conf.inactive {
                    uses = e.uses + 1;
                    if now.duration_since(e.validated) < self.valid {
                        e.accessed = now;
                        e.uses = uses;
                        // A descriptor-less entry of a file not used min_uses times is
                        // only metadata; open again for the body.
                        let usable = match &e.found {
                            Ok(i) => !i.is_file || i.file.is_some(),
                            Err(_) => true,
                        };
                        if usable {
                            return e.found.clone();
                        }
                    }
                }
            }
        }
        let found = open(path.to_path_buf(), check).await;
        if found.is_ok() || self.errors {
            let keep = match &found {
                Ok(i) if i.is_file && uses < self.min_uses => Ok(Arc::new(FileInfo {
                    file: None,
                    size: i.size,
                    mtime: i.mtime,
                    is_dir: i.is_dir,
                    is_file: i.is_file,
                    local: i.local,
                    resident_at: AtomicU64::new(0),
                })),
                other => other.clone(),
            };
            if let Ok(mut m) = self.map.lock() {
                if m.len() >= self.conf.max && !m.contains_key(path) {
                    self.evict(&mut m, now);
                }
                m.insert(
                    path.to_path_buf(),
                    Entry {
                        check,
                        found: keep,
                        validated: now,
                        accessed: now,
                        uses,
                    },
                );
            }
        }
        found
    }

    /// Drops inactive entries, and when still full the least recently used
    /// one (nginx frees one or two from the tail of its LRU queue).
    fn evict(&self, m: &mut HashMap<PathBuf, Entry>, now: Instant) {
        let inactive = self.conf.inactive;
        m.retain(|_, e| now.duration_since(e.accessed) < inactive);
        if m.len() >= self.conf.max {
            if let Some(k) = m.iter().min_by_key(|(_, e)| e.accessed).map(|(k, _)| k.clone()) {
                m.remove(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caches_evicts_and_revalidates() {
        let dir = std::env::temp_dir().join(format!("rampart-ofc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        std::fs::write(&a, b"old").unwrap();
        let c = OpenFileCache::new(
            CacheConf {
                max: 2,
                inactive: Duration::from_secs(60),
            },
            Duration::from_millis(200),
            1,
            false,
        );
        let first = c.open(&a, Check::OFF).await.unwrap();
        assert_eq!(first.size, 3);
        // Replaced by rename: the cached entry (old inode) is served until `valid` passes.
        let tmp = dir.join("a.tmp");
        std::fs::write(&tmp, b"newer").unwrap();
        std::fs::rename(&tmp, &a).unwrap();
        assert_eq!(c.open(&a, Check::OFF).await.unwrap().size, 3);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(c.open(&a, Check::OFF).await.unwrap().size, 5);
        // Errors are not cached by default.
        assert_eq!(
            c.open(&dir.join("missing"), Check::OFF).await.unwrap_err(),
            OpenError::NotFound
        );
        assert_eq!(c.len(), 1);
        std::fs::write(dir.join("b"), b"b").unwrap();
        std::fs::write(dir.join("c"), b"c").unwrap();
        c.open(&dir.join("b"), Check::OFF).await.unwrap();
        c.open(&dir.join("c"), Check::OFF).await.unwrap();
        assert_eq!(c.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
