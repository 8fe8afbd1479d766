//! Shrinking: make a failing case smaller while it still fails the same
//! invariant, with the same seed.
//!
//! Each shrink step is a `--set` override (fewer users, fewer operations
//! per user, shorter phases, one fault fewer), so the result is a corpus
//! entry that replays with nothing but the original sim file. Greedy delta
//! debugging: try every step, keep those that still fail, repeat until a
//! whole pass keeps nothing or the attempt budget is spent. Because every
//! user draws from its own random stream, removing users leaves the others'
//! choices unchanged, which is what lets a case shrink.

use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::service::Variant;
use crate::workload::arrival_times_ms;
use crate::world::{self, Report};
use serde::Serialize;

/// How big a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CaseSize {
    /// Virtual users.
    pub users: u64,
    /// Operations in all (users x operations per user).
    pub operations: u64,
    /// Simulated seconds of arrivals.
    pub duration_s: u64,
    /// Scheduled faults and fault probabilities that are on.
    pub faults: u64,
}

impl CaseSize {
    /// The size of `scenario`.
    pub fn of(scenario: &Scenario) -> CaseSize {
        let users = arrival_times_ms(&scenario.phases).len() as u64;
        let probabilities = [
            scenario.faults.lost_response_probability,
            scenario.store.faults.serialization_failure_per_statement,
            scenario.store.faults.serialization_failure_at_commit,
            scenario.store.latency.spike_probability,
        ];
        CaseSize {
            users,
            operations: users * u64::from(scenario.workload.ops_per_user),
            duration_s: scenario.phases.iter().map(|p| p.duration_s).sum(),
            faults: (scenario.faults.partitions.len()
                + scenario.faults.holds.len()
                + scenario.faults.crashes.len()) as u64
                + probabilities.iter().filter(|&&p| p > 0.0).count() as u64,
        }
    }
}

/// What shrinking found.
#[derive(Clone, Debug, Serialize)]
pub struct ShrinkOutcome {
    /// The overrides of the smallest failing case (the original ones first).
    pub overrides: Vec<String>,
    /// Its report.
    pub report: Report,
    /// The size before.
    pub before: CaseSize,
    /// The size after.
    pub after: CaseSize,
    /// Runs made.
    pub attempts: u32,
}

/// Candidate steps for `scenario`, most aggressive first.
fn candidates(scenario: &Scenario) -> Vec<String> {
    let mut steps = Vec::new();
    for (index, phase) in scenario.phases.iter().enumerate() {
        if phase.burst > 1 {
            steps.push(format!("phases.{index}.burst={}", phase.burst / 2));
            steps.push(format!("phases.{index}.burst={}", phase.burst - 1));
        }
        if phase.arrival_rate > 0.0 {
            steps.push(format!("phases.{index}.arrival_rate=0.0"));
            steps.push(format!(
                "phases.{index}.arrival_rate={}",
                phase.arrival_rate / 2.0
            ));
        }
        if let Some(to) = phase.ramp_to {
            if to > 0.0 {
                steps.push(format!("phases.{index}.ramp_to={}", to / 2.0));
            }
        }
        if phase.duration_s > 1 {
            steps.push(format!(
                "phases.{index}.duration_s={}",
                phase.duration_s / 2
            ));
            steps.push(format!(
                "phases.{index}.duration_s={}",
                phase.duration_s - 1
            ));
        }
    }
    let ops = scenario.workload.ops_per_user;
    if ops > 1 {
        steps.push(format!("workload.ops_per_user={}", ops / 2));
        steps.push(format!("workload.ops_per_user={}", ops - 1));
    }
    if !scenario.faults.partitions.is_empty() {
        steps.push("faults.partitions=[]".to_string());
    }
    if !scenario.faults.holds.is_empty() {
        steps.push("faults.holds=[]".to_string());
    }
    if !scenario.faults.crashes.is_empty() {
        steps.push("faults.crashes=[]".to_string());
    }
    for (name, value) in [
        (
            "faults.lost_response_probability",
            scenario.faults.lost_response_probability,
        ),
        (
            "store.faults.serialization_failure_per_statement",
            scenario.store.faults.serialization_failure_per_statement,
        ),
        (
            "store.faults.serialization_failure_at_commit",
            scenario.store.faults.serialization_failure_at_commit,
        ),
        (
            "store.latency.spike_probability",
            scenario.store.latency.spike_probability,
        ),
    ] {
        if value > 0.0 {
            steps.push(format!("{name}=0.0"));
        }
    }
    if scenario.workload.think_ms_max > 0 {
        steps.push("workload.think_ms_min=0".to_string());
        steps.push("workload.think_ms_max=0".to_string());
    }
    steps
}

/// Shrinks a failing case. `base` is the sim as loaded (without
/// `overrides`); the case must fail `invariant` with `seed` and `variant`.
/// Returns `None` when the case does not fail that way to begin with.
pub fn shrink(
    base: &Scenario,
    overrides: &[String],
    seed: Seed,
    variant: Variant,
    invariant: &str,
    max_attempts: u32,
    mut on_progress: impl FnMut(&CaseSize, u32),
) -> Option<ShrinkOutcome> {
    let still_fails = |report: &Report| {
        report
            .violation
            .as_ref()
            .is_some_and(|v| v.invariant == invariant)
    };
    let start = base.with_overrides(overrides).ok()?;
    let first = world::run(&start, seed, variant);
    if !still_fails(&first) {
        return None;
    }
    let before = CaseSize::of(&start);
    let mut best = (overrides.to_vec(), first, start);
    let mut attempts = 1u32;
    loop {
        let mut progressed = false;
        for step in candidates(&best.2) {
            if attempts >= max_attempts {
                break;
            }
            let mut trial = best.0.clone();
            trial.push(step);
            let Ok(scenario) = base.with_overrides(&trial) else {
                continue;
            };
            if CaseSize::of(&scenario) == CaseSize::of(&best.2) {
                continue;
            }
            attempts += 1;
            let report = world::run(&scenario, seed, variant);
            if still_fails(&report) {
                on_progress(&CaseSize::of(&scenario), attempts);
                best = (trial, report, scenario);
                progressed = true;
                // Candidates depend on the current case: start over.
                break;
            }
        }
        if !progressed || attempts >= max_attempts {
            break;
        }
    }
    let after = CaseSize::of(&best.2);
    Some(ShrinkOutcome {
        overrides: compact(base, best.0),
        report: best.1,
        before,
        after,
        attempts,
    })
}

/// Drops overrides that a later one of the same key makes moot.
fn compact(base: &Scenario, overrides: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for (index, assignment) in overrides.iter().enumerate() {
        let key = assignment.split('=').next().unwrap_or("");
        let overridden_later = overrides[index + 1..]
            .iter()
            .any(|later| later.split('=').next() == Some(key));
        if !overridden_later {
            kept.push(assignment.clone());
        }
    }
    // Keep the compacted list only if it means the same scenario.
    match (base.with_overrides(&kept), base.with_overrides(&overrides)) {
        (Ok(a), Ok(b)) if a == b => kept,
        _ => overrides,
    }
}
