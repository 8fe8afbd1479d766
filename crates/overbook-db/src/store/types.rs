//! Keys, rows, isolation levels and errors of the simulated store.

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A key: `table/part/part...`. Tables are key prefixes, and keys order
/// lexicographically, so a table or a group inside it is a [`KeyRange`].
/// Numbers in keys should be zero-padded so that they sort.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Arc<str>);

impl Key {
    /// A key from a table name and parts, joined with `/`.
    pub fn new(table: &str, parts: &[&str]) -> Key {
        let mut text = String::with_capacity(table.len() + parts.len() * 8);
        text.push_str(table);
        for part in parts {
            text.push('/');
            text.push_str(part);
        }
        Key(text.into())
    }

    /// A key from its full text.
    pub fn raw(text: &str) -> Key {
        Key(text.into())
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The table: the text before the first `/`.
    pub fn table(&self) -> &str {
        self.0.split('/').next().unwrap_or("")
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A half-open key range `[start, end)`: what a predicate read covers.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct KeyRange {
    /// First key in the range.
    pub start: Key,
    /// First key after the range.
    pub end: Key,
}

impl KeyRange {
    /// Every key that starts with `prefix` (for example `"bookings/room-03/"`).
    pub fn prefix(prefix: &str) -> KeyRange {
        assert!(!prefix.is_empty(), "a prefix range needs a prefix");
        // The prefix with its last character replaced by the next one (the
        // same text as collecting its chars, replacing the last and
        // collecting again, without the two copies: scans build ranges
        // on every statement).
        let last = prefix.chars().next_back().expect("non-empty prefix");
        let next = char::from_u32(last as u32 + 1).unwrap_or(char::MAX);
        let mut end = String::with_capacity(prefix.len() + next.len_utf8());
        end.push_str(&prefix[..prefix.len() - last.len_utf8()]);
        end.push(next);
        KeyRange {
            start: Key::raw(prefix),
            end: Key(end.into()),
        }
    }

    /// The keys from `start` (inclusive) to `end` (exclusive).
    pub fn between(start: Key, end: Key) -> KeyRange {
        KeyRange { start, end }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &Key) -> bool {
        *key >= self.start && *key < self.end
    }
}

/// One column value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(untagged)]
pub enum Datum {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer (units, versions, minutes since midnight...).
    Int(i64),
    /// Text.
    Text(Arc<str>),
    /// A half-open integer interval `[lower, upper)` (SQL ranges: an
    /// `int4range` or a `tstzrange` in microseconds). `i64::MIN` as the
    /// lower bound and `i64::MAX` as the upper one mean unbounded; an empty
    /// range is `(0, 0)`.
    Range(i64, i64),
}

impl From<i64> for Datum {
    fn from(value: i64) -> Self {
        Datum::Int(value)
    }
}
impl From<bool> for Datum {
    fn from(value: bool) -> Self {
        Datum::Bool(value)
    }
}
impl From<&str> for Datum {
    fn from(value: &str) -> Self {
        Datum::Text(value.into())
    }
}
impl From<String> for Datum {
    fn from(value: String) -> Self {
        Datum::Text(value.into())
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Null => f.write_str("null"),
            Datum::Bool(value) => write!(f, "{value}"),
            Datum::Int(value) => write!(f, "{value}"),
            Datum::Text(value) => write!(f, "{value:?}"),
            Datum::Range(lower, upper) => write!(f, "[{lower},{upper})"),
        }
    }
}

/// A row: named columns in a fixed order. Column names are static because
/// the schemas live in the services' code.
#[derive(Clone, PartialEq, Eq, Default, Hash, Serialize)]
pub struct Row(Vec<(&'static str, Datum)>);

/// A row is a view of itself: code that reads rows can take rows, borrowed
/// rows and shared ones (`impl AsRef<Row>`).
impl AsRef<Row> for Row {
    fn as_ref(&self) -> &Row {
        self
    }
}

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row(Vec::new())
    }

    /// This row with column `name` set to `value` (builder style).
    pub fn with(mut self, name: &'static str, value: impl Into<Datum>) -> Row {
        self.set(name, value);
        self
    }

    /// Sets column `name`, adding it if it is missing.
    pub fn set(&mut self, name: &'static str, value: impl Into<Datum>) {
        let value = value.into();
        match self.0.iter_mut().find(|(column, _)| *column == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The value of column `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Datum> {
        self.0
            .iter()
            .find(|(column, _)| *column == name)
            .map(|(_, value)| value)
    }

    /// Column `name` as an integer; `None` when missing or not an integer.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(Datum::Int(value)) => Some(*value),
            _ => None,
        }
    }

    /// Column `name` as text; `None` when missing or not text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Datum::Text(value)) => Some(value),
            _ => None,
        }
    }

    /// Column `name` as a boolean; `None` when missing or not a boolean.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(Datum::Bool(value)) => Some(*value),
            _ => None,
        }
    }

    /// The columns in order.
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, &Datum)> {
        self.0.iter().map(|(name, value)| (*name, value))
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (name, value)) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}: {value}")?;
        }
        f.write_str("}")
    }
}

/// Transaction isolation levels, as PostgreSQL implements them.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// A fresh snapshot per statement; writers wait for writers and then
    /// act on the newest committed version.
    ReadCommitted,
    /// One snapshot per transaction (snapshot isolation); first updater wins.
    RepeatableRead,
    /// Serializable snapshot isolation (SSI).
    Serializable,
}

impl Isolation {
    /// All levels, weakest first.
    pub const ALL: [Isolation; 3] = [
        Isolation::ReadCommitted,
        Isolation::RepeatableRead,
        Isolation::Serializable,
    ];

    /// The kebab-case name (`read-committed`...).
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read-committed",
            Isolation::RepeatableRead => "repeatable-read",
            Isolation::Serializable => "serializable",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// PostgreSQL's four row-lock strengths, weakest first. A transaction
/// holds at most one per row, its strongest (a stronger one covers the
/// weaker ones, as in PostgreSQL).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowLockMode {
    /// `FOR KEY SHARE`, taken by foreign-key checks on the parent row:
    /// it keeps the key from changing or going away, nothing more.
    KeyShare,
    /// `FOR SHARE`.
    Share,
    /// `FOR NO KEY UPDATE`, taken by an UPDATE that changes no column of
    /// a unique index.
    NoKeyUpdate,
    /// `FOR UPDATE`, taken by DELETE, by an UPDATE that changes a column
    /// of a unique index, and by INSERT of the new row.
    Update,
}

impl RowLockMode {
    /// PostgreSQL's conflict table for row locks: KEY SHARE conflicts only
    /// with UPDATE; SHARE with NO KEY UPDATE and UPDATE; NO KEY UPDATE
    /// with everything but KEY SHARE; UPDATE with everything.
    pub fn conflicts_with(self, other: RowLockMode) -> bool {
        use RowLockMode::*;
        match (self, other) {
            (Update, _) | (_, Update) => true,
            (KeyShare, _) | (_, KeyShare) => false,
            (Share, Share) => false,
            (Share | NoKeyUpdate, Share | NoKeyUpdate) => true,
        }
    }

    /// The SQL clause (`FOR KEY SHARE`...).
    pub fn clause(self) -> &'static str {
        match self {
            RowLockMode::KeyShare => "FOR KEY SHARE",
            RowLockMode::Share => "FOR SHARE",
            RowLockMode::NoKeyUpdate => "FOR NO KEY UPDATE",
            RowLockMode::Update => "FOR UPDATE",
        }
    }
}

/// PostgreSQL error classes the store raises.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub enum SqlState {
    /// 40001: could not serialize access.
    SerializationFailure,
    /// 40P01: deadlock detected.
    DeadlockDetected,
    /// 23505: duplicate key value violates unique constraint.
    UniqueViolation,
    /// 23P01: conflicting key value violates exclusion constraint.
    ExclusionViolation,
    /// 25P02: current transaction is aborted, commands ignored until end of
    /// transaction block.
    InFailedTransaction,
    /// 53300: too many connections (the pool wait limit was reached).
    TooManyConnections,
    /// 57P01: the server was shut down under the transaction (crash).
    AdminShutdown,
    /// 0A000: feature not supported (SQL outside the simulated subset).
    FeatureNotSupported,
    /// 42601: syntax error.
    SyntaxError,
    /// 42P01: undefined table.
    UndefinedTable,
    /// 42703: undefined column.
    UndefinedColumn,
    /// 42P07: duplicate table (or index).
    DuplicateTable,
    /// 42702: ambiguous column reference.
    AmbiguousColumn,
    /// 42804: datatype mismatch.
    DatatypeMismatch,
    /// 42883: undefined function (or operator).
    UndefinedFunction,
    /// 42803: grouping error.
    GroupingError,
    /// 42P10: invalid column reference (no unique constraint matches ON CONFLICT).
    InvalidColumnReference,
    /// 23502: not-null violation.
    NotNullViolation,
    /// 23503: foreign-key violation.
    ForeignKeyViolation,
    /// 23514: check violation.
    CheckViolation,
    /// 21000: cardinality violation (ON CONFLICT DO UPDATE affecting a row twice).
    CardinalityViolation,
    /// 22P02: invalid text representation.
    InvalidTextRepresentation,
    /// 22003: numeric value out of range.
    NumericValueOutOfRange,
    /// 22012: division by zero.
    DivisionByZero,
    /// 22000: data exception (other invalid values, such as a reversed range).
    DataException,
    /// 55P03: lock not available (NOWAIT).
    LockNotAvailable,
    /// 25001: active SQL transaction (BEGIN inside a transaction block).
    ActiveSqlTransaction,
    /// 25006: read-only SQL transaction.
    ReadOnlySqlTransaction,
    /// 08P01: protocol violation (wrong number of parameters).
    ProtocolViolation,
    /// 08006: connection failure.
    ConnectionFailure,
    /// Any other SQLSTATE, as a real PostgreSQL reported it.
    Other(&'static str),
}

impl SqlState {
    /// The five-character SQLSTATE code.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::SerializationFailure => "40001",
            SqlState::DeadlockDetected => "40P01",
            SqlState::UniqueViolation => "23505",
            SqlState::ExclusionViolation => "23P01",
            SqlState::InFailedTransaction => "25P02",
            SqlState::TooManyConnections => "53300",
            SqlState::AdminShutdown => "57P01",
            SqlState::FeatureNotSupported => "0A000",
            SqlState::SyntaxError => "42601",
            SqlState::UndefinedTable => "42P01",
            SqlState::UndefinedColumn => "42703",
            SqlState::DuplicateTable => "42P07",
            SqlState::AmbiguousColumn => "42702",
            SqlState::DatatypeMismatch => "42804",
            SqlState::UndefinedFunction => "42883",
            SqlState::GroupingError => "42803",
            SqlState::InvalidColumnReference => "42P10",
            SqlState::NotNullViolation => "23502",
            SqlState::ForeignKeyViolation => "23503",
            SqlState::CheckViolation => "23514",
            SqlState::CardinalityViolation => "21000",
            SqlState::InvalidTextRepresentation => "22P02",
            SqlState::NumericValueOutOfRange => "22003",
            SqlState::DivisionByZero => "22012",
            SqlState::DataException => "22000",
            SqlState::LockNotAvailable => "55P03",
            SqlState::ActiveSqlTransaction => "25001",
            SqlState::ReadOnlySqlTransaction => "25006",
            SqlState::ProtocolViolation => "08P01",
            SqlState::ConnectionFailure => "08006",
            SqlState::Other(code) => code,
        }
    }

    /// The state for a five-character SQLSTATE code (a known one, or
    /// [`SqlState::Other`], interned once per distinct code).
    pub fn from_code(code: &str) -> SqlState {
        const KNOWN: [SqlState; 31] = [
            SqlState::SerializationFailure,
            SqlState::DeadlockDetected,
            SqlState::UniqueViolation,
            SqlState::ExclusionViolation,
            SqlState::InFailedTransaction,
            SqlState::TooManyConnections,
            SqlState::AdminShutdown,
            SqlState::FeatureNotSupported,
            SqlState::SyntaxError,
            SqlState::UndefinedTable,
            SqlState::UndefinedColumn,
            SqlState::DuplicateTable,
            SqlState::AmbiguousColumn,
            SqlState::DatatypeMismatch,
            SqlState::UndefinedFunction,
            SqlState::GroupingError,
            SqlState::InvalidColumnReference,
            SqlState::NotNullViolation,
            SqlState::ForeignKeyViolation,
            SqlState::CheckViolation,
            SqlState::CardinalityViolation,
            SqlState::InvalidTextRepresentation,
            SqlState::NumericValueOutOfRange,
            SqlState::DivisionByZero,
            SqlState::DataException,
            SqlState::LockNotAvailable,
            SqlState::ActiveSqlTransaction,
            SqlState::ReadOnlySqlTransaction,
            SqlState::ProtocolViolation,
            SqlState::ConnectionFailure,
            SqlState::Other("XX000"),
        ];
        if let Some(known) = KNOWN.iter().find(|state| state.code() == code) {
            return *known;
        }
        static OTHERS: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
            std::sync::Mutex::new(std::collections::BTreeSet::new());
        let mut others = OTHERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(interned) = others.get(code) {
            return SqlState::Other(interned);
        }
        let interned: &'static str = Box::leak(code.to_string().into_boxed_str());
        others.insert(interned);
        SqlState::Other(interned)
    }

    /// Whether re-running the whole transaction may succeed: true for the
    /// serialization and deadlock classes (40xxx), false for constraint
    /// violations, which will fail again on the same data.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            SqlState::SerializationFailure | SqlState::DeadlockDetected
        )
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error from the store: a SQLSTATE and PostgreSQL's message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DbError {
    /// The error class.
    pub code: SqlState,
    /// A message in PostgreSQL's words, with the key involved.
    pub message: String,
    /// Whether the error was injected by the fault plan rather than caused
    /// by a real conflict.
    pub injected: bool,
}

impl DbError {
    /// An error of class `code`.
    pub fn new(code: SqlState, message: impl Into<String>) -> DbError {
        DbError {
            code,
            message: message.into(),
            injected: false,
        }
    }

    /// Whether re-running the transaction may succeed (see [`SqlState::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.code.is_retryable()
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.code(), self.message)
    }
}

impl std::error::Error for DbError {}

/// Identifies a transaction. 0 is the initial load; real transactions count
/// up from 1 in the order they begin.
pub type TxId = u64;
