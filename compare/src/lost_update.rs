//! Case 1, the bug: two clients each increment a shared counter once,
//! reading then writing it without a lock. The property `counter == 2`
//! fails when both read 0.

use crate::harness::{count_failing, execution_started, record_final};
use overbook::explore::{Client, Model};
use overbook::store::{Isolation, Key, Row, Store};
use std::sync::atomic::Ordering::SeqCst;

/// overbook: Read Committed `get`, `put`, `commit` (the doc example of
/// `overbook::explore`). Scheduling points: 3 statements per client.
///
/// With `assert` false the `at_end` check counts a lost update and passes,
/// like the loom and shuttle programs below: overbook's report leaves the
/// final states of violating schedules out of `distinct_final_states`, and
/// replays each kept violation (calling the check again), so counting
/// through a failing check would count replays too.
pub fn overbook(assert: bool) -> Model {
    fn increment(store: &Store) -> Client {
        let store = store.clone();
        Box::pin(async move {
            let key = Key::raw("counter");
            let mut tx = store.begin(Isolation::ReadCommitted);
            let v = tx
                .get(&key)
                .await
                .unwrap()
                .and_then(|r| r.int("v"))
                .unwrap_or(0);
            tx.put(&key, Row::new().with("v", v + 1)).await.unwrap();
            tx.commit().await.unwrap();
        })
    }
    Model::new("lost-update", |store| {
        store.load(Key::raw("counter"), Row::new().with("v", 0));
        vec![increment(store), increment(store)]
    })
    .at_end("counter-is-2", move |store, _| {
        let v = store
            .read_committed(&Key::raw("counter"))
            .and_then(|r| r.int("v"));
        if v == Some(2) {
            Ok(())
        } else if assert {
            Err(format!("counter = {v:?}"))
        } else {
            count_failing();
            Ok(())
        }
    })
}

/// The program loom and shuttle run: two spawned threads each `load` then
/// `store` (SeqCst) an `AtomicUsize`; the main thread joins them and
/// checks. With `assert` false the execution records its final state
/// instead of panicking, so the tool can exhaust the space.
macro_rules! lost_update_program {
    ($atomic:ty, $arc:ty, $spawn:path, $assert:expr) => {
        move || {
            execution_started();
            let counter: $arc = <$arc>::new(<$atomic>::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let counter = <$arc>::clone(&counter);
                    $spawn(move || {
                        let v = counter.load(SeqCst);
                        counter.store(v + 1, SeqCst);
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let v = counter.load(SeqCst);
            record_final(vec![v as u64], v != 2);
            if $assert {
                assert_eq!(v, 2, "lost update");
            }
        }
    };
}

/// loom: `loom::sync::atomic::AtomicUsize`, `loom::thread`, and a
/// `std::sync::Arc` (the default: like shuttle's, it is not a scheduling
/// point) or, with `loom_arc`, a `loom::sync::Arc`, whose clones and drops
/// loom also explores.
pub fn loom(assert: bool, loom_arc: bool) -> Box<dyn Fn() + Sync + Send> {
    use loom::sync::atomic::AtomicUsize;
    if loom_arc {
        Box::new(lost_update_program!(
            AtomicUsize,
            loom::sync::Arc<AtomicUsize>,
            loom::thread::spawn,
            assert
        ))
    } else {
        Box::new(lost_update_program!(
            AtomicUsize,
            std::sync::Arc<AtomicUsize>,
            loom::thread::spawn,
            assert
        ))
    }
}

/// shuttle: `shuttle::sync::atomic::AtomicUsize` and `shuttle::thread`
/// (shuttle's `Arc` is `std::sync::Arc`).
pub fn shuttle(assert: bool) -> Box<dyn Fn() + Sync + Send> {
    use shuttle::sync::atomic::AtomicUsize;
    Box::new(lost_update_program!(
        AtomicUsize,
        std::sync::Arc<AtomicUsize>,
        shuttle::thread::spawn,
        assert
    ))
}
