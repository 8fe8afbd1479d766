//! SQL throughput of the simulated engine: statements per second on one
//! core, next to `store_ops`'s key-value rate.
//!
//! `cargo bench --bench sql_ops` runs, for each isolation level, the same
//! transaction mix as `store_ops` written in SQL (a point SELECT, a
//! SELECT ... FOR UPDATE, an UPDATE, a primary-key range SELECT and an
//! INSERT, then COMMIT) over 1,000 accounts, 32 transactions interleaved
//! statement by statement. Every statement goes through the statement
//! cache, the planner's access path and the store.
//!
//! A second mix, `queries`, runs the statements a booking service writes
//! over 1,000 events with 20 seats each: a hold made by one statement (a
//! CTE with a locking read feeding an `INSERT ... SELECT` under a capacity
//! subquery), a correlated `NOT EXISTS` over four events, and a `LEFT
//! JOIN` with `count(*) FILTER (WHERE ...)` over the same four, then
//! COMMIT.

use overbook::seed::{Rng64, Seed};
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

/// A hold on event `event` if it has a seat left, then two availability
/// reads over the events from `event`.
async fn booking(
    mut s: SqlSession,
    isolation: Isolation,
    event: i64,
    hold: i64,
) -> Result<(), DbError> {
    let result = async {
        s.begin(isolation).await?;
        s.execute(
            "WITH e AS (SELECT id, capacity FROM events WHERE id = $1 FOR UPDATE) \
             INSERT INTO holds (id, event_id, seats, status) \
             SELECT $2, e.id, 1, 'active' FROM e \
             WHERE e.capacity > (SELECT count(*) FROM holds WHERE event_id = $1 AND status = 'active')",
            &[event.into(), hold.into()],
        )
        .await?;
        s.execute(
            "SELECT e.id FROM events e WHERE e.id >= $1 AND e.id < $2 \
             AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.event_id = e.id AND h.status = 'active')",
            &[event.into(), (event + 4).into()],
        )
        .await?;
        s.execute(
            "SELECT e.id, e.capacity, count(h.id) FILTER (WHERE h.status = 'active') AS held \
             FROM events e LEFT JOIN holds h ON h.event_id = e.id \
             WHERE e.id >= $1 AND e.id < $2 GROUP BY e.id, e.capacity",
            &[event.into(), (event + 4).into()],
        )
        .await?;
        s.commit().await
    }
    .await;
    if result.is_err() {
        s.rollback().await?;
    }
    result
}

/// Which transactions a run interleaves.
#[derive(Clone, Copy)]
enum Mix {
    /// `store_ops`'s key-value mix in SQL.
    Keyed,
    /// [`booking`]: CTE, subqueries, outer join, aggregate filter.
    Queries,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Keyed => "keyed",
            Mix::Queries => "queries",
        }
    }

    fn schema(self) -> &'static [&'static str] {
        match self {
            Mix::Keyed => &[
                "CREATE TABLE acct (id integer PRIMARY KEY, v bigint NOT NULL)",
                "CREATE TABLE log (id bigint PRIMARY KEY, v integer)",
            ],
            Mix::Queries => &[
                "CREATE TABLE events (id integer PRIMARY KEY, capacity integer NOT NULL)",
                "CREATE TABLE holds (id bigint PRIMARY KEY, event_id integer NOT NULL, \
                 seats integer NOT NULL, status text NOT NULL)",
                "CREATE INDEX holds_event ON holds (event_id)",
            ],
        }
    }

    /// The statement and parameters that add row `i` of the data set.
    fn row(self, i: i64) -> (&'static str, Vec<Value>) {
        match self {
            Mix::Keyed => ("INSERT INTO acct VALUES ($1, $2)", vec![i.into(), i.into()]),
            Mix::Queries => ("INSERT INTO events VALUES ($1, 20)", vec![i.into()]),
        }
    }

    fn job(self, db: &SqlDb, isolation: Isolation, rng: &mut Rng64, n: u64) -> Job {
        match self {
            Mix::Keyed => {
                let (a, b) = (rng.below(995) as i64, rng.below(1000) as i64);
                Box::pin(transaction(db.session(), isolation, a, b, n as i64))
            }
            Mix::Queries => {
                let event = rng.below(996) as i64;
                Box::pin(booking(db.session(), isolation, event, n as i64))
            }
        }
    }
}

fn bench(mix: Mix, isolation: Isolation, transactions: u64, concurrency: usize) {
    let config = StoreConfig {
        record_history: false,
        ..StoreConfig::default()
    };
    let store = Store::new(Schema::default(), config, Seed(1));
    let db = SqlDb::new(store.clone());
    let mut setup = db.session();
    block_on(async {
        for ddl in mix.schema() {
            setup.execute(ddl, &[]).await?;
        }
        for i in 0..1000i64 {
            let (insert, params) = mix.row(i);
            setup.execute(insert, &params).await?;
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
            running.push(mix.job(&db, isolation, &mut rng, started));
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
        "{:<8} {:<16} {:>9.0} statements/s {:>8.0} transactions/s ({committed} committed, {failed} aborted, {:.2} s)",
        mix.name(),
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
    println!(
        "sql_ops: {transactions} transactions per line, 32 interleaved, 1000 rows, one thread"
    );
    // OVERBOOK_BENCH_MIX=keyed (or queries) runs that mix alone.
    let only = std::env::var("OVERBOOK_BENCH_MIX").ok();
    for mix in [Mix::Keyed, Mix::Queries] {
        if only.as_deref().is_some_and(|name| name != mix.name()) {
            continue;
        }
        for isolation in Isolation::ALL {
            bench(mix, isolation, transactions, 32);
        }
    }
}
