//! Merging findings (`overbook corpus merge DIR... --into DIR`): the
//! `fuzz --save` folders of many shards become one corpus folder with one
//! shrunk entry per distinct failure.
//!
//! Every failing entry is shrunk ([`crate::shrink`]) and then identified by
//! what failed: the sim, the variant, the invariant and the shape of the
//! shrunk case (users, operations per user, and which faults it still
//! needs). Entries with the same identity are one finding; the smallest
//! (then lowest seed) is kept. A finding whose identity matches an entry of
//! a `--known` corpus is known; anything else is new.

use crate::corpus::{entries, Entry, Expect};
use crate::error::InputError;
use crate::junit::{Case, Junit, Outcome};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::shrink::{shrink, CaseSize};
use crate::system::System;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How to merge.
#[derive(Clone, Debug)]
pub struct MergeOptions {
    /// Where bundled sims are (`sims`).
    pub sims_dir: PathBuf,
    /// Most runs spent shrinking one entry.
    pub shrink_attempts_max: u32,
    /// Corpus folders of findings already known (`seeds`).
    pub known: Vec<PathBuf>,
    /// Most entries shrunk per kind of failure (sim, variant, invariant):
    /// the smallest as found; the rest count with the smallest finding of
    /// their kind, unshrunk. A real bug found by thousands of seeds costs a
    /// few shrinks, not thousands.
    pub shrinks_per_kind_max: usize,
    /// Threads shrinking at once.
    pub jobs: usize,
}

/// One distinct failure, after shrinking.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The kept entry, shrunk.
    pub entry: Entry,
    /// What failed: sim, variant, invariant and the shrunk case's shape.
    pub identity: String,
    /// The shrunk case's size.
    pub size: CaseSize,
    /// Entries merged into this one (this one included).
    pub merged: Vec<PathBuf>,
    /// Of those, how many were not shrunk (past the per-kind budget).
    pub unshrunk: usize,
    /// The known entry with the same identity, if any.
    pub known: Option<PathBuf>,
    /// Whether shrinking reproduced it (if not, the entry is kept as found:
    /// a finding that does not replay is a determinism bug).
    pub reproduced: bool,
    /// Wall time spent shrinking the kept entry.
    pub shrink_ms: u64,
}

impl Finding {
    /// One line: new or known, the identity, the seed and where it came from.
    pub fn summary_line(&self) -> String {
        let status = match (&self.known, self.reproduced) {
            (_, false) => "NOT REPRODUCED".to_string(),
            (Some(path), true) => format!("known ({})", path.display()),
            (None, true) => "NEW".to_string(),
        };
        format!(
            "{status}: {} (seed {}, {} entr{} merged{})",
            self.identity,
            self.entry.seed,
            self.merged.len(),
            if self.merged.len() == 1 { "y" } else { "ies" },
            if self.unshrunk > 0 {
                format!(", {} of them not shrunk", self.unshrunk)
            } else {
                String::new()
            }
        )
    }

    /// Whether this finding counts against a nightly run.
    pub fn is_new(&self) -> bool {
        self.known.is_none() || !self.reproduced
    }
}

/// What a merge found.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// Failing entries read.
    pub entries_read: usize,
    /// Distinct findings, by identity.
    pub findings: Vec<Finding>,
    /// Files that are not mergeable entries, and why.
    pub rejected: Vec<(PathBuf, String)>,
}

impl Merged {
    /// Findings not in the known corpus, and rejected files.
    pub fn new_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_new()).count() + self.rejected.len()
    }

    /// A markdown summary (for `$GITHUB_STEP_SUMMARY`).
    pub fn markdown(&self, title: &str) -> String {
        let mut out = String::new();
        let new = self.new_count();
        let _ = writeln!(out, "## {title}\n");
        let _ = writeln!(
            out,
            "{} failing entries merged into {} distinct finding(s): **{} new**, {} known.\n",
            self.entries_read,
            self.findings.len(),
            new,
            self.findings.len() + self.rejected.len() - new
        );
        if !self.findings.is_empty() {
            let _ = writeln!(
                out,
                "| status | sim | variant | invariant | shrunk case | seed | merged | reproduce |\n|---|---|---|---|---|---|---|---|"
            );
            for f in &self.findings {
                let status = match (&f.known, f.reproduced) {
                    (_, false) => "not reproduced",
                    (Some(_), true) => "known",
                    (None, true) => "**new**",
                };
                let _ = writeln!(
                    out,
                    "| {status} | {} | {} | {} | {} | {} | {} | `{}` |",
                    f.entry.sim,
                    f.entry.variant,
                    f.entry.invariant.as_deref().unwrap_or("-"),
                    shape(&f.size),
                    f.entry.seed,
                    f.merged.len(),
                    f.entry.replay_command().replace('|', "\\|")
                );
            }
        }
        for (path, why) in &self.rejected {
            let _ = writeln!(out, "\n- not merged: `{}`: {why}", path.display());
        }
        out
    }

    /// One test case per finding (failed when new, skipped when known) and
    /// per rejected file.
    pub fn junit(&self) -> Junit {
        let mut junit = Junit::new("overbook corpus merge");
        for f in &self.findings {
            let outcome = if f.is_new() {
                Outcome::Failed {
                    kind: f.entry.invariant.clone().unwrap_or_default(),
                    message: f.summary_line(),
                    detail: format!(
                        "reproduce: {}\nmerged: {}",
                        f.entry.replay_command(),
                        f.merged
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            } else {
                Outcome::Skipped {
                    message: f.summary_line(),
                }
            };
            junit.push(Case {
                suite: sim_name(&f.entry.sim),
                name: f.identity.clone(),
                classname: format!("overbook.corpus.{}", sim_name(&f.entry.sim)),
                wall: std::time::Duration::from_millis(f.shrink_ms),
                outcome,
            });
        }
        for (path, why) in &self.rejected {
            junit.push(Case {
                suite: "rejected".to_string(),
                name: path.display().to_string(),
                classname: "overbook.corpus.rejected".to_string(),
                wall: std::time::Duration::ZERO,
                outcome: Outcome::Failed {
                    kind: "unreadable".to_string(),
                    message: why.clone(),
                    detail: String::new(),
                },
            });
        }
        junit
    }

    /// Saves every finding's entry into `into` (atomically, as `fuzz
    /// --save` does). Returns the paths.
    pub fn save(&self, into: &Path) -> Result<Vec<PathBuf>, InputError> {
        self.findings.iter().map(|f| f.entry.save(into)).collect()
    }
}

/// A sim's bare name (`sims/units-burst.toml` -> `units-burst`).
fn sim_name(sim: &str) -> String {
    Path::new(sim)
        .file_stem()
        .map_or(sim.to_string(), |s| s.to_string_lossy().into_owned())
}

fn shape(size: &CaseSize) -> String {
    let per_user = size.operations.checked_div(size.users).unwrap_or(0);
    format!(
        "{} user{} x {} op{}",
        size.users,
        if size.users == 1 { "" } else { "s" },
        per_user,
        if per_user == 1 { "" } else { "s" }
    )
}

/// What failed, for deduplication: sim, variant, invariant, and the shape
/// of the case (users, operations per user, faults still on).
pub fn identity<S: System>(system: &S, entry: &Entry, scenario: &Scenario) -> String {
    let size = CaseSize::of(system, scenario);
    let mut faults: Vec<&str> = scenario
        .fault_probabilities()
        .iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|(name, _)| *name)
        .collect();
    for (name, on) in [
        ("partitions", !scenario.faults.partitions.is_empty()),
        ("holds", !scenario.faults.holds.is_empty()),
        ("crashes", !scenario.faults.crashes.is_empty()),
    ] {
        if on {
            faults.push(name);
        }
    }
    format!(
        "{} {} {}: {}{}",
        sim_name(&entry.sim),
        entry.variant,
        entry.invariant.as_deref().unwrap_or("-"),
        shape(&size),
        if faults.is_empty() {
            ", no faults".to_string()
        } else {
            format!(", faults: {}", faults.join(", "))
        }
    )
}

/// Identities of the failing entries of the known corpus folders (missing
/// folders count as empty).
fn known_identities<S: System>(system: &S, options: &MergeOptions) -> BTreeMap<String, PathBuf> {
    let mut known = BTreeMap::new();
    for dir in &options.known {
        let Ok(paths) = entries(dir) else { continue };
        for path in paths {
            let Ok(entry) = Entry::load(&path) else {
                continue;
            };
            if entry.expect != Expect::Fail {
                continue;
            }
            if let Ok(scenario) = entry.scenario(system, &options.sims_dir) {
                known
                    .entry(identity(system, &entry, &scenario))
                    .or_insert(path);
            }
        }
    }
    known
}

/// A shrunk entry, or the entry as found when it no longer fails.
struct Shrunk {
    entry: Entry,
    identity: String,
    size: CaseSize,
    reproduced: bool,
    shrink_ms: u64,
}

fn shrink_entry<S: System>(
    system: &S,
    entry: &Entry,
    options: &MergeOptions,
) -> Result<Shrunk, String> {
    let invariant = entry
        .invariant
        .clone()
        .ok_or("a failing entry names no invariant")?;
    let variant = system
        .variant(&entry.variant)
        .ok_or_else(|| format!("unknown variant {}", entry.variant))?;
    let base = Scenario::load_for(system, &entry.scenario_path(&options.sims_dir))
        .map_err(|e| e.to_string())?;
    let found = base
        .with_overrides_for(system, &entry.overrides)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let outcome = shrink(
        system,
        &base,
        &entry.overrides,
        Seed(entry.seed),
        variant,
        &invariant,
        options.shrink_attempts_max,
        |_, _| {},
    );
    let shrink_ms = started.elapsed().as_millis() as u64;
    Ok(match outcome {
        Some(outcome) => {
            let scenario = base
                .with_overrides_for(system, &outcome.overrides)
                .map_err(|e| e.to_string())?;
            let shrunk = Entry::from_report(
                &entry.sim,
                &outcome.overrides,
                &outcome.report,
                format!("{} (shrunk by overbook corpus merge)", entry.found_by),
            );
            Shrunk {
                identity: identity(system, &shrunk, &scenario),
                size: CaseSize::of(system, &scenario),
                entry: shrunk,
                reproduced: true,
                shrink_ms,
            }
        }
        None => Shrunk {
            identity: format!("{} (does not reproduce)", identity(system, entry, &found)),
            size: CaseSize::of(system, &found),
            entry: entry.clone(),
            reproduced: false,
            shrink_ms,
        },
    })
}

/// The order findings are preferred in: fewest users, operations and
/// faults, then the lowest seed.
fn rank(size: &CaseSize, seed: u64) -> (u64, u64, u64, u64) {
    (size.users, size.operations, size.faults, seed)
}

/// A kind of failure: sim, variant, invariant.
type Kind = (String, String, Option<String>);

/// A preference rank ([`rank`]) and an index.
type Ranked = ((u64, u64, u64, u64), usize);

/// What kind of failure an entry is, before shrinking tells the case.
fn kind(entry: &Entry) -> Kind {
    (
        sim_name(&entry.sim),
        entry.variant.clone(),
        entry.invariant.clone(),
    )
}

/// The runs to shrink, as indexes into `runs` in ascending order: of each
/// kind, the smallest `shrinks_per_kind_max` as found.
fn choose_shrinks<S: System>(
    system: &S,
    runs: &[(Entry, Vec<PathBuf>)],
    options: &MergeOptions,
) -> Vec<usize> {
    let mut by_kind: BTreeMap<Kind, Vec<Ranked>> = BTreeMap::new();
    for (index, (entry, _)) in runs.iter().enumerate() {
        let size = entry
            .scenario(system, &options.sims_dir)
            .map(|s| CaseSize::of(system, &s))
            .map_or((u64::MAX, u64::MAX, u64::MAX, entry.seed), |s| {
                rank(&s, entry.seed)
            });
        by_kind.entry(kind(entry)).or_default().push((size, index));
    }
    let mut chosen: Vec<usize> = by_kind
        .into_values()
        .flat_map(|mut runs| {
            runs.sort_unstable();
            runs.into_iter()
                .take(options.shrinks_per_kind_max.max(1))
                .map(|(_, index)| index)
        })
        .collect();
    chosen.sort_unstable();
    chosen
}

/// Shrinks the `chosen` runs on `options.jobs` threads (each simulation is
/// single-threaded); results in the order of `chosen`.
fn shrink_all<S: System>(
    system: &S,
    runs: &[(Entry, Vec<PathBuf>)],
    chosen: &[usize],
    options: &MergeOptions,
    on_entry: impl FnMut(usize, usize, &Path) + Send,
) -> Vec<Result<Shrunk, String>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Shrunk, String>>>> =
        chosen.iter().map(|_| Mutex::new(None)).collect();
    let progress = Mutex::new((0usize, on_entry));
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, chosen.len().max(1)) {
            scope.spawn(|| loop {
                let slot = next.fetch_add(1, Ordering::SeqCst);
                let Some(&index) = chosen.get(slot) else {
                    return;
                };
                let (entry, paths) = &runs[index];
                {
                    let mut progress = progress.lock().unwrap_or_else(|e| e.into_inner());
                    let started = progress.0;
                    progress.0 += 1;
                    (progress.1)(started, chosen.len(), &paths[0]);
                }
                let result = shrink_entry(system, entry, options);
                *results[slot].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            });
        }
    });
    results
        .into_iter()
        .map(|cell| {
            cell.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err("a shrinking thread stopped".to_string()))
        })
        .collect()
}

/// Reads every entry in `dirs`, shrinks the failing ones (of each kind, at
/// most [`MergeOptions::shrinks_per_kind_max`], smallest first) and keeps
/// one per identity. `on_entry` is told of each entry as its shrinking
/// starts (how many started before, total, path). A folder that cannot be
/// read is an input error; a file in it that is not an entry is reported in
/// [`Merged::rejected`].
pub fn merge<S: System>(
    system: &S,
    dirs: &[PathBuf],
    options: &MergeOptions,
    on_entry: impl FnMut(usize, usize, &Path) + Send,
) -> Result<Merged, InputError> {
    let mut merged = Merged::default();
    // Each distinct run once (the same file name is the same sim, variant,
    // seed and overrides), in name order, so the result does not depend on
    // the order of the folders.
    let mut runs: BTreeMap<String, (Entry, Vec<PathBuf>)> = BTreeMap::new();
    for dir in dirs {
        for path in entries(dir)? {
            match Entry::load_for(system, &path) {
                Ok(entry) if entry.expect == Expect::Fail => {
                    merged.entries_read += 1;
                    runs.entry(entry.file_name())
                        .or_insert_with(|| (entry, Vec::new()))
                        .1
                        .push(path);
                }
                Ok(_) => {}
                Err(err) => merged.rejected.push((path, err.to_string())),
            }
        }
    }
    let known = known_identities(system, options);
    let runs: Vec<(Entry, Vec<PathBuf>)> = runs.into_values().collect();
    let chosen = choose_shrinks(system, &runs, options);
    let results = shrink_all(system, &runs, &chosen, options, on_entry);
    let mut by_identity: BTreeMap<String, Finding> = BTreeMap::new();
    for (&index, result) in chosen.iter().zip(results) {
        let paths = runs[index].1.clone();
        let shrunk = match result {
            Ok(shrunk) => shrunk,
            Err(why) => {
                merged.rejected.push((paths[0].clone(), why));
                continue;
            }
        };
        match by_identity.get_mut(&shrunk.identity) {
            Some(finding) => {
                finding.merged.extend(paths);
                if rank(&shrunk.size, shrunk.entry.seed) < rank(&finding.size, finding.entry.seed) {
                    finding.entry = shrunk.entry;
                    finding.size = shrunk.size;
                    finding.shrink_ms = shrunk.shrink_ms;
                }
            }
            None => {
                by_identity.insert(
                    shrunk.identity.clone(),
                    Finding {
                        known: known
                            .get(&shrunk.identity)
                            .filter(|_| shrunk.reproduced)
                            .cloned(),
                        entry: shrunk.entry,
                        identity: shrunk.identity,
                        size: shrunk.size,
                        merged: paths,
                        unshrunk: 0,
                        reproduced: shrunk.reproduced,
                        shrink_ms: shrunk.shrink_ms,
                    },
                );
            }
        }
    }
    // Runs past the shrink budget of their kind count with the smallest
    // finding of that kind.
    for (index, (entry, paths)) in runs.iter().enumerate() {
        if chosen.contains(&index) {
            continue;
        }
        let smallest = by_identity
            .values_mut()
            .filter(|f| kind(&f.entry) == kind(entry))
            .min_by_key(|f| rank(&f.size, f.entry.seed));
        match smallest {
            Some(finding) => {
                finding.merged.extend(paths.iter().cloned());
                finding.unshrunk += paths.len();
            }
            None => merged.rejected.push((
                paths[0].clone(),
                "not shrunk: the entries of its kind that were could not be".to_string(),
            )),
        }
    }
    merged.findings = by_identity.into_values().collect();
    for finding in &mut merged.findings {
        finding.merged.sort();
    }
    Ok(merged)
}
