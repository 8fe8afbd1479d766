//! overbook's command line for the box office: `cargo run --release -p
//! boxoffice --example sim -- fuzz sims/boxoffice-rush.toml --variant
//! boxoffice/hold-without-event-lock`, `replay`, `run`, `list`...

#[path = "../tests/sim/mod.rs"]
mod sim;

fn main() -> std::process::ExitCode {
    let sims = concat!(env!("CARGO_MANIFEST_DIR"), "/sims");
    let options = overbook::cli::Options::example_in("boxoffice", sims)
        .program("cargo run --release -p boxoffice --example sim --");
    overbook::cli::main(sim::Boxoffice, options)
}
