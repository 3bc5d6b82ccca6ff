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
        /// `satisfy all | any` (default all): whether every access check
        /// must pass, or one is enough (ngx_http_core_module).
        satisfy: String = one_of("all", "any"),
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
        let any = match s.satisfy.as_deref() {
            None | Some("all") => false,
            Some("any") => true,
            Some(v) => {
                return Err(
                    ConfigError::new(file, line, format!("invalid value \"{v}\"")).directive("satisfy")
                )
            }
        };
        Ok(AccessConf {
            rules: rules.into(),
            auth,
            any,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::test(name, args, "/t/n.conf", 9)
    }

    #[test]
    fn satisfy_takes_all_or_any_with_nginx_wording() {
        let mut s = AccessSettings::default();
        assert_eq!(s.directive(&dir("satisfy", &["any"])), Some(Ok(())));
        assert_eq!(s.satisfy.as_deref(), Some("any"));
        let e = AccessSettings::default()
            .directive(&dir("satisfy", &["some"]))
            .unwrap()
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid value \"some\" in /t/n.conf:9");
        let e = s.directive(&dir("satisfy", &["all"])).unwrap().unwrap_err();
        assert_eq!(e.to_string(), "\"satisfy\" directive is duplicate in /t/n.conf:9");
        // A value that came from rampart.toml is checked when compiled.
        let toml = AccessSettings {
            satisfy: Some("some".into()),
            ..AccessSettings::default()
        };
        let e = AccessConf::compile(&toml, &PathBuf::from("/t/r.toml"), 4).unwrap_err();
        assert_eq!((e.line, e.directive.as_deref()), (4, Some("satisfy")));
    }

    #[test]
    fn satisfy_any_lets_the_first_grant_in() {
        let mut s = AccessSettings::default();
        for (name, arg) in [("satisfy", "any"), ("allow", "127.0.0.1"), ("deny", "all")] {
            assert_eq!(s.directive(&dir(name, &[arg])), Some(Ok(())));
        }
        s.auth_basic = Some("realm".into());
        s.auth_basic_user_file = Some("/nonexistent/htpasswd".into());
        let c = AccessConf::compile(&s, Path::new("/t/n.conf"), 1).unwrap();
        // Allowed by address: auth_basic is not asked.
        assert!(c.check("127.0.0.1".parse().unwrap(), None).is_ok());
        // Denied by address, no credentials: auth_basic's 401 wins over the 403.
        let e = c.check("10.1.1.1".parse().unwrap(), None).unwrap_err();
        assert_eq!((e.status, e.challenge.is_some()), (401, true));
        // Without auth_basic the deny answers, with nginx's log line.
        s.auth_basic = None;
        let c = AccessConf::compile(&s, Path::new("/t/n.conf"), 1).unwrap();
        let e = c.check("10.1.1.1".parse().unwrap(), None).unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (403, "access forbidden by rule"));
        // No rule matches and nothing else is configured: the phase declines.
        s.access = Some(vec![("allow".into(), "10.0.0.0/8".into())]);
        let c = AccessConf::compile(&s, Path::new("/t/n.conf"), 1).unwrap();
        assert!(c.check("127.0.0.1".parse().unwrap(), None).is_ok());
    }
}
