//! Replays every entry of the committed regression corpus (`seeds/`):
//! expected failures must still fail the same way, expected passes must
//! pass, and both must reproduce their trace hash.

use overbook::check::Check;
use overbook_clinic::service::Clinic;
use std::path::Path;

#[test]
fn every_corpus_entry_replays_with_its_outcome_and_trace_hash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let replayed = Check::new(Clinic)
        .sims_dir(root.join("sims"))
        .replay_corpus(root.join("seeds"));
    assert!(replayed >= 15, "{replayed} entries");
}

/// A corpus entry naming a variant its service does not declare is an
/// input error at that line, not a run of the correct version.
#[test]
fn an_entry_with_an_unknown_variant_names_its_line() {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds/units-burst--units-read-committed--1.toml"),
    )
    .unwrap();
    let line = good
        .lines()
        .position(|l| l.starts_with("variant = "))
        .expect("a variant line")
        + 1;
    let err = overbook::corpus::Entry::parse_for(
        &Clinic,
        &good.replace("units/read-committed", "units/nope"),
        "seeds/x.toml",
    )
    .unwrap_err();
    assert_eq!(err.line, Some(line), "{err}");
    assert!(err.to_string().contains("unknown variant"), "{err}");
}
