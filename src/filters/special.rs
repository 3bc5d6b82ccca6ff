//! nginx's own responses: the built-in error pages
//! (`ngx_http_special_response_handler`, nginx/nginx:
//! src/http/ngx_http_special_response.c). The reason phrases and the version
//! are the leaf `crate::http::status`.

use crate::http::status::{reason, NGINX_VERSION};

const PADDING: &str = "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n";

/// True when nginx would append its friendly-error-page padding for this UA.
pub fn wants_padding(user_agent: Option<&[u8]>) -> bool {
    user_agent.is_some_and(|ua| {
        memchr::memmem::find(ua, b"MSIE ").is_some() || memchr::memmem::find(ua, b"Chrome/").is_some()
    })
}

/// The body of nginx's built-in page for `status`, or `None` when nginx sends
/// no body (1xx, 2xx other than the error set, 204, 304, unknown codes).
pub fn error_page_body(status: u16, server_tokens: bool, padding: bool) -> Option<Vec<u8>> {
    let (title, extra): (String, Option<&str>) = match status {
        494 => (
            "400 Request Header Or Cookie Too Large".into(),
            Some("Request Header Or Cookie Too Large"),
        ),
        495 => (
            "400 The SSL certificate error".into(),
            Some("The SSL certificate error"),
        ),
        496 => (
            "400 No required SSL certificate was sent".into(),
            Some("No required SSL certificate was sent"),
        ),
        497 => (
            "400 The plain HTTP request was sent to HTTPS port".into(),
            Some("The plain HTTP request was sent to HTTPS port"),
        ),
        // Two pages are titled differently from their status lines (nginx's
        // ngx_http_error_302_page / _401_page): "302 Found", "401 Authorization Required".
        302 => ("302 Found".into(), None),
        401 => ("401 Authorization Required".into(), None),
        301 | 303 | 307 | 308 | 400..=599 => (format!("{status} {}", reason(status)?), None),
        _ => return None,
    };
    let h1 = if extra.is_some() {
        "400 Bad Request".to_string()
    } else {
        title.clone()
    };
    let mut out = String::with_capacity(256);
    out.push_str("<html>\r\n<head><title>");
    out.push_str(&title);
    out.push_str("</title></head>\r\n<body>\r\n<center><h1>");
    out.push_str(&h1);
    out.push_str("</h1></center>\r\n");
    if let Some(e) = extra {
        out.push_str("<center>");
        out.push_str(e);
        out.push_str("</center>\r\n");
    }
    if server_tokens {
        out.push_str("<hr><center>nginx/");
        out.push_str(NGINX_VERSION);
        out.push_str("</center>\r\n");
    } else {
        out.push_str("<hr><center>nginx</center>\r\n");
    }
    out.push_str("</body>\r\n</html>\r\n");
    if padding && status >= 400 {
        for _ in 0..6 {
            out.push_str(PADDING);
        }
    }
    Some(out.into_bytes())
}

/// Codes after which nginx closes the connection even with keep-alive
/// (`ngx_http_special_response_handler`'s lingering/keepalive switch-off).
pub fn forces_close(status: u16) -> bool {
    matches!(status, 400 | 413 | 414 | 494..=497 | 500 | 501)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_match_nginx_bytes() {
        let p = String::from_utf8(error_page_body(404, true, false).unwrap()).unwrap();
        assert_eq!(
            p,
            "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n\
             <center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n\
             </body>\r\n</html>\r\n"
        );
        let p = String::from_utf8(error_page_body(494, false, false).unwrap()).unwrap();
        assert!(p.contains("<title>400 Request Header Or Cookie Too Large</title>"));
        assert!(p.contains("<h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large"));
        assert!(p.contains("<center>nginx</center>"));
        let padded = error_page_body(502, true, true).unwrap();
        assert_eq!(
            padded.len(),
            error_page_body(502, true, false).unwrap().len() + 6 * PADDING.len()
        );
        // nginx 1.22.1 (`return 302 URL;`, `return 401;`): titles differ from the status lines.
        let p = String::from_utf8(error_page_body(302, true, false).unwrap()).unwrap();
        assert!(p.starts_with(
            "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1>"
        ));
        assert_eq!(p.len(), 145);
        let p = String::from_utf8(error_page_body(401, true, false).unwrap()).unwrap();
        assert!(p.contains("<title>401 Authorization Required</title>"));
        assert_eq!(p.len(), 179);
        assert_eq!(error_page_body(301, true, false).unwrap().len(), 169);
        assert_eq!(error_page_body(307, true, false).unwrap().len(), 171);
        assert!(error_page_body(200, true, false).is_none());
        assert!(error_page_body(204, true, false).is_none());
        assert!(error_page_body(599, true, false).is_none());
    }

    #[test]
    fn msie_padding() {
        assert!(wants_padding(Some(b"Mozilla/5.0 Chrome/120.0")));
        assert!(!wants_padding(Some(b"curl/8.0")));
    }
}
