//! The regression corpus (`seeds/`): failing seeds found and kept, one
//! human-readable TOML file per finding, replayed by `cargo test`.
//!
//! ```toml
//! # seeds/units-contention--units-read-committed--3.toml
//! sim = "units-contention"
//! seed = 3
//! variant = "units/read-committed"
//! overrides = []
//! expect = "fail"              # a planted bug kept as a regression
//! invariant = "no_overbooking"
//! step = 1234
//! trace_hash = "9f3c2a..."
//! found_by = "overbook fuzz units-contention --seeds 1..100 --variant units/read-committed"
//! ```
//!
//! `expect = "fail"` entries must still fail with the same invariant;
//! `expect = "pass"` entries (a fixed bug) must pass. Both must reproduce
//! the recorded trace hash exactly, or the entry is stale.

use crate::error::InputError;
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::system::System;
use crate::world::{self, Report};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Whether an entry is expected to fail or pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Still fails with the recorded invariant (a planted bug kept).
    Fail,
    /// Passes (a bug that was fixed).
    Pass,
}

/// One corpus entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The sim: a bundled name (`units-contention`) or a path.
    pub sim: String,
    /// The seed.
    pub seed: u64,
    /// The service variant.
    pub variant: String,
    /// `--set` overrides, in order.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// The expected outcome.
    pub expect: Expect,
    /// The invariant that broke (for `expect = "fail"`).
    #[serde(default)]
    pub invariant: Option<String>,
    /// The step at which it broke.
    #[serde(default)]
    pub step: Option<u64>,
    /// The run's trace hash.
    pub trace_hash: String,
    /// How it was found (a command line), for people.
    #[serde(default)]
    pub found_by: String,
}

impl Entry {
    /// An entry recording what `report` found.
    pub fn from_report(
        sim: &str,
        overrides: &[String],
        report: &Report,
        found_by: String,
    ) -> Entry {
        Entry {
            sim: sim.to_string(),
            seed: report.seed,
            variant: report.variant.clone(),
            overrides: overrides.to_vec(),
            expect: if report.passed {
                Expect::Pass
            } else {
                Expect::Fail
            },
            invariant: report.violation.as_ref().map(|v| v.invariant.clone()),
            step: report.violation.as_ref().map(|v| v.step),
            trace_hash: report.trace_hash.clone(),
            found_by,
        }
    }

    /// Reads an entry, with errors naming the file, line and field.
    pub fn load(path: &Path) -> Result<Entry, InputError> {
        let text = std::fs::read_to_string(path).map_err(|err| InputError::io(path, &err))?;
        Entry::parse(&text, &path.display().to_string())
    }

    /// Reads an entry for `system`: also checks that its variant is one
    /// the system declares.
    pub fn load_for<S: System>(system: &S, path: &Path) -> Result<Entry, InputError> {
        let text = std::fs::read_to_string(path).map_err(|err| InputError::io(path, &err))?;
        Entry::parse_for(system, &text, &path.display().to_string())
    }

    /// [`Entry::parse`], and the variant must be one `system` declares.
    pub fn parse_for<S: System>(system: &S, text: &str, source: &str) -> Result<Entry, InputError> {
        let entry = Entry::parse(text, source)?;
        if system.variant(&entry.variant).is_none() {
            let known: Vec<&str> = system.variants().iter().map(|v| v.name).collect();
            let mut err = InputError::new(format!(
                "unknown variant `{}` (known: {})",
                entry.variant,
                known.join(", ")
            ))
            .in_source(source)
            .at_field("variant");
            if let Some(line) = text
                .lines()
                .position(|l| l.trim_start().starts_with("variant"))
            {
                err = err.at_line(line + 1, 1);
            }
            return Err(err);
        }
        Ok(entry)
    }

    /// Parses entry text; `source` names it in errors. The variant is
    /// checked against a system by [`Entry::parse_for`].
    pub fn parse(text: &str, source: &str) -> Result<Entry, InputError> {
        let entry: Entry = crate::scenario::deserialize_located(text, source)?;
        let field_error = |field: &str, message: String| {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(field))
                .map(|i| i + 1);
            let mut err = InputError::new(message).in_source(source).at_field(field);
            if let Some(line) = line {
                err = err.at_line(line, 1);
            }
            err
        };
        if entry.trace_hash.len() != 16 || !entry.trace_hash.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(field_error(
                "trace_hash",
                format!("`{}` is not a 16-digit hex trace hash", entry.trace_hash),
            ));
        }
        if entry.expect == Expect::Fail && entry.invariant.is_none() {
            return Err(field_error(
                "invariant",
                "an entry expected to fail names the invariant".into(),
            ));
        }
        Ok(entry)
    }

    /// The file name this entry is saved under.
    pub fn file_name(&self) -> String {
        let sim = Path::new(&self.sim)
            .file_stem()
            .map_or(self.sim.clone(), |s| s.to_string_lossy().into_owned());
        let variant = self.variant.replace('/', "-");
        let overrides = if self.overrides.is_empty() {
            String::new()
        } else {
            format!(
                "--{:08x}",
                crate::seed::fnv1a(self.overrides.join(" ").as_bytes()) as u32
            )
        };
        format!("{sim}--{variant}--{}{overrides}.toml", self.seed)
    }

    /// Writes the entry into `dir` atomically (a temporary file renamed
    /// into place), so an interrupted write never leaves half an entry.
    /// Returns the path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, InputError> {
        std::fs::create_dir_all(dir).map_err(|err| InputError::io_write(dir, &err))?;
        let path = dir.join(self.file_name());
        let temporary = dir.join(format!(".{}.tmp", self.file_name()));
        let text = toml::to_string(self).map_err(|err| InputError::new(err.to_string()))?;
        let header = "# overbook corpus entry: `cargo test` replays it; `overbook replay` on this file reproduces it.\n";
        std::fs::write(&temporary, format!("{header}{text}"))
            .map_err(|err| InputError::io_write(&temporary, &err))?;
        std::fs::rename(&temporary, &path).map_err(|err| InputError::io_write(&path, &err))?;
        Ok(path)
    }

    /// The scenario file this entry names, resolved against `sims_dir` for
    /// bundled names.
    pub fn scenario_path(&self, sims_dir: &Path) -> PathBuf {
        resolve_sim(&self.sim, sims_dir)
    }

    /// Loads the scenario with the entry's overrides, both checked for
    /// `system`.
    pub fn scenario<S: System>(&self, system: &S, sims_dir: &Path) -> Result<Scenario, InputError> {
        Scenario::load_for(system, &self.scenario_path(sims_dir))?
            .with_overrides_for(system, &self.overrides)
    }

    /// The command line that reproduces this entry with the `overbook`
    /// binary.
    pub fn replay_command(&self) -> String {
        self.replay_command_with("overbook")
    }

    /// The command line that reproduces this entry with `program` (a
    /// user's own binary, `cargo run --release -p tickets --`).
    pub fn replay_command_with(&self, program: &str) -> String {
        let overrides: String = self
            .overrides
            .iter()
            .map(|o| format!(" --set {}", shell_quote(o)))
            .collect();
        format!(
            "{program} replay --sim {} --seed {} --variant {}{overrides}",
            shell_quote(&self.sim),
            self.seed,
            self.variant
        )
    }

    /// Re-runs the entry against `system` and compares with what it
    /// recorded.
    pub fn verify<S: System>(&self, system: &S, sims_dir: &Path) -> Result<Report, String> {
        let report = self.run(system, sims_dir)?;
        if let Some(why) = self.outcome_differs(&report) {
            return Err(why);
        }
        if report.trace_hash != self.trace_hash {
            return Err(format!(
                "trace hash {} differs from the recorded {} (stale entry: the run changed; re-record it if the change was intended)",
                report.trace_hash, self.trace_hash
            ));
        }
        Ok(report)
    }
}

impl Entry {
    /// Runs the entry's sim, seed, variant and overrides against `system`.
    pub fn run<S: System>(&self, system: &S, sims_dir: &Path) -> Result<Report, String> {
        let scenario = self.scenario(system, sims_dir).map_err(|e| e.to_string())?;
        let variant = system
            .variant(&self.variant)
            .ok_or_else(|| format!("unknown variant {}", self.variant))?;
        Ok(world::run(system, &scenario, Seed(self.seed), variant))
    }

    /// How `report` differs from the outcome the entry expects (`fail`
    /// with its invariant, or `pass`), the trace hash aside; `None` when it
    /// does not.
    pub fn outcome_differs(&self, report: &Report) -> Option<String> {
        let got_invariant = report.violation.as_ref().map(|v| v.invariant.clone());
        match self.expect {
            Expect::Fail if report.passed => Some(format!(
                "expected a `{}` violation, but the run passed",
                self.invariant.clone().unwrap_or_default()
            )),
            Expect::Fail if got_invariant != self.invariant => Some(format!(
                "expected invariant {:?} to break, got {:?}",
                self.invariant, got_invariant
            )),
            Expect::Pass if !report.passed => {
                Some(format!("expected a pass, got: {}", report.summary_line()))
            }
            _ => None,
        }
    }
}

/// Quotes an argument for a POSIX shell when it needs it.
pub fn shell_quote(argument: &str) -> String {
    let plain = argument
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
    if plain && !argument.is_empty() {
        argument.to_string()
    } else {
        format!("'{}'", argument.replace('\'', "'\\''"))
    }
}

/// A sim argument: a path, or a bundled name looked up in `sims_dir`.
pub fn resolve_sim(sim: &str, sims_dir: &Path) -> PathBuf {
    let direct = PathBuf::from(sim);
    if direct.exists() || sim.ends_with(".toml") || sim.contains('/') {
        return direct;
    }
    sims_dir.join(format!("{sim}.toml"))
}

/// Every `*.toml` entry under `dir`, sorted by name.
pub fn entries(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| InputError::io(dir, &err))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"sim = "units-contention"
seed = 3
variant = "units/read-committed"
expect = "fail"
invariant = "no_overbooking"
step = 10
trace_hash = "0123456789abcdef"
"#;

    #[test]
    fn entries_parse_and_round_trip() {
        let entry = Entry::parse(GOOD, "seeds/x.toml").unwrap();
        assert_eq!(entry.seed, 3);
        assert_eq!(
            entry.file_name(),
            "units-contention--units-read-committed--3.toml"
        );
        let text = toml::to_string(&entry).unwrap();
        assert_eq!(Entry::parse(&text, "again").unwrap(), entry);
        assert!(entry
            .replay_command()
            .contains("--seed 3 --variant units/read-committed"));
    }

    #[test]
    fn bad_entries_name_file_line_and_field() {
        let err = Entry::parse(
            &GOOD.replace("seed = 3", "seed = \"three\""),
            "seeds/x.toml",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert_eq!(err.field.as_deref(), Some("seed"), "{err}");
        let err = Entry::parse(&GOOD.replace("0123456789abcdef", "xyz"), "s.toml").unwrap_err();
        assert!(err.to_string().contains("trace_hash"), "{err}");
        let err = Entry::parse(&format!("{GOOD}colour = 1\n"), "s.toml").unwrap_err();
        assert_eq!(err.line, Some(8), "{err}");
        assert!(Entry::parse(
            &GOOD.replace("invariant = \"no_overbooking\"\n", ""),
            "s.toml"
        )
        .is_err());
    }

    #[test]
    fn save_is_atomic_and_readable() {
        let dir = std::env::temp_dir().join(format!("overbook-corpus-test-{}", std::process::id()));
        let entry = Entry::parse(GOOD, "x").unwrap();
        let path = entry.save(&dir).unwrap();
        assert_eq!(Entry::load(&path).unwrap(), entry);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
