//! Replays every entry of the committed regression corpus (`seeds/`):
//! expected failures must still fail the same way, expected passes must
//! pass, and both must reproduce their trace hash.

use overbook::check::Check;
use overbook::service::Clinic;
use std::path::Path;

#[test]
fn every_corpus_entry_replays_with_its_outcome_and_trace_hash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let replayed = Check::new(Clinic)
        .sims_dir(root.join("sims"))
        .replay_corpus(root.join("seeds"));
    assert!(replayed >= 15, "{replayed} entries");
}
