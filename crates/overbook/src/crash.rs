//! A crash is a finding: runs in which something panicked (a service's
//! handler, a virtual user, the harness itself) end as a failed report
//! whose violation is named [`PANIC`], instead of taking the process (and a
//! whole fuzz sweep) down.
//!
//! A panic is caught twice over: one that unwinds out of the run by
//! [`std::panic::catch_unwind`], and one that the simulated runtime swallows
//! (a panicking server or client task) by a panic hook that records it for
//! the thread running the simulation. While a run is caught, the default
//! hook's message is not printed; it is in the report instead.

use crate::scenario::Scenario;
use crate::seed::{fnv1a, Seed};
use crate::system::{System, Variant};
use crate::world::{self, Report, RunOptions, ViolationReport};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The invariant name of a run that panicked (in reports and corpus
/// entries).
pub const PANIC: &str = "panic";

thread_local! {
    /// While this thread runs a caught simulation: the first panic seen.
    static CAUGHT: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

/// What the hook keeps of a panic.
#[derive(Default)]
struct Caught {
    /// The first panic's message and where it was raised.
    first: Option<(String, String)>,
}

/// Installs (once per process) the hook that records panics on threads
/// running a caught simulation and leaves every other panic to the hook
/// that was there before.
fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let recorded = CAUGHT.with(|caught| {
                let mut caught = caught.borrow_mut();
                let Some(caught) = caught.as_mut() else {
                    return false;
                };
                if caught.first.is_none() {
                    let location = info
                        .location()
                        .map_or(String::new(), |l| format!("{}:{}", l.file(), l.line()));
                    caught.first = Some((crate::system::panic_message(info.payload()), location));
                }
                true
            });
            if !recorded {
                previous(info);
            }
        }));
    });
}

/// Runs `body` with panics on this thread caught and recorded; returns its
/// value, or the first panic's message and location.
pub fn catch<T>(body: impl FnOnce() -> T) -> Result<T, (String, String)> {
    catch_unless(body, |_| false)
}

/// [`catch`], except that a value for which `reported` holds is returned
/// even if a panic was recorded: the body already reported it (the world
/// turns a panicking handler or user into a violation at its step).
fn catch_unless<T>(
    body: impl FnOnce() -> T,
    reported: impl FnOnce(&T) -> bool,
) -> Result<T, (String, String)> {
    install_hook();
    let outer = CAUGHT.with(|caught| caught.borrow_mut().replace(Caught::default()));
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    let caught = CAUGHT.with(|caught| std::mem::replace(&mut *caught.borrow_mut(), outer));
    let first = caught.and_then(|c| c.first);
    match (result, first) {
        (Ok(value), None) => Ok(value),
        (Ok(value), Some(_)) if reported(&value) => Ok(value),
        (_, Some(first)) => Err(first),
        (Err(payload), None) => Err((
            crate::system::panic_message(payload.as_ref()),
            String::new(),
        )),
    }
}

/// [`world::run_with`], with a panic anywhere in the run turned into a
/// failed report: its violation is [`PANIC`] with the panic's message and
/// location, and its trace hash is a hash of the message (so a replay can
/// tell the same crash from another).
pub fn run_with<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
) -> Report {
    run_with_progress(system, scenario, seed, variant, options, &mut |_| {})
}

/// [`run_with`] with a progress callback (see [`world::run_with_progress`]).
pub fn run_with_progress<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
    progress: &mut dyn FnMut(world::RunProgress),
) -> Report {
    match catch_unless(
        || world::run_with_progress(system, scenario, seed, variant, options, progress),
        reported_panic,
    ) {
        Ok(report) => report,
        Err((message, location)) => panic_report(scenario, seed, variant, &message, &location),
    }
}

/// Whether the world caught a panic itself and reported it as a finding.
fn reported_panic(report: &Report) -> bool {
    report
        .violation
        .as_ref()
        .is_some_and(|v| v.invariant == PANIC)
}

/// [`world::run_and_keep`] with panics caught as [`run_with`] catches
/// them: a run that panicked out of the world keeps no database.
pub fn run_and_keep<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
) -> (Report, Option<world::KeptDatabase>) {
    match catch_unless(
        || world::run_and_keep(system, scenario, seed, variant, options),
        |(report, _)| reported_panic(report),
    ) {
        Ok(kept) => kept,
        Err((message, location)) => (
            panic_report(scenario, seed, variant, &message, &location),
            None,
        ),
    }
}

/// [`run_with`] with default options.
pub fn run<S: System>(system: &S, scenario: &Scenario, seed: Seed, variant: Variant) -> Report {
    run_with(system, scenario, seed, variant, RunOptions::default())
}

/// The report of a run that panicked with `message` at `location`.
pub fn panic_report(
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    message: &str,
    location: &str,
) -> Report {
    let mut report = Report::not_started(scenario, seed, variant.name(), String::new());
    report.harness_error = None;
    report.trace_hash = format!("{:016x}", fnv1a(message.as_bytes()));
    let at = if location.is_empty() {
        String::new()
    } else {
        format!(" (at {location})")
    };
    report.violation = Some(ViolationReport {
        invariant: PANIC.to_string(),
        step: 0,
        sim_time_ms: 0,
        message: format!("panicked: {message}{at}"),
        recent_events: Vec::new(),
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_returns_values_and_panics_without_printing() {
        assert_eq!(catch(|| 7), Ok(7));
        let (message, location) = catch(|| -> u32 { panic!("boom {}", 3) }).unwrap_err();
        assert_eq!(message, "boom 3");
        assert!(location.contains("crash.rs"), "{location}");
        // Nested catches keep their own panics.
        let outer = catch(|| {
            let inner = catch(|| -> () { panic!("inner") });
            assert_eq!(inner.unwrap_err().0, "inner");
            5
        });
        assert_eq!(outer, Ok(5));
    }
}
