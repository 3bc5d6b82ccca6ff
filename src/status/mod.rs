//! Status reporting: the connection counters behind stub_status and the
//! `$connections_*` variables.

pub mod counters;
pub mod metrics;
pub mod stub_status;
