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
    let v = protocol_versions(None).unwrap();
    let names = vec![vec!["a.test".to_string()]];
    assert!(build(&names, vec![None], 0, &v, Default::default()).is_err());
    let c = load_cert(&fixture("a.crt"), &fixture("a.key")).unwrap();
    assert!(build(&names, vec![Some(c)], 0, &v, Default::default()).is_ok());
}
