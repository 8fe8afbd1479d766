//! Reference models, written once so that the benchmark
//! (`benches/explore.rs`), the explorer's tests and the loom/shuttle
//! comparison (`compare/`) measure the same program.

use super::{Client, Model};
use crate::store::{Isolation, Key, Row};

/// `clients` clients, each doing two Read Committed transactions that read
/// a shared row (`shared_initial` at first), read their own counter and add
/// the shared value to it; client 0's first transaction also doubles the
/// shared row. The final counters depend on the order, while most steps of
/// different clients touch different rows and commute, so it shows what
/// partial-order reduction saves. No property: the measure is the space
/// (with 3 clients, 9 final states).
pub fn own_counters(clients: usize, shared_initial: i64) -> Model {
    Model::new("own-counters", move |store| {
        store.load(Key::raw("shared"), Row::new().with("v", shared_initial));
        (0..clients)
            .map(|c| {
                let store = store.clone();
                let key = Key::new("counter", &[&c.to_string()]);
                Box::pin(async move {
                    for round in 0..2 {
                        let mut tx = store.begin(Isolation::ReadCommitted);
                        let shared = tx.get(&Key::raw("shared")).await.unwrap();
                        let step = shared.and_then(|r| r.int("v")).unwrap_or(0);
                        if c == 0 && round == 0 {
                            let row = Row::new().with("v", step * 2);
                            tx.put(&Key::raw("shared"), row).await.unwrap();
                        }
                        let v = tx.get(&key).await.unwrap();
                        let v = v.and_then(|r| r.int("v")).unwrap_or(0);
                        tx.put(&key, Row::new().with("v", v + step)).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                }) as Client
            })
            .collect()
    })
}
