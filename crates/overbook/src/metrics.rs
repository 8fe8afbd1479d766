//! What a run measured: statuses, latencies (hdrhistogram, simulated
//! milliseconds), retries, and the threshold verdicts.

use crate::scenario::Threshold;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod series;
pub use series::{Bucket, FaultMark, OpBucket, SeriesRecorder, TimeSeries, SERIES_BUCKETS_MAX};

/// Status recorded for a request that got no response (timeout or a
/// dropped connection).
pub const STATUS_NO_RESPONSE: u16 = 0;

/// Counters and histograms, filled as responses arrive.
#[derive(Debug)]
pub struct Metrics {
    latency_ms: BTreeMap<&'static str, Histogram<u64>>,
    statuses: BTreeMap<&'static str, BTreeMap<u16, u64>>,
    /// Server-side retries on 40001/40P01 (attempts beyond the first).
    pub server_retries: u64,
    /// Requests whose server retry budget ran out (503).
    pub retries_exhausted: u64,
    /// Client-side resends (after a timeout, 401, 409 or 429).
    pub client_retries: u64,
    /// Users who arrived.
    pub users_started: u64,
    /// Users who finished all their operations.
    pub users_finished: u64,
    /// Arrivals skipped because `max_users` were alive.
    pub users_skipped: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Latency percentiles of one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Highest.
    pub max: u64,
    /// Samples.
    pub count: u64,
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics {
            latency_ms: BTreeMap::new(),
            statuses: BTreeMap::new(),
            server_retries: 0,
            retries_exhausted: 0,
            client_retries: 0,
            users_started: 0,
            users_finished: 0,
            users_skipped: 0,
        }
    }

    /// Records one request's outcome. `status` is [`STATUS_NO_RESPONSE`]
    /// when none came.
    pub fn record(&mut self, op: &'static str, status: u16, latency_ms: u64, attempts: u32) {
        *self
            .statuses
            .entry(op)
            .or_default()
            .entry(status)
            .or_default() += 1;
        let histogram = self.latency_ms.entry(op).or_insert_with(|| {
            // Three significant figures up to an hour of simulated time.
            Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid histogram bounds")
        });
        histogram.saturating_record(latency_ms.max(1));
        self.server_retries += u64::from(attempts.saturating_sub(1));
        if status == 503 {
            self.retries_exhausted += 1;
        }
    }

    /// All requests.
    pub fn total_requests(&self) -> u64 {
        self.statuses.values().flat_map(|m| m.values()).sum()
    }

    /// Requests by status over all operations.
    pub fn by_status(&self) -> BTreeMap<String, u64> {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for statuses in self.statuses.values() {
            for (&status, &count) in statuses {
                *totals.entry(status_name(status)).or_default() += count;
            }
        }
        totals
    }

    /// Requests by operation, then status.
    pub fn by_op(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.statuses
            .iter()
            .map(|(op, statuses)| {
                (
                    (*op).to_string(),
                    statuses
                        .iter()
                        .map(|(&s, &c)| (status_name(s), c))
                        .collect(),
                )
            })
            .collect()
    }

    /// Latency percentiles by operation.
    pub fn latency(&self) -> BTreeMap<String, LatencySummary> {
        self.latency_ms
            .iter()
            .map(|(op, h)| {
                (
                    (*op).to_string(),
                    LatencySummary {
                        p50: h.value_at_quantile(0.50),
                        p95: h.value_at_quantile(0.95),
                        p99: h.value_at_quantile(0.99),
                        max: h.max(),
                        count: h.len(),
                    },
                )
            })
            .collect()
    }

    /// The value of a metric named in a threshold, or `None` for an unknown
    /// name. Names: `requests.total`, `requests.<op>.<status>`,
    /// `requests.<op>.total`, `status.<status>`, `latency_ms.<op>.<p50|p95|p99|max>`,
    /// `retries.count`, `retries.exhausted`, `retries.client`,
    /// `users.finished`, `users.started`. A status is a number or `timeout`.
    pub fn value(&self, metric: &str) -> Option<f64> {
        let parts: Vec<&str> = metric.split('.').collect();
        let count = |op: Option<&str>, status: Option<u16>| -> f64 {
            self.statuses
                .iter()
                .filter(|(name, _)| op.is_none_or(|op| **name == op))
                .flat_map(|(_, statuses)| statuses.iter())
                .filter(|(s, _)| status.is_none_or(|status| **s == status))
                .map(|(_, c)| *c as f64)
                // An empty f64 sum is -0.0; show 0.
                .sum::<f64>()
                + 0.0
        };
        let parse_status = |text: &str| -> Option<u16> {
            if text == "timeout" {
                Some(STATUS_NO_RESPONSE)
            } else {
                text.parse().ok()
            }
        };
        match parts.as_slice() {
            ["requests", "total"] => Some(self.total_requests() as f64),
            ["requests", op, "total"] => Some(count(Some(op), None)),
            ["requests", op, status] => Some(count(Some(op), Some(parse_status(status)?))),
            ["status", status] => Some(count(None, Some(parse_status(status)?))),
            ["latency_ms", op, quantile] => {
                let summary = self.latency().get(*op).copied().unwrap_or(LatencySummary {
                    p50: 0,
                    p95: 0,
                    p99: 0,
                    max: 0,
                    count: 0,
                });
                match *quantile {
                    "p50" => Some(summary.p50 as f64),
                    "p95" => Some(summary.p95 as f64),
                    "p99" => Some(summary.p99 as f64),
                    "max" => Some(summary.max as f64),
                    _ => None,
                }
            }
            ["retries", "count"] => Some(self.server_retries as f64),
            ["retries", "exhausted"] => Some(self.retries_exhausted as f64),
            ["retries", "client"] => Some(self.client_retries as f64),
            ["users", "started"] => Some(self.users_started as f64),
            ["users", "finished"] => Some(self.users_finished as f64),
            _ => None,
        }
    }
}

/// `"201"`, or `"timeout"` for no response.
pub fn status_name(status: u16) -> String {
    if status == STATUS_NO_RESPONSE {
        "timeout".to_string()
    } else {
        status.to_string()
    }
}

/// One threshold's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric.
    pub metric: String,
    /// The condition as written.
    pub condition: String,
    /// The measured value (`None`: unknown metric, which fails).
    pub actual: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// Evaluates every threshold against the metrics.
pub fn evaluate_thresholds(
    metrics: &Metrics,
    thresholds: &BTreeMap<String, String>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|(metric, condition)| {
            let actual = metrics.value(metric);
            let passed = match (Threshold::parse(metric, condition), actual) {
                (Ok(threshold), Some(value)) => threshold.passes(value),
                _ => false,
            };
            ThresholdResult {
                metric: metric.clone(),
                condition: condition.clone(),
                actual,
                passed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_resolve() {
        let mut metrics = Metrics::new();
        metrics.record("reserve", 201, 12, 1);
        metrics.record("reserve", 409, 30, 3);
        metrics.record("reserve", STATUS_NO_RESPONSE, 5000, 1);
        metrics.record("release", 200, 7, 1);
        assert_eq!(metrics.value("requests.total"), Some(4.0));
        assert_eq!(metrics.value("requests.reserve.201"), Some(1.0));
        assert_eq!(metrics.value("requests.reserve.total"), Some(3.0));
        assert_eq!(metrics.value("requests.reserve.timeout"), Some(1.0));
        assert_eq!(metrics.value("status.200"), Some(1.0));
        assert_eq!(metrics.value("retries.count"), Some(2.0));
        assert_eq!(metrics.value("latency_ms.release.max"), Some(7.0));
        assert_eq!(metrics.value("nonsense"), None);
        let mut thresholds = BTreeMap::new();
        thresholds.insert("requests.reserve.201".to_string(), "== 1".to_string());
        thresholds.insert("requests.reserve.409".to_string(), "== 0".to_string());
        thresholds.insert("bogus.metric".to_string(), "== 0".to_string());
        let results = evaluate_thresholds(&metrics, &thresholds);
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, vec![false, true, false]);
    }
}
