//! `ssl_ciphers` and `ssl_ecdh_curve`: OpenSSL's strings mapped onto what
//! rustls implements.
//!
//! An operator's nginx.conf carries OpenSSL cipher strings such as
//! `HIGH:!aNULL:!MD5` or `ECDHE+AESGCM:CHACHA20`. rustls has six TLS 1.2
//! suites (ECDHE with ECDSA or RSA, AES-GCM or ChaCha20), all of which
//! OpenSSL also has, so the string is evaluated with OpenSSL's own rules
//! (ssl_cipher_process_rulestr in ssl/ssl_ciph.c) over those six: the result
//! is the same subset, in the same order, that `openssl ciphers` prints for
//! them (tests/tls_policy.rs checks that against the openssl binary).
//! As in OpenSSL, the string governs TLS 1.2 only; TLS 1.3 suites stay on.

use rustls::crypto::ring::cipher_suite as cs;
use rustls::crypto::ring::kx_group;
use rustls::crypto::SupportedKxGroup;
use rustls::SupportedCipherSuite;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Ecdsa,
    Rsa,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20,
}

/// One TLS 1.2 suite rustls offers, with the attributes OpenSSL's aliases test.
struct Suite {
    name: &'static str,
    auth: Auth,
    enc: Enc,
    suite: SupportedCipherSuite,
}

impl Suite {
    fn bits(&self) -> u32 {
        match self.enc {
            Enc::Aes128Gcm => 128,
            Enc::Aes256Gcm | Enc::Chacha20 => 256,
        }
    }
}

/// In OpenSSL's base order (`openssl ciphers ALL`, filtered to these six).
fn suites() -> [Suite; 6] {
    let s = |name, auth, enc, suite| Suite {
        name,
        auth,
        enc,
        suite,
    };
    [
        s(
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            Auth::Ecdsa,
            Enc::Aes256Gcm,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        s(
            "ECDHE-RSA-AES256-GCM-SHA384",
            Auth::Rsa,
            Enc::Aes256Gcm,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        s(
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            Auth::Ecdsa,
            Enc::Chacha20,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        s(
            "ECDHE-RSA-CHACHA20-POLY1305",
            Auth::Rsa,
            Enc::Chacha20,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        s(
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            Auth::Ecdsa,
            Enc::Aes128Gcm,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        s(
            "ECDHE-RSA-AES128-GCM-SHA256",
            Auth::Rsa,
            Enc::Aes128Gcm,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
    ]
}

/// Does the single word `w` (a cipher name or an alias) select `s`?
/// Aliases that select none of the six (RSA key exchange, DHE, PSK, SHA1
/// MACs, CBC, 3DES, MEDIUM, ...) and unknown words select nothing, as an
/// unknown word does in OpenSSL.
fn selects(w: &str, s: &Suite) -> bool {
    match w {
        "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" | "ECDH" | "TLSv1.2" => true,
        "aRSA" => s.auth == Auth::Rsa,
        "ECDSA" | "aECDSA" => s.auth == Auth::Ecdsa,
        "AES" | "AESGCM" | "FIPS" => s.enc != Enc::Chacha20,
        "AES128" => s.enc == Enc::Aes128Gcm,
        "AES256" => s.enc == Enc::Aes256Gcm,
        "CHACHA20" => s.enc == Enc::Chacha20,
        name => name == s.name,
    }
}

/// The TLS 1.2 suites `ssl_ciphers` selects, in the order it gives them.
/// Empty when it selects none of rustls's (the caller decides what that means).
pub fn tls12_suites(spec: &str) -> Vec<SupportedCipherSuite> {
    let all = suites();
    // OpenSSL's states: `order` holds the active suites in order; a suite
    // in `killed` can never come back (`!`); `-` only deactivates.
    let mut order: Vec<usize> = Vec::new();
    let mut killed = [false; 6];
    for elem in spec.split([':', ' ', ',', ';']).filter(|e| !e.is_empty()) {
        if elem == "@STRENGTH" {
            // Stable sort by strength, strongest first (ssl_cipher_strength_sort).
            order.sort_by_key(|&i| std::cmp::Reverse(all[i].bits()));
            continue;
        }
        if elem.starts_with('@') {
            continue; // @SECLEVEL=n: rustls has no weak suites to exclude.
        }
        let (op, words) = match elem.as_bytes()[0] {
            b'!' | b'-' | b'+' => (elem.as_bytes()[0], &elem[1..]),
            _ => (b' ', elem),
        };
        // `A+B` selects what every one of its words selects.
        let matched: Vec<usize> = (0..all.len())
            .filter(|&i| words.split('+').all(|w| !w.is_empty() && selects(w, &all[i])))
            .collect();
        match op {
            b'!' => {
                for &i in &matched {
                    killed[i] = true;
                }
                order.retain(|i| !matched.contains(i));
            }
            b'-' => order.retain(|i| !matched.contains(i)),
            b'+' => {
                // Active matches move to the end, keeping their order.
                let (moved, kept): (Vec<usize>, Vec<usize>) = order.iter().partition(|i| matched.contains(i));
                order = kept;
                order.extend(moved);
            }
            _ => {
                for i in matched {
                    if !killed[i] && !order.contains(&i) {
                        order.push(i);
                    }
                }
            }
        }
    }
    order.into_iter().map(|i| all[i].suite).collect()
}

/// rustls's TLS 1.3 suites, always offered (OpenSSL's `ssl_ciphers` does not
/// touch TLS 1.3 either).
pub fn tls13_suites() -> Vec<SupportedCipherSuite> {
    vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ]
}

/// `ssl_ecdh_curve auto | NAME[:NAME...]` → key exchange groups, in order.
/// Curves OpenSSL knows but rustls does not (P-521, X448) are skipped and
/// reported in the second value; a name OpenSSL would not know is an error,
/// as is a list left empty.
pub fn kx_groups(spec: &str) -> Result<(Vec<&'static dyn SupportedKxGroup>, Vec<String>), String> {
    if spec == "auto" {
        return Ok((rustls::crypto::ring::default_provider().kx_groups, Vec::new()));
    }
    let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut skipped = Vec::new();
    for name in spec.split(':').filter(|n| !n.is_empty()) {
        let g: &'static dyn SupportedKxGroup = match name {
            "X25519" | "x25519" => kx_group::X25519,
            "prime256v1" | "P-256" | "secp256r1" => kx_group::SECP256R1,
            "secp384r1" | "P-384" => kx_group::SECP384R1,
            "secp521r1" | "P-521" | "X448" | "x448" => {
                skipped.push(name.to_string());
                continue;
            }
            other => return Err(format!("unknown curve \"{other}\" in \"ssl_ecdh_curve\"")),
        };
        if !groups.iter().any(|x| x.name() == g.name()) {
            groups.push(g);
        }
    }
    if groups.is_empty() {
        return Err(format!(
            "\"ssl_ecdh_curve {spec}\" leaves no curve rustls implements (X25519, prime256v1, secp384r1)"
        ));
    }
    Ok((groups, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &str) -> Vec<&'static str> {
        let all = suites();
        tls12_suites(spec)
            .into_iter()
            .map(|s| {
                all.iter()
                    .find(|x| x.suite.suite() == s.suite())
                    .map_or("?", |x| x.name)
            })
            .collect()
    }

    const E256: &str = "ECDHE-ECDSA-AES256-GCM-SHA384";
    const R256: &str = "ECDHE-RSA-AES256-GCM-SHA384";
    const ECHA: &str = "ECDHE-ECDSA-CHACHA20-POLY1305";
    const RCHA: &str = "ECDHE-RSA-CHACHA20-POLY1305";
    const E128: &str = "ECDHE-ECDSA-AES128-GCM-SHA256";
    const R128: &str = "ECDHE-RSA-AES128-GCM-SHA256";

    /// Expected values are what `openssl ciphers -s -tls1_2 SPEC` (OpenSSL
    /// 3.0) prints, filtered to the six suites.
    #[test]
    fn cipher_strings_as_openssl() {
        let all = vec![E256, R256, ECHA, RCHA, E128, R128];
        let table: Vec<(&str, Vec<&str>)> = vec![
            ("HIGH:!aNULL:!MD5", all.clone()),
            ("ALL", all.clone()),
            ("DEFAULT", all.clone()),
            ("aRSA", vec![R256, RCHA, R128]),
            ("RSA", vec![]),
            ("kRSA", vec![]),
            ("ECDSA", vec![E256, ECHA, E128]),
            ("AESGCM", vec![E256, R256, E128, R128]),
            ("AES128", vec![E128, R128]),
            ("CHACHA20", vec![ECHA, RCHA]),
            ("SHA256", vec![]),
            ("ECDHE+AESGCM", vec![E256, R256, E128, R128]),
            ("CHACHA20:HIGH", vec![ECHA, RCHA, E256, R256, E128, R128]),
            ("HIGH:+CHACHA20", vec![E256, R256, E128, R128, ECHA, RCHA]),
            ("HIGH:-AES256:AES", vec![ECHA, RCHA, E128, R128, E256, R256]),
            ("HIGH:!AES256:AES", vec![ECHA, RCHA, E128, R128]),
            ("bogus", vec![]),
            ("bogus:HIGH", all.clone()),
            ("EECDH+AESGCM:EDH+AESGCM", vec![E256, R256, E128, R128]),
            (
                "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
                vec![R128, E256],
            ),
            ("AES256+EECDH:AES256+EDH:!aNULL", vec![E256, R256]),
            ("AES128:HIGH:@STRENGTH", vec![E256, R256, ECHA, RCHA, E128, R128]),
            ("HIGH:@SECLEVEL=2", all.clone()),
            ("AES128 CHACHA20,AES256", vec![E128, R128, ECHA, RCHA, E256, R256]),
            ("", vec![]),
        ];
        for (spec, want) in table {
            assert_eq!(names(spec), want, "ssl_ciphers {spec:?}");
        }
    }

    #[test]
    fn curves() {
        let (g, skipped) = kx_groups("X25519:secp521r1:prime256v1").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(skipped, vec!["secp521r1".to_string()]);
        assert!(kx_groups("auto").unwrap().0.len() >= 3);
        assert!(kx_groups("secp521r1").is_err());
        assert!(kx_groups("brainpool").is_err());
    }
}
