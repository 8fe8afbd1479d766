//! Seeds for tests, like madsim's `MADSIM_TEST_SEED` / `MADSIM_TEST_NUM`:
//! `OVERBOOK_SEED=N` runs exactly seed N, `OVERBOOK_SEEDS=K` runs seeds
//! `1..=K`; otherwise a test runs its own default range.

use super::{run, Report};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::system::{System, Variant};
use std::ops::RangeInclusive;

/// The seeds to run: from `OVERBOOK_SEED`/`OVERBOOK_SEEDS`, else `default`.
/// A malformed variable is an error naming it.
pub fn seeds_from_env(default: RangeInclusive<u64>) -> Result<Vec<u64>, String> {
    let parse = |name: &str| -> Result<Option<u64>, String> {
        match std::env::var(name) {
            Ok(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={text:?} is not a whole number")),
            Err(_) => Ok(None),
        }
    };
    if let Some(seed) = parse("OVERBOOK_SEED")? {
        return Ok(vec![seed]);
    }
    if let Some(count) = parse("OVERBOOK_SEEDS")? {
        if count == 0 {
            return Err("OVERBOOK_SEEDS must be at least 1".into());
        }
        return Ok((1..=count).collect());
    }
    Ok(default.collect())
}

/// Runs `scenario` over the seeds from [`seeds_from_env`] and returns the
/// reports; on the first failing seed, an error with the seed, what broke
/// and the command that replays it.
pub fn run_seeds<S: System>(
    system: &S,
    scenario: &Scenario,
    sim_path: &str,
    variant: Variant,
    default: RangeInclusive<u64>,
) -> Result<Vec<Report>, String> {
    let mut reports = Vec::new();
    for seed in seeds_from_env(default)? {
        let report = run(system, scenario, Seed(seed), variant);
        if !report.passed {
            let why = report.why_failed();
            return Err(format!(
                "{} failed with seed {seed}: {why}\n  replay: overbook replay --sim {sim_path} --seed {seed} --variant {} --trace\n  (rerun this test alone with OVERBOOK_SEED={seed})",
                scenario.name,
                variant.name()
            ));
        }
        reports.push(report);
    }
    Ok(reports)
}
