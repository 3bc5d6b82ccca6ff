//! Directive values that need more than a size, a time or a flag, typed and
//! parsed where both front ends and the runtime can reach them: the nginx.conf
//! front end checks a value with its parser as it maps the directive (so an
//! error names the right file:line of an include), and the runtime compiles
//! it with the same parser. A feature owns what it does with a value
//! (`Expires::apply` in `crate::filters::expires`, `Symlinks::check` in
//! `crate::static_files::symlinks`) and re-exports the type from its module,
//! but config imports no feature.

pub mod access_log;
pub mod expires;
pub mod health_check;
pub mod listen;
pub mod open_file_cache;
pub mod ssl_session_cache;
pub mod symlinks;
