//! Case 3, overbook's `benches/explore.rs` model: 3 clients, each doing 2
//! Read Committed transactions that read a shared row (`step`, initially
//! 1), then read their own counter and add `step` to it; client 0's first
//! transaction also doubles the shared row. No property: the measure is
//! the size of the space (9 final states: clients 1 and 2 each read
//! `step` 1 or 2 in each round, never 2 then 1, and client 0 always ends
//! at 3).

use crate::harness::{execution_started, record_final};
use overbook::explore::Model;
use std::sync::atomic::Ordering::SeqCst;

const CLIENTS: usize = 3;
const ROUNDS: usize = 2;

/// overbook: the bench's model, the same function
/// (`overbook::explore::models::own_counters`). Scheduling points per
/// transaction: `get` shared, (`put` shared), `get` own, `put` own,
/// `commit`: 4, or 5 in client 0's first transaction.
pub fn overbook() -> Model {
    overbook::explore::models::own_counters(CLIENTS, 1)
}

/// The atomics-per-row program both loom and shuttle run. A row is a
/// SeqCst atomic; there are no transactions, so the write of the shared
/// row is made at the end of client 0's first "transaction" (where its
/// commit would publish it under Read Committed), after its own counter's
/// write. Scheduling points per round: load shared, load own, store own
/// (3), plus the store of shared in client 0's first round.
macro_rules! own_counters_program {
    ($atomic:ty, $arc:ty, $spawn:path) => {
        move || {
            execution_started();
            let rows: $arc = <$arc>::new(vec![
                <$atomic>::new(1),
                <$atomic>::new(0),
                <$atomic>::new(0),
                <$atomic>::new(0),
            ]);
            let threads: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let rows = <$arc>::clone(&rows);
                    $spawn(move || {
                        let (shared, own) = (&rows[0], &rows[1 + c]);
                        for round in 0..ROUNDS {
                            let step = shared.load(SeqCst);
                            let v = own.load(SeqCst);
                            own.store(v + step, SeqCst);
                            if c == 0 && round == 0 {
                                shared.store(step * 2, SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let state = rows.iter().map(|row| row.load(SeqCst) as u64).collect();
            record_final(state, false);
        }
    };
}

/// loom: 3 spawned threads over `loom::sync::atomic::AtomicUsize` rows,
/// shared through a `std::sync::Arc` or, with `loom_arc`, a
/// `loom::sync::Arc` (see `lost_update::loom`).
pub fn loom(loom_arc: bool) -> Box<dyn Fn() + Sync + Send> {
    use loom::sync::atomic::AtomicUsize;
    if loom_arc {
        Box::new(own_counters_program!(
            AtomicUsize,
            loom::sync::Arc<Vec<AtomicUsize>>,
            loom::thread::spawn
        ))
    } else {
        Box::new(own_counters_program!(
            AtomicUsize,
            std::sync::Arc<Vec<AtomicUsize>>,
            loom::thread::spawn
        ))
    }
}

/// shuttle: 3 spawned threads over `shuttle::sync::atomic::AtomicUsize`.
pub fn shuttle() -> Box<dyn Fn() + Sync + Send> {
    use shuttle::sync::atomic::AtomicUsize;
    Box::new(own_counters_program!(
        AtomicUsize,
        std::sync::Arc<Vec<AtomicUsize>>,
        shuttle::thread::spawn
    ))
}
