//! Fuzz target `uri`: see rampart::fuzzing::uri (shared with tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart::fuzzing::uri(data));
