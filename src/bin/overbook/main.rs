//! The `overbook` command line.

mod common;
mod corpus;
mod explore;
mod fuzz;
mod isolation;
mod list;
mod replay;
mod reports;
mod run;
mod shrink;
mod timeline;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Deterministic simulation and model checking for booking concurrency.
///
/// Exit codes: 0 pass, 1 violation found (or a failed threshold), 2 usage or
/// input error.
#[derive(Parser, Debug)]
#[command(name = "overbook", version, about, long_about = None)]
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
    /// Model-check a scenario's services: every interleaving of a few clients.
    Explore(explore::Args),
    /// Run the isolation anomaly suite and print the anomaly x level matrix.
    Isolation(isolation::Args),
    /// List services, planted-bug variants, invariants and bundled sims.
    List(list::Args),
    /// Render a saved `run --json` report: as text, or as HTML with `--html`.
    Report(reports::Args),
    /// Work on corpus folders: `corpus merge` shards' findings into one.
    Corpus(corpus::Args),
}

/// Exit code for a clean pass.
pub const EXIT_PASS: u8 = 0;
/// Exit code when a violation (or failed threshold) was found.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code for bad arguments or input files.
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Shrink(args) => shrink::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Isolation(args) => isolation::run(args),
        Command::List(args) => list::run(args),
        Command::Report(args) => reports::run(args),
        Command::Corpus(args) => corpus::run(args),
    };
    ExitCode::from(code)
}

/// Prints an input error and returns the usage exit code.
pub fn usage_error(err: &overbook::error::InputError) -> u8 {
    eprintln!("error: {err}");
    EXIT_USAGE
}
