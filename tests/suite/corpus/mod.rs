//! Replays every entry of the committed regression corpus (`seeds/`):
//! expected failures must still fail the same way, expected passes must
//! pass, and both must reproduce their trace hash.

use overbook::corpus::{entries, Entry};
use std::path::Path;

#[test]
fn every_corpus_entry_replays_with_its_outcome_and_trace_hash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths = entries(&root.join("seeds")).unwrap_or_else(|e| panic!("{e}"));
    assert!(!paths.is_empty(), "the corpus has entries");
    let mut failures = Vec::new();
    for path in &paths {
        let entry = match Entry::load(path) {
            Ok(entry) => entry,
            Err(err) => {
                failures.push(format!("{err}"));
                continue;
            }
        };
        if let Err(why) = entry.verify(&root.join("sims")) {
            failures.push(format!(
                "{}: {why}\n  replay: {}",
                path.display(),
                entry.replay_command()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus entries failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}
