//! The command line as a library function: `list | run | fuzz | replay |
//! shrink | explore | confirm | isolation | conform` for any [`System`], in the manner of
//! criterion's `criterion_main!` and libtest-mimic: a user's whole binary
//! is one call.
//!
//! ```no_run
//! use overbook::cli::{self, Options};
//! use overbook::system::System;
//!
//! /// The whole `main` of a service's binary, given its `System`
//! /// (`Tickets` in `examples/tickets`: `fn main() { main_of(Tickets) }`).
//! fn main_of<S: System>(tickets: S) -> std::process::ExitCode {
//!     cli::main(
//!         tickets,
//!         Options::new("tickets")
//!             .sims_dir("examples/tickets/sims")
//!             .program("cargo run --release -p tickets --"),
//!     )
//! }
//! ```
//!
//! Sims are named by path or by name: a name is looked up in the sims
//! folder, then among the sims embedded with [`Options::embed_sims`] (so an
//! installed binary runs its sims from any folder); a file on disk wins.
//! Every failure prints the command that replays it, starting with
//! [`Options::program`].
//!
//! Exit codes are the same for every command (see [`EXIT_CODES`]).

#[macro_use]
mod out;
mod confirm;
mod conform;
mod corpus;
mod explore;
mod fuzz;
mod inspect;
mod isolation;
mod list;
mod pgspecs;
mod replay;
mod report;
mod run;
mod shrink;
mod sqlcheck;
mod timeline;

use crate::corpus::Entry;
use crate::error::InputError;
use crate::scenario::Scenario;
use crate::system::{System, Variant};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code: everything passed (for `replay` of a corpus entry: it
/// reproduced as recorded).
pub const EXIT_PASS: u8 = 0;
/// Exit code: a violation, a failed threshold, a crash or another finding.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad arguments or input files; nothing was judged.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `replay` on a corpus entry that did not reproduce as
/// recorded (it passes now, fails differently, or its trace diverged).
pub const EXIT_NOT_REPRODUCED: u8 = 3;
/// Exit code of the binary when its standard output was closed before it
/// finished (`overbook list | head -1`): 128 + SIGPIPE, as a shell reports a
/// Unix tool ended by the signal. Nothing is printed.
pub const EXIT_BROKEN_PIPE: u8 = 141;
/// Exit code of a sweep stopped by Ctrl-C before its end, findings or not.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The exit codes, as `--help` prints them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    pass (replay of a corpus entry: reproduced as recorded)
  1    violation, failed threshold, crash (panic) or nondeterminism found
       (confirm: the counterexample breaks its invariant on PostgreSQL too)
  2    usage or input error (bad flag, scenario, --set value, corpus entry)
  3    replay of a corpus entry: not reproduced (passes now, fails differently,
       or the trace diverged)
  130  fuzz interrupted (Ctrl-C) before the end of its seeds
  141  standard output closed before the end (| head): ended quietly";

/// How a binary built on [`main`] presents itself: its name, the command
/// prefix its replay lines start with, and where its sims are.
#[derive(Clone, Debug)]
pub struct Options {
    name: String,
    about: String,
    program: String,
    sims_dir: PathBuf,
    embedded: &'static [(&'static str, &'static str)],
}

impl Options {
    /// Options for a binary called `name`; its replay lines start with
    /// `name` and its sims are in `sims/` until set otherwise.
    pub fn new(name: &str) -> Options {
        Options {
            name: name.to_string(),
            about: format!("{name}: deterministic simulation and model checking (overbook)"),
            program: name.to_string(),
            sims_dir: PathBuf::from("sims"),
            embedded: &[],
        }
    }

    /// Options for a service kept as the workspace crate `name` under
    /// `examples/` (as `examples/tickets` is in overbook's repository):
    /// sims in `examples/<name>/sims`, replay lines starting with
    /// `cargo run --release -p <name> --`.
    pub fn example(name: &str) -> Options {
        Options::example_in(name, format!("examples/{name}/sims"))
    }

    /// [`Options::example`] with its sims in `sims_dir` instead, a folder
    /// relative to the workspace's root: several binaries sharing one
    /// folder of sims each say where it is in one call. The folder is
    /// looked up from the current folder, and when it is not there, under
    /// the crate's root that cargo names in `CARGO_MANIFEST_DIR` when it
    /// runs the binary or its tests, and under each folder above it (the
    /// workspace's root, when a test runs in the crate's own folder).
    ///
    /// ```
    /// use overbook::cli::Options;
    /// let swaps = Options::example_in("swaps", "examples/tickets/sims");
    /// assert!(swaps.sims().ends_with("examples/tickets/sims"));
    /// assert_eq!(swaps.program_prefix(), "cargo run --release -p swaps --");
    /// ```
    pub fn example_in(name: &str, sims_dir: impl Into<PathBuf>) -> Options {
        let mut sims_dir: PathBuf = sims_dir.into();
        if sims_dir.is_relative() && !sims_dir.is_dir() {
            if let Some(root) = std::env::var_os("CARGO_MANIFEST_DIR") {
                let root = PathBuf::from(root);
                let found = root
                    .ancestors()
                    .map(|folder| folder.join(&sims_dir))
                    .find(|candidate| candidate.is_dir());
                if let Some(found) = found {
                    sims_dir = found;
                }
            }
        }
        Options::new(name)
            .sims_dir(sims_dir)
            .program(&format!("cargo run --release -p {name} --"))
    }

    /// The one-line description `--help` shows.
    pub fn about(mut self, about: &str) -> Options {
        self.about = about.to_string();
        self
    }

    /// The command prefix printed in replay lines and saved in corpus
    /// entries' `found_by` (`cargo run --release -p tickets --`).
    pub fn program(mut self, program: &str) -> Options {
        self.program = program.to_string();
        self
    }

    /// Where sims named without a path are looked up.
    pub fn sims_dir(mut self, dir: impl Into<PathBuf>) -> Options {
        self.sims_dir = dir.into();
        self
    }

    /// Sims built into the binary, as `(name, TOML text)` (see
    /// [`embedded_sims!`](crate::embedded_sims)): found by name when no file
    /// of that name is on disk, so an installed binary runs from any folder.
    pub fn embed_sims(mut self, sims: &'static [(&'static str, &'static str)]) -> Options {
        self.embedded = sims;
        self
    }

    /// The binary's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command prefix of replay lines.
    pub fn program_prefix(&self) -> &str {
        &self.program
    }

    /// Where sims named without a path are looked up.
    pub fn sims(&self) -> &Path {
        &self.sims_dir
    }
}

/// Embeds sims from a folder of the calling crate, for
/// [`Options::embed_sims`]: `embedded_sims!("sims": "units-burst",
/// "units-contention")` includes `sims/units-burst.toml` and
/// `sims/units-contention.toml` (paths from the crate's manifest folder).
#[macro_export]
macro_rules! embedded_sims {
    ($dir:literal : $($name:literal),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name, ".toml")),
        )),*]
    };
}

/// The command line of `system`: parses the process's arguments, runs the
/// command, and returns its exit code (see [`EXIT_CODES`]); a closed
/// standard output (`| head -1`) ends it quietly with exit code 141.
pub fn main<S: System>(system: S, options: Options) -> ExitCode {
    out::exit_when_closed();
    ExitCode::from(run(&system, &options, std::env::args_os()))
}

/// [`main`] with explicit arguments (the first is the program name), for
/// tests and wrappers. Prints to stdout and stderr; returns the exit code.
pub fn run<S, I, T>(system: &S, options: &Options, args: I) -> u8
where
    S: System,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = Cli::command()
        .name(options.name.clone())
        .bin_name(options.name.clone())
        .about(options.about.clone())
        .after_help(EXIT_CODES);
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_PASS
            };
        }
    };
    let context = Context { system, options };
    match cli.command {
        Command::Run(args) => run::run(&context, args),
        Command::Fuzz(args) => fuzz::run(&context, args),
        Command::Replay(args) => replay::run(&context, args),
        Command::Shrink(args) => shrink::run(&context, args),
        Command::Explore(args) => explore::run(&context, args),
        Command::Isolation(args) => isolation::run(args),
        Command::Conform(args) => conform::run(args),
        Command::Pgspecs(args) => pgspecs::run(args),
        Command::SqlCheck(args) => sqlcheck::run(args),
        Command::Confirm(args) => confirm::run(&context, args),
        Command::List(args) => list::run(&context, args),
        Command::Report(args) => report::run(&context, args),
        Command::Corpus(args) => corpus::run(&context, args),
    }
}

/// Deterministic simulation and model checking for booking concurrency.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one simulation with one seed and print the report.
    Run(run::Args),
    /// Run many seeds in parallel and keep what fails.
    Fuzz(fuzz::Args),
    /// Reproduce one run exactly, with a readable trace or an HTML timeline.
    Replay(replay::Args),
    /// Minimize a failing corpus entry while it still fails.
    Shrink(shrink::Args),
    /// Model-check a scenario's service: every interleaving of a few clients.
    Explore(explore::Args),
    /// Run the store's isolation anomaly suite and print the anomaly x level matrix.
    Isolation(isolation::Args),
    /// Run the same SQL programs on the simulated store and on PostgreSQL, step by step, and classify every disagreement.
    Conform(conform::Args),
    /// Run PostgreSQL's isolationtester specs verbatim on the store (and with --pg on PostgreSQL) and classify every permutation.
    Pgspecs(pgspecs::Args),
    /// Check SQL files statement by statement: accepted by the store, or rejected with the construct and line (with --pg, compared with PostgreSQL).
    SqlCheck(sqlcheck::Args),
    /// Replay an `explore` counterexample on a real PostgreSQL: exit 1 when the same invariant breaks there.
    Confirm(confirm::Args),
    /// List the service's variants and invariants, and the sims.
    List(list::Args),
    /// Render a saved `run --json` report: as text, or as HTML with `--html`.
    Report(report::Args),
    /// Work on corpus folders: `corpus merge` shards' findings into one.
    Corpus(corpus::Args),
}

/// What every command runs with.
struct Context<'a, S: System> {
    system: &'a S,
    options: &'a Options,
}

/// Where a sim's text is.
enum SimSource {
    File(PathBuf),
    Embedded(&'static str, &'static str),
}

impl<S: System> Context<'_, S> {
    /// The program prefix of replay lines.
    fn program(&self) -> &str {
        &self.options.program
    }

    /// Finds a sim argument: a file on disk (as given, or by name in the
    /// sims folder), else an embedded sim of that name.
    fn resolve(&self, sim: &str) -> Result<SimSource, InputError> {
        let path = crate::corpus::resolve_sim(sim, &self.options.sims_dir);
        if path.exists() {
            return Ok(SimSource::File(path));
        }
        let name = embedded_name(sim, &self.options.sims_dir);
        if let Some((name, text)) = self.options.embedded.iter().find(|(n, _)| Some(*n) == name) {
            return Ok(SimSource::Embedded(name, text));
        }
        let hint = format!(
            "no such scenario file ({} sims are in {}/; `{} list` shows them)",
            self.options.name,
            self.options.sims_dir.display(),
            self.options.name
        );
        Err(InputError::new(hint).in_source(path.display().to_string()))
    }

    /// Loads a sim (service sections checked too), without overrides.
    fn load_base(&self, sim: &str) -> Result<Scenario, InputError> {
        match self.resolve(sim)? {
            SimSource::File(path) => Scenario::load_for(self.system, &path),
            SimSource::Embedded(name, text) => {
                let scenario = Scenario::parse(text, &format!("{name}.toml (built in)"))?;
                scenario.settings(self.system)?;
                Ok(scenario)
            }
        }
    }

    /// Loads a sim and applies `--set` overrides.
    fn load_scenario(&self, sim: &str, overrides: &[String]) -> Result<Scenario, InputError> {
        self.load_base(sim)?
            .with_overrides_for(self.system, overrides)
    }

    /// Loads a corpus entry, its scenario (sim and overrides) and variant;
    /// errors in any of them name the entry's file and field.
    fn load_entry(&self, path: &Path) -> Result<(Entry, Scenario, Variant), InputError> {
        let entry = Entry::load_for(self.system, path)?;
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // The entry is at fault, at the line of `field`; the inner error says
        // what is wrong.
        let blame = |field: &str, message: String| {
            let mut err = InputError::new(message)
                .in_source(path.display().to_string())
                .at_field(field);
            if let Some(line) = text.lines().position(|l| l.trim_start().starts_with(field)) {
                err = err.at_line(line + 1, 1);
            }
            err
        };
        let base = self
            .load_base(&entry.sim)
            .map_err(|err| blame("sim", format!("sim `{}`: {err}", entry.sim)))?;
        let scenario = base
            .with_overrides_for(self.system, &entry.overrides)
            .map_err(|mut err| {
                let which = err.source.take().unwrap_or_default();
                let which = which.strip_prefix("--set ").unwrap_or(&which).to_string();
                err.line = None;
                err.column = None;
                blame("overrides", format!("override `{which}`: {err}"))
            })?;
        let variant = self
            .variant(&entry.variant)
            .map_err(|err| blame("variant", err.message))?;
        Ok((entry, scenario, variant))
    }

    /// Parses `--variant`.
    fn variant(&self, name: &str) -> Result<Variant, InputError> {
        self.system.variant(name).ok_or_else(|| {
            let known: Vec<&str> = self.system.variants().iter().map(|v| v.name).collect();
            InputError::new(format!(
                "unknown variant `{name}`; known: {}",
                known.join(", ")
            ))
            .in_source("--variant")
        })
    }
}

/// The embedded sim a missing path may stand for: a bare name, `name.toml`,
/// or `<sims dir>/name.toml`.
fn embedded_name<'a>(sim: &'a str, sims_dir: &Path) -> Option<&'a str> {
    let path = Path::new(sim);
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| p != sims_dir) {
        return None;
    }
    let file = path.file_name()?.to_str()?;
    Some(file.strip_suffix(".toml").unwrap_or(file))
}

/// The history checker's flags of `run` and `fuzz`, shorthands for `--set`
/// overrides (which replay lines then carry).
#[derive(clap::Args, Debug, Default)]
pub(super) struct HistoryFlags {
    /// Do not run the serializability checker (`--set run.check_history=false`).
    #[arg(long)]
    no_history_check: bool,
    /// What an anomaly that its transactions' isolation level allows does:
    /// `report` (the default: listed, the run passes), `fatal` or `off`
    /// (`--set run.history_anomalies=...`).
    #[arg(long, value_name = "report|fatal|off")]
    history_anomalies: Option<String>,
}

impl HistoryFlags {
    /// The flags as `--set` overrides.
    fn overrides(&self) -> Vec<String> {
        let mut overrides = Vec::new();
        if self.no_history_check {
            overrides.push("run.check_history=false".to_string());
        }
        if let Some(mode) = &self.history_anomalies {
            overrides.push(format!("run.history_anomalies={mode}"));
        }
        overrides
    }
}

/// `--set` overrides as they are typed on a command line.
fn set_flags(overrides: &[String]) -> String {
    overrides
        .iter()
        .map(|o| format!(" --set {}", crate::corpus::shell_quote(o)))
        .collect()
}

/// Prints an input error and returns the usage exit code.
fn usage_error(err: &InputError) -> u8 {
    eprintln!("error: {err}");
    EXIT_USAGE
}

/// Checks that files can be written into `dir` (given by `flag`) before
/// anything runs: the folder exists (or is created) and takes a file.
fn check_writable(dir: &Path, flag: &str) -> Result<(), InputError> {
    let cannot = |err: std::io::Error| {
        InputError::new(format!("cannot write: {err}"))
            .in_source(format!("{flag} {}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let probe = dir.join(format!(".overbook-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(cannot)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
