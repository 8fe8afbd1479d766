//! `pgspecs`: PostgreSQL's isolationtester specs run verbatim on the
//! simulated store and, with `--pg`, compared with a real PostgreSQL.

use crate::pgspecs::{check_all, find_specs, parse_all};
use std::path::PathBuf;

/// Most specs run at once.
const JOBS_MAX: usize = 32;

/// Arguments of `overbook pgspecs`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// A folder of isolationtester specs: `specs/*.spec` and
    /// `expected/*.out` (PostgreSQL's `src/test/isolation`), or `*.spec`
    /// files directly.
    #[arg(long, value_name = "DIR")]
    specs: PathBuf,
    /// The PostgreSQL to compare with (`postgresql://user@host:port/db`;
    /// a role that may create databases: each spec runs in one of its own,
    /// dropped afterwards).
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
    /// Specs run at once (each on its own database and connections).
    #[arg(long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Print the totals and the rejected specs as Markdown (the README's
    /// list).
    #[arg(long)]
    markdown: bool,
    /// Only these specs (names without `.spec`); default: all.
    #[arg(value_name = "SPEC")]
    only: Vec<String>,
}

pub(super) fn run(args: Args) -> u8 {
    if !(1..=JOBS_MAX).contains(&args.jobs) {
        eprintln!("error: --jobs {}: between 1 and {JOBS_MAX}", args.jobs);
        return super::EXIT_USAGE;
    }
    let files = match find_specs(&args.specs, &args.only) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --specs {e}");
            return super::EXIT_USAGE;
        }
    };
    let specs = match parse_all(&files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return super::EXIT_USAGE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    let report = runtime.block_on(check_all(&files, &specs, args.pg.as_deref(), args.jobs));
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return super::EXIT_FAILURE;
            }
        }
    } else if args.markdown {
        out!("{}", report.markdown());
    } else {
        out!("{}", report.text());
        outln!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    if report.unsound() {
        super::EXIT_FAILURE
    } else {
        super::EXIT_PASS
    }
}
