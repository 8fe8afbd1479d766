//! The snapshot rule the incremental checker's pruning relies on, checked
//! on every transaction as it arrives, whatever the window kept.
//!
//! # Why check it
//!
//! [`CommittedTx::first_snapshot`] promises that every read a transaction
//! made saw at least the commits up to its first snapshot. Pruning and
//! collapsing forget committed writers on that promise: a transaction
//! still to commit cannot read past a writer that committed by the
//! horizon. A record that breaks it (a store bug) leaves the window unable
//! to tell what such a read means, so before this check the verdict
//! depended on how much the window had forgotten: a read of a forgotten
//! key as never written was called inconsistent, the same read of a key
//! still in the window passed, and a stale read of a collapsed writer's
//! version could close a cycle through transactions already forgotten,
//! which no search would find. Checking the rule on arrival gives one
//! verdict for the record, whatever was forgotten, and the forgetting
//! then only ever meets records that keep the promise.
//!
//! # What it keeps
//!
//! For each key written, its writers in commit order. A transaction still
//! to commit has a first snapshot of at least the horizon, so of the
//! writers committed by the horizon only the last can be the first one
//! after a version it may read: the older ones are dropped as the key is
//! written again, and a read of a version no longer listed is a read of
//! one older than the first listed, which committed by the horizon.

use super::{Anomaly, AnomalyKind};
use crate::store::{CommittedTx, Key, ReadRecord, TxId};
use std::collections::{BTreeMap, VecDeque};

/// The id of the initial load.
const INITIAL: TxId = 0;

/// The writers of one key still needed to judge a read of it.
#[derive(Debug, Default)]
struct Writers {
    /// `(commit_seq, writer)` in commit order: every writer committed
    /// after the horizon, and the last one committed by it.
    listed: VecDeque<(u64, TxId)>,
    /// Older writers were dropped.
    trimmed: bool,
}

/// The writers of every key, as much of them as the rule needs.
#[derive(Debug, Default)]
pub(super) struct SnapshotRule {
    keys: BTreeMap<Key, Writers>,
    /// Every transaction still to commit has a first snapshot of at least
    /// this.
    horizon: u64,
}

impl SnapshotRule {
    /// Checks the reads of `tx` (the next commit) against the writers
    /// committed before it, then records its writes.
    pub(super) fn admit(&mut self, tx: &CommittedTx) -> Result<(), Anomaly> {
        let verdict = self.check_reads(tx);
        for write in &tx.writes {
            let writers = self.keys.entry(write.key.clone()).or_default();
            writers.listed.push_back((tx.commit_seq, tx.id));
            while writers
                .listed
                .get(1)
                .is_some_and(|&(commit, _)| commit <= self.horizon)
            {
                writers.listed.pop_front();
                writers.trimmed = true;
            }
        }
        verdict
    }

    /// Every transaction still to commit has a first snapshot of at least
    /// `horizon`.
    pub(super) fn advance(&mut self, horizon: u64) {
        self.horizon = self.horizon.max(horizon);
    }

    fn check_reads(&self, tx: &CommittedTx) -> Result<(), Anomaly> {
        for read in &tx.reads {
            match read {
                ReadRecord::Item { key, version } => self.check_read(tx, key, *version)?,
                ReadRecord::Predicate { range, observed } => {
                    for (key, writer) in observed {
                        self.check_read(tx, key, Some(*writer))?;
                    }
                    if range.start >= range.end {
                        continue;
                    }
                    // Keys of the range the scan did not list it saw as
                    // never written.
                    let mut seen: Vec<&Key> = observed.iter().map(|(key, _)| key).collect();
                    seen.sort_unstable();
                    for key in self
                        .keys
                        .range(range.start.clone()..range.end.clone())
                        .map(|(key, _)| key)
                    {
                        if seen.binary_search(&key).is_err() {
                            self.check_read(tx, key, None)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A read of `key` by `tx` that saw `version` (`None`: never written)
    /// breaks the rule when a later version committed by `tx`'s first
    /// snapshot.
    fn check_read(
        &self,
        tx: &CommittedTx,
        key: &Key,
        version: Option<TxId>,
    ) -> Result<(), Anomaly> {
        if version == Some(tx.id) {
            return Ok(());
        }
        let Some(writers) = self.keys.get(key) else {
            return Ok(());
        };
        let position = version.and_then(|seen| {
            writers
                .listed
                .iter()
                .rposition(|&(_, writer)| writer == seen)
        });
        let next = match (position, version) {
            (Some(at), _) => writers.listed.get(at + 1),
            // Never written, the initial load's version when the load is
            // not in the history, or a version dropped as older than the
            // first listed: the first listed writer came after it.
            (None, None | Some(INITIAL)) => writers.listed.front(),
            (None, Some(_)) if writers.trimmed => writers.listed.front(),
            // A writer of the key never seen committing (an aborted or a
            // later one): the graph judges that read.
            (None, Some(_)) => None,
        };
        match next {
            Some(&(commit, writer)) if commit <= tx.first_snapshot => {
                Err(stale_read(tx, key, version, writer))
            }
            _ => Ok(()),
        }
    }
}

fn stale_read(tx: &CommittedTx, key: &Key, version: Option<TxId>, writer: TxId) -> Anomaly {
    let (reader, first_snapshot) = (tx.id, tx.first_snapshot);
    let message = match version {
        None => format!(
            "T{reader} read {key} as never written, although T{writer} wrote it and committed \
             before T{reader}'s first snapshot ({first_snapshot})"
        ),
        Some(seen) => format!(
            "T{reader} read {key} as T{seen} wrote it, not as T{writer} or a later writer did, \
             although T{writer} wrote it and committed before T{reader}'s first snapshot \
             ({first_snapshot})"
        ),
    };
    Anomaly {
        kind: AnomalyKind::Inconsistent,
        cycle: Vec::new(),
        message,
    }
}
