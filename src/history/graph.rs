//! The direct serialization graph, strongly connected components and the
//! classification of cycles.

use super::{
    describe_cycle, read_versions, Anomaly, AnomalyKind, CheckStats, Edge, EdgeKind, VersionIndex,
};
use crate::store::{CommittedTx, Key, TxId};
use std::collections::{BTreeMap, VecDeque};

/// At most this many start nodes are tried when searching one component
/// for a short cycle: enough for a short counterexample, bounded for
/// histories with huge cyclic components (Read Committed runs).
const CYCLE_SEARCH_STARTS: usize = 8;

/// At most this many anti-dependency edges are tried as the single `rw`
/// edge of a G-single cycle.
const G_SINGLE_SEARCHES: usize = 256;

struct Graph {
    ids: Vec<TxId>,
    /// Outgoing edges by node: (target node, kind, key).
    out: Vec<Vec<(usize, EdgeKind, Key)>>,
    edges: usize,
}

impl Graph {
    fn build(history: &[CommittedTx], index: &VersionIndex) -> Result<Graph, Anomaly> {
        let mut node_of: BTreeMap<TxId, usize> = BTreeMap::new();
        let ids: Vec<TxId> = history.iter().map(|tx| tx.id).collect();
        for (node, tx) in history.iter().enumerate() {
            node_of.insert(tx.id, node);
        }
        let mut out: Vec<Vec<(usize, EdgeKind, Key)>> = vec![Vec::new(); history.len()];
        // Duplicate edges change neither the cycles nor their classes, so
        // only the cheap case (the same edge twice in a row) is folded.
        let add = |from: usize,
                   to: usize,
                   kind: EdgeKind,
                   key: &Key,
                   out: &mut Vec<Vec<(usize, EdgeKind, Key)>>| {
            let repeated = out[from]
                .last()
                .is_some_and(|(t, k, _)| *t == to && *k == kind);
            if from != to && !repeated {
                out[from].push((to, kind, key.clone()));
            }
        };
        for (key, writers) in &index.writers {
            for pair in writers.windows(2) {
                add(
                    node_of[&pair[0]],
                    node_of[&pair[1]],
                    EdgeKind::Ww,
                    key,
                    &mut out,
                );
            }
        }
        for (reader_node, tx) in history.iter().enumerate() {
            for read in &tx.reads {
                for (key, seen, predicate) in read_versions(read, index) {
                    if seen == Some(tx.id) {
                        if !tx.writes.iter().any(|w| w.key == key) {
                            return Err(bad_read(
                                AnomalyKind::G1b,
                                tx.id,
                                tx.id,
                                &key,
                                "its own write, which it never committed",
                            ));
                        }
                        continue;
                    }
                    if let Some(writer) = seen {
                        match node_of.get(&writer) {
                            Some(&writer_node) => {
                                let installed = index.installed(&key, writer);
                                if !installed {
                                    return Err(bad_read(
                                        AnomalyKind::G1b,
                                        writer,
                                        tx.id,
                                        &key,
                                        "a version its committed writer did not install",
                                    ));
                                }
                                add(writer_node, reader_node, EdgeKind::Wr, &key, &mut out);
                            }
                            // Version 0 without transaction 0 in the history
                            // is the initial state, which precedes everything.
                            None if writer == 0 => {}
                            None => {
                                return Err(bad_read(
                                    AnomalyKind::G1a,
                                    writer,
                                    tx.id,
                                    &key,
                                    "a version whose writer never committed",
                                ))
                            }
                        }
                    }
                    let next = match seen {
                        Some(0) if !node_of.contains_key(&0) => {
                            index.writers.get(&key).and_then(|ws| ws.first().copied())
                        }
                        _ => index.next_after(&key, seen),
                    };
                    if let Some(next) = next {
                        add(
                            reader_node,
                            node_of[&next],
                            EdgeKind::Rw { predicate },
                            &key,
                            &mut out,
                        );
                    }
                }
            }
        }
        let edges = out.iter().map(Vec::len).sum();
        Ok(Graph { ids, out, edges })
    }

    /// Strongly connected components (Tarjan, iterative), using only edges
    /// that pass `allowed`. Returns components with more than one node.
    fn cyclic_components(&self, allowed: &dyn Fn(EdgeKind) -> bool) -> Vec<Vec<usize>> {
        let n = self.out.len();
        let mut index_of = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<usize> = Vec::new();
        let mut components = Vec::new();
        let mut next_index = 0usize;
        for root in 0..n {
            if index_of[root] != usize::MAX {
                continue;
            }
            // Frames of (node, next edge position).
            let mut frames: Vec<(usize, usize)> = vec![(root, 0)];
            index_of[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (node, ref mut position)) = frames.last_mut() {
                if let Some((target, kind, _)) = self.out[node].get(*position) {
                    *position += 1;
                    if !allowed(*kind) {
                        continue;
                    }
                    let target = *target;
                    if index_of[target] == usize::MAX {
                        index_of[target] = next_index;
                        low[target] = next_index;
                        next_index += 1;
                        stack.push(target);
                        on_stack[target] = true;
                        frames.push((target, 0));
                    } else if on_stack[target] {
                        low[node] = low[node].min(index_of[target]);
                    }
                    continue;
                }
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index_of[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort_unstable();
                        components.push(component);
                    }
                }
            }
        }
        components
    }

    /// The shortest path from `start` to `goal` over allowed edges inside
    /// `members` (BFS), as edges. `members` is indexed by node.
    fn shortest_path(
        &self,
        start: usize,
        goal: usize,
        members: &[bool],
        allowed: &dyn Fn(EdgeKind) -> bool,
    ) -> Option<Vec<Edge>> {
        // Predecessor of each reached node: (node, edge index in its list).
        let mut previous: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for (position, (target, kind, _)) in self.out[node].iter().enumerate() {
                let target = *target;
                if !allowed(*kind) || !members[target] {
                    continue;
                }
                if target == goal {
                    let mut path = vec![self.edge_at(node, position)];
                    let mut cursor = node;
                    while cursor != start {
                        let (from, at) = previous[&cursor];
                        path.push(self.edge_at(from, at));
                        cursor = from;
                    }
                    path.reverse();
                    return Some(path);
                }
                if target != start && !previous.contains_key(&target) {
                    previous.insert(target, (node, position));
                    queue.push_back(target);
                }
            }
        }
        None
    }

    fn edge_at(&self, from: usize, position: usize) -> Edge {
        let (to, kind, key) = &self.out[from][position];
        self.edge(from, *to, *kind, key)
    }

    fn membership(&self, component: &[usize]) -> Vec<bool> {
        let mut members = vec![false; self.out.len()];
        for &node in component {
            members[node] = true;
        }
        members
    }

    fn edge(&self, from: usize, to: usize, kind: EdgeKind, key: &Key) -> Edge {
        Edge {
            from: self.ids[from],
            to: self.ids[to],
            kind,
            key: key.clone(),
        }
    }

    /// The shortest cycle through allowed edges in a component, trying a
    /// bounded number of start nodes.
    fn shortest_cycle(
        &self,
        component: &[usize],
        allowed: &dyn Fn(EdgeKind) -> bool,
    ) -> Option<Vec<Edge>> {
        let members = self.membership(component);
        let mut best: Option<Vec<Edge>> = None;
        for &start in component.iter().take(CYCLE_SEARCH_STARTS) {
            if let Some(cycle) = self.shortest_path(start, start, &members, allowed) {
                if best.as_ref().is_none_or(|b| cycle.len() < b.len()) {
                    best = Some(cycle);
                }
            }
        }
        best
    }
}

fn bad_read(kind: AnomalyKind, writer: TxId, reader: TxId, key: &Key, what: &str) -> Anomaly {
    let edge = Edge {
        from: writer,
        to: reader,
        kind: EdgeKind::Wr,
        key: key.clone(),
    };
    Anomaly {
        kind,
        message: format!("T{reader} read {what} (T{writer}'s write of {key})"),
        cycle: vec![edge],
    }
}

fn anomaly(kind: AnomalyKind, cycle: Vec<Edge>) -> Anomaly {
    let message = describe_cycle(&cycle);
    Anomaly {
        kind,
        cycle,
        message,
    }
}

fn is_dependency(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::Ww | EdgeKind::Wr)
}

pub(super) fn check(history: &[CommittedTx]) -> Result<CheckStats, Anomaly> {
    let index = VersionIndex::new(history);
    let graph = Graph::build(history, &index)?;
    let stats = CheckStats {
        transactions: history.len(),
        edges: graph.edges,
    };
    let everything = |_: EdgeKind| true;
    let components = graph.cyclic_components(&everything);
    if components.is_empty() {
        return Ok(stats);
    }
    // Weakest class first: only ww; then ww + wr.
    let only_ww = |k: EdgeKind| k == EdgeKind::Ww;
    if let Some(cycle) = find_cycle(&graph, &only_ww) {
        return Err(anomaly(AnomalyKind::G0, cycle));
    }
    if let Some(cycle) = find_cycle(&graph, &is_dependency) {
        return Err(anomaly(AnomalyKind::G1c, cycle));
    }
    // G-single: one anti-dependency u -> v closed by dependencies v ->* u.
    // Each candidate costs a search, so the number tried is bounded; a
    // G-single cycle missed past the bound is still reported, as G2-item
    // or G2 (never as serializable).
    let mut best_single: Option<Vec<Edge>> = None;
    let mut searches = 0usize;
    'components: for component in &components {
        let members = graph.membership(component);
        for &u in component {
            for (v, kind, key) in &graph.out[u] {
                if !matches!(kind, EdgeKind::Rw { .. }) || !members[*v] {
                    continue;
                }
                searches += 1;
                if searches > G_SINGLE_SEARCHES {
                    break 'components;
                }
                if let Some(back) = graph.shortest_path(*v, u, &members, &is_dependency) {
                    let mut cycle = vec![graph.edge(u, *v, *kind, key)];
                    cycle.extend(back);
                    if best_single.as_ref().is_none_or(|b| cycle.len() < b.len()) {
                        best_single = Some(cycle);
                    }
                }
            }
        }
    }
    if let Some(cycle) = best_single {
        return Err(anomaly(AnomalyKind::GSingle, cycle));
    }
    let item_only = |k: EdgeKind| k != EdgeKind::Rw { predicate: true };
    if let Some(cycle) = find_cycle(&graph, &item_only) {
        return Err(anomaly(AnomalyKind::G2Item, cycle));
    }
    let cycle = find_cycle(&graph, &everything).expect("a cyclic component has a cycle");
    Err(anomaly(AnomalyKind::G2, cycle))
}

fn find_cycle(graph: &Graph, allowed: &dyn Fn(EdgeKind) -> bool) -> Option<Vec<Edge>> {
    graph
        .cyclic_components(allowed)
        .iter()
        .filter_map(|component| graph.shortest_cycle(component, allowed))
        .min_by_key(Vec::len)
}
