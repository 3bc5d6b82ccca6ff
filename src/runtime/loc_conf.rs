//! Resolved per-location settings: the model's optional, inherited values
//! turned into concrete ones with nginx's defaults, compiled once per
//! location so that a request only reads plain fields.

use super::defaults as d;
use super::CompileCtx;
use crate::config::section::Context;
use crate::config::ConfigError;
use crate::exchange::doc_root::DocRoot;
use crate::exchange::loc_conf::{AddHeader, ErrorPage, ErrorTarget, LocConf};
use crate::model::{AccessLogDef, ErrorPageStatus, LocSettings};
use crate::proxy::conf::ProxyConf;
use std::sync::Arc;

/// One location's compiled settings: the core ones every phase reads, and
/// the proxy and static handlers' own, which the snapshot keeps beside them.
pub struct Resolved {
    pub core: LocConf,
    pub proxy: Arc<ProxyConf>,
    pub stat: Arc<crate::static_files::StaticConf>,
}

/// Resolves `s` (already merged with every enclosing level): the core
/// settings here, each feature's section by its own `compile`. `line` is
/// where the level starts, for errors about values without a line of their own.
pub fn resolve(ctx: &mut CompileCtx, s: &LocSettings, line: usize) -> Result<Resolved, ConfigError> {
    let line_of = |l: Option<usize>| l.filter(|&l| l > 0).unwrap_or(line);
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
            value: ctx.template(ah_line, "add_header", value)?,
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
            ErrorTarget::Uri(ctx.template(ep_line, "error_page", &ep.page)?)
        } else {
            ErrorTarget::Redirect(ctx.template(ep_line, "error_page", &ep.page)?)
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

    let proxy = Arc::new(ProxyConf::compile(ctx, &s.proxy, line)?);
    let stat = Arc::new(crate::static_files::StaticConf::compile(ctx, &s.stat, line)?);
    let gzip = Arc::new(crate::filters::gzip::GzipConf::compile(&s.gzip, &ctx.file, line)?);
    let root = doc_root(ctx, s, line)?;
    let expires = match s.expires.as_deref() {
        None => crate::filters::expires::Expires::Off,
        Some(e) => {
            crate::filters::expires::Expires::parse(e).map_err(|m| ctx.err(line, m).directive("expires"))?
        }
    };
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
        log_sent_headers: access_log.iter().any(|l| {
            let sent = |v: &crate::vars::Var| matches!(v, crate::vars::Var::SentHttp(_));
            l.format.template().vars().any(sent) || l.cond.as_ref().is_some_and(|c| c.vars().any(sent))
        }),
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
        root: ctx.template(line, if is_alias { "alias" } else { "root" }, root)?,
        is_alias,
        prefix: ctx.prefix.clone(),
    })
}
