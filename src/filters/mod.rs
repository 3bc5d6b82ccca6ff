//! Response filters and nginx's own responses.

pub mod expires;
pub mod gzip;
pub mod gzip_encoder;
pub mod isal;
pub mod libdeflate;
pub mod special;
#[cfg(test)]
mod timing;
pub mod user_agent;
