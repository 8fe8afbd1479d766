//! Scenario files checked against a service's own settings: the bundled
//! clinic's `[data]` and `[workload]` sections, overrides and budgets.

use overbook::scenario::Scenario;
use overbook_clinic::service::Clinic;

const MINIMAL: &str = "name = \"t\"\n[[phases]]\nduration_s = 1\narrival_rate = 1\n";

#[test]
fn unknown_field_names_file_line_and_field() {
    let text = format!("{MINIMAL}[workload]\nops_per_user = 2\nmixx = 3\n");
    let scenario = Scenario::parse(&text, "sims/t.toml").unwrap();
    // The workload section is the service's: its own type finds the typo.
    let err = scenario.settings(&Clinic).unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.line, Some(7), "{shown}");
    assert!(shown.starts_with("sims/t.toml:7:"), "{shown}");
    assert!(shown.contains("mixx"), "{shown}");
}

#[test]
fn overrides_set_nested_fields_and_reject_unknown_ones() {
    let scenario = Scenario::parse(MINIMAL, "t.toml").unwrap();
    let changed = scenario
        .with_overrides(&[
            "workload.mix.reserve=50".into(),
            "phases.0.arrival_rate=7.5".into(),
        ])
        .unwrap();
    assert_eq!(changed.workload["mix"]["reserve"].as_integer(), Some(50));
    assert_eq!(changed.phases[0].arrival_rate, 7.5);
    let err = scenario
        .with_overrides(&["topology.nope=1".into()])
        .unwrap_err();
    assert!(err.to_string().contains("--set topology.nope=1"), "{err}");
    let clinic = Clinic;
    let err = scenario
        .with_overrides_for(&clinic, &["workload.nope=1".into()])
        .unwrap_err();
    assert!(err.to_string().contains("--set workload.nope=1"), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = scenario
        .with_overrides_for(&clinic, &["workload.units_min=0".into()])
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("workload.units_min"), "{err}");
    let err = scenario
        .with_overrides(&["phases.3.arrival_rate=1".into()])
        .unwrap_err();
    assert!(err.to_string().contains("past the end"), "{err}");
    assert!(scenario.with_overrides(&["no-equals".into()]).is_err());
}

/// Overrides are applied as a whole, then checked once: their order
/// does not matter, and every problem is reported, each blamed on the
/// override that set its field.
#[test]
fn overrides_are_checked_together_and_every_problem_is_reported() {
    let clinic = Clinic;
    let scenario = Scenario::parse(MINIMAL, "t.toml").unwrap();
    let burst = "phases.0.burst=100000".to_string();
    let hosts = "topology.client_hosts=10".to_string();
    let one = scenario
        .with_overrides_for(&clinic, &[burst.clone(), hosts.clone()])
        .unwrap();
    let other = scenario
        .with_overrides_for(&clinic, &[hosts.clone(), burst.clone()])
        .unwrap();
    assert_eq!(one, other);
    assert_eq!(
        (one.phases[0].burst, one.topology.client_hosts),
        (100_000, 10)
    );

    let wrong = [
        burst.clone(),
        "data.days=0".to_string(),
        "run.tick_ms=0".to_string(),
        "phases.7.burst=1".to_string(),
    ];
    let mut reversed = wrong.clone();
    reversed.reverse();
    let err = scenario.with_overrides_for(&clinic, &wrong).unwrap_err();
    let again = scenario.with_overrides_for(&clinic, &reversed).unwrap_err();
    let mut problems: Vec<(Option<String>, Option<String>)> = err
        .clone()
        .into_each()
        .into_iter()
        .map(|e| (e.source, e.field))
        .collect();
    let mut problems_again: Vec<_> = again
        .into_each()
        .into_iter()
        .map(|e| (e.source, e.field))
        .collect();
    problems.sort();
    problems_again.sort();
    assert_eq!(problems, problems_again);
    let named = |set: &str, field: &str| (Some(format!("--set {set}")), Some(field.to_string()));
    assert_eq!(
        problems,
        [
            named("data.days=0", "data.days"),
            named("phases.0.burst=100000", "phases.0.burst"),
            named("phases.7.burst=1", "phases.7.burst"),
            named("run.tick_ms=0", "run.tick_ms"),
        ],
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 4, "{err}");
}

/// A data set the service declares larger than `run.max_memory_mb`
/// is refused before it is built, at that field.
#[test]
fn a_data_set_over_the_memory_budget_is_refused_before_it_is_built() {
    let clinic = Clinic;
    let scenario = Scenario::parse(MINIMAL, "t.toml").unwrap();
    let big = "data.appointments=1000000".to_string();
    assert!(scenario
        .with_overrides_for(&clinic, std::slice::from_ref(&big))
        .is_ok());
    let err = scenario
        .with_overrides_for(&clinic, &[big, "run.max_memory_mb=100".into()])
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("run.max_memory_mb"), "{err}");
    assert!(err.message.contains("about 977 MiB"), "{err}");
    let text = format!("{MINIMAL}[run]\nmax_memory_mb = 1\n[data]\npatients = 100000\n");
    let err = Scenario::parse(&text, "t.toml")
        .unwrap()
        .settings(&clinic)
        .unwrap_err();
    assert_eq!(
        (err.field.as_deref(), err.line),
        (Some("run.max_memory_mb"), Some(6)),
        "{err}"
    );
}
