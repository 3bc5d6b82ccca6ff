//! nginx's access phase: `allow`/`deny` (ngx_http_access_module) and then
//! `auth_basic` (ngx_http_auth_basic_module), combined as `satisfy all`
//! (the default; nginx/nginx: src/http/ngx_http_core_module.c,
//! `ngx_http_core_access_phase`): every configured check must pass, and the
//! first that refuses decides the status.

pub mod allow;
pub mod auth_basic;
mod conf;
pub mod htpasswd;
pub mod real_ip;

pub use conf::AccessSettings;

use std::net::IpAddr;
use std::sync::Arc;

/// A location's access settings, compiled once.
#[derive(Debug, Clone, Default)]
pub struct AccessConf {
    pub rules: Arc<[allow::Rule]>,
    pub auth: Option<Arc<auth_basic::AuthBasic>>,
}

/// A refusal: the status, the `WWW-Authenticate` value for a 401, and
/// nginx's error_log line.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub challenge: Option<bytes::Bytes>,
    pub level: crate::log::Level,
    pub message: String,
}

impl AccessConf {
    /// Nothing to check: the common case costs one branch.
    pub fn is_open(&self) -> bool {
        self.rules.is_empty() && self.auth.is_none()
    }

    /// Runs the checks for a client at `client` with this `Authorization` value.
    pub fn check(&self, client: IpAddr, authorization: Option<&[u8]>) -> Result<(), Refusal> {
        if !allow::allowed(&self.rules, client) {
            return Err(Refusal {
                status: 403,
                challenge: None,
                level: crate::log::Level::Error,
                message: "access forbidden by rule".into(),
            });
        }
        if let Some(a) = &self.auth {
            a.check(authorization).map_err(|d| Refusal {
                challenge: (d.status == 401).then(|| a.challenge.clone()),
                status: d.status,
                level: d.level,
                message: d.message,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_comes_before_auth() {
        let (r, _) = allow::parse_rule("deny", "127.0.0.1").unwrap();
        let conf = AccessConf {
            rules: Arc::from(vec![r]),
            auth: Some(Arc::new(auth_basic::AuthBasic::new("r", "/nonexistent/x".into()))),
        };
        let e = conf.check("127.0.0.1".parse().unwrap(), None).unwrap_err();
        assert_eq!((e.status, e.challenge.is_none()), (403, true));
        let e = conf.check("127.0.0.2".parse().unwrap(), None).unwrap_err();
        assert_eq!(e.status, 401);
        assert_eq!(e.challenge.as_deref(), Some(&b"Basic realm=\"r\""[..]));
        assert!(AccessConf::default().is_open());
        assert!(AccessConf::default().check("::1".parse().unwrap(), None).is_ok());
    }
}
