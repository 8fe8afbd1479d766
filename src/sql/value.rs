//! SQL values and types: what statements take as parameters and return,
//! how they compare, how they are written into store rows and keys.

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
    /// `integer`, `bigint`, `smallint` or an integral `numeric`.
    Int(i64),
    /// `text` (also a parameter of any type, in its text form).
    Text(Arc<str>),
    /// `date`: days since 2000-01-01.
    Date(i32),
    /// `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    Timestamp(i64),
    /// `int4range` (`[lower, upper)`).
    IntRange(Span),
    /// `tstzrange` (`[lower, upper)` in microseconds since 2000-01-01 UTC).
    TsRange(Span),
    /// `jsonb`, in a canonical text form (object keys sorted).
    Json(Arc<str>),
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
            Value::IntRange(_) => "int4range",
            Value::TsRange(_) => "tstzrange",
            Value::Json(_) => "jsonb",
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
            Value::IntRange(s) => format_span(s, |v| v.to_string()),
            Value::TsRange(s) => format_span(s, |v| format!("\"{}\"", format_timestamp(v))),
        })
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
    /// `numeric` (integral values only in the simulation).
    Numeric,
    /// `text` / `varchar`.
    Text,
    /// `boolean`.
    Bool,
    /// `date`.
    Date,
    /// `timestamptz`.
    Timestamp,
    /// `int4range`.
    IntRange,
    /// `tstzrange`.
    TsRange,
    /// `jsonb`.
    Json,
}

impl SqlType {
    /// The type's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            SqlType::SmallInt => "smallint",
            SqlType::Integer => "integer",
            SqlType::BigInt => "bigint",
            SqlType::Numeric => "numeric",
            SqlType::Text => "text",
            SqlType::Bool => "boolean",
            SqlType::Date => "date",
            SqlType::Timestamp => "timestamp with time zone",
            SqlType::IntRange => "int4range",
            SqlType::TsRange => "tstzrange",
            SqlType::Json => "jsonb",
        }
    }

    /// The type of a SQL type name (`int`, `int4`, `text`...).
    pub fn parse(name: &str) -> Option<SqlType> {
        let lower = name.trim().to_ascii_lowercase();
        let base = lower.split('(').next().unwrap_or("").trim();
        Some(match base {
            "smallint" | "int2" => SqlType::SmallInt,
            "int" | "integer" | "int4" | "serial" => SqlType::Integer,
            "bigint" | "int8" | "bigserial" => SqlType::BigInt,
            "numeric" | "decimal" => SqlType::Numeric,
            "text" | "varchar" | "character varying" | "string" => SqlType::Text,
            "boolean" | "bool" => SqlType::Bool,
            "date" => SqlType::Date,
            "timestamptz" | "timestamp with time zone" => SqlType::Timestamp,
            "int4range" => SqlType::IntRange,
            "tstzrange" => SqlType::TsRange,
            "jsonb" => SqlType::Json,
            _ => return None,
        })
    }

    fn is_integer(self) -> bool {
        matches!(
            self,
            SqlType::SmallInt | SqlType::Integer | SqlType::BigInt | SqlType::Numeric
        )
    }
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
/// integers are range-checked.
pub fn coerce(value: &Value, ty: SqlType) -> Result<Value, DbError> {
    let out = match (value, ty) {
        (Value::Null, _) => Value::Null,
        (Value::Int(v), t) if t.is_integer() => Value::Int(check_int(*v, t)?),
        (Value::Text(text), t) => parse_text(text, t)?,
        (Value::Bool(_), SqlType::Bool)
        | (Value::Date(_), SqlType::Date)
        | (Value::Timestamp(_), SqlType::Timestamp)
        | (Value::IntRange(_), SqlType::IntRange)
        | (Value::TsRange(_), SqlType::TsRange)
        | (Value::Json(_), SqlType::Json) => value.clone(),
        (Value::Date(d), SqlType::Timestamp) => Value::Timestamp(*d as i64 * DAY_US),
        (v, SqlType::Text) => Value::Text(v.to_pg_text().unwrap_or_default().into()),
        (v, t) => {
            return Err(err(
                SqlState::DatatypeMismatch,
                format!(
                    "column is of type {} but expression is of type {}",
                    t.name(),
                    v.type_name()
                ),
            ))
        }
    };
    Ok(out)
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
        SqlType::Numeric => {
            let integral = t.strip_suffix(".0").unwrap_or(t);
            match integral.parse::<i64>() {
                Ok(v) => Value::Int(v),
                Err(_) if t.contains('.') || t.contains('e') => {
                    return Err(err(
                        SqlState::FeatureNotSupported,
                        format!("numeric value \"{text}\" with a fraction is not supported by the simulated engine (integral numerics only)"),
                    ))
                }
                Err(_) => return Err(invalid(ty, text)),
            }
        }
        SqlType::Text => Value::Text(text.into()),
        SqlType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Value::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Value::Bool(false),
            _ => return Err(invalid(ty, text)),
        },
        SqlType::Date => Value::Date(parse_date(t).ok_or_else(|| invalid(ty, text))?),
        SqlType::Timestamp => {
            Value::Timestamp(parse_timestamp(t).ok_or_else(|| invalid(ty, text))?)
        }
        SqlType::IntRange => Value::IntRange(parse_range(t, ty, |b| {
            b.parse::<i32>().ok().map(i64::from)
        })?),
        SqlType::TsRange => Value::TsRange(parse_range(t, ty, parse_timestamp)?),
        SqlType::Json => Value::Json(canonical_json(t)?.into()),
    })
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

fn format_timestamp(us: i64) -> String {
    let days = us.div_euclid(DAY_US);
    let rest = us.rem_euclid(DAY_US);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let date = format_date(days as i32);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if micros == 0 {
        format!("{date} {time}+00")
    } else {
        format!("{date} {time}.{micros:06}+00")
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
        (Value::IntRange(x), Value::IntRange(y)) | (Value::TsRange(x), Value::TsRange(y)) => {
            x.order_key().cmp(&y.order_key())
        }
        (Value::Json(x), Value::Json(y)) => x.cmp(y),
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
        Value::IntRange(_) => SqlType::IntRange,
        Value::TsRange(_) => SqlType::TsRange,
        Value::Json(_) => SqlType::Json,
        Value::Text(_) | Value::Null => return Ok(Value::Text(text.into())),
    };
    parse_text(text, ty)
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

/// The store datum for `value` in a column of type `ty`.
pub(crate) fn to_datum(value: &Value) -> Datum {
    match value {
        Value::Null => Datum::Null,
        Value::Bool(v) => Datum::Bool(*v),
        Value::Int(v) => Datum::Int(*v),
        Value::Timestamp(v) => Datum::Int(*v),
        Value::Date(v) => Datum::Int(*v as i64),
        Value::Text(v) | Value::Json(v) => Datum::Text(v.clone()),
        Value::IntRange(s) | Value::TsRange(s) => s.to_datum(),
    }
}

/// The value of a store datum in a column of type `ty`.
pub(crate) fn from_datum(datum: &Datum, ty: SqlType) -> Value {
    match (datum, ty) {
        (Datum::Null, _) => Value::Null,
        (Datum::Bool(v), _) => Value::Bool(*v),
        (Datum::Int(v), SqlType::Timestamp) => Value::Timestamp(*v),
        (Datum::Int(v), SqlType::Date) => Value::Date(*v as i32),
        (Datum::Int(v), _) => Value::Int(*v),
        (Datum::Text(v), SqlType::Json) => Value::Json(v.clone()),
        (Datum::Text(v), _) => Value::Text(v.clone()),
        (Datum::Range(l, u), SqlType::TsRange) => Value::TsRange(Span::from_bounds(*l, *u)),
        (Datum::Range(l, u), _) => Value::IntRange(Span::from_bounds(*l, *u)),
    }
}

/// Appends an order-preserving, self-delimiting encoding of `value` to a
/// key: keys of one index sort as their values do (NULLs last), so
/// equality and range conditions become key ranges.
pub(crate) fn encode_key(out: &mut String, value: &Value) {
    use std::fmt::Write;
    let int = |out: &mut String, tag: char, v: i64| {
        out.push(tag);
        let _ = write!(out, "{:016x}", (v as u64) ^ (1 << 63));
    };
    match value {
        Value::Null => out.push('~'),
        Value::Bool(v) => out.push_str(if *v { "b1" } else { "b0" }),
        Value::Int(v) => int(out, 'i', *v),
        Value::Date(v) => int(out, 'i', *v as i64),
        Value::Timestamp(v) => int(out, 'i', *v),
        Value::Text(v) | Value::Json(v) => {
            out.push('t');
            for c in v.chars() {
                match c {
                    '\u{0}' => out.push_str("\u{1}\u{1}"),
                    '\u{1}' => out.push_str("\u{1}\u{2}"),
                    c => out.push(c),
                }
            }
            out.push('\u{0}');
        }
        Value::IntRange(s) | Value::TsRange(s) => {
            let (_, l, u) = s.order_key();
            int(out, if s.is_empty() { 'e' } else { 'r' }, l);
            int(out, 'r', u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
