//! The model checker on the bundled units service, driven directly
//! through `service_model` (the sims in `sims/explore-*.toml` drive it
//! through the CLI).

use overbook::explore::{explore, replay, service_model, Dfs, Limits, ServiceScenario};
use overbook::seed::Seed;
use overbook::system::System;
use overbook_clinic::service::{
    AuthorizationGroup, Clinic, ClinicSettings, DataConfig, Request, RequestBody, Role, Token,
};

fn reserve(id: u64, client: u32, units: i64) -> Request {
    Request {
        request_id: id,
        client,
        token: Some(Token {
            organization: 0,
            role: Role::Scheduler,
            expires_at_ms: u64::MAX / 2,
        }),
        idempotency_key: Some(format!("reserve-{id}")),
        body: RequestBody::Reserve {
            authorization: 0,
            units,
        },
    }
}

/// Two clients each reserve 6 units of an authorization of 10.
fn units_scenario(variant: &str) -> ServiceScenario<Clinic> {
    let data = DataConfig {
        organizations: 1,
        authorizations: vec![AuthorizationGroup {
            count: 1,
            units: 10,
        }],
        appointments: 1,
        practitioners: 1,
        patients: 1,
        rooms: 1,
        ..DataConfig::default()
    };
    ServiceScenario {
        variant: Clinic.variant(variant).expect("declared"),
        settings: ClinicSettings {
            data,
            ..ClinicSettings::default()
        },
        seed: Seed(5),
        pool_size: 2,
        clients: vec![vec![reserve(1, 0, 6)], vec![reserve(2, 1, 6)]],
        connections: 1,
        lost_responses_per_client: 0,
        time_jumps: 0,
        background_runs: 1,
        liveness: Default::default(),
        deadlock_timeout_ms: 1000,
    }
}

#[test]
fn dfs_finds_units_read_committed_overbooking() {
    let model = service_model(
        &Clinic,
        "units/read-committed",
        units_scenario("units/read-committed"),
    );
    let report = explore(&model, Dfs::default().into(), Limits::default());
    eprintln!("{report}");
    assert!(report.exhausted);
    let violation = report
        .violations
        .iter()
        .find(|v| v.property == "no_overbooking")
        .expect("two reserves of 6 against 10 overbook at Read Committed");
    let replayed = replay(&model, &violation.line).unwrap();
    assert_eq!(replayed.violation.unwrap().property, "no_overbooking");
    assert_eq!((report.schedules, report.pruned), (54, 0));
}

#[test]
fn the_correct_units_service_passes_exhaustively() {
    let model = service_model(&Clinic, "units/correct", units_scenario("correct"));
    let report = explore(&model, Dfs::default().into(), Limits::default());
    eprintln!("{report}");
    assert!(report.exhausted);
    assert!(report.violations.is_empty(), "{report}");
    // Either client may win the last units: two final states.
    assert_eq!(report.distinct_final_states, 2);
    assert_eq!((report.schedules, report.pruned), (22, 0));
}
