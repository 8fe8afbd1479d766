//! The simulated database on PostgreSQL's wire protocol inside a turmoil
//! world: tokio-postgres connects over turmoil's TCP to a database host,
//! and the same seed gives the same bytes. (The protocol's own tests, over
//! `tokio::io::duplex`, are in overbook-db's `pgwire`.)

use overbook::pgwire::Server;
use overbook::sql::SqlDb;
use std::error::Error;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

type BoxError = Box<dyn Error + Sync + Send>;

const SCHEMA: &str = "
    CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
    INSERT INTO accounts VALUES (1, 50), (2, 50);
";

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
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        written
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Write skew between two serializable connections (one of them fails
/// with 40001), then a prepared statement with a typed parameter.
async fn skew(a: &Client, b: &Client) -> Result<String, BoxError> {
    let mut log = String::new();
    for c in [a, b] {
        c.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await?;
        let total: i64 = c
            .query_one("SELECT sum(balance) FROM accounts", &[])
            .await?
            .get(0);
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
    assert_eq!(e.code(), Some(&SqlState::T_R_SERIALIZATION_FAILURE), "{e}");
    writeln!(
        log,
        "skew: {}",
        e.as_db_error().map_or("?", |d| d.message())
    )?;
    b.batch_execute("ROLLBACK").await?;
    let balance: i32 = b
        .query_one("SELECT balance FROM accounts WHERE id = $1", &[&1i32])
        .await?
        .get(0);
    writeln!(log, "balance {balance}")?;
    Ok(log)
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
        let db = SqlDb::new_empty();
        db.install(SCHEMA).unwrap();
        let server = Server::new(db);
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
            let (a, b) = (connect().await?, connect().await?);
            skew(&a, &b).await
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
    assert!(log.contains("balance -50"), "{log}");
    assert!(!bytes.is_empty());
    let (log2, bytes2) = turmoil_run(7);
    assert_eq!(log, log2);
    assert_eq!(bytes, bytes2, "the server's bytes differ between two runs");
}

/// The harness's accept loop (`world::serve_pgwire`) on a turmoil host.
#[test]
fn serve_pgwire_accepts_connections_on_a_turmoil_host() {
    let mut sim = turmoil::Builder::new().rng_seed(3).build();
    sim.host("db", || async {
        let db = SqlDb::new_empty();
        db.install(SCHEMA).unwrap();
        overbook::world::serve_pgwire(db, "0.0.0.0:5432").await?;
        Ok(())
    });
    sim.client("app", async {
        let stream = turmoil::net::TcpStream::connect("db:5432").await?;
        let (client, conn) = tokio_postgres::Config::new()
            .user("postgres")
            .connect_raw(stream, NoTls)
            .await?;
        tokio::spawn(conn);
        let n: i64 = client
            .query_one("SELECT count(*) FROM accounts", &[])
            .await?
            .get(0);
        assert_eq!(n, 2);
        Ok(())
    });
    sim.run().unwrap();
}
