//! SQL values and types: what statements take as parameters and return,
//! how they compare, how they are written into store rows and keys.

use super::decimal::Decimal;
use super::time::Interval;
use super::types::{enum_def, EnumValue};
use crate::store::{Datum, DbError, SqlState};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// A half-open range `[lower, upper)` of integers (an `int4range`) or of
/// microseconds since 2000-01-01 UTC (a `tstzrange`). `None` bounds are
/// unbounded. Ranges are kept canonical: empty ranges are
/// [`Span::EMPTY`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Span {
    /// Inclusive lower bound; `None`: unbounded below.
    pub lower: Option<i64>,
    /// Exclusive upper bound; `None`: unbounded above.
    pub upper: Option<i64>,
}

impl Span {
    /// The empty range.
    pub const EMPTY: Span = Span {
        lower: Some(0),
        upper: Some(0),
    };

    /// `[lower, upper)`, canonical (empty when `lower >= upper`).
    pub fn new(lower: Option<i64>, upper: Option<i64>) -> Span {
        match (lower, upper) {
            (Some(l), Some(u)) if l >= u => Span::EMPTY,
            _ => Span { lower, upper },
        }
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        *self == Span::EMPTY
    }

    /// Whether the ranges share a point (`&&`).
    pub fn overlaps(&self, other: &Span) -> bool {
        if self.is_empty() || other.is_empty() {
            return false;
        }
        let below = |upper: Option<i64>, lower: Option<i64>| match (upper, lower) {
            (Some(u), Some(l)) => u <= l,
            _ => false,
        };
        !below(self.upper, other.lower) && !below(other.upper, self.lower)
    }

    /// Whether `point` lies in the range (`@>` an element).
    pub fn contains_point(&self, point: i64) -> bool {
        !self.is_empty()
            && self.lower.is_none_or(|l| l <= point)
            && self.upper.is_none_or(|u| point < u)
    }

    /// Whether `other` lies within this range (`@>` a range).
    pub fn contains(&self, other: &Span) -> bool {
        if other.is_empty() {
            return true;
        }
        if self.is_empty() {
            return false;
        }
        let lower_ok = match (self.lower, other.lower) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a <= b,
        };
        let upper_ok = match (self.upper, other.upper) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b <= a,
        };
        lower_ok && upper_ok
    }

    fn to_datum(self) -> Datum {
        Datum::Range(
            self.lower.unwrap_or(i64::MIN),
            self.upper.unwrap_or(i64::MAX),
        )
    }

    fn from_bounds(lower: i64, upper: i64) -> Span {
        Span::new(
            (lower != i64::MIN).then_some(lower),
            (upper != i64::MAX).then_some(upper),
        )
    }

    fn order_key(&self) -> (bool, i64, i64) {
        // PostgreSQL orders empty ranges first, then by lower then upper
        // bound, unbounded below first and unbounded above last.
        (
            !self.is_empty(),
            self.lower.unwrap_or(i64::MIN),
            self.upper.unwrap_or(i64::MAX),
        )
    }
}

/// A SQL value, as parameters are given and results come back, on either
/// engine.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Value {
    /// NULL.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `integer`, `bigint` or `smallint`.
    Int(i64),
    /// `text` (also a parameter of any type, in its text form).
    Text(Arc<str>),
    /// `date`: days since 2000-01-01.
    Date(i32),
    /// `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    Timestamp(i64),
    /// `timestamp` (without time zone): microseconds since 2000-01-01
    /// 00:00 on the wall clock. The store's session time zone is UTC, so
    /// a cast to or from `timestamptz` keeps the number.
    LocalTimestamp(i64),
    /// `int4range` (`[lower, upper)`).
    IntRange(Span),
    /// `tstzrange` (`[lower, upper)` in microseconds since 2000-01-01 UTC).
    TsRange(Span),
    /// `jsonb`, in a canonical text form (object keys sorted).
    Json(Arc<str>),
    /// `uuid`.
    Uuid(u128),
    /// `interval`: months, days and microseconds kept apart.
    Interval(Interval),
    /// A value of an enum type (`CREATE TYPE ... AS ENUM`): the type and
    /// the label's position in its declaration.
    Enum(EnumValue),
    /// `numeric` / `decimal` (exact, with PostgreSQL's display scale).
    Numeric(Decimal),
    /// `character(n)`: the text blank-padded to `n`; compares, hashes
    /// into keys and converts to text without its trailing blanks, as
    /// PostgreSQL's `bpchar`.
    Char(Arc<str>),
    /// An array (`ARRAY[...]`, `array_agg`, or a statement parameter
    /// such as the list of ids of `WHERE id = ANY($1)`); elements of one
    /// type, NULLs allowed. Its text form is PostgreSQL's (`{a,b,NULL}`),
    /// which is what a parameter carries to a real PostgreSQL.
    Array(Vec<Value>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v.into())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type name PostgreSQL would give, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "unknown",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "bigint",
            Value::Text(_) => "text",
            Value::Date(_) => "date",
            Value::Timestamp(_) => "timestamp with time zone",
            Value::LocalTimestamp(_) => "timestamp without time zone",
            Value::IntRange(_) => "int4range",
            Value::TsRange(_) => "tstzrange",
            Value::Json(_) => "jsonb",
            Value::Uuid(_) => "uuid",
            Value::Interval(_) => "interval",
            Value::Enum(_) => "enum",
            Value::Numeric(_) => "numeric",
            Value::Char(_) => "character",
            Value::Array(_) => "array",
        }
    }

    /// The value in PostgreSQL's text format (what a text-format
    /// parameter carries).
    pub fn to_pg_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(v) => if *v { "t" } else { "f" }.to_string(),
            Value::Int(v) => v.to_string(),
            Value::Text(v) | Value::Json(v) => v.to_string(),
            Value::Date(d) => format_date(*d),
            Value::Timestamp(t) => format_timestamp(*t),
            Value::LocalTimestamp(t) => format_local_timestamp(*t),
            Value::IntRange(s) => format_span(s, |v| v.to_string()),
            Value::TsRange(s) => format_span(s, |v| format!("\"{}\"", format_timestamp(v))),
            Value::Uuid(u) => format_uuid(*u),
            Value::Interval(i) => i.to_string(),
            Value::Enum(e) => e.label().to_string(),
            Value::Numeric(d) => d.to_string(),
            Value::Char(c) => c.to_string(),
            Value::Array(items) => format_array(items),
        })
    }
}

/// Replaces enum values (also inside arrays) by their labels as text:
/// what a client reads from a result.
pub(crate) fn labels_as_text(v: &mut Value) {
    match v {
        Value::Enum(e) => *v = Value::Text(e.label()),
        Value::Array(items) => items.iter_mut().for_each(labels_as_text),
        _ => {}
    }
}

/// The text of a uuid (`8-4-4-4-12` lower-case hex digits).
pub(crate) fn format_uuid(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Parses a uuid as PostgreSQL accepts it: 32 hex digits, in either case,
/// optionally in braces and with hyphens between groups of four.
pub(crate) fn parse_uuid(text: &str) -> Option<u128> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    let mut hex = String::with_capacity(32);
    for (i, c) in t.chars().enumerate() {
        if c == '-' {
            if hex.is_empty() || !hex.len().is_multiple_of(4) || i + 1 == t.len() {
                return None;
            }
            continue;
        }
        if !c.is_ascii_hexdigit() {
            return None;
        }
        hex.push(c);
    }
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// PostgreSQL's array text: `{1,2}`, elements quoted when they are empty,
/// hold delimiters, quotes, backslashes or blanks, or spell NULL.
fn format_array(items: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v.to_pg_text() {
            None => out.push_str("NULL"),
            Some(text) if matches!(v, Value::Array(_)) => out.push_str(&text),
            Some(text) => {
                let quote = text.is_empty()
                    || text.eq_ignore_ascii_case("null")
                    || text
                        .chars()
                        .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
                if quote {
                    out.push('"');
                    for c in text.chars() {
                        if matches!(c, '"' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    out.push('}');
    out
}

/// Splits PostgreSQL's one-dimensional array text into its elements
/// (`None`: an unquoted NULL).
pub(crate) fn parse_array_text(text: &str) -> Option<Vec<Option<String>>> {
    let t = text.trim();
    let inner = t.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if matches!(c, '{' | '}' | '"') {
                    return None;
                }
                item.push(c);
                chars.next();
            }
            item = item.trim().to_string();
        }
        if !quoted && item.eq_ignore_ascii_case("null") {
            out.push(None);
        } else {
            out.push(Some(item));
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_pg_text() {
            None => f.write_str("NULL"),
            Some(text) => f.write_str(&text),
        }
    }
}

fn format_span(span: &Span, bound: impl Fn(i64) -> String) -> String {
    if span.is_empty() {
        return "empty".into();
    }
    let lower = span.lower.map(&bound).unwrap_or_default();
    let upper = span.upper.map(&bound).unwrap_or_default();
    let open = if span.lower.is_some() { "[" } else { "(" };
    format!("{open}{lower},{upper})")
}

/// Column types the simulated engine stores.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SqlType {
    /// `smallint`.
    SmallInt,
    /// `integer`.
    Integer,
    /// `bigint`.
    BigInt,
    /// `numeric` / `decimal` without a precision: exact, any scale.
    Numeric,
    /// `text`.
    Text,
    /// `boolean`.
    Bool,
    /// `date`.
    Date,
    /// `timestamptz`.
    Timestamp,
    /// `timestamp` (without time zone).
    LocalTimestamp,
    /// `int4range`.
    IntRange,
    /// `tstzrange`.
    TsRange,
    /// `jsonb`.
    Json,
    /// `uuid`.
    Uuid,
    /// `interval`.
    Interval,
    /// An enum type, by its id (see `types`).
    Enum(u32),
    /// `character(n)` / `char(n)` (`char` alone: `char(1)`).
    Char(u32),
    /// `character varying(n)` / `varchar(n)`; `varchar` without a length
    /// is [`SqlType::Text`].
    Varchar(u32),
    /// `numeric(precision, scale)`.
    Decimal(u8, u8),
    /// An array of the element type (values and parameters; not a
    /// column type).
    Array(&'static SqlType),
}

impl SqlType {
    /// The type's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            SqlType::SmallInt => "smallint",
            SqlType::Integer => "integer",
            SqlType::BigInt => "bigint",
            SqlType::Numeric | SqlType::Decimal(..) => "numeric",
            SqlType::Text => "text",
            SqlType::Bool => "boolean",
            SqlType::Date => "date",
            SqlType::Timestamp => "timestamp with time zone",
            SqlType::LocalTimestamp => "timestamp without time zone",
            SqlType::IntRange => "int4range",
            SqlType::TsRange => "tstzrange",
            SqlType::Json => "jsonb",
            SqlType::Uuid => "uuid",
            SqlType::Interval => "interval",
            SqlType::Enum(id) => enum_def(id).name_static(),
            SqlType::Char(_) => "character",
            SqlType::Varchar(_) => "character varying",
            SqlType::Array(_) => "array",
        }
    }

    /// The type of a SQL type name (`int`, `int4`, `text`, `varchar(20)`,
    /// `numeric(10,2)`, `uuid[]`...). Enum types are looked up in the
    /// catalog being compiled against (see `types::with_types`).
    pub fn parse(name: &str) -> Option<SqlType> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(elem) = lower.strip_suffix("[]") {
            return SqlType::parse(elem).map(array_of);
        }
        let (base, mods) = match lower.split_once('(') {
            Some((b, rest)) => (b.trim(), Some(rest.trim_end().strip_suffix(')')?)),
            None => (lower.as_str(), None),
        };
        let mods: Vec<u32> = match mods {
            None => Vec::new(),
            Some(m) => m
                .split(',')
                .map(|x| x.trim().parse().ok())
                .collect::<Option<_>>()?,
        };
        let base = base.strip_prefix("public.").unwrap_or(base);
        Some(match (base, mods.as_slice()) {
            ("smallint" | "int2" | "smallserial" | "serial2", []) => SqlType::SmallInt,
            ("int" | "integer" | "int4" | "serial" | "serial4", []) => SqlType::Integer,
            ("bigint" | "int8" | "bigserial" | "serial8", []) => SqlType::BigInt,
            ("numeric" | "decimal", []) => SqlType::Numeric,
            ("numeric" | "decimal", [p]) if (1..=38).contains(p) => SqlType::Decimal(*p as u8, 0),
            ("numeric" | "decimal", [p, s]) if (1..=38).contains(p) && s <= p => {
                SqlType::Decimal(*p as u8, *s as u8)
            }
            ("text" | "string", []) => SqlType::Text,
            ("varchar" | "character varying", []) => SqlType::Text,
            ("varchar" | "character varying", [n]) if *n >= 1 => SqlType::Varchar(*n),
            ("char" | "character" | "bpchar", []) => SqlType::Char(1),
            ("char" | "character" | "bpchar", [n]) if *n >= 1 => SqlType::Char(*n),
            ("boolean" | "bool", []) => SqlType::Bool,
            ("date", []) => SqlType::Date,
            ("timestamptz" | "timestamp with time zone", []) => SqlType::Timestamp,
            ("timestamp" | "timestamp without time zone", []) => SqlType::LocalTimestamp,
            ("int4range", []) => SqlType::IntRange,
            ("tstzrange", []) => SqlType::TsRange,
            ("jsonb", []) => SqlType::Json,
            ("uuid", []) => SqlType::Uuid,
            ("interval", []) => SqlType::Interval,
            (other, []) => return super::types::lookup_type(other).map(SqlType::Enum),
            _ => return None,
        })
    }

    fn is_integer(self) -> bool {
        matches!(self, SqlType::SmallInt | SqlType::Integer | SqlType::BigInt)
    }
}

/// The array type of `elem` (interned: a few distinct element types).
pub(crate) fn array_of(elem: SqlType) -> SqlType {
    static ARRAYS: std::sync::Mutex<Vec<&'static SqlType>> = std::sync::Mutex::new(Vec::new());
    let mut arrays = ARRAYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = arrays.iter().find(|t| ***t == elem) {
        return SqlType::Array(found);
    }
    let leaked: &'static SqlType = Box::leak(Box::new(elem));
    arrays.push(leaked);
    SqlType::Array(leaked)
}

pub(crate) fn err(code: SqlState, message: impl Into<String>) -> DbError {
    DbError::new(code, message)
}

fn invalid(ty: SqlType, text: &str) -> DbError {
    err(
        SqlState::InvalidTextRepresentation,
        format!("invalid input syntax for type {}: \"{text}\"", ty.name()),
    )
}

/// Converts `value` to column type `ty` the way PostgreSQL assigns a
/// value or a text-format parameter to it: text parses as the type,
/// integers are range-checked, `char(n)`/`varchar(n)` too long fail with
/// 22001, `numeric(p,s)` rounds to its scale.
pub fn coerce(value: &Value, ty: SqlType) -> Result<Value, DbError> {
    convert(value, ty, false)
}

/// An explicit cast (`CAST(x AS t)`, `x::t`): as [`coerce`], except that
/// `char(n)`/`varchar(n)` truncate silently, as PostgreSQL's explicit
/// length coercion does, and a few more conversions are allowed.
pub fn cast(value: &Value, ty: SqlType) -> Result<Value, DbError> {
    convert(value, ty, true)
}

fn mismatch(ty: SqlType, v: &Value) -> DbError {
    err(
        SqlState::DatatypeMismatch,
        format!(
            "column is of type {} but expression is of type {}",
            ty.name(),
            v.type_name()
        ),
    )
}

fn convert(value: &Value, ty: SqlType, explicit: bool) -> Result<Value, DbError> {
    let out = match (value, ty) {
        (Value::Null, _) => Value::Null,
        (Value::Int(v), t) if t.is_integer() => Value::Int(check_int(*v, t)?),
        (Value::Int(v), SqlType::Numeric) => Value::Numeric(Decimal::from_int(*v)),
        (Value::Int(v), SqlType::Decimal(p, s)) => {
            Value::Numeric(Decimal::from_int(*v).fit(p.into(), s.into())?)
        }
        (Value::Numeric(d), t) if t.is_integer() => Value::Int(check_int(d.round_i64()?, t)?),
        (Value::Numeric(_), SqlType::Numeric) => value.clone(),
        (Value::Numeric(d), SqlType::Decimal(p, s)) => Value::Numeric(d.fit(p.into(), s.into())?),
        (Value::Int(v), SqlType::Bool) if explicit => Value::Bool(*v != 0),
        (Value::Bool(b), t) if explicit && t.is_integer() => Value::Int(*b as i64),
        (Value::Text(text), t) => fit_length(parse_text(text, t)?, t, explicit)?,
        (Value::Char(c), SqlType::Text) => Value::Text(c.trim_end_matches(' ').into()),
        (Value::Char(c), t @ (SqlType::Char(_) | SqlType::Varchar(_))) => {
            fit_length(Value::Text(c.trim_end_matches(' ').into()), t, explicit)?
        }
        (Value::Char(c), t) => convert(&Value::Text(c.trim_end_matches(' ').into()), t, explicit)?,
        (Value::Bool(_), SqlType::Bool)
        | (Value::Date(_), SqlType::Date)
        | (Value::Timestamp(_), SqlType::Timestamp)
        | (Value::LocalTimestamp(_), SqlType::LocalTimestamp)
        | (Value::IntRange(_), SqlType::IntRange)
        | (Value::TsRange(_), SqlType::TsRange)
        | (Value::Json(_), SqlType::Json)
        | (Value::Uuid(_), SqlType::Uuid)
        | (Value::Interval(_), SqlType::Interval) => value.clone(),
        (Value::Enum(e), SqlType::Enum(id)) if e.ty == id => value.clone(),
        (Value::Date(d), SqlType::Timestamp) => Value::Timestamp(*d as i64 * DAY_US),
        (Value::Timestamp(t), SqlType::Date) => Value::Date(t.div_euclid(DAY_US) as i32),
        (Value::Date(d), SqlType::LocalTimestamp) => Value::LocalTimestamp(*d as i64 * DAY_US),
        (Value::LocalTimestamp(t), SqlType::Date) => Value::Date(t.div_euclid(DAY_US) as i32),
        // The session time zone is UTC: the same instant, the same number.
        (Value::Timestamp(t), SqlType::LocalTimestamp) => Value::LocalTimestamp(*t),
        (Value::LocalTimestamp(t), SqlType::Timestamp) => Value::Timestamp(*t),
        (Value::Array(items), SqlType::Array(elem)) => Value::Array(
            items
                .iter()
                .map(|v| convert(v, *elem, explicit))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Array(_), t) => return Err(mismatch(t, value)),
        // A cast to text writes booleans out in full and jsonb as
        // PostgreSQL prints it.
        (Value::Bool(b), t @ (SqlType::Text | SqlType::Char(_) | SqlType::Varchar(_))) => {
            fit_length(
                Value::Text(if *b { "true" } else { "false" }.into()),
                t,
                explicit,
            )?
        }
        (Value::Json(_), t @ (SqlType::Text | SqlType::Char(_) | SqlType::Varchar(_))) => {
            fit_length(
                Value::Text(super::funcs::json_text(value).into()),
                t,
                explicit,
            )?
        }
        (v, t @ (SqlType::Text | SqlType::Char(_) | SqlType::Varchar(_))) => fit_length(
            Value::Text(v.to_pg_text().unwrap_or_default().into()),
            t,
            explicit,
        )?,
        (v, t) => return Err(mismatch(t, v)),
    };
    Ok(out)
}

/// Applies `char(n)`/`varchar(n)` to a text value (`Text` in, `Char`
/// out for `char(n)`): too long is 22001 unless only blanks are cut or
/// the cast is explicit; `char(n)` pads with blanks.
fn fit_length(v: Value, ty: SqlType, explicit: bool) -> Result<Value, DbError> {
    let (n, name) = match ty {
        SqlType::Char(n) => (n as usize, "character"),
        SqlType::Varchar(n) => (n as usize, "character varying"),
        _ => return Ok(v),
    };
    let Value::Text(text) = &v else { return Ok(v) };
    let len = text.chars().count();
    let mut fitted: String = if len > n {
        let cut: String = text.chars().take(n).collect();
        if !explicit && text.chars().skip(n).any(|c| c != ' ') {
            return Err(err(
                SqlState::Other("22001"),
                format!("value too long for type {name}({n})"),
            ));
        }
        cut
    } else {
        text.to_string()
    };
    if let SqlType::Char(_) = ty {
        let have = fitted.chars().count();
        fitted.extend(std::iter::repeat_n(' ', n - have));
        return Ok(Value::Char(fitted.into()));
    }
    Ok(Value::Text(fitted.into()))
}

fn check_int(v: i64, ty: SqlType) -> Result<i64, DbError> {
    let (min, max, name) = match ty {
        SqlType::SmallInt => (i16::MIN as i64, i16::MAX as i64, "smallint"),
        SqlType::Integer => (i32::MIN as i64, i32::MAX as i64, "integer"),
        _ => return Ok(v),
    };
    if v < min || v > max {
        return Err(err(
            SqlState::NumericValueOutOfRange,
            format!("{name} out of range"),
        ));
    }
    Ok(v)
}

/// Parses PostgreSQL's text form of a value of type `ty`.
pub fn parse_text(text: &str, ty: SqlType) -> Result<Value, DbError> {
    let t = text.trim();
    Ok(match ty {
        SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => {
            Value::Int(check_int(t.parse().map_err(|_| invalid(ty, text))?, ty)?)
        }
        SqlType::Numeric | SqlType::Decimal(..) => {
            let d = Decimal::parse(t).ok_or_else(|| invalid(ty, text))?;
            match ty {
                SqlType::Decimal(p, s) => Value::Numeric(d.fit(p.into(), s.into())?),
                _ => Value::Numeric(d),
            }
        }
        SqlType::Text | SqlType::Varchar(_) => Value::Text(text.into()),
        SqlType::Char(_) => fit_length(Value::Text(text.into()), ty, false)?,
        SqlType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Value::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Value::Bool(false),
            _ => return Err(invalid(ty, text)),
        },
        SqlType::Date => Value::Date(parse_date(t).ok_or_else(|| bad_datetime(t, "date"))?),
        SqlType::Timestamp => Value::Timestamp(
            parse_timestamp(t).ok_or_else(|| bad_datetime(t, "timestamp with time zone"))?,
        ),
        // PostgreSQL reads a wall-clock time and ignores a zone written
        // after it.
        SqlType::LocalTimestamp => Value::LocalTimestamp(
            parse_timestamp(without_zone(t)).ok_or_else(|| bad_datetime(t, "timestamp"))?,
        ),
        SqlType::IntRange => Value::IntRange(parse_range(t, ty, |b| {
            b.parse::<i32>().ok().map(i64::from)
        })?),
        SqlType::TsRange => Value::TsRange(parse_range(t, ty, parse_timestamp)?),
        SqlType::Json => Value::Json(canonical_json(t)?.into()),
        SqlType::Uuid => Value::Uuid(parse_uuid(t).ok_or_else(|| invalid(ty, text))?),
        SqlType::Interval => Value::Interval(Interval::parse(t)?),
        SqlType::Enum(id) => Value::Enum(enum_def(id).value_of(text)?),
        SqlType::Array(elem) => {
            let items = parse_array_text(t).ok_or_else(|| {
                err(
                    SqlState::InvalidTextRepresentation,
                    format!("malformed array literal: \"{text}\""),
                )
            })?;
            Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        None => Ok(Value::Null),
                        Some(s) => parse_text(&s, *elem),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// 22008 for a well-formed date whose fields are out of range
/// (`2024-02-30`), else 22007, as PostgreSQL tells them apart.
fn bad_datetime(text: &str, type_name: &str) -> DbError {
    let date = text.get(..10).unwrap_or(text);
    let fields: Vec<&str> = date.splitn(3, '-').collect();
    let shaped = fields.len() == 3
        && fields
            .iter()
            .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if shaped {
        err(
            SqlState::Other("22008"),
            format!("date/time field value out of range: \"{text}\""),
        )
    } else {
        err(
            SqlState::Other("22007"),
            format!("invalid input syntax for type {type_name}: \"{text}\""),
        )
    }
}

/// The canonical text of a JSON document (keys sorted, no spaces).
pub fn canonical_json(text: &str) -> Result<String, DbError> {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        err(
            SqlState::InvalidTextRepresentation,
            format!("invalid input syntax for type json: {e}"),
        )
    })?;
    Ok(parsed.to_string())
}

fn parse_range(
    text: &str,
    ty: SqlType,
    bound: impl Fn(&str) -> Option<i64>,
) -> Result<Span, DbError> {
    if text.eq_ignore_ascii_case("empty") {
        return Ok(Span::EMPTY);
    }
    let bad = || {
        err(
            SqlState::InvalidTextRepresentation,
            format!("malformed range literal: \"{text}\""),
        )
    };
    let open = text.chars().next().ok_or_else(bad)?;
    let close = text.chars().last().ok_or_else(bad)?;
    if !matches!(open, '[' | '(') || !matches!(close, ']' | ')') || text.len() < 3 {
        return Err(bad());
    }
    let inner = &text[1..text.len() - 1];
    let (lo, hi) = inner.split_once(',').ok_or_else(bad)?;
    let parse = |b: &str| -> Result<Option<i64>, DbError> {
        let b = b.trim().trim_matches('"');
        if b.is_empty() || b.eq_ignore_ascii_case("infinity") || b.eq_ignore_ascii_case("-infinity")
        {
            return Ok(None);
        }
        bound(b).map(Some).ok_or_else(|| invalid(ty, text))
    };
    let (mut lower, mut upper) = (parse(lo)?, parse(hi)?);
    if ty == SqlType::TsRange && (open != '[' && lower.is_some() || close != ')' && upper.is_some())
    {
        return Err(err(
            SqlState::FeatureNotSupported,
            format!("tstzrange \"{text}\": the simulated engine keeps only [) bounds"),
        ));
    }
    if let (Some(l), Some(u)) = (lower, upper) {
        if l > u {
            return Err(err(
                SqlState::DataException,
                "range lower bound must be less than or equal to range upper bound",
            ));
        }
    }
    if open == '(' {
        lower = lower.map(|l| l + 1);
    }
    if close == ']' {
        upper = upper.map(|u| u + 1);
    }
    Ok(Span::new(lower, upper))
}

const DAY_US: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i64 = 10_957;

fn parse_date(text: &str) -> Option<i32> {
    let mut parts = text.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    i32::try_from(days - PG_EPOCH_DAYS).ok()
}

fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(days as i64 + PG_EPOCH_DAYS);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|+HH[:MM]|-HH[:MM]]` (no
/// zone: UTC) into microseconds since 2000-01-01 UTC.
fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() == 10 {
        return parse_date(text).map(|d| d as i64 * DAY_US);
    }
    let (date, rest) = text.split_at_checked(10)?;
    let days = parse_date(date)? as i64;
    let rest = rest.strip_prefix([' ', 'T'])?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut fields = time.trim().split(':');
    let h: i64 = fields.next()?.parse().ok()?;
    let mi: i64 = fields.next()?.parse().ok()?;
    let (s, us) = match fields.next() {
        None => (0, 0),
        Some(sec) => match sec.split_once('.') {
            None => (sec.parse().ok()?, 0),
            Some((whole, frac)) => {
                let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
                (whole.parse().ok()?, digits.parse().ok()?)
            }
        },
    };
    if h > 24 || mi > 59 || s > 60 {
        return None;
    }
    let offset_s = match zone.trim() {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let body = &z[1..];
            let (zh, zm) = match body.split_once(':') {
                Some((a, b)) => (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?),
                None if body.len() == 4 => (body[..2].parse().ok()?, body[2..].parse().ok()?),
                None => (body.parse().ok()?, 0),
            };
            sign * (zh * 3600 + zm * 60)
        }
    };
    Some(days * DAY_US + ((h * 60 + mi) * 60 + s - offset_s) * 1_000_000 + us)
}

/// `timestamp` as PostgreSQL prints it: `timestamptz`'s form at UTC
/// without the zone.
fn format_local_timestamp(us: i64) -> String {
    let mut text = format_timestamp(us);
    text.truncate(text.len() - "+00".len());
    text
}

/// The wall-clock part of a timestamp literal: what follows the time of
/// day (`Z`, `+02`, `-05:30`, a zone name) is dropped, as PostgreSQL's
/// `timestamp` input does.
fn without_zone(text: &str) -> &str {
    let text = text.trim();
    match text.split_at_checked(10) {
        Some((_, rest)) if !rest.is_empty() => {
            let cut = rest[1..]
                .find(['Z', 'z', '+', '-', ' '])
                .map_or(text.len(), |at| 10 + 1 + at);
            text[..cut].trim_end()
        }
        _ => text,
    }
}

fn format_timestamp(us: i64) -> String {
    let days = us.div_euclid(DAY_US);
    let rest = us.rem_euclid(DAY_US);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let date = format_date(days as i32);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if micros == 0 {
        format!("{date} {time}+00")
    } else {
        // PostgreSQL prints the fraction without trailing zeros.
        let fraction = format!("{micros:06}");
        format!("{date} {time}.{}+00", fraction.trim_end_matches('0'))
    }
}

/// Compares two non-null values of compatible types (after coercion);
/// `None` when either is NULL.
pub fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, DbError> {
    Ok(Some(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return Ok(None),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Date(x), Value::Timestamp(y)) => (*x as i64 * DAY_US).cmp(y),
        (Value::Timestamp(x), Value::Date(y)) => x.cmp(&(*y as i64 * DAY_US)),
        (Value::LocalTimestamp(x), Value::LocalTimestamp(y))
        | (Value::LocalTimestamp(x), Value::Timestamp(y))
        | (Value::Timestamp(x), Value::LocalTimestamp(y)) => x.cmp(y),
        (Value::Date(x), Value::LocalTimestamp(y)) => (*x as i64 * DAY_US).cmp(y),
        (Value::LocalTimestamp(x), Value::Date(y)) => x.cmp(&(*y as i64 * DAY_US)),
        (Value::IntRange(x), Value::IntRange(y)) | (Value::TsRange(x), Value::TsRange(y)) => {
            x.order_key().cmp(&y.order_key())
        }
        (Value::Json(x), Value::Json(y)) => x.cmp(y),
        (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.cmp_span(y),
        (Value::Enum(x), Value::Enum(y)) if x.ty == y.ty => x.ordinal.cmp(&y.ordinal),
        (Value::Numeric(x), Value::Numeric(y)) => x.cmp_value(y),
        (Value::Numeric(x), Value::Int(y)) => x.cmp_value(&Decimal::from_int(*y)),
        (Value::Int(x), Value::Numeric(y)) => Decimal::from_int(*x).cmp_value(y),
        // bpchar ignores trailing blanks (an untyped literal compared with
        // a char(n) value is read as bpchar too).
        (Value::Char(x), Value::Char(y) | Value::Text(y)) | (Value::Text(x), Value::Char(y)) => x
            .trim_end_matches(' ')
            .as_bytes()
            .cmp(y.trim_end_matches(' ').as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                // PostgreSQL sorts NULL elements after non-NULL ones.
                let o = match (p.is_null(), q.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => compare(p, q)?.unwrap_or(Ordering::Equal),
                };
                if o != Ordering::Equal {
                    return Ok(Some(o));
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Text(t), other) => return compare(&coerce_like(t, other)?, other),
        (other, Value::Text(t)) => return compare(other, &coerce_like(t, other)?),
        (x, y) => {
            return Err(err(
                SqlState::UndefinedFunction,
                format!(
                    "operator does not exist: {} = {}",
                    x.type_name(),
                    y.type_name()
                ),
            ))
        }
    }))
}

/// Text read as the type of `like` (an untyped literal or text parameter
/// compared with a typed value).
pub(crate) fn coerce_like(text: &str, like: &Value) -> Result<Value, DbError> {
    let ty = match like {
        Value::Int(_) => SqlType::BigInt,
        Value::Bool(_) => SqlType::Bool,
        Value::Date(_) => SqlType::Date,
        Value::Timestamp(_) => SqlType::Timestamp,
        Value::LocalTimestamp(_) => SqlType::LocalTimestamp,
        Value::IntRange(_) => SqlType::IntRange,
        Value::TsRange(_) => SqlType::TsRange,
        Value::Json(_) => SqlType::Json,
        Value::Uuid(_) => SqlType::Uuid,
        Value::Interval(_) => SqlType::Interval,
        Value::Enum(e) => SqlType::Enum(e.ty),
        Value::Numeric(_) => SqlType::Numeric,
        Value::Array(_) => type_of_value(like),
        Value::Char(_) => return Ok(Value::Char(text.into())),
        Value::Text(_) | Value::Null => return Ok(Value::Text(text.into())),
    };
    parse_text(text, ty)
}

/// The type a (non-NULL) value has, for reading text as the same type.
pub(crate) fn type_of_value(v: &Value) -> SqlType {
    match v {
        Value::Int(_) => SqlType::BigInt,
        Value::Bool(_) => SqlType::Bool,
        Value::Date(_) => SqlType::Date,
        Value::Timestamp(_) => SqlType::Timestamp,
        Value::LocalTimestamp(_) => SqlType::LocalTimestamp,
        Value::IntRange(_) => SqlType::IntRange,
        Value::TsRange(_) => SqlType::TsRange,
        Value::Json(_) => SqlType::Json,
        Value::Uuid(_) => SqlType::Uuid,
        Value::Interval(_) => SqlType::Interval,
        Value::Enum(e) => SqlType::Enum(e.ty),
        Value::Numeric(_) => SqlType::Numeric,
        Value::Char(c) => SqlType::Char(c.chars().count().max(1) as u32),
        Value::Array(items) => array_of(
            items
                .iter()
                .find(|v| !v.is_null())
                .map_or(SqlType::Text, type_of_value),
        ),
        Value::Text(_) | Value::Null => SqlType::Text,
    }
}

/// A total order for sorting: NULLs last, as PostgreSQL sorts ascending.
pub fn sort_order(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => compare(a, b).ok().flatten().unwrap_or(Ordering::Equal),
    }
}

/// The store datum for `value` in a column of type `ty`. Types without a
/// datum of their own are kept as text (uuid, numeric and enum labels in
/// their text form, intervals as `months/days/micros`) and read back by
/// the column's type.
pub(crate) fn to_datum(value: &Value) -> Datum {
    match value {
        Value::Null => Datum::Null,
        Value::Bool(v) => Datum::Bool(*v),
        Value::Int(v) => Datum::Int(*v),
        Value::Timestamp(v) | Value::LocalTimestamp(v) => Datum::Int(*v),
        Value::Date(v) => Datum::Int(*v as i64),
        Value::Text(v) | Value::Json(v) | Value::Char(v) => Datum::Text(v.clone()),
        Value::IntRange(s) | Value::TsRange(s) => s.to_datum(),
        Value::Interval(i) => Datum::Text(i.to_stored().into()),
        Value::Uuid(_) | Value::Enum(_) | Value::Numeric(_) | Value::Array(_) => {
            Datum::Text(value.to_pg_text().unwrap_or_default().into())
        }
    }
}

/// The value of a store datum in a column of type `ty`.
pub(crate) fn from_datum(datum: &Datum, ty: SqlType) -> Value {
    match (datum, ty) {
        (Datum::Null, _) => Value::Null,
        (Datum::Bool(v), _) => Value::Bool(*v),
        (Datum::Int(v), SqlType::Timestamp) => Value::Timestamp(*v),
        (Datum::Int(v), SqlType::LocalTimestamp) => Value::LocalTimestamp(*v),
        (Datum::Int(v), SqlType::Date) => Value::Date(*v as i32),
        (Datum::Int(v), SqlType::Numeric | SqlType::Decimal(..)) => {
            Value::Numeric(Decimal::from_int(*v))
        }
        (Datum::Int(v), _) => Value::Int(*v),
        (Datum::Text(v), SqlType::Json) => Value::Json(v.clone()),
        (Datum::Text(v), SqlType::Char(_)) => Value::Char(v.clone()),
        (Datum::Text(v), SqlType::Interval) => {
            Interval::from_stored(v).map_or(Value::Null, Value::Interval)
        }
        (
            Datum::Text(v),
            t @ (SqlType::Uuid | SqlType::Numeric | SqlType::Decimal(..) | SqlType::Enum(_)),
        ) => parse_text(v, t).unwrap_or(Value::Null),
        (Datum::Text(v), _) => Value::Text(v.clone()),
        (Datum::Range(l, u), SqlType::TsRange) => Value::TsRange(Span::from_bounds(*l, *u)),
        (Datum::Range(l, u), _) => Value::IntRange(Span::from_bounds(*l, *u)),
    }
}

/// Appends `v` as 16 lowercase hex digits (`{:016x}` without the
/// formatter: every key of every statement is built here).
fn push_hex(out: &mut String, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = DIGITS[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    out.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
}

/// Appends an order-preserving, self-delimiting encoding of `value` to a
/// key: keys of one index sort as their values do (NULLs last), so
/// equality and range conditions become key ranges.
pub(crate) fn encode_key(out: &mut String, value: &Value) {
    let int = |out: &mut String, tag: char, v: i64| {
        out.push(tag);
        push_hex(out, (v as u64) ^ (1 << 63));
    };
    let text = |out: &mut String, tag: char, v: &str| {
        out.push(tag);
        for c in v.chars() {
            match c {
                '\u{0}' => out.push_str("\u{1}\u{1}"),
                '\u{1}' => out.push_str("\u{1}\u{2}"),
                c => out.push(c),
            }
        }
        out.push('\u{0}');
    };
    match value {
        Value::Null => out.push('~'),
        Value::Bool(v) => out.push_str(if *v { "b1" } else { "b0" }),
        Value::Int(v) => int(out, 'i', *v),
        Value::Date(v) => int(out, 'i', *v as i64),
        Value::Timestamp(v) | Value::LocalTimestamp(v) => int(out, 'i', *v),
        Value::Enum(e) => int(out, 'i', e.ordinal as i64),
        Value::Text(v) | Value::Json(v) => text(out, 't', v),
        // Equal bpchar values differ only in trailing blanks.
        Value::Char(v) => text(out, 't', v.trim_end_matches(' ')),
        Value::Array(_) => text(out, 'a', &value.to_pg_text().unwrap_or_default()),
        Value::Uuid(u) => {
            out.push('u');
            push_hex(out, (*u >> 64) as u64);
            push_hex(out, *u as u64);
        }
        Value::Interval(i) => {
            out.push('v');
            out.push_str(&i.key());
        }
        Value::Numeric(d) => {
            out.push('n');
            out.push_str(&d.key());
        }
        Value::IntRange(s) | Value::TsRange(s) => {
            let (_, l, u) = s.order_key();
            int(out, if s.is_empty() { 'e' } else { 'r' }, l);
            int(out, 'r', u);
        }
    }
}

/// A key of the SQL layer as a person reads it: `table (1, 'a')` for the
/// row of `table` whose primary key is `(1, 'a')`, `table@index (...)`
/// for an index entry. The integer, text, boolean and null parts of
/// [`encode_key`] are decoded (integers as numbers: a date's or
/// timestamp's too); from the first part of another type on, the rest is
/// left as it is stored. A key without a '/' comes back unchanged (the
/// caller knows which keys are the SQL layer's).
pub(crate) fn readable_key(key: &str) -> String {
    let Some((table, mut rest)) = key.split_once('/') else {
        return key.to_string();
    };
    let mut parts: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let mut chars = rest.chars();
        let tag = chars.next().expect("rest is not empty");
        let body = chars.as_str();
        let decoded = match tag {
            '~' => Some(("NULL".to_string(), body)),
            'b' if body.starts_with('0') => Some(("false".to_string(), &body[1..])),
            'b' if body.starts_with('1') => Some(("true".to_string(), &body[1..])),
            'i' => body
                .get(..16)
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                .map(|v| (((v ^ (1 << 63)) as i64).to_string(), &body[16..])),
            't' => body.find('\u{0}').map(|end| {
                // Undo the escapes of '\0' and '\1' (see `encode_key`).
                let mut text = String::with_capacity(end);
                let mut escaped = false;
                for c in body[..end].chars() {
                    match (escaped, c) {
                        (false, '\u{1}') => escaped = true,
                        (true, c) => {
                            text.push(if c == '\u{1}' { '\u{0}' } else { '\u{1}' });
                            escaped = false;
                        }
                        (false, c) => text.push(c),
                    }
                }
                (format!("'{}'", text.replace('\'', "''")), &body[end + 1..])
            }),
            _ => None,
        };
        match decoded {
            Some((part, after)) => {
                parts.push(part);
                rest = after;
            }
            None => {
                parts.push(rest.to_string());
                break;
            }
        }
    }
    format!("{table} ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_their_values() {
        let mut key = "bookings@by_room/".to_string();
        for value in [
            Value::Int(-3),
            Value::Text("it's".into()),
            Value::Bool(true),
            Value::Null,
            Value::Int(600),
        ] {
            encode_key(&mut key, &value);
        }
        assert_eq!(
            readable_key(&key),
            "bookings@by_room (-3, 'it''s', true, NULL, 600)"
        );
        let mut key = "rooms/".to_string();
        encode_key(&mut key, &Value::Uuid(7));
        assert!(readable_key(&key).starts_with("rooms (u0000"), "{key}");
        assert_eq!(readable_key("units-7"), "units-7");
    }

    #[test]
    fn dates_and_timestamps_round_trip_through_text() {
        assert_eq!(parse_date("2000-01-01"), Some(0));
        assert_eq!(
            parse_date("2024-02-29").map(format_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_date("2023-02-29"), None);
        let t = parse_timestamp("2024-03-01 10:30:00+02").unwrap();
        assert_eq!(format_timestamp(t), "2024-03-01 08:30:00+00");
        assert_eq!(parse_timestamp("1999-12-31 23:59:59.5Z"), Some(-500_000));
    }

    #[test]
    fn ranges_parse_canonically_and_overlap_half_open() {
        let r = parse_text("[1,5]", SqlType::IntRange).unwrap();
        assert_eq!(r, Value::IntRange(Span::new(Some(1), Some(6))));
        assert_eq!(
            parse_text("(3,3)", SqlType::IntRange).unwrap(),
            Value::IntRange(Span::EMPTY)
        );
        let a = Span::new(Some(1), Some(5));
        assert!(a.overlaps(&Span::new(Some(4), None)));
        assert!(!a.overlaps(&Span::new(Some(5), Some(9))));
        assert!(a.contains_point(4) && !a.contains_point(5));
        assert_eq!(
            parse_text("[5,1)", SqlType::IntRange).unwrap_err().code,
            SqlState::DataException
        );
    }

    #[test]
    fn key_encoding_preserves_order() {
        let enc = |v: &Value| {
            let mut s = String::new();
            encode_key(&mut s, v);
            s
        };
        let ints = [-5i64, -1, 0, 3, 1 << 40];
        for w in ints.windows(2) {
            assert!(enc(&Value::Int(w[0])) < enc(&Value::Int(w[1])));
        }
        let texts = ["", "a", "a\u{0}", "a\u{1}", "ab", "b"];
        for w in texts.windows(2) {
            assert!(enc(&w[0].into()) < enc(&w[1].into()), "{w:?}");
        }
        assert!(enc(&Value::Int(i64::MAX)) < enc(&Value::Null));
        // Composite keys: ("a", 9) < ("ab", 1).
        let pair = |t: &str, i: i64| enc(&t.into()) + &enc(&Value::Int(i));
        assert!(pair("a", 9) < pair("ab", 1));
    }
}
