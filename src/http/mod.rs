//! The leaf HTTP module: types and tables the server and the features share
//! (../shared/DESIGN.md, "Layering"). It imports nothing of rampart.

pub mod buf_pool;
pub mod conn;
pub mod date;
pub mod response;
pub mod status;
