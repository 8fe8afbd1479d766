//! Report files and progress for the subcommands (`--html`, `--junit`), and
//! `overbook report RUN.json --html FILE`. The rendering is in the library
//! (`crate::html`, `crate::junit`); this is the glue.

use crate::error::InputError;
use crate::html::report::{render, ReportPage};
use crate::junit::{Case, Junit};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::system::{System, Variant};
use crate::world::{Report, RunOptions, RunProgress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Wall time after which a run starts showing progress.
const PROGRESS_AFTER: Duration = Duration::from_millis(800);

/// A progress bar on a terminal that appears only once work has taken
/// [`PROGRESS_AFTER`], and never when quiet or not on a terminal.
struct DelayedBar {
    bar: ProgressBar,
    show: bool,
    visible: bool,
    started: Instant,
}

impl DelayedBar {
    fn new(template: &str, quiet: bool) -> DelayedBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        DelayedBar {
            bar,
            show: !quiet && std::io::stderr().is_terminal(),
            visible: false,
            started: Instant::now(),
        }
    }

    /// The bar to update and the wall time so far, when it is shown.
    fn update(&mut self) -> Option<(&ProgressBar, Duration)> {
        if !self.show {
            return None;
        }
        let wall = self.started.elapsed();
        if !self.visible && wall >= PROGRESS_AFTER {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.visible = true;
        }
        Some((&self.bar, wall))
    }
}

/// Runs the world, showing simulated seconds against wall time on a
/// terminal once the run has taken a moment; quiet otherwise.
pub(super) fn run_with_progress<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    quiet: bool,
) -> Report {
    let mut shown = DelayedBar::new(
        "{spinner} [{elapsed_precise}] simulated {msg} {wide_bar} {percent}%",
        quiet,
    );
    let mut progress = |p: RunProgress| {
        let Some((bar, wall)) = shown.update() else {
            return;
        };
        bar.set_length(p.sim_ms_limit.max(1));
        bar.set_position(p.sim_ms.min(p.sim_ms_limit));
        bar.set_message(format!(
            "{:.1} s of {:.0} s in {:.1} s wall ({:.1}x), {} steps",
            p.sim_ms as f64 / 1000.0,
            p.sim_ms_limit as f64 / 1000.0,
            wall.as_secs_f64(),
            p.sim_ms as f64 / 1000.0 / wall.as_secs_f64().max(1e-3),
            p.steps
        ));
    };
    let report = crate::crash::run_with_progress(
        system,
        scenario,
        seed,
        variant,
        RunOptions::default(),
        &mut progress,
    );
    shown.bar.finish_and_clear();
    report
}

/// Writes `--html` and `--junit` for one run. A failing run is re-run
/// traced (the same run: same seed, same trace hash) so the HTML report
/// can draw its timeline.
pub(super) fn write_run_files<S: System>(
    system: &S,
    scenario: &Scenario,
    variant: Variant,
    report: &Report,
    replay: &str,
    html: Option<&Path>,
    junit: Option<&Path>,
) -> Result<(), InputError> {
    if let Some(path) = html {
        let traced;
        let shown = if report.violation.is_some() {
            let mut again = crate::crash::run_with(
                system,
                scenario,
                Seed(report.seed),
                variant,
                RunOptions { trace: true },
            );
            again.wall_ms = report.wall_ms;
            if again.trace_hash != report.trace_hash {
                eprintln!(
                    "HARNESS BUG: the traced re-run for the timeline has trace hash {}, the run {}",
                    again.trace_hash, report.trace_hash
                );
            }
            traced = again;
            &traced
        } else {
            report
        };
        let page = ReportPage {
            replay_command: Some(replay.to_string()),
        };
        write_atomically(path, &render(shown, &page))?;
        eprintln!("HTML report written to {}", path.display());
    }
    if let Some(path) = junit {
        let mut file = Junit::new("overbook run");
        file.push(Case::of_run("run", report, replay));
        file.write(path)?;
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file renamed into place.
pub(super) fn write_atomically(path: &Path, text: &str) -> Result<(), InputError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| InputError::io(dir, &err))?;
    }
    let name = path
        .file_name()
        .map_or("report".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).map_err(|err| InputError::io(&temporary, &err))?;
    std::fs::rename(&temporary, path).map_err(|err| InputError::io(path, &err))
}

/// Arguments of `overbook report`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// A report saved with `overbook run ... --json > RUN.json` (or
    /// `overbook replay ... --json`, which adds the trace for a timeline).
    json: PathBuf,
    /// Write the HTML report here.
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
}

/// `overbook report`: the text report, and the HTML one, of a saved run.
pub(super) fn run<S: System>(context: &super::Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, &args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_inner<S: System>(context: &super::Context<'_, S>, args: &Args) -> Result<u8, InputError> {
    let text =
        std::fs::read_to_string(&args.json).map_err(|err| InputError::io(&args.json, &err))?;
    let report: Report = serde_json::from_str(&text).map_err(|err| {
        InputError::new(format!(
            "not a run report ({err}); save one with `overbook run SIM --json > RUN.json`"
        ))
        .in_source(args.json.display().to_string())
        .at_line(err.line(), err.column())
    })?;
    match &args.html {
        Some(path) => {
            let page = ReportPage {
                replay_command: (!report.passed).then(|| {
                    format!(
                        "{} replay --sim {} --seed {} --variant {} (with the run's --set overrides)",
                        context.program(), report.sim, report.seed, report.variant
                    )
                }),
            };
            write_atomically(path, &render(&report, &page))?;
            eprintln!("HTML report written to {}", path.display());
        }
        None => out!("{}", report.render()),
    }
    Ok(if report.passed {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    })
}

/// Explores, showing schedules per second and the search depth on a
/// terminal once the search has taken a moment; quiet otherwise.
pub(super) fn explore_with_progress<S>(
    model: &crate::explore::Model<S>,
    strategy: crate::explore::Strategy,
    limits: crate::explore::Limits,
    quiet: bool,
) -> crate::explore::Report {
    let mut shown = DelayedBar::new("{spinner} [{elapsed_precise}] {msg}", quiet);
    let schedules_max = limits.schedules_max;
    let report = crate::explore::explore_with_progress(model, strategy, limits, &mut |p| {
        let Some((bar, wall)) = shown.update() else {
            return;
        };
        bar.set_message(format!(
            "{} executions of at most {schedules_max} ({} schedules), {:.0}/s, depth {} (deepest {}), {} violation(s)",
            p.executions,
            p.schedules,
            p.executions as f64 / wall.as_secs_f64().max(1e-3),
            p.depth,
            p.depth_max,
            p.violations
        ));
        bar.tick();
    });
    shown.bar.finish_and_clear();
    report
}

/// The JUnit file of one explored configuration: one test case, failed
/// with every violation and its replay line.
pub(super) fn explore_junit(
    sim: &str,
    report: &crate::explore::Report,
    wall: Duration,
    replays: &[String],
) -> Junit {
    use crate::junit::Outcome;
    let outcome = if report.violations.is_empty() {
        Outcome::Passed
    } else {
        let first = &report.violations[0];
        Outcome::Failed {
            kind: first.property.clone(),
            message: report
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.property, v.message))
                .collect::<Vec<_>>()
                .join("; "),
            detail: report
                .violations
                .iter()
                .zip(replays)
                .map(|(v, replay)| format!("replay: {replay}\n{v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    };
    let mut junit = Junit::new("overbook explore");
    junit.push(Case {
        suite: sim.to_string(),
        name: format!("{} with {}", report.model, report.strategy),
        classname: format!("overbook.explore.{sim}"),
        wall,
        outcome,
    });
    junit
}
