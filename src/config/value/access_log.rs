//! The `access_log` parameters (ngx_http_log_set_log), checked by the
//! nginx.conf front end and compiled by the runtime.

use crate::config::units::{parse_duration, parse_size};
use std::time::Duration;

/// The parameters after `access_log PATH FORMAT` (ngx_http_log_set_log).
///
/// `buffer=SIZE` and `flush=TIME` are checked as nginx checks them and then
/// met by rampart's own log writer, which always buffers: lines are kept per
/// worker thread and written at least every ~100 ms (and whenever 32 KiB
/// gather), so a line reaches the file no later than nginx's `flush=` would
/// deliver it for any flush time of 100 ms or more. `gzip` compresses each
/// written batch into its own gzip member, as nginx does per buffer.
#[derive(Debug, Default, PartialEq)]
pub struct AccessLogParams {
    pub buffer: Option<u64>,
    pub flush: Option<Duration>,
    pub cond: Option<String>,
    /// `gzip[=LEVEL]` (1..9, default 1).
    pub gzip: Option<u32>,
}

/// Parses the parameters; the error is nginx's wording (or rampart's for gzip).
pub fn access_log_params<'a>(words: impl Iterator<Item = &'a str>) -> Result<AccessLogParams, String> {
    let mut p = AccessLogParams::default();
    for w in words {
        if let Some(v) = w.strip_prefix("buffer=") {
            let size = parse_size(v)
                .ok()
                .filter(|s| s.0 > 0)
                .ok_or_else(|| format!("invalid buffer size \"{v}\""))?;
            p.buffer = Some(size.0);
        } else if let Some(v) = w.strip_prefix("flush=") {
            let t = parse_duration(v)
                .ok()
                .filter(|t| !t.0.is_zero())
                .ok_or_else(|| format!("invalid flush time \"{v}\""))?;
            p.flush = Some(t.0);
        } else if w == "gzip" {
            p.gzip = Some(1);
        } else if let Some(v) = w.strip_prefix("gzip=") {
            let level = v
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=9).contains(l))
                .ok_or_else(|| format!("invalid compression level \"{v}\""))?;
            p.gzip = Some(level);
        } else if let Some(v) = w.strip_prefix("if=") {
            p.cond = Some(v.to_string());
        } else {
            return Err(format!("invalid parameter \"{w}\""));
        }
    }
    if p.flush.is_some() && p.buffer.is_none() {
        return Err("no buffer is defined for access_log".into());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_parameters() {
        let ok = access_log_params("buffer=32k flush=5s if=$loggable".split(' ')).unwrap();
        assert_eq!(
            ok,
            AccessLogParams {
                buffer: Some(32768),
                flush: Some(Duration::from_secs(5)),
                cond: Some("$loggable".into()),
                gzip: None,
            }
        );
        assert_eq!(
            access_log_params("buffer=8k gzip".split(' ')).unwrap().gzip,
            Some(1)
        );
        assert_eq!(access_log_params("gzip=9".split(' ')).unwrap().gzip, Some(9));
        assert_eq!(
            access_log_params(std::iter::empty()).unwrap(),
            AccessLogParams::default()
        );
        let bad: &[(&str, &str)] = &[
            ("buffer=0", "invalid buffer size \"0\""),
            ("buffer=x", "invalid buffer size \"x\""),
            ("buffer=1k flush=0", "invalid flush time \"0\""),
            ("flush=1s", "no buffer is defined for access_log"),
            ("gzip=0", "invalid compression level \"0\""),
            ("gzip=10", "invalid compression level \"10\""),
            ("bogus=1", "invalid parameter \"bogus=1\""),
        ];
        for (words, want) in bad {
            assert_eq!(access_log_params(words.split(' ')).unwrap_err(), *want, "{words}");
        }
    }
}
