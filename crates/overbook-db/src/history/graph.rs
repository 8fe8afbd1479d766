//! Builds the direct serialization graph from the record, validating every
//! read on the way.
//!
//! Nodes are the transactions in commit order; edges are stored once, in
//! compressed rows (one slice of outgoing edges per node), with keys
//! replaced by small integers, because long simulations give graphs of
//! millions of edges and the common case (a serializable history) only
//! needs one pass over them.

use super::{Anomaly, AnomalyKind, Edge, EdgeKind};
use crate::store::{CommittedTx, Isolation, Key, KeyRange, ReadRecord, TxId, WriteRecord};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Edge kinds as bits, so that a search can take a set of allowed kinds.
pub(super) const WW: u8 = 1;
/// Write-read edges.
pub(super) const WR: u8 = 2;
/// Anti-dependencies from item reads.
pub(super) const RW_ITEM: u8 = 4;
/// Anti-dependencies from predicate reads.
pub(super) const RW_PREDICATE: u8 = 8;
/// Every kind.
pub(super) const ALL: u8 = WW | WR | RW_ITEM | RW_PREDICATE;

/// The id the initial load has, present in the history or not.
const INITIAL: TxId = 0;

/// One outgoing edge: target node, kind bit, key number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) to: u32,
    pub(super) kind: u8,
    pub(super) key: u32,
}

impl Link {
    /// A placeholder for slots not yet filled.
    pub(super) const NONE: Link = Link {
        to: u32::MAX,
        kind: 0,
        key: 0,
    };
}

/// The serialization graph. Node `n` is the `n`-th transaction in commit
/// order; its outgoing edges are `links[offsets[n]..offsets[n + 1]]`.
#[derive(Debug)]
pub(super) struct Graph {
    ids: Vec<TxId>,
    keys: Vec<Key>,
    offsets: Vec<usize>,
    links: Vec<Link>,
}

impl Graph {
    /// Validates the record and builds its graph.
    pub(super) fn build(history: &[CommittedTx]) -> Result<Graph, Anomaly> {
        let synthesized = synthesized_initial(history);
        let mut txs: Vec<&CommittedTx> = history.iter().chain(synthesized.as_ref()).collect();
        assert!(
            txs.len() < NONE as usize,
            "history too long for 32-bit node numbers"
        );
        // Commit order, so that each key's writers are met in version order.
        txs.sort_by_key(|tx| (tx.commit_seq, tx.id));
        for tx in &txs {
            validate_transaction(tx)?;
        }
        let nodes = NodeIndex::new(&txs)?;
        let keys = KeyIndex::new(&txs)?;
        let mut builder = Builder {
            txs: &txs,
            nodes: &nodes,
            keys: &keys,
            synthesized_initial: synthesized.is_some(),
            edges: Vec::with_capacity(estimated_edges(&txs)),
        };
        builder.add_write_edges();
        for (reader, tx) in txs.iter().enumerate() {
            for read in &tx.reads {
                builder.add_read_edges(reader as u32, tx.id, read)?;
            }
        }
        let ids = txs.iter().map(|tx| tx.id).collect();
        let key_list = keys.sorted.iter().map(|&key| key.clone()).collect();
        Ok(Graph::from_edges(ids, key_list, builder.edges))
    }

    /// A graph from `(from, link)` pairs, keeping their order within each
    /// node (a counting sort, linear in the number of edges).
    pub(super) fn from_edges(ids: Vec<TxId>, keys: Vec<Key>, edges: Vec<(u32, Link)>) -> Graph {
        let node_count = ids.len();
        let mut offsets = vec![0usize; node_count + 1];
        for (from, _) in &edges {
            offsets[*from as usize + 1] += 1;
        }
        for node in 0..node_count {
            offsets[node + 1] += offsets[node];
        }
        let mut cursor = offsets.clone();
        let mut links = vec![Link::NONE; edges.len()];
        for (from, link) in edges {
            let slot = &mut cursor[from as usize];
            links[*slot] = link;
            *slot += 1;
        }
        Graph {
            ids,
            keys,
            offsets,
            links,
        }
    }

    /// The graph without the edges between the `excused` pairs of
    /// transactions (`(from, to)`, directed).
    pub(super) fn without(self, excused: &std::collections::BTreeSet<(TxId, TxId)>) -> Graph {
        if excused.is_empty() {
            return self;
        }
        let mut edges = Vec::with_capacity(self.links.len());
        for node in 0..self.node_count() as u32 {
            let from = self.ids[node as usize];
            for &link in self.out(node) {
                if !excused.contains(&(from, self.ids[link.to as usize])) {
                    edges.push((node, link));
                }
            }
        }
        Graph::from_edges(self.ids, self.keys, edges)
    }

    /// Number of nodes.
    pub(super) fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of edges.
    pub(super) fn edge_count(&self) -> usize {
        self.links.len()
    }

    /// The outgoing edges of `node`.
    pub(super) fn out(&self, node: u32) -> &[Link] {
        let node = node as usize;
        &self.links[self.offsets[node]..self.offsets[node + 1]]
    }

    /// An edge in the public form.
    pub(super) fn edge(&self, from: u32, link: Link) -> Edge {
        Edge {
            from: self.ids[from as usize],
            to: self.ids[link.to as usize],
            kind: kind_of(link.kind),
            key: self.keys[link.key as usize].clone(),
        }
    }
}

/// The public kind of a kind bit.
pub(super) fn kind_of(bit: u8) -> EdgeKind {
    match bit {
        WW => EdgeKind::Ww,
        WR => EdgeKind::Wr,
        RW_ITEM => EdgeKind::Rw { predicate: false },
        RW_PREDICATE => EdgeKind::Rw { predicate: true },
        _ => unreachable!("edge kind bit {bit}"),
    }
}

/// About how many edges the graph will have (a `wr` and an `rw` per key
/// read, a `ww` per write), so that the edge list is allocated once.
fn estimated_edges(txs: &[&CommittedTx]) -> usize {
    let per_read = |read: &ReadRecord| match read {
        ReadRecord::Item { .. } => 2,
        ReadRecord::Predicate { observed, .. } => 2 * observed.len() + 1,
    };
    txs.iter()
        .map(|tx| tx.writes.len() + tx.reads.iter().map(per_read).sum::<usize>())
        .sum()
}

/// No node, key or position.
const NONE: u32 = u32::MAX;

/// The initial load implied by reads of version 0 when the history holds
/// no transaction 0: it wrote exactly the keys seen at version 0, so that
/// the initial versions take part in the version order.
fn synthesized_initial(history: &[CommittedTx]) -> Option<CommittedTx> {
    if history.iter().any(|tx| tx.id == INITIAL) {
        return None;
    }
    let mut keys: Vec<&Key> = Vec::new();
    for tx in history {
        for read in &tx.reads {
            match read {
                ReadRecord::Item {
                    key,
                    version: Some(INITIAL),
                } => keys.push(key),
                ReadRecord::Item { .. } => {}
                ReadRecord::Predicate { observed, .. } => keys.extend(
                    observed
                        .iter()
                        .filter(|(_, writer)| *writer == INITIAL)
                        .map(|(key, _)| key),
                ),
            }
        }
    }
    if keys.is_empty() {
        return None;
    }
    keys.sort_unstable();
    keys.dedup();
    Some(CommittedTx {
        id: INITIAL,
        isolation: Isolation::Serializable,
        commit_seq: 0,
        first_snapshot: 0,
        reads: Vec::new(),
        writes: keys
            .into_iter()
            .map(|key| WriteRecord {
                key: key.clone(),
                deleted: false,
            })
            .collect(),
    })
}

/// The initial load comes first and reads nothing; every other
/// transaction commits after it.
fn validate_transaction(tx: &CommittedTx) -> Result<(), Anomaly> {
    if tx.id == INITIAL {
        if tx.commit_seq != 0 {
            return Err(inconsistent(format!(
                "the initial load T0 has commit_seq {}, not 0",
                tx.commit_seq
            )));
        }
        if !tx.reads.is_empty() {
            return Err(inconsistent(
                "the initial load T0 records reads".to_string(),
            ));
        }
    } else if tx.commit_seq == 0 {
        return Err(inconsistent(format!(
            "T{} has commit_seq 0, which belongs to the initial load",
            tx.id
        )));
    }
    Ok(())
}

/// Transaction id to node. A hash map for constant-time lookups; it is
/// never iterated, so its order cannot reach the output.
struct NodeIndex {
    node_of: FixedHashMap<TxId, u32>,
}

impl NodeIndex {
    fn new(txs: &[&CommittedTx]) -> Result<NodeIndex, Anomaly> {
        let mut node_of = FixedHashMap::with_capacity_and_hasher(txs.len(), Default::default());
        for (node, tx) in txs.iter().enumerate() {
            if node_of.insert(tx.id, node as u32).is_some() {
                return Err(inconsistent(format!(
                    "T{} appears twice in the history",
                    tx.id
                )));
            }
        }
        Ok(NodeIndex { node_of })
    }

    fn get(&self, id: TxId) -> Option<u32> {
        self.node_of.get(&id).copied()
    }
}

/// Every written key, numbered in key order, with its writers in version
/// order, and where each transaction's writes sit in those version lists.
struct KeyIndex<'a> {
    /// Key of each number, in key order: predicate reads find their keys
    /// by binary search.
    sorted: Vec<&'a Key>,
    /// Key to number, through a first-seen number (`rank` maps it to key
    /// order). Lookups only.
    first_seen: FixedHashMap<&'a Key, u32>,
    rank: Vec<u32>,
    /// Writer nodes of each key, in version order.
    writers: Vec<Vec<u32>>,
    /// The writes of node `n` are `write_slots[write_offsets[n]..write_offsets[n + 1]]`,
    /// each as (key number, position among the key's writers).
    write_offsets: Vec<usize>,
    write_slots: Vec<(u32, u32)>,
}

impl<'a> KeyIndex<'a> {
    fn new(txs: &[&'a CommittedTx]) -> Result<KeyIndex<'a>, Anomaly> {
        let mut first_seen: FixedHashMap<&'a Key, u32> = FixedHashMap::default();
        let mut seen_keys: Vec<&'a Key> = Vec::new();
        let mut write_offsets = Vec::with_capacity(txs.len() + 1);
        let mut write_slots: Vec<(u32, u32)> = Vec::new();
        write_offsets.push(0);
        for tx in txs {
            for write in &tx.writes {
                let next = seen_keys.len() as u32;
                let first = *first_seen.entry(&write.key).or_insert(next);
                if first == next {
                    seen_keys.push(&write.key);
                }
                write_slots.push((first, NONE));
            }
            write_offsets.push(write_slots.len());
        }
        let mut by_key: Vec<u32> = (0..seen_keys.len() as u32).collect();
        by_key.sort_unstable_by_key(|&first| seen_keys[first as usize]);
        let mut rank = vec![NONE; seen_keys.len()];
        for (number, &first) in by_key.iter().enumerate() {
            rank[first as usize] = number as u32;
        }
        let sorted = by_key
            .iter()
            .map(|&first| seen_keys[first as usize])
            .collect();
        let mut writers: Vec<Vec<u32>> = vec![Vec::new(); seen_keys.len()];
        for (node, tx) in txs.iter().enumerate() {
            let slots = write_offsets[node]..write_offsets[node + 1];
            for slot in &mut write_slots[slots] {
                let number = rank[slot.0 as usize];
                let versions = &mut writers[number as usize];
                if let Some(&last) = versions.last() {
                    let key = seen_keys[by_key[number as usize] as usize];
                    check_version_order(txs[last as usize], tx, last as usize == node, key)?;
                }
                *slot = (number, versions.len() as u32);
                versions.push(node as u32);
            }
        }
        Ok(KeyIndex {
            sorted,
            first_seen,
            rank,
            writers,
            write_offsets,
            write_slots,
        })
    }

    fn number(&self, key: &Key) -> Option<u32> {
        self.first_seen
            .get(key)
            .map(|&first| self.rank[first as usize])
    }

    /// Numbers of the written keys in `[range.start, range.end)`.
    fn numbers_in(&self, range: &KeyRange) -> std::ops::Range<u32> {
        if range.start >= range.end {
            return 0..0;
        }
        let start = self.sorted.partition_point(|&key| *key < range.start);
        let end = self.sorted.partition_point(|&key| *key < range.end);
        start as u32..end as u32
    }

    /// Position of `node`'s version of key `number` among its writers.
    fn position(&self, node: u32, number: u32) -> Option<usize> {
        let slots = self.write_offsets[node as usize]..self.write_offsets[node as usize + 1];
        self.write_slots[slots]
            .iter()
            .find(|(written, _)| *written == number)
            .map(|&(_, position)| position as usize)
    }
}

/// Two versions of a key need distinct commit positions, from distinct
/// transactions.
fn check_version_order(
    previous: &CommittedTx,
    current: &CommittedTx,
    same_transaction: bool,
    key: &Key,
) -> Result<(), Anomaly> {
    if same_transaction {
        return Err(inconsistent(format!("T{} writes {key} twice", current.id)));
    }
    if previous.commit_seq == current.commit_seq {
        return Err(inconsistent(format!(
            "T{} and T{} both write {key} with commit_seq {}, so the version order is unknown",
            previous.id, current.id, current.commit_seq
        )));
    }
    Ok(())
}

/// What a read saw of one key, resolved to the version order.
#[derive(Clone, Copy)]
enum Seen {
    /// No version: the key was unborn for the read.
    Unborn,
    /// The version at this position of the key's writers.
    Version(usize),
}

struct Builder<'b, 'a> {
    txs: &'b [&'a CommittedTx],
    nodes: &'b NodeIndex,
    keys: &'b KeyIndex<'a>,
    synthesized_initial: bool,
    edges: Vec<(u32, Link)>,
}

impl Builder<'_, '_> {
    fn push(&mut self, from: u32, to: u32, kind: u8, key: u32) {
        // A transaction does not depend on itself.
        if from != to {
            self.edges.push((from, Link { to, kind, key }));
        }
    }

    fn add_write_edges(&mut self) {
        let keys = self.keys;
        for (number, writers) in keys.writers.iter().enumerate() {
            for pair in writers.windows(2) {
                self.push(pair[0], pair[1], WW, number as u32);
            }
        }
    }

    fn add_read_edges(
        &mut self,
        reader: u32,
        reader_id: TxId,
        read: &ReadRecord,
    ) -> Result<(), Anomaly> {
        match read {
            ReadRecord::Item { key, version } => {
                let number = self.keys.number(key);
                let seen = self.resolve(reader_id, key, number, *version)?;
                if let Some(number) = number {
                    self.add_seen(reader, number, seen, RW_ITEM);
                }
                Ok(())
            }
            ReadRecord::Predicate { range, observed } => {
                self.add_predicate_edges(reader, reader_id, range, observed)
            }
        }
    }

    /// Walks the keys of the range that anyone wrote alongside the observed
    /// list (both in key order): a written key not observed was unborn for
    /// the read, and an observed key nobody wrote is an error.
    fn add_predicate_edges(
        &mut self,
        reader: u32,
        reader_id: TxId,
        range: &KeyRange,
        observed: &[(Key, TxId)],
    ) -> Result<(), Anomaly> {
        validate_observed(reader_id, range, observed)?;
        let keys = self.keys;
        let mut observed = observed.iter().peekable();
        for number in keys.numbers_in(range) {
            let key = keys.sorted[number as usize];
            while let Some((unwritten, writer)) = observed.next_if(|(k, _)| k < key) {
                self.resolve(reader_id, unwritten, None, Some(*writer))?;
            }
            let version = observed.next_if(|(k, _)| k == key).map(|(_, w)| *w);
            let seen = self.resolve(reader_id, key, Some(number), version)?;
            self.add_seen(reader, number, seen, RW_PREDICATE);
        }
        for (unwritten, writer) in observed {
            self.resolve(reader_id, unwritten, None, Some(*writer))?;
        }
        Ok(())
    }

    /// The `wr` edge from the writer of the version seen and the `rw` edge
    /// to the writer of the next version.
    fn add_seen(&mut self, reader: u32, number: u32, seen: Seen, rw_kind: u8) {
        let writers = &self.keys.writers[number as usize];
        let next = match seen {
            Seen::Unborn => 0,
            Seen::Version(position) => {
                self.push(writers[position], reader, WR, number);
                position + 1
            }
        };
        if let Some(&overwriter) = self.keys.writers[number as usize].get(next) {
            self.push(reader, overwriter, rw_kind, number);
        }
    }

    /// Finds the version `version` of `key` (number `number` when anyone
    /// wrote it) among its writers, or explains why the read cannot be:
    /// the writer never committed (G1a) or the record contradicts itself.
    fn resolve(
        &self,
        reader_id: TxId,
        key: &Key,
        number: Option<u32>,
        version: Option<TxId>,
    ) -> Result<Seen, Anomaly> {
        let Some(writer_id) = version else {
            let initial_wrote = number.is_some_and(|number| {
                let first = self.keys.writers[number as usize][0];
                self.txs[first as usize].id == INITIAL
            });
            if initial_wrote {
                return Err(inconsistent(format!(
                    "T{reader_id} read {key} as never written, but the initial load wrote it"
                )));
            }
            return Ok(Seen::Unborn);
        };
        let Some(writer) = self.nodes.get(writer_id) else {
            return Err(aborted_read(writer_id, reader_id, key));
        };
        match number.and_then(|number| self.keys.position(writer, number)) {
            Some(position) => Ok(Seen::Version(position)),
            None if writer_id == reader_id => Err(inconsistent(format!(
                "T{reader_id} read its own write of {key} but wrote no such key"
            ))),
            None if writer_id == INITIAL && !self.synthesized_initial => Err(inconsistent(
                format!("T{reader_id} read {key} from the initial load, which did not write it"),
            )),
            None => Err(inconsistent(format!(
                "T{reader_id} read {key} as written by T{writer_id}, which did not write it"
            ))),
        }
    }
}

/// Observed keys must lie in the range, in strictly increasing order.
fn validate_observed(
    reader_id: TxId,
    range: &KeyRange,
    observed: &[(Key, TxId)],
) -> Result<(), Anomaly> {
    if let Some((key, _)) = observed.iter().find(|(key, _)| !range.contains(key)) {
        return Err(inconsistent(format!(
            "T{reader_id} observed {key} in a scan of [{}, {}), outside the range",
            range.start, range.end
        )));
    }
    if let Some(pair) = observed.windows(2).find(|pair| pair[0].0 >= pair[1].0) {
        return Err(inconsistent(format!(
            "T{reader_id} observed {} then {} in a scan: not in strictly increasing key order",
            pair[0].0, pair[1].0
        )));
    }
    Ok(())
}

fn aborted_read(writer_id: TxId, reader_id: TxId, key: &Key) -> Anomaly {
    Anomaly {
        kind: AnomalyKind::G1a,
        cycle: vec![Edge {
            from: writer_id,
            to: reader_id,
            kind: EdgeKind::Wr,
            key: key.clone(),
        }],
        message: format!(
            "T{reader_id} read {key} as written by T{writer_id}, which is not a committed \
             transaction of the history (aborted read)"
        ),
    }
}

fn inconsistent(message: String) -> Anomaly {
    Anomaly {
        kind: AnomalyKind::Inconsistent,
        cycle: Vec::new(),
        message,
    }
}

/// A hash map with a fixed hash function: the same input hashes the same
/// way in every run, and hashing short keys and ids is cheap. Hash-flooding
/// resistance is not needed for records the harness made itself.
pub(super) type FixedHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FixedHasher>>;

/// The multiply-rotate hash of rustc's `FxHasher`, a word at a time.
#[derive(Default)]
pub(super) struct FixedHasher {
    hash: u64,
}

impl FixedHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 59));
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}
