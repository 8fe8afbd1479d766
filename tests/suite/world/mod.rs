//! The turmoil world end to end: determinism, the report's numbers, and
//! every planted bug caught by a sim.

mod write_skew;

use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::{System, Variant};
use overbook::world::{self, run_seeds, RunOptions};
use overbook_clinic::service::Clinic;
use std::path::Path;

fn sim(name: &str) -> Scenario {
    Scenario::load_for(
        &Clinic,
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sims")
            .join(format!("{name}.toml")),
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn same_seed_same_trace_hash_and_report() {
    let scenario = sim("units-burst");
    let first = world::run(&Clinic, &scenario, Seed(7), Variant::CORRECT);
    let second = world::run(&Clinic, &scenario, Seed(7), Variant::CORRECT);
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(
        first, second,
        "the whole report is equal, not only the hash"
    );
    let other = world::run(&Clinic, &scenario, Seed(8), Variant::CORRECT);
    assert_ne!(
        first.trace_hash, other.trace_hash,
        "another seed, another run"
    );
}

#[test]
fn tracing_does_not_change_the_run() {
    let scenario = sim("rooms-storm");
    let plain = world::run(&Clinic, &scenario, Seed(3), Variant::CORRECT);
    let traced = world::run_with(
        &Clinic,
        &scenario,
        Seed(3),
        Variant::CORRECT,
        RunOptions { trace: true },
    );
    assert_eq!(plain.trace_hash, traced.trace_hash);
    assert!(
        traced.trace.len() > plain.requests.total as usize,
        "requests and transactions are traced"
    );
    assert!(plain.trace.is_empty());
}

#[test]
fn units_contention_gives_exactly_five_reservations() {
    // The full 60 s Artillery scenario; more seeds with OVERBOOK_SEEDS=N,
    // and `overbook fuzz units-contention --seeds 1..1001` for many.
    let scenario = sim("units-contention");
    for report in run_seeds(
        &Clinic,
        &scenario,
        "sims/units-contention.toml",
        Variant::CORRECT,
        1..=1,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    {
        assert_eq!(
            report.requests.by_op["reserve"]["201"],
            5,
            "{}",
            report.summary_line()
        );
        assert_eq!(report.users.finished, 3000);
    }
}

#[test]
fn burst_contention_gives_exactly_five_for_every_seed() {
    let scenario = sim("units-burst");
    let reports = run_seeds(
        &Clinic,
        &scenario,
        "sims/units-burst.toml",
        Variant::CORRECT,
        1..=5,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for report in reports {
        assert_eq!(report.requests.by_op["reserve"]["201"], 5);
        assert_eq!(report.requests.by_op["reserve"]["409"], 95);
    }
}

#[test]
fn light_sims_pass_with_the_correct_services() {
    for name in [
        "board-stale-client",
        "rooms-storm",
        "rooms-conflict",
        "units-burst",
    ] {
        let scenario = sim(name);
        run_seeds(
            &Clinic,
            &scenario,
            &format!("sims/{name}.toml"),
            Variant::CORRECT,
            1..=3,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn heavy_sims_pass_with_the_correct_services() {
    // One seed each; the CLI sweeps more (see the README).
    for name in ["board-moves", "rooms-rules", "clinic-day"] {
        let scenario = sim(name);
        run_seeds(
            &Clinic,
            &scenario,
            &format!("sims/{name}.toml"),
            Variant::CORRECT,
            1..=1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn rooms_conflict_books_exactly_ten_of_fifty() {
    let report = world::run(&Clinic, &sim("rooms-conflict"), Seed(4), Variant::CORRECT);
    assert!(report.passed, "{}", report.render());
    assert_eq!(report.requests.by_op["book"]["201"], 10);
    assert_eq!(report.requests.by_op["book"]["409"], 40);
}

/// Every planted bug, the sim that catches it, and the invariant it breaks.
const PLANTED: [(&str, &str, &[&str]); 7] = [
    (
        "units/read-committed",
        "units-burst",
        &["units_conserved", "no_overbooking"],
    ),
    (
        "units/no-idempotency",
        "clinic-day",
        &["exactly_once_reservation"],
    ),
    (
        "board/no-version-check",
        "board-stale-client",
        &["no_lost_update"],
    ),
    (
        "board/version-not-incremented",
        "board-stale-client",
        &["version_monotonic"],
    ),
    (
        "rooms/check-then-insert-repeatable-read",
        "rooms-conflict",
        &["no_room_double_booking"],
    ),
    (
        "rooms/inclusive-end",
        "rooms-rules",
        &["no_room_double_booking"],
    ),
    (
        "rooms/stale-availability-cache",
        "rooms-storm",
        &["no_room_double_booking"],
    ),
];

#[test]
fn every_planted_bug_is_caught_within_three_seeds() {
    for (variant_name, sim_name, invariants) in PLANTED {
        let variant = Clinic
            .variant(variant_name)
            .expect("planted variant exists");
        let scenario = sim(sim_name);
        let caught = (1..=3).find_map(|seed| {
            let report = world::run(&Clinic, &scenario, Seed(seed), variant);
            report.violation.map(|v| (seed, v))
        });
        let (seed, violation) = caught
            .unwrap_or_else(|| panic!("{variant_name} not caught by {sim_name} in seeds 1..=3"));
        assert!(
            invariants.contains(&violation.invariant.as_str()),
            "{variant_name} on {sim_name} seed {seed} broke {} ({}), expected one of {invariants:?}",
            violation.invariant,
            violation.message
        );
        assert!(
            !violation.recent_events.is_empty(),
            "a violation carries the events before it"
        );
    }
}

#[test]
fn a_violation_replays_exactly() {
    let scenario = sim("rooms-conflict");
    let variant = variant("rooms/check-then-insert-repeatable-read");
    let first = world::run(&Clinic, &scenario, Seed(2), variant);
    let again = world::run(&Clinic, &scenario, Seed(2), variant);
    let (a, b) = (
        first.violation.expect("bug caught"),
        again.violation.expect("bug caught again"),
    );
    assert_eq!(
        (a.invariant, a.step, a.sim_time_ms, a.message),
        (b.invariant, b.step, b.sim_time_ms, b.message)
    );
    assert_eq!(first.trace_hash, again.trace_hash);
}

#[test]
fn a_stuck_run_is_a_liveness_violation_not_a_hang() {
    // Clients that wait longer than the scenario lets them.
    let scenario = sim("rooms-storm")
        .with_overrides(&[
            "run.drain_s=1".into(),
            // max first: every override must leave a valid scenario.
            "store.latency.max_ms=3000".into(),
            "store.latency.min_ms=3000".into(),
            "client.timeout_ms=60000".into(),
        ])
        .unwrap();
    // By default the world reports the first handler stuck past 1.5 s
    // while nothing commits, before the deadline.
    let report = world::run(&Clinic, &scenario, Seed(1), Variant::CORRECT);
    let violation = report.violation.expect("liveness violation");
    assert_eq!(violation.invariant, "liveness");
    assert!(
        violation.message.contains("without answering"),
        "{}",
        violation.message
    );
    // Without that bound, users still running at the deadline.
    let unbounded = scenario
        .with_overrides(&["liveness.request_ms_max=0".into()])
        .unwrap();
    let report = world::run(&Clinic, &unbounded, Seed(1), Variant::CORRECT);
    let violation = report.violation.expect("liveness violation");
    assert_eq!(violation.invariant, "liveness");
    assert!(
        violation.message.contains("still running"),
        "{}",
        violation.message
    );
}

#[test]
fn seeds_come_from_the_environment_when_set() {
    // Only the default path is testable without racing other tests on the
    // process environment.
    if std::env::var("OVERBOOK_SEED").is_err() && std::env::var("OVERBOOK_SEEDS").is_err() {
        assert_eq!(world::seeds_from_env(3..=5).unwrap(), vec![3, 4, 5]);
    }
}

/// A declared variant of the bundled services.
fn variant(name: &str) -> Variant {
    Clinic.variant(name).expect("declared variant")
}

#[test]
fn a_run_that_sends_nothing_fails_instead_of_passing() {
    let scenario = sim("units-burst")
        .with_overrides_for(&Clinic, &["workload.ops_per_user=0".into()])
        .unwrap();
    let report = world::run(&Clinic, &scenario, Seed(1), Variant::CORRECT);
    assert!(!report.passed);
    let error = report.harness_error.expect("an error, not a pass");
    assert!(error.contains("nothing was tested"), "{error}");
}

#[test]
fn arrival_jitter_lets_seeds_differ_where_even_spacing_cannot() {
    // units-contention spaces 3,000 arrivals 20 ms apart: at Read Committed
    // without jitter no two reserves overlap, with jitter they meet.
    let pinned = sim("units-contention")
        .with_overrides_for(&Clinic, &["phases.0.duration_s=4".into()])
        .unwrap();
    let jittered = pinned
        .with_overrides_for(&Clinic, &["run.arrival_jitter=1.0".into()])
        .unwrap();
    let bug = variant("units/read-committed");
    let even_failures = (1..=4)
        .filter(|&seed| {
            world::run(&Clinic, &pinned, Seed(seed), bug)
                .violation
                .is_some()
        })
        .count();
    let jittered_failures = (1..=4)
        .filter(|&seed| {
            world::run(&Clinic, &jittered, Seed(seed), bug)
                .violation
                .is_some()
        })
        .count();
    assert_eq!(even_failures, 0, "evenly spaced arrivals never overlap");
    assert!(
        jittered_failures > 0,
        "jittered arrivals overlap on some seed"
    );
}

use crate::cli::toy::Toy;

fn toy_run(variant_name: &str, extra: &str) -> overbook::world::Report {
    // Twenty users each draw one ping from 0 to 9; 7 is the unlucky one.
    let text = format!(
        "name = \"toy\"\n[[phases]]\nduration_s = 1\narrival_rate = 0\nburst = 20\n{extra}"
    );
    let scenario = Scenario::parse(&text, "toy.toml").unwrap();
    let variant = Toy.variant(variant_name).unwrap();
    world::run(&Toy, &scenario, Seed(1), variant)
}

#[test]
fn a_panic_in_a_handler_or_a_user_is_a_finding_of_the_run() {
    assert!(toy_run("correct", "").passed);
    let report = toy_run("toy/panic", "");
    let violation = report.violation.expect("the panic is reported");
    assert_eq!(violation.invariant, "panic");
    assert!(
        violation
            .message
            .contains("a request handler panicked: toy handler: ping 7"),
        "{}",
        violation.message
    );
    assert!(violation.step > 0, "found at its step, not at the start");
    let report = toy_run("correct", "[workload]\nuser_panics = true\n");
    let violation = report.violation.expect("the panic is reported");
    assert_eq!(violation.invariant, "panic");
    assert!(
        violation.message.contains("panicked: toy user: drew 7"),
        "{}",
        violation.message
    );
}

#[test]
fn the_bundled_services_pass_with_clock_pause_and_spike_faults() {
    // Clocks off by up to 500 ms, rare host pauses of up to 1 s holding
    // their locks, and spikes: the correct services decide nothing on an
    // API server's clock that another server must agree with.
    let faults: Vec<String> = [
        "faults.clock.offset_ms_max=500",
        "faults.clock.drift_ppm_max=200",
        "faults.pause.probability=0.0005",
        "faults.pause.max_ms=1000",
        "faults.spike.probability=0.005",
        "faults.spike.commit_probability=0.01",
        "faults.buggify.enabled=true",
    ]
    .map(String::from)
    .to_vec();
    for name in [
        "units-burst",
        "rooms-storm",
        "rooms-conflict",
        "board-stale-client",
    ] {
        let scenario = sim(name).with_overrides(&faults).unwrap();
        let reports = run_seeds(&Clinic, &scenario, name, Variant::CORRECT, 1..=3)
            .unwrap_or_else(|err| panic!("{err}"));
        let traced = world::run_with(
            &Clinic,
            &scenario,
            Seed(1),
            Variant::CORRECT,
            RunOptions { trace: true },
        );
        assert_eq!(traced.trace_hash, reports[0].trace_hash, "{name}");
        let clocks = traced.faults.iter().filter(|f| f.contains(": clock api-"));
        assert_eq!(
            clocks.count(),
            scenario.topology.api_servers as usize,
            "{name}"
        );
    }
}
