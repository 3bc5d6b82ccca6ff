//! Response filters and nginx's own responses.

pub mod expires;
pub mod special;
