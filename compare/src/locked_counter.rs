//! Cases 2 and 4, the correct program: `clients` clients each increment a
//! shared counter `increments` times, each increment under a lock. Every
//! interleaving ends with `counter == clients * increments`, so a checker
//! has to cover the whole space to say so.

use crate::harness::{count_failing, execution_started, record_final};
use overbook::explore::{Client, Model};
use overbook::store::{Isolation, Key, Row};

/// overbook: per increment, one Read Committed transaction of
/// `get_for_update` (locks the row, waiting for a holder), `put`,
/// `commit` (releases the lock): 3 scheduling points.
pub fn overbook(clients: usize, increments: usize) -> Model {
    let expected = (clients * increments) as i64;
    Model::new(
        &format!("locked-counter-{clients}x{increments}"),
        move |store| {
            store.load(Key::raw("counter"), Row::new().with("v", 0));
            (0..clients)
                .map(|_| {
                    let store = store.clone();
                    Box::pin(async move {
                        let key = Key::raw("counter");
                        for _ in 0..increments {
                            let mut tx = store.begin(Isolation::ReadCommitted);
                            let row = tx.get_for_update(&key).await.unwrap();
                            let v = row.and_then(|r| r.int("v")).unwrap_or(0);
                            tx.put(&key, Row::new().with("v", v + 1)).await.unwrap();
                            tx.commit().await.unwrap();
                        }
                    }) as Client
                })
                .collect()
        },
    )
    .at_end("counter-is-total", move |store, _| {
        let v = store
            .read_committed(&Key::raw("counter"))
            .and_then(|r| r.int("v"));
        if v == Some(expected) {
            Ok(())
        } else {
            count_failing();
            Err(format!("counter = {v:?}"))
        }
    })
}

/// loom: `clients` spawned threads (plus loom's main thread, which only
/// spawns, joins and checks), each doing `increments` times: lock a
/// `loom::sync::Mutex<usize>`, read, write, unlock. Reads and writes of the
/// guarded value are plain memory, not loom operations.
pub fn loom(clients: usize, increments: usize) -> impl Fn() + Sync + Send + 'static {
    use loom::sync::{Arc, Mutex};
    move || {
        execution_started();
        let counter = Arc::new(Mutex::new(0usize));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let counter = Arc::clone(&counter);
                loom::thread::spawn(move || {
                    for _ in 0..increments {
                        let mut guard = counter.lock().unwrap();
                        let v = *guard;
                        *guard = v + 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let v = *counter.lock().unwrap();
        record_final(vec![v as u64], v != clients * increments);
        assert_eq!(v, clients * increments);
    }
}

/// shuttle: the same program over `shuttle::sync::Mutex` and
/// `shuttle::thread` (lock and unlock are both scheduling points).
pub fn shuttle(clients: usize, increments: usize) -> impl Fn() + Sync + Send + 'static {
    use shuttle::sync::Mutex;
    use std::sync::Arc;
    move || {
        execution_started();
        let counter = Arc::new(Mutex::new(0usize));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let counter = Arc::clone(&counter);
                shuttle::thread::spawn(move || {
                    for _ in 0..increments {
                        let mut guard = counter.lock().unwrap();
                        let v = *guard;
                        *guard = v + 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let v = *counter.lock().unwrap();
        record_final(vec![v as u64], v != clients * increments);
        assert_eq!(v, clients * increments);
    }
}
