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

/// toml's span protocol (serde_spanned 0.6: the names `toml::Spanned` asks
/// for, and the keys toml then hands a visitor, in this order).
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";

/// From toml: the value with its line. From a buffer of serde's `flatten`
/// (a feature's section, config::section!), which has no spans: a list
/// value with line 0, so that errors about it name the line of its level.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, SeqAccess, Visitor};
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Located<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value with its position")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Located<T>, A::Error> {
                if m.next_key::<String>()?.as_deref() != Some(START) {
                    return Err(A::Error::custom("a table is not allowed here"));
                }
                let start: usize = m.next_value()?;
                if m.next_key::<String>()?.as_deref() != Some(END) {
                    return Err(A::Error::custom("a spanned value without its end"));
                }
                let _end: usize = m.next_value()?;
                if m.next_key::<String>()?.as_deref() != Some(VALUE) {
                    return Err(A::Error::custom("a spanned value without its value"));
                }
                let value = m.next_value()?;
                Ok(Located {
                    value,
                    line: current_line(start),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Located<T>, A::Error> {
                let value = T::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Located { value, line: 0 })
            }
        }
        d.deserialize_struct(SPANNED, &[START, END, VALUE], V(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Section {
        #[serde(default)]
        list: Option<Located<Vec<String>>>,
    }

    #[derive(Deserialize)]
    struct Level {
        name: Located<String>,
        #[serde(flatten)]
        section: Section,
    }

    #[test]
    fn lines_from_toml_and_none_through_flatten() {
        let text = "\nname = \"x\"\nlist = [\"a\", \"b\"]\n";
        let l: Level = with_source(text, || toml::from_str(text)).unwrap();
        assert_eq!((l.name.value.as_str(), l.name.line), ("x", 2));
        let list = l.section.list.unwrap();
        assert_eq!(list.value, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(list.line, 0, "a flattened section has no spans");
        let direct: std::collections::BTreeMap<String, Located<Vec<u8>>> =
            with_source("\n\nk = [1]\n", || toml::from_str("\n\nk = [1]\n")).unwrap();
        assert_eq!(direct["k"].line, 3);
    }
}
