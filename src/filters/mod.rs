//! Response filters and nginx's own responses.

pub mod expires;
pub mod gzip;
mod gzip_conf;
pub use gzip_conf::GzipSettings;
pub mod gzip_encoder;
pub mod isal;
pub mod libdeflate;
pub mod special;
/// The timing harness of isal.rs's ignored gain test.
#[cfg(all(test, feature = "isal"))]
mod timing;
pub mod user_agent;
