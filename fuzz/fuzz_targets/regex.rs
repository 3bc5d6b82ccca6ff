//! Fuzz target `regex`: see rampart::fuzzing::regex (shared with tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart::fuzzing::regex(data));
