//! JUnit XML for CI systems (`--junit FILE` on `run`, `fuzz`, `explore`
//! and `corpus merge`): one test case per sim and seed (per explored
//! configuration, per merged finding), grouped in one test suite per sim,
//! failures carrying the violation and the command that reproduces it.
//! Written with `quick-junit`; no timestamps or ids, so equal runs write
//! equal files.

use crate::error::InputError;
use crate::world::Report;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How a test case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed: an invariant broke (or a threshold, or the harness).
    Failed {
        /// What broke: the invariant's name, `threshold` or `harness-error`.
        kind: String,
        /// One line: what broke and the values.
        message: String,
        /// The details: the reproduce command, then the events before it.
        detail: String,
    },
    /// Not run or not counted (a known finding).
    Skipped {
        /// Why.
        message: String,
    },
}

/// One test case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The suite it belongs to (a sim's name).
    pub suite: String,
    /// The case (`units-burst seed 3`).
    pub name: String,
    /// The class name CI systems group by (`overbook.fuzz.units-burst`).
    pub classname: String,
    /// Wall time it took.
    pub wall: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Case {
    /// The case of one world run: failed when the run did not pass, with
    /// the violation and `replay`, the command that reproduces it.
    pub fn of_run(command: &str, report: &Report, replay: &str) -> Case {
        let outcome = if report.passed {
            Outcome::Passed
        } else {
            let (kind, message, events) = match (&report.violation, &report.harness_error) {
                (Some(v), _) => (
                    v.invariant.clone(),
                    format!(
                        "{} at step {} ({} ms simulated): {}",
                        v.invariant, v.step, v.sim_time_ms, v.message
                    ),
                    v.recent_events.join("\n"),
                ),
                (None, Some(err)) => (
                    "harness-error".to_string(),
                    format!("harness error: {err}"),
                    String::new(),
                ),
                (None, None) => {
                    let failed: Vec<String> = report
                        .thresholds
                        .iter()
                        .filter(|t| !t.passed)
                        .map(|t| {
                            format!(
                                "{} {} (actual {})",
                                t.metric,
                                t.condition,
                                t.actual.map_or("unknown".to_string(), |v| v.to_string())
                            )
                        })
                        .collect();
                    (
                        "threshold".to_string(),
                        format!("threshold failed: {}", failed.join(", ")),
                        String::new(),
                    )
                }
            };
            Outcome::Failed {
                kind,
                message,
                detail: format!(
                    "reproduce: {replay}\ntrace hash: {}\n{events}",
                    report.trace_hash
                ),
            }
        };
        Case {
            suite: report.sim.clone(),
            name: format!("{} seed {} ({})", report.sim, report.seed, report.variant),
            classname: format!("overbook.{command}.{}", report.sim),
            wall: Duration::from_millis(report.wall_ms),
            outcome,
        }
    }
}

/// A JUnit file in the making.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Junit {
    name: String,
    cases: Vec<Case>,
}

impl Junit {
    /// An empty report named `name` (`overbook fuzz`).
    pub fn new(name: impl Into<String>) -> Junit {
        Junit {
            name: name.into(),
            cases: Vec::new(),
        }
    }

    /// Adds a case.
    pub fn push(&mut self, case: Case) {
        self.cases.push(case);
    }

    /// Cases so far.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether no case was added.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The XML: one suite per distinct [`Case::suite`], in name order, its
    /// cases in the order they were added.
    pub fn to_xml(&self) -> Result<String, InputError> {
        let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
        for case in &self.cases {
            let suite = suites
                .entry(case.suite.as_str())
                .or_insert_with(|| TestSuite::new(case.suite.as_str()));
            let status = match &case.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed {
                    kind,
                    message,
                    detail,
                } => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_type(kind.as_str())
                        .set_message(message.as_str())
                        .set_description(detail.as_str());
                    status
                }
                Outcome::Skipped { message } => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(message.as_str());
                    status
                }
            };
            let mut test_case = TestCase::new(case.name.as_str(), status);
            test_case
                .set_classname(case.classname.as_str())
                .set_time(case.wall);
            suite.add_test_case(test_case);
        }
        let mut report = quick_junit::Report::new(self.name.as_str());
        report.add_test_suites(suites.into_values());
        report
            .to_string()
            .map_err(|err| InputError::new(format!("could not write JUnit XML: {err}")))
    }

    /// Writes the XML to `path` atomically (a temporary file renamed into
    /// place), creating its folder.
    pub fn write(&self, path: &Path) -> Result<(), InputError> {
        let xml = self.to_xml()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| InputError::io(dir, &err))?;
        }
        let name = path
            .file_name()
            .map_or("junit.xml".into(), |n| n.to_string_lossy().into_owned());
        let temporary = path.with_file_name(format!(".{name}.tmp"));
        std::fs::write(&temporary, xml).map_err(|err| InputError::io(&temporary, &err))?;
        std::fs::rename(&temporary, path).map_err(|err| InputError::io(path, &err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_group_cases_and_failures_carry_details() {
        let mut junit = Junit::new("overbook fuzz");
        for (suite, seed, failed) in [("b", 1, false), ("a", 2, true), ("b", 3, true)] {
            junit.push(Case {
                suite: suite.to_string(),
                name: format!("{suite} seed {seed}"),
                classname: format!("overbook.fuzz.{suite}"),
                wall: Duration::from_millis(5),
                outcome: if failed {
                    Outcome::Failed {
                        kind: "no_overbooking".into(),
                        message: "units 60 > 50 <&>".into(),
                        detail: "reproduce: overbook replay --sim x --seed 1".into(),
                    }
                } else {
                    Outcome::Passed
                },
            });
        }
        let xml = junit.to_xml().unwrap();
        assert!(
            xml.contains(r#"<testsuites name="overbook fuzz" tests="3" failures="2""#),
            "{xml}"
        );
        assert!(xml.find(r#"<testsuite name="a""#) < xml.find(r#"<testsuite name="b""#));
        assert!(xml.contains("units 60 &gt; 50 &lt;&amp;&gt;"), "{xml}");
        assert!(
            xml.contains("reproduce: overbook replay --sim x --seed 1"),
            "{xml}"
        );
    }
}
