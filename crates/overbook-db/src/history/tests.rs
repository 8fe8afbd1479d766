//! Hand-built histories, one or more per anomaly class, checked against
//! both the graph checker and the brute-force oracle.

use super::*;
use crate::store::{Isolation, KeyRange, ReadRecord, WriteRecord};

fn key(name: &str) -> Key {
    Key::raw(name)
}

struct TxBuilder(CommittedTx);

fn tx(id: TxId, commit_seq: u64) -> TxBuilder {
    TxBuilder(CommittedTx {
        id,
        isolation: Isolation::Serializable,
        commit_seq,
        first_snapshot: 0,
        reads: Vec::new(),
        writes: Vec::new(),
    })
}

/// The initial load, writing `names`.
fn initial(names: &[&str]) -> CommittedTx {
    names
        .iter()
        .fold(tx(0, 0), |builder, name| builder.write(name))
        .done()
}

impl TxBuilder {
    fn read(mut self, name: &str, version: Option<TxId>) -> Self {
        self.0.reads.push(ReadRecord::Item {
            key: key(name),
            version,
        });
        self
    }

    fn scan(mut self, prefix: &str, observed: &[(&str, TxId)]) -> Self {
        self.0.reads.push(ReadRecord::Predicate {
            range: KeyRange::prefix(prefix),
            observed: observed
                .iter()
                .map(|(name, writer)| (key(name), *writer))
                .collect(),
        });
        self
    }

    fn write(mut self, name: &str) -> Self {
        self.0.writes.push(WriteRecord {
            key: key(name),
            deleted: false,
        });
        self
    }

    fn delete(mut self, name: &str) -> Self {
        self.0.writes.push(WriteRecord {
            key: key(name),
            deleted: true,
        });
        self
    }

    fn done(mut self) -> CommittedTx {
        self.0.writes.sort_by(|a, b| a.key.cmp(&b.key));
        self.0
    }
}

/// Checks that `history` shows `kind` through exactly the transactions
/// `cycle` (in cycle order, earliest commit first), that the cycle is
/// well formed, and that the oracle agrees it is not serializable.
fn assert_anomaly(history: &[CommittedTx], kind: AnomalyKind, cycle: &[TxId]) -> Anomaly {
    let anomaly = check(history).expect_err("not serializable");
    assert_eq!(anomaly.kind, kind, "{anomaly}");
    assert_eq!(anomaly.transactions(), cycle, "{anomaly}");
    for (at, edge) in anomaly.cycle.iter().enumerate() {
        let next = &anomaly.cycle[(at + 1) % anomaly.cycle.len()];
        assert_eq!(edge.to, next.from, "{anomaly}");
    }
    assert!(!serializable_by_brute_force(history), "{anomaly}");
    anomaly
}

fn assert_inconsistent(history: &[CommittedTx], fragment: &str) {
    let anomaly = check(history).expect_err("inconsistent");
    assert_eq!(anomaly.kind, AnomalyKind::Inconsistent, "{anomaly}");
    assert!(anomaly.message.contains(fragment), "{anomaly}");
    assert!(anomaly.cycle.is_empty());
    assert!(!serializable_by_brute_force(history));
}

fn assert_serializable(history: &[CommittedTx]) -> CheckStats {
    let stats = check(history).unwrap_or_else(|anomaly| panic!("{anomaly}"));
    assert!(serializable_by_brute_force(history));
    stats
}

#[test]
fn serial_history_is_serializable_with_exact_edges() {
    let history = [
        initial(&["acct/a", "acct/b"]),
        tx(1, 1).read("acct/a", Some(0)).write("acct/a").done(),
        tx(2, 2)
            .read("acct/a", Some(1))
            .read("acct/b", Some(0))
            .write("acct/b")
            .done(),
        tx(3, 3)
            .scan("acct/", &[("acct/a", 1), ("acct/b", 2)])
            .done(),
    ];
    let stats = assert_serializable(&history);
    // ww 0->1 (a), 0->2 (b); wr 0->1 (a), 1->2 (a), 0->2 (b), 1->3 (a),
    // 2->3 (b). Overwrites of a version by its own reader are self-edges.
    assert_eq!(
        stats,
        CheckStats {
            transactions: 4,
            edges: 7
        }
    );
}

#[test]
fn empty_history_is_serializable() {
    assert_eq!(assert_serializable(&[]), CheckStats::default());
}

#[test]
fn reading_before_a_later_commit_is_serializable() {
    // T2 commits after T1 overwrote a, but read the older version: it
    // serializes before T1 (an rw edge alone is no cycle).
    let history = [
        initial(&["a"]),
        tx(1, 1).write("a").done(),
        tx(2, 2).read("a", Some(0)).done(),
    ];
    assert_serializable(&history);
}

#[test]
fn aborted_read_is_g1a() {
    let history = [
        initial(&["x"]),
        tx(2, 1).read("x", Some(9)).write("y").done(),
    ];
    let anomaly = check(&history).expect_err("aborted read");
    assert_eq!(anomaly.kind, AnomalyKind::G1a);
    assert_eq!(
        anomaly.cycle,
        vec![Edge {
            from: 9,
            to: 2,
            kind: EdgeKind::Wr,
            key: key("x"),
        }]
    );
    assert!(anomaly
        .to_string()
        .starts_with("G1a: T2 read x as written by T9"));
    assert!(!serializable_by_brute_force(&history));
}

#[test]
fn aborted_read_in_a_scan_is_g1a() {
    let history = [tx(3, 1).scan("room/", &[("room/1", 7)]).done()];
    let anomaly = check(&history).expect_err("aborted read");
    assert_eq!(anomaly.kind, AnomalyKind::G1a);
    assert_eq!(anomaly.transactions(), vec![7]);
    assert!(!serializable_by_brute_force(&history));
}

#[test]
fn circular_information_flow_is_g1c() {
    // Each reads the other's write: impossible for committed reads, but a
    // record can say so (a dirty read whose writer later committed).
    let history = [
        tx(1, 1).read("y", Some(2)).write("x").done(),
        tx(2, 2).read("x", Some(1)).write("y").done(),
    ];
    let anomaly = assert_anomaly(&history, AnomalyKind::G1c, &[1, 2]);
    assert_eq!(anomaly.to_string(), "G1c: T1 -wr(x)-> T2 -wr(y)-> T1");
}

#[test]
fn read_skew_is_g_single() {
    // T1 read a before T2's update and b after it.
    let history = [
        initial(&["a", "b"]),
        tx(2, 1).write("a").write("b").done(),
        tx(1, 2).read("a", Some(0)).read("b", Some(2)).done(),
    ];
    let anomaly = assert_anomaly(&history, AnomalyKind::GSingle, &[2, 1]);
    assert_eq!(anomaly.to_string(), "G-single: T2 -wr(b)-> T1 -rw(a)-> T2");
}

#[test]
fn lost_update_is_g_single() {
    let history = [
        initial(&["acct/a"]),
        tx(1, 1).read("acct/a", Some(0)).write("acct/a").done(),
        tx(2, 2).read("acct/a", Some(0)).write("acct/a").done(),
    ];
    let anomaly = assert_anomaly(&history, AnomalyKind::GSingle, &[1, 2]);
    assert_eq!(
        anomaly.to_string(),
        "G-single: T1 -ww(acct/a)-> T2 -rw(acct/a)-> T1"
    );
}

#[test]
fn non_repeatable_read_is_g_single() {
    // Read Committed: the same key read twice, before and after T1.
    let history = [
        initial(&["a"]),
        tx(1, 1).write("a").done(),
        tx(2, 2).read("a", Some(0)).read("a", Some(1)).done(),
    ];
    assert_anomaly(&history, AnomalyKind::GSingle, &[1, 2]);
}

#[test]
fn write_skew_is_g2_item() {
    let history = [
        initial(&["acct/a", "acct/b"]),
        tx(3, 1)
            .read("acct/a", Some(0))
            .read("acct/b", Some(0))
            .write("acct/a")
            .done(),
        tx(4, 2)
            .read("acct/a", Some(0))
            .read("acct/b", Some(0))
            .write("acct/b")
            .done(),
    ];
    let anomaly = assert_anomaly(&history, AnomalyKind::G2Item, &[3, 4]);
    assert_eq!(
        anomaly.to_string(),
        "G2-item: T3 -rw(acct/b)-> T4 -rw(acct/a)-> T3"
    );
    assert!(anomaly.message.starts_with("write skew"));
}

#[test]
fn phantom_write_skew_is_g2() {
    // Both check the room is free, both book it: each insert is a phantom
    // for the other's scan.
    let history = [
        tx(1, 1).scan("room/07/", &[]).write("room/07/b1").done(),
        tx(2, 2).scan("room/07/", &[]).write("room/07/b2").done(),
    ];
    let anomaly = assert_anomaly(&history, AnomalyKind::G2, &[1, 2]);
    assert_eq!(
        anomaly.to_string(),
        "G2: T1 -rw-predicate(room/07/b2)-> T2 -rw-predicate(room/07/b1)-> T1"
    );
}

#[test]
fn item_cycle_is_reported_before_predicate_cycle() {
    let history = [
        initial(&["a", "b"]),
        tx(1, 1).scan("room/", &[]).write("room/1").done(),
        tx(2, 2).scan("room/", &[]).write("room/2").done(),
        tx(3, 3)
            .read("a", Some(0))
            .read("b", Some(0))
            .write("a")
            .done(),
        tx(4, 4)
            .read("a", Some(0))
            .read("b", Some(0))
            .write("b")
            .done(),
    ];
    assert_anomaly(&history, AnomalyKind::G2Item, &[3, 4]);
}

#[test]
fn scan_sees_tombstones_as_versions() {
    let history = [
        initial(&["room/1", "room/2"]),
        tx(1, 1).delete("room/1").done(),
        tx(2, 2)
            .scan("room/", &[("room/1", 1), ("room/2", 0)])
            .write("room/3")
            .done(),
        tx(3, 3)
            .scan("room/", &[("room/1", 1), ("room/2", 0), ("room/3", 2)])
            .done(),
    ];
    assert_serializable(&history);
}

#[test]
fn scan_of_own_insert_is_serializable() {
    let history = [
        initial(&["room/1"]),
        tx(1, 1)
            .scan("room/", &[("room/1", 0)])
            .write("room/2")
            .scan("room/", &[("room/1", 0), ("room/2", 1)])
            .read("room/2", Some(1))
            .done(),
    ];
    assert_serializable(&history);
}

#[test]
fn initial_state_without_a_load_transaction() {
    // Version 0 is the initial state even when T0 is not in the slice.
    let history = [
        tx(1, 1).read("x", Some(0)).write("x").done(),
        tx(2, 2).read("x", Some(1)).done(),
        tx(3, 3).read("x", Some(0)).done(),
    ];
    assert_serializable(&history);
    let skewed = [
        tx(1, 1).write("x").write("y").done(),
        tx(2, 2).read("x", Some(0)).read("y", Some(1)).done(),
    ];
    assert_anomaly(&skewed, AnomalyKind::GSingle, &[1, 2]);
}

#[test]
fn reading_own_write_that_was_never_made_is_inconsistent() {
    let history = [tx(1, 1).read("x", Some(1)).done()];
    assert_inconsistent(&history, "own write of x");
}

#[test]
fn reading_a_version_its_writer_never_wrote_is_inconsistent() {
    let history = [
        tx(1, 1).write("y").done(),
        tx(2, 2).read("x", Some(1)).done(),
    ];
    assert_inconsistent(
        &history,
        "T2 read x as written by T1, which did not write it",
    );
}

#[test]
fn unborn_read_of_a_loaded_key_is_inconsistent() {
    let history = [initial(&["room/1"]), tx(1, 1).scan("room/", &[]).done()];
    assert_inconsistent(&history, "initial load wrote it");
}

#[test]
fn initial_state_both_present_and_unborn_is_inconsistent() {
    let history = [
        tx(1, 1).read("x", Some(0)).done(),
        tx(2, 2).read("x", None).done(),
    ];
    assert_inconsistent(&history, "never written");
}

#[test]
fn malformed_records_are_inconsistent() {
    let outside = [tx(1, 1).scan("room/", &[("desk/1", 0)]).done()];
    assert_inconsistent(&outside, "outside the range");
    let duplicate = [tx(1, 1).write("x").done(), tx(1, 2).write("y").done()];
    assert_inconsistent(&duplicate, "T1 appears twice");
    let twice = [tx(1, 1).write("x").write("x").done()];
    assert_inconsistent(&twice, "writes x twice");
    let same_position = [tx(1, 1).write("x").done(), tx(2, 1).write("x").done()];
    assert_inconsistent(&same_position, "version order is unknown");
    let late_load = [tx(0, 4).write("x").done()];
    assert_inconsistent(&late_load, "commit_seq 4, not 0");
}

#[test]
fn slice_order_does_not_change_the_answer() {
    let mut history = vec![
        initial(&["a", "b"]),
        tx(1, 1).scan("room/", &[]).write("room/1").done(),
        tx(2, 2).scan("room/", &[]).write("room/2").done(),
        tx(3, 3)
            .read("a", Some(0))
            .read("b", Some(0))
            .write("a")
            .done(),
        tx(4, 4)
            .read("a", Some(0))
            .read("b", Some(0))
            .write("b")
            .done(),
    ];
    let forward = check(&history);
    history.reverse();
    assert_eq!(check(&history), forward);
    history.rotate_left(2);
    assert_eq!(check(&history), forward);
}

#[test]
fn anomaly_serializes_with_report_names() {
    let history = [
        tx(1, 1).scan("room/", &[]).write("room/1").done(),
        tx(2, 2).scan("room/", &[]).write("room/2").done(),
    ];
    let anomaly = check(&history).expect_err("phantom");
    let json = serde_json::to_value(&anomaly).expect("serializes");
    assert_eq!(json["kind"], "G2");
    assert_eq!(
        json["cycle"][0]["kind"],
        serde_json::json!({"rw": {"predicate": true}})
    );
    assert_eq!(json["cycle"][0]["key"], "room/2");
    assert_eq!(AnomalyKind::GSingle.name(), "G-single");
    assert_eq!(AnomalyKind::G2Item.name(), "G2-item");
}

#[test]
fn long_histories_check_without_deep_recursion() {
    // 200,000 transactions, each reading its predecessor's write of x.
    let count = 200_000u64;
    let chain: Vec<CommittedTx> = (1..=count)
        .map(|id| tx(id, id).read("x", Some(id - 1)).write("x").done())
        .collect();
    let stats = check(&chain).expect("serial chain");
    // ww and wr from each version's writer to the next transaction, the
    // first from the initial state.
    assert_eq!(
        stats,
        CheckStats {
            transactions: count as usize,
            edges: 2 * count as usize
        }
    );

    // Closed by a write the first transaction read: a wr cycle through
    // every transaction.
    let mut circular = chain.clone();
    circular[0].reads.push(ReadRecord::Item {
        key: key("y"),
        version: Some(count + 1),
    });
    circular.push(
        tx(count + 1, count + 1)
            .read("x", Some(count))
            .write("y")
            .done(),
    );
    let anomaly = check(&circular).expect_err("cycle");
    assert_eq!(anomaly.kind, AnomalyKind::G1c);
    assert_eq!(anomaly.cycle.len(), count as usize + 1);

    // Closed by a stale read: one anti-dependency, found by a backward
    // search across the whole chain.
    let mut stale = chain;
    stale[count as usize - 1].writes.push(WriteRecord {
        key: key("z"),
        deleted: false,
    });
    stale.push(
        tx(count + 1, count + 1)
            .read("z", Some(count))
            .read("x", Some(0))
            .done(),
    );
    let anomaly = check(&stale).expect_err("cycle");
    assert_eq!(anomaly.kind, AnomalyKind::GSingle);
    assert_eq!(anomaly.cycle.len(), count as usize + 1);
}

#[test]
fn brute_force_handles_eight_transactions() {
    let chain: Vec<CommittedTx> = (1..=8u64)
        .rev()
        .map(|id| tx(id, id).read("x", Some(id - 1)).write("x").done())
        .collect();
    assert!(serializable_by_brute_force(&chain));
    let mut skewed = chain.clone();
    skewed[0].reads.push(ReadRecord::Item {
        key: key("y"),
        version: None,
    });
    skewed[7].writes.push(WriteRecord {
        key: key("y"),
        deleted: false,
    });
    // T8 saw y unborn although T1, ordered before it by x, wrote y.
    assert!(!serializable_by_brute_force(&skewed));
    assert_eq!(
        check(&skewed).map_err(|a| a.kind),
        Err(AnomalyKind::GSingle)
    );
}

#[test]
#[should_panic(expected = "at most 8")]
fn brute_force_refuses_nine_transactions() {
    let history: Vec<CommittedTx> = (1..=9u64).map(|id| tx(id, id).done()).collect();
    serializable_by_brute_force(&history);
}
