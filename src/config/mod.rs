//! The configuration syntax and its values, below every feature: the
//! nginx.conf lexer, parser and directive table (`nginx`), units and typed
//! directive values (`units`, `value`), source lines (`located`), the error
//! type naming file and line, and `section!`, with which a feature declares
//! the settings it owns. The model these fill (http/server/location, both
//! front ends) is `crate::model`, above the features.

pub mod error;
pub mod located;
pub mod nginx;
pub mod section;
pub mod units;
pub mod value;

pub use error::ConfigError;
pub use located::Located;
