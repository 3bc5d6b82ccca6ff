//! The buffering directives' consistency checks (nginx/nginx:
//! src/http/modules/ngx_http_proxy_module.c, `ngx_http_proxy_merge_loc_conf`).
//!
//! rampart streams every response and request body through one bounded
//! buffer and never writes temp files, so `proxy_request_buffering`,
//! `proxy_buffers`, `proxy_busy_buffers_size`, `proxy_max_temp_file_size`
//! and `proxy_temp_file_write_size` tune nothing, and `proxy_buffering`
//! only decides whether gzip flushes after each upstream read
//! (`ProxyConf::buffering`).
//! They are still checked as nginx checks them, so that a config rampart
//! accepts is one nginx accepts too.

use super::settings::{ProxySettings, BUFFER_SIZE};
use crate::config::units::parse_bufs;

/// nginx's page size here, its default for `proxy_buffers 8 SIZE`.
const PAGE: u64 = 4096;

/// The directive an error is about, and nginx's wording.
pub type Error = (&'static str, String);

/// Checks the merged settings of a level like nginx's merge does.
pub fn validate(s: &ProxySettings) -> Result<(), Error> {
    let (num, one) = match s.proxy_buffers.as_deref() {
        None => (8, PAGE),
        Some(v) => parse_bufs(v).ok_or((
            "proxy_buffers",
            "\"proxy_buffers\" directive invalid value".to_string(),
        ))?,
    };
    if num < 2 {
        return Err((
            "proxy_buffers",
            "there must be at least 2 \"proxy_buffers\"".into(),
        ));
    }
    let size = s.proxy_buffer_size.map_or(BUFFER_SIZE, |v| v.0).max(one);
    let busy = s.proxy_busy_buffers_size.map_or(2 * size, |v| v.0);
    if busy < size {
        return Err(below_buffer("proxy_busy_buffers_size"));
    }
    if busy > (num - 1) * one {
        return Err((
            "proxy_busy_buffers_size",
            "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" minus one buffer".into(),
        ));
    }
    let write = s.proxy_temp_file_write_size.map_or(2 * size, |v| v.0);
    if write < size {
        return Err(below_buffer("proxy_temp_file_write_size"));
    }
    let max_temp = s.proxy_max_temp_file_size.map_or(1024 * 1024 * 1024, |v| v.0);
    if max_temp != 0 && max_temp < size {
        return Err((
            "proxy_max_temp_file_size",
            "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files usage or must be \
             equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \
             \"proxy_buffers\""
                .into(),
        ));
    }
    Ok(())
}

/// nginx's error for a size below one buffer.
fn below_buffer(name: &'static str) -> Error {
    (
        name,
        format!(
            "\"{name}\" must be equal to or greater than the maximum of the value of \
             \"proxy_buffer_size\" and one of the \"proxy_buffers\""
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::units::Size;

    fn settings(
        bufs: Option<&str>,
        buf: Option<u64>,
        busy: Option<u64>,
        write: Option<u64>,
        max: Option<u64>,
    ) -> ProxySettings {
        ProxySettings {
            proxy_buffers: bufs.map(str::to_string),
            proxy_buffer_size: buf.map(Size),
            proxy_busy_buffers_size: busy.map(Size),
            proxy_temp_file_write_size: write.map(Size),
            proxy_max_temp_file_size: max.map(Size),
            ..ProxySettings::default()
        }
    }

    /// proxy_buffers, proxy_buffer_size, busy, temp write, max temp, the directive named by the error.
    type Row = (
        Option<&'static str>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<&'static str>,
    );

    /// Each row checked with `nginx -t` (1.22.1, 4 KiB pages).
    #[test]
    fn checks_as_nginx_merge_does() {
        let k = 1024;
        let rows: &[Row] = &[
            (None, None, None, None, None, None),
            (Some("16 4k"), None, None, None, None, None),
            (Some("4 64k"), Some(64 * k), Some(128 * k), None, None, None),
            (Some("1 4k"), None, None, None, None, Some("proxy_buffers")),
            (
                Some("2 4k"),
                None,
                None,
                None,
                None,
                Some("proxy_busy_buffers_size"),
            ),
            (
                Some("8 4k"),
                None,
                Some(2 * k),
                None,
                None,
                Some("proxy_busy_buffers_size"),
            ),
            (
                Some("8 4k"),
                None,
                None,
                Some(2 * k),
                None,
                Some("proxy_temp_file_write_size"),
            ),
            (Some("8 4k"), None, None, None, Some(0), None),
            (
                Some("8 4k"),
                None,
                None,
                None,
                Some(2 * k),
                Some("proxy_max_temp_file_size"),
            ),
            (
                Some("8 4k"),
                Some(16 * k),
                None,
                None,
                None,
                Some("proxy_busy_buffers_size"),
            ),
            (Some("x 4k"), None, None, None, None, Some("proxy_buffers")),
            (Some("8 0"), None, None, None, None, Some("proxy_buffers")),
        ];
        for (bufs, buf, busy, write, max, want) in rows {
            let got = validate(&settings(*bufs, *buf, *busy, *write, *max))
                .err()
                .map(|e| e.0);
            assert_eq!(got, *want, "{bufs:?} {buf:?} {busy:?} {write:?} {max:?}");
        }
    }
}
