//! The model checker on the bundled explore-* scenarios: the correct
//! services explored exhaustively with pinned schedule counts, and planted
//! bugs found with replayable schedules.

use overbook::explore::{
    explore, replay, service_scenario, services::service_model, with_service_sometimes, Dfs, Limits,
};
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::service::Variant;
use std::path::Path;

fn model(
    sim: &str,
    variant: Variant,
    clients: u32,
    ops: u32,
) -> overbook::explore::Model<overbook::explore::services::ServiceState> {
    let scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sims")
            .join(format!("{sim}.toml")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    with_service_sometimes(service_model(
        sim,
        service_scenario(&scenario, variant, Seed(1), clients, ops),
    ))
}

#[test]
fn correct_services_explored_exhaustively_with_pinned_counts() {
    // (sim, clients, ops, schedules, distinct final states)
    for (sim, clients, ops, schedules, finals) in [
        ("explore-units", 2, 1, 50, 2),
        ("explore-board", 2, 2, 54, 1),
        ("explore-rooms", 2, 1, 3752, 2),
    ] {
        let report = explore(
            &model(sim, Variant::Correct, clients, ops),
            Dfs::default().into(),
            Limits::default(),
        );
        assert!(report.exhausted, "{sim}: {report}");
        assert!(report.violations.is_empty(), "{sim}: {report}");
        assert_eq!(report.schedules, schedules, "{sim}: {report}");
        assert_eq!(report.distinct_final_states, finals, "{sim}: {report}");
        let conflict = report
            .sometimes
            .iter()
            .find(|s| s.name == "a 409 conflict answered")
            .expect("condition listed");
        assert!(
            conflict.reached_by.is_some(),
            "{sim}: contention was explored: {report}"
        );
    }
}

#[test]
fn planted_bugs_are_found_by_dfs_and_replay() {
    for (sim, variant, clients, ops, property) in [
        (
            "explore-units",
            Variant::UnitsReadCommitted,
            2,
            1,
            "no_overbooking",
        ),
        (
            "explore-board",
            Variant::BoardNoVersionCheck,
            2,
            2,
            "no_lost_update",
        ),
        (
            "explore-board",
            Variant::BoardVersionNotIncremented,
            2,
            1,
            "version_monotonic",
        ),
        (
            "explore-rooms",
            Variant::RoomsCheckThenInsertRepeatableRead,
            2,
            1,
            "no_room_double_booking",
        ),
    ] {
        let model = model(sim, variant, clients, ops);
        let report = explore(&model, Dfs::default().into(), Limits::default());
        let violation = report
            .violations
            .iter()
            .find(|v| v.property == property)
            .unwrap_or_else(|| panic!("{} not found on {sim}: {report}", variant.name()));
        let replayed = replay(&model, &violation.line).expect("the line replays");
        assert_eq!(
            replayed.violation.as_ref().map(|v| v.property.as_str()),
            Some(property)
        );
    }
}
