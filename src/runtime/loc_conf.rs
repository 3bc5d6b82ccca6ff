//! Resolved per-location settings: the model's optional, inherited values
//! turned into concrete ones with nginx's defaults, compiled once per
//! location so that a request only reads plain fields.

use super::defaults as d;
use super::CompileCtx;
use crate::config::ConfigError;
use crate::exchange::doc_root::DocRoot;
use crate::exchange::loc_conf::{AddHeader, ErrorPage, ErrorTarget, LocConf};
use crate::model::{AccessLogDef, ErrorPageStatus, LocSettings};
use crate::proxy::conf::ProxyConf;
use crate::vars::Template;
use std::sync::Arc;
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

fn template(ctx: &CompileCtx, line: usize, directive: &str, s: &str) -> Result<Template, ConfigError> {
    let t = Template::compile(s).map_err(|e| ctx.err(line, e.to_string()).directive(directive))?;
    ctx.check_vars(line, directive, &t)?;
    Ok(t)
}

/// Resolves `s` (already merged with every enclosing level) into a LocConf.
/// `line` is where the level starts, for errors about its values.
/// One location's compiled settings: the core ones every phase reads, and
/// the proxy and static handlers' own, which the snapshot keeps beside them.
pub struct Resolved {
    pub core: LocConf,
    pub proxy: Arc<ProxyConf>,
    pub stat: Arc<crate::static_files::StaticConf>,
}

pub fn resolve(ctx: &mut CompileCtx, s: &LocSettings, line: usize) -> Result<Resolved, ConfigError> {
    let http11 = match s.proxy_http_version.as_deref() {
        None | Some("1.0") => false,
        Some("1.1") => true,
        Some(v) => {
            return Err(ctx
                .err(line, format!("invalid value \"{v}\""))
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
            return Err(ctx
                .err(psh_line, format!("invalid header name \"{name}\""))
                .directive("proxy_set_header"));
        }
        set_headers.push((
            name.as_bytes().into(),
            template(ctx, psh_line, "proxy_set_header", value)?,
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
                template(ctx, psh_line, "proxy_set_header", value)?,
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
        None => crate::proxy::next_upstream::DEFAULT,
        Some(words) => crate::proxy::next_upstream::Mask::parse(words)
            .map_err(|e| ctx.err(line, e).directive("proxy_next_upstream"))?,
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

    let redirect = proxy_redirect(ctx, s, line)?;
    let cookie_domain = proxy_cookie(
        ctx,
        crate::proxy::cookie::Attr::Domain,
        "proxy_cookie_domain",
        s.proxy_cookie_domain.as_ref(),
        line,
    )?;
    let cookie_path = proxy_cookie(
        ctx,
        crate::proxy::cookie::Attr::Path,
        "proxy_cookie_path",
        s.proxy_cookie_path.as_ref(),
        line,
    )?;
    super::proxy_buffers::validate(s).map_err(|(d, e)| ctx.err(line, e).directive(d))?;
    let bind = match s.proxy_bind.as_deref() {
        None | Some("off") => None,
        Some(v) => {
            let t = template(ctx, line, "proxy_bind", v)?;
            // A value without variables is parsed once, here (ngx_http_upstream_bind_set_slot).
            if t.is_static() && crate::proxy::upstream_socket::parse_local(v).is_none() {
                return Err(ctx
                    .err(line, format!("invalid address \"{v}\""))
                    .directive("proxy_bind"));
            }
            Some(t)
        }
    };
    let method = match s.proxy_method.as_deref() {
        None => None,
        Some(v) => Some(template(ctx, line, "proxy_method", v)?),
    };
    let set_body = match s.proxy_set_body.as_deref() {
        None => None,
        Some(v) => Some(template(ctx, line, "proxy_set_body", v)?),
    };

    let mut add_header = Vec::new();
    let ah_line = line_of(s.add_header.as_ref().map(|l| l.line));
    for entry in s.add_header.iter().flat_map(|l| l.value.iter()) {
        let (name, value, always) = match entry.as_slice() {
            [n, v] => (n, v, false),
            [n, v, a] if a == "always" => (n, v, true),
            _ => {
                return Err(ctx
                    .err(ah_line, format!("invalid number of arguments {entry:?}"))
                    .directive("add_header"))
            }
        };
        add_header.push(AddHeader {
            name: bytes::Bytes::copy_from_slice(name.as_bytes()),
            value: template(ctx, ah_line, "add_header", value)?,
            always,
        });
    }

    let mut error_pages = Vec::new();
    let ep_line = line_of(s.error_page.as_ref().map(|l| l.line));
    for ep in s.error_page.iter().flat_map(|l| l.value.iter()) {
        let status = match &ep.status {
            None => None,
            Some(ErrorPageStatus::Code(c)) => Some(*c),
            Some(ErrorPageStatus::FromPage(s)) if s == "=" => Some(0),
            Some(ErrorPageStatus::FromPage(s)) => {
                return Err(ctx
                    .err(ep_line, format!("invalid value \"{s}\""))
                    .directive("error_page"))
            }
        };
        let target = if let Some(name) = ep.page.strip_prefix('@') {
            ErrorTarget::Named(name.to_string())
        } else if ep.page.starts_with('/') {
            ErrorTarget::Uri(template(ctx, ep_line, "error_page", &ep.page)?)
        } else {
            ErrorTarget::Redirect(template(ctx, ep_line, "error_page", &ep.page)?)
        };
        for &code in &ep.codes {
            if !(300..=599).contains(&code) || code == 499 {
                return Err(ctx
                    .err(ep_line, format!("value \"{code}\" must be between 300 and 599"))
                    .directive("error_page"));
            }
            error_pages.push(ErrorPage {
                code,
                target: target.clone(),
                status,
            });
        }
    }

    let al_line = line_of(s.access_log.as_ref().map(|l| l.line));
    let access_log = match s.access_log.as_ref().map(|l| &l.value) {
        None => vec![ctx.access_log(ctx.default_access_log_line(), d::ACCESS_LOG, None)?],
        Some(AccessLogDef::One(l)) if l.trim() == "off" => Vec::new(),
        Some(AccessLogDef::One(l)) => vec![ctx.access_log_entry(al_line, l)?],
        Some(AccessLogDef::Many(v)) => {
            let mut out = Vec::new();
            for l in v {
                if l.trim() == "off" {
                    continue;
                }
                out.push(ctx.access_log_entry(al_line, l)?);
            }
            out
        }
    };

    let access = crate::access::AccessConf::compile(&s.access, &ctx.file, line)?;
    for k in s.keepalive_disable.iter().flatten() {
        if !matches!(k.as_str(), "none" | "msie6" | "safari") {
            return Err(ctx
                .err(line, format!("invalid value \"{k}\""))
                .directive("keepalive_disable"));
        }
    }

    let stat = Arc::new(crate::static_files::StaticConf::compile(ctx, &s.stat, line)?);
    let gzip = Arc::new(crate::filters::gzip::GzipConf::compile(&s.gzip, &ctx.file, line)?);
    let root = doc_root(ctx, s, line)?;
    let expires = match s.expires.as_deref() {
        None => crate::filters::expires::Expires::Off,
        Some(e) => {
            crate::filters::expires::Expires::parse(e).map_err(|m| ctx.err(line, m).directive("expires"))?
        }
    };
    let proxy = Arc::new(ProxyConf {
        connect_timeout: s.proxy_connect_timeout.map_or(d::PROXY_TIMEOUT, |v| v.0),
        read_timeout: s.proxy_read_timeout.map_or(d::PROXY_TIMEOUT, |v| v.0),
        send_timeout: s.proxy_send_timeout.map_or(d::PROXY_TIMEOUT, |v| v.0),
        http11,
        set_headers,
        skip_client,
        hide,
        buffer_size: s
            .proxy_buffer_size
            .map_or(d::PROXY_BUFFER_SIZE, |v| v.0)
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
    });
    let core = LocConf {
        gzip,
        root,
        expires,
        client_max_body_size: s.client_max_body_size.map_or(d::CLIENT_MAX_BODY_SIZE, |v| v.0),
        client_body_timeout: s.client_body_timeout.map_or(d::CLIENT_BODY_TIMEOUT, |v| v.0),
        send_timeout: s.send_timeout.map_or(d::SEND_TIMEOUT, |v| v.0),
        keepalive_timeout: s.keepalive_timeout.map_or(d::KEEPALIVE_TIMEOUT, |v| v.0),
        keepalive_requests: s.keepalive_requests.unwrap_or(d::KEEPALIVE_REQUESTS),
        keepalive_time: s.keepalive_time.map_or(d::KEEPALIVE_TIME, |v| v.0),
        add_header,
        error_pages,
        access_log,
        server_tokens: s.server_tokens.unwrap_or(true),
        msie_padding: s.msie_padding.unwrap_or(true),
        default_type: bytes::Bytes::copy_from_slice(
            s.default_type.as_deref().unwrap_or(d::DEFAULT_TYPE).as_bytes(),
        ),
        real_ip: s.real_ip.compile(&ctx.file, line)?.map(Arc::new),
        access,
        limit_rate: s.limit_rate.map_or(0, |v| v.0),
        limit_rate_after: s.limit_rate_after.map_or(0, |v| v.0),
        // nginx's default is `msie6` (ngx_http_core_merge_loc_conf).
        keepalive_disable_msie6: s
            .keepalive_disable
            .as_ref()
            .is_none_or(|v| v.iter().any(|k| k == "msie6")),
        keepalive_disable_safari: s
            .keepalive_disable
            .as_ref()
            .is_some_and(|v| v.iter().any(|k| k == "safari")),
        absolute_redirect: s.absolute_redirect.unwrap_or(true),
        port_in_redirect: s.port_in_redirect.unwrap_or(true),
        server_name_in_redirect: s.server_name_in_redirect.unwrap_or(false),
    };
    Ok(Resolved { core, proxy, stat })
}

/// `root` or `alias` (nginx's default root is `html`, relative to the prefix).
fn doc_root(ctx: &mut CompileCtx, s: &LocSettings, line: usize) -> Result<DocRoot, ConfigError> {
    let (root, is_alias) = match (&s.alias, &s.root) {
        (Some(a), _) => (a.as_str(), true),
        (None, Some(r)) => (r.as_str(), false),
        (None, None) => ("html", false),
    };
    Ok(DocRoot {
        root: template(ctx, line, if is_alias { "alias" } else { "root" }, root)?,
        is_alias,
        prefix: ctx.prefix.clone(),
    })
}

/// `proxy_redirect`: nginx's merge keeps the nearest level's list (the
/// settings are already merged all-or-nothing), `off` clears it.
fn proxy_redirect(
    ctx: &CompileCtx,
    s: &LocSettings,
    line: usize,
) -> Result<crate::proxy::redirect::Redirects, ConfigError> {
    let Some(l) = &s.proxy_redirect else {
        return Ok(crate::proxy::redirect::Redirects::Implicit);
    };
    let at = if l.line > 0 { l.line } else { line };
    let r =
        crate::proxy::redirect::compile(&l.value).map_err(|e| ctx.err(at, e).directive("proxy_redirect"))?;
    for t in crate::proxy::redirect::templates(&r) {
        ctx.check_vars(at, "proxy_redirect", t)?;
    }
    Ok(r)
}

/// `proxy_cookie_domain` / `proxy_cookie_path`, inherited like `proxy_redirect`.
fn proxy_cookie(
    ctx: &CompileCtx,
    attr: crate::proxy::cookie::Attr,
    name: &str,
    l: Option<&crate::config::Located<Vec<Vec<String>>>>,
    line: usize,
) -> Result<Vec<crate::proxy::cookie::Rule>, ConfigError> {
    let Some(l) = l else {
        return Ok(Vec::new());
    };
    let at = if l.line > 0 { l.line } else { line };
    let rules =
        crate::proxy::cookie::compile(attr, name, &l.value).map_err(|e| ctx.err(at, e).directive(name))?;
    for t in crate::proxy::cookie::templates(&rules) {
        ctx.check_vars(at, name, t)?;
    }
    Ok(rules)
}
