//! The `cargo test` entry point, `overbook::check::Check`, on the bundled
//! services: passes return reports, failures panic with the line that
//! replays them.

use overbook::check::Check;
use overbook_clinic::service::Clinic;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn sims() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sims")
}

/// The panic message of `run`, which must panic.
fn panic_message(run: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(run)).expect_err("the check should fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_passing_check_returns_one_report_per_seed() {
    let reports = Check::new(Clinic)
        .sims_dir(sims())
        .sim("units-burst")
        .seeds(1..=3)
        .run();
    let seeds: Vec<u64> = reports.iter().map(|r| r.seed).collect();
    // OVERBOOK_SEED / OVERBOOK_SEEDS may narrow or widen the range.
    if std::env::var("OVERBOOK_SEED").is_err() && std::env::var("OVERBOOK_SEEDS").is_err() {
        assert_eq!(seeds, vec![1, 2, 3]);
    }
    assert!(reports.iter().all(|r| r.passed));
}

#[test]
fn a_failing_check_panics_with_the_replay_command() {
    let message = panic_message(|| {
        Check::new(Clinic)
            .sims_dir(sims())
            .sim("units-burst")
            .variant("units/read-committed")
            .seeds(1..=3)
            .program("cargo run --release --")
            .run();
    });
    assert!(message.contains("units_conserved"), "{message}");
    assert!(
        message.contains("replay: cargo run --release -- replay --sim units-burst --seed "),
        "{message}"
    );
    assert!(
        message.contains("--variant units/read-committed"),
        "{message}"
    );
    assert!(message.contains("OVERBOOK_SEED="), "{message}");
}

#[test]
fn expect_failure_returns_the_failing_report_and_panics_when_nothing_fails() {
    let report = Check::new(Clinic)
        .sims_dir(sims())
        .sim("units-burst")
        .variant("units/read-committed")
        .seeds(1..=3)
        .expect_failure();
    assert!(!report.passed);
    let message = panic_message(|| {
        Check::new(Clinic)
            .sims_dir(sims())
            .sim("units-burst")
            .seeds(1..=2)
            .expect_failure();
    });
    assert!(message.contains("was not found"), "{message}");
    let message = panic_message(|| {
        Check::new(Clinic).variant("units/typo").run();
    });
    assert!(
        message.contains("unknown variant `units/typo`"),
        "{message}"
    );
}

#[test]
fn explore_passes_the_correct_service_and_prints_the_schedule_of_a_bug() {
    let report = Check::new(Clinic)
        .sims_dir(sims())
        .sim("explore-units")
        .explore(2, 1);
    assert!(report.exhausted && report.violations.is_empty());
    let message = panic_message(|| {
        Check::new(Clinic)
            .sims_dir(sims())
            .sim("explore-units")
            .variant("units/read-committed")
            .explore(2, 1);
    });
    assert!(message.contains("no_overbooking"), "{message}");
    assert!(
        message.contains("overbook explore explore-units --clients 2 --ops 1 --variant units/read-committed --replay dfs:2-clients:"),
        "{message}"
    );
}
