//! Values that remember the line of the config file they came from, so that
//! errors found after parsing (while compiling the snapshot) still name
//! `file:line`, as nginx's `[emerg] ... in /etc/nginx/nginx.conf:12` does.
//!
//! The TOML deserializer only knows byte spans; the loader installs the file's
//! line index in a thread-local for the duration of one `toml::from_str` call,
//! and `Located`'s `Deserialize` turns the span into a line number there.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;

/// A config value with its 1-based source line (0 = unknown, e.g. built in).
#[derive(Debug, Clone, Default)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

impl<T> Located<T> {
    pub fn new(value: T, line: usize) -> Located<T> {
        Located { value, line }
    }
}

/// Equality ignores the line: the same config written in TOML or nginx.conf
/// (whose lines differ) must compare equal (`rampart convert`'s round trip).
impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

thread_local! {
    static LINE_STARTS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` (a deserialization of `source`) with `source`'s line index installed.
pub fn with_source<R>(source: &str, f: impl FnOnce() -> R) -> R {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    LINE_STARTS.with(|l| *l.borrow_mut() = starts);
    let r = f();
    LINE_STARTS.with(|l| l.borrow_mut().clear());
    r
}

/// 1-based line of byte `offset` in `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn current_line(offset: usize) -> usize {
    LINE_STARTS.with(|l| {
        let l = l.borrow();
        if l.is_empty() {
            0
        } else {
            l.partition_point(|&s| s <= offset)
        }
    })
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(d)?;
        let line = current_line(spanned.span().start);
        Ok(Located {
            value: spanned.into_inner(),
            line,
        })
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}
