//! Type OIDs and the text and binary formats of values on the wire.
//!
//! The binary formats are PostgreSQL's (`typsend`), as
//! `postgres-protocol`'s `types` module writes and reads them: integers
//! big-endian, `numeric` as base-10000 digits with weight, sign and
//! display scale, `uuid` as 16 bytes, `timestamptz` / `timestamp` as
//! microseconds since 2000-01-01 (the engine's own representation),
//! `date` as days since then, `interval` as microseconds, days, months,
//! `jsonb` as version 1 and the text, ranges with their flags byte, and
//! one-dimensional arrays with their header.

use crate::sql::{SqlType, Value};
use crate::store::{DbError, SqlState};
use bytes::{BufMut, BytesMut};

/// PostgreSQL's OID of `ty`; `None` (a type the engine cannot tell) and
/// enum types are `text` (see [`super`]'s limits).
pub fn type_oid(ty: Option<SqlType>) -> u32 {
    let Some(ty) = ty else { return 25 };
    match ty {
        SqlType::Bool => 16,
        SqlType::BigInt => 20,
        SqlType::SmallInt => 21,
        SqlType::Integer => 23,
        SqlType::Text | SqlType::Enum(_) => 25,
        SqlType::Json => 3802,
        SqlType::Char(_) => 1042,
        SqlType::Varchar(_) => 1043,
        SqlType::Date => 1082,
        SqlType::LocalTimestamp => 1114,
        SqlType::Timestamp => 1184,
        SqlType::Interval => 1186,
        SqlType::Numeric | SqlType::Decimal(..) => 1700,
        SqlType::Uuid => 2950,
        SqlType::IntRange => 3904,
        SqlType::TsRange => 3910,
        SqlType::Array(elem) => match type_oid(Some(*elem)) {
            16 => 1000,
            20 => 1016,
            21 => 1005,
            23 => 1007,
            1042 => 1014,
            1043 => 1015,
            1082 => 1182,
            1114 => 1115,
            1184 => 1185,
            1186 => 1187,
            1700 => 1231,
            2950 => 2951,
            3802 => 3807,
            3904 => 3905,
            3910 => 3911,
            _ => 1009,
        },
    }
}

/// The type a client names by `oid` in Parse (0: none named).
pub fn oid_type(oid: u32) -> Option<SqlType> {
    Some(match oid {
        16 => SqlType::Bool,
        20 => SqlType::BigInt,
        21 => SqlType::SmallInt,
        23 => SqlType::Integer,
        25 | 19 | 705 => SqlType::Text,
        114 | 3802 => SqlType::Json,
        1042 => SqlType::Char(0),
        1043 => SqlType::Varchar(0),
        1082 => SqlType::Date,
        1114 => SqlType::LocalTimestamp,
        1184 => SqlType::Timestamp,
        1186 => SqlType::Interval,
        1700 => SqlType::Numeric,
        2950 => SqlType::Uuid,
        3904 => SqlType::IntRange,
        3910 => SqlType::TsRange,
        _ => return None,
    })
}

/// `typlen` of a type OID (-1: variable length).
pub fn type_len(oid: u32) -> i16 {
    match oid {
        16 => 1,
        21 => 2,
        23 | 1082 => 4,
        20 | 1114 | 1184 => 8,
        1186 | 2950 => 16,
        _ => -1,
    }
}

fn cannot(value: &Value, oid: u32) -> DbError {
    DbError::new(
        SqlState::Other("XX000"),
        format!(
            "the simulated server cannot send a {} value in the binary format of type oid {oid}",
            value.type_name()
        ),
    )
}

/// Appends one field of a DataRow: its length and its bytes (length -1
/// for NULL), in the text or binary format of `ty`.
pub fn put_field(
    out: &mut BytesMut,
    value: &Value,
    ty: Option<SqlType>,
    binary: bool,
) -> Result<(), DbError> {
    if value.is_null() {
        out.put_i32(-1);
        return Ok(());
    }
    let at = out.len();
    out.put_i32(0);
    if binary {
        put_binary(out, value, ty)?;
    } else {
        out.put_slice(value.to_pg_text().unwrap_or_default().as_bytes());
    }
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// `value` in the binary format of `ty` (not NULL).
fn put_binary(out: &mut BytesMut, value: &Value, ty: Option<SqlType>) -> Result<(), DbError> {
    let oid = type_oid(ty);
    // A value of another variant than the described type (an expression
    // the engine typed one way and computed another): cast it first.
    let fits = matches!(
        (value, oid),
        (Value::Bool(_), 16)
            | (Value::Int(_), 20 | 21 | 23)
            | (Value::Numeric(_) | Value::Int(_), 1700)
            | (Value::Uuid(_), 2950)
            | (Value::Timestamp(_), 1184)
            | (Value::LocalTimestamp(_), 1114)
            | (Value::Date(_), 1082)
            | (Value::Interval(_), 1186)
            | (Value::Json(_), 3802)
            | (Value::IntRange(_), 3904)
            | (Value::TsRange(_), 3910)
            | (Value::Array(_), _)
            | (_, 25 | 1042 | 1043)
    );
    if matches!(oid, 25 | 1042 | 1043) {
        // A text-described column: the value's text form, whatever it is.
        out.put_slice(value.to_pg_text().unwrap_or_default().as_bytes());
        return Ok(());
    }
    let cast;
    let value = match (fits, ty) {
        (false, Some(t)) => {
            cast = crate::sql::describe::cast(value, t).map_err(|_| cannot(value, oid))?;
            &cast
        }
        _ => value,
    };
    match (value, oid) {
        (Value::Bool(b), 16) => out.put_u8(*b as u8),
        (Value::Int(v), 21) => out.put_i16(i16::try_from(*v).map_err(|_| cannot(value, oid))?),
        (Value::Int(v), 23) => out.put_i32(i32::try_from(*v).map_err(|_| cannot(value, oid))?),
        (Value::Int(v), 20) => out.put_i64(*v),
        (Value::Int(_) | Value::Numeric(_), 1700) => {
            put_numeric(out, &value.to_pg_text().unwrap_or_default())
        }
        (Value::Uuid(u), 2950) => out.put_u128(*u),
        (Value::Timestamp(t), 1184) | (Value::LocalTimestamp(t), 1114) => out.put_i64(*t),
        (Value::Date(d), 1082) => out.put_i32(*d),
        (Value::Interval(i), 1186) => {
            out.put_i64(i.micros);
            out.put_i32(i.days);
            out.put_i32(i.months);
        }
        (Value::Json(j), 3802) => {
            out.put_u8(1);
            out.put_slice(j.as_bytes());
        }
        (Value::IntRange(s), 3904) => put_range(out, s, 4),
        (Value::TsRange(s), 3910) => put_range(out, s, 8),
        (Value::Array(items), _) => {
            let elem = match ty {
                Some(SqlType::Array(t)) => Some(*t),
                _ => None,
            };
            let elem_oid = type_oid(elem);
            out.put_i32(1);
            out.put_i32(items.iter().any(Value::is_null) as i32);
            out.put_u32(elem_oid);
            out.put_i32(items.len() as i32);
            out.put_i32(1);
            for item in items {
                put_field(out, item, elem, true)?;
            }
        }
        (v, _) => return Err(cannot(v, oid)),
    }
    Ok(())
}

/// A range of `[lower, upper)` bounds (or empty) in the binary format.
fn put_range(out: &mut BytesMut, span: &crate::sql::Span, width: usize) {
    if span.is_empty() {
        out.put_u8(0x01);
        return;
    }
    let mut flags = 0u8;
    flags |= if span.lower.is_some() { 0x02 } else { 0x08 };
    if span.upper.is_none() {
        flags |= 0x10;
    }
    out.put_u8(flags);
    for bound in [span.lower, span.upper].into_iter().flatten() {
        if width == 4 {
            out.put_i32(4);
            out.put_i32(bound as i32);
        } else {
            out.put_i32(8);
            out.put_i64(bound);
        }
    }
}

/// A numeric's text (`-12.340`) in the binary format: base-10000 digits,
/// the weight of the first, the sign and the display scale.
pub fn put_numeric(out: &mut BytesMut, text: &str) {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int = int.trim_start_matches('0');
    let group = |s: &str| -> i16 { s.parse().unwrap_or(0) };
    let mut digits: Vec<i16> = Vec::new();
    let pad = (4 - int.len() % 4) % 4;
    let int_padded = format!("{}{int}", "0".repeat(pad));
    for chunk in int_padded.as_bytes().chunks(4) {
        digits.push(group(std::str::from_utf8(chunk).unwrap_or("0")));
    }
    let mut weight = digits.len() as i16 - 1;
    let frac_padded = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    for chunk in frac_padded.as_bytes().chunks(4) {
        digits.push(group(std::str::from_utf8(chunk).unwrap_or("0")));
    }
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    out.put_i16(digits.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !digits.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_u16(frac.len() as u16);
    for d in digits {
        out.put_i16(d);
    }
}

/// A parameter's value from its bytes: the text format as text (the
/// engine reads a text parameter as the type it meets, as PostgreSQL
/// does with the type it inferred), the binary format decoded by the
/// parameter's type OID. `n` is its position, for the error.
pub fn param_value(
    bytes: Option<&[u8]>,
    oid: u32,
    binary: bool,
    n: usize,
) -> Result<Value, DbError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    if !binary {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            DbError::new(
                SqlState::Other("22021"),
                format!(
                    "invalid byte sequence for encoding \"UTF8\" in parameter ${}",
                    n + 1
                ),
            )
        })?;
        return Ok(Value::Text(text.into()));
    }
    use tokio_postgres::types::{FromSql, Type};
    let ty = Type::from_oid(oid).unwrap_or(Type::TEXT);
    crate::postgres::PgValue::from_sql(&ty, bytes)
        .map(|v| v.0)
        .map_err(|e| {
            DbError::new(
                SqlState::Other("22P03"),
                format!(
                    "incorrect binary data format in bind parameter {}: {e}",
                    n + 1
                ),
            )
        })
}
