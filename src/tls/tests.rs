//! TLS loading rules: certificate/key pairing, expiry, protocol names.

use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
}

#[test]
fn der_times() {
    // UTCTime: 2020-02-01 00:00:00Z; GeneralizedTime: 2126-11-01 17:47:47Z.
    assert_eq!(der::parse_time(0x17, b"200201000000Z"), Some(1_580_515_200));
    assert_eq!(der::parse_time(0x17, b"700101000000Z"), Some(0));
    assert_eq!(der::parse_time(0x18, b"20000229120000Z"), Some(951_825_600));
    assert_eq!(der::parse_time(0x18, b"2000022912000"), None, "cut short");
    assert_eq!(der::parse_time(0x05, b"200201000000Z"), None);
    let der = |f: &str| {
        CertificateDer::from_pem_file(fixture(f))
            .unwrap()
            .as_ref()
            .to_vec()
    };
    assert_eq!(der::not_after(&der("a-expired.crt")), Some(1_580_515_200));
    assert!(der::not_after(&der("a.crt")).unwrap() > 4_000_000_000);
    assert_eq!(der::not_after(&[0x30, 0x82, 0xFF]), None);
}

#[test]
fn loading_certificates() {
    assert!(load_cert(&fixture("a.crt"), &fixture("a.key")).is_ok());
    let e = load_cert(&fixture("a-expired.crt"), &fixture("a.key")).unwrap_err();
    assert!(e.contains("has expired"), "{e}");
    let e = load_cert(&fixture("a.crt"), &fixture("b.key")).unwrap_err();
    assert!(e.contains("do not match"), "{e}");
    let e = load_cert(&fixture("nope.crt"), &fixture("a.key")).unwrap_err();
    assert!(e.contains("cannot load certificate"), "{e}");
    let e = load_cert(&fixture("a.key"), &fixture("a.key")).unwrap_err();
    assert!(e.contains("no certificate"), "{e}");
}

#[test]
fn protocols() {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let default = protocol_versions(None).unwrap();
    assert_eq!(default.len(), 1, "nginx 1.22's default has no TLSv1.3");
    assert_eq!(default[0].version, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(
        protocol_versions(Some(&s(&["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])))
            .unwrap()
            .len(),
        2
    );
    let only13 = protocol_versions(Some(&s(&["TLSv1.3"]))).unwrap();
    assert_eq!(only13.len(), 1);
    assert_eq!(only13[0].version, rustls::ProtocolVersion::TLSv1_3);
    assert!(protocol_versions(Some(&s(&["TLSv1.1"]))).is_err());
    assert!(protocol_versions(Some(&s(&["TLSv9"]))).is_err());
}

#[test]
fn cipher_names() {
    assert_eq!(
        openssl_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
        "TLS_AES_256_GCM_SHA384"
    );
    assert_eq!(
        openssl_name(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        "ECDHE-ECDSA-AES128-GCM-SHA256"
    );
}

#[test]
fn default_server_needs_a_certificate() {
    let v = policy(&spec(), &mut Vec::new()).unwrap();
    let names = vec![vec!["a.test".to_string()]];
    assert!(build(&names, vec![None], 0, &v, false).is_err());
    let c = load_cert(&fixture("a.crt"), &fixture("a.key")).unwrap();
    assert!(build(&names, vec![Some(c)], 0, &v, true).is_ok());
}

fn spec() -> PolicySpec<'static> {
    PolicySpec {
        protocols: None,
        ciphers: None,
        ecdh_curve: None,
        prefer_server_ciphers: false,
        session_cache: None,
        session_timeout: DEFAULT_SESSION_TIMEOUT,
        session_tickets: true,
    }
}

#[test]
fn policy_of_the_ssl_directives() {
    // nginx 1.22's defaults: TLS 1.2 only, HIGH:!aNULL:!MD5 (all six rustls
    // TLS 1.2 suites), tickets on, no session cache.
    let mut w = Vec::new();
    let p = policy(&spec(), &mut w).unwrap();
    assert_eq!(p.versions.len(), 1);
    assert_eq!(p.suites.len(), 3 + 6);
    assert!(p.ticketer.is_some());
    assert!(!p.sessions.can_cache());
    assert!(w.is_empty());

    // A string that keeps no rustls suite: an error with TLS 1.2 alone ...
    let only_cbc = PolicySpec {
        ciphers: Some("AES256-SHA"),
        ..spec()
    };
    let e = policy(&only_cbc, &mut w).err().unwrap();
    assert_eq!(e.0, "ssl_ciphers");
    // ... a warning and TLS 1.3 only when 1.3 is on.
    let both = ["TLSv1.2".to_string(), "TLSv1.3".to_string()];
    let p = policy(
        &PolicySpec {
            protocols: Some(&both),
            ..only_cbc
        },
        &mut w,
    )
    .unwrap();
    assert_eq!(p.versions.len(), 1);
    assert_eq!(p.suites.len(), 3);
    assert_eq!(w.len(), 1);

    let cache = ["shared:SSL:1m".to_string()];
    let p = policy(
        &PolicySpec {
            session_cache: Some(&cache),
            session_tickets: false,
            prefer_server_ciphers: true,
            ..spec()
        },
        &mut w,
    )
    .unwrap();
    assert!(p.sessions.can_cache() && p.ticketer.is_none() && p.prefer_server);
    let bad = ["shared:SSL".to_string()];
    let e = policy(
        &PolicySpec {
            session_cache: Some(&bad),
            ..spec()
        },
        &mut w,
    )
    .err()
    .unwrap();
    assert_eq!(e.0, "ssl_session_cache");
    let e = policy(
        &PolicySpec {
            ecdh_curve: Some("secp521r1"),
            ..spec()
        },
        &mut w,
    )
    .err()
    .unwrap();
    assert_eq!(e.0, "ssl_ecdh_curve");
}
