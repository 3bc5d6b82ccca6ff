//! Fuzz target `nginx_conf`: see rampart::fuzzing::nginx_conf (shared with tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart::fuzzing::nginx_conf(data));
