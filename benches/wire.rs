//! Statements per second through PostgreSQL's wire protocol against the
//! direct `Session` path, on the same statements.
//!
//! `cargo bench --bench wire` runs one connection's transactions (BEGIN,
//! a point SELECT, an UPDATE, an INSERT, COMMIT; parameters bound) over
//! 1,000 accounts, first on a [`SqlSession`] directly, then through
//! tokio-postgres over `tokio::io::duplex` to [`overbook::pgwire`]'s
//! server (statements prepared once, as `prepare_cached` does; BEGIN and
//! COMMIT as simple queries, as `Client::transaction` sends them), on one
//! thread. `OVERBOOK_BENCH_TXS` sets the number of transactions.

use overbook::pgwire::Server;
use overbook::sql::{Session, SqlDb, Value};
use overbook::store::block_on;
use std::time::Instant;

const SCHEMA: &str = "CREATE TABLE acct (id bigint PRIMARY KEY, v bigint NOT NULL);
    CREATE TABLE log (id bigint PRIMARY KEY, n int NOT NULL)";

fn database() -> SqlDb {
    let db = SqlDb::new_empty();
    db.install(SCHEMA).unwrap();
    for id in 0..1000i64 {
        db.load("acct", &[Value::Int(id), Value::Int(0)]).unwrap();
    }
    db
}

const STATEMENTS_PER_TX: u64 = 5;

fn direct(transactions: u64) -> f64 {
    let db = database();
    let mut s = db.session();
    let start = Instant::now();
    block_on(async {
        for i in 0..transactions as i64 {
            let id = (i * 7919) % 1000;
            s.execute("BEGIN", &[]).await.unwrap();
            s.execute("SELECT v FROM acct WHERE id = $1", &[id.into()])
                .await
                .unwrap();
            s.execute("UPDATE acct SET v = v + 1 WHERE id = $1", &[id.into()])
                .await
                .unwrap();
            s.execute("INSERT INTO log VALUES ($1, 1)", &[i.into()])
                .await
                .unwrap();
            s.execute("COMMIT", &[]).await.unwrap();
        }
    });
    start.elapsed().as_secs_f64()
}

fn wire(transactions: u64) -> f64 {
    let server = Server::new(database());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client_side, server_side) = tokio::io::duplex(1 << 16);
        let work = async {
            let (client, conn) = tokio_postgres::Config::new()
                .user("postgres")
                .connect_raw(client_side, tokio_postgres::NoTls)
                .await
                .unwrap();
            let run = async {
                let select = client
                    .prepare("SELECT v FROM acct WHERE id = $1")
                    .await
                    .unwrap();
                let update = client
                    .prepare("UPDATE acct SET v = v + 1 WHERE id = $1")
                    .await
                    .unwrap();
                let insert = client
                    .prepare("INSERT INTO log VALUES ($1, 1)")
                    .await
                    .unwrap();
                let start = Instant::now();
                for i in 0..transactions as i64 {
                    let id = (i * 7919) % 1000;
                    client.batch_execute("BEGIN").await.unwrap();
                    client.query(&select, &[&id]).await.unwrap();
                    client.execute(&update, &[&id]).await.unwrap();
                    client.execute(&insert, &[&i]).await.unwrap();
                    client.batch_execute("COMMIT").await.unwrap();
                }
                let elapsed = start.elapsed().as_secs_f64();
                drop(client);
                elapsed
            };
            let (elapsed, _) = tokio::join!(run, conn);
            elapsed
        };
        let (elapsed, served) = tokio::join!(work, server.serve(server_side));
        served.unwrap();
        elapsed
    })
}

fn main() {
    let transactions: u64 = std::env::var("OVERBOOK_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let statements = (transactions * STATEMENTS_PER_TX) as f64;
    println!("wire: {transactions} transactions of {STATEMENTS_PER_TX} statements, one connection, one thread");
    let direct_s = direct(transactions);
    let wire_s = wire(transactions);
    let (d, w) = (statements / direct_s, statements / wire_s);
    println!("direct Session  {d:>10.0} statements/s");
    println!("wire (duplex)   {w:>10.0} statements/s");
    println!("wire / direct   {:>10.2}", w / d);
}
