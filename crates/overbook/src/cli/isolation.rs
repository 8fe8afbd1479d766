//! `isolation`: the anomaly x isolation-level matrix, as SQL on
//! the simulated store (and the key-value suite underneath it), and with
//! `--pg URL` the same SQL scripts on a real PostgreSQL, side by side.

use crate::store::anomaly::{postgres_expected, run_matrix, AnomalyResult, ANOMALIES};
use crate::store::Isolation;

/// Arguments of `overbook isolation`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Print the matrix as a JSON array of {anomaly, level, outcome, error}
    /// (the SQL-on-store matrix; with --pg, an object with both).
    #[arg(long)]
    json: bool,
    /// Also run the SQL scripts on this PostgreSQL
    /// (`postgresql://user@host:port/db`); it creates the suite's tables in
    /// a schema of its own there (`overbook_<pid>_<n>`, left behind).
    /// Exits 1 when the matrices differ.
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
}

pub(super) fn run(args: Args) -> u8 {
    let kv = run_matrix();
    let sql = crate::sql::anomaly::run_sim_matrix();
    let pg = match &args.pg {
        None => None,
        Some(url) => match run_pg(url) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("error: PostgreSQL at {url}: {e}");
                return super::EXIT_USAGE;
            }
        },
    };
    let documented = |r: &AnomalyResult| postgres_expected(r.anomaly, r.level);
    let mut problems: Vec<String> = Vec::new();
    for r in kv.iter().filter(|r| r.outcome != documented(r)) {
        problems.push(format!(
            "key-value {} at {}: {} (documented: {})",
            r.anomaly,
            r.level,
            r.outcome.name(),
            documented(r).name()
        ));
    }
    for r in sql.iter().filter(|r| r.outcome != documented(r)) {
        problems.push(format!(
            "sql {} at {}: {} (documented: {})",
            r.anomaly,
            r.level,
            r.outcome.name(),
            documented(r).name()
        ));
    }
    if let Some(pg) = &pg {
        for (s, p) in sql.iter().zip(pg) {
            if s.outcome != p.outcome {
                problems.push(format!(
                    "{} at {}: store {} {}, PostgreSQL {} {}",
                    s.anomaly,
                    s.level,
                    s.outcome.name(),
                    s.error.unwrap_or(""),
                    p.outcome.name(),
                    p.error.unwrap_or("")
                ));
            }
        }
    }
    if args.json {
        let value = match &pg {
            None => serde_json::to_value(&sql),
            Some(pg) => serde_json::to_value(serde_json::json!({ "store": sql, "postgres": pg })),
        };
        outln!(
            "{}",
            serde_json::to_string_pretty(&value.expect("matrix serializes")).expect("json prints")
        );
    } else {
        print_table(&sql, pg.as_deref());
        let what = if pg.is_some() {
            "PostgreSQL's run and its documented behaviour"
        } else {
            "PostgreSQL's documented behaviour"
        };
        if problems.is_empty() {
            outln!(
                "\nmatches {what}: yes ({} cells; the key-value suite too)",
                sql.len()
            );
        } else {
            outln!("\nmatches {what}: NO");
            for p in &problems {
                outln!("  {p}");
            }
        }
    }
    if problems.is_empty() {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    }
}

fn run_pg(url: &str) -> Result<Vec<AnomalyResult>, crate::store::DbError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut backend = crate::postgres::PgBackend::new(url);
        crate::sql::anomaly::run_matrix(&mut backend).await
    })
}

fn cell(results: &[AnomalyResult], anomaly: &str, level: Isolation) -> String {
    let r = results
        .iter()
        .find(|r| r.anomaly == anomaly && r.level == level)
        .expect("every cell was run");
    match r.error {
        Some(code) => format!("{} ({code})", r.outcome.name()),
        None => r.outcome.name().to_string(),
    }
}

fn print_table(sql: &[AnomalyResult], pg: Option<&[AnomalyResult]>) {
    match pg {
        None => {
            outln!("SQL on the simulated store");
            outln!(
                "{:<22} {:<20} {:<20} {:<20}",
                "anomaly",
                "read-committed",
                "repeatable-read",
                "serializable"
            );
            for anomaly in ANOMALIES {
                outln!(
                    "{:<22} {:<20} {:<20} {:<20}",
                    anomaly,
                    cell(sql, anomaly, Isolation::ReadCommitted),
                    cell(sql, anomaly, Isolation::RepeatableRead),
                    cell(sql, anomaly, Isolation::Serializable)
                );
            }
        }
        Some(pg) => {
            outln!("each cell: simulated store | PostgreSQL");
            outln!(
                "{:<22} {:<38} {:<38} {:<38}",
                "anomaly",
                "read-committed",
                "repeatable-read",
                "serializable"
            );
            for anomaly in ANOMALIES {
                let both = |level| {
                    format!(
                        "{} | {}",
                        cell(sql, anomaly, level),
                        cell(pg, anomaly, level)
                    )
                };
                outln!(
                    "{:<22} {:<38} {:<38} {:<38}",
                    anomaly,
                    both(Isolation::ReadCommitted),
                    both(Isolation::RepeatableRead),
                    both(Isolation::Serializable)
                );
            }
        }
    }
}
