//! `root` and `alias`: nginx's core module maps a URI to a path
//! (`ngx_http_map_uri_to_path`) for the static handler, try_files, index,
//! `$document_root` and `$request_filename`.

use super::request::Request;
use crate::vars::{Template, Var, VarSource};
use std::path::PathBuf;

/// A location's `root` or `alias`.
#[derive(Debug, Clone)]
pub struct DocRoot {
    /// `root` or `alias` (a template when it has variables).
    pub root: Template,
    pub is_alias: bool,
    /// Relative roots resolve against the prefix.
    pub prefix: PathBuf,
}

/// root/alias's own variables: everything but the two defined by it.
struct RootVars<'a>(&'a Request);

impl VarSource for RootVars<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::DocumentRoot | Var::RequestFilename => false,
            v => self.0.var(v, out),
        }
    }
}

/// `$document_root`: the root (without its trailing slash) or alias (as
/// written) evaluated for `req`, a relative one resolved against the prefix.
pub fn document_root(req: &Request) -> Vec<u8> {
    let conf = &req.loc.conf.root;
    let mut p = conf.root.eval_to_vec(&RootVars(req));
    if conf.root.is_static() && !conf.is_alias && p.ends_with(b"/") {
        p.pop();
    }
    if p.first() == Some(&b'/') {
        return p;
    }
    use std::os::unix::ffi::OsStrExt;
    let mut full = conf.prefix.as_os_str().as_bytes().to_vec();
    if !full.ends_with(b"/") {
        full.push(b'/');
    }
    full.extend_from_slice(&p);
    full
}

/// `ngx_http_map_uri_to_path`: `$document_root` + `$uri`, or alias + `$uri`
/// after the location prefix (a regex location's alias is the whole path).
/// None when the result would step outside the root or alias: a `..`
/// segment (only reachable through alias/prefix mismatches, nginx's known
/// traversal trap) or a NUL byte. `$request_filename` is this for `$uri`.
pub fn map_path(req: &Request, uri: &[u8]) -> Option<PathBuf> {
    let conf = &req.loc.conf.root;
    let mut p = document_root(req);
    let base_len = p.len();
    if conf.is_alias {
        if req.loc.prefix_len > 0 {
            p.extend_from_slice(uri.get(req.loc.prefix_len..).unwrap_or_default());
        }
    } else {
        p.extend_from_slice(uri);
    }
    if p.contains(&0) {
        return None;
    }
    let added = p.get(base_len.saturating_sub(1)..).unwrap_or_default();
    if added.windows(4).any(|w| w == b"/../") || added.ends_with(b"/..") {
        return None;
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(p)))
}
