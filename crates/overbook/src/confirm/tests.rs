use super::*;

fn step(step: usize, store: &str, postgres: &str) -> StepComparison {
    StepComparison {
        step,
        task: "client 0".into(),
        store: format!("store trace {step}"),
        postgres: format!("pg trace {step}"),
        store_outcome: store.into(),
        postgres_outcome: postgres.into(),
    }
}

fn broken(property: &str, step: Option<usize>) -> Broken {
    Broken {
        property: property.into(),
        message: format!("{property} message"),
        step,
    }
}

fn confirmation(steps: Vec<StepComparison>) -> Confirmation {
    Confirmation {
        line: "dfs:1-clients:0,0,0".into(),
        store_violation: Some(broken("no_overbooking", Some(2))),
        postgres_violations: Vec::new(),
        confirmed: false,
        divergence: first_divergence(&steps),
        steps,
        finish: Vec::new(),
        stuck: Vec::new(),
        wall_ms: 0,
    }
}

#[test]
fn the_first_differing_outcome_is_the_divergence() {
    let steps = vec![
        step(0, "done", "done"),
        step(1, "done", "waits"),
        step(2, "error 40001", "done"),
    ];
    let divergence = first_divergence(&steps).expect("step 1 differs");
    assert_eq!(divergence.step, 1);
    assert_eq!(divergence.store, "done (store trace 1)");
    assert_eq!(divergence.postgres, "waits (pg trace 1)");
    assert_eq!(first_divergence(&steps[..1]), None);
}

#[test]
fn verdicts_name_the_invariant_and_where_postgres_diverged() {
    let mut diverged = confirmation(vec![step(0, "done", "done"), step(1, "waits", "done")]);
    assert_eq!(
        diverged.verdict(),
        "not confirmed: no_overbooking held on PostgreSQL; PG diverged at step 1: store did waits (store trace 1), PG did done (pg trace 1)"
    );
    let mut same = confirmation(vec![step(0, "done", "done")]);
    assert_eq!(
        same.verdict(),
        "not confirmed: every step did the same on PostgreSQL, but no_overbooking held there"
    );
    same.postgres_violations = vec![broken("no_overbooking", None)];
    same.confirmed = true;
    assert_eq!(
        same.verdict(),
        "confirmed: no_overbooking broke on PostgreSQL too (after the line, as the clients finished): no_overbooking message"
    );
    diverged.store_violation = None;
    assert!(diverged
        .verdict()
        .starts_with("not confirmed: no invariant broke on either engine"));
    diverged.postgres_violations = vec![broken("units_conserved", Some(1))];
    assert!(diverged
        .verdict()
        .contains("but units_conserved broke on PostgreSQL"));
}
