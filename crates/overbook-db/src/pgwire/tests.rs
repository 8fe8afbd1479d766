//! The server under tokio-postgres: over `tokio::io::duplex` (the suite
//! runs it over turmoil, `tests/suite/sql/wire.rs`), and
//! (ignored unless PostgreSQL is there) described
//! statement by statement against the dev PostgreSQL.

use super::*;
use crate::postgres::PgValue;
use crate::sql::{Decimal, SqlDb};
use bytes::BytesMut;
use std::error::Error;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
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

const EVERY_TYPE: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'ok');
    CREATE TABLE every (id bigint PRIMARY KEY, small smallint, code varchar(8), flag bool,
        day date, local timestamp, at timestamptz, span interval, doc jsonb, price numeric,
        r int4range, tr tstzrange, m mood, ch char(3));
    INSERT INTO every VALUES (1, -3, 'abc', true, '2025-02-03', '2025-02-03 04:05:06',
        '2025-02-03 04:05:06+00', '1 mon 2 days 03:04:05', '{\"a\": [1, 2]}', -1234.5678,
        '[1,5)', '[2025-01-01, 2025-02-01)', 'ok', 'ab');
    INSERT INTO every (id) VALUES (2);
";

const EVERY_QUERY: &str =
    "SELECT *, ARRAY[id, id] AS ids, price * 2 AS twice, span + span AS spans FROM every ORDER BY id";

/// Serves `db` on a duplex stream and runs `work` with a tokio-postgres
/// client connected to it.
async fn with_client<F, Fut, T>(db: SqlDb, work: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let server = Server::new(db);
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    let client_work = async {
        let (client, conn) = tokio_postgres::Config::new()
            .user("postgres")
            .connect_raw(client_side, NoTls)
            .await
            .unwrap();
        let (out, _) = tokio::join!(work(client), conn);
        out
    };
    let (out, served) = tokio::join!(client_work, server.serve(server_side));
    served.unwrap();
    out
}

#[tokio::test(flavor = "current_thread")]
async fn every_type_reads_back_in_binary_and_text_as_the_session_returns_it() {
    let db = SqlDb::new_empty();
    db.install(EVERY_TYPE).unwrap();
    let direct = crate::store::block_on(crate::sql::Session::execute(
        &mut db.session(),
        EVERY_QUERY,
        &[],
    ))
    .unwrap();
    let (binary, text) = with_client(db, |client| async move {
        let rows = client.query(EVERY_QUERY, &[]).await.unwrap();
        let types: Vec<u32> = rows[0].columns().iter().map(|c| c.type_().oid()).collect();
        // id..ch, then int8[], numeric, interval (the enum as text).
        assert_eq!(
            types,
            [
                20, 21, 1043, 16, 1082, 1114, 1184, 1186, 3802, 1700, 3904, 3910, 25, 1042, 1016,
                1700, 1186
            ]
        );
        let binary: Vec<Vec<Value>> = rows
            .iter()
            .map(|row| (0..row.len()).map(|i| value(row, i)).collect())
            .collect();
        let mut text = Vec::new();
        for message in client.simple_query(EVERY_QUERY).await.unwrap() {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                text.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect::<Vec<_>>(),
                );
            }
        }
        drop(client);
        (binary, text)
    })
    .await;
    assert_eq!(binary, direct.rows);
    let direct_text: Vec<Vec<Option<String>>> = direct
        .rows
        .iter()
        .map(|row| row.iter().map(Value::to_pg_text).collect())
        .collect();
    assert_eq!(text, direct_text);
    assert_eq!(text[0][12].as_deref(), Some("ok"));
    assert_eq!(text[0][14].as_deref(), Some("{1,1}"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_portal_returns_its_rows_a_few_at_a_time_and_an_error_skips_to_sync() {
    let db = database();
    with_client(db, |mut client| async move {
        let tx = client.transaction().await.unwrap();
        let select = tx
            .prepare("SELECT id FROM accounts WHERE id >= $1 ORDER BY id")
            .await
            .unwrap();
        let portal = tx.bind(&select, &[&1i32]).await.unwrap();
        let first = tx.query_portal(&portal, 1).await.unwrap();
        let rest = tx.query_portal(&portal, 5).await.unwrap();
        let none = tx.query_portal(&portal, 5).await.unwrap();
        let ids = |rows: &[tokio_postgres::Row]| {
            rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>()
        };
        assert_eq!(
            (ids(&first), ids(&rest), ids(&none)),
            (vec![1], vec![2], vec![])
        );
        tx.commit().await.unwrap();
        // Two pipelined queries: the first's error skips its own messages
        // up to its Sync, not the second's.
        let (bad, good) = tokio::join!(
            client.query("SELECT * FROM nowhere WHERE id = $1", &[&1i32]),
            client.query("SELECT balance FROM accounts WHERE id = $1", &[&2i32])
        );
        assert_eq!(bad.unwrap_err().code(), Some(&PgState::UNDEFINED_TABLE));
        assert_eq!(good.unwrap()[0].get::<_, i32>(0), 50);
        // A failed block: statements refused with 25P02 until ROLLBACK
        // (a COMMIT of it rolls back).
        client.batch_execute("BEGIN").await.unwrap();
        let e = client.query("SELECT 1/0", &[]).await.unwrap_err();
        assert_eq!(e.code(), Some(&PgState::DIVISION_BY_ZERO));
        let e = client.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(e.code(), Some(&PgState::IN_FAILED_SQL_TRANSACTION));
        client.batch_execute("COMMIT").await.unwrap();
        assert_eq!(
            client
                .query_one("SELECT 1 AS one", &[])
                .await
                .unwrap()
                .get::<_, i32>(0),
            1
        );
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_extended_protocol_skips_to_sync_after_an_error_and_refuses_a_reused_name() {
    let server = Server::new(database());
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move { server.serve(server_side).await });
    let mut raw = Raw::connect(client_side, "postgres", "app").await;
    let parse = |name: &str, sql: &str| {
        let mut o = BytesMut::new();
        message(&mut o, b'P', |o| {
            put_cstr(o, name);
            put_cstr(o, sql);
            o.put_i16(0);
        });
        o
    };
    let bind_execute = |statement: &str| {
        let mut o = BytesMut::new();
        message(&mut o, b'B', |o| {
            put_cstr(o, "");
            put_cstr(o, statement);
            o.put_i16(0);
            o.put_i16(0);
            o.put_i16(0);
        });
        message(&mut o, b'E', |o| {
            put_cstr(o, "");
            o.put_i32(0);
        });
        o
    };
    let sync = {
        let mut o = BytesMut::new();
        message(&mut o, b'S', |_| {});
        o
    };
    // A bad statement: its Bind and Execute are skipped, Sync answers.
    let mut batch = parse("", "SELECT * FROM nowhere");
    batch.extend_from_slice(&bind_execute(""));
    batch.extend_from_slice(&sync);
    // Then a named one, twice: the second Parse is 42P05.
    batch.extend_from_slice(&parse("s1", "SELECT balance FROM accounts ORDER BY id"));
    batch.extend_from_slice(&bind_execute("s1"));
    batch.extend_from_slice(&sync);
    batch.extend_from_slice(&parse("s1", "SELECT 1"));
    batch.extend_from_slice(&sync);
    // An empty statement.
    batch.extend_from_slice(&parse("", ""));
    batch.extend_from_slice(&bind_execute(""));
    batch.extend_from_slice(&sync);
    raw.stream.write_all(&batch).await.unwrap();
    let mut log = Vec::new();
    while log.iter().filter(|m: &&String| m.starts_with('Z')).count() < 4 {
        let (tag, body) = raw.next().await;
        let text = match tag {
            b'E' => {
                let code = body
                    .split(|&b| b == 0)
                    .find_map(|f| f.strip_prefix(b"C"))
                    .map(|c| String::from_utf8_lossy(c).to_string());
                format!("E {}", code.unwrap_or_default())
            }
            b'C' => format!("C {}", String::from_utf8_lossy(&body[..body.len() - 1])),
            b'Z' => format!("Z {}", body[0] as char),
            other => (other as char).to_string(),
        };
        log.push(text);
    }
    assert_eq!(
        log,
        [
            "E 42P01",
            "Z I",
            "1",
            "2",
            "D",
            "D",
            "C SELECT 2",
            "Z I",
            "E 42P05",
            "Z I",
            "1",
            "2",
            "I",
            "Z I"
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_that_goes_away_mid_transaction_rolls_back_and_releases_its_locks() {
    let server = Server::new(database());
    let connect = |server: Server| async move {
        let (client_side, server_side) = tokio::io::duplex(1 << 16);
        let served = tokio::spawn(async move { server.serve(server_side).await });
        let (client, conn) = tokio_postgres::Config::new()
            .user("postgres")
            .connect_raw(client_side, NoTls)
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        (client, conn, served)
    };
    let (a, a_conn, a_served) = connect(server.clone()).await;
    a.batch_execute("BEGIN; UPDATE accounts SET balance = 0 WHERE id = 1")
        .await
        .unwrap();
    // The client goes away without COMMIT: its connection ends, the
    // server's session with it.
    drop(a);
    a_conn.await.unwrap().unwrap();
    a_served.await.unwrap().unwrap();
    let (b, _b_conn, _b_served) = connect(server).await;
    let row = b
        .query_one(
            "UPDATE accounts SET balance = balance + 1 WHERE id = 1 RETURNING balance",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 51, "a's update was rolled back");
}

/// A client that logs what the server answers to simple queries,
/// message by message (`T` with the column OIDs, `D`, `C` with the tag,
/// `E` with the SQLSTATE and message, `I`, `Z` with the status), for
/// comparing two servers byte-level behaviour without a driver between.
struct Raw<S> {
    stream: S,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    async fn connect(mut stream: S, user: &str, database: &str) -> Raw<S> {
        let mut body = BytesMut::new();
        body.put_i32(196608);
        for s in ["user", user, "database", database, ""] {
            put_cstr(&mut body, s);
        }
        let mut startup = BytesMut::new();
        startup.put_i32(body.len() as i32 + 4);
        startup.put_slice(&body);
        stream.write_all(&startup).await.unwrap();
        let mut raw = Raw { stream };
        while raw.next().await.0 != b'Z' {}
        raw
    }

    async fn next(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 5];
        self.stream.read_exact(&mut head).await.unwrap();
        let len = i32::from_be_bytes(head[1..].try_into().unwrap()) as usize - 4;
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await.unwrap();
        (head[0], body)
    }

    async fn query(&mut self, sql: &str) -> Vec<String> {
        let mut out = BytesMut::new();
        message(&mut out, b'Q', |o| put_cstr(o, sql));
        self.stream.write_all(&out).await.unwrap();
        let mut log = Vec::new();
        loop {
            let (tag, body) = self.next().await;
            let mut r = Reader { bytes: &body };
            match tag {
                b'T' => {
                    let n = r.count().unwrap();
                    let mut oids = Vec::new();
                    for _ in 0..n {
                        let name = r.cstr().unwrap().to_string();
                        r.take(6).unwrap();
                        let oid = r.i32().unwrap();
                        r.take(8).unwrap();
                        oids.push(format!("{name}:{oid}"));
                    }
                    log.push(format!("T {}", oids.join(",")));
                }
                b'D' => log.push("D".into()),
                b'C' => log.push(format!("C {}", r.cstr().unwrap())),
                b'I' => log.push("I".into()),
                b'E' => {
                    let (mut code, mut text) = (String::new(), String::new());
                    while let Ok(field) = r.u8() {
                        if field == 0 {
                            break;
                        }
                        let value = r.cstr().unwrap().to_string();
                        match field {
                            b'C' => code = value,
                            b'M' => text = value,
                            _ => {}
                        }
                    }
                    log.push(format!("E {code} {text}"));
                }
                b'Z' => {
                    log.push(format!("Z {}", body[0] as char));
                    return log;
                }
                // Notices and parameter changes: not compared.
                _ => {}
            }
        }
    }
}

const COMPARED_SCHEMA: &str = "
    CREATE TABLE t (id uuid PRIMARY KEY, n int NOT NULL, big bigint, small smallint, label text,
        code varchar(10), at timestamptz, local timestamp, day date, span interval,
        price numeric(10,2), ok bool, doc jsonb);
    CREATE TABLE u (id int PRIMARY KEY, t_id uuid, qty int NOT NULL);
";

/// Statements whose Parse/Describe is compared: parameter OIDs, column
/// names and OIDs.
const DESCRIBED: &[&str] = &[
    "SELECT * FROM t WHERE id = $1",
    "SELECT n, label FROM t WHERE n > $1 AND label = $2",
    "SELECT count(*), sum(n), sum(big), avg(n), min(price), max(at) FROM t",
    "INSERT INTO t (id, n, label) VALUES ($1, $2, $3)",
    "INSERT INTO t (id, n) VALUES ($1, $2) RETURNING id, n",
    "UPDATE t SET n = $1, price = $2 WHERE id = $3",
    "DELETE FROM t WHERE at < $1",
    "SELECT $1::int + 1 AS x",
    "SELECT $1 AS anything",
    "SELECT * FROM t WHERE id = ANY($1)",
    "SELECT n FROM t ORDER BY n LIMIT $1 OFFSET $2",
    "SELECT n * 2 AS d, n + big AS e, upper(label) AS f, now() AS g, ok AND true AS h FROM t",
    "SELECT t.id, u.qty FROM t JOIN u ON u.t_id = t.id WHERE u.qty >= $1",
    "UPDATE u SET qty = qty - $1 WHERE id = $2 RETURNING qty",
    "SELECT label FROM t WHERE label LIKE $1",
    "SELECT COALESCE(label, $1) AS l FROM t",
    "INSERT INTO u SELECT $1, $2, $3",
    "SELECT n FROM t WHERE n BETWEEN $1 AND $2",
    "SELECT n FROM t WHERE n IN ($1, $2)",
    "SELECT day, span, local, doc, ok, code, small FROM t WHERE day = $1 AND span = $2 AND local = $3 AND ok = $4 AND code = $5 AND small = $6",
    "WITH moved AS (UPDATE u SET qty = qty + 1 WHERE id = $1 RETURNING id, qty) SELECT * FROM moved",
    "INSERT INTO u VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET qty = u.qty + EXCLUDED.qty RETURNING qty",
    "SELECT EXISTS (SELECT 1 FROM u WHERE qty > $1) AS e",
    "SELECT id FROM u WHERE qty = $1 FOR UPDATE",
    "SELECT pg_try_advisory_xact_lock($1) AS got",
    "SELECT ARRAY[n, n] AS a, array_agg(big) AS b FROM t GROUP BY n",
    "SELECT array_agg(n) AS a FROM t",
    "SELECT doc->>'a' AS a, doc->'b' AS b, at + span AS x, day + 1 AS d, length(label) AS l FROM t",
    "SELECT gen_random_uuid() AS g, $1::uuid AS u, $2::timestamptz AS a",
    "INSERT INTO t (id, n, doc, day, span, ok) VALUES ($1, $2, $3, $4, $5, $6)",
    "UPDATE t SET at = now() WHERE id = $1 RETURNING at, price",
    "SELECT (SELECT max(qty) FROM u) AS m, (SELECT label FROM t LIMIT 1) AS l",
    "SELECT n FROM t WHERE code = $1 OR label = $2",
    "SELECT count(*) AS c FROM t WHERE at > now() - $1::interval",
    "BEGIN ISOLATION LEVEL SERIALIZABLE",
    "SELECT * FROM missing",
];

/// Simple queries whose answers are compared message by message.
const QUERIED: &[&str] = &[
    "BEGIN",
    "INSERT INTO u VALUES (1, NULL, 5)",
    "INSERT INTO u VALUES (2, NULL, 5), (3, NULL, 6)",
    "UPDATE u SET qty = qty + 1",
    "SELECT id, qty FROM u ORDER BY id",
    "DELETE FROM u WHERE id = 3",
    "COMMIT",
    "BEGIN",
    "SELECT 1/0",
    "SELECT 1",
    "COMMIT",
    "INSERT INTO u VALUES (1, NULL, 1)",
    "SELECT * FROM nope",
    "INSERT INTO u VALUES (10, NULL, 1); SELECT qty FROM u WHERE id = 10; UPDATE u SET qty = 2 WHERE id = 10",
    "INSERT INTO u VALUES (11, NULL, 1); INSERT INTO u VALUES (11, NULL, 1)",
    "SELECT count(*) FROM u WHERE id = 11",
    "",
    "SET lock_timeout = '1s'",
    "SHOW lock_timeout",
    "CREATE INDEX u_qty ON u (qty)",
    "DROP INDEX u_qty",
    "BEGIN; SAVEPOINT s; RELEASE SAVEPOINT s; ROLLBACK",
    "START TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "END",
    "TRUNCATE u",
];

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
async fn describes_tags_and_errors_like_postgres() {
    let url = std::env::var("OVERBOOK_PG_URL").expect(
        "describes_tags_and_errors_like_postgres needs OVERBOOK_PG_URL (scripts/with-postgres.sh)",
    );
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (pg, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    let schema = "overbook_wire_describe";
    pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema}"
    ))
    .await
    .unwrap();
    pg.batch_execute(COMPARED_SCHEMA).await.unwrap();

    let db = SqlDb::new_empty();
    db.install(COMPARED_SCHEMA).unwrap();
    let server = Server::new(db);
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(server_side).await });
    let (sim, conn) = tokio_postgres::Config::new()
        .user("postgres")
        .connect_raw(client_side, NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);

    let describe = |s: Result<tokio_postgres::Statement, tokio_postgres::Error>| match s {
        Ok(s) => format!(
            "params {:?} columns {:?}",
            s.params().iter().map(Type::oid).collect::<Vec<_>>(),
            s.columns()
                .iter()
                .map(|c| format!("{}:{}", c.name(), c.type_().oid()))
                .collect::<Vec<_>>()
        ),
        Err(e) => format!(
            "error {:?} {}",
            e.code().map(|c| c.code().to_string()),
            pg_message(&e)
        ),
    };
    let mut differences = Vec::new();
    for sql in DESCRIBED {
        let (on_pg, on_sim) = (
            describe(pg.prepare(sql).await),
            describe(sim.prepare(sql).await),
        );
        if on_pg != on_sim {
            differences.push(format!("{sql}\n  postgres: {on_pg}\n  simulated: {on_sim}"));
        }
    }

    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("a TCP host, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let dbname = config.get_dbname().unwrap_or(user);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap();
    let mut raw_pg = Raw::connect(stream, user, dbname).await;
    raw_pg.query(&format!("SET search_path = {schema}")).await;
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move { server.serve(server_side).await });
    let mut raw_sim = Raw::connect(client_side, "postgres", "postgres").await;
    for sql in QUERIED {
        let (on_pg, on_sim) = (raw_pg.query(sql).await, raw_sim.query(sql).await);
        if on_pg != on_sim {
            differences.push(format!(
                "{sql:?}\n  postgres: {on_pg:?}\n  simulated: {on_sim:?}"
            ));
        }
    }
    pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
