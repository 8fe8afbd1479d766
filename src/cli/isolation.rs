//! `isolation`: the anomaly x isolation-level matrix.

use crate::store::anomaly::{postgres_expected, run_matrix, AnomalyResult, ANOMALIES};
use crate::store::Isolation;

/// Arguments of `overbook isolation`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Print the matrix as a JSON array of {anomaly, level, outcome, error}.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: Args) -> u8 {
    let results = run_matrix();
    let mismatches: Vec<&AnomalyResult> = results
        .iter()
        .filter(|r| r.outcome != postgres_expected(r.anomaly, r.level))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).expect("matrix serializes")
        );
    } else {
        print_table(&results);
        if mismatches.is_empty() {
            println!(
                "\nmatches PostgreSQL's documented behaviour: yes ({} cells)",
                results.len()
            );
        } else {
            println!("\nmatches PostgreSQL's documented behaviour: NO");
            for r in &mismatches {
                println!(
                    "  {} at {}: {} (PostgreSQL: {})",
                    r.anomaly,
                    r.level,
                    r.outcome.name(),
                    postgres_expected(r.anomaly, r.level).name()
                );
            }
        }
    }
    if mismatches.is_empty() {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    }
}

fn print_table(results: &[AnomalyResult]) {
    let cell = |anomaly: &str, level: Isolation| -> String {
        let r = results
            .iter()
            .find(|r| r.anomaly == anomaly && r.level == level)
            .expect("every cell was run");
        match r.error {
            Some(code) => format!("{} ({code})", r.outcome.name()),
            None => r.outcome.name().to_string(),
        }
    };
    println!(
        "{:<22} {:<20} {:<20} {:<20}",
        "anomaly", "read-committed", "repeatable-read", "serializable"
    );
    for anomaly in ANOMALIES {
        println!(
            "{:<22} {:<20} {:<20} {:<20}",
            anomaly,
            cell(anomaly, Isolation::ReadCommitted),
            cell(anomaly, Isolation::RepeatableRead),
            cell(anomaly, Isolation::Serializable)
        );
    }
}
