//! The graph checker against the brute-force oracle on random small
//! histories, made by a tiny multi-version store model in a few modes:
//!
//! - `Serial`: each transaction sees everything committed before it;
//!   always serializable.
//! - `SnapshotFirstCommitterWins`: snapshot isolation as PostgreSQL's
//!   Repeatable Read, one snapshot per transaction, a transaction that
//!   wrote a key a concurrent committed transaction wrote is dropped. SI
//!   rules out every cycle with fewer than two anti-dependencies, so only
//!   G2-item and G2 may appear.
//! - `Snapshot`: the same without first-committer-wins (lost updates).
//! - `ReadCommitted`: a snapshot per statement, never going back.
//! - `Wild`: each statement reads at any point of the commit order, even
//!   past its own commit (dirty reads that later committed), and some
//!   reads see a writer that aborted.
//!
//! In every mode the version order is the commit order and the answer of
//! [`check`] must match [`serializable_by_brute_force`].

use super::*;
use crate::store::{Isolation, KeyRange, ReadRecord, WriteRecord};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const KEY_COUNT: usize = 4;
/// The writer of versions some reads see in `Wild` mode: not in the
/// history, as if it aborted.
const ABORTED_WRITER: TxId = 999;

fn key(index: usize) -> Key {
    Key::raw(&format!("k/{index}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Serial,
    SnapshotFirstCommitterWins,
    Snapshot,
    ReadCommitted,
    Wild,
}

#[derive(Clone, Debug)]
enum Op {
    Read(usize),
    /// Keys `[start, end)`, or all keys when `start >= end`.
    Scan(usize, usize),
    Write(usize),
    Delete(usize),
    /// In `Wild` mode a read of an aborted version; a plain read otherwise.
    ReadAborted(usize),
}

#[derive(Clone, Debug)]
struct TxPlan {
    /// Each op with the raw choice of the snapshot it reads at (used by
    /// the modes with a snapshot per statement).
    ops: Vec<(Op, u8)>,
    /// Raw choice of the transaction's snapshot.
    snapshot: u8,
}

#[derive(Clone, Debug)]
struct Plan {
    mode: Mode,
    /// Which keys the initial load wrote.
    initial: Vec<bool>,
    /// Whether the initial load is in the history or only implied by
    /// reads of version 0.
    initial_in_history: bool,
    txs: Vec<TxPlan>,
    /// The history slice is rotated by this much: order must not matter.
    rotation: usize,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEY_COUNT).prop_map(Op::Read),
        2 => (0..KEY_COUNT, 0..=KEY_COUNT).prop_map(|(start, end)| Op::Scan(start, end)),
        4 => (0..KEY_COUNT).prop_map(Op::Write),
        1 => (0..KEY_COUNT).prop_map(Op::Delete),
        1 => (0..KEY_COUNT).prop_map(Op::ReadAborted),
    ]
}

fn plan(mode: Mode, txs_max: usize) -> impl Strategy<Value = Plan> {
    let tx_plan = (
        prop::collection::vec((op(), any::<u8>()), 1..6),
        any::<u8>(),
    )
        .prop_map(|(ops, snapshot)| TxPlan { ops, snapshot })
        .boxed();
    // Mostly longer histories: they are where anomalies live.
    let txs = prop_oneof![
        1 => prop::collection::vec(tx_plan.clone(), 0..3),
        4 => prop::collection::vec(tx_plan, 3..=txs_max),
    ];
    (
        prop::collection::vec(any::<bool>(), KEY_COUNT),
        any::<bool>(),
        txs,
        any::<usize>(),
    )
        .prop_map(move |(initial, initial_in_history, txs, rotation)| Plan {
            mode,
            initial,
            initial_in_history,
            txs,
            rotation,
        })
}

/// Transaction ids that differ from commit positions, so that nothing can
/// confuse the two: position `p` (1..=10) gets a distinct id in 1..=11,
/// later positions (the long histories) `1000 + p`.
fn id_at(position: usize) -> TxId {
    assert!(position >= 1);
    if position > 10 {
        return (1000 + position) as TxId;
    }
    ((position * 5) % 11 + 1) as TxId
}

fn scan_range(start: usize, end: usize) -> KeyRange {
    if start < end {
        KeyRange::between(key(start), key(end))
    } else {
        KeyRange::prefix("k/")
    }
}

/// Runs the plan through the model and records the committed history.
fn build(plan: &Plan) -> Vec<CommittedTx> {
    let count = plan.txs.len();
    let write_sets: Vec<BTreeMap<usize, bool>> = plan
        .txs
        .iter()
        .map(|tx| {
            let mut writes = BTreeMap::new();
            for (op, _) in &tx.ops {
                match op {
                    Op::Write(k) => writes.insert(*k, false),
                    Op::Delete(k) => writes.insert(*k, true),
                    _ => None,
                };
            }
            writes
        })
        .collect();
    // Position p (1-based) commits p-th and sees commits up to `base[p-1]`.
    let base: Vec<usize> = (1..=count)
        .map(|position| {
            let choice = plan.txs[position - 1].snapshot as usize;
            match plan.mode {
                Mode::Serial => position - 1,
                Mode::Wild => choice % (count + 1),
                _ => position - 1 - choice % position,
            }
        })
        .collect();
    let mut kept = vec![true; count + 1];
    if plan.mode == Mode::SnapshotFirstCommitterWins {
        for position in 1..=count {
            let concurrent = base[position - 1] + 1..position;
            kept[position] = !concurrent.into_iter().any(|other| {
                kept[other]
                    && write_sets[other - 1]
                        .keys()
                        .any(|k| write_sets[position - 1].contains_key(k))
            });
        }
    }
    // Versions of each key as (commit position, writer id), in order.
    let versions: Vec<Vec<(usize, TxId)>> = (0..KEY_COUNT)
        .map(|k| {
            let initial = plan.initial[k].then_some((0, 0));
            let written = (1..=count)
                .filter(|&position| kept[position] && write_sets[position - 1].contains_key(&k))
                .map(|position| (position, id_at(position)));
            initial.into_iter().chain(written).collect()
        })
        .collect();

    let mut history = Vec::new();
    if plan.initial_in_history {
        history.push(CommittedTx {
            id: 0,
            isolation: Isolation::Serializable,
            commit_seq: 0,
            first_snapshot: 0,
            reads: Vec::new(),
            writes: (0..KEY_COUNT)
                .filter(|&k| plan.initial[k])
                .map(|k| WriteRecord {
                    key: key(k),
                    deleted: false,
                })
                .collect(),
        });
    }
    for position in (1..=count).filter(|&position| kept[position]) {
        let id = id_at(position);
        let mut own: BTreeSet<usize> = BTreeSet::new();
        let mut snapshot = base[position - 1];
        let mut reads = Vec::new();
        for (op, choice) in &plan.txs[position - 1].ops {
            let choice = *choice as usize;
            snapshot = match plan.mode {
                Mode::ReadCommitted => {
                    let span = position - base[position - 1];
                    snapshot.max(base[position - 1] + choice % span)
                }
                Mode::Wild => choice % (count + 1),
                _ => snapshot,
            };
            let visible = |k: usize| -> Option<TxId> {
                if own.contains(&k) {
                    return Some(id);
                }
                versions[k]
                    .iter()
                    .rev()
                    .find(|(at, _)| *at <= snapshot && *at != position)
                    .map(|(_, writer)| *writer)
            };
            match op {
                Op::Read(k) => reads.push(ReadRecord::Item {
                    key: key(*k),
                    version: visible(*k),
                }),
                Op::ReadAborted(k) => reads.push(ReadRecord::Item {
                    key: key(*k),
                    // Rare, so that aborted reads do not hide everything else.
                    version: if plan.mode == Mode::Wild && choice.is_multiple_of(4) {
                        Some(ABORTED_WRITER)
                    } else {
                        visible(*k)
                    },
                }),
                Op::Scan(start, end) => {
                    let range = scan_range(*start, *end);
                    let observed = (0..KEY_COUNT)
                        .filter(|&k| range.contains(&key(k)))
                        .filter_map(|k| visible(k).map(|writer| (key(k), writer)))
                        .collect();
                    reads.push(ReadRecord::Predicate { range, observed });
                }
                Op::Write(k) | Op::Delete(k) => {
                    own.insert(*k);
                }
            }
        }
        history.push(CommittedTx {
            id,
            isolation: Isolation::RepeatableRead,
            commit_seq: position as u64,
            first_snapshot: base[position - 1] as u64,
            reads,
            writes: write_sets[position - 1]
                .iter()
                .map(|(&k, &deleted)| WriteRecord {
                    key: key(k),
                    deleted,
                })
                .collect(),
        });
    }
    if !history.is_empty() {
        let rotation = plan.rotation % history.len();
        history.rotate_left(rotation);
    }
    history
}

/// The checker and the oracle agree; the answer does not depend on the
/// slice order; a reported cycle is a cycle of its class.
fn check_against_oracle(
    history: &[CommittedTx],
) -> Result<Result<CheckStats, Anomaly>, TestCaseError> {
    let result = check(history);
    let oracle = serializable_by_brute_force(history);
    prop_assert_eq!(result.is_ok(), oracle, "{:#?}\n{:?}", history, result);
    let mut reversed = history.to_vec();
    reversed.reverse();
    prop_assert_eq!(&check(&reversed), &result);
    if let Err(anomaly) = &result {
        if anomaly.kind.is_cycle() {
            assert_cycle_of_its_class(anomaly)?;
        }
    }
    Ok(result)
}

fn assert_cycle_of_its_class(anomaly: &Anomaly) -> Result<(), TestCaseError> {
    let cycle = &anomaly.cycle;
    prop_assert!(cycle.len() >= 2, "{}", anomaly);
    for (at, edge) in cycle.iter().enumerate() {
        prop_assert_eq!(edge.to, cycle[(at + 1) % cycle.len()].from, "{}", anomaly);
    }
    let transactions: BTreeSet<TxId> = cycle.iter().map(|edge| edge.from).collect();
    prop_assert_eq!(transactions.len(), cycle.len(), "{}", anomaly);
    let count = |wanted: fn(EdgeKind) -> bool| cycle.iter().filter(|e| wanted(e.kind)).count();
    let rw = count(|kind| kind.is_anti_dependency());
    let predicate_rw = count(|kind| kind == EdgeKind::Rw { predicate: true });
    let wr = count(|kind| kind == EdgeKind::Wr);
    let fits = match anomaly.kind {
        AnomalyKind::G0 => rw == 0 && wr == 0,
        AnomalyKind::G1c => rw == 0 && wr >= 1,
        AnomalyKind::GSingle => rw == 1,
        AnomalyKind::G2Item => rw >= 2 && predicate_rw == 0,
        AnomalyKind::G2 => rw >= 2 && predicate_rw >= 1,
        _ => false,
    };
    prop_assert!(fits, "{}", anomaly);
    Ok(())
}

fn uses_scans(history: &[CommittedTx]) -> bool {
    history
        .iter()
        .flat_map(|tx| &tx.reads)
        .any(|read| matches!(read, ReadRecord::Predicate { .. }))
}

fn kind_of(result: &Result<CheckStats, Anomaly>) -> Option<AnomalyKind> {
    result.as_ref().err().map(|anomaly| anomaly.kind)
}

/// `PROPTEST_CASES` when set (to hunt with many more cases than CI
/// runs), else `default`: an explicit count would otherwise shadow the
/// variable, which proptest reads only for its default config.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

/// At most this many transactions per history: 6! = 720 orders for the
/// oracle keeps thousands of cases within seconds.
const TXS_MAX: usize = 6;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000)))]

    #[test]
    fn serial_histories_are_serializable(plan in plan(Mode::Serial, TXS_MAX)) {
        let history = build(&plan);
        let result = check_against_oracle(&history)?;
        prop_assert!(result.is_ok(), "{:?}", result);
    }

    #[test]
    fn snapshot_isolation_shows_only_g2(plan in plan(Mode::SnapshotFirstCommitterWins, TXS_MAX)) {
        let history = build(&plan);
        let result = check_against_oracle(&history)?;
        let kind = kind_of(&result);
        prop_assert!(
            matches!(kind, None | Some(AnomalyKind::G2Item) | Some(AnomalyKind::G2)),
            "{:?}", result
        );
        prop_assert!(uses_scans(&history) || kind != Some(AnomalyKind::G2), "{:?}", result);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2500)))]

    #[test]
    fn snapshots_without_first_committer_wins_agree(plan in plan(Mode::Snapshot, TXS_MAX)) {
        let history = build(&plan);
        let result = check_against_oracle(&history)?;
        prop_assert!(
            !matches!(kind_of(&result), Some(AnomalyKind::G0 | AnomalyKind::G1a | AnomalyKind::G1c)),
            "{:?}", result
        );
    }

    #[test]
    fn read_committed_histories_agree(plan in plan(Mode::ReadCommitted, TXS_MAX)) {
        let history = build(&plan);
        let result = check_against_oracle(&history)?;
        prop_assert!(
            !matches!(kind_of(&result), Some(AnomalyKind::G0 | AnomalyKind::G1a | AnomalyKind::G1c)),
            "{:?}", result
        );
    }

    #[test]
    fn wild_histories_agree(plan in plan(Mode::Wild, TXS_MAX)) {
        let history = build(&plan);
        let result = check_against_oracle(&history)?;
        // Committed writers and commit-ordered versions: never G0, and
        // never a record the checker calls inconsistent.
        prop_assert!(
            !matches!(kind_of(&result), Some(AnomalyKind::G0 | AnomalyKind::Inconsistent)),
            "{:?}", result
        );
    }
}

/// Feeds the history commit by commit to the incremental checker, pruning
/// after each commit as far as the later transactions' first snapshots
/// allow, and holds it against [`check`] of every prefix: the same verdict
/// and the same weakest class at the same commit, until the first
/// anomaly (where the world stops). Returns how many transactions were
/// pruned.
fn incremental_agrees(history: &[CommittedTx]) -> Result<u64, TestCaseError> {
    let mut ordered = history.to_vec();
    ordered.sort_by_key(|tx| tx.commit_seq);
    let mut incremental = IncrementalCheck::collapsing_eagerly();
    for at in 0..ordered.len() {
        incremental.push(ordered[at].clone());
        let full = check(&ordered[..=at]);
        let found = incremental.next_anomaly();
        prop_assert_eq!(
            found.as_ref().map(|found| found.anomaly.kind),
            kind_of(&full),
            "after T{}: {:?} against {:?}\n{:#?}",
            ordered[at].id,
            found,
            full,
            ordered
        );
        if found.is_some() {
            return Ok(incremental.stats().pruned);
        }
        // Every transaction still to commit saw at least this much.
        let horizon = ordered[at + 1..]
            .iter()
            .map(|tx| tx.first_snapshot)
            .min()
            .unwrap_or(ordered[at].commit_seq)
            .min(ordered[at].commit_seq);
        incremental.prune(horizon);
    }
    let others = history.iter().filter(|tx| tx.id != 0).count();
    if others <= BRUTE_FORCE_TRANSACTIONS_MAX {
        prop_assert!(serializable_by_brute_force(history));
    }
    Ok(incremental.stats().pruned)
}

/// Long histories: mostly short transactions (a snapshot at most two
/// commits old) and, one time in eight, a long one whose snapshot is as
/// old as the history allows, so that the window cannot be pruned past it
/// and its backward anti-dependencies reach far.
fn long_plan(mode: Mode) -> impl Strategy<Value = Plan> {
    let tx_plan = (
        prop::collection::vec((op(), any::<u8>()), 1..5),
        any::<u8>(),
        prop::bool::weighted(0.125),
    )
        .prop_map(|(ops, snapshot, long)| TxPlan {
            ops,
            snapshot: if long { u8::MAX } else { snapshot % 3 },
        });
    (
        prop::collection::vec(any::<bool>(), KEY_COUNT),
        any::<bool>(),
        prop::collection::vec(tx_plan, 8..=LONG_TXS_MAX),
    )
        .prop_map(move |(initial, initial_in_history, txs)| Plan {
            mode,
            initial,
            initial_in_history,
            txs,
            rotation: 0,
        })
}

/// Transactions in a long history at most.
const LONG_TXS_MAX: usize = 40;

/// The levels of a history's transactions, varied by id so that some
/// anomalies are allowed (and excused) and some are not.
fn mix_levels(history: &mut [CommittedTx]) {
    for tx in history.iter_mut().filter(|tx| tx.id != 0) {
        tx.isolation = Isolation::ALL[(tx.id % 3) as usize];
    }
}

/// Feeds the history to the incremental checker and to one that searches
/// its whole window every time (the checker before the live graph), asking
/// each for every anomaly after every commit (moving past the allowed ones
/// as the world does) and pruning both at the same horizon: the same
/// anomalies, with the same cycles, in the same order, the live one's
/// window no larger.
fn live_agrees_with_whole_window(history: &[CommittedTx]) -> Result<(), TestCaseError> {
    let mut ordered = history.to_vec();
    ordered.sort_by_key(|tx| tx.commit_seq);
    let mut live = IncrementalCheck::collapsing_eagerly();
    let mut whole = IncrementalCheck::searching_whole_window();
    for at in 0..ordered.len() {
        live.push(ordered[at].clone());
        whole.push(ordered[at].clone());
        for _ in 0..8 {
            let found = live.next_anomaly();
            prop_assert_eq!(
                &found,
                &whole.next_anomaly(),
                "after T{}\n{:#?}",
                ordered[at].id,
                ordered
            );
            match found {
                None => break,
                Some(found) if found.allowed_by.is_none() => return Ok(()),
                Some(_) => {}
            }
        }
        let horizon = ordered[at + 1..]
            .iter()
            .map(|tx| tx.first_snapshot)
            .min()
            .unwrap_or(ordered[at].commit_seq)
            .min(ordered[at].commit_seq);
        // The live graph also collapses what no open writer reaches,
        // which the whole-window search cannot tell: it keeps at most as
        // much.
        live.prune(horizon);
        whole.prune(horizon);
        prop_assert!(live.window_len() <= whole.window_len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1500)))]

    #[test]
    fn incremental_agrees_on_serial_histories(plan in plan(Mode::Serial, TXS_MAX)) {
        let pruned = incremental_agrees(&build(&plan))?;
        // Serial histories leave nothing open: all but the last go.
        prop_assert!(plan.txs.len() < 2 || pruned > 0);
    }

    #[test]
    fn incremental_agrees_on_snapshot_isolation(plan in plan(Mode::SnapshotFirstCommitterWins, TXS_MAX)) {
        incremental_agrees(&build(&plan))?;
    }

    #[test]
    fn incremental_agrees_on_lost_updates(plan in plan(Mode::Snapshot, TXS_MAX)) {
        incremental_agrees(&build(&plan))?;
    }

    #[test]
    fn incremental_agrees_on_read_committed(plan in plan(Mode::ReadCommitted, TXS_MAX)) {
        incremental_agrees(&build(&plan))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(400)))]

    #[test]
    fn incremental_agrees_on_long_snapshot_histories(plan in long_plan(Mode::SnapshotFirstCommitterWins)) {
        incremental_agrees(&build(&plan))?;
    }

    #[test]
    fn incremental_agrees_on_long_read_committed_histories(plan in long_plan(Mode::ReadCommitted)) {
        incremental_agrees(&build(&plan))?;
    }

    #[test]
    fn incremental_agrees_on_long_lost_update_histories(plan in long_plan(Mode::Snapshot)) {
        incremental_agrees(&build(&plan))?;
    }

    #[test]
    fn live_graph_agrees_with_the_whole_window_past_allowed_anomalies(
        plan in prop_oneof![
            long_plan(Mode::Snapshot),
            long_plan(Mode::ReadCommitted),
            long_plan(Mode::SnapshotFirstCommitterWins),
            long_plan(Mode::Wild),
            plan(Mode::Wild, TXS_MAX),
        ]
    ) {
        let mut history = build(&plan);
        mix_levels(&mut history);
        live_agrees_with_whole_window(&history)?;
    }
}
