//! The access feature's settings (`allow`, `deny`, `auth_basic`,
//! `auth_basic_user_file`): declared here as its section of the model, set
//! by both front ends, inherited as nginx merges them, and compiled into
//! [`AccessConf`] once per location.

use super::{allow, auth_basic::AuthBasic, AccessConf};
use crate::config::nginx::parser::Directive;
use crate::config::nginx::values;
use crate::config::section::Offer;
use crate::config::ConfigError;
use std::path::Path;
use std::sync::Arc;

crate::section! {
    /// The access section of an http, server or location level.
    pub struct AccessSettings {
        /// `auth_basic "realm" | off`: the realm of HTTP Basic authentication
        /// (ngx_http_auth_basic_module). Runs only with `auth_basic_user_file`.
        auth_basic: String = string,
        /// `auth_basic_user_file PATH`: an htpasswd file, relative to the config file's directory.
        auth_basic_user_file: String = string,
        /// nginx's `allow` and `deny` as ONE ordered list, because nginx tries
        /// the rules of both directives in config order and the first match
        /// decides: `[["allow", "10.0.0.0/8"], ["deny", "all"]]`. Values are
        /// an address, a CIDR or `all` (IPv4 or IPv6). Inherited all-or-nothing.
        access: Vec<(String, String)>,
    }
    custom = allow_deny;
}

/// `allow X;` and `deny X;` append to the one ordered list.
fn allow_deny(s: &mut AccessSettings, d: &Directive) -> Offer {
    if !matches!(d.name.as_str(), "allow" | "deny") {
        return None;
    }
    let rule = (d.name.clone(), values::first(d).to_string());
    s.access.get_or_insert_with(Vec::new).push(rule);
    Some(Ok(()))
}

impl AccessConf {
    /// Compiles a location's merged settings. `file` is the config file
    /// (a relative `auth_basic_user_file` is relative to its directory, as
    /// nginx's `conf_prefix`), `line` where the level starts (for errors and
    /// warnings about its values).
    pub fn compile(s: &AccessSettings, file: &Path, line: usize) -> Result<AccessConf, ConfigError> {
        let mut rules = Vec::new();
        for (action, value) in s.access.iter().flatten() {
            let (rule, warning) = allow::parse_rule(action, value).map_err(|e| {
                let d = if action == "deny" { "deny" } else { "allow" };
                ConfigError::new(file, line, e).directive(d)
            })?;
            if let Some(w) = warning {
                crate::log::error_log::log(
                    crate::log::Level::Warn,
                    None,
                    format_args!("{w} in {}:{line}", file.display()),
                );
            }
            rules.push(rule);
        }
        let realm = s.auth_basic.as_deref().filter(|r| *r != "off");
        let auth = match (realm, s.auth_basic_user_file.as_deref()) {
            (Some(realm), Some(user_file)) => {
                let p = Path::new(user_file);
                let path = match file.parent() {
                    Some(dir) if !p.is_absolute() => dir.join(p),
                    _ => p.to_path_buf(),
                };
                Some(Arc::new(AuthBasic::new(realm, path)))
            }
            (Some(_), None) => {
                crate::log::error_log::log(
                    crate::log::Level::Warn,
                    None,
                    format_args!(
                        "\"auth_basic\" without \"auth_basic_user_file\" checks nothing in {}:{line}",
                        file.display()
                    ),
                );
                None
            }
            (None, _) => None,
        };
        Ok(AccessConf {
            rules: rules.into(),
            auth,
        })
    }
}
