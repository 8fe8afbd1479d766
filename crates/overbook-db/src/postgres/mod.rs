//! The same transaction interface on a real PostgreSQL, through
//! `tokio-postgres`: [`PgSession`] implements [`Session`], so a handler
//! written against `impl Session` runs here and on the simulated store.
//!
//! Statements are prepared once per connection and cached by text.
//! Parameters travel in PostgreSQL's text format (so one [`Value`] fits a
//! parameter of any type, as with the simulated engine, which reads a text
//! parameter as the type it meets); results come back in the binary format
//! and are decoded into [`Value`]s. Errors keep their SQLSTATE in the
//! store's [`DbError`].
//!
//! Needs a tokio runtime with I/O enabled (`connect` spawns the
//! connection's task).

use crate::sql::{Decimal, Interval, Rows, Session, Span, Value};
use crate::store::{DbError, SqlState};
use bytes::BytesMut;
use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

type BoxError = Box<dyn Error + Sync + Send>;

/// A connection to a real PostgreSQL.
pub struct PgSession {
    client: tokio_postgres::Client,
    statements: BTreeMap<String, tokio_postgres::Statement>,
    pid: i32,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession").field("pid", &self.pid).finish()
    }
}

/// A `tokio-postgres` error as the store's error: its SQLSTATE (08006 when
/// the connection failed without one) and the server's message.
pub fn db_error(e: &tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError::new(
            SqlState::from_code(db.code().code()),
            db.message().to_string(),
        ),
        None => match e.code() {
            Some(code) => DbError::new(SqlState::from_code(code.code()), e.to_string()),
            None => DbError::new(SqlState::ConnectionFailure, e.to_string()),
        },
    }
}

impl PgSession {
    /// Connects to `url` (`postgresql://user@host:port/db`, no TLS) and
    /// spawns the connection's task on the current tokio runtime.
    pub async fn connect(url: &str) -> Result<PgSession, DbError> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| db_error(&e))?;
        tokio::spawn(async move {
            // The connection ends when the client is dropped or the server
            // goes away; statements then fail with 08006.
            let _ = connection.await;
        });
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        Ok(PgSession {
            client,
            statements: BTreeMap::new(),
            pid,
        })
    }

    /// The server process serving this connection (for `pg_blocking_pids`).
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// The underlying client, for what the interface does not cover.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    async fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let result = self.run_statement(sql, params).await;
        if result.is_err() {
            // The server reports an error before it aborts the transaction
            // (PostgresMain sends ErrorResponse, then releases the
            // transaction's locks), and tokio-postgres hands the error over
            // as it arrives. An empty query's answer comes after that
            // cleanup, so once it is back no other session can still see
            // this transaction's locks.
            let _ = self.client.simple_query("").await;
        }
        result
    }

    async fn run_statement(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let statement = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql).await.map_err(|e| db_error(&e))?;
                self.statements.insert(sql.to_string(), s.clone());
                s
            }
        };
        let wrapped: Vec<PgParam<'_>> = params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            wrapped.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        if columns.is_empty() {
            let affected = self
                .client
                .execute(&statement, &refs)
                .await
                .map_err(|e| db_error(&e))?;
            let mut rows = Rows::new(columns, Vec::new());
            rows.affected = affected;
            return Ok(rows);
        }
        let found = self
            .client
            .query(&statement, &refs)
            .await
            .map_err(|e| db_error(&e))?;
        let mut out = Vec::with_capacity(found.len());
        for row in &found {
            let mut values = Vec::with_capacity(columns.len());
            for (i, name) in columns.iter().enumerate() {
                let PgValue(v) = row.try_get(i).map_err(|e| {
                    DbError::new(
                        SqlState::FeatureNotSupported,
                        format!("cannot decode column {name}: {e}"),
                    )
                })?;
                values.push(v);
            }
            out.push(values);
        }
        let mut rows = Rows::new(columns, out);
        // RETURNING rows were affected rows.
        if !sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
            rows.affected = rows.rows.len() as u64;
        }
        Ok(rows)
    }
}

impl Session for PgSession {
    fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Rows, DbError>> {
        self.run(sql, params)
    }
}

/// A parameter in PostgreSQL's text format.
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

impl ToSql for PgParam<'_> {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0.to_pg_text() {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    to_sql_checked!();
}

/// A result value decoded from PostgreSQL's binary format.
pub(crate) struct PgValue(pub(crate) Value);

fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "short value".into())
}

/// A numeric in PostgreSQL's binary format (base-10000 digits, weight,
/// sign, display scale) as an exact decimal.
fn decode_decimal(raw: &[u8]) -> Result<Decimal, BoxError> {
    let ndigits = i16::from_be_bytes(be(raw)?) as usize;
    let weight = i16::from_be_bytes(be(&raw[2..])?) as i32;
    let sign = u16::from_be_bytes(be(&raw[4..])?);
    let dscale = u16::from_be_bytes(be(&raw[6..])?) as u32;
    if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 {
        return Err("NaN or infinite numeric".into());
    }
    // mantissa = value * 10^dscale; digit i is worth 10000^(weight - i).
    let mut mantissa: i128 = 0;
    for i in 0..ndigits {
        let digit = i16::from_be_bytes(be(&raw[8 + 2 * i..])?) as i128;
        let exp10 = 4 * (weight - i as i32) + dscale as i32;
        let part = if exp10 >= 0 {
            10i128
                .checked_pow(exp10 as u32)
                .and_then(|p| digit.checked_mul(p))
                .ok_or("numeric out of range")?
        } else {
            digit / 10i128.pow((-exp10) as u32)
        };
        mantissa = mantissa.checked_add(part).ok_or("numeric out of range")?;
    }
    if sign == 0x4000 {
        mantissa = -mantissa;
    }
    Ok(Decimal::new(mantissa, dscale))
}

/// A one-dimensional array in PostgreSQL's binary format.
fn decode_array(elem: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    let ndim = i32::from_be_bytes(be(raw)?);
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    if ndim != 1 {
        return Err("multidimensional arrays are not modelled".into());
    }
    let len = i32::from_be_bytes(be(&raw[12..])?) as usize;
    let mut at = 20;
    let mut items = Vec::with_capacity(len);
    for _ in 0..len {
        let n = i32::from_be_bytes(be(&raw[at..])?);
        at += 4;
        if n < 0 {
            items.push(Value::Null);
            continue;
        }
        let bytes = raw.get(at..at + n as usize).ok_or("short array")?;
        at += n as usize;
        items.push(PgValue::from_sql(elem, bytes)?.0);
    }
    Ok(Value::Array(items))
}

fn decode_range(raw: &[u8], element: usize, ts: bool) -> Result<Span, BoxError> {
    let flags = *raw.first().ok_or("short range")?;
    if flags & 0x01 != 0 {
        return Ok(Span::EMPTY);
    }
    let mut at = 1;
    let mut bound = |infinite: bool| -> Result<Option<i64>, BoxError> {
        if infinite {
            return Ok(None);
        }
        let len = i32::from_be_bytes(be(&raw[at..])?) as usize;
        at += 4;
        let bytes = &raw[at..at + len];
        at += len;
        Ok(Some(match element {
            4 => i32::from_be_bytes(be(bytes)?) as i64,
            _ => i64::from_be_bytes(be(bytes)?),
        }))
    };
    let mut lower = bound(flags & 0x08 != 0)?;
    let mut upper = bound(flags & 0x10 != 0)?;
    if ts && (lower.is_some() && flags & 0x02 == 0 || upper.is_some() && flags & 0x04 != 0) {
        return Err("tstzrange bounds other than [) are not modelled".into());
    }
    if flags & 0x02 == 0 {
        lower = lower.map(|l| l + 1);
    }
    if flags & 0x04 != 0 {
        upper = upper.map(|u| u + 1);
    }
    Ok(Span::new(lower, upper))
}

fn float(f: f64) -> Result<Value, BoxError> {
    Decimal::parse(&format!("{f}"))
        .map(Value::Numeric)
        .ok_or_else(|| format!("float {f} is not modelled").into())
}

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = || -> Result<String, BoxError> { Ok(std::str::from_utf8(raw)?.to_string()) };
        let v = match *ty {
            Type::BOOL => Value::Bool(raw.first() == Some(&1)),
            Type::INT2 => Value::Int(i16::from_be_bytes(be(raw)?) as i64),
            Type::INT4 => Value::Int(i32::from_be_bytes(be(raw)?) as i64),
            Type::OID => Value::Int(u32::from_be_bytes(be(raw)?) as i64),
            Type::INT8 => Value::Int(i64::from_be_bytes(be(raw)?)),
            Type::NUMERIC => Value::Numeric(decode_decimal(raw)?),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::UNKNOWN => Value::Text(text()?.into()),
            Type::BPCHAR => Value::Char(text()?.into()),
            Type::UUID => Value::Uuid(u128::from_be_bytes(be(raw)?)),
            Type::INTERVAL => Value::Interval(Interval {
                micros: i64::from_be_bytes(be(raw)?),
                days: i32::from_be_bytes(be(&raw[8..])?),
                months: i32::from_be_bytes(be(&raw[12..])?),
            }),
            // The simulated engine keeps floats as exact decimals of
            // their shortest text (what PostgreSQL prints).
            Type::FLOAT8 => float(f64::from_be_bytes(be(raw)?))?,
            Type::FLOAT4 => float(f32::from_be_bytes(be(raw)?) as f64)?,
            Type::DATE => Value::Date(i32::from_be_bytes(be(raw)?)),
            Type::TIMESTAMPTZ => Value::Timestamp(i64::from_be_bytes(be(raw)?)),
            Type::TIMESTAMP => Value::LocalTimestamp(i64::from_be_bytes(be(raw)?)),
            Type::INT4_RANGE => Value::IntRange(decode_range(raw, 4, false)?),
            Type::INT8_RANGE => Value::IntRange(decode_range(raw, 8, false)?),
            Type::TSTZ_RANGE => Value::TsRange(decode_range(raw, 8, true)?),
            Type::JSONB => {
                let body = std::str::from_utf8(raw.get(1..).ok_or("short jsonb")?)?;
                Value::Json(
                    crate::sql::canonical_json(body)
                        .map_err(|e| e.to_string())?
                        .into(),
                )
            }
            Type::JSON => Value::Json(
                crate::sql::canonical_json(&text()?)
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
            // What PostgreSQL's text form of void is (and the store's).
            Type::VOID => Value::Text("".into()),
            ref other => match other.kind() {
                // Enum values reach a client as their labels.
                tokio_postgres::types::Kind::Enum(_) => Value::Text(text()?.into()),
                tokio_postgres::types::Kind::Array(elem) => decode_array(elem, raw)?,
                _ => return Err(format!("type {other} is not modelled").into()),
            },
        };
        Ok(PgValue(v))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_ranges_decode_from_the_binary_format() {
        // 12345 = digits [1, 2345], weight 1.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x09, 0x29];
        assert_eq!(decode_decimal(&raw).unwrap(), Decimal::from_int(12345));
        let neg = [0, 1, 0, 0, 0x40, 0, 0, 0, 0, 7];
        assert_eq!(decode_decimal(&neg).unwrap(), Decimal::from_int(-7));
        // 1.50: digits [1, 5000], weight 0, dscale 2.
        let frac = [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88];
        assert_eq!(decode_decimal(&frac).unwrap().to_string(), "1.50");
        // 0.0001: digit [1], weight -1, dscale 4.
        let small = [0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1];
        assert_eq!(decode_decimal(&small).unwrap().to_string(), "0.0001");
        // int4range [3,8): LB_INC, bounds 3 and 8.
        let mut r = vec![0x02];
        for b in [3i32, 8] {
            r.extend_from_slice(&4i32.to_be_bytes());
            r.extend_from_slice(&b.to_be_bytes());
        }
        assert_eq!(
            decode_range(&r, 4, false).unwrap(),
            Span::new(Some(3), Some(8))
        );
        assert_eq!(decode_range(&[0x01], 4, false).unwrap(), Span::EMPTY);
    }
}

pub use crate::sql::script::{DEADLOCK_TIMEOUT_MS, GRACE_MS};

/// The script runner's [`Backend`](crate::sql::script::Backend) on a real
/// PostgreSQL, in a schema of this backend's own (`overbook_<process>_<n>`,
/// so that tests running at once do not share tables): the setup's tables
/// created there (or, when the same setup ran last, truncated, with the
/// connections reused); a statement is blocked when
/// `pg_isolation_test_session_is_blocked` (what isolationtester asks: a
/// lock, or a READ ONLY DEFERRABLE transaction's wait for a safe snapshot)
/// says one of the script's other sessions blocks it.
#[derive(Debug)]
pub struct PgBackend {
    url: String,
    schema: String,
    pids: Vec<i32>,
    pool: Vec<PgSession>,
    tables_for: Option<crate::sql::script::Setup>,
    /// Connections as the server gives them: no schema of the backend's
    /// own, no `deadlock_timeout` set, no tables created by `open`.
    plain: bool,
}

impl PgBackend {
    /// Scripts on the server at `url`. Each script creates (or truncates)
    /// its setup's tables in one schema there, dropped and created again
    /// when the setup changes and left behind after the last.
    pub fn new(url: &str) -> PgBackend {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PgBackend {
            url: url.to_string(),
            schema: format!("overbook_{}_{n}", std::process::id()),
            pids: Vec::new(),
            pool: Vec::new(),
            tables_for: None,
            plain: false,
        }
    }

    /// Scripts on the database at `url` as it is: `open` only connects
    /// (the caller runs its own setup), and nothing is set on the
    /// connections, so a script's own `SET deadlock_timeout` and search
    /// path are the only ones (`overbook pgspecs` gives each spec a
    /// database of its own).
    pub fn plain(url: &str) -> PgBackend {
        PgBackend {
            plain: true,
            ..PgBackend::new(url)
        }
    }

    async fn connect(&self) -> Result<PgSession, DbError> {
        let s = PgSession::connect(&self.url).await?;
        if self.plain {
            return Ok(s);
        }
        // Changing deadlock_timeout needs a superuser; without one the
        // default (1 s) stays, which is slower but decides the same way
        // for the scripts' two-party deadlocks.
        let _ = s
            .client()
            .batch_execute(&format!("SET deadlock_timeout = '{DEADLOCK_TIMEOUT_MS}ms'"))
            .await;
        s.client()
            .batch_execute(&format!("SET search_path TO {}, public", self.schema))
            .await
            .map_err(|e| db_error(&e))?;
        Ok(s)
    }
}

impl PgSession {
    /// Forgets the prepared statements (scripts of literal SQL would
    /// otherwise keep one per distinct text on the server).
    pub fn forget_statements(&mut self) {
        self.statements.clear();
    }

    /// Drops and creates the schema `name`, with the btree_gist extension
    /// in `public` that an exclusion constraint's `room WITH =` needs (the
    /// simulated gist has `=` built in). A fresh schema rather than DROP
    /// TABLE: an unqualified name the schema lacks would reach `public`
    /// through the search path.
    pub async fn fresh_schema(&self, name: &str) -> Result<(), DbError> {
        // Two backends creating the extension at once may collide (23505
        // on pg_extension); the loser finds it there on the next try.
        for _ in 0..3 {
            let created = self
                .client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public")
                .await;
            if created.is_ok() {
                break;
            }
        }
        self.client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .map_err(|e| db_error(&e))
    }
}

impl crate::sql::script::Backend for PgBackend {
    type S = PgSession;

    async fn open(
        &mut self,
        setup: &crate::sql::script::Setup,
        sessions: usize,
    ) -> Result<Vec<PgSession>, DbError> {
        let mut out = Vec::with_capacity(sessions + 1);
        while out.len() <= sessions {
            match self.pool.pop() {
                Some(mut s) => {
                    s.forget_statements();
                    // A backend keeps its currval/lastval across programs;
                    // a fresh session on the store has none.
                    s.client()
                        .batch_execute("DISCARD SEQUENCES")
                        .await
                        .map_err(|e| db_error(&e))?;
                    out.push(s);
                }
                None => out.push(self.connect().await?),
            }
        }
        self.pids = out.iter().map(PgSession::backend_pid).collect();
        if self.plain {
            return Ok(out);
        }
        let tables = setup.tables.join(", ");
        let schema = self.schema.clone();
        let observer = out.last_mut().expect("an observer");
        if self.tables_for.as_ref() == Some(setup) {
            // Same tables as last time: TRUNCATE gives fresh relations
            // (no dead rows or grown index pages left by the last script,
            // which would change PostgreSQL's page-level predicate locks)
            // in a fraction of DROP and CREATE's time; RESTART IDENTITY
            // starts the sequences the tables own over, as a fresh store's.
            observer
                .client()
                .batch_execute(&format!("TRUNCATE {tables} RESTART IDENTITY"))
                .await
                .map_err(|e| db_error(&e))?;
            return Ok(out);
        }
        self.tables_for = None;
        observer.fresh_schema(&schema).await?;
        for stmt in setup.ddl {
            observer.execute(stmt, &[]).await?;
        }
        self.tables_for = Some(*setup);
        Ok(out)
    }

    async fn close(&mut self, sessions: Vec<Option<PgSession>>) {
        let abandoned: Vec<i32> = sessions
            .iter()
            .zip(&self.pids)
            .filter(|(s, _)| s.is_none())
            .map(|(_, pid)| *pid)
            .collect();
        let kept: Vec<PgSession> = sessions.into_iter().flatten().collect();
        if let Some(observer) = kept.last() {
            for pid in abandoned {
                // Its statement never finished: end the backend so that its
                // locks go and the next script's TRUNCATE does not wait.
                let _ = observer
                    .client()
                    .execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await;
            }
        }
        self.pool.clear();
        for s in kept.into_iter().rev() {
            // A script may end with a session inside a transaction (its
            // last steps never ran); only a warning when it is not. A
            // connection that cannot even do that is dropped.
            // The next script must not inherit this one's session settings,
            // nor the session-level advisory locks it still holds.
            let reset = format!(
                "ROLLBACK; SELECT pg_advisory_unlock_all(); RESET lock_timeout; RESET statement_timeout; \
                 SET deadlock_timeout = '{DEADLOCK_TIMEOUT_MS}ms'; \
                 RESET default_transaction_isolation; RESET default_transaction_read_only; \
                 RESET default_transaction_deferrable; RESET enable_seqscan; \
                 RESET enable_indexscan; RESET enable_bitmapscan; RESET enable_indexonlyscan"
            );
            if s.client().batch_execute(&reset).await.is_ok() {
                self.pool.push(s);
            }
        }
    }

    async fn blocked(&mut self, observer: &mut PgSession, index: usize) -> bool {
        session_is_blocked(observer, self.pids[index], &self.pids).await
    }

    async fn idle(&mut self) {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }

    async fn grace(&mut self) {
        tokio::time::sleep(std::time::Duration::from_millis(GRACE_MS)).await;
    }
}

/// Whether the statement running on backend `pid` is blocked by one of
/// `others` (a lock, or a safe-snapshot wait): what isolationtester asks,
/// through `pg_isolation_test_session_is_blocked`. `false` when the check
/// itself fails (a backend that already went away blocks nobody).
pub async fn session_is_blocked(observer: &PgSession, pid: i32, others: &[i32]) -> bool {
    observer
        .client()
        .query_one(
            "SELECT pg_isolation_test_session_is_blocked($1, $2)",
            &[&pid, &others],
        )
        .await
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false)
}

/// Where a [`ScheduledSession`] asks for its turn: the scheduler of
/// `overbook confirm`, which replays a model checker's schedule on a real
/// server. The calls come from inside the task the scheduler is polling.
pub trait Turns: Send + Sync {
    /// The task being polled opens a connection; returns that task's
    /// index. The task is busy on the server until [`Turns::connected`].
    fn connecting(&self) -> usize;
    /// `task`'s connection is open, on server process `backend_pid`.
    fn connected(&self, task: usize, backend_pid: i32);
    /// Waits until `task` may run `sql`: a scheduling point, where the
    /// model checker's store pauses too.
    fn turn(&self, task: usize, sql: &str) -> crate::store::PauseFuture;
    /// `task` starts (`true`) or ends (`false`) a round trip to the server.
    fn busy(&self, task: usize, busy: bool);
    /// `task`'s statement finished with `error` (`None`: it succeeded).
    /// When the scheduler saw it blocked, the client waits here for the
    /// step that resumes it, as a parked task waits in the model checker.
    fn finished(
        &self,
        task: usize,
        sql: &str,
        error: Option<&DbError>,
    ) -> crate::store::PauseFuture;
}

/// A real PostgreSQL whose statements each wait for a scheduler's turn.
#[derive(Clone)]
pub struct ScheduledPg {
    url: String,
    turns: std::sync::Arc<dyn Turns>,
}

impl std::fmt::Debug for ScheduledPg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledPg")
            .field("url", &self.url)
            .finish()
    }
}

impl ScheduledPg {
    /// Connections to `url` that ask `turns` before each statement.
    pub fn new(url: &str, turns: std::sync::Arc<dyn Turns>) -> ScheduledPg {
        ScheduledPg {
            url: url.to_string(),
            turns,
        }
    }

    /// A new connection for the task being polled.
    pub async fn connect(&self) -> Result<ScheduledSession, DbError> {
        // The connection is the task's, but no turn of the schedule: the
        // model checker's pool hands out connections without a pause.
        let task = self.turns.connecting();
        let session = match PgSession::connect(&self.url).await {
            Ok(session) => session,
            Err(e) => {
                self.turns.busy(task, false);
                return Err(e);
            }
        };
        // A short deadlock_timeout (superusers only; else the default
        // second) lets a deadlock end within the scheduler's grace.
        let _ = session
            .client()
            .batch_execute(&format!(
                "SET deadlock_timeout = '{SCHEDULED_DEADLOCK_TIMEOUT_MS}ms'"
            ))
            .await;
        self.turns.connected(task, session.backend_pid());
        Ok(ScheduledSession {
            session,
            task,
            turns: self.turns.clone(),
            in_block: false,
            failed: false,
        })
    }
}

/// `deadlock_timeout` on [`ScheduledPg`]'s connections.
pub const SCHEDULED_DEADLOCK_TIMEOUT_MS: u64 = 10;

/// A connection of [`ScheduledPg`]: every statement at which the
/// simulated store pauses (a data statement or the COMMIT of a live
/// transaction block) first waits for its turn; BEGIN, ROLLBACK and
/// statements of a failed block, which the store runs without a pause,
/// go straight through.
pub struct ScheduledSession {
    session: PgSession,
    task: usize,
    turns: std::sync::Arc<dyn Turns>,
    in_block: bool,
    failed: bool,
}

impl std::fmt::Debug for ScheduledSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledSession")
            .field("task", &self.task)
            .field("pid", &self.session.backend_pid())
            .finish()
    }
}

/// How the simulated store treats a statement, by its first word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatementKind {
    Begin,
    Commit,
    Rollback,
    /// SET, SHOW, RESET: no transaction, no pause.
    Setting,
    Data,
}

fn statement_kind(sql: &str) -> StatementKind {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    match word.as_str() {
        "BEGIN" | "START" => StatementKind::Begin,
        "COMMIT" | "END" => StatementKind::Commit,
        "ROLLBACK" | "ABORT" => StatementKind::Rollback,
        "SET" | "SHOW" | "RESET" => StatementKind::Setting,
        _ => StatementKind::Data,
    }
}

impl ScheduledSession {
    /// One round trip, marked busy for the scheduler.
    async fn send(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.turns.busy(self.task, true);
        let result = self.session.run(sql, params).await;
        self.turns.busy(self.task, false);
        result
    }

    /// A statement at a scheduling point: its turn, the round trip, and
    /// (when it was seen blocked) the wait for the step that resumes it.
    async fn scheduled(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.turns.turn(self.task, sql).await;
        let result = self.send(sql, params).await;
        self.turns
            .finished(self.task, sql, result.as_ref().err())
            .await;
        result
    }

    async fn run_scheduled(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        match statement_kind(sql) {
            StatementKind::Begin => {
                let result = self.send(sql, params).await;
                self.in_block = result.is_ok();
                self.failed = false;
                result
            }
            StatementKind::Rollback => {
                self.in_block = false;
                self.send(sql, params).await
            }
            StatementKind::Setting => self.send(sql, params).await,
            StatementKind::Commit if self.in_block && !self.failed => {
                self.in_block = false;
                self.scheduled(sql, params).await
            }
            StatementKind::Commit => {
                self.in_block = false;
                self.send(sql, params).await
            }
            StatementKind::Data if self.in_block => {
                if self.failed {
                    // 25P02 without a pause, as on the store.
                    return self.send(sql, params).await;
                }
                let result = self.scheduled(sql, params).await;
                self.failed = result.is_err();
                result
            }
            StatementKind::Data => {
                // Outside a block the store runs the statement in a
                // transaction of its own and pauses at it and at its
                // commit: so does this.
                self.send("BEGIN ISOLATION LEVEL READ COMMITTED", &[])
                    .await?;
                let result = self.scheduled(sql, params).await;
                match result {
                    Ok(rows) => {
                        self.scheduled("COMMIT", &[]).await?;
                        Ok(rows)
                    }
                    Err(e) => {
                        let _ = self.send("ROLLBACK", &[]).await;
                        Err(e)
                    }
                }
            }
        }
    }
}

impl Session for ScheduledSession {
    fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Rows, DbError>> {
        self.run_scheduled(sql, params)
    }
}
