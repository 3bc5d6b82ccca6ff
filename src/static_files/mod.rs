//! The static content handler: `root`/`alias`, `try_files`, `index`, and
//! nginx's static decision table (nginx/nginx: src/http/modules/
//! ngx_http_static_module.c, ngx_http_index_module.c,
//! ngx_http_try_files_module.c; `ngx_http_map_uri_to_path` in
//! src/http/ngx_http_core_module.c).

pub mod cache;
pub mod cond;
mod conf;
pub mod mime;
pub mod nowait_open;
mod send;
pub mod symlinks;

pub use conf::StaticSettings;

use crate::exchange::doc_root::map_path;
use crate::exchange::request::Request;
use crate::exchange::{Exchange, Reply};
use crate::vars::Template;
use bytes::Bytes;
use cache::{FileInfo, OpenError, OpenFileCache};
use std::path::PathBuf;
use std::sync::Arc;

/// A location's compiled static settings.
pub struct StaticConf {
    pub index: Vec<Template>,
    /// try_files arguments; the flag: the argument *as written* ends in `/`
    /// (a directory test, decided at config time in ngx_http_try_files).
    pub try_files: Vec<(Template, bool)>,
    pub types: Arc<mime::Types>,
    pub charset: Option<Bytes>,
    pub charset_types: Vec<Vec<u8>>,
    pub etag: bool,
    pub ims: cond::ImsMode,
    pub max_ranges: Option<u64>,
    pub log_not_found: bool,
    pub cache: Option<Arc<OpenFileCache>>,
    /// `disable_symlinks`.
    pub symlinks: symlinks::Symlinks,
    /// `gzip_static`: 0 off, 1 on, 2 always.
    pub gzip_static: u8,
}

impl std::fmt::Debug for StaticConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticConf")
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

/// What the handler asks the pipeline to do.
pub enum Outcome {
    Reply(Reply),
    /// An internal redirect (index, try_files fallback): match locations again.
    Redirect(Vec<u8>),
    /// `try_files ... @name`.
    Named(String),
}

fn special(status: u16) -> Outcome {
    Outcome::Reply(Reply::Special {
        status,
        location: None,
    })
}

/// The Content-Type of a response for `uri`: the `types` entry of its
/// extension or `default_type` (ngx_http_set_content_type), and the same
/// with `charset` appended when the type is one of `charset_types` (the
/// charset filter). nginx types `return 200 "text"` this way too.
pub fn content_type(req: &Request, conf: &StaticConf, uri: &[u8]) -> Bytes {
    let ext = if req.uri_changed {
        crate::routing::uri::extension_of_changed_uri(uri)
    } else {
        crate::routing::uri::extension(uri)
    };
    let base = ext
        .and_then(|e| conf.types.lookup(e).cloned())
        .unwrap_or_else(|| req.loc.conf.default_type.clone());
    mime::with_charset(&base, conf.charset.as_ref(), &conf.charset_types).unwrap_or(base)
}

/// Opens `path` through the location's open_file_cache, if any, under its
/// `disable_symlinks` rules (`from=` evaluated for this request).
async fn lookup(ex: &Exchange<'_>, conf: &StaticConf, path: PathBuf) -> Result<Arc<FileInfo>, OpenError> {
    let check = conf.symlinks.check(&ex.req, &path);
    match &conf.cache {
        Some(c) => c.open(&path, check).await,
        None => cache::open(path, check).await,
    }
}

fn log_err(ex: &Exchange<'_>, level: crate::log::Level, msg: std::fmt::Arguments<'_>) {
    crate::log::error_log::log(level, Some(ex.req.conn.number), msg);
}

/// The content phase for a location without proxy_pass or return.
pub async fn handle(ex: &mut Exchange<'_>, conf: &StaticConf) -> Outcome {
    // try_files (ngx_http_try_files_module.c).
    if let Some((last, tries)) = conf.try_files.split_last() {
        let mut hit = None;
        for (t, want_dir) in tries {
            let mut name = t.eval_to_vec(&ex.req);
            let want_dir = *want_dir;
            if want_dir && name.len() > 1 {
                // A directory hit continues without the slash, so the static
                // handler answers 301 (the test path drops it too).
                name.pop();
            }
            let Some(path) = map_path(&ex.req, &name) else {
                continue;
            };
            if let Ok(info) = lookup(ex, conf, path).await {
                if info.is_dir == want_dir {
                    hit = Some(name);
                    break;
                }
            }
        }
        match hit {
            Some(name) => {
                // `$uri` becomes the name; a directory hit keeps its slash for index.
                ex.req.uri = name;
            }
            None => {
                let target = last.0.eval_to_vec(&ex.req);
                if let Some(code) = target.strip_prefix(b"=") {
                    let code = std::str::from_utf8(code).ok().and_then(|c| c.parse::<u16>().ok());
                    return special(code.unwrap_or(500));
                }
                if let Some(name) = target.strip_prefix(b"@") {
                    return Outcome::Named(String::from_utf8_lossy(name).into_owned());
                }
                // The fallback's arguments replace the request's, and a
                // fallback without `?` leaves empty ones (`$args` is "", as
                // ngx_http_split_args leaves them), not the original.
                let mut target = target;
                if !target.contains(&b'?') {
                    target.push(b'?');
                }
                return Outcome::Redirect(target);
            }
        }
    }
    let method = ex.req.method().to_vec();
    if !matches!(method.as_slice(), b"GET" | b"HEAD" | b"POST") {
        return special(405);
    }
    let uri = ex.req.uri.clone();
    if uri.ends_with(b"/") {
        return index(ex, conf, &uri).await;
    }
    let Some(path) = map_path(&ex.req, &uri) else {
        return special(404);
    };
    let info = match lookup(ex, conf, path.clone()).await {
        Ok(i) => i,
        Err(e) => return open_failed(ex, conf, &path, e),
    };
    if info.is_dir {
        // ngx_http_static_handler: 301 to the URI with a slash, even for POST.
        return Outcome::Reply(Reply::Special {
            status: 301,
            location: Some(ex.req.slash_location()),
        });
    }
    if !info.is_file {
        log_err(
            ex,
            crate::log::Level::Crit,
            format_args!("\"{}\" is not a regular file", path.display()),
        );
        return special(404);
    }
    if method == b"POST" {
        return special(405);
    }
    // ngx_http_static_handler discards the body here: `100 Continue` first.
    if ex.body.expect_test(ex.io).await.is_err() {
        ex.req.status = 499;
        return Outcome::Reply(Reply::Close);
    }
    let mut vary = false;
    if conf.gzip_static > 0 {
        match gzip_static(ex, conf, &uri, &path).await {
            GzStatic::Sent(r) => return Outcome::Reply(r),
            GzStatic::Vary => vary = true,
            GzStatic::No => {}
        }
    }
    Outcome::Reply(send::send(ex, conf, &uri, &info, false, vary).await)
}

/// ngx_http_gzip_static_module.c: `<path>.gz` for clients gzip_ok accepts
/// (`always`: for every client), sent as is with `Content-Encoding: gzip`.
enum GzStatic {
    Sent(Reply),
    /// The `.gz` exists but this client does not get it: Vary is still due.
    Vary,
    No,
}

async fn gzip_static(
    ex: &mut Exchange<'_>,
    conf: &StaticConf,
    uri: &[u8],
    path: &std::path::Path,
) -> GzStatic {
    let gz = ex.req.loc.conf.gzip.clone();
    let mut ok = true;
    if conf.gzip_static == 1 {
        let rh = &ex.req.head;
        let client = crate::filters::gzip::ClientSide {
            accept_encoding: rh.header(b"accept-encoding"),
            user_agent: rh.header(b"user-agent"),
            http11: rh.version() == crate::http1::Version::Http11,
            via: rh.header(b"via").is_some(),
            authorization: rh.header(b"authorization").is_some(),
        };
        ok = gz.client_ok(&client, &crate::filters::gzip::RespSide::default());
        if !ok && !gz.vary {
            return GzStatic::No;
        }
    }
    let mut p = path.as_os_str().to_os_string();
    p.push(".gz");
    match lookup(ex, conf, PathBuf::from(p)).await {
        Ok(info) if info.is_file && ok => GzStatic::Sent(send::send(ex, conf, uri, &info, true, false).await),
        Ok(info) if info.is_file => GzStatic::Vary,
        _ => GzStatic::No,
    }
}

fn open_failed(ex: &Exchange<'_>, conf: &StaticConf, path: &std::path::Path, e: OpenError) -> Outcome {
    match e {
        OpenError::NotFound => {
            if conf.log_not_found {
                log_err(
                    ex,
                    crate::log::Level::Error,
                    format_args!(
                        "open() \"{}\" failed (2: No such file or directory)",
                        path.display()
                    ),
                );
            }
            special(404)
        }
        OpenError::Forbidden => {
            log_err(
                ex,
                crate::log::Level::Error,
                format_args!("open() \"{}\" failed (13: Permission denied)", path.display()),
            );
            special(403)
        }
        OpenError::Loop => {
            log_err(
                ex,
                crate::log::Level::Error,
                format_args!(
                    "open() \"{}\" failed (40: Too many levels of symbolic links)",
                    path.display()
                ),
            );
            special(403)
        }
        OpenError::Other(n) => {
            log_err(
                ex,
                crate::log::Level::Crit,
                format_args!("open() \"{}\" failed ({n})", path.display()),
            );
            special(500)
        }
    }
}

/// ngx_http_index_handler: the first index file that exists is an internal
/// redirect; none gives 403 (autoindex off), a missing directory 404.
async fn index(ex: &mut Exchange<'_>, conf: &StaticConf, uri: &[u8]) -> Outcome {
    let n = conf.index.len();
    for (i, t) in conf.index.iter().enumerate() {
        let name = t.eval_to_vec(&ex.req);
        if name.starts_with(b"/") {
            if i + 1 == n {
                return Outcome::Redirect(name);
            }
            continue;
        }
        let mut full = uri.to_vec();
        full.extend_from_slice(&name);
        let Some(path) = map_path(&ex.req, &full) else {
            return special(404);
        };
        match lookup(ex, conf, path.clone()).await {
            Ok(_) => return Outcome::Redirect(full),
            Err(OpenError::NotFound) => continue,
            Err(e) => return open_failed(ex, conf, &path, e),
        }
    }
    let Some(dir) = map_path(&ex.req, uri) else {
        return special(404);
    };
    match lookup(ex, conf, dir.clone()).await {
        Ok(i) if i.is_dir => {
            log_err(
                ex,
                crate::log::Level::Error,
                format_args!("directory index of \"{}\" is forbidden", dir.display()),
            );
            special(403)
        }
        Ok(_) => special(404),
        Err(e) => open_failed(ex, conf, &dir, e),
    }
}
