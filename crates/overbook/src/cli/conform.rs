//! `conform`: the same SQL programs on the simulated store and on a real
//! PostgreSQL, step by step; every disagreement classified, and examples
//! shrunk to psql scripts.

use crate::conform::{Class, Config, Feature, LevelReport, JOBS_MAX};
use crate::seed::Seed;
use crate::store::Isolation;

/// Most generated programs per level one run accepts.
const PROGRAMS_MAX: u64 = 1_000_000;
/// Most shrunk examples per class and level.
const EXAMPLES_MAX: usize = 100;

/// Arguments of `overbook conform`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The PostgreSQL to compare with (`postgresql://user@host:port/db`,
    /// a superuser for a short deadlock_timeout). It creates the tables
    /// acct, hold, seat, kv, emp, booking and stay there in a schema of its own
    /// per job (`overbook_<pid>_<n>`, left behind), and the btree_gist
    /// extension.
    #[arg(long, value_name = "URL")]
    pg: String,
    /// Generated programs per level (the anomaly suite runs as well).
    #[arg(long, default_value_t = 100, value_name = "N")]
    programs: u64,
    /// The seed the programs are drawn from.
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// read-committed, repeatable-read, serializable or all; repeat for
    /// several (default: all).
    #[arg(long, value_name = "LEVEL")]
    level: Vec<String>,
    /// Draw only these statement kinds (point-read, range-read,
    /// predicate-read, locking-read, shared-lock, insert, update,
    /// key-update, delete, upsert, savepoint, lock-timeout, subquery, cte,
    /// write-from-query, outer-join, seat, lock-table, advisory-lock,
    /// time-uuid, sequence); repeatable. Default: all of them.
    #[arg(long, value_name = "FEATURE")]
    feature: Vec<String>,
    /// Leave out the anomaly suite's scripts.
    #[arg(long)]
    no_anomalies: bool,
    /// Disagreements shrunk and printed per class and level (every unsound
    /// one is).
    #[arg(long, default_value_t = 3, value_name = "N")]
    examples: usize,
    /// Programs run at once, each on connections and a schema of its own
    /// (1: one after another). The report is the same for any value
    /// whenever PostgreSQL answers each program the same way.
    #[arg(long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Print the counts, findings and examples as JSON.
    #[arg(long)]
    json: bool,
}

fn levels(args: &[String]) -> Result<Vec<Isolation>, String> {
    if args.is_empty() {
        return Ok(Isolation::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in args {
        let found: Vec<Isolation> = match name.as_str() {
            "all" => Isolation::ALL.to_vec(),
            _ => Isolation::ALL
                .into_iter()
                .filter(|l| l.name() == name)
                .collect(),
        };
        if found.is_empty() {
            return Err(format!(
                "--level {name}: unknown level; known: read-committed, repeatable-read, serializable, all"
            ));
        }
        for level in found {
            if !out.contains(&level) {
                out.push(level);
            }
        }
    }
    Ok(out)
}

fn config(args: &Args) -> Result<Config, String> {
    if args.programs > PROGRAMS_MAX {
        return Err(format!(
            "--programs {}: at most {PROGRAMS_MAX}",
            args.programs
        ));
    }
    if args.examples > EXAMPLES_MAX {
        return Err(format!(
            "--examples {}: at most {EXAMPLES_MAX}",
            args.examples
        ));
    }
    if !(1..=JOBS_MAX).contains(&args.jobs) {
        return Err(format!(
            "--jobs {}: between 1 and {JOBS_MAX} programs at once",
            args.jobs
        ));
    }
    let mut features = Vec::new();
    for name in &args.feature {
        let Some(f) = Feature::from_name(name) else {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            return Err(format!(
                "--feature {name}: unknown feature; known: {}",
                known.join(", ")
            ));
        };
        if !features.contains(&f) {
            features.push(f);
        }
    }
    if features.is_empty() {
        features = Feature::SUPPORTED.to_vec();
    }
    Ok(Config {
        programs: args.programs,
        seed: Seed(args.seed),
        levels: levels(&args.level)?,
        features,
        anomalies: !args.no_anomalies,
        examples_per_class: args.examples,
        shrink_runs_max: 400,
    })
}

pub(super) fn run(args: Args) -> u8 {
    let config = match config(&args) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return super::EXIT_USAGE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    let result = runtime.block_on(async {
        let prelude = crate::postgres::PgSession::connect(&args.pg).await?;
        prelude
            .client()
            .batch_execute(crate::conform::generate::PG_PRELUDE)
            .await
            .map_err(|e| crate::postgres::db_error(&e))?;
        drop(prelude);
        let backends = (0..args.jobs)
            .map(|_| crate::postgres::PgBackend::new(&args.pg))
            .collect();
        crate::conform::conform(backends, &config, |r| {
            if r.programs % 1000 == 0 {
                eprintln!(
                    "{}: {} programs, {:.1}% agree, {} unsound ({:.0} s)",
                    r.level,
                    r.programs,
                    r.agreement_pct,
                    r.count(Class::Unsound),
                    started.elapsed().as_secs_f64()
                );
            }
        })
        .await
    });
    let reports = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: PostgreSQL at {}: {e}", args.pg);
            return super::EXIT_USAGE;
        }
    };
    if args.json {
        let value = serde_json::json!({
            "seed": args.seed,
            "programs_per_level": args.programs,
            "features": config.features,
            "levels": reports,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).expect("the report serializes")
        );
    } else {
        print_text(&reports, &config);
    }
    if reports.iter().any(|r| r.count(Class::Unsound) > 0) {
        super::EXIT_FAILURE
    } else {
        super::EXIT_PASS
    }
}

fn codes(by_code: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn print_text(reports: &[LevelReport], config: &Config) {
    for r in reports {
        for example in &r.examples {
            outln!(
                "== {} example, shrunk from {} to {} steps\n{}",
                example.verdict.class.name(),
                example.steps_before,
                example.steps_after,
                example.script
            );
        }
    }
    outln!(
        "conform: seed {}, {} generated programs per level{}",
        config.seed,
        config.programs,
        if config.anomalies {
            " plus the anomaly suite"
        } else {
            ""
        }
    );
    outln!(
        "{:<17} {:>8} {:>7} {:>11} {:>8} {:>8} {:>7} {:>9} {:>8} {:>14} {:>14}",
        "level",
        "programs",
        "agree",
        "unsupported",
        "unsound",
        "stricter",
        "looser",
        "different",
        "agree %",
        "aborted store",
        "aborted pg"
    );
    for r in reports {
        outln!(
            "{:<17} {:>8} {:>7} {:>11} {:>8} {:>8} {:>7} {:>9} {:>7.1}% {:>14} {:>14}",
            r.level.name(),
            r.programs,
            r.count(Class::Agree),
            r.count(Class::Unsupported),
            r.count(Class::Unsound),
            r.count(Class::Stricter),
            r.count(Class::Looser),
            r.count(Class::Different),
            r.agreement_pct,
            r.aborted_store,
            r.aborted_pg
        );
    }
    for r in reports {
        outln!(
            "{}: of {} transactions, aborted on the store: {}; on PostgreSQL: {}",
            r.level.name(),
            r.transactions,
            codes(&r.aborted_store_by_code),
            codes(&r.aborted_pg_by_code)
        );
    }
    for r in reports.iter().filter(|r| r.agreed_on_rerun > 0) {
        outln!(
            "{}: {} of the agreeing programs agreed on a second run on PostgreSQL (where one step woke two sessions, or a statement's own timeout ended its wait, PostgreSQL's timing varies from run to run)",
            r.level.name(),
            r.agreed_on_rerun
        );
    }
    let unsound: u64 = reports.iter().map(|r| r.count(Class::Unsound)).sum();
    outln!(
        "unsound: {unsound}{}",
        if unsound == 0 {
            ""
        } else {
            " (the store allowed what PostgreSQL forbids; scripts above)"
        }
    );
}
