//! Status lines as nginx writes them (nginx/nginx:
//! src/http/ngx_http_header_filter_module.c) and the version rampart answers as.

/// The version string in `Server:` and in error-page tails. rampart answers as
/// the nginx it replaces so that tooling and monitoring keep parsing it.
pub const NGINX_VERSION: &str = "1.22.1";

/// The reason phrase nginx puts on its status line. `None` for codes nginx
/// has no line for: it then sends `NNN ` (number and a space).
pub fn reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Large",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => return None,
    })
}

/// The status that goes on the wire: nginx's internal 494-497 are sent as 400.
pub fn wire_status(status: u16) -> u16 {
    match status {
        494..=497 => 400,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_wire_status() {
        assert_eq!(reason(302), Some("Moved Temporarily"));
        assert_eq!(reason(504), Some("Gateway Time-out"));
        assert_eq!(reason(499), None);
        assert_eq!(wire_status(494), 400);
    }
}
