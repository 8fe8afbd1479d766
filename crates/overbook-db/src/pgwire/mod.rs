//! The simulated database on PostgreSQL's wire protocol (protocol 3.0),
//! so that a service's own driver (tokio-postgres, and the pools built on
//! it) talks to the [`SqlDb`] as to a PostgreSQL 15 server.
//!
//! [`Server::serve`] runs one connection over any `AsyncRead +
//! AsyncWrite + Unpin + Send` stream: turmoil's `TcpStream` in the world
//! (the harness's `overbook::world::serve_pgwire` accepts on a turmoil
//! listener), `tokio::io::duplex` in
//! tests and for the model checker. It runs in the caller's task and
//! spawns nothing, reads no clock and draws no random number: the
//! connection's backend key is a counter of the server, so the bytes it
//! sends depend only on what it receives and on the database.
//!
//! What it speaks:
//! - Startup: `SSLRequest` and `GSSENCRequest` answered `N`, protocol
//!   3.0 with trust authentication (any user, any database name),
//!   the ParameterStatus messages PostgreSQL 15 sends (`server_version`
//!   15.18, `client_encoding` and `server_encoding` UTF8, `DateStyle`
//!   `ISO, MDY`, `integer_datetimes` on, `standard_conforming_strings`
//!   on, `TimeZone` UTC, `IntervalStyle`, `is_superuser`,
//!   `session_authorization`, `application_name`), BackendKeyData,
//!   ReadyForQuery. A CancelRequest closes its connection and cancels
//!   nothing.
//! - Simple query: one or several statements in one string, each with
//!   its RowDescription, DataRows (text format) and CommandComplete tag
//!   as PostgreSQL writes it (`INSERT 0 1`, `UPDATE 3`, `SELECT 2`,
//!   `BEGIN`, `COMMIT`, `ROLLBACK` for the COMMIT of a failed block);
//!   the first error ends the string. Several data statements (SELECT,
//!   INSERT, UPDATE, DELETE, WITH, VALUES) outside a block run in one
//!   implicit transaction, as in PostgreSQL; a string with other
//!   statements (a migration) runs each in its own, since the engine
//!   refuses some DDL inside a block (PostgreSQL would run the string as
//!   one transaction). An empty string gets EmptyQueryResponse.
//! - Extended query: Parse (named and unnamed statements, parameter types
//!   named by the client or inferred: see [`crate::sql::describe`]),
//!   Bind (text and binary parameters and results), Describe of a
//!   statement (ParameterDescription, then RowDescription or NoData) or a
//!   portal, Execute (with a row limit: PortalSuspended, and the rest on
//!   the next Execute), Close, Flush and Sync; after an error every
//!   message up to Sync is skipped. Each Execute runs as its own
//!   statement (outside a block: its own transaction); PostgreSQL would
//!   group the Executes of one Sync in one implicit transaction, which
//!   tokio-postgres never sends. Portals end at a Sync outside a block.
//! - ErrorResponse with severity, SQLSTATE and message (the engine has no
//!   detail or hint to add); ReadyForQuery with `I`, `T` or `E`;
//!   Terminate.
//!
//! Types: each parameter's and result column's OID is its type's (see
//! [`types`]), with values in the text or binary format the client asks
//! for. Enum types are described as `text` (a real server gives each
//! enum its own OID, which tokio-postgres would look up in `pg_type`, a
//! catalog the engine does not have); a parameter no context types is
//! `text`, as PostgreSQL resolves it; a result column whose type the
//! engine cannot tell is `text` with the value's text form. COPY,
//! functions calls (`F`) and replication are not spoken: 0A000 and the
//! connection closes.
//!
//! Why a loop of its own rather than the `pgwire` crate: the messages
//! are few and simple, and the state machine (what to skip after an
//! error, when a portal ends, which transaction status to report) is
//! the part that must match PostgreSQL and the engine's transactions:
//! pgwire's handlers would own it behind async traits, a new dependency
//! tree (its codec, `async-trait`, `tokio-util`, `futures`, and the
//! random salts of its authentication) would be built on every machine,
//! and its `process_socket` takes tokio's sockets only. Message framing
//! here is a length-prefixed read; binary parameter decoding reuses the
//! decoders of [`crate::postgres`] (tokio-postgres's `Type`s, already a
//! dependency) and result encodings follow `postgres-protocol`'s `types`
//! (the formats tokio-postgres reads).

pub mod types;

use crate::sql::describe::{Command, Description};
use crate::sql::{SqlDb, SqlSession, SqlType, Value};
use crate::store::{DbError, SqlState};
use bytes::{BufMut, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The `server_version` the server reports (the dev PostgreSQL's).
pub const SERVER_VERSION: &str = "15.18";

/// The largest message accepted (PostgreSQL's limit for most messages is
/// 1 GB; the simulation has no use for more than this).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// A PostgreSQL server over a [`SqlDb`]: cheap to clone, one
/// [`Server::serve`] per connection.
#[derive(Clone)]
pub struct Server {
    db: SqlDb,
    /// The next connection's process id (BackendKeyData).
    next_pid: Arc<AtomicI32>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

/// Why a connection ended other than by Terminate or the client closing.
#[derive(Debug)]
pub enum ServeError {
    /// An I/O error on the stream.
    Io(std::io::Error),
    /// The client broke the protocol (the error sent to it, if any).
    Protocol(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Io(e) => write!(f, "i/o error: {e}"),
            ServeError::Protocol(why) => write!(f, "protocol violation: {why}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<std::io::Error> for ServeError {
    fn from(e: std::io::Error) -> ServeError {
        ServeError::Io(e)
    }
}

/// A prepared statement of the connection.
struct Prepared {
    sql: String,
    /// Each parameter's type OID, as described.
    param_oids: Vec<u32>,
    description: Description,
}

/// A bound portal: the statement, its parameters, the result formats,
/// and, once it ran, the rows not yet sent.
struct Portal {
    statement: Arc<Prepared>,
    params: Vec<Value>,
    /// One format per result column (true: binary).
    binary: Vec<bool>,
    ran: Option<(VecDeque<Vec<Value>>, String)>,
}

/// One connection's state.
struct Conn<S> {
    stream: S,
    out: BytesMut,
    session: SqlSession,
    statements: BTreeMap<String, Arc<Prepared>>,
    portals: BTreeMap<String, Portal>,
    /// After an error in the extended protocol: skip to Sync.
    skipping: bool,
}

impl Server {
    /// A server over `db`.
    pub fn new(db: SqlDb) -> Server {
        Server {
            db,
            next_pid: Arc::new(AtomicI32::new(1)),
        }
    }

    /// Serves one connection on `stream` until the client sends Terminate
    /// or closes it: Ok then. A session of its own on the database, with
    /// its locks released when the connection ends.
    pub async fn serve<S>(&self, stream: S) -> Result<(), ServeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut conn = Conn {
            stream,
            out: BytesMut::with_capacity(1024),
            session: self.db.session(),
            statements: BTreeMap::new(),
            portals: BTreeMap::new(),
            skipping: false,
        };
        if !conn.startup(&self.next_pid).await? {
            return Ok(());
        }
        conn.run().await
    }
}

/// Appends a message: its tag, its length, and what `body` writes.
fn message(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let at = out.len();
    out.put_i32(0);
    body(out);
    let len = (out.len() - at) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(out: &mut BytesMut, s: &str) {
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

/// Reads the body of a message: its fields one by one.
struct Reader<'a> {
    bytes: &'a [u8],
}

fn malformed(what: &str) -> DbError {
    DbError::new(
        SqlState::ProtocolViolation,
        format!("invalid message format: {what}"),
    )
}

impl<'a> Reader<'a> {
    fn cstr(&mut self) -> Result<&'a str, DbError> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed("unterminated string"))?;
        let s = std::str::from_utf8(&self.bytes[..end])
            .map_err(|_| malformed("string is not UTF-8"))?;
        self.bytes = &self.bytes[end + 1..];
        Ok(s)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DbError> {
        if self.bytes.len() < n {
            return Err(malformed("message too short"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DbError> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, DbError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, DbError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn count(&mut self) -> Result<usize, DbError> {
        usize::try_from(self.i16()?).map_err(|_| malformed("negative count"))
    }
}

/// Whether format code list `codes` makes field `i` of `n` binary.
fn format_of(codes: &[i16], i: usize) -> bool {
    match codes {
        [] => false,
        [one] => *one == 1,
        many => many.get(i) == Some(&1),
    }
}

/// The first words of a statement, uppercased, comments and leading
/// parentheses skipped.
fn words(sql: &str, n: usize) -> Vec<String> {
    let mut rest = crate::sql::skip_leading_comments(sql);
    while let Some(after) = rest.strip_prefix('(') {
        rest = crate::sql::skip_leading_comments(after);
    }
    rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take(n)
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// PostgreSQL's CommandComplete tag for a statement that returned
/// `rows` (`failed_block`: the block had failed before it, so a COMMIT
/// rolled back).
fn command_tag(sql: &str, command: Command, rows: &crate::sql::Rows, failed_block: bool) -> String {
    let n = if rows.affected > 0 {
        rows.affected as usize
    } else {
        rows.rows.len()
    };
    match command {
        Command::Select => return format!("SELECT {}", rows.rows.len()),
        Command::Insert => return format!("INSERT 0 {n}"),
        Command::Update => return format!("UPDATE {n}"),
        Command::Delete => return format!("DELETE {n}"),
        Command::Other => {}
    }
    let w = words(sql, 6);
    let first = w.first().map_or("", String::as_str);
    let second = w.get(1).map_or("", String::as_str);
    match first {
        "BEGIN" => "BEGIN".into(),
        "START" => "START TRANSACTION".into(),
        "COMMIT" | "END" if failed_block => "ROLLBACK".into(),
        "COMMIT" | "END" => "COMMIT".into(),
        "ROLLBACK" | "ABORT" => "ROLLBACK".into(),
        "SAVEPOINT" | "RELEASE" | "RESET" | "SHOW" | "GRANT" | "REVOKE" | "VACUUM" | "ANALYZE"
        | "REINDEX" | "PREPARE" | "CALL" => first.into(),
        "SET" if second == "CONSTRAINTS" => "SET CONSTRAINTS".into(),
        "SET" => "SET".into(),
        "DISCARD" => format!("DISCARD {second}"),
        "DEALLOCATE" if w.iter().any(|w| w == "ALL") => "DEALLOCATE ALL".into(),
        "DEALLOCATE" => "DEALLOCATE".into(),
        "LOCK" => "LOCK TABLE".into(),
        "TRUNCATE" => "TRUNCATE TABLE".into(),
        "SELECT" | "VALUES" | "TABLE" | "WITH" | "EXECUTE" => format!("SELECT {}", rows.rows.len()),
        "INSERT" => format!("INSERT 0 {n}"),
        "UPDATE" => format!("UPDATE {n}"),
        "DELETE" => format!("DELETE {n}"),
        "CREATE" | "DROP" | "ALTER" => {
            let object: Vec<&str> = w[1..]
                .iter()
                .map(String::as_str)
                .filter(|w| {
                    !matches!(
                        *w,
                        "OR" | "REPLACE" | "UNIQUE" | "TEMP" | "TEMPORARY" | "UNLOGGED"
                    )
                })
                .collect();
            let object = match object.first().copied() {
                Some("USER") => "ROLE",
                Some(o) => o,
                None => "",
            };
            if first == "CREATE" && object == "TABLE" && w.iter().any(|w| w == "AS") {
                // CREATE TABLE AS: PostgreSQL 15's tag is SELECT n.
                return format!("SELECT {n}");
            }
            format!("{first} {object}")
        }
        _ => first.into(),
    }
}

/// Whether a simple query's statement may join an implicit block with
/// the others of its string (see the module docs).
fn is_data_statement(sql: &str) -> bool {
    matches!(
        words(sql, 1).first().map(String::as_str),
        Some("SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH" | "VALUES" | "TABLE")
    )
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    /// Reads `n` bytes; None at the end of the stream.
    async fn read_exact_or_eof(&mut self, n: usize) -> Result<Option<Vec<u8>>, ServeError> {
        if n > MAX_MESSAGE_BYTES {
            return Err(ServeError::Protocol(format!("message of {n} bytes")));
        }
        let mut buf = vec![0; n];
        match self.stream.read_exact(&mut buf).await {
            Ok(_) => Ok(Some(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn length(bytes: &[u8]) -> Result<usize, ServeError> {
        let len = i32::from_be_bytes(bytes.try_into().expect("4 bytes"));
        usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_sub(4))
            .ok_or_else(|| ServeError::Protocol(format!("invalid message length {len}")))
    }

    /// The startup exchange: false when the connection ends in it (a
    /// CancelRequest, or the client leaving).
    async fn startup(&mut self, next_pid: &AtomicI32) -> Result<bool, ServeError> {
        let params = loop {
            let Some(len) = self.read_exact_or_eof(4).await? else {
                return Ok(false);
            };
            let len = Self::length(&len)?;
            let Some(body) = self.read_exact_or_eof(len).await? else {
                return Ok(false);
            };
            let mut r = Reader { bytes: &body };
            let code = r.i32().map_err(|e| ServeError::Protocol(e.message))?;
            match code {
                // SSLRequest, GSSENCRequest: no encryption here.
                80877103 | 80877104 => {
                    self.stream.write_all(b"N").await?;
                    self.stream.flush().await?;
                }
                // CancelRequest: nothing runs concurrently to cancel.
                80877102 => return Ok(false),
                196608 => {
                    let mut params = BTreeMap::new();
                    while let Ok(name) = r.cstr() {
                        if name.is_empty() {
                            break;
                        }
                        let value = r.cstr().map_err(|e| ServeError::Protocol(e.message))?;
                        params.insert(name.to_string(), value.to_string());
                    }
                    break params;
                }
                other => {
                    let why = format!(
                        "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                        other >> 16,
                        other & 0xffff
                    );
                    self.error(&DbError::new(SqlState::ProtocolViolation, why.clone()));
                    self.flush().await?;
                    return Err(ServeError::Protocol(why));
                }
            }
        };
        let user = params.get("user").cloned().unwrap_or_default();
        // AuthenticationOk: trust.
        message(&mut self.out, b'R', |o| o.put_i32(0));
        let statuses = [
            (
                "application_name",
                params.get("application_name").cloned().unwrap_or_default(),
            ),
            ("client_encoding", "UTF8".into()),
            ("DateStyle", "ISO, MDY".into()),
            ("default_transaction_read_only", "off".into()),
            ("in_hot_standby", "off".into()),
            ("integer_datetimes", "on".into()),
            ("IntervalStyle", "postgres".into()),
            ("is_superuser", "on".into()),
            ("server_encoding", "UTF8".into()),
            ("server_version", SERVER_VERSION.into()),
            ("session_authorization", user),
            ("standard_conforming_strings", "on".into()),
            ("TimeZone", "UTC".into()),
        ];
        for (name, value) in statuses {
            message(&mut self.out, b'S', |o| {
                put_cstr(o, name);
                put_cstr(o, &value);
            });
        }
        let pid = next_pid.fetch_add(1, Ordering::Relaxed);
        message(&mut self.out, b'K', |o| {
            o.put_i32(pid);
            // The secret: derived from the pid, nothing random.
            o.put_i32(pid.wrapping_mul(7919));
        });
        self.ready();
        self.flush().await?;
        Ok(true)
    }

    fn ready(&mut self) {
        let status = if self.session.transaction_failed() {
            b'E'
        } else if self.session.in_transaction() {
            b'T'
        } else {
            b'I'
        };
        message(&mut self.out, b'Z', |o| o.put_u8(status));
    }

    fn error(&mut self, e: &DbError) {
        message(&mut self.out, b'E', |o| {
            for (field, value) in [
                (b'S', "ERROR"),
                (b'V', "ERROR"),
                (b'C', e.code.code()),
                (b'M', e.message.as_str()),
            ] {
                o.put_u8(field);
                put_cstr(o, value);
            }
            o.put_u8(0);
        });
    }

    async fn run(&mut self) -> Result<(), ServeError> {
        loop {
            let Some(head) = self.read_exact_or_eof(5).await? else {
                return Ok(());
            };
            let tag = head[0];
            let len = Self::length(&head[1..])?;
            let Some(body) = self.read_exact_or_eof(len).await? else {
                return Ok(());
            };
            if self.skipping && !matches!(tag, b'S' | b'X' | b'Q') {
                continue;
            }
            let result = match tag {
                b'Q' => {
                    let sql = Reader { bytes: &body }.cstr().map(str::to_string);
                    match sql {
                        Ok(sql) => {
                            self.simple_query(&sql).await;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                b'P' => self.parse(&body),
                b'B' => self.bind(&body),
                b'D' => self.describe(&body),
                b'E' => self.execute(&body).await,
                b'C' => self.close(&body),
                b'H' => {
                    self.flush().await?;
                    Ok(())
                }
                b'S' => {
                    self.skipping = false;
                    if !self.session.in_transaction() {
                        self.portals.clear();
                    }
                    self.ready();
                    self.flush().await?;
                    Ok(())
                }
                b'X' => return Ok(()),
                other => {
                    let why = format!(
                        "the simulated server does not speak message type 0x{other:02x} (COPY, function calls and replication are not supported)"
                    );
                    self.error(&DbError::new(SqlState::FeatureNotSupported, why.clone()));
                    self.flush().await?;
                    return Err(ServeError::Protocol(why));
                }
            };
            if let Err(e) = result {
                self.error(&e);
                self.skipping = true;
            }
        }
    }

    /// Sends a RowDescription of `columns`.
    fn row_description(&mut self, columns: &[(String, Option<SqlType>)], binary: &[bool]) {
        message(&mut self.out, b'T', |o| {
            o.put_i16(columns.len() as i16);
            for (i, (name, ty)) in columns.iter().enumerate() {
                let oid = types::type_oid(*ty);
                put_cstr(o, name);
                o.put_i32(0);
                o.put_i16(0);
                o.put_u32(oid);
                o.put_i16(types::type_len(oid));
                o.put_i32(-1);
                o.put_i16(binary.get(i).copied().unwrap_or(false) as i16);
            }
        });
    }

    fn data_row(
        &mut self,
        row: &[Value],
        columns: &[(String, Option<SqlType>)],
        binary: &[bool],
    ) -> Result<(), DbError> {
        let mut body = BytesMut::new();
        body.put_i16(row.len() as i16);
        for (i, value) in row.iter().enumerate() {
            let ty = columns.get(i).and_then(|(_, t)| *t);
            types::put_field(
                &mut body,
                value,
                ty,
                binary.get(i).copied().unwrap_or(false),
            )?;
        }
        message(&mut self.out, b'D', |o| o.put_slice(&body));
        Ok(())
    }

    /// The columns to describe for a statement's result: its description's
    /// when they match what it returned, else its column names as text.
    fn result_columns(
        description: &Description,
        rows: &crate::sql::Rows,
    ) -> Option<Vec<(String, Option<SqlType>)>> {
        match &description.columns {
            Some(columns) if rows.columns.is_empty() || columns.len() == rows.columns.len() => {
                Some(columns.clone())
            }
            _ if !rows.columns.is_empty() => {
                Some(rows.columns.iter().map(|c| (c.clone(), None)).collect())
            }
            _ => None,
        }
    }

    /// Runs one statement of a simple query and sends its results.
    async fn simple_statement(&mut self, sql: &str) -> Result<(), DbError> {
        let description = self.session.describe(sql)?;
        let failed_block = self.session.transaction_failed();
        let rows = crate::sql::Session::execute(&mut self.session, sql, &[]).await?;
        if let Some(columns) = Self::result_columns(&description, &rows) {
            self.row_description(&columns, &[]);
            for row in &rows.rows {
                self.data_row(row, &columns, &[])?;
            }
        }
        let tag = command_tag(sql, description.command, &rows, failed_block);
        message(&mut self.out, b'C', |o| put_cstr(o, &tag));
        Ok(())
    }

    async fn simple_query(&mut self, sql: &str) {
        self.skipping = false;
        let statements = match crate::sql::split_statements(sql) {
            Ok(s) => s,
            Err(e) => {
                self.error(&e);
                self.ready();
                return;
            }
        };
        if statements.is_empty() {
            message(&mut self.out, b'I', |_| {});
        }
        let implicit = statements.len() > 1
            && !self.session.in_transaction()
            && statements.iter().all(|s| is_data_statement(s));
        if implicit {
            if let Err(e) = crate::sql::Session::execute(&mut self.session, "BEGIN", &[]).await {
                self.error(&e);
                self.ready();
                return;
            }
        }
        let mut failed = false;
        for statement in &statements {
            if let Err(e) = self.simple_statement(statement).await {
                self.error(&e);
                failed = true;
                break;
            }
        }
        if implicit {
            let end = if failed { "ROLLBACK" } else { "COMMIT" };
            if let Err(e) = crate::sql::Session::execute(&mut self.session, end, &[]).await {
                self.error(&e);
            }
        }
        self.ready();
        // The caller flushes before reading the next message.
        let _ = self.flush().await;
    }

    fn parse(&mut self, body: &[u8]) -> Result<(), DbError> {
        let mut r = Reader { bytes: body };
        let name = r.cstr()?.to_string();
        let sql = r.cstr()?.to_string();
        let n = r.count()?;
        let mut declared = Vec::with_capacity(n);
        for _ in 0..n {
            declared.push(r.i32()? as u32);
        }
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(DbError::new(
                SqlState::Other("42P05"),
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let statements = crate::sql::split_statements(&sql)?;
        if statements.len() > 1 {
            return Err(DbError::new(
                SqlState::SyntaxError,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let description = match statements.first() {
            Some(statement) => self.session.describe(statement)?,
            None => Description::none(),
        };
        let count = description.params.len().max(declared.len());
        let param_oids = (0..count)
            .map(|i| match declared.get(i) {
                Some(&oid) if oid != 0 => oid,
                _ => types::type_oid(description.params.get(i).copied().flatten()),
            })
            .collect();
        let prepared = Prepared {
            sql: statements.into_iter().next().unwrap_or_default(),
            param_oids,
            description,
        };
        self.statements.insert(name, Arc::new(prepared));
        message(&mut self.out, b'1', |_| {});
        Ok(())
    }

    fn bind(&mut self, body: &[u8]) -> Result<(), DbError> {
        let mut r = Reader { bytes: body };
        let portal = r.cstr()?.to_string();
        let name = r.cstr()?;
        let statement = self.statements.get(name).cloned().ok_or_else(|| {
            DbError::new(
                SqlState::Other("26000"),
                format!("prepared statement \"{name}\" does not exist"),
            )
        })?;
        let n = r.count()?;
        let mut formats = Vec::with_capacity(n);
        for _ in 0..n {
            formats.push(r.i16()?);
        }
        let count = r.count()?;
        if count != statement.param_oids.len() {
            return Err(DbError::new(
                SqlState::ProtocolViolation,
                format!(
                    "bind message supplies {count} parameters, but prepared statement \"{name}\" requires {}",
                    statement.param_oids.len()
                ),
            ));
        }
        let mut params = Vec::with_capacity(count);
        for i in 0..count {
            let len = r.i32()?;
            let bytes = if len < 0 {
                None
            } else {
                Some(r.take(len as usize)?)
            };
            let oid = statement.param_oids[i];
            params.push(types::param_value(bytes, oid, format_of(&formats, i), i)?);
        }
        let n = r.count()?;
        let mut result_formats = Vec::with_capacity(n);
        for _ in 0..n {
            result_formats.push(r.i16()?);
        }
        let columns = statement.description.columns.as_ref().map_or(0, Vec::len);
        let binary = (0..columns)
            .map(|i| format_of(&result_formats, i))
            .collect();
        if !portal.is_empty() && self.portals.contains_key(&portal) {
            return Err(DbError::new(
                SqlState::Other("42P03"),
                format!("cursor \"{portal}\" already exists"),
            ));
        }
        self.portals.insert(
            portal,
            Portal {
                statement,
                params,
                binary,
                ran: None,
            },
        );
        message(&mut self.out, b'2', |_| {});
        Ok(())
    }

    fn describe(&mut self, body: &[u8]) -> Result<(), DbError> {
        let mut r = Reader { bytes: body };
        let kind = r.u8()?;
        let name = r.cstr()?;
        match kind {
            b'S' => {
                let statement = self.statements.get(name).cloned().ok_or_else(|| {
                    DbError::new(
                        SqlState::Other("26000"),
                        format!("prepared statement \"{name}\" does not exist"),
                    )
                })?;
                message(&mut self.out, b't', |o| {
                    o.put_i16(statement.param_oids.len() as i16);
                    for oid in &statement.param_oids {
                        o.put_u32(*oid);
                    }
                });
                match &statement.description.columns {
                    Some(columns) => self.row_description(columns, &[]),
                    None => message(&mut self.out, b'n', |_| {}),
                }
            }
            b'P' => {
                let portal = self.portals.get(name).ok_or_else(|| {
                    DbError::new(
                        SqlState::Other("34000"),
                        format!("portal \"{name}\" does not exist"),
                    )
                })?;
                let statement = portal.statement.clone();
                let binary = portal.binary.clone();
                match &statement.description.columns {
                    Some(columns) => self.row_description(columns, &binary),
                    None => message(&mut self.out, b'n', |_| {}),
                }
            }
            _ => return Err(malformed("Describe of neither S nor P")),
        }
        Ok(())
    }

    async fn execute(&mut self, body: &[u8]) -> Result<(), DbError> {
        let mut r = Reader { bytes: body };
        let name = r.cstr()?.to_string();
        let limit = r.i32()?;
        let portal = self.portals.get_mut(&name).ok_or_else(|| {
            DbError::new(
                SqlState::Other("34000"),
                format!("portal \"{name}\" does not exist"),
            )
        })?;
        let statement = portal.statement.clone();
        if statement.sql.trim().is_empty() {
            message(&mut self.out, b'I', |_| {});
            return Ok(());
        }
        let columns = statement.description.columns.as_deref().unwrap_or(&[]);
        if portal.ran.is_none() {
            let params = std::mem::take(&mut portal.params);
            let failed_block = self.session.transaction_failed();
            let rows =
                crate::sql::Session::execute(&mut self.session, &statement.sql, &params).await?;
            let tag = command_tag(
                &statement.sql,
                statement.description.command,
                &rows,
                failed_block,
            );
            let portal = self.portals.get_mut(&name).expect("looked up above");
            portal.ran = Some((rows.rows.into(), tag));
        }
        let portal = self.portals.get_mut(&name).expect("looked up above");
        let binary = portal.binary.clone();
        let (pending, tag) = portal.ran.as_mut().expect("ran above");
        let take = if limit > 0 {
            (limit as usize).min(pending.len())
        } else {
            pending.len()
        };
        let batch: Vec<Vec<Value>> = pending.drain(..take).collect();
        let suspended = limit > 0 && !pending.is_empty();
        let tag = if statement.description.command == Command::Select {
            format!("SELECT {}", batch.len())
        } else {
            tag.clone()
        };
        for row in &batch {
            self.data_row(row, columns, &binary)?;
        }
        if suspended {
            message(&mut self.out, b's', |_| {});
        } else {
            message(&mut self.out, b'C', |o| put_cstr(o, &tag));
        }
        Ok(())
    }

    fn close(&mut self, body: &[u8]) -> Result<(), DbError> {
        let mut r = Reader { bytes: body };
        let kind = r.u8()?;
        let name = r.cstr()?;
        match kind {
            b'S' => {
                self.statements.remove(name);
            }
            b'P' => {
                self.portals.remove(name);
            }
            _ => return Err(malformed("Close of neither S nor P")),
        }
        message(&mut self.out, b'3', |_| {});
        Ok(())
    }
}

#[cfg(test)]
mod tests;
