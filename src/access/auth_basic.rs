//! `auth_basic` + `auth_basic_user_file` (nginx/nginx:
//! src/http/modules/ngx_http_auth_basic_module.c; credentials parsed as
//! `ngx_http_auth_basic_user` in src/http/ngx_http_core_module.c).
//!
//! Order of the checks, as nginx: credentials first (none or malformed →
//! 401), then the user file (missing → 403, unreadable → 500), then the
//! user (unknown → 401) and the password (wrong → 401).
//!
//! nginx opens the file on every request. rampart keeps its bytes and
//! re-reads them when the file's mtime, size or inode changes, so an edit is
//! seen by the next request just as in nginx, without reading it each time.

use super::htpasswd;
use crate::log::Level;
use arc_swap::ArcSwapOption;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

/// One location's compiled `auth_basic` settings (shared by the requests).
pub struct AuthBasic {
    /// `WWW-Authenticate` value: `Basic realm="<realm>"`, the realm raw as nginx writes it.
    pub challenge: bytes::Bytes,
    pub path: PathBuf,
    cache: ArcSwapOption<Cached>,
}

impl std::fmt::Debug for AuthBasic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthBasic")
            .field("challenge", &self.challenge)
            .field("path", &self.path)
            .finish()
    }
}

struct Cached {
    key: (SystemTime, u64, u64),
    data: Vec<u8>,
}

/// Why a request was refused: the status, and the error_log line nginx writes.
#[derive(Debug, PartialEq, Eq)]
pub struct Denied {
    pub status: u16,
    pub level: Level,
    pub message: String,
}

impl AuthBasic {
    pub fn new(realm: &str, path: PathBuf) -> AuthBasic {
        AuthBasic {
            challenge: bytes::Bytes::from(format!("Basic realm=\"{realm}\"")),
            path,
            cache: ArcSwapOption::empty(),
        }
    }

    /// Checks the request's `Authorization` value. On 401 the caller adds
    /// [`AuthBasic::challenge`] as `WWW-Authenticate`.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Err(Denied {
                status: 401,
                level: Level::Info,
                message: "no user/password was provided for basic authentication".into(),
            });
        };
        let file = self.load()?;
        let name = String::from_utf8_lossy(&user);
        match htpasswd::find_user(&file.data, &user) {
            None => Err(Denied {
                status: 401,
                level: Level::Error,
                message: format!("user \"{name}\" was not found in \"{}\"", self.path.display()),
            }),
            Some(hash) if htpasswd::verify(&password, hash) => Ok(()),
            Some(_) => Err(Denied {
                status: 401,
                level: Level::Error,
                message: format!("user \"{name}\": password mismatch"),
            }),
        }
    }

    /// The file's bytes, re-read when its identity or mtime changed.
    fn load(&self) -> Result<Arc<Cached>, Denied> {
        let fail = |e: std::io::Error| {
            let (status, level) = if e.kind() == std::io::ErrorKind::NotFound {
                (403, Level::Error)
            } else {
                (500, Level::Crit)
            };
            Denied {
                status,
                level,
                message: format!(
                    "open() \"{}\" failed ({})",
                    self.path.display(),
                    crate::log::OsErr(&e)
                ),
            }
        };
        let meta = std::fs::metadata(&self.path).map_err(fail)?;
        let key = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
            inode(&meta),
        );
        if let Some(c) = self.cache.load_full() {
            if c.key == key {
                return Ok(c);
            }
        }
        let data = std::fs::read(&self.path).map_err(fail)?;
        let c = Arc::new(Cached { key, data });
        self.cache.store(Some(c.clone()));
        Ok(c)
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// `ngx_http_auth_basic_user`: `Basic` (any case) and a space, then any
/// number of spaces, then base64 of `user:password`, split at the first `:`.
/// An empty user or no `:` counts as no credentials.
pub fn credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let prefix = value.get(..6)?;
    if !prefix.eq_ignore_ascii_case(b"Basic ") {
        return None;
    }
    let mut enc = value.get(6..)?;
    while let [b' ', rest @ ..] = enc {
        enc = rest;
    }
    if enc.is_empty() {
        return None;
    }
    let decoded = decode_base64(enc)?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    if colon == 0 {
        return None;
    }
    let user = decoded.get(..colon)?.to_vec();
    let password = decoded.get(colon + 1..)?.to_vec();
    Some((user, password))
}

/// nginx's `ngx_decode_base64`: the standard alphabet; decoding stops at the
/// first `=` (whatever follows is ignored), padding is optional, any other
/// byte outside the alphabet is an error, and a length of 4n+1 symbols is an error.
pub fn decode_base64(src: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let end = src.iter().position(|&c| c == b'=').unwrap_or(src.len());
    let sym = src.get(..end)?;
    if sym.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(sym.len() * 3 / 4);
    for chunk in sym.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        let n = chunk.len() - 1;
        out.extend_from_slice(bytes.get(1..1 + n)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn credentials_parse_as_nginx() {
        let ok = |h: String, u: &str, p: &str| {
            assert_eq!(
                credentials(h.as_bytes()),
                Some((u.as_bytes().to_vec(), p.as_bytes().to_vec())),
                "{h}"
            )
        };
        ok(format!("Basic {}", b64("alice:pw")), "alice", "pw");
        ok(format!("basic {}", b64("alice:pw")), "alice", "pw");
        ok(format!("BASIC    {}", b64("alice:pw")), "alice", "pw");
        ok(format!("Basic {}", b64("alice:p:w")), "alice", "p:w");
        ok(format!("Basic {}", b64("alice:")), "alice", "");
        // Unpadded, and anything after the first '=' is ignored.
        ok("Basic YWxpY2U6cHc".to_string(), "alice", "pw");
        ok("Basic YWxpY2U6cHc=junk!".to_string(), "alice", "pw");
        ok("Basic YWxpY2U6cHc= ".to_string(), "alice", "pw");
        let none = [
            "".to_string(),
            "Basic".to_string(),
            "Basic ".to_string(),
            "Basic    ".to_string(),
            "Bearer abc".to_string(),
            "Basic\t".to_string() + &b64("alice:pw"),
            format!("Basic {}", b64("alice")),
            format!("Basic {}", b64(":pw")),
            // A space inside the symbols is invalid (after a '=' it would be ignored).
            "Basic YWxpY2U6cHc ".to_string(),
            "Basic !!!!".to_string(),
            "Basic YWxpY".to_string(),
        ];
        for h in none {
            assert_eq!(credentials(h.as_bytes()), None, "{h:?}");
        }
    }

    #[test]
    fn base64_edge_cases() {
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert_eq!(decode_base64(b"YQ").unwrap(), b"a");
        assert_eq!(decode_base64(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_base64(b"YWI").unwrap(), b"ab");
        assert_eq!(decode_base64(b"YWJj").unwrap(), b"abc");
        assert!(decode_base64(b"Y").is_none());
        assert!(decode_base64(b"YW-j").is_none());
    }

    #[test]
    fn file_outcomes_and_reload_on_change() {
        let dir = std::env::temp_dir().join(format!("rampart-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("htpasswd");
        let _ = std::fs::remove_file(&path);
        let a = AuthBasic::new("Zone \"x\"", path.clone());
        assert_eq!(&a.challenge[..], b"Basic realm=\"Zone \"x\"\"");
        let hdr = format!("Basic {}", b64("alice:pw"));
        // No credentials is checked before the file.
        assert_eq!(a.check(None).unwrap_err().status, 401);
        assert_eq!(a.check(Some(hdr.as_bytes())).unwrap_err().status, 403);
        std::fs::write(&path, "alice:{PLAIN}pw\n").unwrap();
        assert_eq!(a.check(Some(hdr.as_bytes())), Ok(()));
        let wrong = format!("Basic {}", b64("alice:px"));
        assert_eq!(a.check(Some(wrong.as_bytes())).unwrap_err().status, 401);
        let bob = format!("Basic {}", b64("bob:pw"));
        assert_eq!(a.check(Some(bob.as_bytes())).unwrap_err().status, 401);
        // Replaced file (new inode and size): seen at once.
        let tmp = dir.join("new");
        std::fs::write(&tmp, "bob:{PLAIN}pw\n# alice removed\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(a.check(Some(bob.as_bytes())), Ok(()));
        assert_eq!(a.check(Some(hdr.as_bytes())).unwrap_err().status, 401);
        // A directory cannot be read: 500.
        let d = AuthBasic::new("r", dir.clone());
        assert_eq!(d.check(Some(hdr.as_bytes())).unwrap_err().status, 500);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
