//! Store behaviour beyond the anomaly matrix: waits, deadlocks,
//! constraints, faults, the pool, and the committed-transaction record.

use super::*;
use crate::seed::Seed;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn poll<T>(future: &mut Boxed<T>) -> Poll<T> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

fn ready<T>(future: &mut Boxed<T>) -> T {
    match poll(future) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("expected the statement to complete"),
    }
}

fn store() -> Store {
    Store::new(Schema::default(), StoreConfig::default(), Seed(1))
}

fn k(name: &str) -> Key {
    Key::raw(name)
}

fn v(value: i64) -> Row {
    Row::new().with("v", value)
}

/// Runs `statement` on `tx` as a boxed future that gives the transaction back.
fn lock_row(mut tx: Tx, key: &'static str) -> Boxed<(Tx, Result<Option<Row>, DbError>)> {
    Box::pin(async move {
        let result = tx.get_for_update(&k(key)).await;
        (tx, result)
    })
}

#[test]
fn deadlock_is_detected_and_the_survivor_proceeds() {
    let store = store();
    store.load(k("a"), v(0));
    store.load(k("b"), v(0));
    let mut t1 = store.begin(Isolation::ReadCommitted);
    let mut t2 = store.begin(Isolation::ReadCommitted);
    block_on(t1.get_for_update(&k("a"))).unwrap();
    block_on(t2.get_for_update(&k("b"))).unwrap();
    let mut t1_wants_b = lock_row(t1, "b");
    assert!(poll(&mut t1_wants_b).is_pending(), "b is held by t2");
    let err = block_on(t2.get_for_update(&k("a"))).unwrap_err();
    assert_eq!(err.code, SqlState::DeadlockDetected);
    assert!(err.is_retryable());
    // t2 is aborted; its lock on b goes away when it rolls back.
    let err = block_on(t2.get(&k("a"))).unwrap_err();
    assert_eq!(err.code, SqlState::InFailedTransaction);
    t2.rollback();
    let (t1, result) = ready(&mut t1_wants_b);
    assert!(result.unwrap().is_some());
    block_on(t1.commit()).unwrap();
    assert_eq!(store.stats().deadlocks, 1);
}

#[test]
fn read_committed_lock_waits_then_sees_the_new_version() {
    let store = store();
    store.load(k("x"), v(1));
    let mut writer = store.begin(Isolation::ReadCommitted);
    block_on(writer.update(&k("x"), v(2))).unwrap();
    let reader = store.begin(Isolation::ReadCommitted);
    let mut waiting = lock_row(reader, "x");
    assert!(poll(&mut waiting).is_pending());
    block_on(writer.commit()).unwrap();
    let (_reader, result) = ready(&mut waiting);
    assert_eq!(result.unwrap().unwrap().int("v"), Some(2));
}

#[test]
fn repeatable_read_lock_after_concurrent_commit_fails_with_40001() {
    let store = store();
    store.load(k("x"), v(1));
    let mut reader = store.begin(Isolation::RepeatableRead);
    assert_eq!(
        block_on(reader.get(&k("x"))).unwrap().unwrap().int("v"),
        Some(1)
    );
    let mut writer = store.begin(Isolation::ReadCommitted);
    block_on(writer.update(&k("x"), v(2))).unwrap();
    block_on(writer.commit()).unwrap();
    // The snapshot still shows 1 ...
    assert_eq!(
        block_on(reader.get(&k("x"))).unwrap().unwrap().int("v"),
        Some(1)
    );
    // ... and locking the changed row is a serialization failure.
    let err = block_on(reader.get_for_update(&k("x"))).unwrap_err();
    assert_eq!(err.code, SqlState::SerializationFailure);
}

#[test]
fn a_key_inserted_beside_a_row_deleted_after_the_snapshot_is_not_read_again() {
    // PostgreSQL inserts, and its snapshot then shows the deleted row
    // beside the new one. The store keeps one version per key: the insert
    // goes through (as on PostgreSQL, so a transaction that never looks
    // at the key again agrees), and a later read or update of the key
    // fails with 40001. Read Committed sees the delete: one row.
    for (isolation, shown_twice) in [
        (Isolation::ReadCommitted, false),
        (Isolation::RepeatableRead, true),
        (Isolation::Serializable, true),
    ] {
        let store = store();
        store.load(k("x"), v(1));
        store.load(k("y"), v(1));
        let mut inserter = store.begin(isolation);
        block_on(inserter.get(&k("y"))).unwrap();
        let mut deleter = store.begin(Isolation::ReadCommitted);
        assert!(block_on(deleter.delete(&k("x"))).unwrap());
        block_on(deleter.commit()).unwrap();
        block_on(inserter.insert(&k("x"), v(2))).unwrap();
        let read = block_on(inserter.get(&k("x")));
        match shown_twice {
            true => assert_eq!(
                read.unwrap_err().code,
                SqlState::SerializationFailure,
                "{isolation:?}"
            ),
            false => assert_eq!(read.unwrap(), Some(v(2)), "{isolation:?}"),
        }
    }
}

#[test]
fn an_insert_beside_a_row_deleted_after_the_snapshot_commits_when_not_read_again() {
    let store = store();
    store.load(k("x"), v(1));
    let mut inserter = store.begin(Isolation::RepeatableRead);
    block_on(inserter.get(&k("y"))).unwrap();
    let mut deleter = store.begin(Isolation::ReadCommitted);
    assert!(block_on(deleter.delete(&k("x"))).unwrap());
    block_on(deleter.commit()).unwrap();
    block_on(inserter.insert(&k("x"), v(2))).unwrap();
    block_on(inserter.get(&k("y"))).unwrap();
    block_on(inserter.commit()).unwrap();
    let mut reader = store.begin(Isolation::ReadCommitted);
    assert_eq!(block_on(reader.get(&k("x"))).unwrap(), Some(v(2)));
}

#[test]
fn a_rolled_back_writer_lets_the_waiter_win() {
    let store = store();
    store.load(k("x"), v(1));
    let mut first = store.begin(Isolation::RepeatableRead);
    block_on(first.update(&k("x"), v(2))).unwrap();
    let second = store.begin(Isolation::RepeatableRead);
    let mut waiting: Boxed<(Tx, Result<bool, DbError>)> = Box::pin(async move {
        let mut tx = second;
        let result = tx.update(&k("x"), v(3)).await;
        (tx, result)
    });
    assert!(poll(&mut waiting).is_pending());
    drop(first); // dropping an open transaction rolls it back
    let (second, result) = ready(&mut waiting);
    assert!(result.unwrap());
    block_on(second.commit()).unwrap();
    assert_eq!(store.read_committed(&k("x")).unwrap().int("v"), Some(3));
}

fn booking(room: &str, start: i64, end: i64) -> Row {
    Row::new()
        .with("room", room)
        .with("start", start)
        .with("end", end)
}

fn booking_store() -> Store {
    Store::new(
        Schema::default().with_exclusion("bookings", "room", "start", "end"),
        StoreConfig::default(),
        Seed(1),
    )
}

#[test]
fn exclusion_constraint_rejects_overlaps_and_allows_touching() {
    let store = booking_store();
    let mut tx = store.begin(Isolation::ReadCommitted);
    block_on(tx.insert(&k("bookings/1"), booking("r1", 10, 20))).unwrap();
    block_on(tx.commit()).unwrap();
    let mut tx = store.begin(Isolation::ReadCommitted);
    block_on(tx.insert(&k("bookings/2"), booking("r1", 20, 30))).unwrap(); // touching: [10,20) [20,30)
    block_on(tx.insert(&k("bookings/3"), booking("r2", 10, 20))).unwrap(); // other room
    let err = block_on(tx.insert(&k("bookings/4"), booking("r1", 25, 35))).unwrap_err();
    assert_eq!(err.code, SqlState::ExclusionViolation, "{err}");
    assert!(err.message.contains("bookings/2"), "{err}");
    drop(tx);
    let mut tx = store.begin(Isolation::ReadCommitted);
    let err = block_on(tx.insert(&k("bookings/5"), booking("r1", 19, 21))).unwrap_err();
    assert_eq!(err.code, SqlState::ExclusionViolation);
}

#[test]
fn exclusion_conflict_with_an_uncommitted_row_waits_for_its_writer() {
    for commit_first in [true, false] {
        let store = booking_store();
        let mut first = store.begin(Isolation::ReadCommitted);
        block_on(first.insert(&k("bookings/a"), booking("r1", 10, 20))).unwrap();
        let second = store.begin(Isolation::ReadCommitted);
        let mut waiting: Boxed<(Tx, Result<(), DbError>)> = Box::pin(async move {
            let mut tx = second;
            let result = tx.insert(&k("bookings/b"), booking("r1", 15, 25)).await;
            (tx, result)
        });
        assert!(poll(&mut waiting).is_pending());
        if commit_first {
            block_on(first.commit()).unwrap();
            let (_tx, result) = ready(&mut waiting);
            assert_eq!(result.unwrap_err().code, SqlState::ExclusionViolation);
        } else {
            first.rollback();
            let (tx, result) = ready(&mut waiting);
            result.unwrap();
            block_on(tx.commit()).unwrap();
        }
    }
}

/// A booking insert of `tx` as a boxed future that gives the transaction back.
fn insert_booking(tx: Tx, key: &'static str, row: Row) -> Boxed<(Tx, Result<(), DbError>)> {
    Box::pin(async move {
        let mut tx = tx;
        let result = tx.insert(&k(key), row).await;
        (tx, result)
    })
}

#[test]
fn a_waiting_insert_records_its_entry_once_and_its_holder_waits_back_on_it() {
    let store = booking_store();
    let mut first = store.begin(Isolation::ReadCommitted);
    block_on(first.insert(&k("bookings/a"), booking("r1", 10, 20))).unwrap();
    let mut waiting = insert_booking(
        store.begin(Isolation::ReadCommitted),
        "bookings/b",
        booking("r1", 15, 25),
    );
    for _ in 0..3 {
        assert!(poll(&mut waiting).is_pending());
    }
    assert_eq!(store.state().pending_entries(), 2, "a, and b once");
    // [22,30) misses first's own [10,20) but overlaps the waiter's entry.
    let err = block_on(first.insert(&k("bookings/c"), booking("r1", 22, 30))).unwrap_err();
    assert_eq!(err.code, SqlState::DeadlockDetected, "{err}");
    let (tx, result) = ready(&mut waiting);
    result.unwrap();
    block_on(tx.commit()).unwrap();
    assert_eq!(store.state().pending_entries(), 0);
    let mut late = store.begin(Isolation::ReadCommitted);
    let err = block_on(late.insert(&k("bookings/d"), booking("r1", 24, 26))).unwrap_err();
    assert_eq!(
        err.code,
        SqlState::ExclusionViolation,
        "b's row is committed"
    );
}

#[test]
fn waiters_for_a_rolled_back_booking_find_each_other_and_one_deadlocks() {
    let store = booking_store();
    let mut first = store.begin(Isolation::ReadCommitted);
    block_on(first.insert(&k("bookings/a"), booking("r1", 10, 20))).unwrap();
    let mut second = insert_booking(
        store.begin(Isolation::ReadCommitted),
        "bookings/b",
        booking("r1", 15, 25),
    );
    let mut third = insert_booking(
        store.begin(Isolation::ReadCommitted),
        "bookings/c",
        booking("r1", 12, 22),
    );
    assert!(poll(&mut second).is_pending());
    assert!(poll(&mut third).is_pending());
    first.rollback();
    // The second now waits for the third, whose entry it finds; the third
    // then finds the second's and closes the cycle: a new wait, so a new
    // deadlock check, although it already checked while waiting for the
    // first.
    assert!(poll(&mut second).is_pending());
    let (_third, result) = ready(&mut third);
    assert_eq!(result.unwrap_err().code, SqlState::DeadlockDetected);
    let (tx, result) = ready(&mut second);
    result.unwrap();
    block_on(tx.commit()).unwrap();
}

#[test]
fn concurrent_inserts_of_one_key_give_23505_after_the_wait() {
    let store = store();
    let mut first = store.begin(Isolation::Serializable);
    block_on(first.insert(&k("idem/key-1"), v(1))).unwrap();
    let second = store.begin(Isolation::Serializable);
    let mut waiting: Boxed<(Tx, Result<(), DbError>)> = Box::pin(async move {
        let mut tx = second;
        let result = tx.insert(&k("idem/key-1"), v(2)).await;
        (tx, result)
    });
    assert!(poll(&mut waiting).is_pending());
    block_on(first.commit()).unwrap();
    let (_tx, result) = ready(&mut waiting);
    let err = result.unwrap_err();
    assert_eq!(err.code, SqlState::UniqueViolation);
    assert!(!err.is_retryable());
}

#[test]
fn injected_failures_follow_the_seed() {
    let run = |seed: u64| -> Vec<bool> {
        let mut config = StoreConfig::default();
        config.faults.serialization_failure_at_commit = 0.5;
        let store = Store::new(Schema::default(), config, Seed(seed));
        store.load(k("x"), v(0));
        (0..40)
            .map(|i| {
                let mut tx = store.begin(Isolation::Serializable);
                block_on(tx.put(&k("x"), v(i))).unwrap();
                match block_on(tx.commit()) {
                    Ok(_) => true,
                    Err(err) => {
                        assert_eq!(err.code, SqlState::SerializationFailure);
                        assert!(err.injected);
                        false
                    }
                }
            })
            .collect()
    };
    let first = run(7);
    assert_eq!(first, run(7), "same seed, same injected failures");
    assert_ne!(first, run(8), "another seed, other failures");
    assert!(first.iter().any(|&ok| ok) && first.iter().any(|&ok| !ok));
}

#[test]
fn per_statement_injection_fails_the_transaction() {
    let mut config = StoreConfig::default();
    config.faults.serialization_failure_per_statement = 1.0;
    let store = Store::new(Schema::default(), config, Seed(1));
    let mut tx = store.begin(Isolation::ReadCommitted);
    let err = block_on(tx.get(&k("x"))).unwrap_err();
    assert!(err.injected && err.code == SqlState::SerializationFailure);
    assert_eq!(
        block_on(tx.get(&k("x"))).unwrap_err().code,
        SqlState::InFailedTransaction
    );
    assert_eq!(
        block_on(tx.commit()).unwrap_err().code,
        SqlState::InFailedTransaction
    );
    assert_eq!(store.open_transactions(), 0);
}

#[test]
fn the_pool_queues_first_come_first_served_and_never_leaks() {
    let store = store();
    let pool = Pool::new(store.clone(), 1, 1);
    let first = block_on(pool.begin(Isolation::ReadCommitted)).unwrap();
    let pool2 = pool.clone();
    let mut second: Boxed<Result<Tx, DbError>> =
        Box::pin(async move { pool2.begin(Isolation::ReadCommitted).await });
    assert!(poll(&mut second).is_pending());
    // The queue is full: a third request is refused at once.
    let err = block_on(pool.begin(Isolation::ReadCommitted)).unwrap_err();
    assert_eq!(err.code, SqlState::TooManyConnections);
    drop(first);
    let tx = ready(&mut second).unwrap();
    assert_eq!(pool.in_use(), 1);
    drop(tx);
    assert_eq!(pool.in_use(), 0);
    // An abandoned wait gives its granted slot back.
    let held = block_on(pool.begin(Isolation::ReadCommitted)).unwrap();
    let pool3 = pool.clone();
    let mut abandoned: Boxed<Result<Tx, DbError>> =
        Box::pin(async move { pool3.begin(Isolation::ReadCommitted).await });
    assert!(poll(&mut abandoned).is_pending());
    drop(held);
    drop(abandoned);
    assert_eq!(pool.in_use(), 0);
    block_on(pool.begin(Isolation::ReadCommitted)).unwrap();
}

#[test]
fn history_records_versions_read_and_written() {
    let store = store();
    store.load(k("x"), v(1));
    let mut tx = store.begin(Isolation::Serializable);
    block_on(tx.get(&k("x"))).unwrap();
    block_on(tx.get(&k("never"))).unwrap();
    block_on(tx.scan(&KeyRange::prefix("x"))).unwrap();
    block_on(tx.update(&k("x"), v(2))).unwrap();
    block_on(tx.delete(&k("x"))).unwrap();
    let id = tx.id();
    block_on(tx.commit()).unwrap();
    let history = store.history();
    assert_eq!(history.len(), 2, "initial load plus one transaction");
    assert_eq!(history[0].id, 0);
    let committed = &history[1];
    assert_eq!(committed.id, id);
    assert_eq!(committed.commit_seq, 1);
    assert_eq!(
        committed.reads[0],
        ReadRecord::Item {
            key: k("x"),
            version: Some(0)
        }
    );
    assert_eq!(
        committed.reads[1],
        ReadRecord::Item {
            key: k("never"),
            version: None
        }
    );
    assert!(
        matches!(&committed.reads[2], ReadRecord::Predicate { observed, .. } if observed == &vec![(k("x"), 0)])
    );
    assert_eq!(
        committed.writes,
        vec![WriteRecord {
            key: k("x"),
            deleted: true
        }]
    );
}

#[test]
fn old_snapshots_survive_version_pruning() {
    let store = store();
    store.load(k("x"), v(0));
    let mut old = store.begin(Isolation::RepeatableRead);
    assert_eq!(
        block_on(old.get(&k("x"))).unwrap().unwrap().int("v"),
        Some(0)
    );
    for i in 1..=50 {
        let mut tx = store.begin(Isolation::ReadCommitted);
        block_on(tx.update(&k("x"), v(i))).unwrap();
        block_on(tx.commit()).unwrap();
    }
    assert_eq!(
        block_on(old.get(&k("x"))).unwrap().unwrap().int("v"),
        Some(0)
    );
    block_on(old.commit()).unwrap();
    assert_eq!(store.read_committed(&k("x")).unwrap().int("v"), Some(50));
}

#[test]
fn commits_are_logged_for_invariant_checks() {
    let config = StoreConfig {
        record_commits: true,
        ..StoreConfig::default()
    };
    let store = Store::new(Schema::default(), config, Seed(1));
    store.load(k("x"), v(1));
    let mut tx = store.begin(Isolation::ReadCommitted);
    block_on(tx.update(&k("x"), v(2))).unwrap();
    block_on(tx.commit()).unwrap();
    let events = store.drain_commits();
    assert_eq!(events.len(), 1);
    let (key, after, before) = &events[0].writes[0];
    assert_eq!(key, &k("x"));
    assert_eq!(after.as_ref().unwrap().int("v"), Some(2));
    assert_eq!(before.as_ref().unwrap().int("v"), Some(1));
    assert!(store.drain_commits().is_empty());
}

#[test]
fn statement_is_quiet_only_without_rw_edges_failures_or_foreign_locks() {
    let store = store();
    store.load(k("a"), v(1));
    store.load(k("b"), v(2));
    let mut reader = store.begin(Isolation::Serializable);
    let mut writer = store.begin(Isolation::Serializable);
    // Fresh transactions: reads and writes of untouched keys are quiet.
    assert!(store.statement_is_quiet(reader.id(), Op::Get, &k("a"), None));
    assert!(store.statement_is_quiet(writer.id(), Op::Put, &k("b"), None));
    assert!(!store.statement_is_quiet(writer.id(), Op::Commit, &k("b"), None));
    block_on(reader.get(&k("a"))).unwrap();
    // The reader's SIREAD lock on `a` makes a write of `a` add an rw edge.
    assert!(!store.statement_is_quiet(writer.id(), Op::Update, &k("a"), None));
    assert!(store.statement_is_quiet(writer.id(), Op::Update, &k("b"), None));
    block_on(writer.put(&k("b"), v(3))).unwrap();
    // The writer's uncommitted `b`: a read of it, or a scan over it, would
    // add an edge to the writer; a scan that stops before it would not.
    assert!(!store.statement_is_quiet(reader.id(), Op::Get, &k("b"), None));
    assert!(!store.statement_is_quiet(reader.id(), Op::Scan, &k("a"), Some(&k("c"))));
    assert!(store.statement_is_quiet(reader.id(), Op::Scan, &k("a"), Some(&k("b"))));
    block_on(writer.commit()).unwrap();
    // Committed after the reader's snapshot: still not quiet for it, but
    // quiet for a transaction whose first statement is still to come.
    assert!(!store.statement_is_quiet(reader.id(), Op::Get, &k("b"), None));
    let late = store.begin(Isolation::Serializable);
    assert!(store.statement_is_quiet(late.id(), Op::Get, &k("b"), None));
    // An insert over a live row fails with 23505: not quiet.
    assert!(!store.statement_is_quiet(late.id(), Op::Insert, &k("a"), None));
    assert!(store.statement_is_quiet(late.id(), Op::Insert, &k("new"), None));
}

#[test]
fn a_released_row_lock_goes_to_the_first_waiter() {
    let store = store();
    store.load(k("a"), v(0));
    store.load(k("b"), v(0));
    let mut t1 = store.begin(Isolation::ReadCommitted);
    block_on(t1.get_for_update(&k("a"))).unwrap();
    let t2 = store.begin(Isolation::ReadCommitted);
    let t3 = store.begin(Isolation::ReadCommitted);
    let (t2_id, t3_id) = (t2.id(), t3.id());
    let mut t2_waits = lock_row(t2, "a");
    let mut t3_waits = lock_row(t3, "a");
    assert!(poll(&mut t2_waits).is_pending());
    assert!(poll(&mut t3_waits).is_pending());
    block_on(t1.commit()).unwrap();
    // The row is t2's before t2 even runs again: a newcomer or t3 retrying
    // first cannot take it.
    assert_eq!(
        store.lock_holders(&k("a")),
        vec![(t2_id, RowLockMode::Update)]
    );
    assert!(poll(&mut t3_waits).is_pending());
    let mut t4 = store.begin(Isolation::ReadCommitted);
    let mut t4_waits = Box::pin(async move { t4.get_for_update(&k("a")).await.map(|_| ()) })
        as Boxed<Result<(), DbError>>;
    assert!(poll(&mut t4_waits).is_pending(), "t4 queues behind t3");
    let (t2, result) = ready(&mut t2_waits);
    assert!(result.unwrap().is_some());
    // Deadlocks through a granted lock are still seen: t2 (granted `a`)
    // waits for `b`, which t5 holds; t5 asking for `a` closes t5 -> t2 -> t5.
    let mut t5 = store.begin(Isolation::ReadCommitted);
    block_on(t5.get_for_update(&k("b"))).unwrap();
    let mut t2_wants_b = lock_row(t2, "b");
    assert!(poll(&mut t2_wants_b).is_pending());
    let err = block_on(t5.get_for_update(&k("a"))).unwrap_err();
    assert_eq!(err.code, SqlState::DeadlockDetected);
    t5.rollback();
    let (t2, result) = ready(&mut t2_wants_b);
    assert!(result.unwrap().is_some());
    block_on(t2.commit()).unwrap();
    assert_eq!(
        store.lock_holders(&k("a")),
        vec![(t3_id, RowLockMode::Update)]
    );
    let (t3, result) = ready(&mut t3_waits);
    assert!(result.unwrap().is_some());
    t3.rollback();
    assert!(matches!(poll(&mut t4_waits), Poll::Ready(Ok(()))));
}

#[test]
fn reads_of_writes_a_savepoint_rollback_took_back_leave_a_consistent_history() {
    // Conform program 7964 of seed 1: a key update inside a savepoint read
    // its own new row (a cascade's foreign-key check), and the rollback to
    // the savepoint left a read of a version no committed transaction
    // wrote.
    let store = store();
    store.load(k("x"), v(1));
    let mut tx = store.begin(Isolation::ReadCommitted);
    block_on(tx.get(&k("x"))).unwrap();
    tx.sql_savepoint("sp").unwrap();
    block_on(tx.insert(&k("y"), v(2))).unwrap();
    block_on(tx.update(&k("x"), v(3))).unwrap();
    assert_eq!(block_on(tx.get(&k("y"))).unwrap(), Some(v(2)));
    block_on(tx.scan(&KeyRange::prefix("x"))).unwrap();
    tx.sql_rollback_to_savepoint("sp").unwrap();
    block_on(tx.commit()).unwrap();
    let history = store.history();
    crate::history::check(&history).expect("a consistent history");
}

#[test]
fn a_prefix_range_ends_at_the_prefix_with_its_last_character_stepped() {
    // The end as the chars of the prefix with the last one replaced.
    fn by_chars(prefix: &str) -> String {
        let mut end: Vec<char> = prefix.chars().collect();
        let last = end.pop().unwrap();
        end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
        end.into_iter().collect()
    }
    for prefix in [
        "x",
        "bookings/room-03/",
        "a\u{7f}",
        "é",
        "t/é",
        "z\u{d7ff}",
        "q\u{10ffff}",
        "日本/",
    ] {
        let range = KeyRange::prefix(prefix);
        assert_eq!(range.start.as_str(), prefix);
        assert_eq!(range.end.as_str(), by_chars(prefix), "{prefix:?}");
    }
    assert_eq!(KeyRange::prefix("rooms/").end.as_str(), "rooms0");
}

#[test]
fn activity_shows_who_holds_a_row_and_who_waits_for_it() {
    use activity::{LockOwner, LockType};
    let store = store();
    store.load(k("rooms/1"), v(0));
    let mut holder = store.begin(Isolation::ReadCommitted);
    block_on(holder.update(&k("rooms/1"), v(1))).unwrap();
    let waiter = store.begin(Isolation::RepeatableRead);
    let (holder_id, waiter_id) = (holder.id(), waiter.id());
    let mut waiting = lock_row(waiter, "rooms/1");
    assert!(poll(&mut waiting).is_pending());

    let activity = store.activity();
    let rows: Vec<(LockType, Option<&str>, LockOwner, &str, bool)> = activity
        .locks
        .iter()
        .map(|l| {
            (
                l.locktype,
                l.key.as_ref().map(Key::as_str),
                l.owner,
                l.mode,
                l.granted,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                LockType::Tuple,
                Some("rooms/1"),
                LockOwner::Tx(holder_id),
                "ExclusiveLock",
                true
            ),
            (
                LockType::Tuple,
                Some("rooms/1"),
                LockOwner::Tx(waiter_id),
                "AccessExclusiveLock",
                false
            ),
            (
                LockType::TransactionId,
                None,
                LockOwner::Tx(holder_id),
                "ExclusiveLock",
                true
            ),
            (
                LockType::TransactionId,
                None,
                LockOwner::Tx(waiter_id),
                "ShareLock",
                false
            ),
            (
                LockType::TransactionId,
                None,
                LockOwner::Tx(waiter_id),
                "ExclusiveLock",
                true
            ),
        ]
    );
    assert_eq!(activity.locks[0].relation.as_deref(), Some("rooms"));
    // An UPDATE that changes no key holds FOR NO KEY UPDATE (the lock
    // manager's ExclusiveLock on the tuple); FOR UPDATE waits for it.
    assert_eq!(activity.locks[0].row_lock, Some(RowLockMode::NoKeyUpdate));
    assert_eq!(activity.locks[1].row_lock, Some(RowLockMode::Update));
    // The waiter waits for the holder's id.
    assert_eq!(activity.locks[3].transactionid, Some(holder_id));
    let open: Vec<_> = activity
        .transactions
        .iter()
        .map(|t| (t.tx, t.waiting_on, t.blocked_by.clone(), t.writes.len()))
        .collect();
    assert_eq!(
        open,
        vec![
            (holder_id, None, vec![], 1),
            (
                waiter_id,
                Some(LockType::Tuple),
                vec![LockOwner::Tx(holder_id)],
                0
            ),
        ]
    );

    holder.rollback();
    let (waiter, result) = ready(&mut waiting);
    result.unwrap();
    waiter.rollback();
    assert_eq!(store.activity(), activity::Activity::default());
}
