//! rampart: a layer-7 reverse proxy that reads nginx-style configuration and
//! behaves as nginx does where clients, upstreams and operators can see it.
//!
//! The crate is a library so that tests and benches can drive the real server
//! object; `src/main.rs` is only the command line around it.

pub mod access;
pub mod config;
pub mod control;
pub mod daemon;
pub mod exchange;
pub mod filters;
/// Fuzzing entry points (fuzz/, tests/fuzz_corpus.rs); not part of the product API.
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod http1;
pub mod log;
pub mod model;
pub mod proxy;
pub mod rewrite;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod static_files;
pub mod status;
pub mod tls;
pub mod upstream;
pub mod vars;

#[cfg(test)]
mod hostile_input_tests;
