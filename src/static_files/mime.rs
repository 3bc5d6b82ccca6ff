//! `types { }` and `default_type` (nginx/nginx: src/http/ngx_http_core_module.c,
//! `ngx_http_core_types`, `ngx_http_set_content_type`): the MIME type of a
//! response is looked up by the lowercased extension of the final `$uri`.

use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Extension (lowercase) → MIME type.
#[derive(Debug, Clone, Default)]
pub struct Types {
    map: HashMap<Vec<u8>, Bytes>,
}

impl Types {
    /// nginx's built-in table when no `types` block applies: html, gif, jpg only.
    pub fn builtin() -> Types {
        let mut t = BTreeMap::new();
        t.insert("text/html".to_string(), vec!["html".to_string()]);
        t.insert("image/gif".to_string(), vec!["gif".to_string()]);
        t.insert("image/jpeg".to_string(), vec!["jpg".to_string()]);
        Types::from_model(&t)
    }

    /// From the model's `{ MIME = [EXT, ...] }`. An extension listed twice keeps
    /// the first type, as nginx (it warns "duplicate extension").
    pub fn from_model(m: &BTreeMap<String, Vec<String>>) -> Types {
        let mut map = HashMap::new();
        for (mime, exts) in m {
            for e in exts {
                map.entry(e.to_ascii_lowercase().into_bytes())
                    .or_insert_with(|| Bytes::copy_from_slice(mime.as_bytes()));
            }
        }
        Types { map }
    }

    pub fn lookup(&self, ext: &[u8]) -> Option<&Bytes> {
        if ext.iter().any(u8::is_ascii_uppercase) {
            self.map.get(&ext.to_ascii_lowercase())
        } else {
            self.map.get(ext)
        }
    }
}

/// `charset_types` default (ngx_http_charset_filter_module.c).
pub const DEFAULT_CHARSET_TYPES: &[&str] = &[
    "text/html",
    "text/xml",
    "text/plain",
    "text/vnd.wap.wml",
    "application/javascript",
    "application/rss+xml",
];

/// Appends `; charset=X` when the type (without parameters) is one of
/// `types` and has no parameters yet (ngx_http_charset_header_filter).
/// `text/html` is always among them; `*` matches any type.
pub fn with_charset(ct: &[u8], charset: Option<&Bytes>, types: &[Vec<u8>]) -> Option<Bytes> {
    let cs = charset?;
    if ct.contains(&b';') {
        return None;
    }
    let hit = ct.eq_ignore_ascii_case(b"text/html")
        || types
            .iter()
            .any(|t| t.as_slice() == b"*" || t.eq_ignore_ascii_case(ct));
    if !hit {
        return None;
    }
    let mut v = Vec::with_capacity(ct.len() + 10 + cs.len());
    v.extend_from_slice(ct);
    v.extend_from_slice(b"; charset=");
    v.extend_from_slice(cs);
    Some(Bytes::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_charset() {
        let b = Types::builtin();
        assert_eq!(b.lookup(b"HTML").map(|v| &v[..]), Some(&b"text/html"[..]));
        assert!(b.lookup(b"css").is_none());
        let mut m = BTreeMap::new();
        m.insert("application/javascript".to_string(), vec!["js".to_string()]);
        m.insert(
            "text/css".to_string(),
            vec!["css".to_string(), "CSS2".to_string()],
        );
        let t = Types::from_model(&m);
        assert_eq!(t.lookup(b"css2").map(|v| &v[..]), Some(&b"text/css"[..]));
        let cs = Bytes::from_static(b"utf-8");
        let types: Vec<Vec<u8>> = DEFAULT_CHARSET_TYPES
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let t = |ct: &str, c: Option<&Bytes>, ty: &[Vec<u8>]| with_charset(ct.as_bytes(), c, ty);
        assert_eq!(
            t("text/plain", Some(&cs), &types).as_deref(),
            Some(&b"text/plain; charset=utf-8"[..])
        );
        assert_eq!(t("text/css", Some(&cs), &types), None);
        assert_eq!(
            t("text/html", Some(&cs), &[]).as_deref(),
            Some(&b"text/html; charset=utf-8"[..])
        );
        assert_eq!(t("text/html; charset=x", Some(&cs), &types), None);
        assert_eq!(t("text/html", None, &types), None);
        assert!(t("image/png", Some(&cs), &[b"*".to_vec()]).is_some());
    }
}
