//! Fuzz target `http1_request`: see rampart::fuzzing::http1_request (shared with tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart::fuzzing::http1_request(data));
