//! The brute-force oracle: is there a serial order of the transactions in
//! which every read sees exactly the latest write before it?
//!
//! Written from that definition alone, sharing no code with the graph
//! checker, so that the two can test each other.

use crate::store::{CommittedTx, Key, ReadRecord, TxId};
use std::collections::BTreeSet;

/// The most transactions besides the initial load that
/// [`serializable_by_brute_force`] accepts: 8! = 40,320 orders.
pub const BRUTE_FORCE_TRANSACTIONS_MAX: usize = 8;

const INITIAL: TxId = 0;

/// Whether some serial order explains the history, found by trying every
/// order of the transactions other than the initial load (which comes
/// first). An order explains the history when each key's writers appear in
/// commit order, and every read (each key of a predicate read, observed
/// or not) sees exactly the latest write of the key before the reader in
/// the order: the initial state when there is none (version 0; when the
/// history holds no transaction 0, the keys read at version 0 are the
/// initial state), or unborn. A read of the reader's own write is
/// explained when the reader wrote the key.
///
/// Malformed records (see [`super::AnomalyKind::Inconsistent`]) are
/// explained by no order. Meant as a test oracle for [`super::check`].
///
/// # Panics
///
/// With more than [`BRUTE_FORCE_TRANSACTIONS_MAX`] transactions besides
/// the initial load.
pub fn serializable_by_brute_force(history: &[CommittedTx]) -> bool {
    let initial = history.iter().find(|tx| tx.id == INITIAL);
    let others: Vec<&CommittedTx> = history.iter().filter(|tx| tx.id != INITIAL).collect();
    assert!(
        others.len() <= BRUTE_FORCE_TRANSACTIONS_MAX,
        "brute force handles at most {BRUTE_FORCE_TRANSACTIONS_MAX} transactions besides \
         the initial load, got {}",
        others.len()
    );
    if !well_formed(history) {
        return false;
    }
    let world = World::new(history, initial);
    // Heap's algorithm, iterative: each permutation once.
    let mut order = others;
    let mut counters = vec![0usize; order.len()];
    if world.explains(&order) {
        return true;
    }
    let mut level = 1;
    while level < order.len() {
        if counters[level] < level {
            let other = if level % 2 == 0 { 0 } else { counters[level] };
            order.swap(other, level);
            if world.explains(&order) {
                return true;
            }
            counters[level] += 1;
            level = 1;
        } else {
            counters[level] = 0;
            level += 1;
        }
    }
    false
}

/// The record rules that make "the version order" and "the initial load"
/// meaningful: unique ids, the initial load first and reading nothing, one
/// write per key per transaction, distinct commit positions per key, and
/// predicate observations inside their ranges in increasing key order.
fn well_formed(history: &[CommittedTx]) -> bool {
    let ids: BTreeSet<TxId> = history.iter().map(|tx| tx.id).collect();
    if ids.len() != history.len() {
        return false;
    }
    for tx in history {
        let initial_ok = if tx.id == INITIAL {
            tx.commit_seq == 0 && tx.reads.is_empty()
        } else {
            tx.commit_seq != 0
        };
        let keys: BTreeSet<&Key> = tx.writes.iter().map(|write| &write.key).collect();
        if !initial_ok || keys.len() != tx.writes.len() {
            return false;
        }
        for read in &tx.reads {
            if let ReadRecord::Predicate { range, observed } = read {
                let inside = observed.iter().all(|(key, _)| range.contains(key));
                let increasing = observed.windows(2).all(|pair| pair[0].0 < pair[1].0);
                if !inside || !increasing {
                    return false;
                }
            }
        }
    }
    for (at, a) in history.iter().enumerate() {
        for b in &history[at + 1..] {
            if a.commit_seq == b.commit_seq && writes_common_key(a, b) {
                return false;
            }
        }
    }
    true
}

fn writes(tx: &CommittedTx, key: &Key) -> bool {
    tx.writes.iter().any(|write| write.key == *key)
}

fn writes_common_key(a: &CommittedTx, b: &CommittedTx) -> bool {
    a.writes.iter().any(|write| writes(b, &write.key))
}

/// What is fixed whatever the order.
struct World {
    /// Keys of the initial state.
    initial_keys: BTreeSet<Key>,
    /// Every key that has a version: the initial keys and all writes.
    known_keys: BTreeSet<Key>,
}

impl World {
    fn new(history: &[CommittedTx], initial: Option<&CommittedTx>) -> World {
        let initial_keys: BTreeSet<Key> = match initial {
            Some(tx) => tx.writes.iter().map(|write| write.key.clone()).collect(),
            None => history
                .iter()
                .flat_map(|tx| &tx.reads)
                .flat_map(|read| match read {
                    ReadRecord::Item { key, version } => {
                        if *version == Some(INITIAL) {
                            vec![key.clone()]
                        } else {
                            Vec::new()
                        }
                    }
                    ReadRecord::Predicate { observed, .. } => observed
                        .iter()
                        .filter(|(_, writer)| *writer == INITIAL)
                        .map(|(key, _)| key.clone())
                        .collect(),
                })
                .collect(),
        };
        let mut known_keys = initial_keys.clone();
        for tx in history {
            known_keys.extend(tx.writes.iter().map(|write| write.key.clone()));
        }
        World {
            initial_keys,
            known_keys,
        }
    }

    /// Whether the serial order `order` (after the initial load) explains
    /// every write and read.
    fn explains(&self, order: &[&CommittedTx]) -> bool {
        let writers_in_commit_order = order.iter().enumerate().all(|(at, earlier)| {
            order[at + 1..].iter().all(|later| {
                !writes_common_key(earlier, later) || earlier.commit_seq < later.commit_seq
            })
        });
        writers_in_commit_order
            && order
                .iter()
                .enumerate()
                .all(|(position, tx)| self.reads_explained(order, position, tx))
    }

    fn reads_explained(&self, order: &[&CommittedTx], position: usize, tx: &CommittedTx) -> bool {
        tx.reads.iter().all(|read| match read {
            ReadRecord::Item { key, version } => self.sees(order, position, tx, key, *version),
            ReadRecord::Predicate { range, observed } => {
                let listed_ok = observed
                    .iter()
                    .all(|(key, writer)| self.sees(order, position, tx, key, Some(*writer)));
                let unlisted_ok = self
                    .known_keys
                    .iter()
                    .filter(|key| range.contains(key))
                    .filter(|key| !observed.iter().any(|(seen, _)| seen == *key))
                    .all(|key| self.sees(order, position, tx, key, None));
                listed_ok && unlisted_ok
            }
        })
    }

    /// Whether `tx`, at `position` in the order, reading `key` and seeing
    /// `version`, is explained: its own write, or the latest write before
    /// it.
    fn sees(
        &self,
        order: &[&CommittedTx],
        position: usize,
        tx: &CommittedTx,
        key: &Key,
        version: Option<TxId>,
    ) -> bool {
        if version == Some(tx.id) {
            return writes(tx, key);
        }
        let latest = order[..position]
            .iter()
            .rev()
            .find(|earlier| writes(earlier, key))
            .map(|earlier| earlier.id)
            .or_else(|| self.initial_keys.contains(key).then_some(INITIAL));
        latest == version
    }
}
