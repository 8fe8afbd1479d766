//! A serializability checker over the store's committed-transaction record.
//!
//! From the record it builds Adya's direct serialization graph: a `ww`
//! edge from the writer of a version to the writer of the next version of
//! the same key, a `wr` edge from a writer to every transaction that read
//! its version, and an `rw` anti-dependency from a reader to the writer of
//! the version after the one it read (for a predicate read, for every key
//! in the range). The history is serializable exactly when the graph is
//! acyclic; a cycle is reported as the weakest anomaly it shows:
//!
//! | anomaly    | cycle made of                          |
//! |------------|----------------------------------------|
//! | `G0`       | `ww` edges only (dirty write)          |
//! | `G1c`      | `ww` and `wr`, at least one `wr`       |
//! | `G-single` | exactly one `rw` edge (read skew)      |
//! | `G2-item`  | several item `rw` edges (write skew)   |
//! | `G2`       | a predicate `rw` edge (phantom skew)   |
//!
//! Reads of versions no committed transaction installed are `G1a`
//! (aborted read) or `G1b` (intermediate read).
//!
//! The version order of a key is the commit order of its writers, as in
//! PostgreSQL. [`serializable_by_brute_force`] answers the same question by
//! trying every serial order, as an independent oracle for small histories.

mod brute;
mod graph;

pub use brute::{serializable_by_brute_force, BRUTE_FORCE_MAX_TRANSACTIONS};

use crate::store::{CommittedTx, Key, ReadRecord, TxId};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The kind of a dependency edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Write-write: `from` installed the version before `to`'s.
    Ww,
    /// Write-read: `to` read the version `from` installed.
    Wr,
    /// Read-write anti-dependency: `from` read a version that `to`
    /// overwrote; `predicate` when the read was a range read.
    Rw {
        /// Whether the read was a predicate (range) read.
        predicate: bool,
    },
}

impl EdgeKind {
    fn label(self) -> &'static str {
        match self {
            EdgeKind::Ww => "ww",
            EdgeKind::Wr => "wr",
            EdgeKind::Rw { predicate: false } => "rw",
            EdgeKind::Rw { predicate: true } => "rw-predicate",
        }
    }
}

/// One dependency edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The transaction that must come first.
    pub from: TxId,
    /// The transaction that must come after.
    pub to: TxId,
    /// Why.
    pub kind: EdgeKind,
    /// The key involved.
    pub key: Key,
}

/// The anomaly classes reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AnomalyKind {
    /// A cycle of write-write edges.
    G0,
    /// A read of a version whose writer never committed.
    G1a,
    /// A read of a version its committed writer did not install last.
    G1b,
    /// A cycle of write-write and write-read edges.
    G1c,
    /// A cycle with exactly one anti-dependency.
    GSingle,
    /// A cycle with item anti-dependencies.
    G2Item,
    /// A cycle with a predicate anti-dependency.
    G2,
}

impl AnomalyKind {
    /// The name used in reports (`G-single`, `G2-item`...).
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1b => "G1b",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::G2Item => "G2-item",
            AnomalyKind::G2 => "G2",
        }
    }
}

/// A non-serializable history: its class and the cycle (or bad read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// The weakest class found.
    pub kind: AnomalyKind,
    /// The cycle, in order (`cycle[i].to == cycle[i + 1].from`, and the last
    /// edge returns to the first transaction); for G1a/G1b the one bad read.
    pub cycle: Vec<Edge>,
    /// A readable account.
    pub message: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Anomaly {}

/// What a successful check covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CheckStats {
    /// Transactions in the history.
    pub transactions: usize,
    /// Distinct dependency edges built.
    pub edges: usize,
}

/// Describes a cycle: `T3 -rw(k/a)-> T4 -ww(k/b)-> T3`.
pub fn describe_cycle(cycle: &[Edge]) -> String {
    let mut text = String::new();
    for (index, edge) in cycle.iter().enumerate() {
        if index == 0 {
            text.push_str(&format!("T{}", edge.from));
        }
        text.push_str(&format!(
            " -{}({})-> T{}",
            edge.kind.label(),
            edge.key,
            edge.to
        ));
    }
    text
}

/// The versions of each key, in version (commit) order, by writer.
pub(crate) struct VersionIndex {
    pub(crate) writers: BTreeMap<Key, Vec<TxId>>,
    /// Position of each writer in its key's list, for O(log n) lookups.
    positions: BTreeMap<Key, BTreeMap<TxId, usize>>,
}

impl VersionIndex {
    pub(crate) fn new(history: &[CommittedTx]) -> VersionIndex {
        let mut by_key: BTreeMap<Key, Vec<(u64, TxId)>> = BTreeMap::new();
        for tx in history {
            for write in &tx.writes {
                by_key
                    .entry(write.key.clone())
                    .or_default()
                    .push((tx.commit_seq, tx.id));
            }
        }
        let writers: BTreeMap<Key, Vec<TxId>> = by_key
            .into_iter()
            .map(|(key, mut list)| {
                list.sort_unstable();
                (key, list.into_iter().map(|(_, id)| id).collect())
            })
            .collect();
        let positions = writers
            .iter()
            .map(|(key, list)| {
                (
                    key.clone(),
                    list.iter().enumerate().map(|(i, &w)| (w, i)).collect(),
                )
            })
            .collect();
        VersionIndex { writers, positions }
    }

    /// Whether `writer` installed a version of `key`.
    pub(crate) fn installed(&self, key: &Key, writer: TxId) -> bool {
        self.positions
            .get(key)
            .is_some_and(|p| p.contains_key(&writer))
    }

    /// The position of `writer`'s version in `key`'s version order.
    pub(crate) fn position(&self, key: &Key, writer: TxId) -> Option<usize> {
        self.positions
            .get(key)
            .and_then(|p| p.get(&writer).copied())
    }

    /// The writer of the version after `seen` (`None`: the key was unborn).
    pub(crate) fn next_after(&self, key: &Key, seen: Option<TxId>) -> Option<TxId> {
        let list = self.writers.get(key)?;
        match seen {
            None => list.first().copied(),
            Some(writer) => list.get(self.position(key, writer)? + 1).copied(),
        }
    }
}

/// Every key a read covered with the version it saw: one key for an item
/// read; for a predicate read, every key in the range that any transaction
/// wrote (unlisted ones were unborn for the read).
pub(crate) fn read_versions<'a>(
    read: &'a ReadRecord,
    index: &'a VersionIndex,
) -> Box<dyn Iterator<Item = (Key, Option<TxId>, bool)> + 'a> {
    match read {
        ReadRecord::Item { key, version } => {
            Box::new(std::iter::once((key.clone(), *version, false)))
        }
        ReadRecord::Predicate { range, observed } => {
            let seen: BTreeMap<&Key, TxId> = observed.iter().map(|(k, w)| (k, *w)).collect();
            let in_range: Vec<(Key, Option<TxId>, bool)> = index
                .writers
                .range(range.start.clone()..range.end.clone())
                .map(|(key, _)| (key.clone(), seen.get(key).copied(), true))
                .collect();
            // Observed keys nobody in the history wrote (initial rows when
            // the initial load is not part of the history) still count.
            let extra: Vec<(Key, Option<TxId>, bool)> = observed
                .iter()
                .filter(|(k, _)| !index.writers.contains_key(k))
                .map(|(k, w)| (k.clone(), Some(*w), true))
                .collect();
            Box::new(in_range.into_iter().chain(extra))
        }
    }
}

/// Checks a committed history for serializability.
pub fn check(history: &[CommittedTx]) -> Result<CheckStats, Anomaly> {
    graph::check(history)
}

#[cfg(test)]
mod tests;
