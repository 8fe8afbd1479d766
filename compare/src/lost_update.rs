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

/// loom: two spawned threads, `load` then `store` (SeqCst) of an
/// `AtomicUsize`; the main thread joins them and checks. With `assert`
/// false the execution records its final state instead of panicking, so
/// loom can exhaust the space.
pub fn loom(assert: bool) -> impl Fn() + Sync + Send + 'static {
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    move || {
        execution_started();
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                loom::thread::spawn(move || {
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
        if assert {
            assert_eq!(v, 2, "lost update");
        }
    }
}

/// shuttle: the same program over `shuttle::sync::atomic` and
/// `shuttle::thread`.
pub fn shuttle(assert: bool) -> impl Fn() + Sync + Send + 'static {
    use shuttle::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    move || {
        execution_started();
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                shuttle::thread::spawn(move || {
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
        if assert {
            assert_eq!(v, 2, "lost update");
        }
    }
}
