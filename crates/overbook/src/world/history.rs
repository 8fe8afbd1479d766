//! The serializability checker as the world runs it: fed the store's
//! record commit by commit, searched every `run.history_check_every`
//! commits, pruned to what a future cycle can still reach.

use super::report::{HistoryFinding, HistoryReport};
use crate::history::{Found, IncrementalCheck};
use crate::scenario::{HistoryAnomalies, RunConfig};
use crate::store::CommittedTx;

/// Allowed anomalies listed in a report at most; the rest are counted.
const FINDINGS_LISTED_MAX: usize = 100;
/// Allowed anomalies passed over in one search at most, so that a run full
/// of them stays cheap; the rest are found at the next search.
const FINDINGS_PER_SEARCH_MAX: usize = 64;

/// A violation of the history: the invariant's name and why.
pub(super) struct HistoryViolation {
    pub(super) invariant: &'static str,
    pub(super) message: String,
}

/// The checker with the run's settings and what it found.
pub(super) struct HistoryWatch {
    checker: IncrementalCheck,
    every: usize,
    anomalies: HistoryAnomalies,
    report: HistoryReport,
}

impl HistoryWatch {
    /// A watch for `run`, or none when the run does not check its history.
    pub(super) fn new(run: &RunConfig) -> Option<HistoryWatch> {
        run.check_history.then(|| HistoryWatch {
            checker: IncrementalCheck::new(),
            every: usize::try_from(run.history_check_every).unwrap_or(usize::MAX),
            anomalies: run.history_anomalies,
            report: HistoryReport {
                checked: true,
                ..HistoryReport::default()
            },
        })
    }

    /// Takes the transactions committed since the last call (in commit
    /// order) and, once `every` are waiting or at the `end`, searches.
    /// `horizon` gives the store's oldest live first snapshot; it is asked
    /// only when the search found nothing and the window is pruned, not
    /// on the many steps where nothing committed.
    pub(super) fn observe(
        &mut self,
        committed: Vec<CommittedTx>,
        horizon: impl FnOnce() -> u64,
        step: u64,
        sim_time_ms: u64,
        end: bool,
    ) -> Result<(), HistoryViolation> {
        for tx in committed {
            self.checker.push(tx);
        }
        let waiting = self.checker.unchecked();
        if waiting == 0 || (waiting < self.every && !end) {
            return Ok(());
        }
        for _ in 0..FINDINGS_PER_SEARCH_MAX {
            let Some(found) = self.checker.next_anomaly() else {
                self.checker.prune(horizon());
                return Ok(());
            };
            match (found.allowed_by, self.anomalies) {
                (None, _) => {
                    return Err(HistoryViolation {
                        invariant: "serializable_history",
                        message: describe(&found, "forbidden at every level involved"),
                    })
                }
                (Some(level), HistoryAnomalies::Fatal) => {
                    return Err(HistoryViolation {
                        invariant: "history_anomaly",
                        message: describe(
                            &found,
                            &format!(
                                "allowed at {}, fatal by run.history_anomalies",
                                level.name()
                            ),
                        ),
                    })
                }
                (Some(_), HistoryAnomalies::Off) => {}
                (Some(level), HistoryAnomalies::Report) => {
                    if self.report.findings.len() < FINDINGS_LISTED_MAX {
                        self.report.findings.push(HistoryFinding {
                            anomaly: found.anomaly.kind.name().to_string(),
                            allowed_by: level.name().to_string(),
                            transactions: levels(&found),
                            cycle: crate::history::describe_cycle(&found.anomaly.cycle),
                            step,
                            sim_time_ms,
                        });
                    } else {
                        self.report.findings_dropped += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// The report's history section.
    pub(super) fn report(&self) -> HistoryReport {
        let stats = self.checker.stats();
        HistoryReport {
            transactions: stats.transactions,
            pruned: stats.pruned,
            window_max: stats.window_max,
            searches: stats.checks,
            ..self.report.clone()
        }
    }

    /// Graph searches so far.
    pub(super) fn searches(&self) -> u64 {
        self.checker.stats().checks
    }
}

/// `T12 (repeatable-read)` for each transaction of the anomaly.
fn levels(found: &Found) -> Vec<String> {
    found
        .transactions
        .iter()
        .map(|(id, level)| format!("T{id} ({})", level.name()))
        .collect()
}

/// The anomaly with its transactions' levels and the verdict's reason.
fn describe(found: &Found, why: &str) -> String {
    let levels = levels(found);
    if levels.is_empty() {
        format!("{} ({why})", found.anomaly)
    } else {
        format!("{} [{}] ({why})", found.anomaly, levels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Isolation, Key, ReadRecord, WriteRecord};

    /// Write skew: T1 and T2 both read a and b from the initial load and
    /// each writes one, at `level`.
    fn write_skew(level: Isolation) -> Vec<CommittedTx> {
        let read = |name: &str| ReadRecord::Item {
            key: Key::raw(name),
            version: Some(0),
        };
        let tx = |id: u64, writes: &str| CommittedTx {
            id,
            isolation: level,
            commit_seq: id,
            first_snapshot: 0,
            reads: vec![read("a"), read("b")],
            writes: vec![WriteRecord {
                key: Key::raw(writes),
                deleted: false,
            }],
        };
        vec![tx(1, "a"), tx(2, "b")]
    }

    fn watch(anomalies: HistoryAnomalies) -> HistoryWatch {
        HistoryWatch::new(&RunConfig {
            history_anomalies: anomalies,
            ..RunConfig::default()
        })
        .expect("on by default")
    }

    #[test]
    fn write_skew_among_serializable_transactions_is_a_violation() {
        let mut watch = watch(HistoryAnomalies::Report);
        let broken = watch
            .observe(write_skew(Isolation::Serializable), || 2, 7, 70, false)
            .unwrap_err();
        assert_eq!(broken.invariant, "serializable_history");
        assert_eq!(
            broken.message,
            "G2-item: T1 -rw(b)-> T2 -rw(a)-> T1 [T1 (serializable), T2 (serializable)] \
             (forbidden at every level involved)"
        );
    }

    #[test]
    fn write_skew_at_repeatable_read_is_a_finding_unless_fatal_or_off() {
        let mut reporting = watch(HistoryAnomalies::Report);
        assert!(reporting
            .observe(write_skew(Isolation::RepeatableRead), || 2, 7, 70, false)
            .is_ok());
        let report = reporting.report();
        assert_eq!(report.findings.len(), 1);
        let finding = &report.findings[0];
        assert_eq!(finding.anomaly, "G2-item");
        assert_eq!(finding.allowed_by, "repeatable-read");
        assert_eq!((finding.step, finding.sim_time_ms), (7, 70));
        assert_eq!(
            finding.transactions,
            vec!["T1 (repeatable-read)", "T2 (repeatable-read)"]
        );
        assert_eq!(report.transactions, 2);

        let mut fatal = watch(HistoryAnomalies::Fatal);
        let broken = fatal
            .observe(write_skew(Isolation::RepeatableRead), || 2, 7, 70, false)
            .unwrap_err();
        assert_eq!(broken.invariant, "history_anomaly");

        let mut off = watch(HistoryAnomalies::Off);
        assert!(off
            .observe(write_skew(Isolation::RepeatableRead), || 2, 7, 70, false)
            .is_ok());
        assert!(off.report().findings.is_empty());
    }

    #[test]
    fn searches_wait_for_every_commits_or_the_end() {
        let mut watch = HistoryWatch::new(&RunConfig {
            history_check_every: 3,
            ..RunConfig::default()
        })
        .expect("on");
        let txs = write_skew(Isolation::Serializable);
        assert!(
            watch.observe(txs, || 2, 1, 1, false).is_ok(),
            "2 of 3 commits"
        );
        assert_eq!(watch.searches(), 0);
        assert!(
            watch.observe(Vec::new(), || 2, 2, 2, true).is_err(),
            "the end"
        );
        assert!(HistoryWatch::new(&RunConfig {
            check_history: false,
            ..RunConfig::default()
        })
        .is_none());
    }
}
