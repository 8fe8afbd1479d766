//! Store throughput: statements per second on one core.
//!
//! `cargo bench --bench store_ops` prints, for each isolation level, the
//! rate of a read-modify-write transaction mix (get, get_for_update,
//! update, scan, insert, commit) over 1,000 keys, run by 32 interleaved
//! transactions at a time so that locks, waits and SSI bookkeeping are
//! exercised, not just the uncontended path.

use overbook::seed::Seed;
use overbook::store::{
    DbError, Isolation, Key, KeyRange, Row, Schema, Store, StoreConfig, Tx, YieldOnce,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

type Job = Pin<Box<dyn Future<Output = Result<(), DbError>> + Send>>;

fn key(i: u64) -> Key {
    Key::new("acct", &[&format!("{i:05}")])
}

async fn transaction(
    store: Store,
    isolation: Isolation,
    a: u64,
    b: u64,
    fresh: u64,
) -> Result<(), DbError> {
    let mut tx: Tx = store.begin(isolation);
    let first = tx.get(&key(a)).await?.and_then(|r| r.int("v")).unwrap_or(0);
    let second = tx
        .get_for_update(&key(b))
        .await?
        .and_then(|r| r.int("v"))
        .unwrap_or(0);
    tx.update(&key(b), Row::new().with("v", second + first % 7))
        .await?;
    let range = KeyRange::between(key(a), key(a + 4));
    tx.scan(&range).await?;
    tx.insert(
        &Key::new("log", &[&format!("{fresh:09}")]),
        Row::new().with("v", 1),
    )
    .await?;
    tx.commit().await.map(|_| ())
}

fn bench(isolation: Isolation, transactions: u64, concurrency: usize) {
    let config = StoreConfig {
        record_history: false,
        ..StoreConfig::default()
    };
    let store = Store::new(Schema::default(), config, Seed(1));
    store.set_pacer(Arc::new(YieldOnce));
    for i in 0..1000 {
        store.load(key(i), Row::new().with("v", i as i64));
    }
    let mut rng = Seed(2).stream("bench");
    let mut cx = Context::from_waker(Waker::noop());
    let mut running: Vec<Job> = Vec::new();
    let (mut started, mut committed, mut failed) = (0u64, 0u64, 0u64);
    let begin = Instant::now();
    while committed + failed < transactions {
        while running.len() < concurrency && started < transactions {
            let (a, b) = (rng.below(995), rng.below(1000));
            running.push(Box::pin(transaction(
                store.clone(),
                isolation,
                a,
                b,
                started,
            )));
            started += 1;
        }
        // Round-robin polling: every transaction advances one statement
        // at a time, interleaved with the others.
        let mut index = 0;
        while index < running.len() {
            match running[index].as_mut().poll(&mut cx) {
                Poll::Ready(result) => {
                    if result.is_ok() {
                        committed += 1;
                    } else {
                        failed += 1;
                    }
                    drop(running.swap_remove(index));
                }
                Poll::Pending => index += 1,
            }
        }
    }
    let seconds = begin.elapsed().as_secs_f64();
    let statements = store.stats().statements;
    println!(
        "{:<16} {:>9.0} statements/s {:>8.0} transactions/s ({committed} committed, {failed} aborted, {:.2} s)",
        isolation.name(),
        statements as f64 / seconds,
        transactions as f64 / seconds,
        seconds
    );
}

fn main() {
    let transactions: u64 = std::env::var("OVERBOOK_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("store_ops: {transactions} transactions, 32 interleaved, 1000 keys, one thread");
    for isolation in Isolation::ALL {
        bench(isolation, transactions, 32);
    }
}
