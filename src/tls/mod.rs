//! TLS for `listen ... ssl` with rustls; ALPN offers `h2` too on `listen ... ssl http2`.
//! The `ssl_*` policy directives are resolved by `policy`, with the help of
//! ciphers.rs (cipher strings, curves) and session.rs (resumption).
//!
//! Per address, one acceptor whose certificate resolver picks the server by
//! SNI with the same name table as Host (nginx: ngx_http_ssl_servername in
//! src/http/ngx_http_request.c uses ngx_http_find_virtual_server), falling
//! back to the default server's certificate. Certificates are read when a
//! config is compiled, so a reload (SIGHUP) re-reads them, and a bad one fails
//! that reload while the running config, old certificates included, goes on.
//!
//! Deviation from nginx, asked for by issue 8: a certificate that does not
//! match its key is refused (nginx refuses that too: "key values mismatch"),
//! and so is an expired one (nginx would load it and serve it).

pub mod ciphers;
pub mod session;

pub use crate::http::conn::TlsInfo;
use crate::routing::server_name::NameTable;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;

/// One server block's TLS settings, already loaded.
#[derive(Clone)]
pub struct ServerCert {
    pub key: Arc<CertifiedKey>,
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCert")
    }
}

/// The acceptor of one `ssl` address.
#[derive(Clone)]
pub struct TlsListener {
    pub acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsListener")
    }
}

/// `ssl_protocols`: rustls speaks TLS 1.2 and 1.3 only; older names are
/// accepted and have no effect. The default is nginx 1.22's
/// (`TLSv1 TLSv1.1 TLSv1.2`, ngx_http_ssl_module.c; TLSv1.3 joined it only in
/// 1.23.4), so without the directive clients get TLS 1.2, as from nginx 1.22.
pub fn protocol_versions(
    list: Option<&[String]>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let default = ["TLSv1".to_string(), "TLSv1.1".to_string(), "TLSv1.2".to_string()];
    let list = list.unwrap_or(&default);
    let mut v = Vec::new();
    for p in list {
        match p.as_str() {
            "TLSv1.2" => v.push(&rustls::version::TLS12),
            "TLSv1.3" => v.push(&rustls::version::TLS13),
            "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1" => {}
            other => return Err(format!("invalid value \"{other}\" in \"ssl_protocols\"")),
        }
    }
    if v.is_empty() {
        return Err("\"ssl_protocols\" enables neither TLSv1.2 nor TLSv1.3, the only ones supported".into());
    }
    Ok(v)
}

/// Reads a PEM certificate chain and its key, and checks that they belong
/// together and that the leaf is not expired.
pub fn load_cert(cert: &Path, key: &Path) -> Result<ServerCert, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot load certificate \"{}\": {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot load certificate \"{}\": {e}", cert.display()))?;
    let Some(leaf) = certs.first() else {
        return Err(format!(
            "cannot load certificate \"{}\": no certificate in it",
            cert.display()
        ));
    };
    if let Some(not_after) = der::not_after(leaf.as_ref()) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if not_after < now {
            return Err(format!("certificate \"{}\" has expired", cert.display()));
        }
    }
    let pk = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot load certificate key \"{}\": {e}", key.display()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&pk)
        .map_err(|e| format!("cannot load certificate key \"{}\": {e}", key.display()))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| {
        format!(
            "certificate \"{}\" and key \"{}\" do not match (key values mismatch): {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(ServerCert { key: Arc::new(ck) })
}

/// Picks the certificate by SNI.
#[derive(Debug)]
struct SniResolver {
    names: NameTable,
    certs: Vec<Option<ServerCert>>,
    default: usize,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let idx = match hello.server_name() {
            Some(sni) => self.names.find(Some(sni.to_ascii_lowercase().as_bytes())).0,
            None => self.default,
        };
        self.certs
            .get(idx)
            .and_then(Option::as_ref)
            .or_else(|| self.certs.get(self.default).and_then(Option::as_ref))
            .map(|c| c.key.clone())
    }
}

/// A server's TLS settings other than its certificate, resolved from the
/// `ssl_*` directives (the default server's apply to its address).
#[derive(Clone)]
pub struct TlsPolicy {
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// TLS 1.3 suites, then the TLS 1.2 ones `ssl_ciphers` selects, in its order.
    pub suites: Vec<rustls::SupportedCipherSuite>,
    pub kx_groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
    /// `ssl_prefer_server_ciphers on`.
    pub prefer_server: bool,
    pub sessions: Arc<dyn rustls::server::StoresServerSessions>,
    /// `None` with `ssl_session_tickets off`.
    pub ticketer: Option<Arc<dyn rustls::server::ProducesTickets>>,
}

impl std::fmt::Debug for TlsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPolicy")
    }
}

/// The `ssl_*` directives of one server, as configured.
pub struct PolicySpec<'a> {
    pub protocols: Option<&'a [String]>,
    pub ciphers: Option<&'a str>,
    pub ecdh_curve: Option<&'a str>,
    pub prefer_server_ciphers: bool,
    pub session_cache: Option<&'a [String]>,
    pub session_timeout: std::time::Duration,
    pub session_tickets: bool,
}

/// nginx's `ssl_ciphers` default (ngx_http_ssl_module.c, NGX_DEFAULT_CIPHERS).
pub const DEFAULT_CIPHERS: &str = "HIGH:!aNULL:!MD5";
/// nginx's `ssl_session_timeout` default.
pub const DEFAULT_SESSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Resolves a server's `ssl_*` directives. An error comes with the
/// directive at fault; `warnings` gets what is accepted but cannot take effect.
pub fn policy(
    spec: &PolicySpec<'_>,
    warnings: &mut Vec<String>,
) -> Result<TlsPolicy, (&'static str, String)> {
    let mut versions = protocol_versions(spec.protocols).map_err(|e| ("ssl_protocols", e))?;
    let ciphers = spec.ciphers.unwrap_or(DEFAULT_CIPHERS);
    let tls12 = ciphers::tls12_suites(ciphers);
    if tls12.is_empty()
        && versions
            .iter()
            .any(|v| v.version == rustls::ProtocolVersion::TLSv1_2)
    {
        if versions.len() == 1 {
            return Err((
                "ssl_ciphers",
                format!(
                    "\"ssl_ciphers {ciphers}\" selects none of the TLSv1.2 cipher suites rustls implements (ECDHE with AES-GCM or CHACHA20-POLY1305)"
                ),
            ));
        }
        warnings.push(format!(
            "\"ssl_ciphers {ciphers}\" selects none of the TLSv1.2 cipher suites rustls implements: only TLSv1.3 is offered"
        ));
        versions.retain(|v| v.version != rustls::ProtocolVersion::TLSv1_2);
    }
    let mut suites = ciphers::tls13_suites();
    suites.extend(tls12);
    let (kx_groups, skipped) =
        ciphers::kx_groups(spec.ecdh_curve.unwrap_or("auto")).map_err(|e| ("ssl_ecdh_curve", e))?;
    for c in skipped {
        warnings.push(format!(
            "curve \"{c}\" in \"ssl_ecdh_curve\" is not implemented by rustls, skipped"
        ));
    }
    let plan = session::parse_cache(spec.session_cache.unwrap_or(&["none".to_string()]))
        .map_err(|e| ("ssl_session_cache", e))?;
    Ok(TlsPolicy {
        versions,
        suites,
        kx_groups,
        prefer_server: spec.prefer_server_ciphers,
        sessions: session::storage(&plan, spec.session_timeout),
        ticketer: if spec.session_tickets {
            session::ticketer(spec.session_timeout)
        } else {
            None
        },
    })
}

/// Builds the acceptor of one address from its servers (names and
/// certificates in server order) and the default server's index.
pub fn build(
    names: &[Vec<String>],
    certs: Vec<Option<ServerCert>>,
    default: usize,
    policy: &TlsPolicy,
    http2: bool,
) -> Result<TlsListener, String> {
    if certs.get(default).and_then(Option::as_ref).is_none() {
        return Err("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive".into());
    }
    let (table, _) = NameTable::build(names, default).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: policy.suites.clone(),
        kx_groups: policy.kx_groups.clone(),
        ..rustls::crypto::ring::default_provider()
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&policy.versions)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver {
            names: table,
            certs,
            default,
        }));
    // nginx offers h2 only on `listen ... http2` addresses, and prefers it.
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    cfg.ignore_client_order = policy.prefer_server;
    cfg.session_storage = policy.sessions.clone();
    if let Some(t) = &policy.ticketer {
        cfg.ticketer = t.clone();
    }
    Ok(TlsListener {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
    })
}

/// The variables' view of a finished handshake.
pub fn info(conn: &rustls::ServerConnection) -> TlsInfo {
    TlsInfo {
        protocol: match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "",
        },
        cipher: conn
            .negotiated_cipher_suite()
            .map_or("", |s| openssl_name(s.suite())),
        server_name: conn.server_name().map(Into::into),
    }
}

/// rustls suite → the OpenSSL name nginx's `$ssl_cipher` prints.
fn openssl_name(s: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match s {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

/// Just enough DER to find a certificate's notAfter (RFC 5280 §4.1).
mod der {
    /// (tag, content, rest)
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *b.first()?;
        let first = *b.get(1)?;
        let (len, hdr) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | usize::from(*b.get(2 + i)?);
            }
            (len, 2 + n)
        };
        let content = b.get(hdr..hdr.checked_add(len)?)?;
        Some((tag, content, b.get(hdr + len..)?))
    }

    /// Seconds since the epoch of the leaf's notAfter, if it can be read.
    pub fn not_after(cert: &[u8]) -> Option<i64> {
        let (_, cert, _) = tlv(cert)?;
        let (_, mut tbs, _) = tlv(cert)?;
        // [0] version is optional.
        if tbs.first() == Some(&0xA0) {
            tbs = tlv(tbs)?.2;
        }
        let rest = tlv(tbs)?.2; // serial
        let rest = tlv(rest)?.2; // signature algorithm
        let rest = tlv(rest)?.2; // issuer
        let (_, validity, _) = tlv(rest)?;
        let after = tlv(validity)?.2;
        let (tag, t, _) = tlv(after)?;
        parse_time(tag, t)
    }

    /// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ).
    pub fn parse_time(tag: u8, t: &[u8]) -> Option<i64> {
        let digits = |s: &[u8]| -> Option<i64> {
            s.iter().try_fold(0i64, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
            })
        };
        let (year, rest) = match tag {
            0x17 => {
                let yy = digits(t.get(0..2)?)?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, t.get(2..)?)
            }
            0x18 => (digits(t.get(0..4)?)?, t.get(4..)?),
            _ => return None,
        };
        let f = |i: usize| rest.get(i..i + 2).and_then(digits);
        let (mo, d, h, mi, s) = (f(0)?, f(2)?, f(4)?, f(6)?, f(8)?);
        // Days from civil (Howard Hinnant's algorithm).
        let y = if mo <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + h * 3600 + mi * 60 + s)
    }
}

#[cfg(test)]
mod tests;
