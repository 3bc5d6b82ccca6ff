//! The `disable_symlinks off | on | if_not_owner [from=PART]` value. The
//! checked open that applies it is `crate::static_files::symlinks`.

use crate::vars::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Off,
    On,
    IfNotOwner,
}

/// A location's `disable_symlinks`.
#[derive(Debug, Clone)]
pub struct Symlinks {
    pub mode: Mode,
    /// `from=PART` (may hold variables, e.g. `$document_root`).
    pub from: Option<Template>,
}

impl Default for Symlinks {
    fn default() -> Symlinks {
        Symlinks {
            mode: Mode::Off,
            from: None,
        }
    }
}

impl Symlinks {
    /// Parses the directive's arguments as written (`"on from=$document_root"`).
    pub fn parse(s: &str) -> Result<Symlinks, String> {
        let mut words = s.split_whitespace();
        let mode = match words.next() {
            Some("off") => Mode::Off,
            Some("on") => Mode::On,
            Some("if_not_owner") => Mode::IfNotOwner,
            Some(v) => {
                return Err(format!(
                    "invalid value \"{v}\", it must be \"off\", \"on\" or \"if_not_owner\""
                ))
            }
            None => return Err("invalid number of arguments".into()),
        };
        let mut from = None;
        for w in words {
            let Some(v) = w.strip_prefix("from=") else {
                return Err(format!("invalid parameter \"{w}\""));
            };
            if mode == Mode::Off {
                return Err("\"from=\" cannot be used with \"off\" parameter".into());
            }
            if from.is_some() {
                return Err(format!("invalid parameter \"{w}\""));
            }
            from = Some(Template::compile(v).map_err(|e| format!("invalid parameter \"{w}\": {e}"))?);
        }
        Ok(Symlinks { mode, from })
    }
}
