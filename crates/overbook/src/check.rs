//! `cargo test` entry points: run a system over seeds, replay its corpus,
//! or model-check it, and panic with the one line that reproduces a
//! failure.
//!
//! A service's tests call it with the service's [`System`] (here any
//! `S`; overbook-clinic's `tests/suite/check` runs these on the bundled
//! clinic):
//!
//! ```no_run
//! use overbook::check::Check;
//! use overbook::system::System;
//!
//! fn never_overbooks<S: System>(service: S) {
//!     // Seeds 1..=20, or OVERBOOK_SEED=N / OVERBOOK_SEEDS=K from the environment.
//!     Check::new(service).sim("sims/units-burst.toml").seeds(1..=20).run();
//! }
//!
//! fn the_planted_bug_is_found<S: System>(service: S) {
//!     let report = Check::new(service)
//!         .sim("sims/units-burst.toml")
//!         .variant("units/read-committed")
//!         .seeds(1..=5)
//!         .expect_failure();
//!     assert_eq!(report.violation.unwrap().invariant, "units_conserved");
//! }
//!
//! fn corpus_replays<S: System>(service: S) {
//!     Check::new(service).sims_dir("sims").replay_corpus("seeds");
//! }
//!
//! fn two_clients_every_interleaving<S: System>(service: S) {
//!     Check::new(service).sim("sims/explore-units.toml").explore(2, 1);
//! }
//! ```
//!
//! Set `OVERBOOK_RERECORD=1` to rewrite corpus entries whose outcome still
//! holds but whose trace hash changed (after an intended change of the
//! run), instead of failing on them.

use crate::corpus::{entries, shell_quote, Entry};
use crate::error::InputError;
use crate::explore::{self, Dfs, Limits};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::system::{System, Variant};
use crate::world::{self, seeds_from_env, Report};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// A check of one system, configured builder-style; see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct Check<S: System> {
    system: S,
    sims: Vec<String>,
    sims_dir: PathBuf,
    seeds: RangeInclusive<u64>,
    variant: String,
    overrides: Vec<String>,
    program: String,
}

impl<S: System> Check<S> {
    /// A check of `system`: no sims yet, seeds `1..=10`, the correct
    /// variant, replay lines for the `overbook` program.
    pub fn new(system: S) -> Check<S> {
        Check {
            system,
            sims: Vec::new(),
            sims_dir: PathBuf::from("sims"),
            seeds: 1..=10,
            variant: Variant::CORRECT.name().to_string(),
            overrides: Vec::new(),
            program: "overbook".to_string(),
        }
    }

    /// Adds a sim: a path, or a name looked up in the sims folder.
    pub fn sim(mut self, sim: impl Into<String>) -> Self {
        self.sims.push(sim.into());
        self
    }

    /// Where sims named without a path live (default `sims`).
    pub fn sims_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sims_dir = dir.into();
        self
    }

    /// The seeds to run when neither `OVERBOOK_SEED` nor `OVERBOOK_SEEDS`
    /// is set.
    pub fn seeds(mut self, seeds: RangeInclusive<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// The variant to run (default `correct`).
    pub fn variant(mut self, name: impl Into<String>) -> Self {
        self.variant = name.into();
        self
    }

    /// A `--set key=value` override, applied to every sim.
    pub fn set(mut self, assignment: impl Into<String>) -> Self {
        self.overrides.push(assignment.into());
        self
    }

    /// The command that replay lines start with (default `overbook`; for
    /// a user's binary, say `cargo run --release -p tickets --`).
    pub fn program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    /// Runs every sim over the seeds; returns the reports. Panics on the
    /// first failing seed with what broke and the line that replays it.
    pub fn run(self) -> Vec<Report> {
        let (variant, seeds) = self.prepare();
        let mut reports = Vec::new();
        for sim in &self.sims {
            let scenario = self.scenario(sim);
            for &seed in &seeds {
                let report = world::run(&self.system, &scenario, Seed(seed), variant);
                if !report.passed {
                    panic!("{}", self.failure(sim, &report));
                }
                reports.push(report);
            }
        }
        reports
    }

    /// Runs the sims over the seeds until one fails, and returns that
    /// report: for planted bugs, which must be found. Panics when every
    /// seed passes.
    pub fn expect_failure(self) -> Report {
        let (variant, seeds) = self.prepare();
        for sim in &self.sims {
            let scenario = self.scenario(sim);
            for &seed in &seeds {
                let report = world::run(&self.system, &scenario, Seed(seed), variant);
                if !report.passed {
                    return report;
                }
            }
        }
        panic!(
            "{} passed on every seed of {:?} in {}: the failure it should find was not found",
            self.variant,
            seeds,
            self.sims.join(", ")
        )
    }

    /// Model-checks the first sim with `clients` clients of `ops` requests
    /// each, by exhaustive DFS (up to the default limits). Panics with the
    /// schedule line of the shortest violation, or when the search did not
    /// finish. Returns the exploration's report.
    pub fn explore(self, clients: u32, ops: u32) -> explore::Report {
        let (variant, _) = self.prepare();
        let sim = self
            .sims
            .first()
            .unwrap_or_else(|| panic!("Check::explore needs a sim (Check::sim)"));
        let scenario = self.scenario(sim);
        let model =
            explore::service_scenario(&self.system, &scenario, variant, Seed(1), clients, ops)
                .map(|service| explore::service_model(&self.system, &self.variant, service))
                .unwrap_or_else(|err| panic!("{err}"));
        let report = explore::explore(&model, Dfs::default().into(), Limits::default());
        if let Some(violation) = report.violations.first() {
            panic!(
                "{violation}\n  replay: {} explore {} --clients {clients} --ops {ops} --variant {} --replay {}",
                self.program,
                shell_quote(sim),
                self.variant,
                shell_quote(&violation.line)
            );
        }
        assert!(
            report.exhausted,
            "the exploration stopped at a limit before covering every schedule:\n{report}"
        );
        report
    }

    /// Replays every entry of a corpus folder: expected failures must fail
    /// with their invariant, expected passes must pass, both with their
    /// trace hash. Panics listing every entry that did not, each with its
    /// replay command. With `OVERBOOK_RERECORD=1`, an entry whose outcome
    /// holds but whose hash changed is rewritten instead.
    pub fn replay_corpus(self, dir: impl AsRef<Path>) -> usize {
        let dir = dir.as_ref();
        let paths = entries(dir).unwrap_or_else(|err| panic!("{err}"));
        assert!(
            !paths.is_empty(),
            "{} holds no corpus entries",
            dir.display()
        );
        let rerecord = std::env::var("OVERBOOK_RERECORD").is_ok_and(|v| v == "1");
        let mut failures = Vec::new();
        for path in &paths {
            let entry = match Entry::load_for(&self.system, path) {
                Ok(entry) => entry,
                Err(err) => {
                    failures.push(err.to_string());
                    continue;
                }
            };
            if let Err(why) = entry.verify(&self.system, &self.sims_dir) {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if rerecord {
                    if let Some(updated) = self.rerecorded(&entry, &text) {
                        std::fs::write(path, updated)
                            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
                        eprintln!("re-recorded {}", path.display());
                        continue;
                    }
                }
                failures.push(format!(
                    "{}: {why}\n  replay: {}",
                    path.display(),
                    entry.replay_command_with(&self.program)
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} corpus entries failed (OVERBOOK_RERECORD=1 rewrites stale hashes whose outcome still holds):\n{}",
            failures.len(),
            paths.len(),
            failures.join("\n")
        );
        paths.len()
    }

    /// The entry's file text with the current trace hash and step put in
    /// place (comments kept), when the outcome it records still holds.
    fn rerecorded(&self, entry: &Entry, text: &str) -> Option<String> {
        let report = entry.run(&self.system, &self.sims_dir).ok()?;
        if entry.outcome_differs(&report).is_some() {
            return None;
        }
        let step = report.violation.as_ref().map(|v| v.step);
        let lines: Vec<String> = text
            .lines()
            .map(|line| match line.split('=').next().map(str::trim) {
                Some("trace_hash") => format!("trace_hash = \"{}\"", report.trace_hash),
                Some("step") => step.map_or(line.to_string(), |step| format!("step = {step}")),
                _ => line.to_string(),
            })
            .collect();
        Some(lines.join("\n") + "\n")
    }

    fn prepare(&self) -> (Variant, Vec<u64>) {
        let variant = self.system.variant(&self.variant).unwrap_or_else(|| {
            let known: Vec<&str> = self.system.variants().iter().map(|v| v.name).collect();
            panic!(
                "unknown variant `{}` of {} (known: {})",
                self.variant,
                self.system.name(),
                known.join(", ")
            )
        });
        let seeds = seeds_from_env(self.seeds.clone()).unwrap_or_else(|err| panic!("{err}"));
        (variant, seeds)
    }

    fn scenario(&self, sim: &str) -> Scenario {
        let path = crate::corpus::resolve_sim(sim, &self.sims_dir);
        Scenario::load_for(&self.system, &path)
            .and_then(|scenario| scenario.with_overrides_for(&self.system, &self.overrides))
            .unwrap_or_else(|err: InputError| panic!("{err}"))
    }

    fn failure(&self, sim: &str, report: &Report) -> String {
        let why = report.why_failed();
        let overrides: String = self
            .overrides
            .iter()
            .map(|o| format!(" --set {}", shell_quote(o)))
            .collect();
        format!(
            "{} failed with seed {}: {why}\n  replay: {} replay --sim {} --seed {} --variant {}{overrides} --trace\n  (rerun this test alone with OVERBOOK_SEED={})",
            report.sim,
            report.seed,
            self.program,
            shell_quote(sim),
            report.seed,
            self.variant,
            report.seed
        )
    }
}
