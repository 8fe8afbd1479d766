//! The nightly pipeline end to end, as the workflow runs it: four shards of
//! `scripts/nightly-shard.sh` fuzz a planted bug (`units-burst` with
//! `units/read-committed`, two seeds each, swarm faults on), then
//! `scripts/nightly-merge.sh` merges and shrinks their findings into one
//! corpus folder and a step summary, and fails because they are new; run
//! again with that folder as the known corpus, it passes.

use crate::reports::{junit_counts, scratch};
use overbook::corpus::{entries, Entry};
use overbook::shrink::CaseSize;
use overbook_clinic::service::Clinic;
use std::path::Path;
use std::process::Command;

fn script(name: &str, args: &[&str], out: &Path, known: &Path) -> (i32, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(root.join("scripts").join(name))
        .args(args)
        .env("OVERBOOK", env!("CARGO_BIN_EXE_overbook"))
        .env("NIGHTLY_OUT", out)
        .env("NIGHTLY_KNOWN", known)
        .env("NIGHTLY_SIMS", "units-burst")
        .env("NIGHTLY_VARIANT", "units/read-committed")
        .env("NIGHTLY_SEEDS", "1..9")
        .env("NIGHTLY_JOBS", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("bash runs");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn nightly_scripts_merge_four_shards_into_one_shrunk_corpus_and_a_summary() {
    let out = scratch("nightly");
    let nothing_known = out.join("known-empty");
    std::fs::create_dir_all(&nothing_known).unwrap();
    let shards: Vec<_> = (0..4)
        .map(|k| {
            let out = out.clone();
            let known = nothing_known.clone();
            std::thread::spawn(move || {
                script("nightly-shard.sh", &[&k.to_string(), "4"], &out, &known)
            })
        })
        .collect();
    let mut found = 0;
    for (k, shard) in shards.into_iter().enumerate() {
        let (code, log) = shard.join().unwrap();
        assert_eq!(code, 0, "shard {k}: findings do not fail a shard\n{log}");
        let dir = out.join(format!("shard-{k}"));
        let junit = junit_counts(&dir.join("junit.xml"));
        assert_eq!(junit.tests, 2, "shard {k} ran seeds {k}+1 and {k}+5");
        found += entries(&dir.join("findings")).unwrap().len();
        assert_eq!(
            junit.failures,
            entries(&dir.join("findings")).unwrap().len()
        );
    }
    assert!(
        found >= 6,
        "the planted bug fails most seeds: {found} findings"
    );

    let (code, log) = script("nightly-merge.sh", &[], &out, &nothing_known);
    assert_eq!(code, 1, "new findings fail the merge\n{log}");
    let merged = entries(&out.join("merged")).unwrap();
    assert!(!merged.is_empty(), "{log}");
    assert!(
        merged.len() < found,
        "{found} findings deduplicated into {}\n{log}",
        merged.len()
    );
    let sims = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims");
    let mut identities = Vec::new();
    for path in &merged {
        let entry = Entry::load(path).unwrap();
        let scenario = entry.scenario(&Clinic, &sims).unwrap();
        let size = CaseSize::of(&Clinic, &scenario);
        assert!(size.users <= 3, "{}: not shrunk: {size:?}", path.display());
        assert!(entry.found_by.contains("shrunk by overbook corpus merge"));
        // The kept entry replays exactly: outcome and trace hash.
        entry
            .verify(&Clinic, &sims)
            .unwrap_or_else(|why| panic!("{}: {why}", path.display()));
        identities.push(overbook::corpus_merge::identity(&Clinic, &entry, &scenario));
    }
    let distinct: std::collections::BTreeSet<_> = identities.iter().collect();
    assert_eq!(
        distinct.len(),
        identities.len(),
        "one entry per identity: {identities:?}"
    );

    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("# overbook nightly"), "{summary}");
    for k in 0..4 {
        assert!(
            summary.contains(&format!("| shard-{k} | fuzz: 2 runs")),
            "{summary}"
        );
    }
    assert!(
        summary.contains(&format!(
            "{found} failing entries merged into {} distinct finding(s): **{} new**",
            merged.len(),
            merged.len()
        )),
        "{summary}"
    );
    assert!(
        summary.contains("| **new** | units-burst | units/read-committed |"),
        "{summary}"
    );
    let junit = junit_counts(&out.join("merged-junit.xml"));
    assert_eq!((junit.tests, junit.failures), (merged.len(), merged.len()));

    // The same night again, with the merged corpus as the known one:
    // nothing is new, and known findings are skipped, not failed.
    let known = out.join("merged");
    std::fs::remove_file(out.join("summary.md")).unwrap();
    let (code, log) = script("nightly-merge.sh", &[], &out, &known);
    assert_eq!(code, 0, "{log}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("**0 new**"), "{summary}");
    let junit = junit_counts(&out.join("merged-junit.xml"));
    assert_eq!((junit.failures, junit.skipped), (0, merged.len()));
    std::fs::remove_dir_all(&out).unwrap();
}
