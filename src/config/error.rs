//! Configuration errors. Every error names the file and, where known, the
//! line and the directive, in nginx's shape, so an operator who knows
//! `nginx -t` reads it at once:
//! `rampart: [emerg] invalid value "8x" in "client_max_body_size" directive in /etc/rampart.toml:12`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is not tied to one line.
    pub line: usize,
    /// The directive (or TOML key) at fault, when one is.
    pub directive: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(file: &Path, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line,
            directive: None,
            message: message.into(),
        }
    }

    pub fn directive(mut self, name: &str) -> ConfigError {
        self.directive = Some(name.to_string());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(d) = &self.directive {
            write!(f, " in \"{d}\" directive")?;
        }
        write!(f, " in {}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
