//! Cycle detection (Tarjan's strongly connected components, iterative so
//! that a history of a million transactions cannot overflow the stack) and
//! classification of the weakest anomaly a cyclic graph shows.
//!
//! Each class is decided exactly: a class is reported only when a cycle of
//! that class exists, and never skipped when one does. Only the *length* of
//! the reported cycle is best effort: it is the shortest found within a
//! bounded amount of breadth-first search.

use super::graph::{kind_of, Graph, Link, ALL, RW_ITEM, RW_PREDICATE, WR, WW};
use super::{describe_cycle, Anomaly, AnomalyKind, Edge};
use std::collections::VecDeque;

/// No node or component.
const NONE: u32 = u32::MAX;

/// Edges scanned while looking for a *shorter* cycle once one is known.
/// Bounds the cost of classifying huge cyclic components (long Read
/// Committed runs) while keeping short counterexamples for small ones.
const SHORTER_CYCLE_WORK_MAX: usize = 1 << 22;

/// A cycle as `(from node, edge)` pairs, in order.
type NodeCycle = Vec<(u32, Link)>;

/// The weakest anomaly of the graph, or `None` when it is acyclic.
pub(super) fn weakest_anomaly(graph: &Graph) -> Option<Anomaly> {
    let everything = Components::new(graph, ALL);
    if everything.cyclic.is_empty() {
        return None;
    }
    // Every cycle lies inside one component of the whole graph, and within
    // a kind-restricted graph, inside one of its own components.
    let write_only = Components::new(graph, WW);
    if !write_only.cyclic.is_empty() {
        let cycle = shortest_cycle(graph, &write_only, WW);
        return Some(anomaly(graph, AnomalyKind::G0, cycle));
    }
    let dependencies = Components::new(graph, WW | WR);
    if !dependencies.cyclic.is_empty() {
        let cycle = shortest_cycle(graph, &dependencies, WW | WR);
        return Some(anomaly(graph, AnomalyKind::G1c, cycle));
    }
    if let Some(cycle) = single_anti_dependency_cycle(graph, &everything, &dependencies) {
        return Some(anomaly(graph, AnomalyKind::GSingle, cycle));
    }
    let items = Components::new(graph, WW | WR | RW_ITEM);
    if !items.cyclic.is_empty() {
        let cycle = shortest_cycle(graph, &items, WW | WR | RW_ITEM);
        return Some(anomaly(graph, AnomalyKind::G2Item, cycle));
    }
    // No cycle avoids predicate anti-dependencies, so every cycle of the
    // whole graph has one.
    let cycle = shortest_cycle(graph, &everything, ALL);
    Some(anomaly(graph, AnomalyKind::G2, cycle))
}

/// Strongly connected components of the graph restricted to some edge
/// kinds.
struct Components {
    /// Component of each node, numbered in the order Tarjan's algorithm
    /// completes them, which is a reverse topological order: for an edge
    /// `a -> b` across components, `number[a] > number[b]`.
    number: Vec<u32>,
    /// The components with two nodes or more (the only ones with cycles,
    /// as there are no self-edges), each in node order, ordered by their
    /// first node.
    cyclic: Vec<Vec<u32>>,
}

impl Components {
    fn new(graph: &Graph, allowed: u8) -> Components {
        let node_count = graph.node_count();
        let mut tarjan = Tarjan {
            index: vec![NONE; node_count],
            low: vec![0; node_count],
            on_stack: vec![false; node_count],
            number: vec![NONE; node_count],
            sizes: Vec::new(),
            stack: Vec::new(),
            frames: Vec::new(),
            next_index: 0,
        };
        for root in 0..node_count as u32 {
            if tarjan.index[root as usize] == NONE {
                tarjan.run_from(graph, allowed, root);
            }
        }
        let Tarjan { number, sizes, .. } = tarjan;
        let mut slot_of_component = vec![NONE; sizes.len()];
        let mut cyclic: Vec<Vec<u32>> = Vec::new();
        for node in 0..node_count as u32 {
            let component = number[node as usize] as usize;
            if sizes[component] < 2 {
                continue;
            }
            if slot_of_component[component] == NONE {
                slot_of_component[component] = cyclic.len() as u32;
                cyclic.push(Vec::new());
            }
            cyclic[slot_of_component[component] as usize].push(node);
        }
        Components { number, cyclic }
    }

    fn same(&self, a: u32, b: u32) -> bool {
        self.number[a as usize] == self.number[b as usize]
    }
}

/// Tarjan's algorithm with an explicit call stack.
struct Tarjan {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    number: Vec<u32>,
    sizes: Vec<u32>,
    stack: Vec<u32>,
    /// The call stack: (node, position of its next edge).
    frames: Vec<(u32, usize)>,
    next_index: u32,
}

impl Tarjan {
    fn enter(&mut self, node: u32) {
        self.index[node as usize] = self.next_index;
        self.low[node as usize] = self.next_index;
        self.next_index += 1;
        self.stack.push(node);
        self.on_stack[node as usize] = true;
        self.frames.push((node, 0));
    }

    fn run_from(&mut self, graph: &Graph, allowed: u8, root: u32) {
        self.enter(root);
        while let Some(&(node, position)) = self.frames.last() {
            if let Some(link) = graph.out(node).get(position) {
                self.frames.last_mut().expect("a frame is open").1 += 1;
                if link.kind & allowed == 0 {
                    continue;
                }
                let target = link.to as usize;
                if self.index[target] == NONE {
                    self.enter(link.to);
                } else if self.on_stack[target] {
                    self.low[node as usize] = self.low[node as usize].min(self.index[target]);
                }
                continue;
            }
            self.frames.pop();
            if let Some(&(parent, _)) = self.frames.last() {
                self.low[parent as usize] = self.low[parent as usize].min(self.low[node as usize]);
            }
            if self.low[node as usize] == self.index[node as usize] {
                self.complete(node);
            }
        }
    }

    /// Pops the component rooted at `root` off the stack.
    fn complete(&mut self, root: u32) {
        let component = self.sizes.len() as u32;
        let mut size = 0u32;
        loop {
            let member = self.stack.pop().expect("the root is on the stack");
            self.on_stack[member as usize] = false;
            self.number[member as usize] = component;
            size += 1;
            if member == root {
                break;
            }
        }
        self.sizes.push(size);
    }
}

/// Breadth-first search scratch space, reused across searches: a node is
/// visited in the current search when its stamp is the current one.
struct Search {
    stamp: Vec<u32>,
    current: u32,
    /// How each visited node was reached: the previous node and the edge.
    parent: Vec<(u32, Link)>,
    queue: VecDeque<u32>,
    /// Edges scanned so far, over all searches.
    work: usize,
}

impl Search {
    fn new(node_count: usize) -> Search {
        Search {
            stamp: vec![0; node_count],
            current: 0,
            parent: vec![(NONE, Link::NONE); node_count],
            queue: VecDeque::new(),
            work: 0,
        }
    }

    fn start(&mut self, node: u32) {
        self.current += 1;
        self.queue.clear();
        self.stamp[node as usize] = self.current;
        self.queue.push_back(node);
    }

    fn visited(&self, node: u32) -> bool {
        self.stamp[node as usize] == self.current
    }

    /// The shortest cycle through `start` over `allowed` edges that stays
    /// in `start`'s component.
    fn cycle_through(
        &mut self,
        graph: &Graph,
        start: u32,
        allowed: u8,
        components: &Components,
    ) -> Option<NodeCycle> {
        self.start(start);
        while let Some(node) = self.queue.pop_front() {
            for &link in graph.out(node) {
                self.work += 1;
                if link.kind & allowed == 0 || !components.same(start, link.to) {
                    continue;
                }
                if link.to == start {
                    let mut cycle = self.path_back(node, start);
                    cycle.push((node, link));
                    return Some(cycle);
                }
                if !self.visited(link.to) {
                    self.stamp[link.to as usize] = self.current;
                    self.parent[link.to as usize] = (node, link);
                    self.queue.push_back(link.to);
                }
            }
        }
        None
    }

    /// The edges from `origin` to `node` along parent links, in order.
    fn path_back(&self, mut node: u32, origin: u32) -> NodeCycle {
        let mut path = Vec::new();
        while node != origin {
            let (previous, link) = self.parent[node as usize];
            path.push((previous, link));
            node = previous;
        }
        path.reverse();
        path
    }
}

/// A short cycle over `allowed` edges in one of `components`' cyclic
/// components (there must be one): the shortest through each start node,
/// trying start nodes until a 2-cycle turns up or the work bound is spent.
fn shortest_cycle(graph: &Graph, components: &Components, allowed: u8) -> NodeCycle {
    let mut search = Search::new(graph.node_count());
    let mut best: Option<NodeCycle> = None;
    'components: for component in &components.cyclic {
        for &start in component {
            if best.is_some() && search.work > SHORTER_CYCLE_WORK_MAX {
                break 'components;
            }
            let Some(cycle) = search.cycle_through(graph, start, allowed, components) else {
                unreachable!("a node of a cyclic component lies on a cycle");
            };
            if best.as_ref().is_none_or(|known| cycle.len() < known.len()) {
                best = Some(cycle);
            }
            if best.as_ref().is_some_and(|known| known.len() == 2) {
                break 'components;
            }
        }
    }
    best.expect("there is a cyclic component")
}

/// Predecessors over `ww`/`wr` edges, for the nodes of cyclic components of
/// the whole graph: `sources[offsets[b]..offsets[b + 1]]` holds `(a, a -> b)`.
struct Predecessors {
    offsets: Vec<usize>,
    sources: Vec<(u32, Link)>,
}

impl Predecessors {
    fn new(graph: &Graph, everything: &Components) -> Predecessors {
        let node_count = graph.node_count();
        let mut pairs: Vec<(u32, u32, Link)> = Vec::new();
        for component in &everything.cyclic {
            for &from in component {
                for &link in graph.out(from) {
                    if link.kind & (WW | WR) != 0 && everything.same(from, link.to) {
                        pairs.push((link.to, from, link));
                    }
                }
            }
        }
        let mut offsets = vec![0usize; node_count + 1];
        for &(to, _, _) in &pairs {
            offsets[to as usize + 1] += 1;
        }
        for node in 0..node_count {
            offsets[node + 1] += offsets[node];
        }
        let mut cursor = offsets.clone();
        let mut sources = vec![(NONE, Link::NONE); pairs.len()];
        for (to, from, link) in pairs {
            sources[cursor[to as usize]] = (from, link);
            cursor[to as usize] += 1;
        }
        Predecessors { offsets, sources }
    }

    fn of(&self, node: u32) -> &[(u32, Link)] {
        &self.sources[self.offsets[node as usize]..self.offsets[node as usize + 1]]
    }
}

/// A cycle with exactly one anti-dependency `u -rw-> v` closed by a path
/// of `ww`/`wr` edges from `v` back to `u`, if any exists.
///
/// Called only when the `ww`/`wr` graph is acyclic, so `dependencies`
/// numbers it in reverse topological order: `v` can reach `u` only when
/// `number[v] > number[u]`. For each `u`, one backward search from `u`
/// finds the nearest of its anti-dependency targets, visiting only nodes
/// whose numbers lie between `u`'s and its farthest target's.
fn single_anti_dependency_cycle(
    graph: &Graph,
    everything: &Components,
    dependencies: &Components,
) -> Option<NodeCycle> {
    let order = &dependencies.number;
    let predecessors = Predecessors::new(graph, everything);
    let mut search = Search::new(graph.node_count());
    // target_link[v]: the anti-dependency u -> v of the current u, valid
    // when target_stamp[v] is the current u + 1.
    let mut target_stamp = vec![0u32; graph.node_count()];
    let mut target_link = vec![Link::NONE; graph.node_count()];
    let mut best: Option<NodeCycle> = None;
    for component in &everything.cyclic {
        for &u in component {
            if best.is_some() && search.work > SHORTER_CYCLE_WORK_MAX {
                return best;
            }
            let mut farthest = None;
            for &link in graph.out(u) {
                let v = link.to;
                let is_candidate = link.kind & (RW_ITEM | RW_PREDICATE) != 0
                    && everything.same(u, v)
                    && order[v as usize] > order[u as usize]
                    && target_stamp[v as usize] != u + 1;
                if is_candidate {
                    target_stamp[v as usize] = u + 1;
                    target_link[v as usize] = link;
                    farthest = farthest.max(Some(order[v as usize]));
                }
            }
            let Some(farthest) = farthest else { continue };
            search.start(u);
            'search: while let Some(node) = search.queue.pop_front() {
                for &(source, link) in predecessors.of(node) {
                    search.work += 1;
                    if search.visited(source) || order[source as usize] > farthest {
                        continue;
                    }
                    search.stamp[source as usize] = search.current;
                    // Walking backwards: the parent of `source` is where
                    // its edge leads, one step closer to `u`.
                    search.parent[source as usize] = (node, link);
                    if target_stamp[source as usize] == u + 1 {
                        let cycle = close_single(&search, u, source, target_link[source as usize]);
                        if best.as_ref().is_none_or(|known| cycle.len() < known.len()) {
                            best = Some(cycle);
                        }
                        break 'search;
                    }
                    search.queue.push_back(source);
                }
            }
            if best.as_ref().is_some_and(|known| known.len() == 2) {
                return best;
            }
        }
    }
    best
}

/// `u -rw-> v`, then the forward path from `v` to `u` recorded by a
/// backward search from `u`.
fn close_single(search: &Search, u: u32, v: u32, anti_dependency: Link) -> NodeCycle {
    let mut cycle = vec![(u, anti_dependency)];
    let mut node = v;
    while node != u {
        let (next, link) = search.parent[node as usize];
        cycle.push((node, link));
        node = next;
    }
    cycle
}

/// The anomaly for a cycle, rotated to start at its earliest-committed
/// transaction so that the report does not depend on where a search began.
fn anomaly(graph: &Graph, kind: AnomalyKind, mut cycle: NodeCycle) -> Anomaly {
    let earliest = (0..cycle.len())
        .min_by_key(|&at| cycle[at].0)
        .expect("a cycle has edges");
    cycle.rotate_left(earliest);
    let edges: Vec<Edge> = cycle
        .iter()
        .map(|&(from, link)| graph.edge(from, link))
        .collect();
    let anti_dependencies = cycle
        .iter()
        .filter(|(_, link)| kind_of(link.kind).is_anti_dependency())
        .count();
    let predicate = cycle
        .iter()
        .filter(|(_, link)| link.kind == RW_PREDICATE)
        .count();
    let transactions = cycle.len();
    let account = match kind {
        AnomalyKind::G0 => {
            format!("dirty write: a cycle of write-write dependencies through {transactions} transactions")
        }
        AnomalyKind::G1c => format!(
            "circular information flow: a cycle of write dependencies through \
             {transactions} transactions"
        ),
        AnomalyKind::GSingle => format!(
            "read skew: a cycle through {transactions} transactions with exactly one \
             anti-dependency"
        ),
        AnomalyKind::G2Item => format!(
            "write skew: a cycle through {transactions} transactions with \
             {anti_dependencies} item anti-dependencies"
        ),
        AnomalyKind::G2 => format!(
            "phantom: a cycle through {transactions} transactions with {anti_dependencies} \
             anti-dependencies, {predicate} from predicate reads"
        ),
        _ => unreachable!("{kind:?} is not a cycle class"),
    };
    let message = format!("{account}: {}", describe_cycle(&edges));
    Anomaly {
        kind,
        cycle: edges,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    /// A graph from `(from, to, kind)` edges on key `k/<index>` (edge
    /// index), with transaction ids 10, 11, ... for nodes 0, 1, ...
    fn graph(node_count: u32, edges: &[(u32, u32, u8)]) -> Graph {
        let ids = (0..node_count as u64).map(|node| 10 + node).collect();
        let keys = (0..edges.len())
            .map(|at| Key::raw(&format!("k/{at}")))
            .collect();
        let links = edges
            .iter()
            .enumerate()
            .map(|(at, &(from, to, kind))| {
                (
                    from,
                    Link {
                        to,
                        kind,
                        key: at as u32,
                    },
                )
            })
            .collect();
        Graph::from_edges(ids, keys, links)
    }

    fn kinds(anomaly: &Anomaly) -> Vec<&'static str> {
        anomaly.cycle.iter().map(|edge| edge.kind.label()).collect()
    }

    #[test]
    fn acyclic_graph_has_no_anomaly() {
        let g = graph(3, &[(0, 1, WW), (1, 2, RW_ITEM), (0, 2, WR)]);
        assert_eq!(weakest_anomaly(&g), None);
    }

    #[test]
    fn write_write_cycle_is_g0_even_beside_weaker_cycles() {
        // A G1c cycle 0 -> 1 -> 0 and a G0 cycle 2 -> 3 -> 4 -> 2.
        let g = graph(
            5,
            &[
                (0, 1, WR),
                (1, 0, WW),
                (2, 3, WW),
                (3, 4, WW),
                (4, 2, WW),
                (4, 2, RW_ITEM),
            ],
        );
        let anomaly = weakest_anomaly(&g).expect("cyclic");
        assert_eq!(anomaly.kind, AnomalyKind::G0);
        assert_eq!(anomaly.transactions(), vec![12, 13, 14]);
        assert_eq!(kinds(&anomaly), vec!["ww", "ww", "ww"]);
    }

    #[test]
    fn single_anti_dependency_found_beyond_longer_cycles() {
        // Two rw edges make 0 <-> 1 a write skew, but 2 -> 3 -> 4 -rw-> 2
        // has a single anti-dependency: the weaker class wins.
        let g = graph(
            5,
            &[
                (0, 1, RW_ITEM),
                (1, 0, RW_ITEM),
                (2, 3, WR),
                (3, 4, WW),
                (4, 2, RW_PREDICATE),
            ],
        );
        let anomaly = weakest_anomaly(&g).expect("cyclic");
        assert_eq!(anomaly.kind, AnomalyKind::GSingle);
        assert_eq!(anomaly.transactions(), vec![12, 13, 14]);
        assert_eq!(kinds(&anomaly), vec!["wr", "ww", "rw-predicate"]);
    }

    #[test]
    fn shortest_cycle_is_preferred() {
        // 0 -> 1 -> 2 -> 3 -> 0 and the chord 2 -> 0 (all wr).
        let g = graph(
            4,
            &[(0, 1, WR), (1, 2, WR), (2, 3, WR), (3, 0, WR), (2, 0, WR)],
        );
        let anomaly = weakest_anomaly(&g).expect("cyclic");
        assert_eq!(anomaly.kind, AnomalyKind::G1c);
        assert_eq!(anomaly.transactions(), vec![10, 11, 12]);
    }

    #[test]
    fn deep_components_do_not_overflow_the_stack() {
        let node_count = 300_000u32;
        let mut edges: Vec<(u32, u32, u8)> = (0..node_count - 1)
            .map(|node| (node, node + 1, WR))
            .collect();
        edges.push((node_count - 1, 0, RW_ITEM));
        let g = graph(node_count, &edges);
        let anomaly = weakest_anomaly(&g).expect("cyclic");
        assert_eq!(anomaly.kind, AnomalyKind::GSingle);
        assert_eq!(anomaly.cycle.len(), node_count as usize);
    }
}
