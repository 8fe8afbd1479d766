//! The run report: what the load-test reports showed, for simulated time,
//! plus the invariants and the trace hash.

use crate::metrics::{LatencySummary, ThresholdResult, TimeSeries};
use crate::store::StoreStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// An invariant that broke, where and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViolationReport {
    /// The invariant's name (`no_overbooking`, `liveness`...).
    pub invariant: String,
    /// The turmoil step at which it was seen.
    pub step: u64,
    /// Simulated time at which it was seen.
    pub sim_time_ms: u64,
    /// The values that broke it.
    pub message: String,
    /// The events just before, oldest first.
    pub recent_events: Vec<String>,
}

/// What the serializability checker saw over the run's history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryReport {
    /// Whether the checker ran (`run.check_history`).
    pub checked: bool,
    /// Committed transactions it read.
    pub transactions: u64,
    /// Of those, forgotten once no future cycle could reach them.
    pub pruned: u64,
    /// The most transactions it kept at once.
    pub window_max: usize,
    /// Graph searches run.
    pub searches: u64,
    /// Anomalies the transactions' isolation level allows (with
    /// `run.history_anomalies = "report"`), first ones first.
    pub findings: Vec<HistoryFinding>,
    /// Findings beyond those listed.
    pub findings_dropped: u64,
}

/// An anomaly that the isolation level of its transactions allows: not a
/// violation, but what no invariant may name (write skew at Repeatable
/// Read, a lost update at Read Committed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryFinding {
    /// Adya's class: `G-single`, `G2-item` or `G2`.
    pub anomaly: String,
    /// The weakest level among its transactions, which allows it.
    pub allowed_by: String,
    /// The transactions of the cycle as `T12 (repeatable-read)`, in cycle order.
    pub transactions: Vec<String>,
    /// The cycle: `T12 -rw(slot/3)-> T14 -rw(slot/4)-> T12`.
    pub cycle: String,
    /// The turmoil step at which the cycle was found.
    pub step: u64,
    /// Simulated time at which it was found.
    pub sim_time_ms: u64,
}

/// Requests by status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestsReport {
    /// All requests.
    pub total: u64,
    /// By status over all operations (`timeout` for no response).
    pub by_status: BTreeMap<String, u64>,
    /// By operation, then status.
    pub by_op: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetriesReport {
    /// Server-side retries of transactions on 40001/40P01.
    pub count: u64,
    /// Requests whose server retry budget ran out (503).
    pub exhausted: u64,
    /// Client-side resends.
    pub client: u64,
}

/// Virtual users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersReport {
    /// Users who arrived.
    pub started: u64,
    /// Users who finished.
    pub finished: u64,
    /// Arrivals skipped by `max_users`.
    pub skipped: u64,
}

/// One event of a traced run (`overbook replay --trace`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TraceEvent {
    /// A request and its response (or the lack of one).
    Request {
        /// The virtual user.
        client: u32,
        /// The request's id.
        request_id: u64,
        /// The operation (`reserve`...).
        op: String,
        /// The request body, as JSON.
        request: String,
        /// Simulated time it was sent.
        sent_ms: u64,
        /// Simulated time the response or timeout arrived.
        received_ms: u64,
        /// The status (`None`: no response).
        status: Option<u16>,
        /// The response body as JSON, or why none came.
        response: String,
        /// Transaction attempts the server made.
        attempts: u32,
        /// The idempotency key sent.
        idempotency_key: Option<String>,
    },
    /// A committed transaction with the versions it read and wrote.
    Transaction {
        /// Simulated time the commit was observed.
        at_ms: u64,
        /// The transaction.
        tx: u64,
        /// Its commit position.
        commit_seq: u64,
        /// Its isolation level.
        isolation: String,
        /// Reads: `key@T<writer>` (`@unborn` for a key never written; a
        /// predicate read as `scan[start..end) {key@Tn, ...}`).
        reads: Vec<String>,
        /// Writes: keys, `(deleted)` for deletes; the version is this tx.
        writes: Vec<String>,
    },
    /// A fault applied.
    Fault {
        /// Simulated time.
        at_ms: u64,
        /// What happened.
        what: String,
    },
    /// A round of a service's background job finished.
    Background {
        /// Simulated time it finished.
        at_ms: u64,
        /// The API server it ran on.
        server: u32,
        /// The job's name.
        task: String,
    },
}

impl TraceEvent {
    /// When the event completed, simulated ms.
    pub fn at_ms(&self) -> u64 {
        match self {
            TraceEvent::Request { received_ms, .. } => *received_ms,
            TraceEvent::Transaction { at_ms, .. }
            | TraceEvent::Fault { at_ms, .. }
            | TraceEvent::Background { at_ms, .. } => *at_ms,
        }
    }

    /// One readable line.
    pub fn describe(&self) -> String {
        match self {
            TraceEvent::Request {
                client,
                op,
                request,
                sent_ms,
                received_ms,
                status,
                response,
                attempts,
                idempotency_key,
                ..
            } => {
                let status = status.map_or("no response".to_string(), |s| s.to_string());
                let key = idempotency_key
                    .as_deref()
                    .map_or(String::new(), |k| format!(" key={k}"));
                format!(
                    "[{sent_ms:>7} -> {received_ms:>7} ms] client {client:<5} {op:<9} {request}{key} => {status} {response} (attempts {attempts})"
                )
            }
            TraceEvent::Transaction {
                at_ms,
                tx,
                commit_seq,
                isolation,
                reads,
                writes,
            } => format!(
                "[{at_ms:>7} ms] db commit T{tx} #{commit_seq} ({isolation}) read {} wrote {}",
                if reads.is_empty() {
                    "-".to_string()
                } else {
                    reads.join(" ")
                },
                if writes.is_empty() {
                    "-".to_string()
                } else {
                    writes.join(" ")
                }
            ),
            TraceEvent::Fault { at_ms, what } => format!("[{at_ms:>7} ms] FAULT {what}"),
            TraceEvent::Background {
                at_ms,
                server,
                task,
            } => format!("[{at_ms:>7} ms] api-{server} ran background job {task}"),
        }
    }
}

/// Everything a run found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub sim: String,
    /// The seed.
    pub seed: u64,
    /// The service variant.
    pub variant: String,
    /// No violation, no harness error, and every threshold met.
    pub passed: bool,
    /// The first violation, if any.
    pub violation: Option<ViolationReport>,
    /// A failure of the harness itself (a host returned an error).
    pub harness_error: Option<String>,
    /// Hash of every response, commit and fault, in order: equal for equal
    /// seeds, in any process.
    pub trace_hash: String,
    /// Requests by status.
    pub requests: RequestsReport,
    /// Latency percentiles by operation, simulated ms.
    pub latency_ms: BTreeMap<String, LatencySummary>,
    /// Retries.
    pub retries: RetriesReport,
    /// Virtual users.
    pub users: UsersReport,
    /// Threshold verdicts.
    pub thresholds: Vec<ThresholdResult>,
    /// How often each invariant was evaluated.
    pub invariants_checked: BTreeMap<String, u64>,
    /// Checker calls (one per commit and per response, plus the end).
    pub invariant_evaluations: u64,
    /// Database counters.
    pub store: StoreStats,
    /// Faults applied, in order.
    pub faults: Vec<String>,
    /// The serializability checker's counts and findings.
    #[serde(default)]
    pub history: HistoryReport,
    /// Simulated time at the end.
    pub sim_time_ms: u64,
    /// turmoil steps taken.
    pub steps: u64,
    /// Every event, when the run was traced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceEvent>,
    /// The run bucket by bucket of simulated time (`overbook run --html`
    /// charts it).
    #[serde(default)]
    pub series: TimeSeries,
    /// Wall-clock time, filled by the caller (the library never reads the
    /// wall clock, to stay deterministic).
    pub wall_ms: u64,
}

impl Report {
    /// The report of a run that could not start (its scenario's service
    /// sections did not parse): failed, with the error as a harness error.
    pub fn not_started(
        scenario: &crate::scenario::Scenario,
        seed: crate::seed::Seed,
        variant: &str,
        error: String,
    ) -> Report {
        Report {
            sim: scenario.name.clone(),
            seed: seed.0,
            variant: variant.to_string(),
            passed: false,
            violation: None,
            harness_error: Some(error),
            trace_hash: String::new(),
            requests: RequestsReport {
                total: 0,
                by_status: BTreeMap::new(),
                by_op: BTreeMap::new(),
            },
            latency_ms: BTreeMap::new(),
            retries: RetriesReport {
                count: 0,
                exhausted: 0,
                client: 0,
            },
            users: UsersReport {
                started: 0,
                finished: 0,
                skipped: 0,
            },
            thresholds: Vec::new(),
            invariants_checked: BTreeMap::new(),
            invariant_evaluations: 0,
            store: StoreStats::default(),
            faults: Vec::new(),
            history: HistoryReport::default(),
            sim_time_ms: 0,
            steps: 0,
            trace: Vec::new(),
            wall_ms: 0,
            series: TimeSeries::default(),
        }
    }

    /// Why the run failed, in one line: the violation with its step, the
    /// harness error, or the failed thresholds with their actual values.
    pub fn why_failed(&self) -> String {
        match (&self.violation, &self.harness_error) {
            (Some(v), _) => format!("{} at step {}: {}", v.invariant, v.step, v.message),
            (None, Some(err)) => format!("harness error: {err}"),
            (None, None) => {
                let failed: Vec<String> = self
                    .thresholds
                    .iter()
                    .filter(|t| !t.passed)
                    .map(|t| format!("{} {} (actual {:?})", t.metric, t.condition, t.actual))
                    .collect();
                format!("thresholds failed: {}", failed.join(", "))
            }
        }
    }

    /// The checker's line, and its findings when there are any.
    fn render_history(&self, out: &mut String) {
        let history = &self.history;
        if !history.checked {
            let _ = writeln!(out, "history: not checked (run.check_history = false)");
            return;
        }
        let _ = writeln!(
            out,
            "history: {} transactions checked in {} searches ({} pruned, at most {} kept); {} anomalies allowed by their isolation level",
            history.transactions,
            history.searches,
            history.pruned,
            history.window_max,
            history.findings.len() as u64 + history.findings_dropped
        );
        for finding in &history.findings {
            let _ = writeln!(
                out,
                "  {} (allowed at {}) at step {}, {} ms: {}",
                finding.anomaly,
                finding.allowed_by,
                finding.step,
                finding.sim_time_ms,
                finding.cycle
            );
            let _ = writeln!(out, "    transactions: {}", finding.transactions.join(", "));
        }
        if history.findings_dropped > 0 {
            let _ = writeln!(out, "  ... and {} more", history.findings_dropped);
        }
    }

    /// One line: verdict, sim, seed, variant, hash.
    pub fn summary_line(&self) -> String {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        let why = match (&self.violation, &self.harness_error) {
            (Some(v), _) => format!(
                " violation {} at step {} ({} ms)",
                v.invariant, v.step, v.sim_time_ms
            ),
            (None, Some(err)) => format!(" harness error: {err}"),
            (None, None) if !self.passed => " threshold failed".to_string(),
            _ => String::new(),
        };
        format!(
            "{verdict} {} seed={} variant={} trace={}{why}",
            self.sim, self.seed, self.variant, self.trace_hash
        )
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "overbook run: {} (seed {}, variant {})",
            self.sim, self.seed, self.variant
        );
        let _ = writeln!(
            out,
            "simulated {:.1} s in {} steps, wall {} ms; users {} started, {} finished, {} skipped",
            self.sim_time_ms as f64 / 1000.0,
            self.steps,
            self.wall_ms,
            self.users.started,
            self.users.finished,
            self.users.skipped
        );
        let _ = writeln!(out, "\nrequests: {} total", self.requests.total);
        for (op, statuses) in &self.requests.by_op {
            let cells: Vec<String> = statuses.iter().map(|(s, c)| format!("{s}: {c}")).collect();
            let _ = writeln!(out, "  {op:<10} {}", cells.join("  "));
        }
        let seconds = (self.sim_time_ms as f64 / 1000.0).max(0.001);
        let _ = writeln!(
            out,
            "  throughput {:.1} requests/s simulated",
            self.requests.total as f64 / seconds
        );
        let _ = writeln!(
            out,
            "\nlatency (simulated ms)   p50     p95     p99     max"
        );
        for (op, l) in &self.latency_ms {
            let _ = writeln!(
                out,
                "  {op:<20} {:>7} {:>7} {:>7} {:>7}",
                l.p50, l.p95, l.p99, l.max
            );
        }
        let _ = writeln!(
            out,
            "\nretries: {} server (40001/40P01), {} exhausted, {} client resends",
            self.retries.count, self.retries.exhausted, self.retries.client
        );
        let _ = writeln!(
            out,
            "database: {} commits, {} aborts, {} serialization failures ({} injected), {} deadlocks, {} lock waits",
            self.store.committed,
            self.store.aborted,
            self.store.serialization_failures,
            self.store.injected_failures,
            self.store.deadlocks,
            self.store.lock_waits
        );
        if !self.faults.is_empty() {
            let _ = writeln!(out, "\nfaults:");
            for fault in &self.faults {
                let _ = writeln!(out, "  {fault}");
            }
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(out, "\nthresholds:");
            for t in &self.thresholds {
                let actual = t
                    .actual
                    .map_or("unknown metric".to_string(), |v| format!("{v}"));
                let mark = if t.passed { "ok  " } else { "FAIL" };
                let _ = writeln!(
                    out,
                    "  {mark} {} {} (actual {actual})",
                    t.metric, t.condition
                );
            }
        }
        let checked: Vec<String> = self
            .invariants_checked
            .iter()
            .map(|(n, c)| format!("{n} x{c}"))
            .collect();
        let _ = writeln!(out, "\ninvariants checked: {}", checked.join(", "));
        self.render_history(&mut out);
        if let Some(v) = &self.violation {
            let _ = writeln!(
                out,
                "\nVIOLATION {} at step {}, {} ms simulated:\n  {}",
                v.invariant, v.step, v.sim_time_ms, v.message
            );
            let _ = writeln!(out, "recent events:");
            for event in &v.recent_events {
                let _ = writeln!(out, "  {event}");
            }
        }
        if let Some(err) = &self.harness_error {
            let _ = writeln!(out, "\nHARNESS ERROR: {err}");
        }
        let _ = writeln!(out, "\ntrace hash: {}", self.trace_hash);
        let _ = writeln!(out, "{}", self.summary_line());
        out
    }
}
