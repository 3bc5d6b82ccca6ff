//! htpasswd files as nginx reads them (nginx/nginx:
//! src/http/modules/ngx_http_auth_basic_module.c, the `sw_login` /
//! `sw_passwd` / `sw_skip` scanner) and the hash formats of
//! src/core/ngx_crypt.c.
//!
//! Lookup: a line matches when it starts with exactly `user:`; the hash runs
//! to the next `:`, CR or LF (or the end of the file). A line starting with
//! `#` or CR is skipped; the first matching line wins. Nothing is trimmed.

use base64::Engine;
use sha1::{Digest, Sha1};

/// The hash stored for `user`, if a line names that user.
pub fn find_user<'a>(file: &'a [u8], user: &[u8]) -> Option<&'a [u8]> {
    for line in file.split(|&b| b == b'\n') {
        if line.first().is_some_and(|&b| b == b'#' || b == b'\r') {
            continue;
        }
        let Some(rest) = line.strip_prefix(user) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let end = rest
            .iter()
            .position(|&b| b == b':' || b == b'\r')
            .unwrap_or(rest.len());
        return rest.get(..end);
    }
    None
}

/// Whether `password` matches `hash`. As nginx, each scheme computes the
/// hash of the password in the stored format and compares whole strings, so
/// a non-canonical stored value never matches. Unknown formats go to
/// crypt(3) in nginx; here `$5$`/`$6$` (SHA-crypt) and `$1$` (MD5-crypt) are
/// supported and anything else fails to match (glibc's libxcrypt answers an
/// unknown salt with a failure token, which never matches either).
pub fn verify(password: &[u8], hash: &[u8]) -> bool {
    // ngx_crypt works on C strings: the password ends at its first NUL.
    let password = password.split(|&b| b == 0).next().unwrap_or(&[]);
    if let Some(h) = hash.strip_prefix(b"$apr1$") {
        return md5_crypt(password, b"$apr1$", h) == hash;
    }
    if let Some(p) = hash.strip_prefix(b"{PLAIN}") {
        return p == password;
    }
    if let Some(enc) = hash.strip_prefix(b"{SSHA}") {
        return ssha(password, enc) == enc;
    }
    if let Some(enc) = hash.strip_prefix(b"{SHA}") {
        let digest = Sha1::digest(password);
        return base64::engine::general_purpose::STANDARD
            .encode(digest)
            .as_bytes()
            == enc;
    }
    if let Some(h) = hash.strip_prefix(b"$1$") {
        return md5_crypt(password, b"$1$", h) == hash;
    }
    let (Ok(pw), Ok(h)) = (std::str::from_utf8(password), std::str::from_utf8(hash)) else {
        return false;
    };
    if hash.starts_with(b"$6$") {
        return sha_crypt::sha512_check(pw, h).is_ok();
    }
    if hash.starts_with(b"$5$") {
        return sha256_field_decodes(hash) && sha_crypt::sha256_check(pw, h).is_ok();
    }
    false
}

/// Whether the hash field of a `$5$` value (after its last `$`) is what
/// SHA-256-crypt writes: 43 characters of the crypt alphabet, the last one
/// carrying 4 bits. sha-crypt 0.5's `sha256_check` unwraps the decoding of
/// that field (it panics on anything else); any other field can never equal a
/// computed hash, so it does not match, as with crypt(3).
fn sha256_field_decodes(hash: &[u8]) -> bool {
    let field = hash.rsplit(|&b| b == b'$').next().unwrap_or_default();
    let value = |c: &u8| ITOA64.iter().position(|a| a == c);
    field.len() == 43 && field.iter().all(|c| value(c).is_some()) && field.last().and_then(value) < Some(16)
}

/// `{SSHA}`: base64(sha1(password + salt) + salt); the salt is what follows
/// the first 20 decoded bytes. Undecodable input means no salt, as in
/// `ngx_crypt_ssha`. Returns the base64 part to compare.
fn ssha(password: &[u8], enc: &[u8]) -> Vec<u8> {
    let decoded = super::auth_basic::decode_base64(enc).unwrap_or_default();
    let salt = decoded.get(20..).unwrap_or(&[]);
    let mut h = Sha1::new();
    h.update(password);
    h.update(salt);
    let mut out = h.finalize().to_vec();
    out.extend_from_slice(salt);
    base64::engine::general_purpose::STANDARD.encode(out).into_bytes()
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Poul-Henning Kamp's MD5-crypt, with `magic` `$1$` (crypt(3)) or `$apr1$`
/// (Apache; `ngx_crypt_apr1` in nginx/nginx: src/core/ngx_crypt.c).
/// `rest` is what follows the magic; the salt is up to 8 bytes before `$`.
fn md5_crypt(password: &[u8], magic: &[u8], rest: &[u8]) -> Vec<u8> {
    use md5::Md5;
    let salt_end = rest.iter().position(|&b| b == b'$').unwrap_or(rest.len()).min(8);
    let salt = rest.get(..salt_end).unwrap_or(&[]);

    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic);
    ctx.update(salt);
    let mut n = password.len();
    while n > 0 {
        let take = n.min(16);
        ctx.update(alt.get(..take).unwrap_or(&[]));
        n -= take;
    }
    let mut i = password.len();
    while i != 0 {
        if i & 1 != 0 {
            ctx.update([0u8]);
        } else {
            ctx.update(password.get(..1).unwrap_or(&[]));
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for r in 0..1000 {
        let mut c = Md5::new();
        if r & 1 != 0 {
            c.update(password);
        } else {
            c.update(fin);
        }
        if r % 3 != 0 {
            c.update(salt);
        }
        if r % 7 != 0 {
            c.update(password);
        }
        if r & 1 != 0 {
            c.update(fin);
        } else {
            c.update(password);
        }
        fin = c.finalize();
    }

    let mut out = Vec::with_capacity(magic.len() + salt.len() + 23);
    out.extend_from_slice(magic);
    out.extend_from_slice(salt);
    out.push(b'$');
    let f = |i: usize| u32::from(fin[i]);
    let groups = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)];
    for (a, b, c) in groups {
        push_b64(&mut out, (f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    push_b64(&mut out, f(11), 2);
    out
}

fn push_b64(out: &mut Vec<u8>, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(ITOA64[(v & 0x3f) as usize]);
        v >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_matches_nginx() {
        let file = b"# comment:x\nalice:{PLAIN}a1:comment\r\n\rbob:{PLAIN}b\r\nbob:{PLAIN}second\n carol:{PLAIN}c\nal:{PLAIN}short\ndave:{PLAIN}d";
        let table: &[(&[u8], Option<&[u8]>)] = &[
            (b"alice", Some(b"{PLAIN}a1")),
            (b"al", Some(b"{PLAIN}short")),
            // A line starting with CR is skipped whole, so the second bob wins.
            (b"bob", Some(b"{PLAIN}second")),
            // Leading spaces are part of the name.
            (b"carol", None),
            (b" carol", Some(b"{PLAIN}c")),
            // The last line needs no newline.
            (b"dave", Some(b"{PLAIN}d")),
            (b"# comment", None),
            (b"Alice", None),
            (b"nobody", None),
        ];
        for (user, want) in table {
            assert_eq!(find_user(file, user), *want, "{}", String::from_utf8_lossy(user));
        }
        assert_eq!(find_user(b"eve:", b"eve"), Some(&b""[..]));
    }

    // Hashes made with `openssl passwd -1/-5/-6/-apr1 -salt ...` and `htpasswd -s`.
    #[test]
    fn hash_formats() {
        let table: &[(&str, &str, bool)] = &[
            ("secret", "{PLAIN}secret", true),
            ("Secret", "{PLAIN}secret", false),
            ("secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", true),
            ("secret2", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", false),
            ("secret", "$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0", true),
            ("secreT", "$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0", false),
            ("secret", "$1$saltsalt$9xy1btjgzLYfb7hivXtC//", true),
            ("secreT", "$1$saltsalt$9xy1btjgzLYfb7hivXtC//", false),
            (
                "secret",
                "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA",
                true,
            ),
            (
                "secret",
                "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
                true,
            ),
            (
                "nope",
                "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
                false,
            ),
            ("secret", "garbage", false),
            ("", "", false),
            // A NUL ends the password as in C.
            ("secret\0junk", "{PLAIN}secret", true),
        ];
        for (pw, hash, want) in table {
            assert_eq!(verify(pw.as_bytes(), hash.as_bytes()), *want, "{pw} {hash}");
        }
    }

    #[test]
    fn ssha_roundtrip_and_bad_base64() {
        let salt = b"NaCl";
        let mut h = Sha1::new();
        h.update(b"pw");
        h.update(salt);
        let mut raw = h.finalize().to_vec();
        raw.extend_from_slice(salt);
        let stored = format!(
            "{{SSHA}}{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        assert!(verify(b"pw", stored.as_bytes()));
        assert!(!verify(b"pW", stored.as_bytes()));
        assert!(!verify(b"pw", b"{SSHA}!!!not base64"));
    }

    /// Found by the `htpasswd` fuzz target: sha-crypt 0.5's `sha256_check`
    /// unwraps its base64 decoding, so a `$5$` hash field that is not 43
    /// canonical characters panicked (on a request naming that user).
    #[test]
    fn malformed_sha256_field_does_not_match() {
        let good = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        assert!(verify(b"secret", good.as_bytes()));
        let base = &good[..good.len() - 1];
        for bad in [
            format!("{good}:comment"),
            format!("{base}z"),
            base.to_string(),
            format!("{base}!"),
            format!("{good}A"),
            "$5$saltsalt$".to_string(),
            "$5$rounds=1000$salt$".to_string(),
        ] {
            assert!(!verify(b"secret", bad.as_bytes()), "{bad}");
        }
    }
}
