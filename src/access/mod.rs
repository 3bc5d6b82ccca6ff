//! nginx's access phase: `allow`/`deny` (ngx_http_access_module) and then
//! `auth_basic` (ngx_http_auth_basic_module), combined as `satisfy` says
//! (nginx/nginx: src/http/ngx_http_core_module.c, `ngx_http_core_access_phase`):
//! with `all` (the default) every configured check must pass and the first
//! that refuses decides the status; with `any` the first that grants lets
//! the request in.

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
    /// `satisfy any`.
    pub any: bool,
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
        if self.any {
            return self.check_any(client, authorization);
        }
        if !allow::allowed(&self.rules, client) {
            return Err(forbidden());
        }
        if let Some(a) = &self.auth {
            a.check(authorization).map_err(|d| refusal(a, d))?;
        }
        Ok(())
    }

    /// `satisfy any`: a check that grants ends the phase; one that has no
    /// opinion (no rule matched the address) is passed over; of the
    /// refusals, auth_basic's comes last and wins (nginx keeps a 401 in
    /// `r->access_code` and lets a later one replace a 403). nginx logs
    /// "access forbidden by rule" then only when 403 is the answer, which
    /// is what the refusal carries.
    fn check_any(&self, client: IpAddr, authorization: Option<&[u8]>) -> Result<(), Refusal> {
        let mut refused = None;
        match allow::decide(&self.rules, client) {
            Some(allow::Action::Allow) => return Ok(()),
            Some(allow::Action::Deny) => refused = Some(forbidden()),
            None => {}
        }
        if let Some(a) = &self.auth {
            match a.check(authorization) {
                Ok(()) => return Ok(()),
                Err(d) => refused = Some(refusal(a, d)),
            }
        }
        refused.map_or(Ok(()), Err)
    }
}

fn forbidden() -> Refusal {
    Refusal {
        status: 403,
        challenge: None,
        level: crate::log::Level::Error,
        message: "access forbidden by rule".into(),
    }
}

fn refusal(a: &auth_basic::AuthBasic, d: auth_basic::Denied) -> Refusal {
    Refusal {
        challenge: (d.status == 401).then(|| a.challenge.clone()),
        status: d.status,
        level: d.level,
        message: d.message,
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
            any: false,
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
