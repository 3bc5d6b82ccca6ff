//! Response filters and nginx's own responses.

pub mod special;
