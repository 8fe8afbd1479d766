//! Serializability checker throughput.
//!
//! `cargo bench --bench history_check` builds a serial history of 200,000
//! transactions over 1,000 keys (each with two item reads, one predicate
//! read over 10 keys and two writes) and times `history::check` on it.

use overbook::history::check;
use overbook::seed::Seed;
use overbook::store::{CommittedTx, Isolation, Key, KeyRange, ReadRecord, TxId, WriteRecord};
use std::collections::BTreeMap;
use std::time::Instant;

fn key(i: u64) -> Key {
    Key::new("acct", &[&format!("{i:05}")])
}

fn main() {
    let transactions: u64 = std::env::var("OVERBOOK_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let keys = 1000u64;
    let mut rng = Seed(3).stream("history-bench");
    let mut current: BTreeMap<Key, TxId> = (0..keys).map(|i| (key(i), 0)).collect();
    let mut history = vec![CommittedTx {
        id: 0,
        isolation: Isolation::Serializable,
        commit_seq: 0,
        reads: Vec::new(),
        writes: (0..keys)
            .map(|i| WriteRecord {
                key: key(i),
                deleted: false,
            })
            .collect(),
    }];
    for id in 1..=transactions {
        let a = key(rng.below(keys));
        let b = key(rng.below(keys));
        let start = rng.below(keys - 10);
        let range = KeyRange::between(key(start), key(start + 10));
        let observed = current
            .range(range.start.clone()..range.end.clone())
            .map(|(k, w)| (k.clone(), *w))
            .collect();
        let reads = vec![
            ReadRecord::Item {
                key: a.clone(),
                version: current.get(&a).copied(),
            },
            ReadRecord::Item {
                key: b.clone(),
                version: current.get(&b).copied(),
            },
            ReadRecord::Predicate { range, observed },
        ];
        let mut written = vec![a, key(rng.below(keys))];
        written.sort();
        written.dedup();
        for k in &written {
            current.insert(k.clone(), id);
        }
        history.push(CommittedTx {
            id,
            isolation: Isolation::Serializable,
            commit_seq: id,
            reads,
            writes: written
                .into_iter()
                .map(|key| WriteRecord {
                    key,
                    deleted: false,
                })
                .collect(),
        });
    }
    let started = Instant::now();
    let stats = check(&history).expect("a serial history is serializable");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "history_check: {} transactions, {} edges in {:.3} s: {:.0} transactions/s, {:.0} edges/s",
        stats.transactions,
        stats.edges,
        seconds,
        stats.transactions as f64 / seconds,
        stats.edges as f64 / seconds
    );
}
