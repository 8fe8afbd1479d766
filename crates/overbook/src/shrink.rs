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
use crate::system::{System, Variant};
use crate::workload::arrival_times_ms;
use crate::world::Report;
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
    /// Whether `self` is no larger than `other` in every measure and
    /// smaller in at least one.
    pub fn smaller_than(&self, other: &CaseSize) -> bool {
        let pairs = [
            (self.users, other.users),
            (self.operations, other.operations),
            (self.duration_s, other.duration_s),
            (self.faults, other.faults),
        ];
        pairs.iter().all(|(a, b)| a <= b) && pairs.iter().any(|(a, b)| a < b)
    }

    /// The size of `scenario` for `system`.
    pub fn of<S: System>(system: &S, scenario: &Scenario) -> CaseSize {
        let arrivals = arrival_times_ms(&scenario.phases).len() as u64;
        let only = &scenario.run.only_users;
        let per_user = scenario
            .settings(system)
            .ok()
            .and_then(|settings| system.operations_per_user(&settings))
            .map_or(1, |(_, operations)| operations);
        let users = if only.is_empty() {
            arrivals
        } else {
            only.iter().filter(|&&u| u64::from(u) < arrivals).count() as u64
        };
        CaseSize {
            users,
            operations: users * per_user,
            duration_s: scenario.phases.iter().map(|p| p.duration_s).sum(),
            faults: (scenario.faults.partitions.len()
                + scenario.faults.holds.len()
                + scenario.faults.crashes.len()) as u64
                + scenario
                    .fault_probabilities()
                    .iter()
                    .filter(|(_, p)| *p > 0.0)
                    .count() as u64,
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
fn candidates<S: System>(system: &S, scenario: &Scenario) -> Vec<String> {
    // Whole faults first (one run can drop much), then halving, then the
    // finer single steps.
    let mut steps = Vec::new();
    if !scenario.faults.partitions.is_empty() {
        steps.push("faults.partitions=[]".to_string());
    }
    if !scenario.faults.holds.is_empty() {
        steps.push("faults.holds=[]".to_string());
    }
    if !scenario.faults.crashes.is_empty() {
        steps.push("faults.crashes=[]".to_string());
    }
    for (name, value) in scenario.fault_probabilities() {
        if value > 0.0 {
            steps.push(format!("{name}=0.0"));
        }
    }
    if scenario.faults.clock.offset_ms_max > 0 {
        steps.push("faults.clock.offset_ms_max=0".to_string());
    }
    if scenario.faults.clock.drift_ppm_max > 0 {
        steps.push("faults.clock.drift_ppm_max=0".to_string());
    }
    if scenario.faults.buggify.enabled {
        steps.push("faults.buggify.enabled=false".to_string());
    }
    let mut halves = Vec::new();
    let mut decrements = Vec::new();
    for (index, phase) in scenario.phases.iter().enumerate() {
        if phase.burst > 1 {
            halves.push(format!("phases.{index}.burst={}", phase.burst / 2));
            decrements.push(format!("phases.{index}.burst={}", phase.burst - 1));
        }
        if phase.arrival_rate > 0.0 {
            halves.push(format!("phases.{index}.arrival_rate=0.0"));
            halves.push(format!(
                "phases.{index}.arrival_rate={}",
                phase.arrival_rate / 2.0
            ));
        }
        if let Some(to) = phase.ramp_to {
            if to > 0.0 {
                halves.push(format!("phases.{index}.ramp_to={}", to / 2.0));
            }
        }
        if phase.duration_s > 1 {
            halves.push(format!(
                "phases.{index}.duration_s={}",
                phase.duration_s / 2
            ));
            decrements.push(format!(
                "phases.{index}.duration_s={}",
                phase.duration_s * 3 / 4
            ));
        }
    }
    steps.extend(halves);
    if let Ok(settings) = scenario.settings(system) {
        if let Some((path, operations)) = system.operations_per_user(&settings) {
            if operations > 1 {
                steps.push(format!("{path}={}", operations / 2));
                steps.push(format!("{path}={}", operations - 1));
            }
        }
        steps.extend(system.shrink_steps(&settings));
    }
    steps.extend(decrements);
    steps
}

/// Shrinks a failing case. `base` is the sim as loaded (without
/// `overrides`); the case must fail `invariant` with `seed` and `variant`.
/// Returns `None` when the case does not fail that way to begin with.
#[allow(clippy::too_many_arguments)]
pub fn shrink<S: System>(
    system: &S,
    base: &Scenario,
    overrides: &[String],
    seed: Seed,
    variant: Variant,
    invariant: &str,
    max_attempts: u32,
    on_progress: impl FnMut(&CaseSize, u32),
) -> Option<ShrinkOutcome> {
    let start = base.with_overrides_for(system, overrides).ok()?;
    let first = crate::crash::run(system, &start, seed, variant);
    let mut search = Search {
        system,
        base,
        seed,
        variant,
        invariant,
        max_attempts,
        on_progress,
        best: (overrides.to_vec(), first, start),
        attempts: 1,
    };
    if !search.still_fails(&search.best.1) {
        return None;
    }
    let before = CaseSize::of(system, &search.best.2);
    search.apply_candidates();
    search.drop_users();
    let after = CaseSize::of(system, &search.best.2);
    let (overrides, report, _) = search.best;
    Some(ShrinkOutcome {
        overrides: compact(system, base, overrides),
        report,
        before,
        after,
        attempts: search.attempts,
    })
}

/// A shrink in progress: the smallest failing case so far (its overrides,
/// report and scenario) and the runs spent.
struct Search<'a, S: System, P: FnMut(&CaseSize, u32)> {
    system: &'a S,
    base: &'a Scenario,
    seed: Seed,
    variant: Variant,
    invariant: &'a str,
    max_attempts: u32,
    on_progress: P,
    best: (Vec<String>, Report, Scenario),
    attempts: u32,
}

impl<S: System, P: FnMut(&CaseSize, u32)> Search<'_, S, P> {
    fn still_fails(&self, report: &Report) -> bool {
        report
            .violation
            .as_ref()
            .is_some_and(|v| v.invariant == self.invariant)
    }

    /// Runs `scenario` (the base with `trial`), keeping it as the best
    /// case when it still fails. Returns whether it did.
    fn attempt(&mut self, trial: Vec<String>, scenario: Scenario) -> bool {
        self.attempts += 1;
        let report = crate::crash::run(self.system, &scenario, self.seed, self.variant);
        if !self.still_fails(&report) {
            return false;
        }
        (self.on_progress)(&CaseSize::of(self.system, &scenario), self.attempts);
        self.best = (trial, report, scenario);
        true
    }

    /// Passes over every candidate, keeping each that still fails (no
    /// restart after a success, so one pass can take many steps); the next
    /// pass starts from the new, smaller case.
    fn apply_candidates(&mut self) {
        let system = self.system;
        loop {
            let mut progressed = false;
            for step in candidates(system, &self.best.2) {
                if self.attempts >= self.max_attempts {
                    break;
                }
                let mut trial = self.best.0.clone();
                trial.push(step);
                let Ok(scenario) = self.base.with_overrides_for(system, &trial) else {
                    continue;
                };
                if !CaseSize::of(system, &scenario)
                    .smaller_than(&CaseSize::of(system, &self.best.2))
                {
                    continue;
                }
                progressed |= self.attempt(trial, scenario);
            }
            if !progressed || self.attempts >= self.max_attempts {
                break;
            }
        }
    }

    /// Then single users: delta debugging over the set of user indexes,
    /// removing chunks of halving size while the case still fails.
    fn drop_users(&mut self) {
        let arrivals = arrival_times_ms(&self.best.2.phases).len() as u32;
        let mut users: Vec<u32> = if self.best.2.run.only_users.is_empty() {
            (0..arrivals).collect()
        } else {
            self.best.2.run.only_users.clone()
        };
        let mut chunk = users.len().div_ceil(2).max(1);
        while users.len() > 1 && self.attempts < self.max_attempts {
            let mut removed_any = false;
            let mut start = 0;
            while start < users.len() && self.attempts < self.max_attempts {
                let end = (start + chunk).min(users.len());
                let kept: Vec<u32> = users[..start]
                    .iter()
                    .chain(&users[end..])
                    .copied()
                    .collect();
                if kept.is_empty() {
                    start = end;
                    continue;
                }
                let mut trial = self.best.0.clone();
                trial.push(format!(
                    "run.only_users=[{}]",
                    kept.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                ));
                let Ok(scenario) = self.base.with_overrides_for(self.system, &trial) else {
                    break;
                };
                if self.attempt(trial, scenario) {
                    users = kept;
                    removed_any = true;
                } else {
                    start = end;
                }
            }
            if !removed_any {
                if chunk == 1 {
                    break;
                }
                chunk = chunk.div_ceil(2);
            }
        }
    }
}

/// Drops overrides that a later one of the same key makes moot.
fn compact<S: System>(system: &S, base: &Scenario, overrides: Vec<String>) -> Vec<String> {
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
    match (
        base.with_overrides_for(system, &kept),
        base.with_overrides_for(system, &overrides),
    ) {
        (Ok(a), Ok(b)) if a == b => kept,
        _ => overrides,
    }
}
