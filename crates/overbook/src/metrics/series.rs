//! Time series of a run: what the report's totals were, bucket by bucket of
//! simulated time, for the HTML report's charts (and anyone reading
//! `--json`).
//!
//! Buckets start one tick wide and double (adjacent pairs merged) whenever
//! a run outgrows [`SERIES_BUCKETS_MAX`], so a run that fails after 20 ms
//! and one that lasts ten simulated minutes both get between half that
//! many and that many points. Latency percentiles per bucket come from an
//! hdrhistogram per operation and bucket (two significant figures, grown
//! on demand, so a quiet bucket costs little). The recorder only reads
//! what the world already observed: it never touches the trace hash.

use super::{status_name, LatencySummary};
use crate::store::StoreStats;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most buckets a series holds; past it, buckets double in width.
pub const SERIES_BUCKETS_MAX: usize = 240;

/// A fault applied, as a mark on the time axis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultMark {
    /// Simulated time it was applied.
    pub at_ms: u64,
    /// What it did (`partition api-0 <-> clients-*`).
    pub what: String,
}

/// One operation within one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpBucket {
    /// Requests completed (a response or a timeout) in the bucket.
    pub completed: u64,
    /// Of those, by status (`timeout` for no response).
    pub statuses: BTreeMap<String, u64>,
    /// Latency percentiles of those, simulated ms.
    pub latency_ms: LatencySummary,
    /// Server-side transaction retries (40001/40P01) they took.
    pub server_retries: u64,
    /// Of those requests, how many ran out of server retries (503).
    pub retries_exhausted: u64,
}

/// What happened in one bucket of simulated time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the bucket, simulated ms (the end is the next bucket's start).
    pub start_ms: u64,
    /// By operation.
    pub ops: BTreeMap<String, OpBucket>,
    /// Client-side resends.
    pub client_retries: u64,
    /// Users who arrived.
    pub users_started: u64,
    /// Users who finished.
    pub users_finished: u64,
    /// Transactions committed (store counter delta).
    pub commits: u64,
    /// Transactions rolled back (store counter delta).
    pub aborts: u64,
    /// 40001 from real conflicts (store counter delta).
    pub serialization_failures: u64,
    /// 40001 injected by the fault injector (store counter delta).
    pub injected_failures: u64,
    /// 40P01 (store counter delta).
    pub deadlocks: u64,
    /// Row-lock waits started (store counter delta).
    pub lock_waits: u64,
}

/// A run's time series.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Width of every bucket, simulated ms.
    pub bucket_ms: u64,
    /// Buckets from time 0, consecutive, up to the end of the run.
    pub buckets: Vec<Bucket>,
    /// Faults applied, in order.
    pub faults: Vec<FaultMark>,
}

impl TimeSeries {
    /// Operations seen in any bucket, in name order.
    pub fn ops(&self) -> Vec<String> {
        let mut ops: Vec<String> = self
            .buckets
            .iter()
            .flat_map(|b| b.ops.keys().cloned())
            .collect();
        ops.sort();
        ops.dedup();
        ops
    }

    /// Statuses seen in any bucket, in name order.
    pub fn statuses(&self) -> Vec<String> {
        let mut statuses: Vec<String> = self
            .buckets
            .iter()
            .flat_map(|b| b.ops.values().flat_map(|o| o.statuses.keys().cloned()))
            .collect();
        statuses.sort();
        statuses.dedup();
        statuses
    }
}

/// One operation within one bucket, while recording.
#[derive(Debug)]
struct OpCells {
    statuses: BTreeMap<u16, u64>,
    latency_ms: Histogram<u32>,
    server_retries: u64,
    retries_exhausted: u64,
}

impl OpCells {
    fn new() -> OpCells {
        OpCells {
            statuses: BTreeMap::new(),
            // Two significant figures, auto-resizing: small until a large
            // latency arrives.
            latency_ms: Histogram::new(2).expect("valid histogram precision"),
            server_retries: 0,
            retries_exhausted: 0,
        }
    }

    fn merge(&mut self, other: OpCells) {
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        // Both auto-resize, so adding cannot fail on range.
        let _ = self.latency_ms.add(&other.latency_ms);
        self.server_retries += other.server_retries;
        self.retries_exhausted += other.retries_exhausted;
    }
}

/// One bucket while recording.
#[derive(Debug, Default)]
struct Cells {
    ops: BTreeMap<&'static str, OpCells>,
    client_retries: u64,
    users_started: u64,
    users_finished: u64,
    store: StoreStats,
}

impl Cells {
    fn merge(&mut self, other: Cells) {
        for (op, cells) in other.ops {
            match self.ops.get_mut(op) {
                Some(mine) => mine.merge(cells),
                None => {
                    self.ops.insert(op, cells);
                }
            }
        }
        self.client_retries += other.client_retries;
        self.users_started += other.users_started;
        self.users_finished += other.users_finished;
        add_stats(&mut self.store, &other.store);
    }
}

fn add_stats(into: &mut StoreStats, delta: &StoreStats) {
    into.committed += delta.committed;
    into.aborted += delta.aborted;
    into.serialization_failures += delta.serialization_failures;
    into.injected_failures += delta.injected_failures;
    into.deadlocks += delta.deadlocks;
    into.lock_waits += delta.lock_waits;
}

fn stats_delta(now: &StoreStats, before: &StoreStats) -> StoreStats {
    StoreStats {
        committed: now.committed.saturating_sub(before.committed),
        aborted: now.aborted.saturating_sub(before.aborted),
        serialization_failures: now
            .serialization_failures
            .saturating_sub(before.serialization_failures),
        injected_failures: now
            .injected_failures
            .saturating_sub(before.injected_failures),
        deadlocks: now.deadlocks.saturating_sub(before.deadlocks),
        lock_waits: now.lock_waits.saturating_sub(before.lock_waits),
        ..StoreStats::default()
    }
}

/// Fills a [`TimeSeries`] as the world observes a run.
#[derive(Debug)]
pub struct SeriesRecorder {
    bucket_ms: u64,
    cells: Vec<Cells>,
    faults: Vec<FaultMark>,
    store_seen: StoreStats,
}

impl SeriesRecorder {
    /// A recorder whose buckets start `first_bucket_ms` wide (the tick).
    pub fn new(first_bucket_ms: u64) -> SeriesRecorder {
        SeriesRecorder {
            bucket_ms: first_bucket_ms.max(1),
            cells: Vec::new(),
            faults: Vec::new(),
            store_seen: StoreStats::default(),
        }
    }

    /// The bucket of `at_ms`, widening buckets until it fits.
    fn cells(&mut self, at_ms: u64) -> &mut Cells {
        let mut index = (at_ms / self.bucket_ms) as usize;
        while index >= SERIES_BUCKETS_MAX {
            self.widen();
            index = (at_ms / self.bucket_ms) as usize;
        }
        if self.cells.len() <= index {
            self.cells.resize_with(index + 1, Cells::default);
        }
        &mut self.cells[index]
    }

    /// Doubles the bucket width, merging adjacent pairs.
    fn widen(&mut self) {
        let old = std::mem::take(&mut self.cells);
        let mut merged: Vec<Cells> = Vec::with_capacity(old.len().div_ceil(2));
        for (index, cells) in old.into_iter().enumerate() {
            if index % 2 == 0 {
                merged.push(cells);
            } else {
                merged
                    .last_mut()
                    .expect("an even bucket came first")
                    .merge(cells);
            }
        }
        self.cells = merged;
        self.bucket_ms *= 2;
    }

    /// One request completed at `at_ms` ([`super::STATUS_NO_RESPONSE`]: none came).
    pub fn request(
        &mut self,
        at_ms: u64,
        op: &'static str,
        status: u16,
        latency_ms: u64,
        attempts: u32,
    ) {
        let cells = self.cells(at_ms).ops.entry(op).or_insert_with(OpCells::new);
        *cells.statuses.entry(status).or_default() += 1;
        // Auto-resizing: only a value past u64 range could fail.
        let _ = cells.latency_ms.record(latency_ms.max(1));
        cells.server_retries += u64::from(attempts.saturating_sub(1));
        if status == 503 {
            cells.retries_exhausted += 1;
        }
    }

    /// Client resends, users started and finished, seen at `at_ms`.
    pub fn clients(&mut self, at_ms: u64, client_retries: u64, started: u64, finished: u64) {
        if client_retries == 0 && started == 0 && finished == 0 {
            return;
        }
        let cells = self.cells(at_ms);
        cells.client_retries += client_retries;
        cells.users_started += started;
        cells.users_finished += finished;
    }

    /// The store's counters at `at_ms`: what changed since the last call
    /// goes into this bucket.
    pub fn store(&mut self, at_ms: u64, stats: StoreStats) {
        let delta = stats_delta(&stats, &self.store_seen);
        self.store_seen = stats;
        if delta == StoreStats::default() {
            return;
        }
        add_stats(&mut self.cells(at_ms).store, &delta);
    }

    /// A fault applied at `at_ms`.
    pub fn fault(&mut self, at_ms: u64, what: &str) {
        self.faults.push(FaultMark {
            at_ms,
            what: what.to_string(),
        });
    }

    /// The series, with buckets up to `end_ms`.
    pub fn finish(mut self, end_ms: u64) -> TimeSeries {
        self.cells(end_ms);
        let bucket_ms = self.bucket_ms;
        let buckets = self
            .cells
            .into_iter()
            .enumerate()
            .map(|(index, cells)| Bucket {
                start_ms: index as u64 * bucket_ms,
                ops: cells
                    .ops
                    .into_iter()
                    .map(|(op, cells)| (op.to_string(), op_bucket(&cells)))
                    .collect(),
                client_retries: cells.client_retries,
                users_started: cells.users_started,
                users_finished: cells.users_finished,
                commits: cells.store.committed,
                aborts: cells.store.aborted,
                serialization_failures: cells.store.serialization_failures,
                injected_failures: cells.store.injected_failures,
                deadlocks: cells.store.deadlocks,
                lock_waits: cells.store.lock_waits,
            })
            .collect();
        TimeSeries {
            bucket_ms,
            buckets,
            faults: self.faults,
        }
    }
}

fn op_bucket(cells: &OpCells) -> OpBucket {
    let h = &cells.latency_ms;
    OpBucket {
        completed: cells.statuses.values().sum(),
        statuses: cells
            .statuses
            .iter()
            .map(|(&status, &count)| (status_name(status), count))
            .collect(),
        latency_ms: LatencySummary {
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            count: h.len(),
        },
        server_retries: cells.server_retries,
        retries_exhausted: cells.retries_exhausted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::STATUS_NO_RESPONSE;

    #[test]
    fn buckets_double_and_keep_every_count() {
        let mut recorder = SeriesRecorder::new(1);
        let mut requests = 0u64;
        for at_ms in (0..10_000u64).step_by(7) {
            recorder.request(at_ms, "reserve", 201, at_ms % 50 + 1, 2);
            requests += 1;
        }
        recorder.request(9_999, "release", STATUS_NO_RESPONSE, 5_000, 1);
        recorder.request(9_999, "release", 503, 30, 4);
        recorder.fault(500, "crash api-0");
        recorder.store(
            3_000,
            StoreStats {
                serialization_failures: 4,
                lock_waits: 2,
                ..StoreStats::default()
            },
        );
        recorder.store(
            3_001,
            StoreStats {
                serialization_failures: 5,
                lock_waits: 2,
                ..StoreStats::default()
            },
        );
        let series = recorder.finish(10_000);
        assert!(series.buckets.len() <= SERIES_BUCKETS_MAX);
        assert!(series.buckets.len() > SERIES_BUCKETS_MAX / 2);
        assert_eq!(series.bucket_ms, 64, "1 ms doubled until 10 s fits");
        let reserve: u64 = series
            .buckets
            .iter()
            .filter_map(|b| b.ops.get("reserve"))
            .map(|o| o.completed)
            .sum();
        assert_eq!(reserve, requests);
        let retries: u64 = series
            .buckets
            .iter()
            .flat_map(|b| b.ops.values())
            .map(|o| o.server_retries)
            .sum();
        assert_eq!(retries, requests + 3);
        let last = series.buckets.last().unwrap();
        assert_eq!(last.ops["release"].statuses["timeout"], 1);
        assert_eq!(last.ops["release"].retries_exhausted, 1);
        assert!(last.ops["release"].latency_ms.max >= 4_990);
        let failures: u64 = series
            .buckets
            .iter()
            .map(|b| b.serialization_failures)
            .sum();
        assert_eq!(failures, 5);
        assert_eq!(series.faults.len(), 1);
        assert_eq!(series.ops(), vec!["release", "reserve"]);
        assert_eq!(series.statuses(), vec!["201", "503", "timeout"]);
    }
}
