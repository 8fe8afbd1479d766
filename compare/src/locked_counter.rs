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

/// The program loom and shuttle run: `clients` spawned threads (the main
/// thread only spawns, joins and checks), each doing `increments` times:
/// lock a `Mutex<usize>`, read, write, unlock. Reads and writes of the
/// guarded value are plain memory, not scheduling points.
macro_rules! locked_counter_program {
    ($mutex:ty, $arc:ty, $spawn:path, $clients:expr, $increments:expr) => {
        move || {
            execution_started();
            let counter: $arc = <$arc>::new(<$mutex>::new(0usize));
            let threads: Vec<_> = (0..$clients)
                .map(|_| {
                    let counter = <$arc>::clone(&counter);
                    $spawn(move || {
                        for _ in 0..$increments {
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
            record_final(vec![v as u64], v != $clients * $increments);
            assert_eq!(v, $clients * $increments);
        }
    };
}

/// loom: `loom::sync::Mutex`, `loom::thread`, and a `std::sync::Arc` or,
/// with `loom_arc`, a `loom::sync::Arc` (see `lost_update::loom`).
pub fn loom(clients: usize, increments: usize, loom_arc: bool) -> Box<dyn Fn() + Sync + Send> {
    use loom::sync::Mutex;
    if loom_arc {
        Box::new(locked_counter_program!(
            Mutex<usize>,
            loom::sync::Arc<Mutex<usize>>,
            loom::thread::spawn,
            clients,
            increments
        ))
    } else {
        Box::new(locked_counter_program!(
            Mutex<usize>,
            std::sync::Arc<Mutex<usize>>,
            loom::thread::spawn,
            clients,
            increments
        ))
    }
}

/// shuttle: `shuttle::sync::Mutex` (lock and unlock are both scheduling
/// points) and `shuttle::thread`.
pub fn shuttle(clients: usize, increments: usize) -> Box<dyn Fn() + Sync + Send> {
    use shuttle::sync::Mutex;
    Box::new(locked_counter_program!(
        Mutex<usize>,
        std::sync::Arc<Mutex<usize>>,
        shuttle::thread::spawn,
        clients,
        increments
    ))
}
