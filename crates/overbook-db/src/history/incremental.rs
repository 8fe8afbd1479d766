//! The checker run as commits arrive, over a window of the history that
//! forgets transactions no future cycle can reach.
//!
//! # Why forgetting is sound
//!
//! Every edge of the serialization graph points forward in commit order
//! (`ww`, `wr`, and an `rw` whose overwriter committed after the reader)
//! except a *backward* `rw`: reader `A` read a version that `B` overwrote,
//! and `B` committed before `A`. Then `B` committed after `A`'s first
//! snapshot `s_A` (a snapshot sees every commit up to it, and no statement
//! goes back). So take a cut `X` such that every transaction committed
//! after `X` (and every one still to commit) has `first_snapshot >= X`: no
//! edge leads from the part after `X` into the part at or before `X`, and
//! no cycle crosses the cut. The part before the cut was checked and holds
//! no (unexcused) cycle, so it never will: it is pruned. What stays of it is
//! the last writer of each key it wrote (the *base*), which the window
//! shows as the initial load T0, so later reads of those versions still
//! resolve and their anti-dependencies still point to the next writer.
//!
//! # Collapsing the middle of the window
//!
//! A cut needs a moment that no later snapshot reaches back past. A queue
//! of transactions on one lock never gives one (each took its snapshot
//! before the one ahead of it committed), nor does a long-lived
//! transaction, so the window would keep the whole run. It is also
//! collapsed: a committed transaction `C` can lie on a future cycle only
//! if an edge from a transaction not yet committed leads back into the
//! committed part and a path of committed edges leads from there to `C`.
//! An edge between two committed transactions was added when the later
//! of them committed, never after, and an edge from a transaction `F`
//! not yet committed into a committed `W` is a backward `rw`: `F` read a
//! version (at a snapshot at least `F`'s first, so at least the horizon
//! `h`, the oldest first snapshot of any transaction still to commit)
//! that `W` overwrote, so `W` wrote and committed after `h`. Call such a
//! writer *open*. A committed transaction that no open one reaches in the
//! window's graph can never join a cycle, and never becomes reachable
//! (the horizon only grows, the committed edges never change): it is
//! collapsed, whatever its place in commit order. The search for what
//! open writers reach counts excused pairs as edges too, so what goes is
//! closed under every edge of the full graph: a transaction kept that
//! read a collapsed version read the last one of its key (it has an `rw`
//! edge to the next writer, which would otherwise be collapsed), and the
//! collapsed writers of a key come before its kept ones (`ww` edges), so
//! the base stands for them exactly as for a cut. The search costs the
//! window, so it runs only once the window has doubled since the last
//! one: a constant per commit.
//!
//! The store's [`CommittedTx::first_snapshot`] and
//! [`crate::store::Store::oldest_live_first_snapshot`] give the cut. The
//! property tests hold the windowed verdict against [`check`] of the
//! whole prefix after every commit.
//!
//! Both arguments rest on the snapshot rule: every read of a transaction
//! saw at least the commits up to its first snapshot. A record that
//! breaks it (a read of a key as never written, or of an old version,
//! after a writer committed by the reader's first snapshot) would leave
//! the verdict to what the window happened to forget: the read meets a
//! forgotten writer's key as the base, or a collapsed writer the
//! graph no longer holds. So every transaction is checked against the
//! rule as it is pushed ([`super::snapshots`], which keeps per key the
//! writers a read still to come can be judged by), and a record that
//! breaks it is [`AnomalyKind::Inconsistent`] whatever was forgotten.
//!
//! # Checking a commit without searching the window
//!
//! The window's graph is also kept up to date commit by commit with a
//! topological order ([`super::live`]): a commit adds its edges, found by
//! key, and only a search through what it can close a cycle through
//! decides whether the window is still acyclic. The whole window is
//! searched ([`super::check`], which classifies the weakest anomaly and
//! gives its cycle) only when that search finds a cycle, and for good once
//! the record is one the live graph cannot mirror (an aborted read, a
//! record that contradicts itself). The property tests hold the two ways
//! against each other after every commit, past allowed anomalies.
//!
//! # Verdicts by level
//!
//! A cycle is *allowed* when the weakest isolation level among its
//! transactions permits its class, as PostgreSQL documents: Read Committed
//! permits G-single (lost update, read skew) and G2; Repeatable Read
//! (snapshot isolation) permits G2-item and G2 (write skew); Serializable
//! permits none. G0, G1a, G1c and an inconsistent record are never
//! allowed. After an allowed cycle is returned, its edges that touch a
//! transaction weaker than Serializable are excused (left out of later
//! searches), so the next search finds the next anomaly; a cycle made only
//! of Serializable transactions never loses an edge that way.

use super::live::{LiveGraph, Unsure};
use super::snapshots::SnapshotRule;
use super::{check_excusing, Anomaly, AnomalyKind, CheckStats};
use crate::store::{CommittedTx, Isolation, Key, ReadRecord, TxId};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The id the window gives to the base (every pruned version).
const BASE: TxId = 0;

/// The window a collapse waits for at least, on top of twice what the
/// last one kept.
const COLLAPSE_WINDOW_MIN: usize = 64;

/// Whether transactions at `level` (the weakest of a cycle) may show an
/// anomaly of `kind` under PostgreSQL.
pub fn allowed_at(kind: AnomalyKind, level: Isolation) -> bool {
    match level {
        Isolation::ReadCommitted => matches!(
            kind,
            AnomalyKind::GSingle | AnomalyKind::G2Item | AnomalyKind::G2
        ),
        Isolation::RepeatableRead => matches!(kind, AnomalyKind::G2Item | AnomalyKind::G2),
        Isolation::Serializable => false,
    }
}

/// One anomaly the incremental checker found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The anomaly, with its cycle.
    pub anomaly: Anomaly,
    /// The transactions of the cycle (or the bad read) with their levels,
    /// in cycle order.
    pub transactions: Vec<(TxId, Isolation)>,
    /// The weakest level among them when that level permits the anomaly;
    /// `None` when no level involved permits it (always a violation).
    pub allowed_by: Option<Isolation>,
}

/// How much the incremental checker kept and forgot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IncrementalStats {
    /// Committed transactions received.
    pub transactions: u64,
    /// Of those, forgotten because no future cycle can reach them.
    pub pruned: u64,
    /// Of the pruned, those collapsed out of the middle of the window
    /// (unreachable from every transaction that can still gain an edge
    /// into it) rather than cut off its front.
    pub collapsed: u64,
    /// The largest window checked at once.
    pub window_max: usize,
    /// Graph searches run.
    pub checks: u64,
    /// Of those, searches of the whole window (the first anomaly of a
    /// commit, or every search once the record left the live graph unsure).
    pub window_searches: u64,
}

/// The serializability checker fed commit by commit.
///
/// It keeps a window of the history and forgets a checked prefix once every
/// later transaction's [`CommittedTx::first_snapshot`] is at or past the
/// prefix's last commit: only a backward `rw` edge leads back in commit
/// order, and it needs a writer that committed after the reader's first
/// snapshot, so no future cycle can enter the prefix. What remains of it is
/// the last writer of each key, shown to later searches as the initial
/// load. An anomaly returned as allowed by its weakest level ([`allowed_at`])
/// has its edges that touch a transaction weaker than Serializable excused,
/// so the next search finds the next anomaly, and never loses an edge
/// between two Serializable transactions.
///
/// ```
/// use overbook_db::history::IncrementalCheck;
/// use overbook_db::store::{CommittedTx, Isolation, Key, ReadRecord, WriteRecord};
///
/// let (a, b) = (Key::raw("acct/a"), Key::raw("acct/b"));
/// let tx = |id: u64, writes: &Key| CommittedTx {
///     id,
///     isolation: Isolation::RepeatableRead,
///     commit_seq: id,
///     first_snapshot: 0,
///     reads: vec![
///         ReadRecord::Item { key: a.clone(), version: Some(0) },
///         ReadRecord::Item { key: b.clone(), version: Some(0) },
///     ],
///     writes: vec![WriteRecord { key: writes.clone(), deleted: false }],
/// };
/// let mut checker = IncrementalCheck::new();
/// checker.push(tx(1, &a));
/// assert!(checker.next_anomaly().is_none());
/// checker.push(tx(2, &b));
/// let found = checker.next_anomaly().unwrap();
/// // Write skew is what Repeatable Read allows: reported, not a violation.
/// assert_eq!(found.allowed_by, Some(Isolation::RepeatableRead));
/// assert!(checker.next_anomaly().is_none());
/// ```
#[derive(Debug)]
pub struct IncrementalCheck {
    /// Transactions not yet forgotten, in commit order, their reads of
    /// pruned versions renamed to the base.
    window: Vec<CommittedTx>,
    /// `window[..checked]` held no unexcused cycle at the last search.
    checked: usize,
    /// The last pruned writer of each key.
    base: BTreeMap<Key, TxId>,
    /// Directed pairs whose edges later searches leave out.
    excused: BTreeSet<(TxId, TxId)>,
    /// A record that breaks the snapshot rule the pruning relies on.
    broken: Option<Anomaly>,
    /// Checks that rule on every transaction pushed, so that a record
    /// breaking it is caught whatever the window forgot.
    snapshot_rule: SnapshotRule,
    /// The window's graph kept up to date commit by commit; `None` once
    /// the record made it unsure, when every search covers the window.
    live: Option<LiveGraph>,
    /// `window[..linked]` are in `live`.
    linked: usize,
    /// The smallest first snapshot of `window[at..]`, as a stack of
    /// `(absolute position, first_snapshot)` with snapshots increasing.
    later_snapshots: VecDeque<(u64, u64)>,
    /// Absolute position of `window[0]`.
    window_front: u64,
    /// The window's length after the last collapse: the next one waits
    /// until the window has doubled, so that its search over the window
    /// costs a constant per commit.
    kept_after_collapse: usize,
    /// [`COLLAPSE_WINDOW_MIN`], or 0 in tests that collapse at every
    /// prune.
    collapse_window_min: usize,
    stats: IncrementalStats,
}

impl Default for IncrementalCheck {
    fn default() -> IncrementalCheck {
        IncrementalCheck {
            window: Vec::new(),
            checked: 0,
            base: BTreeMap::new(),
            excused: BTreeSet::new(),
            broken: None,
            snapshot_rule: SnapshotRule::default(),
            live: Some(LiveGraph::new()),
            linked: 0,
            later_snapshots: VecDeque::new(),
            window_front: 0,
            kept_after_collapse: 0,
            collapse_window_min: COLLAPSE_WINDOW_MIN,
            stats: IncrementalStats::default(),
        }
    }
}

impl IncrementalCheck {
    /// An empty checker.
    pub fn new() -> IncrementalCheck {
        IncrementalCheck::default()
    }

    /// Adds a committed transaction. Transactions come in commit order,
    /// as the store records them.
    pub fn push(&mut self, mut tx: CommittedTx) {
        if let Some(last) = self.window.last() {
            assert!(
                tx.commit_seq > last.commit_seq,
                "T{} (commit {}) pushed after T{} (commit {}): not in commit order",
                tx.id,
                tx.commit_seq,
                last.id,
                last.commit_seq
            );
        }
        self.stats.transactions += 1;
        if let Err(anomaly) = self.snapshot_rule.admit(&tx) {
            self.broken.get_or_insert(anomaly);
        }
        if !self.base.is_empty() {
            let id = tx.id;
            let first_snapshot = tx.first_snapshot;
            for read in &mut tx.reads {
                if let Err(anomaly) = rename_base_reads(&self.base, read, id, first_snapshot) {
                    self.broken.get_or_insert(anomaly);
                }
            }
        }
        let at = self.window_front + self.window.len() as u64;
        while self
            .later_snapshots
            .back()
            .is_some_and(|&(_, snapshot)| snapshot >= tx.first_snapshot)
        {
            self.later_snapshots.pop_back();
        }
        self.later_snapshots.push_back((at, tx.first_snapshot));
        self.window.push(tx);
    }

    /// A checker that searches its whole window every time, as before the
    /// live graph: the reference the property tests hold it against.
    #[cfg(test)]
    pub(super) fn searching_whole_window() -> IncrementalCheck {
        IncrementalCheck {
            live: None,
            ..IncrementalCheck::default()
        }
    }

    /// A checker that collapses at every prune that can, not only once
    /// the window has doubled: the property tests' short histories
    /// exercise the collapse this way.
    #[cfg(test)]
    pub(super) fn collapsing_eagerly() -> IncrementalCheck {
        IncrementalCheck {
            collapse_window_min: 0,
            ..IncrementalCheck::default()
        }
    }

    /// Transactions pushed since the last search that found nothing.
    pub fn unchecked(&self) -> usize {
        self.window.len() - self.checked
    }

    /// Searches the window for the weakest anomaly not yet returned.
    /// `None`: everything pushed so far is serializable, up to the
    /// anomalies already returned as allowed. An allowed anomaly is
    /// excused before it is returned, so calling again moves on; a
    /// disallowed one is returned again until the record changes.
    pub fn next_anomaly(&mut self) -> Option<Found> {
        if let Some(anomaly) = self.broken.clone() {
            return Some(Found {
                anomaly,
                transactions: Vec::new(),
                allowed_by: None,
            });
        }
        self.stats.checks += 1;
        self.stats.window_max = self.stats.window_max.max(self.window.len());
        match self.advance_live() {
            Ok(true) => {
                self.checked = self.window.len();
                return None;
            }
            Ok(false) => {}
            Err(Unsure) => self.live = None,
        }
        self.stats.window_searches += 1;
        let anomaly = match check_excusing(&self.window, &self.excused) {
            Ok(CheckStats { .. }) => {
                // The live graph saw a cycle the whole window does not
                // have: trust the window from now on.
                self.live = None;
                self.checked = self.window.len();
                return None;
            }
            Err(anomaly) => anomaly,
        };
        let transactions: Vec<(TxId, Isolation)> = anomaly
            .transactions()
            .into_iter()
            .map(|id| (id, self.isolation_of(id)))
            .collect();
        let weakest = transactions.iter().map(|(_, level)| *level).min();
        let allowed_by = weakest.filter(|&level| {
            anomaly.kind.is_cycle() && !anomaly.cycle.is_empty() && allowed_at(anomaly.kind, level)
        });
        if allowed_by.is_some() {
            // At least one transaction is weaker than Serializable, so at
            // least two edges of the cycle go: it cannot be found again.
            let mut pairs = Vec::new();
            for edge in &anomaly.cycle {
                let weak = |id: TxId| self.isolation_of(id) < Isolation::Serializable;
                if weak(edge.from) || weak(edge.to) {
                    self.excused.insert((edge.from, edge.to));
                    pairs.push((edge.from, edge.to));
                }
            }
            if let Some(live) = &mut self.live {
                live.remove_pairs(&pairs);
            }
        }
        Some(Found {
            anomaly,
            transactions,
            allowed_by,
        })
    }

    /// Brings the live graph up to the window: `true` when no cycle runs
    /// through the transactions added (so none is in the window, up to
    /// the excused pairs), `false` when one does.
    fn advance_live(&mut self) -> Result<bool, Unsure> {
        let live = self.live.as_mut().ok_or(Unsure)?;
        if let Some(node) = live.unordered() {
            if !live.order(node) {
                return Ok(false);
            }
        }
        while self.linked < self.window.len() {
            let linked = live.link(&self.window[self.linked], &self.excused)?;
            self.linked += 1;
            if let Some(node) = linked {
                if !live.order(node) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Forgets the checked transactions that no future cycle can reach,
    /// given that every transaction still to commit has a first snapshot
    /// of at least `horizon` (the store's
    /// [`oldest_live_first_snapshot`](crate::store::Store::oldest_live_first_snapshot)):
    /// a prefix of the window cut where no later snapshot reaches back
    /// past it, then, once the window has doubled since the last time,
    /// what no open transaction reaches (see the module docs). Returns
    /// how many were forgotten.
    pub fn prune(&mut self, horizon: u64) -> usize {
        self.snapshot_rule.advance(horizon);
        let cut = self.cut(horizon);
        if cut > 0 {
            self.prune_prefix(cut);
        }
        cut + self.collapse(horizon)
    }

    fn prune_prefix(&mut self, cut: usize) {
        let pruned: Vec<CommittedTx> = self.window.drain(..cut).collect();
        self.checked -= cut;
        self.window_front += cut as u64;
        while self
            .later_snapshots
            .front()
            .is_some_and(|&(at, _)| at < self.window_front)
        {
            self.later_snapshots.pop_front();
        }
        if self.live.is_some() && self.linked >= cut {
            self.linked -= cut;
            let live = self.live.as_mut().expect("checked");
            if live.prune(&pruned).is_err() {
                self.live = None;
            }
        } else {
            self.live = None;
        }
        self.kept_after_collapse = self.kept_after_collapse.saturating_sub(cut);
        self.stats.pruned += cut as u64;
        self.forget(&pruned);
    }

    /// Collapses what no open transaction reaches, when the window is
    /// checked, mirrored by the live graph and has doubled since the last
    /// collapse. Returns how many went.
    fn collapse(&mut self, horizon: u64) -> usize {
        let len = self.window.len();
        let Some(live) = self.live.as_mut() else {
            return 0;
        };
        if self.checked != len
            || self.linked != len
            || len < 2 * self.kept_after_collapse + self.collapse_window_min
        {
            return 0;
        }
        let dead = match live.collapse(&self.window, horizon, &self.excused) {
            Ok(dead) => dead,
            Err(Unsure) => {
                self.live = None;
                return 0;
            }
        };
        let mut gone = vec![false; len];
        for &at in &dead {
            gone[at] = true;
        }
        let mut collapsed = Vec::with_capacity(dead.len());
        let mut kept = Vec::with_capacity(len - dead.len());
        for (tx, gone) in std::mem::take(&mut self.window).into_iter().zip(gone) {
            if gone {
                collapsed.push(tx);
            } else {
                kept.push(tx);
            }
        }
        self.window = kept;
        self.checked = self.window.len();
        self.linked = self.window.len();
        self.kept_after_collapse = self.window.len();
        // Positions are relative to `window_front`: rebuild the stack of
        // first snapshots over what is left.
        self.later_snapshots.clear();
        for at in 0..self.window.len() {
            let snapshot = self.window[at].first_snapshot;
            while self
                .later_snapshots
                .back()
                .is_some_and(|&(_, later)| later >= snapshot)
            {
                self.later_snapshots.pop_back();
            }
            self.later_snapshots
                .push_back((self.window_front + at as u64, snapshot));
        }
        self.stats.pruned += collapsed.len() as u64;
        self.stats.collapsed += collapsed.len() as u64;
        self.forget(&collapsed);
        collapsed.len()
    }

    /// What stays of `pruned` (in commit order): the last writer of each
    /// key it wrote becomes the base, and reads of those versions are
    /// renamed to it.
    fn forget(&mut self, pruned: &[CommittedTx]) {
        let mut pruned_writers: BTreeMap<Key, TxId> = BTreeMap::new();
        for tx in pruned {
            for write in &tx.writes {
                pruned_writers.insert(write.key.clone(), tx.id);
            }
        }
        let pruned_ids: BTreeSet<TxId> = pruned.iter().map(|tx| tx.id).collect();
        self.excused
            .retain(|(from, to)| !pruned_ids.contains(from) && !pruned_ids.contains(to));
        for (key, writer) in &pruned_writers {
            self.base.insert(key.clone(), *writer);
        }
        for tx in &mut self.window {
            let (id, first_snapshot) = (tx.id, tx.first_snapshot);
            for read in &mut tx.reads {
                if let Err(anomaly) = rename_base_reads(&pruned_writers, read, id, first_snapshot) {
                    self.broken.get_or_insert(anomaly);
                }
            }
        }
    }

    /// How many transactions from the front of the window may go: the
    /// longest checked prefix whose last commit `X` is at most `horizon`
    /// and such that every later transaction in the window has a first
    /// snapshot of at least `X`.
    fn cut(&self, horizon: u64) -> usize {
        // Candidates: checked, and committed by the horizon (commit order
        // is window order, so they are a prefix).
        let mut last = self
            .window
            .partition_point(|tx| tx.commit_seq <= horizon)
            .min(self.checked);
        while last > 0 {
            let at = last - 1;
            let commit = self.window[at].commit_seq;
            let later_min = self.later_snapshot_min(at);
            if later_min >= commit {
                return at + 1;
            }
            // A valid cut at or before `at` commits by `later_min`, the
            // smallest snapshot after `at` (that after it is no larger).
            last = self.window[..at].partition_point(|tx| tx.commit_seq <= later_min);
        }
        0
    }

    /// The smallest first snapshot of `window[at + 1..]` (`u64::MAX` when
    /// empty).
    fn later_snapshot_min(&self, at: usize) -> u64 {
        let absolute = self.window_front + at as u64;
        let first_later = self
            .later_snapshots
            .partition_point(|&(position, _)| position <= absolute);
        self.later_snapshots
            .get(first_later)
            .map_or(u64::MAX, |&(_, snapshot)| snapshot)
    }

    /// Counters so far.
    pub fn stats(&self) -> IncrementalStats {
        self.stats
    }

    /// Transactions in the window now.
    pub fn window_len(&self) -> usize {
        self.window.len()
    }

    fn isolation_of(&self, id: TxId) -> Isolation {
        self.window
            .iter()
            .find(|tx| tx.id == id)
            .map_or(Isolation::Serializable, |tx| tx.isolation)
    }
}

/// Renames a read of a pruned version (`pruned` maps each key to its last
/// pruned writer) to the base. A read that cannot be squared with the
/// snapshot rule (a key the pruned part wrote seen as never written, or an
/// older pruned version) is an inconsistent record.
fn rename_base_reads(
    pruned: &BTreeMap<Key, TxId>,
    read: &mut ReadRecord,
    reader: TxId,
    first_snapshot: u64,
) -> Result<(), Anomaly> {
    let stale = |key: &Key, writer: TxId| Anomaly {
        kind: AnomalyKind::Inconsistent,
        cycle: Vec::new(),
        message: format!(
            "T{reader} read {key} as never written, although T{writer} wrote it and committed \
             before T{reader}'s first snapshot ({first_snapshot})"
        ),
    };
    match read {
        ReadRecord::Item { key, version } => match (pruned.get(key), *version) {
            (Some(&last), Some(seen)) if seen == last => *version = Some(BASE),
            (Some(&last), None) => return Err(stale(key, last)),
            _ => {}
        },
        ReadRecord::Predicate { observed, .. } => {
            for (key, seen) in observed.iter_mut() {
                if pruned.get(key) == Some(seen) {
                    *seen = BASE;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteRecord;

    fn key(name: &str) -> Key {
        Key::raw(name)
    }

    /// A transaction that read `reads` (key, writer) and wrote `writes`.
    fn tx(
        id: TxId,
        isolation: Isolation,
        commit_seq: u64,
        first_snapshot: u64,
        reads: &[(&str, TxId)],
        writes: &[&str],
    ) -> CommittedTx {
        CommittedTx {
            id,
            isolation,
            commit_seq,
            first_snapshot,
            reads: reads
                .iter()
                .map(|(name, writer)| ReadRecord::Item {
                    key: key(name),
                    version: Some(*writer),
                })
                .collect(),
            writes: writes
                .iter()
                .map(|name| WriteRecord {
                    key: key(name),
                    deleted: false,
                })
                .collect(),
        }
    }

    /// Write skew between T1 and T2 (both read a and b at T0, each writes
    /// one), at `level`.
    fn write_skew(level: Isolation, first: TxId, commit_seq: u64) -> [CommittedTx; 2] {
        let both = [("a", 0), ("b", 0)];
        [
            tx(first, level, commit_seq, commit_seq - 1, &both, &["a"]),
            tx(
                first + 1,
                level,
                commit_seq + 1,
                commit_seq - 1,
                &both,
                &["b"],
            ),
        ]
    }

    #[test]
    fn levels_allow_what_postgresql_allows() {
        use AnomalyKind::*;
        use Isolation::*;
        for kind in [G0, G1a, G1b, G1c, Inconsistent] {
            for level in Isolation::ALL {
                assert!(!allowed_at(kind, level), "{kind} at {level:?}");
            }
        }
        for kind in [GSingle, G2Item, G2] {
            assert!(!allowed_at(kind, Serializable));
            assert!(allowed_at(kind, ReadCommitted));
        }
        assert!(!allowed_at(GSingle, RepeatableRead));
        assert!(allowed_at(G2Item, RepeatableRead) && allowed_at(G2, RepeatableRead));
    }

    #[test]
    fn serializable_write_skew_is_never_allowed_and_stays_found() {
        let mut checker = IncrementalCheck::new();
        for t in write_skew(Isolation::Serializable, 1, 1) {
            checker.push(t);
        }
        let found = checker.next_anomaly().expect("write skew");
        assert_eq!(found.anomaly.kind, AnomalyKind::G2Item);
        assert_eq!(found.allowed_by, None);
        assert_eq!(
            found.transactions,
            vec![(1, Isolation::Serializable), (2, Isolation::Serializable)]
        );
        // Not excused: asked again, the same answer.
        assert_eq!(checker.next_anomaly(), Some(found));
    }

    #[test]
    fn an_allowed_anomaly_is_excused_and_the_next_one_is_found() {
        let mut checker = IncrementalCheck::new();
        // First, write skew at Repeatable Read (allowed); then the same
        // among Serializable transactions on other keys (never allowed).
        for t in write_skew(Isolation::RepeatableRead, 1, 1) {
            checker.push(t);
        }
        let both = [("c", 0), ("d", 0)];
        checker.push(tx(3, Isolation::Serializable, 3, 2, &both, &["c"]));
        checker.push(tx(4, Isolation::Serializable, 4, 2, &both, &["d"]));
        let first = checker.next_anomaly().expect("the weak one");
        assert_eq!(first.allowed_by, Some(Isolation::RepeatableRead));
        assert_eq!(first.anomaly.transactions(), vec![1, 2]);
        let second = checker.next_anomaly().expect("the serializable one");
        assert_eq!(second.allowed_by, None);
        assert_eq!(second.anomaly.transactions(), vec![3, 4]);
    }

    #[test]
    fn a_mixed_cycle_is_judged_by_its_weakest_level() {
        let mut checker = IncrementalCheck::new();
        let both = [("a", 0), ("b", 0)];
        checker.push(tx(1, Isolation::Serializable, 1, 0, &both, &["a"]));
        checker.push(tx(2, Isolation::ReadCommitted, 2, 0, &both, &["b"]));
        let found = checker.next_anomaly().expect("write skew");
        assert_eq!(found.allowed_by, Some(Isolation::ReadCommitted));
        assert_eq!(checker.next_anomaly(), None);
    }

    #[test]
    fn a_serial_run_keeps_a_bounded_window() {
        let mut checker = IncrementalCheck::new();
        checker.push(tx(0, Isolation::Serializable, 0, 0, &[], &["a", "b"]));
        let mut last_writer = [0, 0];
        for seq in 1..=10_000u64 {
            let id = seq + 100;
            let k = (seq % 2) as usize;
            let name = ["a", "b"][k];
            checker.push(tx(
                id,
                Isolation::Serializable,
                seq,
                seq - 1,
                &[("a", last_writer[0]), ("b", last_writer[1])],
                &[name],
            ));
            last_writer[k] = id;
            assert_eq!(checker.next_anomaly(), None, "at {seq}");
            checker.prune(seq);
            assert_eq!(checker.window_len(), 0, "at {seq}");
        }
        let stats = checker.stats();
        assert_eq!(stats.transactions, 10_001);
        assert_eq!(stats.pruned, 10_001);
        assert_eq!(stats.window_max, 2);
    }

    #[test]
    fn a_long_running_reader_holds_the_window_open_until_it_commits() {
        let mut checker = IncrementalCheck::new();
        checker.push(tx(0, Isolation::Serializable, 0, 0, &[], &["a"]));
        // T100 takes its snapshot at 0 and stays open while others commit.
        for seq in 1..=5u64 {
            checker.push(tx(seq, Isolation::Serializable, seq, seq - 1, &[], &["b"]));
            assert_eq!(checker.next_anomaly(), None);
            checker.prune(0);
        }
        assert_eq!(checker.window_len(), 5, "only T0 could go");
        // T100 read a at T0 and writes c; every later one has a newer snapshot.
        checker.push(tx(100, Isolation::Serializable, 6, 0, &[("a", 0)], &["c"]));
        assert_eq!(checker.next_anomaly(), None);
        checker.prune(6);
        assert_eq!(checker.window_len(), 0);
    }

    #[test]
    fn a_cycle_through_an_old_and_a_new_transaction_is_caught_past_a_long_lived_one() {
        use Isolation::Serializable;
        let mut checker = IncrementalCheck::new();
        checker.push(tx(0, Serializable, 0, 0, &[], &["a", "x", "z"]));
        // L (T5000) takes its snapshot at 0 and commits last: the horizon
        // stays at 0 and no cut ever forms. W1 writes x, M reads it and
        // writes z, both just after L's snapshot.
        checker.push(tx(1, Serializable, 1, 0, &[("x", 0)], &["x"]));
        checker.push(tx(2, Serializable, 2, 1, &[("x", 1)], &["z"]));
        let mut window_max = 0;
        // A thousand short readers of a meanwhile: nothing open reaches
        // them, so they go although L holds the horizon at 0.
        for seq in 3..=1002u64 {
            checker.push(tx(100 + seq, Serializable, seq, seq - 1, &[("a", 0)], &[]));
            assert_eq!(checker.next_anomaly(), None, "at {seq}");
            checker.prune(0);
            window_max = window_max.max(checker.window_len());
        }
        let stats = checker.stats();
        assert!(stats.collapsed >= 900, "{stats:?}");
        assert!(
            window_max <= 2 * 2 + COLLAPSE_WINDOW_MIN + 1,
            "{window_max}"
        );
        // L read x before W1 wrote it and overwrote M's z: L -rw(x)-> W1
        // -wr(x)-> M -ww(z)-> L, through the two oldest and the newest.
        checker.push(tx(5000, Serializable, 1003, 0, &[("x", 0)], &["z"]));
        let found = checker.next_anomaly().expect("the lost update");
        assert_eq!(found.anomaly.kind, AnomalyKind::GSingle);
        assert_eq!(found.allowed_by, None);
        let mut on_cycle = found.anomaly.transactions();
        on_cycle.sort_unstable();
        assert_eq!(on_cycle, vec![1, 2, 5000], "{}", found.anomaly);
    }

    #[test]
    fn a_lock_queue_gives_no_cut_but_collapses_what_no_cycle_can_reach() {
        use Isolation::Serializable;
        let mut checker = IncrementalCheck::new();
        checker.push(tx(0, Serializable, 0, 0, &[], &["hot"]));
        // Each took its snapshot before the one ahead of it committed and
        // read its write once the lock was free: no moment is past every
        // later snapshot, so a cut frees nothing after T0.
        let mut window_max = 0;
        for seq in 1..=5000u64 {
            let snapshot = seq.saturating_sub(2);
            checker.push(tx(
                seq,
                Serializable,
                seq,
                snapshot,
                &[("hot", seq - 1)],
                &["hot"],
            ));
            assert_eq!(checker.next_anomaly(), None, "at {seq}");
            // The next one took its snapshot at seq - 1.
            checker.prune(seq - 1);
            window_max = window_max.max(checker.window_len());
        }
        let stats = checker.stats();
        assert_eq!(stats.transactions, 5001);
        assert!(stats.collapsed >= 4900, "{stats:?}");
        assert!(
            window_max <= 2 * 2 + COLLAPSE_WINDOW_MIN + 1,
            "{window_max}"
        );
        // Still caught after the collapses: two that read T5000's hot and
        // both wrote it (a lost update).
        checker.push(tx(
            5001,
            Serializable,
            5001,
            4999,
            &[("hot", 5000)],
            &["hot"],
        ));
        assert_eq!(checker.next_anomaly(), None);
        checker.prune(5000);
        checker.push(tx(
            5002,
            Serializable,
            5002,
            5000,
            &[("hot", 5000)],
            &["hot"],
        ));
        let found = checker.next_anomaly().expect("the lost update");
        assert_eq!(found.anomaly.kind, AnomalyKind::GSingle);
        let mut on_cycle = found.anomaly.transactions();
        on_cycle.sort_unstable();
        assert_eq!(on_cycle, vec![5001, 5002], "{}", found.anomaly);
    }

    /// The history CI's property test found (saved in
    /// proptest-regressions/history/proptests.txt): T6 deletes k/1 and
    /// commits first; T5, whose first snapshot (1) saw that commit, reads
    /// k/1 as never written. The collapsing checker forgot T6 (no open
    /// writer reached it) and called the read inconsistent; the one that
    /// only cuts prefixes kept T6 and passed it.
    fn read_before_its_first_snapshot() -> [CommittedTx; 3] {
        let mut delete = tx(6, Isolation::ReadCommitted, 1, 0, &[], &["k/1"]);
        delete.writes[0].deleted = true;
        let mut early = tx(11, Isolation::Serializable, 2, 0, &[], &[]);
        early.reads.push(ReadRecord::Item {
            key: key("k/0"),
            version: None,
        });
        let mut stale = tx(5, Isolation::Serializable, 3, 1, &[], &[]);
        stale.reads.push(ReadRecord::Item {
            key: key("k/1"),
            version: None,
        });
        [delete, early, stale]
    }

    #[test]
    fn a_read_older_than_its_first_snapshot_is_inconsistent_whatever_was_forgotten() {
        let expected = "T5 read k/1 as never written, although T6 wrote it and committed \
                        before T5's first snapshot (1)";
        let checkers = [
            IncrementalCheck::collapsing_eagerly(),
            IncrementalCheck::searching_whole_window(),
            IncrementalCheck::new(),
        ];
        for (which, mut checker) in checkers.into_iter().enumerate() {
            let history = read_before_its_first_snapshot();
            // The horizons the property test gave: the smallest first
            // snapshot still to commit; the last checker never prunes.
            for (tx, horizon) in history.into_iter().zip([0, 1, 3]) {
                checker.push(tx);
                if let Some(found) = checker.next_anomaly() {
                    assert_eq!(
                        found.anomaly.kind,
                        AnomalyKind::Inconsistent,
                        "checker {which}"
                    );
                    assert_eq!(found.anomaly.message, expected, "checker {which}");
                    assert_eq!(found.allowed_by, None);
                    break;
                }
                if which < 2 {
                    checker.prune(horizon);
                }
            }
            assert_eq!(checker.stats().transactions, 3, "checker {which}");
            assert!(
                checker.next_anomaly().is_some(),
                "checker {which} passed the stale read"
            );
        }
    }

    #[test]
    fn a_read_of_a_version_older_than_a_forgotten_writers_is_inconsistent() {
        let mut checker = IncrementalCheck::collapsing_eagerly();
        checker.push(tx(1, Isolation::Serializable, 1, 0, &[], &["a"]));
        checker.push(tx(2, Isolation::Serializable, 2, 1, &[("a", 1)], &["a"]));
        checker.push(tx(3, Isolation::Serializable, 3, 2, &[("a", 2)], &["a"]));
        assert_eq!(checker.next_anomaly(), None);
        assert_eq!(checker.prune(3), 3);
        // T4's write lets the rule drop T1 and T2: nothing still to commit
        // can read before T3's version.
        checker.push(tx(4, Isolation::Serializable, 4, 3, &[("a", 3)], &["a"]));
        assert_eq!(checker.next_anomaly(), None);
        checker.prune(4);
        // T5's first snapshot saw T3's and T4's commits, yet it read T1's a.
        checker.push(tx(5, Isolation::Serializable, 5, 4, &[("a", 1)], &[]));
        let found = checker.next_anomaly().expect("a stale read");
        assert_eq!(found.anomaly.kind, AnomalyKind::Inconsistent);
        assert_eq!(
            found.anomaly.message,
            "T5 read a as T1 wrote it, not as T3 or a later writer did, although T3 wrote it \
             and committed before T5's first snapshot (4)"
        );
    }

    #[test]
    fn a_scan_that_missed_a_key_committed_before_its_first_snapshot_is_inconsistent() {
        let mut checker = IncrementalCheck::new();
        checker.push(tx(1, Isolation::Serializable, 1, 0, &[], &["k/a", "k/b"]));
        let scan = |id: TxId, first_snapshot: u64, observed: Vec<(Key, TxId)>| CommittedTx {
            reads: vec![ReadRecord::Predicate {
                range: crate::store::KeyRange::prefix("k/"),
                observed,
            }],
            ..tx(id, Isolation::Serializable, id, first_snapshot, &[], &[])
        };
        // Both keys seen: as the rule says.
        checker.push(scan(2, 1, vec![(key("k/a"), 1), (key("k/b"), 1)]));
        assert_eq!(checker.next_anomaly(), None);
        // A snapshot older than the commit may miss them.
        checker.push(scan(3, 0, Vec::new()));
        assert_eq!(checker.next_anomaly(), None);
        // One that saw the commit may not.
        checker.push(scan(4, 1, vec![(key("k/a"), 1)]));
        let found = checker.next_anomaly().expect("a missed key");
        assert_eq!(found.anomaly.kind, AnomalyKind::Inconsistent);
        assert!(
            found
                .anomaly
                .message
                .starts_with("T4 read k/b as never written"),
            "{}",
            found.anomaly.message
        );
    }

    #[test]
    fn a_read_of_a_pruned_key_as_unborn_is_inconsistent() {
        let mut checker = IncrementalCheck::new();
        checker.push(tx(1, Isolation::Serializable, 1, 0, &[], &["a"]));
        assert_eq!(checker.next_anomaly(), None);
        checker.prune(1);
        let mut late = tx(2, Isolation::Serializable, 2, 1, &[], &["b"]);
        late.reads.push(ReadRecord::Item {
            key: key("a"),
            version: None,
        });
        checker.push(late);
        let found = checker.next_anomaly().expect("broken record");
        assert_eq!(found.anomaly.kind, AnomalyKind::Inconsistent);
        assert!(found.anomaly.message.contains("T2 read a as never written"));
    }
}
