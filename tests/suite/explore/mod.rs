//! The model checker on the bundled explore-* scenarios: the correct
//! services explored exhaustively with pinned schedule counts and pinned
//! "sometimes" coverage, every planted bug found by DFS with a replayable
//! counterexample, and the reduction checked against the full search.

mod units_model;

use overbook::explore::{
    explore, replay, service_scenario, services::service_model, services::ServiceState, Dfs,
    Limits, Model, Report,
};
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::{System, Variant};
use overbook_clinic::service::Clinic;
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
    // Three units clients (60,510 schedules since a reserve is one CTE)
    // are left to `overbook explore sims/explore-units.toml --clients 3`:
    // too slow for every test run.
    let cases: [Pinned; 6] = [
        ("explore-units", 2, 1, 22, 2, &[CONFLICT]),
        (
            "explore-units-lost",
            1,
            2,
            // 3,202 since a reserve locks and inserts in one statement
            // (a CTE feeding INSERT ... SELECT; was 6,182).
            3_202,
            3,
            &[RETRIED, ALL_SUCCEEDED, RESENT],
        ),
        ("explore-board", 2, 2, 58, 1, &[CONFLICT]),
        ("explore-board", 3, 1, 48, 1, &[CONFLICT]),
        ("explore-board", 3, 2, 6_720, 1, &[CONFLICT]),
        // explore-rooms: 4,142 since a booking locks its room row first (was
        // 2,832): one more statement per booking to interleave.
        ("explore-rooms", 2, 1, 4_142, 2, &[CONFLICT, ALTERNATIVES]),
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
            10,
        ),
        (
            "explore-units-lost",
            variant("units/no-idempotency"),
            1,
            2,
            "exactly_once_reservation",
            None,
            8,
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
            // In SQL its space passes 100,000 schedules; one preemption
            // (between the cache read and the booking) is all it needs.
            Some(1),
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

/// Whether a schedule line has a clock step (`t` or `t.n`).
fn moves_the_clock(line: &str) -> bool {
    let steps = line.rsplit(':').next().unwrap_or("");
    steps
        .split(',')
        .any(|step| step.split('.').next() == Some("t"))
}

/// A client that reads the clock, runs one statement and reads it again,
/// beside a task sleeping 100 ms. Time only passes between the reads if the
/// search moves the clock to that timer: with time jumps it does (a `t`
/// step in the line, which replays), without them it never can.
fn two_clock_reads(jumps: Option<u32>) -> Model<std::rc::Rc<std::cell::Cell<u64>>> {
    use overbook::store::{Isolation, Key, Row};
    use std::cell::Cell;
    use std::rc::Rc;
    let model = Model::with_state("two-clock-reads", |store| {
        store.load(Key::raw("k"), Row::new().with("v", 0));
        let gap_ms = Rc::new(Cell::new(0));
        let (reader, gap) = (store.clone(), gap_ms.clone());
        let client = Box::pin(async move {
            let first_ms = reader.now_ms();
            let mut tx = reader.begin(Isolation::ReadCommitted);
            tx.get(&Key::raw("k")).await.unwrap();
            tx.commit().await.unwrap();
            gap.set(reader.now_ms() - first_ms);
        }) as overbook::explore::Client;
        let sleeper = store.clone();
        let timer = Box::pin(async move { sleeper.sleep_ms(100).await });
        // The sleeper first: its timer is set before the client's first
        // read, and fires only by a jump or once the client is done.
        (gap_ms, vec![timer as overbook::explore::Client, client])
    })
    .always("reads_within_50_ms", |_, gap| match gap.get() {
        gap_ms if gap_ms <= 50 => Ok(()),
        gap_ms => Err(format!("{gap_ms} ms between the reads")),
    });
    match jumps {
        Some(jumps) => model.time_jumps(jumps),
        None => model,
    }
}

#[test]
fn time_jumps_move_the_clock_between_two_reads_and_the_line_replays() {
    let report = explore(
        &two_clock_reads(Some(1)),
        Dfs::default().into(),
        Limits::default(),
    );
    assert!(report.exhausted, "{report}");
    let violation = &report.violations[0];
    assert_eq!(violation.property, "reads_within_50_ms");
    assert!(moves_the_clock(&violation.line), "{}", violation.line);
    let again = replay(&two_clock_reads(Some(1)), &violation.line).unwrap();
    assert_eq!(again.violation.unwrap().message, violation.message);
    let error = replay(&two_clock_reads(None), &violation.line).unwrap_err();
    assert!(error.0.contains("time does not jump"), "{error}");

    // No jump allowed, or no jumps at all: time only moves when nothing
    // else can run, after the reads.
    for model in [two_clock_reads(Some(0)), two_clock_reads(None)] {
        let report = explore(&model, Dfs::default().into(), Limits::default());
        assert!(report.exhausted && report.violations.is_empty(), "{report}");
    }
}

/// A task that sleeps 100 ms at t = 0 (a background job's first period)
/// beside a client that reads the clock inside its transaction: the sleep
/// moves time only when nothing else can run, so without jumps the client
/// reads 0 ms in every schedule and the sleeper wakes at exactly 100 ms.
/// The state: when the client read the clock, when the sleeper woke.
type ReadAndWoke = std::rc::Rc<[std::cell::Cell<u64>; 2]>;

fn sleeper_beside_a_reader(jumps: u32) -> Model<ReadAndWoke> {
    use overbook::store::{Isolation, Key, Row};
    Model::with_state("sleeper-beside-a-reader", |store| {
        store.load(Key::raw("k"), Row::new().with("v", 0));
        let times: ReadAndWoke = std::rc::Rc::new(Default::default());
        let (sleeper, woke) = (store.clone(), times.clone());
        let timer = Box::pin(async move {
            sleeper.sleep_ms(100).await;
            woke[1].set(sleeper.now_ms());
        }) as overbook::explore::Client;
        let (reader, read) = (store.clone(), times.clone());
        let client = Box::pin(async move {
            let mut tx = reader.begin(Isolation::ReadCommitted);
            tx.get(&Key::raw("k")).await.unwrap();
            read[0].set(reader.now_ms());
            tx.commit().await.unwrap();
        }) as overbook::explore::Client;
        (times, vec![timer, client])
    })
    .always("read_at_0_ms", |_, times| match times[0].get() {
        0 => Ok(()),
        ms => Err(format!("read {ms} ms")),
    })
    .at_end("woke_at_100_ms", |_, times| match times[1].get() {
        100 => Ok(()),
        ms => Err(format!("woke at {ms} ms")),
    })
    .time_jumps(jumps)
}

#[test]
fn a_sleep_moves_the_clock_only_when_nothing_else_can_run_or_by_a_jump() {
    let report = explore(
        &sleeper_beside_a_reader(0),
        Dfs::default().into(),
        Limits::default(),
    );
    assert!(report.exhausted && report.violations.is_empty(), "{report}");
    // Both properties fire once the search may jump: to the sleeper's
    // timer before the read, or 1 ms past it.
    let report = explore(
        &sleeper_beside_a_reader(1),
        Dfs::default().into(),
        Limits::default(),
    );
    for property in ["read_at_0_ms", "woke_at_100_ms"] {
        let violation = report.violations.iter().find(|v| v.property == property);
        let violation = violation.unwrap_or_else(|| panic!("{property}: {report}"));
        assert!(moves_the_clock(&violation.line), "{}", violation.line);
    }
}

/// Two transactions locking `a` and `b` in opposite orders; the time at
/// which the one that fails sees 40P01.
fn opposite_locks(deadlock_timeout_ms: u64) -> Model<std::rc::Rc<std::cell::Cell<Option<u64>>>> {
    use overbook::store::{Isolation, Key, Row, Schema, Store, StoreConfig};
    use std::cell::Cell;
    use std::rc::Rc;
    let config = StoreConfig {
        deadlock_timeout_ms,
        ..StoreConfig::default()
    };
    Model::with_state("opposite-locks", |store| {
        for key in ["a", "b"] {
            store.load(Key::raw(key), Row::new().with("v", 0));
        }
        let failed_at = Rc::new(Cell::new(None));
        let client = |first: &'static str, second: &'static str| {
            let (store, failed_at) = (store.clone(), failed_at.clone());
            Box::pin(async move {
                let mut tx = store.begin(Isolation::ReadCommitted);
                let locked = async {
                    tx.get_for_update(&Key::raw(first)).await?;
                    tx.get_for_update(&Key::raw(second)).await
                };
                match locked.await {
                    Ok(_) => drop(tx.commit().await),
                    Err(_) => failed_at.set(Some(store.now_ms())),
                }
            }) as overbook::explore::Client
        };
        let clients = vec![client("a", "b"), client("b", "a")];
        (failed_at, clients)
    })
    .store(move || Store::new(Schema::default(), config, Seed(1)))
    .always("no_deadlock", |_, failed_at| match failed_at.get() {
        None => Ok(()),
        Some(at_ms) => Err(format!("40P01 at {at_ms} ms")),
    })
}

#[test]
fn a_deadlock_stalls_for_deadlock_timeout_before_it_fails() {
    let report = explore(
        &opposite_locks(1000),
        Dfs::default().into(),
        Limits::default(),
    );
    assert!(report.exhausted, "{report}");
    let violation = &report.violations[0];
    assert_eq!(violation.message, "40P01 at 1000 ms");
    // Both wait, nothing can run: the clock must move to the check.
    assert!(moves_the_clock(&violation.line), "{}", violation.line);
    let at_once = explore(&opposite_locks(0), Dfs::default().into(), Limits::default());
    let violation = &at_once.violations[0];
    assert_eq!(violation.message, "40P01 at 0 ms");
    assert!(!moves_the_clock(&violation.line), "{}", violation.line);
}
