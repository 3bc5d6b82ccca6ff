//! `section!`: how a feature declares the settings it owns, as an nginx
//! module declares its loc conf and its `ngx_command_t` array.
//!
//! A section is one struct of `Option` fields, one per directive (the field
//! name is the directive's name and its rampart.toml key). The macro gives it:
//! - serde (each field optional; `model` flattens the section into the http,
//!   server and location tables, so the TOML keys stay where nginx has them);
//! - `inherit`: nginx's merge, an unset field takes the enclosing level's;
//! - `directive`: the nginx.conf front end's setter, from the slot kind given
//!   after `=` (nginx's `ngx_conf_set_*_slot`), with nginx's wording for bad
//!   values and duplicates. A field without a kind is set by the feature's
//!   own function, named with `custom = path;` (allow/deny: two directives,
//!   one ordered list).
//!
//! Slot kinds: `flag` (on/off), `size` (a `Size`), `size_bytes` (a size as
//! `u64`), `msec`, `string` (the first argument), `args` (all arguments),
//! `joined` (all arguments joined by a space), `number`, `one_of("a", "b")`
//! (nginx's enum slot). A new directive of an existing section is one field here and
//! one entry in `config::nginx::directives`; the feature reads the field
//! when it compiles its conf.
//!
//! A field that keeps its line for errors (`Located<T>`) must hold a list:
//! rampart.toml's values reach a section through serde's `flatten` buffer,
//! which carries no toml span (a list arrives with line 0 and model::load
//! sets the key's line afterwards; a scalar would not deserialize).

use super::nginx::parser::Directive;
use super::nginx::values;
use super::ConfigError;

/// The outcome of offering a directive to a section.
pub type Offer = Option<Result<(), ConfigError>>;

/// What a feature's compile step needs of the config being compiled
/// (runtime::CompileCtx implements it): where errors point, the prefix
/// relative paths resolve against, and templates checked for variables
/// nginx would not know.
pub trait Context {
    /// The config file, for errors.
    fn file(&self) -> &std::path::Path;
    /// nginx's prefix (`-p`).
    fn prefix(&self) -> &std::path::Path;
    /// `s` compiled as a template, with nginx's `unknown "x" variable`.
    fn template(&self, line: usize, directive: &str, s: &str) -> Result<crate::vars::Template, ConfigError>;
    /// nginx's `unknown "x" variable` for a template made elsewhere.
    fn check_vars(&self, line: usize, directive: &str, t: &crate::vars::Template) -> Result<(), ConfigError>;
    /// An error about a value of `directive` at `line`.
    fn err(&self, line: usize, directive: &str, msg: String) -> ConfigError {
        ConfigError::new(self.file(), line, msg).directive(directive)
    }
    /// An error at `line`; the caller names the directive.
    fn err_at(&self, line: usize, msg: String) -> ConfigError {
        ConfigError::new(self.file(), line, msg)
    }
}

/// `one_of` slots: the value when it is one of `words`, else nginx's
/// `invalid value "x"` (ngx_conf_set_enum_slot).
pub fn one_of(d: &Directive, words: &[&str]) -> Result<String, ConfigError> {
    let v = values::first(d);
    if words.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(d.err(format!("invalid value \"{v}\"")))
    }
}

/// `number` slots (ngx_conf_set_num_slot).
pub fn number(d: &Directive) -> Result<u64, ConfigError> {
    values::number(values::first(d)).ok_or_else(|| values::invalid_number(d))
}

/// The keys of a flattened table that neither its fields nor its sections
/// took: deserializing one is the error `unknown field `KEY``, as
/// `deny_unknown_fields` words it (model::load puts the key's line on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unknown;

impl<'de> serde::Deserialize<'de> for Unknown {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Unknown;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("no further keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unknown, A::Error> {
                match map.next_key::<String>()? {
                    Some(k) => Err(serde::de::Error::custom(format!("unknown field `{k}`"))),
                    None => Ok(Unknown),
                }
            }
        }
        d.deserialize_map(V)
    }
}

/// rampart.toml gives a section's values no line (serde's `flatten`):
/// model::load sets the line of each `Located` one afterwards, from the
/// key's position in the file. Every field type of a section implements it.
pub trait FixLine {
    fn fix(&mut self, key: &str, line_of: &dyn Fn(&str) -> Option<usize>);
}

impl<T> FixLine for Option<super::Located<T>> {
    fn fix(&mut self, key: &str, line_of: &dyn Fn(&str) -> Option<usize>) {
        if let Some(l) = self {
            if l.line == 0 {
                l.line = line_of(key).unwrap_or(0);
            }
        }
    }
}

macro_rules! no_line {
    ($($t:ty),*) => {$(
        impl FixLine for Option<$t> {
            fn fix(&mut self, _: &str, _: &dyn Fn(&str) -> Option<usize>) {}
        }
    )*};
}
no_line!(
    bool,
    u64,
    String,
    Vec<String>,
    Vec<(String, String)>,
    super::units::Size,
    super::units::Dur,
    std::collections::BTreeMap<String, Vec<String>>
);

#[macro_export]
#[doc(hidden)]
macro_rules! __section_slot {
    (flag, $d:expr) => {
        $crate::config::nginx::values::flag($d)
    };
    (size, $d:expr) => {
        $crate::config::nginx::values::size($d)
    };
    (msec, $d:expr) => {
        $crate::config::nginx::values::msec($d)
    };
    (number, $d:expr) => {
        $crate::config::section::number($d)
    };
    (string, $d:expr) => {
        Ok::<_, $crate::config::ConfigError>($crate::config::nginx::values::first($d).to_string())
    };
    (args, $d:expr) => {
        Ok::<_, $crate::config::ConfigError>($d.args.clone())
    };
    (joined, $d:expr) => {
        Ok::<_, $crate::config::ConfigError>($d.args.join(" "))
    };
    (size_bytes, $d:expr) => {
        $crate::config::nginx::values::size($d).map(|s| s.0)
    };
    (one_of, $d:expr, $($w:literal),+) => {
        $crate::config::section::one_of($d, &[$($w),+])
    };
}

/// Declares a feature's settings section (see the module's documentation).
#[macro_export]
macro_rules! section {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $(
                $(#[$fm:meta])*
                $f:ident : $t:ty $(= $kind:ident $( ( $($w:literal),+ ) )?)?,
            )*
        }
        $(custom = $custom:path;)?
    ) => {
        $(#[$sm])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $f: Option<$t>,
            )*
        }

        impl $name {
            /// The section's rampart.toml keys (its directives' names).
            pub const KEYS: &'static [&'static str] = &[$(stringify!($f)),*];

            /// rampart.toml: whether `text` (one `key = value` of this
            /// section, cut from the file) is a valid setting; the error is
            /// toml's message. How model::load names the key a flattened
            /// section refused.
            pub fn check_alone(text: &str) -> Result<(), String> {
                toml::from_str::<Self>(text)
                    .map(|_| ())
                    .map_err(|e| e.message().trim().to_string())
            }

            /// rampart.toml: the lines of the `Located` values, from their keys.
            pub fn fix_lines(&mut self, line_of: &dyn Fn(&str) -> Option<usize>) {
                $( $crate::config::section::FixLine::fix(&mut self.$f, stringify!($f), line_of); )*
            }

            /// nginx's merge: every field this level leaves unset comes from `parent`.
            pub fn inherit(&mut self, parent: &Self) {
                $( if self.$f.is_none() { self.$f = parent.$f.clone(); } )*
            }

            /// nginx.conf: sets the field of `d` (already checked against the
            /// directive table: context and argument count). `None` when `d`
            /// is not one of this section's directives.
            pub fn directive(
                &mut self,
                d: &$crate::config::nginx::parser::Directive,
            ) -> $crate::config::section::Offer {
                match d.name.as_str() {
                    $($(
                        stringify!($f) => Some(
                            $crate::__section_slot!($kind, d $(, $($w),+)?)
                                .and_then(|v| $crate::config::nginx::values::once(&mut self.$f, v, d)),
                        ),
                    )?)*
                    _ => {
                        $( return $custom(self, d); )?
                        #[allow(unreachable_code)]
                        None
                    }
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::test(name, args, "/t/n.conf", 3)
    }

    crate::section! {
        /// A section for the tests.
        pub struct Demo {
            demo_flag: bool = flag,
            demo_size: crate::config::units::Size = size,
            demo_word: String = one_of("all", "any"),
            demo_list: Vec<String> = args,
            demo_custom: Vec<String>,
        }
        custom = demo_custom;
    }

    fn demo_custom(s: &mut Demo, d: &Directive) -> Offer {
        (d.name == "demo_push").then(|| {
            s.demo_custom
                .get_or_insert_with(Vec::new)
                .push(values::first(d).to_string());
            Ok(())
        })
    }

    #[test]
    fn slots_set_fields_with_nginx_wording() {
        let mut s = Demo::default();
        assert_eq!(s.directive(&dir("demo_flag", &["on"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("demo_size", &["8k"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("demo_word", &["any"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("demo_list", &["a", "b"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("demo_push", &["x"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("demo_push", &["y"])), Some(Ok(())));
        assert_eq!(s.directive(&dir("something_else", &["x"])), None);
        assert_eq!(s.demo_flag, Some(true));
        assert_eq!(s.demo_size, Some(crate::config::units::Size(8192)));
        assert_eq!(s.demo_word.as_deref(), Some("any"));
        assert_eq!(s.demo_list, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(s.demo_custom, Some(vec!["x".to_string(), "y".to_string()]));

        let e = |r: Offer| r.unwrap().unwrap_err().to_string();
        assert_eq!(
            e(s.directive(&dir("demo_flag", &["off"]))),
            "\"demo_flag\" directive is duplicate in /t/n.conf:3"
        );
        assert_eq!(
            e(Demo::default().directive(&dir("demo_word", &["some"]))),
            "invalid value \"some\" in /t/n.conf:3"
        );
        assert_eq!(
            e(Demo::default().directive(&dir("demo_size", &["lots"]))),
            "\"demo_size\" directive invalid value in /t/n.conf:3"
        );
    }

    #[test]
    fn toml_keys_and_checks() {
        assert_eq!(
            Demo::KEYS,
            ["demo_flag", "demo_size", "demo_word", "demo_list", "demo_custom"]
        );
        assert!(Demo::check_alone("demo_flag = true").is_ok());
        assert!(Demo::check_alone("demo_flag = 3")
            .unwrap_err()
            .contains("invalid type"));
        let mut d = Demo::default();
        d.fix_lines(&|_| Some(9));
        assert_eq!(d, Demo::default(), "no Located field: nothing to set");
    }

    #[test]
    fn inherit_fills_only_unset_fields() {
        let parent = Demo {
            demo_flag: Some(true),
            demo_word: Some("all".into()),
            ..Demo::default()
        };
        let mut child = Demo {
            demo_word: Some("any".into()),
            ..Demo::default()
        };
        child.inherit(&parent);
        assert_eq!(child.demo_flag, Some(true));
        assert_eq!(child.demo_word.as_deref(), Some("any"));
        assert_eq!(child.demo_size, None);
    }
}
