//! `sql-check`: which statements of SQL files the simulated store runs.

use std::path::PathBuf;

/// Arguments of `overbook sql-check`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// SQL files (migrations, then queries), run in order on one fresh
    /// database.
    #[arg(value_name = "FILE.sql", required = true)]
    files: Vec<PathBuf>,
    /// A PostgreSQL to run the same files on (a fresh database created
    /// there and dropped), comparing each statement's outcome.
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
    /// Print the statements' outcomes as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: Args) -> u8 {
    let statements = match crate::sqlcheck::read(&args.files) {
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
    let checked = match runtime.block_on(crate::sqlcheck::check(&statements, args.pg.as_deref())) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return super::EXIT_USAGE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&checked) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return super::EXIT_FAILURE;
            }
        }
    } else {
        out!("{}", crate::sqlcheck::text(&checked));
    }
    if checked.iter().any(|c| c.rejected.is_some() || c.differs()) {
        super::EXIT_FAILURE
    } else {
        super::EXIT_PASS
    }
}
