//! The proxy section compiled into the handler's [`ProxyConf`], once per
//! location: nginx's header defaults, the hidden headers, the
//! next-upstream mask, proxy_redirect and proxy_cookie_* rules, the
//! buffering directives' checks (buffers.rs) and the typed values.

use super::conf::ProxyConf;
use super::settings::ProxySettings;
use crate::config::section::Context;
use crate::config::{ConfigError, Located};
use crate::vars::Template;
use std::time::Duration;

/// Response headers nginx's proxy module hides by default
/// (`ngx_http_proxy_hide_headers`, src/http/modules/ngx_http_proxy_module.c).
const DEFAULT_HIDE: &[&str] = &[
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
];

impl ProxyConf {
    /// Compiles a location's merged proxy settings; `line` is where the
    /// level starts (errors about values that have no line of their own).
    pub fn compile(cx: &dyn Context, s: &ProxySettings, line: usize) -> Result<ProxyConf, ConfigError> {
        let http11 = match s.proxy_http_version.as_deref() {
            None | Some("1.0") => false,
            Some("1.1") => true,
            Some(v) => {
                return Err(cx
                    .err_at(line, format!("invalid value \"{v}\""))
                    .directive("proxy_http_version"));
            }
        };
        // nginx 1.22's header defaults (ngx_http_proxy_headers): Host $proxy_host,
        // Connection close, and the hop-by-hop headers blanked so they are removed.
        let mut set_headers: Vec<(Box<[u8]>, Template)> = Vec::new();
        let line_of = |l: Option<usize>| l.filter(|&l| l > 0).unwrap_or(line);
        let psh_line = line_of(s.proxy_set_header.as_ref().map(|l| l.line));
        for (name, value) in s.proxy_set_header.iter().flat_map(|l| l.value.iter()) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(cx
                    .err_at(psh_line, format!("invalid header name \"{name}\""))
                    .directive("proxy_set_header"));
            }
            set_headers.push((
                name.as_bytes().into(),
                cx.template(psh_line, "proxy_set_header", value)?,
            ));
        }
        let defaults: [(&str, &str); 6] = [
            ("Host", "$proxy_host"),
            ("Connection", "close"),
            ("TE", ""),
            ("Keep-Alive", ""),
            ("Expect", ""),
            ("Upgrade", ""),
        ];
        for (name, value) in defaults {
            if !set_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            {
                set_headers.push((
                    name.as_bytes().into(),
                    cx.template(psh_line, "proxy_set_header", value)?,
                ));
            }
        }
        let keepalive_ok = http11
            && set_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(b"connection"))
                .is_none_or(|(_, t)| {
                    t.is_static() && {
                        let mut v = Vec::new();
                        for p in t.parts() {
                            if let crate::vars::Part::Lit(l) = p {
                                v.extend_from_slice(l);
                            }
                        }
                        !v.to_ascii_lowercase().windows(5).any(|w| w == b"close")
                    }
                });
        let next_upstream = match &s.proxy_next_upstream {
            None => super::next_upstream::DEFAULT,
            Some(words) => super::next_upstream::Mask::parse(words)
                .map_err(|e| cx.err_at(line, e).directive("proxy_next_upstream"))?,
        };
        let skip_client = set_headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase().into_boxed_slice())
            .collect();

        let mut hide: Vec<Box<[u8]>> = DEFAULT_HIDE.iter().map(|h| h.as_bytes().into()).collect();
        for h in s.proxy_hide_header.iter().flatten() {
            hide.push(h.to_ascii_lowercase().into_bytes().into());
        }
        for p in s.proxy_pass_header.iter().flatten() {
            let p = p.to_ascii_lowercase();
            hide.retain(|h| **h != *p.as_bytes());
        }

        let redirect = proxy_redirect(cx, s, line)?;
        let cookie_domain = proxy_cookie(
            cx,
            super::cookie::Attr::Domain,
            "proxy_cookie_domain",
            s.proxy_cookie_domain.as_ref(),
            line,
        )?;
        let cookie_path = proxy_cookie(
            cx,
            super::cookie::Attr::Path,
            "proxy_cookie_path",
            s.proxy_cookie_path.as_ref(),
            line,
        )?;
        super::buffers::validate(s).map_err(|(d, e)| cx.err_at(line, e).directive(d))?;
        let bind = match s.proxy_bind.as_deref() {
            None | Some("off") => None,
            Some(v) => {
                let t = cx.template(line, "proxy_bind", v)?;
                // A value without variables is parsed once, here (ngx_http_upstream_bind_set_slot).
                if t.is_static() && super::upstream_socket::parse_local(v).is_none() {
                    return Err(cx
                        .err_at(line, format!("invalid address \"{v}\""))
                        .directive("proxy_bind"));
                }
                Some(t)
            }
        };
        let method = match s.proxy_method.as_deref() {
            None => None,
            Some(v) => Some(cx.template(line, "proxy_method", v)?),
        };
        let set_body = match s.proxy_set_body.as_deref() {
            None => None,
            Some(v) => Some(cx.template(line, "proxy_set_body", v)?),
        };

        Ok(ProxyConf {
            connect_timeout: s.proxy_connect_timeout.map_or(super::settings::TIMEOUT, |v| v.0),
            read_timeout: s.proxy_read_timeout.map_or(super::settings::TIMEOUT, |v| v.0),
            send_timeout: s.proxy_send_timeout.map_or(super::settings::TIMEOUT, |v| v.0),
            http11,
            set_headers,
            skip_client,
            hide,
            buffer_size: s
                .proxy_buffer_size
                .map_or(super::settings::BUFFER_SIZE, |v| v.0)
                .max(1024) as usize,
            intercept_errors: s.proxy_intercept_errors.unwrap_or(false),
            next_upstream,
            next_upstream_tries: s.proxy_next_upstream_tries.unwrap_or(0) as usize,
            next_upstream_timeout: s.proxy_next_upstream_timeout.map_or(Duration::ZERO, |v| v.0),
            keepalive_ok,
            redirect,
            cookie_domain,
            cookie_path,
            socket_keepalive: s.proxy_socket_keepalive.unwrap_or(false),
            bind,
            method,
            pass_request_headers: s.proxy_pass_request_headers.unwrap_or(true),
            pass_request_body: s.proxy_pass_request_body.unwrap_or(true),
            ignore_client_abort: s.proxy_ignore_client_abort.unwrap_or(false),
            set_body,
            buffering: s.proxy_buffering.unwrap_or(true),
        })
    }
}

/// `proxy_redirect`: nginx's merge keeps the nearest level's list (the
/// settings are already merged all-or-nothing), `off` clears it.
fn proxy_redirect(
    cx: &dyn Context,
    s: &ProxySettings,
    line: usize,
) -> Result<super::redirect::Redirects, ConfigError> {
    let Some(l) = &s.proxy_redirect else {
        return Ok(super::redirect::Redirects::Implicit);
    };
    let at = if l.line > 0 { l.line } else { line };
    let r = super::redirect::compile(&l.value).map_err(|e| cx.err_at(at, e).directive("proxy_redirect"))?;
    for t in super::redirect::templates(&r) {
        cx.check_vars(at, "proxy_redirect", t)?;
    }
    Ok(r)
}

/// `proxy_cookie_domain` / `proxy_cookie_path`, inherited like `proxy_redirect`.
fn proxy_cookie(
    cx: &dyn Context,
    attr: super::cookie::Attr,
    name: &str,
    l: Option<&Located<Vec<Vec<String>>>>,
    line: usize,
) -> Result<Vec<super::cookie::Rule>, ConfigError> {
    let Some(l) = l else {
        return Ok(Vec::new());
    };
    let at = if l.line > 0 { l.line } else { line };
    let rules = super::cookie::compile(attr, name, &l.value).map_err(|e| cx.err_at(at, e).directive(name))?;
    for t in super::cookie::templates(&rules) {
        cx.check_vars(at, name, t)?;
    }
    Ok(rules)
}
