//! A serializability checker over the store's record of committed
//! transactions.
//!
//! [`check`] builds Adya's *direct serialization graph* from the record and
//! looks for cycles in it:
//!
//! - a `ww` edge runs from the writer of a version of a key to the writer
//!   of the next version of that key;
//! - a `wr` edge runs from the writer of a version to every other
//!   transaction that read it;
//! - an `rw` anti-dependency runs from a reader to the writer of the version
//!   after the one it read (after "unborn" when it read a key that did not
//!   exist yet). For a predicate read this holds for every key of the range
//!   that any transaction wrote, so a phantom insert is an anti-dependency
//!   too, marked `predicate`.
//!
//! The version order of a key is the commit order of its writers, as in
//! PostgreSQL. The history is serializable exactly when the graph is
//! acyclic. Otherwise the weakest anomaly present is reported, with a short
//! cycle that shows it:
//!
//! | anomaly    | cycle made of                                        |
//! |------------|------------------------------------------------------|
//! | `G0`       | `ww` edges only (dirty write)                        |
//! | `G1c`      | `ww` and `wr` edges, at least one `wr`               |
//! | `G-single` | exactly one `rw` edge, any others `ww`/`wr` (read skew, lost update) |
//! | `G2-item`  | several `rw` edges, all from item reads (write skew) |
//! | `G2`       | at least one predicate `rw` edge (phantom write skew) |
//!
//! Before the graph is built every read is validated: a read of a version
//! whose writer is not in the history is `G1a` (aborted read), and a record
//! that contradicts itself (a read of a version its writer never wrote, a
//! key observed outside the scanned range...) is
//! [`AnomalyKind::Inconsistent`], so a store bug is not mistaken for an
//! isolation anomaly.
//!
//! Transaction 0 is the initial load. When the history holds no
//! transaction 0, a read of version 0 is a read of the initial state.
//!
//! [`serializable_by_brute_force`] answers the same yes/no question for
//! small histories by trying every serial order, with no code in common
//! with the graph: the property tests hold the two against each other.
//!
//! ```
//! use overbook_db::history::{check, AnomalyKind};
//! use overbook_db::store::{CommittedTx, Isolation, Key, ReadRecord, WriteRecord};
//!
//! // Write skew: both read a and b from the initial load; each writes one.
//! let (a, b) = (Key::raw("acct/a"), Key::raw("acct/b"));
//! let tx = |id: u64, writes: &Key| CommittedTx {
//!     id,
//!     isolation: Isolation::RepeatableRead,
//!     commit_seq: id,
//!     first_snapshot: 0,
//!     reads: vec![
//!         ReadRecord::Item { key: a.clone(), version: Some(0) },
//!         ReadRecord::Item { key: b.clone(), version: Some(0) },
//!     ],
//!     writes: vec![WriteRecord { key: writes.clone(), deleted: false }],
//! };
//! let anomaly = check(&[tx(1, &a), tx(2, &b)]).unwrap_err();
//! assert_eq!(anomaly.kind, AnomalyKind::G2Item);
//! assert_eq!(anomaly.to_string(), "G2-item: T1 -rw(acct/b)-> T2 -rw(acct/a)-> T1");
//! ```

mod brute;
mod cycles;
mod graph;
mod incremental;
mod live;
mod snapshots;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use brute::{serializable_by_brute_force, BRUTE_FORCE_TRANSACTIONS_MAX};
pub use incremental::{allowed_at, Found, IncrementalCheck, IncrementalStats};

use crate::store::{CommittedTx, Key, TxId};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// Why one transaction must precede another in any equivalent serial order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Write-write: `from` installed the version of the key just before the
    /// one `to` installed.
    Ww,
    /// Write-read: `to` read the version of the key that `from` installed.
    Wr,
    /// Read-write anti-dependency: `from` read a version of the key (or saw
    /// it unborn) and `to` installed the next version.
    Rw {
        /// Whether the read was a predicate (range) read, so that the key
        /// may have been a phantom.
        predicate: bool,
    },
}

impl EdgeKind {
    /// The short label used in cycles: `ww`, `wr`, `rw`, or `rw-predicate`.
    pub fn label(self) -> &'static str {
        match self {
            EdgeKind::Ww => "ww",
            EdgeKind::Wr => "wr",
            EdgeKind::Rw { predicate: false } => "rw",
            EdgeKind::Rw { predicate: true } => "rw-predicate",
        }
    }

    /// Whether this is an anti-dependency (item or predicate).
    pub fn is_anti_dependency(self) -> bool {
        matches!(self, EdgeKind::Rw { .. })
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One edge of the serialization graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The transaction that must come first.
    pub from: TxId,
    /// The transaction that must come after it.
    pub to: TxId,
    /// Why.
    pub kind: EdgeKind,
    /// The key that makes the dependency.
    pub key: Key,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "T{} -{}({})-> T{}",
            self.from, self.kind, self.key, self.to
        )
    }
}

/// The anomaly classes of Adya's thesis that the checker reports, weakest
/// first, plus [`AnomalyKind::Inconsistent`] for records that contradict
/// themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AnomalyKind {
    /// Dirty write: a cycle of `ww` edges only. The version order here is
    /// the commit order, so `ww` edges always point forward in commit
    /// order and a well-formed record never shows G0; the class is
    /// classified for completeness.
    #[serde(rename = "G0")]
    G0,
    /// Aborted read: a read of a version whose writer is not in the
    /// history of committed transactions.
    #[serde(rename = "G1a")]
    G1a,
    /// Intermediate read: a read of a version its writer later overwrote
    /// within the same transaction. The record names a version by its
    /// writer and keeps one write per key, so intermediate versions are
    /// invisible to it and [`check`] never reports G1b.
    #[serde(rename = "G1b")]
    G1b,
    /// Circular information flow: a cycle of `ww` and `wr` edges with at
    /// least one `wr`.
    #[serde(rename = "G1c")]
    G1c,
    /// Single anti-dependency cycle (read skew, lost update): a cycle with
    /// exactly one `rw` edge.
    #[serde(rename = "G-single")]
    GSingle,
    /// Item anti-dependency cycle (write skew): every cycle has two or more
    /// `rw` edges, and some cycle has no predicate `rw` edge.
    #[serde(rename = "G2-item")]
    G2Item,
    /// Anti-dependency cycle through a predicate read (phantom write skew).
    #[serde(rename = "G2")]
    G2,
    /// The record contradicts itself, for example a read of a version its
    /// writer never wrote: a bug in whatever produced the record, not an
    /// isolation anomaly.
    #[serde(rename = "inconsistent")]
    Inconsistent,
}

impl AnomalyKind {
    /// The name used in reports: `G0`, `G1a`, `G1b`, `G1c`, `G-single`,
    /// `G2-item`, `G2` or `inconsistent`.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1b => "G1b",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::G2Item => "G2-item",
            AnomalyKind::G2 => "G2",
            AnomalyKind::Inconsistent => "inconsistent",
        }
    }

    /// Whether the class is shown by a dependency cycle (as opposed to a
    /// single bad read).
    pub fn is_cycle(self) -> bool {
        matches!(
            self,
            AnomalyKind::G0
                | AnomalyKind::G1c
                | AnomalyKind::GSingle
                | AnomalyKind::G2Item
                | AnomalyKind::G2
        )
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a history is not serializable (or not even well formed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// The weakest class present.
    pub kind: AnomalyKind,
    /// For a cycle class, the cycle in order: `cycle[i].to ==
    /// cycle[i + 1].from` and the last edge returns to `cycle[0].from`.
    /// For G1a, the one `wr` edge from the missing writer to the reader.
    /// Empty for [`AnomalyKind::Inconsistent`].
    pub cycle: Vec<Edge>,
    /// A readable account of what was found.
    pub message: String,
}

impl Anomaly {
    /// The transactions of the cycle, in cycle order, each once.
    pub fn transactions(&self) -> Vec<TxId> {
        self.cycle.iter().map(|edge| edge.from).collect()
    }
}

impl fmt::Display for Anomaly {
    /// `G2-item: T3 -rw(acct/a)-> T4 -rw(acct/b)-> T3` for a cycle, or the
    /// class and the message for a bad read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind.name())?;
        if self.kind.is_cycle() && !self.cycle.is_empty() {
            f.write_str(&describe_cycle(&self.cycle))
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for Anomaly {}

/// The size of a history found serializable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckStats {
    /// Transactions in the history, the initial load included when present.
    pub transactions: usize,
    /// Edges of the serialization graph: one per dependency and key,
    /// self-edges left out.
    pub edges: usize,
}

/// A cycle as text: `T3 -rw(acct/a)-> T4 -rw(acct/b)-> T3`.
pub fn describe_cycle(cycle: &[Edge]) -> String {
    let mut text = String::new();
    if let Some(first) = cycle.first() {
        text.push_str(&format!("T{}", first.from));
    }
    for edge in cycle {
        text.push_str(&format!(" -{}({})-> T{}", edge.kind, edge.key, edge.to));
    }
    text
}

/// Checks that a history of committed transactions is serializable.
///
/// The slice may come in any order; transactions are ordered by
/// `commit_seq`. Returns the size of the graph when it is acyclic, or the
/// weakest anomaly with a short cycle. Runs in time linear in the size of
/// the record (plus the keys each predicate read covers) when the history
/// is serializable; classifying a cycle costs more but stays bounded.
/// The same history always gives the same answer.
pub fn check(history: &[CommittedTx]) -> Result<CheckStats, Anomaly> {
    let graph = graph::Graph::build(history)?;
    match cycles::weakest_anomaly(&graph) {
        Some(anomaly) => Err(anomaly),
        None => Ok(CheckStats {
            transactions: history.len(),
            edges: graph.edge_count(),
        }),
    }
}

/// [`check`] with the edges from `excused` pairs `(from, to)` left out:
/// the incremental checker's way past an anomaly it already reported.
fn check_excusing(
    history: &[CommittedTx],
    excused: &BTreeSet<(TxId, TxId)>,
) -> Result<CheckStats, Anomaly> {
    let graph = graph::Graph::build(history)?.without(excused);
    match cycles::weakest_anomaly(&graph) {
        Some(anomaly) => Err(anomaly),
        None => Ok(CheckStats {
            transactions: history.len(),
            edges: graph.edge_count(),
        }),
    }
}
