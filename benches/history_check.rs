//! Throughput of the serializability checker on long synthetic histories.
//!
//! Builds histories of 200,000 transactions over 1,000 keys, each with item
//! reads, a predicate read over a window of keys one time in four, and one
//! or two writes, then times `history::check`:
//!
//! - `serial`: every transaction sees all earlier commits (serializable:
//!   the full graph is built and searched);
//! - `snapshot-fcw`: each reads from a snapshot up to 8 commits old, and a
//!   transaction that wrote a key a concurrent one wrote is dropped
//!   (Repeatable Read; only write skew remains);
//! - `snapshot`: the same without first-committer-wins (lost updates).
//!
//! Run with `cargo bench --bench history_check`.

use overbook::history::check;
use overbook::store::{CommittedTx, Isolation, Key, KeyRange, ReadRecord, TxId, WriteRecord};
use std::time::Instant;

const TRANSACTIONS: usize = 200_000;
const KEYS: usize = 1_000;
const SCAN_WIDTH: usize = 16;
const SNAPSHOT_LAG_MAX: u64 = 8;
const RUNS: usize = 3;

/// splitmix64: a fixed, dependency-free generator so every run builds the
/// same histories.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Model {
    Serial,
    SnapshotFirstCommitterWins,
    Snapshot,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Serial => "serial",
            Model::SnapshotFirstCommitterWins => "snapshot-fcw",
            Model::Snapshot => "snapshot",
        }
    }
}

fn build(model: Model, seed: u64) -> Vec<CommittedTx> {
    let mut rng = Rng(seed);
    let keys: Vec<Key> = (0..KEYS)
        .map(|k| Key::new("acct", &[&format!("{k:04}")]))
        .collect();
    // Each key's versions as (commit_seq, writer), in commit order.
    let mut versions: Vec<Vec<(u64, TxId)>> = vec![vec![(0, 0)]; KEYS];
    let mut history = Vec::with_capacity(TRANSACTIONS + 1);
    history.push(CommittedTx {
        id: 0,
        isolation: Isolation::Serializable,
        commit_seq: 0,
        first_snapshot: 0,
        reads: Vec::new(),
        writes: keys
            .iter()
            .map(|key| WriteRecord {
                key: key.clone(),
                deleted: false,
            })
            .collect(),
    });
    let mut commit_seq = 0u64;
    for id in 1..=TRANSACTIONS as TxId {
        let snapshot = match model {
            Model::Serial => commit_seq,
            _ => commit_seq.saturating_sub(rng.next() % (SNAPSHOT_LAG_MAX + 1)),
        };
        let visible = |versions: &[(u64, TxId)]| {
            let after = versions.partition_point(|(seq, _)| *seq <= snapshot);
            versions[after - 1].1
        };
        let mut reads = Vec::new();
        for _ in 0..2 {
            let k = rng.below(KEYS);
            reads.push(ReadRecord::Item {
                key: keys[k].clone(),
                version: Some(visible(&versions[k])),
            });
        }
        if rng.below(4) == 0 {
            let start = rng.below(KEYS - SCAN_WIDTH);
            reads.push(ReadRecord::Predicate {
                range: KeyRange::between(keys[start].clone(), keys[start + SCAN_WIDTH].clone()),
                observed: (start..start + SCAN_WIDTH)
                    .map(|k| (keys[k].clone(), visible(&versions[k])))
                    .collect(),
            });
        }
        let mut written: Vec<usize> = (0..1 + rng.below(2)).map(|_| rng.below(KEYS)).collect();
        written.sort_unstable();
        written.dedup();
        let conflict = written
            .iter()
            .any(|&k| versions[k].last().is_some_and(|v| v.0 > snapshot));
        if model == Model::SnapshotFirstCommitterWins && conflict {
            continue; // aborted: first committer wins
        }
        commit_seq += 1;
        for &k in &written {
            versions[k].push((commit_seq, id));
        }
        history.push(CommittedTx {
            id,
            isolation: Isolation::RepeatableRead,
            commit_seq,
            first_snapshot: snapshot,
            reads,
            writes: written
                .iter()
                .map(|&k| WriteRecord {
                    key: keys[k].clone(),
                    deleted: false,
                })
                .collect(),
        });
    }
    history
}

fn main() {
    for model in [
        Model::Serial,
        Model::SnapshotFirstCommitterWins,
        Model::Snapshot,
    ] {
        let history = build(model, 0x0b00_c0de);
        let mut best_s = f64::INFINITY;
        let mut outcome = String::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let result = check(&history);
            best_s = best_s.min(started.elapsed().as_secs_f64());
            outcome = match result {
                Ok(stats) => format!(
                    "serializable, {} edges, {:.2} M edges/s",
                    stats.edges,
                    stats.edges as f64 / best_s / 1e6
                ),
                Err(anomaly) => format!(
                    "{} through {} transactions",
                    anomaly.kind,
                    anomaly.cycle.len()
                ),
            };
        }
        println!(
            "{:<13} {} txs in {:>7.1} ms (best of {RUNS}): {:.2} M txs/s; {outcome}",
            model.name(),
            history.len(),
            best_s * 1e3,
            history.len() as f64 / best_s / 1e6,
        );
    }
}
