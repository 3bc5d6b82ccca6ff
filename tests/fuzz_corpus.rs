//! Replays the committed fuzz corpora (`fuzz/corpus/TARGET/*`) through the
//! same functions the cargo-fuzz targets call (`rampart::fuzzing`), on stable
//! Rust, so `cargo test` (and `.ci/run`) keeps every input the fuzzer found
//! interesting passing without nightly. fuzz/README.md says how to fuzz.

use std::fs;
use std::path::Path;

#[test]
fn every_corpus_input_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut total = 0;
    for (name, target) in rampart::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus files in {}", dir.display());
        for path in &files {
            let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A panic names the input that caused it.
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{name}: {} panicked", path.display());
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus inputs");
}
