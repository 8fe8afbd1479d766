//! The server under tokio-postgres: over `tokio::io::duplex`, in a
//! turmoil sim, and (ignored unless PostgreSQL is there) described
//! statement by statement against the dev PostgreSQL.

use super::*;
use crate::postgres::PgValue;
use crate::sql::{Decimal, SqlDb};
use bytes::BytesMut;
use std::error::Error;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::ReadBuf;
use tokio_postgres::error::SqlState as PgState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls};

type BoxError = Box<dyn Error + Sync + Send>;

/// A uuid as the `uuid` crate binds it: only to a uuid parameter, in the
/// binary format.
#[derive(Debug)]
struct Uuid(u128);

impl ToSql for Uuid {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.extend_from_slice(&self.0.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
    to_sql_checked!();
}

/// A decimal as rust_decimal binds it: only to a numeric parameter, in
/// the binary format.
#[derive(Debug)]
struct Numeric(&'static str);

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        types::put_numeric(out, self.0);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
    to_sql_checked!();
}

/// The server's message of an error.
fn pg_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string())
}

fn value(row: &tokio_postgres::Row, i: usize) -> Value {
    row.get::<_, PgValue>(i).0
}

const SCHEMA: &str = "
    CREATE TABLE seats (id uuid PRIMARY KEY, n int NOT NULL, label text, at timestamptz, price numeric(10,2));
    CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
    INSERT INTO accounts VALUES (1, 50), (2, 50);
";

fn database() -> SqlDb {
    let db = SqlDb::new_empty();
    db.install(SCHEMA).unwrap();
    db
}

/// The session the client's tests run: prepared statements with typed
/// parameters, a transaction, a unique violation. Returns a log of what
/// it saw (for the determinism check).
async fn typed_statements(client: &Client) -> Result<String, BoxError> {
    let mut log = String::new();
    let insert = client
        .prepare("INSERT INTO seats VALUES ($1, $2, $3, $4, $5)")
        .await?;
    assert_eq!(
        insert.params(),
        &[
            Type::UUID,
            Type::INT4,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::NUMERIC
        ]
    );
    assert!(insert.columns().is_empty());
    // 2025-01-01 00:00:00 UTC.
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
    let id = Uuid(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let n = client
        .execute(&insert, &[&id, &7i32, &"front row", &at, &Numeric("12.50")])
        .await?;
    assert_eq!(n, 1);

    let select = client
        .prepare("SELECT id, n, label, at, price, n * 2 AS twice FROM seats WHERE id = $1")
        .await?;
    assert_eq!(select.params(), &[Type::UUID]);
    let column_types: Vec<&Type> = select.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        column_types,
        [
            &Type::UUID,
            &Type::INT4,
            &Type::TEXT,
            &Type::TIMESTAMPTZ,
            &Type::NUMERIC,
            &Type::INT4
        ]
    );
    let rows = client.query(&select, &[&id]).await?;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(value(row, 0), Value::Uuid(id.0));
    assert_eq!(row.get::<_, i32>(1), 7);
    assert_eq!(row.get::<_, &str>(2), "front row");
    assert_eq!(row.get::<_, SystemTime>(3), at);
    assert_eq!(value(row, 4), Value::Numeric(Decimal::new(1250, 2)));
    assert_eq!(row.get::<_, i32>(5), 14);
    writeln!(
        log,
        "row {:?}",
        (0..6).map(|i| value(row, i)).collect::<Vec<_>>()
    )?;

    // A cast types its parameter; the text format reads as the type met.
    let rows = client
        .query(
            "SELECT n + $1::int AS m FROM seats WHERE n = $2",
            &[&1i32, &7i32],
        )
        .await?;
    assert_eq!(rows[0].get::<_, i32>(0), 8);
    let rows = client.simple_query("SELECT label, n FROM seats").await?;
    let tokio_postgres::SimpleQueryMessage::Row(row) = &rows[1] else {
        panic!("{rows:?}")
    };
    assert_eq!((row.get(0), row.get(1)), (Some("front row"), Some("7")));

    // A statement described with the wrong parameters is refused by the
    // driver, as PostgreSQL's description makes it.
    let wrong = client.query(&select, &[&7i32]).await.unwrap_err();
    writeln!(log, "wrong type: {wrong}")?;

    // A transaction: BEGIN, two updates, COMMIT.
    client
        .batch_execute("BEGIN; UPDATE accounts SET balance = balance - 10 WHERE id = 1")
        .await?;
    let moved = client
        .execute(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
            &[&10i32, &2i32],
        )
        .await?;
    assert_eq!(moved, 1);
    client.batch_execute("COMMIT").await?;
    let balances: Vec<i32> = client
        .query("SELECT balance FROM accounts ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(balances, [40, 60]);

    // A unique violation keeps its SQLSTATE.
    let dup = client
        .execute(&insert, &[&id, &8i32, &"again", &at, &Numeric("1")])
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Some(&PgState::UNIQUE_VIOLATION), "{dup}");
    writeln!(log, "duplicate: {}", pg_message(&dup))?;
    // The connection goes on after it.
    let rows = client.query("SELECT count(*) FROM seats", &[]).await?;
    assert_eq!(rows[0].get::<_, i64>(0), 1);
    Ok(log)
}

/// Two connections: a serializable write skew fails one with 40001, and
/// an update waits for the other's row lock until its COMMIT.
async fn two_connections(a: &Client, b: &Client) -> Result<String, BoxError> {
    let mut log = String::new();
    for c in [a, b] {
        c.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await?;
        let total: i64 = c
            .query_one("SELECT sum(balance) FROM accounts", &[])
            .await?
            .get::<_, PgValue>(0)
            .0
            .as_int()
            .unwrap_or(-1);
        writeln!(log, "sum {total}")?;
    }
    a.execute(
        "UPDATE accounts SET balance = balance - 100 WHERE id = 1",
        &[],
    )
    .await?;
    let b_update = b
        .execute(
            "UPDATE accounts SET balance = balance - 100 WHERE id = 2",
            &[],
        )
        .await;
    a.batch_execute("COMMIT").await?;
    let b_commit = match b_update {
        Ok(_) => b.batch_execute("COMMIT").await,
        Err(e) => Err(e),
    };
    let e = b_commit.unwrap_err();
    assert_eq!(e.code(), Some(&PgState::T_R_SERIALIZATION_FAILURE), "{e}");
    writeln!(log, "skew: {}", pg_message(&e))?;
    b.batch_execute("ROLLBACK").await?;

    // A lock wait, released by the holder's COMMIT.
    a.batch_execute("BEGIN; UPDATE accounts SET balance = 1 WHERE id = 2")
        .await?;
    let order = Mutex::new(Vec::new());
    let waiter = async {
        let row = b
            .query_one(
                "UPDATE accounts SET balance = balance + 1 WHERE id = $1 RETURNING balance",
                &[&2i32],
            )
            .await?;
        order.lock().unwrap().push("updated");
        Ok::<i32, tokio_postgres::Error>(row.get(0))
    };
    let holder = async {
        // Let the waiter reach its lock first.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        order.lock().unwrap().push("commit");
        a.batch_execute("COMMIT").await
    };
    let (waited, committed) = tokio::join!(waiter, holder);
    committed?;
    assert_eq!(waited?, 2, "the update re-read the committed row");
    assert_eq!(*order.lock().unwrap(), ["commit", "updated"]);
    writeln!(log, "waited")?;
    Ok(log)
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_postgres_over_duplex_prepares_binds_and_reads_every_type() {
    let db = database();
    let server = Server::new(db);
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    let (a_side, a_server) = tokio::io::duplex(1 << 16);
    let (b_side, b_server) = tokio::io::duplex(1 << 16);
    let connect = |stream| async move {
        tokio_postgres::Config::new()
            .user("postgres")
            .dbname("app")
            .connect_raw(stream, NoTls)
            .await
    };
    let work = async {
        let (client, conn) = connect(client_side).await?;
        let (a, a_conn) = connect(a_side).await?;
        let (b, b_conn) = connect(b_side).await?;
        let run = async {
            let log = typed_statements(&client).await?;
            let log2 = two_connections(&a, &b).await?;
            drop((client, a, b));
            Ok::<_, BoxError>(log + &log2)
        };
        let (log, _, _, _) = tokio::join!(run, conn, a_conn, b_conn);
        log
    };
    let (log, s1, s2, s3) = tokio::join!(
        work,
        server.serve(server_side),
        server.serve(a_server),
        server.serve(b_server)
    );
    let log = log.unwrap();
    s1.unwrap();
    s2.unwrap();
    s3.unwrap();
    assert!(log.contains("duplicate key value"), "{log}");
}

/// A stream that keeps every byte the server wrote.
struct Recorded<S> {
    inner: S,
    written: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One turmoil run: the server on host `db`, the clients on `app`.
/// Returns the clients' log and every byte the server sent.
fn turmoil_run(seed: u64) -> (String, Vec<u8>) {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .build();
    let written: Arc<Mutex<Vec<u8>>> = Arc::default();
    let recorded = written.clone();
    sim.host("db", move || {
        let server = Server::new(database());
        let written = recorded.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:5432").await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let server = server.clone();
                let stream = Recorded {
                    inner: stream,
                    written: written.clone(),
                };
                tokio::spawn(async move { server.serve(stream).await });
            }
        }
    });
    let log: Arc<Mutex<String>> = Arc::default();
    let out = log.clone();
    sim.client("app", async move {
        let connect = || async {
            let stream = turmoil::net::TcpStream::connect("db:5432").await?;
            let (client, conn) = tokio_postgres::Config::new()
                .user("postgres")
                .connect_raw(stream, NoTls)
                .await?;
            tokio::spawn(conn);
            Ok::<_, BoxError>(client)
        };
        let run = async {
            let client = connect().await?;
            let (a, b) = (connect().await?, connect().await?);
            let mut text = typed_statements(&client).await?;
            text += &two_connections(&a, &b).await?;
            Ok::<_, BoxError>(text)
        };
        *out.lock().unwrap() = run.await.map_err(|e| e as Box<dyn Error>)?;
        Ok(())
    });
    sim.run().unwrap();
    let log = log.lock().unwrap().clone();
    let bytes = written.lock().unwrap().clone();
    (log, bytes)
}

#[test]
fn tokio_postgres_over_turmoil_and_the_same_sim_sends_the_same_bytes() {
    let (log, bytes) = turmoil_run(7);
    assert!(log.contains("skew: could not serialize access"), "{log}");
    assert!(!bytes.is_empty());
    let (log2, bytes2) = turmoil_run(7);
    assert_eq!(log, log2);
    assert_eq!(bytes, bytes2, "the server's bytes differ between two runs");
}
