//! Model-checking throughput: schedules per second.
//!
//! `cargo bench --bench explore` runs an exhaustive depth-first search of 3
//! clients, each doing 2 read-then-write increments (one transaction each,
//! Read Committed) of its own counter after reading a shared row that
//! client 0 also updates, with and without sleep sets, and prints the rate
//! and the schedule counts of each. The run without reduction is capped
//! (its space is far beyond a benchmark's budget), so its count is a rate
//! sample, not the size of the space.
//!
//! It then explores the bundled service models (`sims/explore-*.toml`, the
//! real handlers at Serializable and Read Committed, with every invariant
//! checked after every step) with and without the reduction, and prints
//! both counts and rates.

use overbook::explore::{
    explore, service_scenario, services::service_model, Dfs, Limits, Model, Report,
};
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::Variant;
use overbook_clinic::service::Clinic;
use std::path::Path;
use std::time::Instant;

fn model() -> Model {
    overbook::explore::models::own_counters(3, 1)
}

fn measure(label: &str, dfs: Dfs, schedules_max: u64) -> Report {
    measure_model(&model(), label, dfs, schedules_max)
}

fn measure_model<S>(model: &Model<S>, label: &str, dfs: Dfs, schedules_max: u64) -> Report {
    let limits = Limits {
        schedules_max,
        ..Limits::default()
    };
    let begin = Instant::now();
    let report = explore(model, dfs.into(), limits);
    let seconds = begin.elapsed().as_secs_f64();
    let executions = report.schedules + report.pruned;
    println!(
        "{label:<18} {:>9} schedules {:>9} pruned  {:>9.0} schedules/s  {:>9.0} executions/s  {:>10.0} steps/s  {:>3} final states  {}  ({seconds:.2} s)",
        report.schedules,
        report.pruned,
        report.schedules as f64 / seconds,
        executions as f64 / seconds,
        report.steps as f64 / seconds,
        report.distinct_final_states,
        if report.exhausted { "exhausted" } else { "capped" },
    );
    report
}

fn main() {
    println!("exhaustive DFS, 3 clients x 2 increments (Read Committed)");
    let reduced = measure("with sleep sets", Dfs::default(), 10_000_000);
    let full = measure(
        "without reduction",
        Dfs::default().without_sleep_sets(),
        200_000,
    );
    assert!(reduced.exhausted);
    println!(
        "reduction: {} schedules cover all {} final states; without it {} schedules did not finish the space",
        reduced.schedules, reduced.distinct_final_states, full.schedules
    );
    println!();
    println!("service models (sims/explore-*.toml, correct services)");
    for (sim, clients, ops) in [
        ("explore-units", 2, 1),
        ("explore-units", 3, 1),
        ("explore-units-lost", 1, 2),
        ("explore-board", 3, 2),
        ("explore-rooms", 2, 1),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sims")
            .join(format!("{sim}.toml"));
        let scenario = Scenario::load_for(&Clinic, &path).unwrap_or_else(|e| panic!("{e}"));
        let model = service_model(
            &Clinic,
            sim,
            service_scenario(&Clinic, &scenario, Variant::CORRECT, Seed(1), clients, ops)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        println!("{sim} {clients} clients x {ops} ops");
        measure_model(&model, "  with sleep sets", Dfs::default(), 2_000_000);
        measure_model(
            &model,
            "  without",
            Dfs::default().without_sleep_sets(),
            600_000,
        );
    }
}
