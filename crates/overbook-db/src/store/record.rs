//! The record of committed transactions, read by the history checker.
//!
//! Versions are named by the transaction that wrote them: a transaction
//! writes each key at most once in its committed effect, so `(key, writer)`
//! names a version. The version order of a key is the commit order of its
//! writers (`commit_seq`). Transaction 0 is the initial load.

use super::types::{Isolation, Key, KeyRange, TxId};
use serde::Serialize;

/// What one read observed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ReadRecord {
    /// A read of one key. `version` is the writer of the version seen
    /// (a deleted row's tombstone counts as a version), or `None` when the
    /// key had never been written.
    Item {
        /// The key read.
        key: Key,
        /// The writer of the version seen.
        version: Option<TxId>,
    },
    /// A predicate read over a key range. `observed` lists every key in the
    /// range that had a version visible to the read (tombstones included),
    /// with its writer; keys of the range not listed had never been written
    /// as far as this read could see.
    Predicate {
        /// The range scanned.
        range: KeyRange,
        /// Keys seen with their versions' writers, in key order.
        observed: Vec<(Key, TxId)>,
    },
}

/// One key a transaction wrote; the version it made is named by the
/// transaction's id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct WriteRecord {
    /// The key written.
    pub key: Key,
    /// Whether the write deleted the row (a tombstone version).
    pub deleted: bool,
}

/// One committed transaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct CommittedTx {
    /// The transaction.
    pub id: TxId,
    /// Its isolation level.
    pub isolation: Isolation,
    /// Position in the global commit order, from 1 (0 is the initial load).
    pub commit_seq: u64,
    /// The snapshot of its first statement, as a commit position: every
    /// read it made saw at least the commits up to it (Read Committed
    /// retakes its snapshot per statement but never goes back). 0 for the
    /// initial load. The incremental checker relies on it to forget old
    /// transactions ([`crate::history::IncrementalCheck`]).
    pub first_snapshot: u64,
    /// Its reads in the order it made them.
    pub reads: Vec<ReadRecord>,
    /// Its writes, one per key, in key order.
    pub writes: Vec<WriteRecord>,
}
