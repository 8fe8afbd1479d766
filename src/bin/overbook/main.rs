//! The `overbook` command line: the library's [`overbook::cli`] with the
//! bundled services and sims.

use overbook::cli::{self, Options};
use overbook::service::Clinic;

fn main() -> std::process::ExitCode {
    cli::main(
        Clinic,
        Options::new("overbook")
            .about("Deterministic simulation and model checking for booking concurrency.")
            .sims_dir("sims"),
    )
}
