//! Sizes and durations written the way nginx reads them, so an operator can
//! copy values between nginx.conf and rampart.toml unchanged.
//!
//! Sizes (`ngx_parse_size`, nginx/nginx: src/core/ngx_parse.c): a number with
//! an optional `k`/`K`, `m`/`M` or `g`/`G` suffix. Durations (`ngx_parse_time`):
//! one or more `<number><unit>` groups with units `ms s m h d w M y`; a bare
//! number means seconds.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A byte count such as `8m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Size(pub u64);

/// A duration such as `60s` or `1h30m`, millisecond precision as nginx's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Size {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl Dur {
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Parses an nginx size. Errors are the text after "invalid value" in nginx.
pub fn parse_size(s: &str) -> Result<Size, String> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024u64),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid size \"{s}\""));
    }
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(Size)
        .ok_or_else(|| format!("invalid size \"{s}\""))
}

/// Parses an nginx time value: `500ms`, `60s`, `1h30m`, `75` (seconds).
pub fn parse_duration(s: &str) -> Result<Dur, String> {
    let t = s.trim();
    let bad = || format!("invalid time \"{t}\"");
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(|n| Dur(Duration::from_secs(n)))
            .map_err(|_| bad());
    }
    let b = t.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(bad());
        }
        let n: u64 = t[start..i].parse().map_err(|_| bad())?;
        let unit_ms: u64 = match (b.get(i), b.get(i + 1)) {
            (Some(b'm'), Some(b's')) => {
                i += 1;
                1
            }
            (Some(b's'), _) => 1000,
            (Some(b'm'), _) => 60_000,
            (Some(b'h'), _) => 3_600_000,
            (Some(b'd'), _) => 86_400_000,
            (Some(b'w'), _) => 7 * 86_400_000,
            (Some(b'M'), _) => 30 * 86_400_000,
            (Some(b'y'), _) => 365 * 86_400_000,
            (None, _) => 1000,
            _ => return Err(bad()),
        };
        if i < b.len() {
            i += 1;
        }
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(Dur(Duration::from_millis(total_ms)))
}

/// `ngx_parse_time(.., 1)`: `1y2M3w4d5h6m7s`, a bare number is seconds; each
/// unit at most once and in descending order.
pub fn parse_seconds(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut n: i64 = 0;
    let mut have_digits = false;
    let mut last_rank = 8;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            have_digits = true;
            continue;
        }
        let (rank, mul) = match c {
            b'y' => (7, 365 * 86400),
            b'M' => (6, 30 * 86400),
            b'w' => (5, 7 * 86400),
            b'd' => (4, 86400),
            b'h' => (3, 3600),
            b'm' => (2, 60),
            b's' => (1, 1),
            _ => return None,
        };
        if !have_digits || rank >= last_rank {
            return None;
        }
        last_rank = rank;
        total = total.checked_add(n.checked_mul(mul)?)?;
        n = 0;
        have_digits = false;
    }
    if have_digits {
        total = total.checked_add(n)?;
    }
    (total <= i64::from(i32::MAX)).then_some(total)
}

/// `"N SIZE"` (ngx_conf_set_bufs_slot): both positive. Used by
/// `values::bufs` and the runtime's `proxy_buffers` check.
pub fn parse_bufs(v: &str) -> Option<(u64, u64)> {
    let mut it = v.split_whitespace();
    // Digits only, as ngx_atoi: no sign.
    let n = it
        .next()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))?
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)?;
    let size = parse_size(it.next()?).ok()?.0;
    (size > 0 && it.next().is_none()).then_some((n, size))
}

/// Formats a size the shortest way nginx would accept back.
pub fn format_size(s: Size) -> String {
    let n = s.0;
    for (suffix, mult) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if n != 0 && n.is_multiple_of(mult) {
            return format!("{}{suffix}", n / mult);
        }
    }
    n.to_string()
}

/// Formats a duration the shortest way nginx would accept back.
pub fn format_duration(d: Dur) -> String {
    let ms = d.0.as_millis() as u64;
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    for (suffix, mult) in [("d", 86_400u64), ("h", 3600), ("m", 60)] {
        if s != 0 && s.is_multiple_of(mult) {
            return format!("{}{suffix}", s / mult);
        }
    }
    format!("{s}s")
}

/// TOML accepts a size as a string (`"8m"`) or an integer (bytes).
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"8m\", \"16k\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_size(*self))
    }
}

/// TOML accepts a duration as a string (`"60s"`) or an integer (seconds, as nginx).
impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"60s\", \"500ms\", \"1h\" or a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(Dur::secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("1024", 1024),
            ("1k", 1024),
            ("8m", 8 << 20),
            ("2K", 2048),
            ("1G", 1 << 30),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s), Ok(Size(*want)), "{s}");
        }
        for bad in ["", "k", "1kb", "-1", "1.5m", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad} must fail");
        }
    }

    #[test]
    fn durations() {
        let ok: &[(&str, u64)] = &[
            ("60", 60_000),
            ("60s", 60_000),
            ("500ms", 500),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("2w", 14 * 86_400_000),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(Dur::millis(*want)), "{s}");
        }
        for bad in ["", "s", "1x", "ms", "-5s", "1h 30m"] {
            assert!(parse_duration(bad).is_err(), "{bad} must fail");
        }
    }

    #[test]
    fn round_trip_formats() {
        for s in ["1k", "8m", "1g", "1000"] {
            assert_eq!(format_size(parse_size(s).unwrap()), s);
        }
        for s in ["500ms", "45s", "1m", "1h", "2d"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
