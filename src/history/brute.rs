//! The brute-force oracle: is there a serial order of the transactions in
//! which every read sees exactly the latest write before it? Written from
//! that definition alone, without the graph, so that the two checkers can
//! test each other.

use super::{read_versions, VersionIndex};
use crate::store::{CommittedTx, Key, TxId};
use std::collections::BTreeMap;

/// The most transactions (besides the initial load) the oracle accepts:
/// 8! = 40,320 orders.
pub const BRUTE_FORCE_MAX_TRANSACTIONS: usize = 8;

/// Whether some serial order explains every read: each key's writers appear
/// in version order, and every read (each key of a predicate read) sees the
/// latest write of the key before the reader, or the unborn key when there
/// is none. Panics above [`BRUTE_FORCE_MAX_TRANSACTIONS`].
pub fn serializable_by_brute_force(history: &[CommittedTx]) -> bool {
    let (initial, mut rest): (Vec<&CommittedTx>, Vec<&CommittedTx>) =
        history.iter().partition(|tx| tx.id == 0);
    assert!(
        rest.len() <= BRUTE_FORCE_MAX_TRANSACTIONS,
        "brute force is for at most {BRUTE_FORCE_MAX_TRANSACTIONS} transactions, got {}",
        rest.len()
    );
    let index = VersionIndex::new(history);
    rest.sort_by_key(|tx| tx.id);
    let mut order: Vec<usize> = (0..rest.len()).collect();
    // Heap's algorithm, iterative: every permutation once.
    let mut counters = vec![0usize; order.len()];
    if explains(&initial, &rest, &order, &index) {
        return true;
    }
    let mut i = 0;
    while i < order.len() {
        if counters[i] < i {
            if i % 2 == 0 {
                order.swap(0, i);
            } else {
                order.swap(counters[i], i);
            }
            if explains(&initial, &rest, &order, &index) {
                return true;
            }
            counters[i] += 1;
            i = 0;
        } else {
            counters[i] = 0;
            i += 1;
        }
    }
    false
}

/// Whether the serial order `initial` then `rest[order[..]]` explains the
/// history.
fn explains(
    initial: &[&CommittedTx],
    rest: &[&CommittedTx],
    order: &[usize],
    index: &VersionIndex,
) -> bool {
    let serial: Vec<&CommittedTx> = initial
        .iter()
        .copied()
        .chain(order.iter().map(|&i| rest[i]))
        .collect();
    // Replay: the writer of each key's current version as the order runs.
    let mut current: BTreeMap<&Key, TxId> = BTreeMap::new();
    // Version order: each key's writers must appear as the commit order says.
    let mut installed: BTreeMap<&Key, usize> = BTreeMap::new();
    for tx in &serial {
        for read in &tx.reads {
            for (key, seen, _) in read_versions(read, index) {
                if seen == Some(tx.id) {
                    continue;
                }
                let before = current.get(&key).copied();
                // Version 0 with no transaction 0 in the history is the
                // initial state: it is what a key nobody wrote yet shows.
                let expected = match (seen, before) {
                    (Some(0), None) => initial.is_empty(),
                    _ => seen == before,
                };
                if !expected {
                    return false;
                }
            }
        }
        for write in &tx.writes {
            let writers = &index.writers[&write.key];
            let position = installed.entry(&write.key).or_insert(0);
            if writers.get(*position) != Some(&tx.id) {
                return false;
            }
            *position += 1;
            current.insert(&write.key, tx.id);
        }
    }
    true
}
