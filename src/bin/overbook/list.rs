//! `overbook list`: what there is to run.

use overbook::scenario::Scenario;
use overbook::service::Variant;
use std::path::Path;

/// Arguments of `overbook list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the scenario files are.
    #[arg(long, default_value = "sims")]
    sims: String,
}

pub fn run(args: Args) -> u8 {
    println!("services:");
    for (name, about) in [
        (
            "board",
            "appointment board moves with optimistic versions (k6 report)",
        ),
        (
            "units",
            "authorization units: reserve, release, consume (Artillery reports)",
        ),
        (
            "rooms",
            "room assignment with hard constraints and soft preferences (Locust README)",
        ),
    ] {
        println!("  {name:<10} {about}");
    }
    println!("\nvariants (--variant):");
    for variant in Variant::ALL {
        println!("  {:<42} {}", variant.name(), variant.description());
    }
    println!("\ninvariants:");
    for (name, about) in overbook::invariant::INVARIANTS {
        println!("  {name:<32} {about}");
    }
    println!(
        "  {:<32} every virtual user finishes within the scenario's limits",
        "liveness"
    );
    println!("\nsims ({}):", args.sims);
    let mut entries: Vec<_> = match std::fs::read_dir(Path::new(&args.sims)) {
        Ok(dir) => dir.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(err) => {
            eprintln!("error: {}: cannot read: {err}", args.sims);
            return crate::EXIT_USAGE;
        }
    };
    entries.sort();
    let mut broken = false;
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        match Scenario::load(path) {
            Ok(s) => println!("  {:<24} {}", s.name, s.description),
            Err(err) => {
                broken = true;
                println!("  {:<24} INVALID: {err}", path.display());
            }
        }
    }
    if broken {
        crate::EXIT_USAGE
    } else {
        crate::EXIT_PASS
    }
}
