//! `overbook confirm` on a real PostgreSQL: every bundled planted bug's
//! shortest explore counterexample breaks the same invariant there, a
//! schedule of the correct services (with a lock wait, a 40001 on resume
//! and a retry) does the same step for step and breaks nothing, and the
//! command's exit codes say which.

use super::pg_url;
use crate::cli::overbook;
use overbook::confirm::{confirm, Confirmation};
use overbook::explore::{explore, service_model, service_scenario, Dfs, Limits};
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::{System, Variant};
use overbook_clinic::service::Clinic;
use std::path::Path;
use std::time::Instant;

fn scenario(sim: &str) -> Scenario {
    Scenario::load_for(
        &Clinic,
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sims")
            .join(format!("{sim}.toml")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn variant(name: &str) -> Variant {
    Clinic.variant(name).expect("declared variant")
}

/// sim, variant, clients, ops, property, preemption bound.
type Planted = (
    &'static str,
    &'static str,
    u32,
    u32,
    &'static str,
    Option<u32>,
);

/// The planted bugs as `tests/suite/explore` finds them: sim, variant,
/// clients, ops, the property broken, and the preemption bound of the
/// search (the same table, so the lines are the pinned shortest ones).
const PLANTED: [Planted; 7] = [
    (
        "explore-units",
        "units/read-committed",
        2,
        1,
        "no_overbooking",
        None,
    ),
    (
        "explore-units-lost",
        "units/no-idempotency",
        1,
        2,
        "exactly_once_reservation",
        None,
    ),
    (
        "explore-board",
        "board/no-version-check",
        2,
        2,
        "no_lost_update",
        None,
    ),
    (
        "explore-board",
        "board/version-not-incremented",
        2,
        1,
        "version_monotonic",
        None,
    ),
    (
        "explore-rooms",
        "rooms/check-then-insert-repeatable-read",
        2,
        1,
        "no_room_double_booking",
        None,
    ),
    (
        "explore-rooms",
        "rooms/inclusive-end",
        2,
        1,
        "no_room_double_booking",
        Some(0),
    ),
    (
        "explore-rooms",
        "rooms/stale-availability-cache",
        2,
        1,
        "no_room_double_booking",
        Some(1),
    ),
];

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn every_planted_bugs_shortest_counterexample_is_confirmed_on_postgres() {
    let Some(url) = pg_url("every_planted_bugs_shortest_counterexample_is_confirmed_on_postgres")
    else {
        return;
    };
    // Every declared planted bug is in the table.
    let declared: Vec<&str> = Clinic.variants()[1..].iter().map(|v| v.name).collect();
    let mut covered: Vec<&str> = PLANTED.iter().map(|case| case.1).collect();
    covered.sort();
    let mut sorted = declared.clone();
    sorted.sort();
    assert_eq!(covered, sorted, "a planted bug without a confirm case");
    for (sim, name, clients, ops, property, bound) in PLANTED {
        let service = service_scenario(
            &Clinic,
            &scenario(sim),
            variant(name),
            Seed(1),
            clients,
            ops,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let model = service_model(&Clinic, sim, service.clone());
        let dfs = bound.map_or(Dfs::default(), |b| Dfs::default().preemptions_max(b));
        let report = explore(&model, dfs.into(), Limits::default());
        let violation = report
            .violations
            .iter()
            .find(|v| v.property == property)
            .unwrap_or_else(|| panic!("{name}: not found by explore: {report}"));
        let started = Instant::now();
        let confirmation = confirm(&Clinic, &service, &violation.line, &url)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!(
            "{name}: {} steps, {}, {:.2} s",
            violation.steps,
            confirmation.verdict(),
            started.elapsed().as_secs_f64()
        );
        assert!(confirmation.confirmed, "{name}:\n{confirmation}");
        assert_eq!(
            confirmation
                .store_violation
                .as_ref()
                .map(|b| b.property.as_str()),
            Some(property),
            "{name}"
        );
        assert!(
            confirmation
                .postgres_violations
                .iter()
                .any(|b| b.property == property),
            "{name}:\n{confirmation}"
        );
        assert_eq!(confirmation.steps.len() as u64, violation.steps, "{name}");
        assert!(confirmation.stuck.is_empty(), "{name}:\n{confirmation}");
        assert!(
            confirmation.verdict().starts_with("confirmed: "),
            "{name}: {}",
            confirmation.verdict()
        );
    }
}

/// Two correct reserves: client 1's FOR UPDATE (in its reserve's CTE) waits
/// for client 0's lock,
/// fails with 40001 when client 0 commits, backs off and retries.
const CORRECT_WITH_A_WAIT: &str = "dfs:2-clients:0,0,1,1,0,0,0,1,1,1,1,1";

fn correct_with_a_wait(url: &str) -> Confirmation {
    let service = service_scenario(
        &Clinic,
        &scenario("explore-units"),
        Variant::CORRECT,
        Seed(1),
        2,
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    confirm(&Clinic, &service, CORRECT_WITH_A_WAIT, url).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn a_correct_schedule_with_a_lock_wait_runs_step_for_step_and_is_not_confirmed() {
    let Some(url) =
        pg_url("a_correct_schedule_with_a_lock_wait_runs_step_for_step_and_is_not_confirmed")
    else {
        return;
    };
    let confirmation = correct_with_a_wait(&url);
    assert!(!confirmation.confirmed, "{confirmation}");
    assert_eq!(confirmation.store_violation, None, "{confirmation}");
    assert_eq!(
        confirmation.postgres_violations,
        Vec::new(),
        "{confirmation}"
    );
    assert_eq!(confirmation.divergence, None, "{confirmation}");
    let outcomes: Vec<&str> = confirmation
        .steps
        .iter()
        .map(|s| s.postgres_outcome.as_str())
        .collect();
    // Step 3 waits on PostgreSQL as in the store; the step that resumes it
    // (7) fails with 40001 there too.
    assert_eq!(outcomes[3], "waits", "{confirmation}");
    assert_eq!(outcomes[7], "error 40001", "{confirmation}");
    assert!(
        confirmation.verdict().starts_with("not confirmed: "),
        "{}",
        confirmation.verdict()
    );
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn confirm_exits_1_on_a_confirmed_bug_and_0_on_a_clean_schedule() {
    let Some(url) = pg_url("confirm_exits_1_on_a_confirmed_bug_and_0_on_a_clean_schedule") else {
        return;
    };
    let (code, out, err) = overbook(&[
        "confirm",
        "explore-board",
        "--variant",
        "board/version-not-incremented",
        "--clients",
        "2",
        "--ops",
        "1",
        "--replay",
        "dfs:2-clients:0,0,0",
        "--pg",
        &url,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("confirmed: version_monotonic broke on PostgreSQL too"),
        "{out}"
    );
    let (code, out, err) = overbook(&[
        "confirm",
        "explore-units",
        "--replay",
        CORRECT_WITH_A_WAIT,
        "--pg",
        &url,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json["confirmed"], false);
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(12));
}

/// `explore` prints, for a SQL service's violation, the `confirm` command
/// that replays it on PostgreSQL; run as printed, it confirms the bug.
#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn the_confirm_command_explore_prints_confirms_the_bug() {
    let Some(url) = pg_url("the_confirm_command_explore_prints_confirms_the_bug") else {
        return;
    };
    let (code, out, err) = overbook(&[
        "explore",
        "explore-units",
        "--variant",
        "units/read-committed",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let printed = out
        .lines()
        .find_map(|l| l.strip_prefix("on PostgreSQL: "))
        .unwrap_or_else(|| panic!("no confirm command printed: {out}"));
    let command = printed
        .strip_prefix("overbook ")
        .expect("the program prefix");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("\"$OVERBOOK_BIN\" {command}"))
        .env("OVERBOOK_BIN", env!("CARGO_BIN_EXE_overbook"))
        .env("OVERBOOK_PG_URL", &url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}\n{stdout}");
    assert!(
        stdout.contains("confirmed: no_overbooking broke on PostgreSQL too"),
        "{stdout}"
    );
}
