//! The window's serialization graph kept up to date commit by commit, so
//! that a commit is checked in time that depends on what it can close a
//! cycle through, not on how many transactions the window keeps.
//!
//! # What it holds
//!
//! The edges of [`super::graph::Graph::build`] over the window (every
//! `ww`, `wr`, `rw` and predicate `rw` edge), without the pairs the
//! incremental checker excused and without the edges of the initial load
//! T0: T0 reads nothing and writes first, so nothing leads into it and it
//! lies on no cycle. Each key keeps its writers in the window in version
//! order, the readers of its latest version and the readers that saw it
//! unborn, so a new commit finds its edges by key: a `ww` edge from the
//! last writer, `rw` edges from the readers of the version it overwrote,
//! `wr` and `rw` edges of its own reads. Predicate reads are indexed by
//! range so the first writer of a key finds the scans that saw it unborn.
//!
//! # How a commit is checked
//!
//! Every edge of the graph already there was added when its newer end
//! committed, and the graph was acyclic, so a new cycle passes through
//! the new transaction `T`. The graph keeps a topological order (sparse
//! labels; Pearce and Kelly's dynamic topological sort, "A dynamic
//! topological sort algorithm for directed acyclic graphs", JEA 2006).
//! `T` goes just after its latest predecessor in that order. Only its
//! out-edges to transactions earlier in the order (backward
//! anti-dependencies, to transactions that committed while `T` ran) need a
//! search: forward from their targets, over nodes ordered before `T`. A
//! cycle exists exactly when that search meets `T`; otherwise the nodes it
//! met and `T`'s ancestors after them are reordered among their own
//! labels. So the work is the part of the graph between `T`'s snapshot and
//! its commit that `T`'s backward edges reach, and a read-only transaction
//! whose reads were not overwritten costs nothing beyond its edges.
//!
//! # When it does not know
//!
//! A record the full check would call inconsistent or an aborted read
//! (a read of a version nobody in the window wrote, a key read as unborn
//! that has an earlier version, ...) makes [`LiveGraph::link`] answer
//! [`Unsure`]: the caller then goes back to searching the whole window
//! with [`super::check`], which gives the exact verdict.

use super::graph::FixedHashMap;
use crate::store::{CommittedTx, Key, KeyRange, ReadRecord, TxId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The id of the initial load.
const INITIAL: TxId = 0;

/// Distance between consecutive labels when the order is renumbered.
const LABEL_GAP: u64 = 1 << 24;

/// The first label handed out.
const LABEL_START: u64 = 1 << 62;

/// The record leaves the live graph unable to mirror the full check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Unsure;

/// One transaction of the window.
#[derive(Debug)]
struct Node {
    id: TxId,
    /// Position in the topological order; `None` while a cycle through the
    /// node is unresolved.
    label: Option<u64>,
    /// Successors and predecessors (absolute node numbers), each pair once
    /// per direction and batch.
    out: Vec<u32>,
    ins: Vec<u32>,
    /// Search stamp.
    seen: u32,
}

/// What the window knows about one key.
#[derive(Debug, Default)]
struct KeyState {
    /// A version before the window's writers: the initial load's, or the
    /// last pruned writer's.
    initial: bool,
    /// Writers in the window, in version order (so in node order).
    writers: VecDeque<u32>,
    /// Readers of the latest version, in node order: they get an
    /// anti-dependency to the next writer.
    readers: VecDeque<u32>,
    /// Item readers that saw the key unborn while it had no version, in
    /// node order.
    unborn: VecDeque<u32>,
}

impl KeyState {
    fn has_version(&self) -> bool {
        self.initial || !self.writers.is_empty()
    }

    fn is_empty(&self) -> bool {
        !self.initial
            && self.writers.is_empty()
            && self.readers.is_empty()
            && self.unborn.is_empty()
    }
}

/// Predicate reads of the window by range, for the first writer of a key:
/// prefix ranges (what table and index-prefix scans read) by prefix, any
/// other range in a list.
#[derive(Debug, Default)]
struct PredicateIndex {
    by_prefix: BTreeMap<String, Vec<u32>>,
    others: Vec<(KeyRange, u32)>,
    entries: usize,
}

impl PredicateIndex {
    fn insert(&mut self, range: &KeyRange, reader: u32) {
        self.entries += 1;
        match prefix_of(range) {
            Some(prefix) => self
                .by_prefix
                .entry(prefix.to_string())
                .or_default()
                .push(reader),
            None => self.others.push((range.clone(), reader)),
        }
    }

    /// The readers (not pruned: at least `front`) whose range holds `key`,
    /// dropping pruned ones met on the way.
    fn covering(&mut self, key: &Key, front: u32, found: &mut Vec<u32>) {
        let text = key.as_str();
        for (at, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
            if let Some(readers) = self.by_prefix.get_mut(&text[..at]) {
                let before = readers.len();
                readers.retain(|&reader| reader >= front);
                self.entries -= before - readers.len();
                found.extend(readers.iter().copied());
            }
        }
        let before = self.others.len();
        self.others.retain(|(_, reader)| *reader >= front);
        self.entries -= before - self.others.len();
        found.extend(
            self.others
                .iter()
                .filter(|(range, _)| range.contains(key))
                .map(|(_, reader)| *reader),
        );
    }

    /// Keeps the readers `keep` holds to.
    fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.by_prefix.retain(|_, readers| {
            readers.retain(|&reader| keep(reader));
            !readers.is_empty()
        });
        self.others.retain(|(_, reader)| keep(*reader));
        self.entries = self.by_prefix.values().map(Vec::len).sum::<usize>() + self.others.len();
    }
}

/// The prefix when `range` is exactly the keys starting with it.
fn prefix_of(range: &KeyRange) -> Option<&str> {
    let start = range.start.as_str();
    let last = start.chars().next_back()?;
    if last == char::MAX || KeyRange::prefix(start).end != range.end {
        return None;
    }
    Some(start)
}

/// The edges of the transaction being linked, gathered key by key.
struct NewEdges<'a> {
    /// Its node.
    me: u32,
    id: TxId,
    /// The keys it wrote, sorted.
    written: Vec<&'a Key>,
    /// Nodes with an edge into it.
    sources: Vec<u32>,
    /// Nodes it has an edge to.
    targets: Vec<u32>,
}

impl NewEdges<'_> {
    fn wrote(&self, key: &Key) -> bool {
        self.written.binary_search(&key).is_ok()
    }
}

/// The serialization graph of the window, with a topological order.
#[derive(Debug, Default)]
pub(super) struct LiveGraph {
    /// Absolute number of `nodes[0]`.
    front: u32,
    /// `None` for a node collapsed out of the middle of the window; the
    /// front is always a node still kept.
    nodes: VecDeque<Option<Node>>,
    /// Nodes still kept (the `Some` entries of `nodes`).
    kept: usize,
    node_of: FixedHashMap<TxId, u32>,
    keys: BTreeMap<Key, KeyState>,
    predicates: PredicateIndex,
    /// Label to node: the topological order.
    order: BTreeMap<u64, u32>,
    /// The initial load T0 is in the window (it wrote exactly the keys
    /// marked `initial` before any pruning).
    initial_in_window: bool,
    /// A node linked but not yet ordered: a cycle runs through it.
    unordered: Option<u32>,
    stamp: u32,
    /// Edges scanned by order searches, for the stats.
    pub(super) work: u64,
}

impl LiveGraph {
    pub(super) fn new() -> LiveGraph {
        LiveGraph::default()
    }

    fn node(&self, node: u32) -> &Node {
        self.nodes[(node - self.front) as usize]
            .as_ref()
            .expect("edges and key lists name kept nodes only")
    }

    fn node_mut(&mut self, node: u32) -> &mut Node {
        self.nodes[(node - self.front) as usize]
            .as_mut()
            .expect("edges and key lists name kept nodes only")
    }

    /// Whether `node` is in the window (neither pruned nor collapsed).
    fn is_kept(&self, node: u32) -> bool {
        node >= self.front
            && self
                .nodes
                .get((node - self.front) as usize)
                .is_some_and(Option::is_some)
    }

    /// Adds `tx` (the next commit) and its edges, leaving out `excused`
    /// pairs. Returns the new node (`None` for the initial load, which gets
    /// no node), not yet ordered: call [`LiveGraph::order`] next.
    pub(super) fn link(
        &mut self,
        tx: &CommittedTx,
        excused: &BTreeSet<(TxId, TxId)>,
    ) -> Result<Option<u32>, Unsure> {
        if tx.id == INITIAL {
            self.link_initial_load(tx)?;
            return Ok(None);
        }
        if tx.commit_seq == 0 || self.node_of.contains_key(&tx.id) || self.unordered.is_some() {
            return Err(Unsure);
        }
        let mut written: Vec<&Key> = tx.writes.iter().map(|write| &write.key).collect();
        written.sort_unstable();
        if written.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(Unsure);
        }
        let me = self.front + self.nodes.len() as u32;
        if me == u32::MAX {
            return Err(Unsure);
        }
        self.mark_initial_reads(tx, me)?;
        self.nodes.push_back(Some(Node {
            id: tx.id,
            label: None,
            out: Vec::new(),
            ins: Vec::new(),
            seen: 0,
        }));
        self.kept += 1;
        self.node_of.insert(tx.id, me);
        let mut edges = NewEdges {
            me,
            id: tx.id,
            written,
            sources: Vec::new(),
            targets: Vec::new(),
        };
        for read in &tx.reads {
            match read {
                ReadRecord::Item { key, version } => self.read_item(&mut edges, key, *version)?,
                ReadRecord::Predicate { range, observed } => {
                    self.read_predicate(&mut edges, range, observed)?
                }
            }
        }
        self.write_keys(&mut edges);
        let NewEdges {
            sources, targets, ..
        } = edges;
        self.attach(me, tx.id, sources, targets, excused);
        Ok(Some(me))
    }

    /// The initial load: marks the keys it wrote. It gets no node (nothing
    /// leads into it).
    fn link_initial_load(&mut self, tx: &CommittedTx) -> Result<(), Unsure> {
        if tx.commit_seq != 0 || !tx.reads.is_empty() || !self.nodes.is_empty() {
            return Err(Unsure);
        }
        for write in &tx.writes {
            let state = self.keys.entry(write.key.clone()).or_default();
            if state.initial {
                return Err(Unsure);
            }
            state.initial = true;
        }
        self.initial_in_window = true;
        Ok(())
    }

    /// Versions `tx` read at the initial load: the load wrote those keys.
    fn mark_initial_reads(&mut self, tx: &CommittedTx, me: u32) -> Result<(), Unsure> {
        for read in &tx.reads {
            match read {
                ReadRecord::Item {
                    key,
                    version: Some(INITIAL),
                } => self.mark_initial(key, me)?,
                ReadRecord::Item { .. } => {}
                ReadRecord::Predicate { observed, .. } => {
                    for (key, _) in observed.iter().filter(|(_, writer)| *writer == INITIAL) {
                        self.mark_initial(key, me)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A scan: each key it saw, and each key of its range with a version
    /// that it saw unborn; then the scan waits in the predicate index for
    /// the first writer of a key of its range.
    fn read_predicate(
        &mut self,
        edges: &mut NewEdges,
        range: &KeyRange,
        observed: &[(Key, TxId)],
    ) -> Result<(), Unsure> {
        if observed.iter().any(|(key, _)| !range.contains(key))
            || observed.windows(2).any(|pair| pair[0].0 >= pair[1].0)
        {
            return Err(Unsure);
        }
        let mut seen = observed.iter().peekable();
        let in_range: Vec<Key> = if range.start < range.end {
            self.keys
                .range(range.start.clone()..range.end.clone())
                .filter(|(_, state)| state.has_version())
                .map(|(key, _)| key.clone())
                .collect()
        } else {
            Vec::new()
        };
        for key in &in_range {
            while let Some((other, writer)) = seen.next_if(|(other, _)| other < key) {
                self.read_item(edges, other, Some(*writer))?;
            }
            let version = seen.next_if(|(other, _)| other == key).map(|(_, w)| *w);
            self.read_item(edges, key, version)?;
        }
        for (other, writer) in seen {
            self.read_item(edges, other, Some(*writer))?;
        }
        self.predicates.insert(range, edges.me);
        Ok(())
    }

    /// The new node's writes: a `ww` edge from each key's last writer and
    /// `rw` edges from the readers of the version it overwrote (or, for a
    /// key's first version, from those that saw it unborn, scans
    /// included).
    fn write_keys(&mut self, edges: &mut NewEdges) {
        let mut covering = Vec::new();
        for &key in &edges.written {
            let state = self.keys.entry(key.clone()).or_default();
            if let Some(&last) = state.writers.back() {
                edges.sources.push(last);
            }
            if state.has_version() {
                edges.sources.extend(state.readers.drain(..));
            } else {
                edges.sources.extend(state.unborn.drain(..));
                covering.clear();
                self.predicates.covering(key, self.front, &mut covering);
                edges.sources.extend_from_slice(&covering);
            }
            let state = self.keys.get_mut(key).expect("just inserted");
            state.writers.push_back(edges.me);
        }
    }

    /// One key read (an item read, or one key of a scan, `version` `None`
    /// when the read saw it unborn).
    fn read_item(
        &mut self,
        edges: &mut NewEdges,
        key: &Key,
        version: Option<TxId>,
    ) -> Result<(), Unsure> {
        let me = edges.me;
        match version {
            Some(writer) if writer == edges.id => {
                // Its own write: no edge to itself, and the write's `ww`
                // edge already orders it before the next writer.
                if edges.wrote(key) {
                    Ok(())
                } else {
                    Err(Unsure)
                }
            }
            Some(INITIAL) => {
                let state = self.keys.get_mut(key).ok_or(Unsure)?;
                match state.writers.front() {
                    Some(&next) => edges.targets.push(next),
                    None => push_once(&mut state.readers, me),
                }
                Ok(())
            }
            Some(writer) => {
                let node = *self.node_of.get(&writer).ok_or(Unsure)?;
                let state = self.keys.get_mut(key).ok_or(Unsure)?;
                let position = state.writers.binary_search(&node).map_err(|_| Unsure)?;
                edges.sources.push(node);
                match state.writers.get(position + 1) {
                    Some(&next) => edges.targets.push(next),
                    None => push_once(&mut state.readers, me),
                }
                Ok(())
            }
            None => match self.keys.get_mut(key) {
                Some(state) if state.initial => Err(Unsure),
                Some(state) if !state.writers.is_empty() => {
                    edges.targets.push(state.writers[0]);
                    Ok(())
                }
                Some(state) => {
                    if !edges.wrote(key) {
                        push_once(&mut state.unborn, me);
                    }
                    Ok(())
                }
                None => {
                    if !edges.wrote(key) {
                        self.keys
                            .entry(key.clone())
                            .or_default()
                            .unborn
                            .push_back(me);
                    }
                    Ok(())
                }
            },
        }
    }

    /// The initial load wrote `key`, as a read of its version shows.
    fn mark_initial(&mut self, key: &Key, me: u32) -> Result<(), Unsure> {
        let front = self.front;
        let state = self.keys.entry(key.clone()).or_default();
        if state.initial {
            return Ok(());
        }
        // A load in the window that did not write the key, a version
        // before the window's first writer, or readers that saw the key
        // unborn: the full check decides.
        if self.initial_in_window || !state.writers.is_empty() || !state.unborn.is_empty() {
            return Err(Unsure);
        }
        let mut covering = Vec::new();
        self.predicates.covering(key, front, &mut covering);
        if covering.iter().any(|&reader| reader != me) {
            return Err(Unsure);
        }
        self.keys.get_mut(key).expect("inserted").initial = true;
        Ok(())
    }

    /// Stores the new node's edges, both directions.
    fn attach(
        &mut self,
        me: u32,
        my_id: TxId,
        mut sources: Vec<u32>,
        mut targets: Vec<u32>,
        excused: &BTreeSet<(TxId, TxId)>,
    ) {
        for list in [&mut sources, &mut targets] {
            list.sort_unstable();
            list.dedup();
            list.retain(|&node| node != me);
        }
        if !excused.is_empty() {
            sources.retain(|&node| !excused.contains(&(self.node(node).id, my_id)));
            targets.retain(|&node| !excused.contains(&(my_id, self.node(node).id)));
        }
        for &source in &sources {
            self.node_mut(source).out.push(me);
        }
        for &target in &targets {
            self.node_mut(target).ins.push(me);
        }
        let node = self.node_mut(me);
        node.ins = sources;
        node.out = targets;
    }

    /// Places a linked node in the topological order. `false`: a cycle
    /// runs through it (it stays unordered until its edges change).
    pub(super) fn order(&mut self, me: u32) -> bool {
        self.unordered = None;
        let latest_source = self
            .node(me)
            .ins
            .iter()
            .copied()
            .max_by_key(|&source| self.node(source).label.expect("older nodes are ordered"));
        if self.node(me).out.is_empty() {
            // Nothing has to come after it: the end of the order.
            let last = self.order.keys().next_back().copied();
            let label = last.map_or(Some(LABEL_START), |last| last.checked_add(LABEL_GAP));
            if let Some(label) = label {
                self.set_label(me, label);
                return true;
            }
            self.renumber();
        }
        let fresh = loop {
            let after = latest_source.map(|source| self.node(source).label.expect("ordered"));
            if let Some(label) = self.free_label_after(after) {
                break label;
            }
            self.renumber();
        };
        let earlier: Vec<u32> = self
            .node(me)
            .out
            .iter()
            .copied()
            .filter(|&target| self.node(target).label.expect("ordered") < fresh)
            .collect();
        if earlier.is_empty() {
            self.set_label(me, fresh);
            return true;
        }
        self.reorder(me, fresh, earlier)
    }

    /// Pearce and Kelly's step for a node whose label would be `fresh`
    /// but that has edges to `earlier` nodes, ordered before it: the
    /// search forward from those over nodes ordered before `fresh` either
    /// meets it (a cycle: `false`, the node stays unordered) or gives the
    /// nodes to move after it, and those its ancestors ordered after the
    /// earliest target move before it, all within their own labels.
    fn reorder(&mut self, me: u32, fresh: u64, earlier: Vec<u32>) -> bool {
        let lower = earlier
            .iter()
            .map(|&target| self.node(target).label.expect("ordered"))
            .min()
            .expect("not empty");
        self.stamp += 1;
        let Some(forward) = self.reached_before(me, fresh, earlier) else {
            self.unordered = Some(me);
            return false;
        };
        let backward = self.ancestors_after(me, lower);
        self.relabel(me, fresh, backward, forward);
        true
    }

    /// Forward from `earlier`, over nodes ordered before `fresh`, stamped
    /// with the current stamp: `None` when the search meets `me`, which
    /// closes a cycle.
    fn reached_before(&mut self, me: u32, fresh: u64, earlier: Vec<u32>) -> Option<Vec<u32>> {
        let stamp = self.stamp;
        let mut forward: Vec<u32> = Vec::new();
        let mut stack = earlier;
        for &target in &stack {
            self.node_mut(target).seen = stamp;
        }
        while let Some(node) = stack.pop() {
            forward.push(node);
            for at in 0..self.node(node).out.len() {
                let next = self.node(node).out[at];
                self.work += 1;
                if next == me {
                    return None;
                }
                let next_node = self.node(next);
                if next_node.seen != stamp && next_node.label.expect("ordered") < fresh {
                    self.node_mut(next).seen = stamp;
                    stack.push(next);
                }
            }
        }
        Some(forward)
    }

    /// Backward from `me`, over nodes ordered after `lower` and not met by
    /// the forward search of the same stamp: its ancestors that must move
    /// before it.
    fn ancestors_after(&mut self, me: u32, lower: u64) -> Vec<u32> {
        let stamp = self.stamp;
        let mut backward: Vec<u32> = Vec::new();
        let mut stack = vec![me];
        self.node_mut(me).seen = stamp;
        while let Some(node) = stack.pop() {
            if node != me {
                backward.push(node);
            }
            for at in 0..self.node(node).ins.len() {
                let previous = self.node(node).ins[at];
                self.work += 1;
                let previous_node = self.node(previous);
                if previous_node.seen != stamp && previous_node.label.expect("ordered") > lower {
                    self.node_mut(previous).seen = stamp;
                    stack.push(previous);
                }
            }
        }
        backward
    }

    /// Gives `backward`, `me` and `forward`, in that order and each in its
    /// old order, the labels they held between them (and `fresh`).
    fn relabel(&mut self, me: u32, fresh: u64, mut backward: Vec<u32>, mut forward: Vec<u32>) {
        let label = |graph: &LiveGraph, node: u32| graph.node(node).label.expect("ordered");
        backward.sort_unstable_by_key(|&node| label(self, node));
        forward.sort_unstable_by_key(|&node| label(self, node));
        let mut pool: Vec<u64> = backward
            .iter()
            .chain(&forward)
            .map(|&node| label(self, node))
            .collect();
        pool.push(fresh);
        pool.sort_unstable();
        for &node in backward.iter().chain(&forward) {
            let old = label(self, node);
            self.order.remove(&old);
        }
        let placed = backward.iter().chain([&me]).chain(&forward);
        for (&node, &new) in placed.zip(&pool) {
            self.set_label(node, new);
        }
    }

    fn set_label(&mut self, node: u32, label: u64) {
        self.node_mut(node).label = Some(label);
        self.order.insert(label, node);
    }

    /// A label not in use after `after` (before every label when `None`)
    /// and before any label after `after`, or `None` when there is no
    /// room. It takes the label just before the next one, so that many
    /// transactions placed after the same one use up the room one label at
    /// a time.
    fn free_label_after(&self, after: Option<u64>) -> Option<u64> {
        match after {
            None => match self.order.keys().next() {
                None => Some(LABEL_START),
                Some(&first) => first.checked_sub(1),
            },
            Some(after) => match self.order.range(after + 1..).next() {
                None => after.checked_add(LABEL_GAP),
                Some((&next, _)) => (next - after >= 2).then_some(next - 1),
            },
        }
    }

    /// Forgets `pruned`, the oldest transactions of the window in commit
    /// order, all linked and ordered. [`Unsure`] when a kept transaction
    /// has an edge into them (a record that breaks the snapshot rule the
    /// pruning relies on).
    pub(super) fn prune(&mut self, pruned: &[CommittedTx]) -> Result<(), Unsure> {
        let mut count = 0usize;
        let mut new_front = self.front;
        for tx in pruned {
            if tx.id == INITIAL {
                self.initial_in_window = false;
            } else {
                count += 1;
                let node = *self.node_of.get(&tx.id).ok_or(Unsure)?;
                new_front = new_front.max(node + 1);
            }
        }
        // Collapsed nodes leave holes: the pruned ones are exactly the
        // kept nodes before the new front.
        let span = (new_front - self.front) as usize;
        let kept_before = self
            .nodes
            .range(..span)
            .filter(|node| node.is_some())
            .count();
        if self.unordered.is_some_and(|node| node < new_front) || kept_before != count {
            return Err(Unsure);
        }
        for node in self.front..new_front {
            if !self.is_kept(node) {
                continue;
            }
            if self
                .node(node)
                .ins
                .iter()
                .any(|&source| source >= new_front)
            {
                return Err(Unsure);
            }
            for at in 0..self.node(node).out.len() {
                let target = self.node(node).out[at];
                if target >= new_front {
                    self.node_mut(target)
                        .ins
                        .retain(|&source| source >= new_front);
                }
            }
            let (id, label) = (self.node(node).id, self.node(node).label);
            self.node_of.remove(&id);
            if let Some(label) = label {
                self.order.remove(&label);
            }
        }
        for tx in pruned {
            for key in touched_keys(tx) {
                let Some(state) = self.keys.get_mut(key) else {
                    continue;
                };
                if drop_pruned(&mut state.writers, new_front) {
                    state.initial = true;
                }
                drop_pruned(&mut state.readers, new_front);
                drop_pruned(&mut state.unborn, new_front);
                if state.is_empty() {
                    self.keys.remove(key);
                }
            }
        }
        self.nodes.drain(..span);
        self.kept -= count;
        self.front = new_front;
        self.drop_front_holes();
        if self.predicates.entries > 2 * self.kept + 64 {
            let front = self.front;
            self.predicates.retain(|reader| reader >= front);
        }
        Ok(())
    }

    /// Advances the front past collapsed nodes.
    fn drop_front_holes(&mut self) {
        while self.nodes.front().is_some_and(Option::is_none) {
            self.nodes.pop_front();
            self.front += 1;
        }
    }

    /// Collapses the checked transactions of `window` (all linked and
    /// ordered) that no future cycle can reach: those that no *open*
    /// transaction reaches in the window's graph, an open one being a
    /// writer committed after the `horizon`, the oldest first snapshot of
    /// any transaction still to commit (see the
    /// [incremental checker](super::incremental) for why that is sound).
    /// The excused pairs count as edges here, so that what goes is closed
    /// under every edge of the full graph: per key, the collapsed writers
    /// come before every kept one, a kept transaction read at most the
    /// last collapsed version of a key and never saw unborn a key that a
    /// collapsed transaction wrote. Returns the positions in `window` of
    /// the collapsed transactions (the initial load among them, which lies
    /// on no cycle), or [`Unsure`] when the graph breaks that closure (a
    /// record the pruning's snapshot rule does not hold for), before
    /// changing anything.
    pub(super) fn collapse(
        &mut self,
        window: &[CommittedTx],
        horizon: u64,
        excused: &BTreeSet<(TxId, TxId)>,
    ) -> Result<Vec<usize>, Unsure> {
        if self.unordered.is_some() {
            return Ok(Vec::new());
        }
        self.stamp += 1;
        self.mark_reached_from_open(window, horizon, excused)?;
        let (dead_positions, dead_nodes) = self.unreached(window)?;
        if dead_positions.is_empty() {
            return Ok(dead_positions);
        }
        self.check_collapse_is_closed(window, &dead_positions, &dead_nodes)?;
        self.forget_collapsed_keys(window, &dead_positions);
        self.remove_collapsed_nodes(&dead_nodes);
        Ok(dead_positions)
    }

    /// Stamps what the open writers of `window` (committed after `horizon`)
    /// reach, counting the `excused` pairs as edges.
    fn mark_reached_from_open(
        &mut self,
        window: &[CommittedTx],
        horizon: u64,
        excused: &BTreeSet<(TxId, TxId)>,
    ) -> Result<(), Unsure> {
        let stamp = self.stamp;
        let mut stack = Vec::new();
        for tx in window {
            if tx.id == INITIAL || tx.commit_seq <= horizon || tx.writes.is_empty() {
                continue;
            }
            let node = *self.node_of.get(&tx.id).ok_or(Unsure)?;
            self.node_mut(node).seen = stamp;
            stack.push(node);
        }
        while let Some(node) = stack.pop() {
            let id = self.node(node).id;
            let excused_targets = excused
                .range((id, TxId::MIN)..=(id, TxId::MAX))
                .filter_map(|(_, to)| self.node_of.get(to).copied());
            let targets: Vec<u32> = self
                .node(node)
                .out
                .iter()
                .copied()
                .chain(excused_targets)
                .collect();
            for target in targets {
                self.work += 1;
                if self.node(target).seen != stamp {
                    self.node_mut(target).seen = stamp;
                    stack.push(target);
                }
            }
        }
        Ok(())
    }

    /// The positions in `window` of what the last search did not reach
    /// (the initial load always), and their nodes.
    fn unreached(&self, window: &[CommittedTx]) -> Result<(Vec<usize>, Vec<u32>), Unsure> {
        let mut dead_positions = Vec::new();
        let mut dead_nodes: Vec<u32> = Vec::new();
        for (at, tx) in window.iter().enumerate() {
            if tx.id == INITIAL {
                dead_positions.push(at);
                continue;
            }
            let node = *self.node_of.get(&tx.id).ok_or(Unsure)?;
            if self.node(node).seen != self.stamp {
                dead_positions.push(at);
                dead_nodes.push(node);
            }
        }
        Ok((dead_positions, dead_nodes))
    }

    /// Checks the closure before changing anything: nothing kept leads
    /// into a collapsed node, and per key the collapsed writers come
    /// first.
    fn check_collapse_is_closed(
        &self,
        window: &[CommittedTx],
        dead_positions: &[usize],
        dead_nodes: &[u32],
    ) -> Result<(), Unsure> {
        let is_dead = |node: u32| self.node(node).seen != self.stamp;
        for &node in dead_nodes {
            if self.node(node).ins.iter().any(|&source| !is_dead(source)) {
                return Err(Unsure);
            }
        }
        for &at in dead_positions {
            for write in &window[at].writes {
                let Some(state) = self.keys.get(&write.key) else {
                    return Err(Unsure);
                };
                let mut writers = state.writers.iter();
                let me = self.node_of.get(&window[at].id).copied();
                if me.is_some()
                    && !writers
                        .by_ref()
                        .take_while(|&&writer| Some(writer) != me)
                        .all(|&writer| is_dead(writer))
                {
                    return Err(Unsure);
                }
            }
        }
        Ok(())
    }

    /// Drops the collapsed transactions from the keys they touched: their
    /// writers from the front of each key's list (the base stands for
    /// them), their reads from the readers.
    fn forget_collapsed_keys(&mut self, window: &[CommittedTx], dead_positions: &[usize]) {
        let stamp = self.stamp;
        for &at in dead_positions {
            let tx = &window[at];
            for key in touched_keys(tx) {
                let Some(state) = self.keys.get_mut(key) else {
                    continue;
                };
                let (front, nodes) = (self.front, &self.nodes);
                let kept = |node: &u32| reached(nodes, front, *node, stamp);
                let mut dropped = false;
                while state.writers.front().is_some_and(|first| !kept(first)) {
                    state.writers.pop_front();
                    dropped = true;
                }
                if dropped || (tx.id == INITIAL && tx.writes.iter().any(|w| &w.key == key)) {
                    state.initial = true;
                }
                state.readers.retain(kept);
                state.unborn.retain(kept);
                if state.is_empty() {
                    self.keys.remove(key);
                }
            }
            if tx.id == INITIAL {
                self.initial_in_window = false;
            }
        }
    }

    /// Removes the collapsed nodes, their edges into kept ones, their
    /// labels and their scans, leaving holes in the window.
    fn remove_collapsed_nodes(&mut self, dead_nodes: &[u32]) {
        let stamp = self.stamp;
        let is_dead = |graph: &LiveGraph, node: u32| graph.node(node).seen != stamp;
        for &node in dead_nodes {
            for at in 0..self.node(node).out.len() {
                let target = self.node(node).out[at];
                if !is_dead(self, target) {
                    self.node_mut(target).ins.retain(|&source| source != node);
                }
            }
        }
        for &node in dead_nodes {
            let (id, label) = (self.node(node).id, self.node(node).label);
            self.node_of.remove(&id);
            if let Some(label) = label {
                self.order.remove(&label);
            }
            self.nodes[(node - self.front) as usize] = None;
        }
        self.kept -= dead_nodes.len();
        let (front, nodes) = (self.front, &self.nodes);
        self.predicates
            .retain(|reader| reached(nodes, front, reader, stamp));
        self.drop_front_holes();
    }

    /// Removes the edges between the `pairs` of transactions (`(from,
    /// to)`), which the checker excused.
    pub(super) fn remove_pairs(&mut self, pairs: &[(TxId, TxId)]) {
        for (from, to) in pairs {
            let (Some(&from), Some(&to)) = (self.node_of.get(from), self.node_of.get(to)) else {
                continue;
            };
            self.node_mut(from).out.retain(|&node| node != to);
            self.node_mut(to).ins.retain(|&node| node != from);
        }
    }

    /// The node whose cycle is unresolved, if any.
    pub(super) fn unordered(&self) -> Option<u32> {
        self.unordered
    }

    /// Spreads the labels out again, keeping the order.
    fn renumber(&mut self) {
        let nodes: Vec<u32> = self.order.values().copied().collect();
        self.order.clear();
        let start = LABEL_START - (nodes.len() as u64 / 2) * LABEL_GAP;
        for (at, node) in nodes.into_iter().enumerate() {
            self.set_label(node, start + at as u64 * LABEL_GAP);
        }
    }
}

/// Whether `node` is in the window and was reached by the search stamped
/// `stamp`.
fn reached(nodes: &VecDeque<Option<Node>>, front: u32, node: u32, stamp: u32) -> bool {
    node >= front
        && nodes
            .get((node - front) as usize)
            .and_then(Option::as_ref)
            .is_some_and(|n| n.seen == stamp)
}

/// The keys `tx` wrote, read, or saw in a scan.
fn touched_keys(tx: &CommittedTx) -> impl Iterator<Item = &Key> {
    let read_keys = tx.reads.iter().flat_map(|read| match read {
        ReadRecord::Item { key, .. } => std::slice::from_ref(key).iter(),
        ReadRecord::Predicate { .. } => [].iter(),
    });
    let observed = tx.reads.iter().flat_map(|read| match read {
        ReadRecord::Item { .. } => [].iter(),
        ReadRecord::Predicate { observed, .. } => observed.iter(),
    });
    tx.writes
        .iter()
        .map(|write| &write.key)
        .chain(read_keys)
        .chain(observed.map(|(key, _)| key))
}

fn push_once(list: &mut VecDeque<u32>, node: u32) {
    if list.back() != Some(&node) {
        list.push_back(node);
    }
}

/// Drops the pruned nodes (below `front`) from the head of a node-ordered
/// list; whether any went.
fn drop_pruned(list: &mut VecDeque<u32>, front: u32) -> bool {
    let before = list.len();
    while list.front().is_some_and(|&node| node < front) {
        list.pop_front();
    }
    list.len() != before
}
