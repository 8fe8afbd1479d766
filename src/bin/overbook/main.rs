//! The `overbook` command line: the library's [`overbook::cli`] with the
//! bundled services and sims (embedded, so an installed binary runs them
//! from any folder; a file in `sims/` still wins).

use overbook::cli::{self, Options};
use overbook_clinic::service::Clinic;

/// Every bundled sim (a test checks that none in `sims/` is left out).
const SIMS: &[(&str, &str)] = overbook::embedded_sims!("sims":
    "board-moves",
    "board-stale-client",
    "clinic-day",
    "explore-board",
    "explore-rooms",
    "explore-units-lost",
    "explore-units",
    "rooms-conflict",
    "rooms-rules",
    "rooms-storm",
    "units-burst",
    "units-contention",
    "units-mixed",
    "units-throughput",
);

fn main() -> std::process::ExitCode {
    cli::main(
        Clinic,
        Options::new("overbook")
            .about("Deterministic simulation and model checking for booking concurrency.")
            .sims_dir("sims")
            .embed_sims(SIMS),
    )
}
