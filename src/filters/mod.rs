//! Response filters and nginx's own responses.

pub mod special;
pub mod user_agent;
