//! Fuzz target `proxy_protocol`: see rampart::fuzzing::proxy_protocol (shared with tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart::fuzzing::proxy_protocol(data));
