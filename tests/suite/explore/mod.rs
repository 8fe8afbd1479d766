//! The model checker on the bundled explore-* scenarios: the correct
//! services explored exhaustively with pinned schedule counts and pinned
//! "sometimes" coverage, every planted bug found by DFS with a replayable
//! counterexample, and the reduction checked against the full search.

use overbook::explore::{
    explore, replay, service_scenario, services::service_model, services::ServiceState, Dfs,
    Limits, Model, Report,
};
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::service::Clinic;
use overbook::system::{System, Variant};
use std::collections::BTreeSet;
use std::path::Path;

fn model(sim: &str, variant: Variant, clients: u32, ops: u32) -> Model<ServiceState<Clinic>> {
    let scenario = Scenario::load_for(
        &Clinic,
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sims")
            .join(format!("{sim}.toml")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    service_model(
        &Clinic,
        sim,
        service_scenario(&Clinic, &scenario, variant, Seed(1), clients, ops)
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn reached(report: &Report) -> BTreeSet<&str> {
    report
        .sometimes
        .iter()
        .filter(|s| s.reached_by.is_some())
        .map(|s| s.name.as_str())
        .collect()
}

const RETRIED: &str = "a 40001 retried to success";
const CONFLICT: &str = "a 409 conflict answered";
const ALTERNATIVES: &str = "a 409 with alternatives";
const ALL_SUCCEEDED: &str = "every request succeeded";
const RESENT: &str = "a lost response resent";

/// A pinned exhaustive exploration: sim, clients, ops, schedules, distinct
/// final states, and the "sometimes" conditions reached.
type Pinned = (&'static str, u32, u32, u64, usize, &'static [&'static str]);

#[test]
fn correct_services_explored_exhaustively_with_pinned_counts() {
    let cases: [Pinned; 7] = [
        ("explore-units", 2, 1, 12, 2, &[CONFLICT]),
        ("explore-units", 3, 1, 14_382, 3, &[CONFLICT]),
        (
            "explore-units-lost",
            1,
            2,
            2_843,
            3,
            &[RETRIED, ALL_SUCCEEDED, RESENT],
        ),
        ("explore-board", 2, 2, 58, 1, &[CONFLICT]),
        ("explore-board", 3, 1, 48, 1, &[CONFLICT]),
        ("explore-board", 3, 2, 6_720, 1, &[CONFLICT]),
        ("explore-rooms", 2, 1, 492, 2, &[CONFLICT, ALTERNATIVES]),
    ];
    let mut reached_by_service: BTreeSet<(&str, String)> = BTreeSet::new();
    for (sim, clients, ops, schedules, finals, expected) in cases {
        let report = explore(
            &model(sim, Variant::CORRECT, clients, ops),
            Dfs::default().into(),
            Limits::default(),
        );
        let case = format!("{sim} {clients}x{ops}");
        assert!(report.exhausted, "{case}: {report}");
        assert!(report.violations.is_empty(), "{case}: {report}");
        assert_eq!(report.schedules, schedules, "{case}: {report}");
        assert_eq!(report.distinct_final_states, finals, "{case}: {report}");
        let reached = reached(&report);
        assert_eq!(
            reached,
            expected.iter().copied().collect(),
            "{case}: {report}"
        );
        let service = sim
            .trim_start_matches("explore-")
            .split('-')
            .next()
            .unwrap();
        reached_by_service.extend(reached.into_iter().map(|name| (service, name.to_string())));
    }
    // Across its configurations, each service reaches every condition that
    // applies to it: none passes by never exercising retries or conflicts.
    for (service, condition) in [
        ("units", RETRIED),
        ("units", CONFLICT),
        ("units", ALL_SUCCEEDED),
        ("units", RESENT),
        ("board", CONFLICT),
        ("rooms", CONFLICT),
        ("rooms", ALTERNATIVES),
    ] {
        assert!(
            reached_by_service.contains(&(service, condition.to_string())),
            "{service}: {condition} never reached"
        );
    }
}

#[test]
fn every_planted_bug_is_found_by_dfs_with_a_shortest_counterexample() {
    // (sim, variant, clients, ops, property, preemption bound, steps of the
    // shortest counterexample). rooms/inclusive-end lets both bookings
    // commit, so its space (with SSI retries) is too large to exhaust in a
    // test; with no preemption it is two schedules, and no schedule in
    // which both 9-statement bookings commit can be shorter than 18 steps.
    let cases = [
        (
            "explore-units",
            variant("units/read-committed"),
            2,
            1,
            "no_overbooking",
            None,
            12,
        ),
        (
            "explore-units-lost",
            variant("units/no-idempotency"),
            1,
            2,
            "exactly_once_reservation",
            None,
            10,
        ),
        (
            "explore-board",
            variant("board/no-version-check"),
            2,
            2,
            "no_lost_update",
            None,
            9,
        ),
        (
            "explore-board",
            variant("board/version-not-incremented"),
            2,
            1,
            "version_monotonic",
            None,
            3,
        ),
        (
            "explore-rooms",
            variant("rooms/check-then-insert-repeatable-read"),
            2,
            1,
            "no_room_double_booking",
            None,
            18,
        ),
        (
            "explore-rooms",
            variant("rooms/inclusive-end"),
            2,
            1,
            "no_room_double_booking",
            Some(0),
            18,
        ),
        (
            "explore-rooms",
            variant("rooms/stale-availability-cache"),
            2,
            1,
            "no_room_double_booking",
            None,
            20,
        ),
    ];
    for (sim, variant, clients, ops, property, bound, steps) in cases {
        let model = model(sim, variant, clients, ops);
        let dfs = bound.map_or(Dfs::default(), |b| Dfs::default().preemptions_max(b));
        let report = explore(&model, dfs.into(), Limits::default());
        let case = format!("{} on {sim}", variant.name());
        assert_eq!(report.exhausted, bound.is_none(), "{case}: {report}");
        let violation = report
            .violations
            .iter()
            .find(|v| v.property == property)
            .unwrap_or_else(|| panic!("{case} not found: {report}"));
        assert_eq!(violation.steps, steps, "{case}: {violation}");
        let replayed = replay(&model, &violation.line).expect("the line replays");
        assert_eq!(
            replayed.violation.as_ref().map(|v| v.property.as_str()),
            Some(property),
            "{case}"
        );
        assert_eq!(replayed.trace, violation.trace, "{case}");
    }
}

#[test]
fn reduction_keeps_every_final_state_violation_and_sometimes_condition() {
    // Sleep sets with the SSI "quiet statement" rule against the full
    // search, on service models small enough to exhaust both ways.
    for (sim, variant, clients, ops, lost) in [
        ("explore-units", Variant::CORRECT, 2, 1, None),
        ("explore-units", variant("units/read-committed"), 2, 1, None),
        ("explore-units-lost", Variant::CORRECT, 1, 2, None),
        (
            "explore-units-lost",
            variant("units/no-idempotency"),
            1,
            2,
            None,
        ),
        ("explore-units", Variant::CORRECT, 1, 2, Some(1)),
        ("explore-rooms", Variant::CORRECT, 2, 1, None),
    ] {
        let scenario = Scenario::load_for(
            &Clinic,
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("sims")
                .join(format!("{sim}.toml")),
        )
        .unwrap();
        let mut service = service_scenario(&Clinic, &scenario, variant, Seed(1), clients, ops)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(lost) = lost {
            service.lost_responses_per_client = lost;
        }
        let model = service_model(&Clinic, sim, service);
        let reduced = explore(&model, Dfs::default().into(), Limits::default());
        let full = explore(
            &model,
            Dfs::default().without_sleep_sets().into(),
            Limits::default(),
        );
        let case = format!("{} on {sim}", variant.name());
        assert!(reduced.exhausted && full.exhausted, "{case}");
        assert!(reduced.schedules <= full.schedules, "{case}");
        assert_eq!(reduced.final_states, full.final_states, "{case}");
        let properties = |r: &Report| -> BTreeSet<String> {
            r.violations.iter().map(|v| v.property.clone()).collect()
        };
        assert_eq!(properties(&reduced), properties(&full), "{case}");
        assert_eq!(reached(&reduced), reached(&full), "{case}");
    }
}

/// A declared variant of the bundled services.
fn variant(name: &str) -> Variant {
    Clinic.variant(name).expect("declared variant")
}
