//! SQL throughput of the simulated engine: statements per second on one
//! core, next to `store_ops`'s key-value rate.
//!
//! `cargo bench --bench sql_ops` runs, for each isolation level, the same
//! transaction mix as `store_ops` written in SQL (a point SELECT, a
//! SELECT ... FOR UPDATE, an UPDATE, a primary-key range SELECT and an
//! INSERT, then COMMIT) over 1,000 accounts, 32 transactions interleaved
//! statement by statement. Every statement goes through the statement
//! cache, the planner's access path and the store.

use overbook::seed::Seed;
use overbook::sql::{Session, SqlDb, SqlSession, Value};
use overbook::store::{block_on, DbError, Isolation, Schema, Store, StoreConfig, YieldOnce};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

type Job = Pin<Box<dyn Future<Output = Result<(), DbError>>>>;

async fn transaction(
    mut s: SqlSession,
    isolation: Isolation,
    a: i64,
    b: i64,
    fresh: i64,
) -> Result<(), DbError> {
    let result = async {
        s.begin(isolation).await?;
        let first = s
            .execute("SELECT v FROM acct WHERE id = $1", &[a.into()])
            .await?
            .int(0, "v")
            .unwrap_or(0);
        let second = s
            .execute("SELECT v FROM acct WHERE id = $1 FOR UPDATE", &[b.into()])
            .await?
            .int(0, "v")
            .unwrap_or(0);
        s.execute(
            "UPDATE acct SET v = $2 WHERE id = $1",
            &[b.into(), (second + first % 7).into()],
        )
        .await?;
        s.execute(
            "SELECT id, v FROM acct WHERE id >= $1 AND id < $2",
            &[a.into(), (a + 4).into()],
        )
        .await?;
        s.execute("INSERT INTO log VALUES ($1, 1)", &[Value::Int(fresh)])
            .await?;
        s.commit().await
    }
    .await;
    if result.is_err() {
        s.rollback().await?;
    }
    result
}

fn bench(isolation: Isolation, transactions: u64, concurrency: usize) {
    let config = StoreConfig {
        record_history: false,
        ..StoreConfig::default()
    };
    let store = Store::new(Schema::default(), config, Seed(1));
    let db = SqlDb::new(store.clone());
    let mut setup = db.session();
    block_on(async {
        setup
            .execute(
                "CREATE TABLE acct (id integer PRIMARY KEY, v bigint NOT NULL)",
                &[],
            )
            .await?;
        setup
            .execute("CREATE TABLE log (id bigint PRIMARY KEY, v integer)", &[])
            .await?;
        for i in 0..1000i64 {
            setup
                .execute("INSERT INTO acct VALUES ($1, $2)", &[i.into(), i.into()])
                .await?;
        }
        Ok::<(), DbError>(())
    })
    .expect("setup");
    store.set_pacer(Arc::new(YieldOnce));
    let before = store.stats().statements;
    let mut rng = Seed(2).stream("bench");
    let mut cx = Context::from_waker(Waker::noop());
    let mut running: Vec<Job> = Vec::new();
    let (mut started, mut committed, mut failed) = (0u64, 0u64, 0u64);
    let begin = Instant::now();
    while committed + failed < transactions {
        while running.len() < concurrency && started < transactions {
            let (a, b) = (rng.below(995) as i64, rng.below(1000) as i64);
            running.push(Box::pin(transaction(
                db.session(),
                isolation,
                a,
                b,
                started as i64,
            )));
            started += 1;
        }
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
    let statements = store.stats().statements - before;
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
    println!("sql_ops: {transactions} transactions, 32 interleaved, 1000 accounts, one thread");
    for isolation in Isolation::ALL {
        bench(isolation, transactions, 32);
    }
}
