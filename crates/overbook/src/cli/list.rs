//! `list`: what there is to run.

use super::Context;
use crate::scenario::Scenario;
use crate::system::System;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `list`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Where the scenario files are (default: the binary's sims folder).
    #[arg(long)]
    sims: Option<PathBuf>,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    let system = context.system;
    outln!("service: {}", system.name());
    outln!("\nvariants (--variant):");
    for variant in system.variants() {
        outln!("  {:<42} {}", variant.name, variant.description);
    }
    outln!("\ninvariants:");
    for invariant in system.invariants() {
        outln!("  {:<32} {}", invariant.name, invariant.description);
    }
    outln!(
        "  {:<32} every virtual user finishes within the scenario's limits",
        "liveness"
    );
    let dir = args
        .sims
        .unwrap_or_else(|| context.options.sims_dir.clone());
    // Files on disk by name, then the embedded sims they do not shadow.
    let mut sims: BTreeMap<String, Result<Scenario, String>> = BTreeMap::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let name = path
                    .file_stem()
                    .map_or(String::new(), |s| s.to_string_lossy().into_owned());
                let loaded = Scenario::load_for(system, &path).map_err(|err| err.to_string());
                sims.insert(name, loaded);
            }
        }
        Err(err) if context.options.embedded.is_empty() => {
            eprintln!("error: {}: cannot read: {err}", dir.display());
            return super::EXIT_USAGE;
        }
        Err(_) => {}
    }
    for (name, _) in context.options.embedded {
        if !sims.contains_key(*name) {
            let loaded = context.load_base(name).map_err(|err| err.to_string());
            sims.insert(name.to_string(), loaded);
        }
    }
    outln!("\nsims ({}):", dir.display());
    let mut broken = false;
    for (name, loaded) in &sims {
        match loaded {
            Ok(s) => outln!("  {:<24} {}", s.name, s.description),
            Err(err) => {
                broken = true;
                outln!("  {name:<24} INVALID: {err}");
            }
        }
    }
    if broken {
        super::EXIT_USAGE
    } else {
        super::EXIT_PASS
    }
}
