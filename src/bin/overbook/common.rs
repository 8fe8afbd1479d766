//! Argument helpers shared by the subcommands.

use overbook::error::InputError;
use overbook::scenario::Scenario;
use overbook::service::Variant;
use std::path::{Path, PathBuf};

/// Resolves a scenario argument: a path, or the name of a bundled sim.
pub fn scenario_path(sim: &str) -> PathBuf {
    overbook::corpus::resolve_sim(sim, Path::new("sims"))
}

/// Loads a scenario and applies `--set` overrides.
pub fn load_scenario(sim: &str, overrides: &[String]) -> Result<Scenario, InputError> {
    let path = scenario_path(sim);
    if !path.exists() {
        return Err(InputError::new(
            "no such scenario file (bundled sims are in sims/; `overbook list` shows them)",
        )
        .in_source(path.display().to_string()));
    }
    Scenario::load(&path)?.with_overrides(overrides)
}

/// Parses `--variant`.
pub fn parse_variant(name: &str) -> Result<Variant, InputError> {
    Variant::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        InputError::new(format!(
            "unknown variant `{name}`; known: {}",
            known.join(", ")
        ))
        .in_source("--variant")
    })
}
