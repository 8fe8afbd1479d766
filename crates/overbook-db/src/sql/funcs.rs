//! Built-in functions and operators beyond the core ones of `expr`: time
//! on the simulated clock, uuids from the run's seed, numeric and interval
//! arithmetic, text functions, arrays, jsonb, and catalog lookups; each
//! with PostgreSQL 15's results and SQLSTATEs.
//!
//! Time: `now()`, `current_timestamp` and `transaction_timestamp()` are
//! the store's clock (its [`Pacer`](crate::store::Pacer) time, which the
//! world and the model checker move) when the transaction first reads the
//! time, the same for the rest of the transaction; `statement_timestamp()`
//! is fixed the same way per statement and `clock_timestamp()` reads the
//! clock at each call. Simulated time 0 is 2025-01-01 00:00:00 UTC
//! ([`SIM_EPOCH_US`]), the only time zone is UTC. The time is read lazily
//! (PostgreSQL fixes it at the transaction's start) because the model
//! checker notes each read of its clock; a transaction that runs
//! statements before its first time function and then waits sees the
//! later time.

use super::decimal::Decimal;
use super::time::{self, Interval, SIM_EPOCH_US, US_PER_DAY, US_PER_SEC};
use super::value::{array_of, compare, err, parse_text, type_of_value, SqlType, Value};
use super::DbShared;
use crate::store::{DbError, SqlState, Store};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What evaluation reads besides the row and parameters: the clock, the
/// database's uuid stream and catalog.
#[derive(Default)]
pub(crate) struct Ctx {
    store: Option<Store>,
    db: Option<Arc<DbShared>>,
    /// The transaction's time, ms on the store's clock, once read.
    tx_ms: Mutex<Option<u64>>,
    statement_ms: Mutex<Option<u64>>,
    /// The session running the statement: whose `currval` a `nextval`
    /// sets (see `sequences`).
    pub(crate) session: Option<crate::store::SessionId>,
    /// The statement's reads, for subqueries (see `subquery`).
    pub(crate) reader: Option<crate::store::SqlReader>,
    /// Results of uncorrelated subqueries, by plan address: evaluated
    /// once per statement, as PostgreSQL's InitPlans are.
    pub(crate) subquery_results: Mutex<BTreeMap<usize, Arc<Vec<Vec<Value>>>>>,
    /// The rows of the statement's WITH queries that have run, in order.
    pub(crate) cte_rows: Mutex<Vec<Arc<Vec<Vec<Value>>>>>,
    /// How deep in statements nested by functions and triggers this one
    /// is (0: a client's).
    pub(crate) depth: u32,
}

impl Ctx {
    /// The context of a statement of a transaction whose time, if it read
    /// it already, is `tx_ms`.
    pub(crate) fn new(store: &Store, db: &Arc<DbShared>, tx_ms: Option<u64>) -> Ctx {
        Ctx {
            store: Some(store.clone()),
            db: Some(db.clone()),
            tx_ms: Mutex::new(tx_ms),
            statement_ms: Mutex::new(None),
            ..Ctx::default()
        }
    }

    /// The context of a statement run inside this one (a trigger's or a
    /// function's): the same clocks as far as read, the session, and
    /// `reader` for its subqueries; its own subquery results.
    pub(crate) fn nested(&self, reader: Option<crate::store::SqlReader>) -> Ctx {
        Ctx {
            store: self.store.clone(),
            db: self.db.clone(),
            tx_ms: Mutex::new(self.tx_ms()),
            statement_ms: Mutex::new(*lock(&self.statement_ms)),
            session: self.session,
            reader,
            depth: self.depth + 1,
            ..Ctx::default()
        }
    }

    /// The database's shared state (catalog, plan cache), when known.
    pub(crate) fn shared(&self) -> Option<&Arc<DbShared>> {
        self.db.as_ref()
    }

    /// The transaction's time, if the statement read it (to keep for the
    /// transaction's later statements).
    pub(crate) fn tx_ms(&self) -> Option<u64> {
        *lock(&self.tx_ms)
    }

    fn clock_ms(&self) -> u64 {
        self.store.as_ref().map_or(0, |s| s.now_ms())
    }

    fn fixed(&self, slot: &Mutex<Option<u64>>) -> u64 {
        let mut slot = lock(slot);
        match *slot {
            Some(ms) => ms,
            None => {
                let ms = self.clock_ms();
                *slot = Some(ms);
                ms
            }
        }
    }

    fn timestamp(&self, clock: Clock) -> i64 {
        let ms = match clock {
            Clock::Transaction => {
                let ms = self.fixed(&self.tx_ms);
                // A statement reading the transaction's time starts no
                // earlier than it.
                ms
            }
            Clock::Statement => {
                let tx = self.fixed(&self.tx_ms);
                self.fixed(&self.statement_ms).max(tx)
            }
            Clock::Wall => self.clock_ms(),
        };
        SIM_EPOCH_US + ms as i64 * 1000
    }

    fn uuid(&self) -> u128 {
        let Some(db) = &self.db else {
            return 0;
        };
        let mut rng = lock(&db.uuids);
        let rng = rng.get_or_insert_with(|| {
            let seed = self
                .store
                .as_ref()
                .map_or(crate::seed::Seed(0), |s| s.seed());
            seed.stream("sql/uuid")
        });
        let bits = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
        // Version 4, variant 10 (RFC 4122), as gen_random_uuid() makes.
        (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which clock a time function reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    Transaction,
    Statement,
    Wall,
}

/// A built-in function of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    Now(Clock),
    CurrentDate,
    GenRandomUuid,
    /// `make_interval(years, months, weeks, days, hours, mins, secs)`.
    MakeInterval,
    DateTrunc,
    /// `extract(field from x)` (numeric) and `date_part` (double
    /// precision, printed as PostgreSQL prints its value).
    Extract,
    DatePart,
    ToTimestamp,
    Concat,
    /// `format(fmt, args...)`: `%s`, `%I`, `%L`, `%%`.
    Format,
    Length,
    Substr,
    Replace,
    Position,
    Trim,
    Ltrim,
    Rtrim,
    Left,
    Right,
    Repeat,
    Power,
    Round,
    Trunc,
    Ceil,
    Floor,
    Mod,
    Sign,
    ToRegclass,
    Cardinality,
    ArrayLength,
    JsonbBuildObject,
    ToJsonb,
    JsonbSet,
    JsonbTypeof,
    /// `LIKE`/`ILIKE`: (case-insensitive).
    Like(bool),
    /// `nextval(regclass)` and the other sequence functions (see
    /// `sequences`).
    Nextval,
    Currval,
    Lastval,
    Setval,
    PgGetSerialSequence,
}

/// The built-in called `name` with `n` arguments, if this module has it.
pub(crate) fn lookup(name: &str, n: usize) -> Option<Builtin> {
    use Builtin as B;
    let b = match name {
        "now" | "transaction_timestamp" | "current_timestamp" | "localtimestamp" => {
            B::Now(Clock::Transaction)
        }
        "statement_timestamp" => B::Now(Clock::Statement),
        "clock_timestamp" => B::Now(Clock::Wall),
        "current_date" => B::CurrentDate,
        "gen_random_uuid" | "uuid_generate_v4" => B::GenRandomUuid,
        "make_interval" => B::MakeInterval,
        "date_trunc" => B::DateTrunc,
        "date_part" => B::DatePart,
        "to_timestamp" => B::ToTimestamp,
        "concat" => B::Concat,
        "format" => B::Format,
        "length" | "char_length" | "character_length" => B::Length,
        "substr" | "substring" => B::Substr,
        "replace" => B::Replace,
        "strpos" => B::Position,
        "btrim" => B::Trim,
        "ltrim" => B::Ltrim,
        "rtrim" => B::Rtrim,
        "left" => B::Left,
        "right" => B::Right,
        "repeat" => B::Repeat,
        "power" | "pow" => B::Power,
        "round" => B::Round,
        "trunc" => B::Trunc,
        "ceil" | "ceiling" => B::Ceil,
        "floor" => B::Floor,
        "mod" => B::Mod,
        "sign" => B::Sign,
        "to_regclass" => B::ToRegclass,
        "cardinality" => B::Cardinality,
        "array_length" => B::ArrayLength,
        "jsonb_build_object" => B::JsonbBuildObject,
        "to_jsonb" => B::ToJsonb,
        "jsonb_set" => B::JsonbSet,
        "jsonb_typeof" => B::JsonbTypeof,
        "nextval" => B::Nextval,
        "currval" => B::Currval,
        "lastval" => B::Lastval,
        "setval" => B::Setval,
        "pg_get_serial_sequence" => B::PgGetSerialSequence,
        _ => return None,
    };
    let ok = match b {
        B::Now(_) | B::CurrentDate | B::GenRandomUuid => n == 0,
        B::MakeInterval => n <= 7,
        B::DateTrunc | B::DatePart | B::Extract | B::Position | B::Left | B::Right | B::Repeat => {
            n == 2
        }
        B::Power | B::Mod | B::ArrayLength | B::Like(_) => n == 2,
        B::ToTimestamp | B::Length | B::Ceil | B::Floor | B::Sign | B::ToRegclass => n == 1,
        B::Cardinality | B::ToJsonb | B::JsonbTypeof => n == 1,
        B::Concat => true,
        B::Format => n >= 1,
        B::Substr => n == 2 || n == 3,
        B::Replace => n == 3,
        B::Trim | B::Ltrim | B::Rtrim | B::Round | B::Trunc => n == 1 || n == 2,
        B::JsonbBuildObject => n.is_multiple_of(2),
        B::JsonbSet => n == 3 || n == 4,
        B::Nextval | B::Currval => n == 1,
        B::Lastval => n == 0,
        B::Setval => n == 2 || n == 3,
        B::PgGetSerialSequence => n == 2,
    };
    ok.then_some(b)
}

fn no_function(name: &str, args: &[Value]) -> DbError {
    let types: Vec<&str> = args.iter().map(Value::type_name).collect();
    err(
        SqlState::UndefinedFunction,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Char(c) => c.trim_end_matches(' ').to_string(),
        Value::Json(_) => json_text(v),
        other => other.to_pg_text().unwrap_or_default(),
    }
}

/// A number argument as a decimal (integers, numerics, numeric text).
fn dec_of(v: &Value) -> Result<Decimal, DbError> {
    match v {
        Value::Int(i) => Ok(Decimal::from_int(*i)),
        Value::Numeric(d) => Ok(*d),
        Value::Text(t) => Decimal::parse(t).ok_or_else(|| {
            err(
                SqlState::InvalidTextRepresentation,
                format!("invalid input syntax for type numeric: \"{t}\""),
            )
        }),
        other => Err(err(
            SqlState::UndefinedFunction,
            format!("operator does not exist for type {}", other.type_name()),
        )),
    }
}

fn int_arg(v: &Value) -> Result<i64, DbError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Numeric(d) => d.round_i64(),
        Value::Text(t) => t.trim().parse().map_err(|_| {
            err(
                SqlState::InvalidTextRepresentation,
                format!("invalid input syntax for type integer: \"{t}\""),
            )
        }),
        other => Err(err(
            SqlState::DatatypeMismatch,
            format!(
                "argument must be an integer, not type {}",
                other.type_name()
            ),
        )),
    }
}

fn timestamp_arg(v: &Value) -> Result<i64, DbError> {
    match v {
        Value::Timestamp(t) | Value::LocalTimestamp(t) => Ok(*t),
        Value::Date(d) => Ok(*d as i64 * US_PER_DAY),
        Value::Text(t) => match parse_text(t, SqlType::Timestamp)? {
            Value::Timestamp(t) => Ok(t),
            _ => unreachable!("timestamps parse to timestamps"),
        },
        other => Err(err(
            SqlState::UndefinedFunction,
            format!("function does not exist for type {}", other.type_name()),
        )),
    }
}

fn interval_arg(v: &Value) -> Result<Interval, DbError> {
    match v {
        Value::Interval(i) => Ok(*i),
        Value::Text(t) => Interval::parse(t),
        other => Err(err(
            SqlState::UndefinedFunction,
            format!(
                "operator does not exist: {} and interval",
                other.type_name()
            ),
        )),
    }
}

/// A float result as PostgreSQL's float8 output prints it (shortest
/// round-trip digits), kept as numeric so it compares exactly.
fn float_value(f: f64) -> Result<Value, DbError> {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return Ok(Value::Numeric(Decimal::from_int(f as i64)));
    }
    Decimal::parse(&format!("{f}"))
        .map(Value::Numeric)
        .ok_or_else(|| {
            err(
                SqlState::NumericValueOutOfRange,
                "value out of range: overflow",
            )
        })
}

/// Evaluates a built-in on its (already evaluated) arguments: NULL
/// handling here, then the function's family (time, text, numbers, JSON,
/// arrays, the catalog and sequences) evaluates it.
pub(crate) fn call(b: Builtin, args: &[Value], ctx: &Ctx) -> Result<Value, DbError> {
    use Builtin as B;
    // Strict functions: NULL in, NULL out.
    let strict = !matches!(
        b,
        B::Concat | B::JsonbBuildObject | B::MakeInterval | B::ToJsonb | B::Format
    );
    if b == B::Format && args[0].is_null() {
        return Ok(Value::Null);
    }
    if strict && args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    match b {
        B::Now(_)
        | B::CurrentDate
        | B::MakeInterval
        | B::DateTrunc
        | B::Extract
        | B::DatePart
        | B::ToTimestamp => call_time(b, args, ctx),
        B::Format
        | B::Concat
        | B::Length
        | B::Substr
        | B::Replace
        | B::Position
        | B::Trim
        | B::Ltrim
        | B::Rtrim
        | B::Left
        | B::Right
        | B::Repeat
        | B::Like(_) => call_text(b, args),
        B::Power | B::Round | B::Trunc | B::Ceil | B::Floor | B::Sign | B::Mod => {
            call_numeric(b, args)
        }
        B::JsonbBuildObject | B::ToJsonb | B::JsonbTypeof | B::JsonbSet => call_json(b, args),
        B::Cardinality | B::ArrayLength => call_array(b, args),
        B::GenRandomUuid
        | B::ToRegclass
        | B::Nextval
        | B::Currval
        | B::Lastval
        | B::Setval
        | B::PgGetSerialSequence => call_session(b, args, ctx),
    }
}

/// The clock and calendar functions.
fn call_time(b: Builtin, args: &[Value], ctx: &Ctx) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::Now(clock) => Value::Timestamp(ctx.timestamp(clock)),
        B::CurrentDate => {
            Value::Date(ctx.timestamp(Clock::Transaction).div_euclid(US_PER_DAY) as i32)
        }
        B::MakeInterval => make_interval(args)?,
        B::DateTrunc => {
            let field = text_of(&args[0]);
            match &args[1] {
                Value::Interval(_) => {
                    return Err(super::expr::unsupported("date_trunc of an interval"))
                }
                Value::LocalTimestamp(t) => Value::LocalTimestamp(time::date_trunc(&field, *t)?),
                v => Value::Timestamp(time::date_trunc(&field, timestamp_arg(v)?)?),
            }
        }
        B::Extract | B::DatePart => extract(b, args)?,
        B::ToTimestamp => {
            let secs = match &args[0] {
                Value::Text(t) if Decimal::parse(t).is_none() => {
                    return Err(super::expr::unsupported(
                        "to_timestamp(text) without a format",
                    ))
                }
                v => dec_of(v)?,
            };
            let us = secs.mul(&Decimal::from_int(US_PER_SEC))?.round_i64()?;
            Value::Timestamp(us - time::PG_EPOCH_DAYS * US_PER_DAY)
        }
        other => unreachable!("{other:?} is not a time function"),
    })
}

/// `make_interval(years, months, weeks, days, hours, mins, secs)`: a
/// missing or NULL field counts as zero (the function is not strict).
fn make_interval(args: &[Value]) -> Result<Value, DbError> {
    let field = |i: usize| -> Result<f64, DbError> {
        match args.get(i) {
            None | Some(Value::Null) => Ok(0.0),
            Some(v) => Ok(dec_of(v)?.to_f64()),
        }
    };
    let whole = |i: usize| -> Result<i64, DbError> {
        match args.get(i) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => int_arg(v),
        }
    };
    let months = whole(0)? * 12 + whole(1)?;
    let days = whole(2)? * 7 + whole(3)?;
    let micros = (whole(4)? * 3600 + whole(5)? * 60) * US_PER_SEC
        + (field(6)? * US_PER_SEC as f64).round() as i64;
    Ok(Value::Interval(Interval {
        months: i32::try_from(months).map_err(|_| interval_overflow())?,
        days: i32::try_from(days).map_err(|_| interval_overflow())?,
        micros,
    }))
}

/// `extract(field from x)` (numeric) and `date_part(field, x)` (double
/// precision, printed as PostgreSQL prints it).
fn extract(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    let field = text_of(&args[0]);
    let (units, scale) = match &args[1] {
        Value::Interval(i) => time::extract_interval(&field, i)?,
        v => time::extract_timestamp(&field, timestamp_arg(v)?)?,
    };
    let micro_fields = ["epoch", "second", "milliseconds"];
    let lower = field.to_ascii_lowercase();
    let d = if micro_fields.contains(&lower.as_str()) {
        // units are microseconds (or, for milliseconds, µs too).
        let d = Decimal::new(units, 6);
        if lower == "milliseconds" {
            d.mul(&Decimal::from_int(1000))?.rescale(3)?
        } else {
            d
        }
    } else {
        Decimal::new(units, scale)
    };
    if b == Builtin::DatePart {
        float_value(d.to_f64())
    } else {
        Ok(Value::Numeric(d))
    }
}

/// The string functions and `LIKE`.
fn call_text(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::Format => Value::Text(format(&text_of(&args[0]), &args[1..])?.into()),
        B::Concat => Value::Text(
            args.iter()
                .filter(|v| !v.is_null())
                .map(text_of)
                .collect::<String>()
                .into(),
        ),
        B::Length => match &args[0] {
            Value::Array(_) | Value::Json(_) => return Err(no_function("length", args)),
            v => Value::Int(text_of(v).chars().count() as i64),
        },
        B::Substr => substr(args)?,
        B::Replace => {
            let (s, from, to) = (text_of(&args[0]), text_of(&args[1]), text_of(&args[2]));
            if from.is_empty() {
                Value::Text(s.into())
            } else {
                Value::Text(s.replace(&from, &to).into())
            }
        }
        B::Position => {
            let (s, sub) = (text_of(&args[0]), text_of(&args[1]));
            Value::Int(
                s.find(&sub)
                    .map_or(0, |i| s[..i].chars().count() as i64 + 1),
            )
        }
        B::Trim | B::Ltrim | B::Rtrim => trim(b, args),
        B::Left | B::Right => {
            let s: Vec<char> = text_of(&args[0]).chars().collect();
            let n = int_arg(&args[1])?;
            let len = s.len() as i64;
            let k = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            let out: String = if b == B::Left {
                s[..k].iter().collect()
            } else {
                s[s.len() - k..].iter().collect()
            };
            Value::Text(out.into())
        }
        B::Repeat => Value::Text(
            text_of(&args[0])
                .repeat(int_arg(&args[1])?.max(0) as usize)
                .into(),
        ),
        B::Like(insensitive) => {
            let (s, p) = (text_of(&args[0]), text_of(&args[1]));
            Value::Bool(if insensitive {
                like(&s.to_lowercase(), &p.to_lowercase())?
            } else {
                like(&s, &p)?
            })
        }
        other => unreachable!("{other:?} is not a text function"),
    })
}

/// `substr(s, start [, length])`, counting characters from 1.
fn substr(args: &[Value]) -> Result<Value, DbError> {
    let s: Vec<char> = text_of(&args[0]).chars().collect();
    let start = int_arg(&args[1])?;
    let end = match args.get(2) {
        None => i64::MAX,
        Some(l) => {
            let len = int_arg(l)?;
            if len < 0 {
                return Err(err(
                    SqlState::Other("22011"),
                    "negative substring length not allowed",
                ));
            }
            start.saturating_add(len)
        }
    };
    let from = (start.max(1) - 1) as usize;
    let to = (end.saturating_sub(1)).clamp(0, s.len() as i64) as usize;
    Ok(Value::Text(
        s.get(from..to.max(from))
            .map_or(String::new(), |c| c.iter().collect())
            .into(),
    ))
}

/// `trim`, `ltrim` and `rtrim`, of spaces or of the characters given.
fn trim(b: Builtin, args: &[Value]) -> Value {
    let s = text_of(&args[0]);
    let set: Vec<char> = args
        .get(1)
        .map_or(vec![' '], |c| text_of(c).chars().collect());
    let f = |c: char| set.contains(&c);
    Value::Text(
        match b {
            Builtin::Trim => s.trim_matches(f),
            Builtin::Ltrim => s.trim_start_matches(f),
            _ => s.trim_end_matches(f),
        }
        .into(),
    )
}

/// The arithmetic functions, with PostgreSQL's result types (an integer
/// argument gives double precision, a numeric one numeric).
fn call_numeric(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::Power => power(args)?,
        B::Round | B::Trunc => round_or_trunc(b, args)?,
        B::Ceil | B::Floor => match &args[0] {
            Value::Int(i) => float_value(*i as f64)?,
            v => {
                let d = dec_of(v)?;
                Value::Numeric(if b == B::Ceil { d.ceil() } else { d.floor() })
            }
        },
        B::Sign => match &args[0] {
            Value::Int(i) => float_value(i.signum() as f64)?,
            v => Value::Numeric(Decimal::from_int(dec_of(v)?.signum() as i64)),
        },
        B::Mod => match (&args[0], &args[1]) {
            (Value::Int(x), Value::Int(y)) => {
                if *y == 0 {
                    return Err(err(SqlState::DivisionByZero, "division by zero"));
                }
                Value::Int(x.wrapping_rem(*y))
            }
            (x, y) => Value::Numeric(dec_of(x)?.rem(&dec_of(y)?)?),
        },
        other => unreachable!("{other:?} is not a numeric function"),
    })
}

/// `power(x, y)`: exact for a numeric base and a small whole exponent,
/// in floating point otherwise.
fn power(args: &[Value]) -> Result<Value, DbError> {
    let (x, y) = (dec_of(&args[0])?, dec_of(&args[1])?);
    if x.is_zero() && y.signum() < 0 {
        return Err(err(
            SqlState::Other("2201F"),
            "zero raised to a negative power is undefined",
        ));
    }
    let both_int = matches!(args[0], Value::Int(_)) && matches!(args[1], Value::Int(_));
    let numeric = args.iter().any(|a| matches!(a, Value::Numeric(_)));
    Ok(match (y.to_i64(), numeric) {
        // numeric ^ integer: exact, PostgreSQL's scale (the
        // base's scale times the exponent, at least 16 digits
        // for a negative one).
        (Some(e), true) if (0..=64).contains(&e) => {
            let mut acc = Decimal::from_int(1);
            for _ in 0..e {
                acc = acc.mul(&x)?;
            }
            // PostgreSQL keeps at least 16 digits after the point.
            Value::Numeric(acc.rescale(acc.scale().max(16))?)
        }
        _ if both_int || !numeric => float_value(x.to_f64().powf(y.to_f64()))?,
        _ => Value::Numeric(Decimal::from_f64(x.to_f64().powf(y.to_f64()))?.rescale(16)?),
    })
}

/// `round(x [, digits])` and `trunc(x [, digits])`.
fn round_or_trunc(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    let digits = match args.get(1) {
        None => 0,
        Some(d) => int_arg(d)?,
    };
    Ok(match &args[0] {
        Value::Int(i) if args.len() == 1 => float_value(*i as f64)?,
        v => {
            let d = dec_of(v)?;
            Value::Numeric(if b == Builtin::Round {
                d.round(digits as i32)?
            } else if digits >= 0 {
                d.trunc(digits as u32).rescale(digits as u32)?
            } else {
                // Toward zero at 10^-digits.
                let p = Decimal::from_int(10i64.pow(digits.unsigned_abs().min(18) as u32));
                let whole = d.trunc(0).to_i64().unwrap_or(0);
                let p_int = p.to_i64().unwrap_or(1);
                Decimal::from_int(whole / p_int * p_int)
            })
        }
    })
}

/// The `jsonb` functions.
fn call_json(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::JsonbBuildObject => {
            let mut map = serde_json::Map::new();
            for pair in args.chunks(2) {
                if pair[0].is_null() {
                    return Err(err(
                        SqlState::Other("22004"),
                        "argument 1: key must not be null",
                    ));
                }
                map.insert(text_of(&pair[0]), to_json(&pair[1])?);
            }
            json_value(serde_json::Value::Object(map))
        }
        B::ToJsonb => match &args[0] {
            Value::Null => Value::Null,
            v => json_value(to_json(v)?),
        },
        B::JsonbTypeof => {
            let j = json_of(&args[0])?;
            Value::Text(
                match j {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "boolean",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::Object(_) => "object",
                }
                .into(),
            )
        }
        B::JsonbSet => jsonb_set(args)?,
        other => unreachable!("{other:?} is not a jsonb function"),
    })
}

/// `jsonb_set(target, path, new [, create_missing])`; the path may come
/// as an array or as its text form.
fn jsonb_set(args: &[Value]) -> Result<Value, DbError> {
    let mut target = json_of(&args[0])?;
    let path: Vec<String> = match &args[1] {
        Value::Array(items) => items.iter().map(text_of).collect(),
        Value::Text(t) => match parse_text(t, array_of(SqlType::Text))? {
            Value::Array(items) => items.iter().map(text_of).collect(),
            _ => unreachable!("an array parses to an array"),
        },
        _ => return Err(no_function("jsonb_set", args)),
    };
    let new = json_of(&args[2])?;
    let create = match args.get(3) {
        None => true,
        Some(v) => v.as_bool().unwrap_or(true),
    };
    json_set(&mut target, &path, new, create);
    Ok(json_value(target))
}

/// `cardinality` and `array_length`.
fn call_array(b: Builtin, args: &[Value]) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::Cardinality => match &args[0] {
            Value::Array(items) => Value::Int(items.len() as i64),
            _ => return Err(no_function("cardinality", args)),
        },
        B::ArrayLength => match (&args[0], int_arg(&args[1])?) {
            (Value::Array(items), 1) if !items.is_empty() => Value::Int(items.len() as i64),
            (Value::Array(_), _) => Value::Null,
            _ => return Err(no_function("array_length", args)),
        },
        other => unreachable!("{other:?} is not an array function"),
    })
}

/// The functions that read the session or the database: random UUIDs,
/// `to_regclass` and the sequence functions.
fn call_session(b: Builtin, args: &[Value], ctx: &Ctx) -> Result<Value, DbError> {
    use Builtin as B;
    Ok(match b {
        B::GenRandomUuid => Value::Uuid(ctx.uuid()),
        B::Nextval | B::Currval | B::Lastval | B::Setval | B::PgGetSerialSequence => {
            let Some(db) = &ctx.db else {
                return Err(super::expr::unsupported(
                    "a sequence function outside a statement",
                ));
            };
            // The catalog first, as DDL locks them.
            let catalog = db.catalog();
            let mut sequences = lock(&db.sequences);
            super::sequences::call(b, args, &catalog, &mut sequences, ctx.session)?
        }
        B::ToRegclass => {
            let name = text_of(&args[0]);
            let lower = name.trim().to_ascii_lowercase();
            let bare = lower.strip_prefix("public.").unwrap_or(&lower).to_string();
            let exists = ctx
                .db
                .as_ref()
                .is_some_and(|db| db.catalog().tables.contains_key(&bare));
            if exists {
                Value::Text(bare.into())
            } else {
                Value::Null
            }
        }
        other => unreachable!("{other:?} is not a session function"),
    })
}

fn interval_overflow() -> DbError {
    err(SqlState::Other("22008"), "interval out of range")
}

/// SQL `LIKE` with `%`, `_` and the default escape `\`.
pub(crate) fn like(s: &str, pattern: &str) -> Result<bool, DbError> {
    let s: Vec<char> = s.chars().collect();
    let mut p: Vec<(char, bool)> = Vec::new(); // (char, literal)
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next().ok_or_else(|| {
                err(
                    SqlState::Other("22025"),
                    "LIKE pattern must not end with escape character",
                )
            })?;
            p.push((next, true));
        } else {
            p.push((c, false));
        }
    }
    // Iterative matching with backtracking to the last %.
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && !p[pi].1 && p[pi].0 == '%' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && ((!p[pi].1 && p[pi].0 == '_') || p[pi].0 == s[si]) {
            si += 1;
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return Ok(false);
        }
    }
    while pi < p.len() && !p[pi].1 && p[pi].0 == '%' {
        pi += 1;
    }
    Ok(pi == p.len())
}

/// Arithmetic on the types of this module (numeric, interval, timestamps
/// with intervals); `None` when the operands are the core integer and
/// date cases `expr` handles.
pub(crate) fn arith(op: char, x: &Value, y: &Value) -> Option<Result<Value, DbError>> {
    use Value as V;
    // `timestamp` (without time zone) computes as `timestamptz` at UTC, the
    // store's session zone; a timestamp result stays wall-clock time when
    // no operand had a zone (`date + interval` is `timestamp` too).
    let local = |v: &Value| matches!(v, V::LocalTimestamp(_));
    let zoned = |v: &Value| matches!(v, V::Timestamp(_));
    let date_interval = matches!(
        (x, y),
        (V::Date(_), V::Interval(_)) | (V::Interval(_), V::Date(_))
    );
    if local(x) || local(y) || date_interval {
        let as_zoned = |v: &Value| match v {
            V::LocalTimestamp(t) => V::Timestamp(*t),
            other => other.clone(),
        };
        let result = arith_zoned(op, &as_zoned(x), &as_zoned(y), x, y)?;
        return Some(result.map(|v| match v {
            V::Timestamp(t) if !zoned(x) && !zoned(y) => V::LocalTimestamp(t),
            other => other,
        }));
    }
    arith_zoned(op, x, y, x, y)
}

/// [`arith`] once `timestamp` operands are read as `timestamptz`;
/// `shown_x` and `shown_y` are the operands as written, for messages.
fn arith_zoned(
    op: char,
    x: &Value,
    y: &Value,
    shown_x: &Value,
    shown_y: &Value,
) -> Option<Result<Value, DbError>> {
    use Value as V;
    let undefined = || {
        Err(err(
            SqlState::UndefinedFunction,
            format!(
                "operator does not exist: {} {op} {}",
                shown_x.type_name(),
                shown_y.type_name()
            ),
        ))
    };
    let dec =
        |f: fn(&Decimal, &Decimal) -> Result<Decimal, DbError>| -> Option<Result<Value, DbError>> {
            Some((|| Ok(V::Numeric(f(&dec_of(x)?, &dec_of(y)?)?)))())
        };
    Some(match (x, y) {
        (V::Numeric(_), V::Int(_) | V::Numeric(_) | V::Text(_))
        | (V::Int(_) | V::Text(_), V::Numeric(_)) => {
            return match op {
                '+' => dec(Decimal::add),
                '-' => dec(Decimal::sub),
                '*' => dec(Decimal::mul),
                '/' => dec(Decimal::div),
                '%' => dec(Decimal::rem),
                _ => Some(undefined()),
            }
        }
        (V::Timestamp(t), V::Interval(_) | V::Text(_)) if op == '+' || op == '-' => {
            if let (V::Text(s), '-') = (y, op) {
                // timestamp - 'unknown': an interval if it reads as one,
                // else a timestamp (then the difference is an interval).
                if Interval::parse(s).is_err() {
                    return Some(
                        timestamp_arg(y).map(|u| V::Interval(time::sub_timestamps(*t, u))),
                    );
                }
            }
            interval_arg(y).and_then(|i| {
                let i = if op == '-' { i.neg() } else { i };
                time::add_interval(*t, &i).map(V::Timestamp)
            })
        }
        (V::Date(d), V::Interval(i)) if op == '+' || op == '-' => {
            let i = if op == '-' { i.neg() } else { *i };
            time::add_interval(*d as i64 * US_PER_DAY, &i).map(V::Timestamp)
        }
        (V::Interval(i), V::Timestamp(t)) if op == '+' => {
            time::add_interval(*t, i).map(V::Timestamp)
        }
        (V::Interval(i), V::Date(d)) if op == '+' => {
            time::add_interval(*d as i64 * US_PER_DAY, i).map(V::Timestamp)
        }
        (V::Timestamp(a), V::Timestamp(b)) if op == '-' => {
            Ok(V::Interval(time::sub_timestamps(*a, *b)))
        }
        (V::Timestamp(a), V::Date(b)) if op == '-' => Ok(V::Interval(time::sub_timestamps(
            *a,
            *b as i64 * US_PER_DAY,
        ))),
        (V::Date(a), V::Timestamp(b)) if op == '-' => Ok(V::Interval(time::sub_timestamps(
            *a as i64 * US_PER_DAY,
            *b,
        ))),
        (V::Date(a), V::Date(b)) if op == '-' => Ok(V::Int(*a as i64 - *b as i64)),
        (V::Interval(a), V::Interval(_) | V::Text(_)) if op == '+' || op == '-' => interval_arg(y)
            .and_then(|b| a.add(&if op == '-' { b.neg() } else { b }).map(V::Interval)),
        (V::Interval(i), V::Int(_) | V::Numeric(_)) if op == '*' || op == '/' => dec_of(y)
            .and_then(|f| {
                let f = f.to_f64();
                if op == '/' && f == 0.0 {
                    return Err(err(SqlState::DivisionByZero, "division by zero"));
                }
                i.mul(if op == '*' { f } else { 1.0 / f }).map(V::Interval)
            }),
        (V::Int(_) | V::Numeric(_), V::Interval(i)) if op == '*' => {
            dec_of(x).and_then(|f| i.mul(f.to_f64()).map(V::Interval))
        }
        (V::Interval(_) | V::Uuid(_) | V::Enum(_) | V::Json(_) | V::Array(_), _)
        | (_, V::Interval(_) | V::Uuid(_) | V::Enum(_) | V::Json(_) | V::Array(_)) => undefined(),
        (V::Timestamp(_), _) | (_, V::Timestamp(_)) => undefined(),
        _ => return None,
    })
}

/// `-x` for the types of this module.
pub(crate) fn negate(v: &Value) -> Option<Value> {
    match v {
        Value::Numeric(d) => Some(Value::Numeric(d.neg())),
        Value::Interval(i) => Some(Value::Interval(i.neg())),
        _ => None,
    }
}

/// `abs(x)` of a numeric.
pub(crate) fn abs(v: &Value) -> Option<Value> {
    match v {
        Value::Numeric(d) => Some(Value::Numeric(d.abs())),
        _ => None,
    }
}

/// `x op ANY (array)` / `x op ALL (array)`, with SQL's NULL rules.
pub(crate) fn any_all(
    cmp: impl Fn(&Value, &Value) -> Result<Value, DbError>,
    x: &Value,
    array: &Value,
    any: bool,
) -> Result<Value, DbError> {
    let items = match array {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items.clone(),
        Value::Text(t) => match parse_text(
            t,
            array_of(if x.is_null() {
                SqlType::Text
            } else {
                type_of_value(x)
            }),
        )? {
            Value::Array(items) => items,
            _ => unreachable!("an array parses to an array"),
        },
        other => {
            return Err(err(
                SqlState::DatatypeMismatch,
                format!(
                    "op ANY/ALL (array) requires array on right side, not {}",
                    other.type_name()
                ),
            ))
        }
    };
    let mut saw_null = false;
    for item in &items {
        match cmp(x, item)? {
            Value::Bool(b) if b == any => return Ok(Value::Bool(any)),
            Value::Null => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(!any)
    })
}

// ---- jsonb ----

fn json_value(j: serde_json::Value) -> Value {
    Value::Json(j.to_string().into())
}

pub(crate) fn json_of(v: &Value) -> Result<serde_json::Value, DbError> {
    let text = match v {
        Value::Json(t) | Value::Text(t) => t,
        other => {
            return Err(err(
                SqlState::UndefinedFunction,
                format!(
                    "operator does not exist for type {} and jsonb",
                    other.type_name()
                ),
            ))
        }
    };
    serde_json::from_str(text).map_err(|e| {
        err(
            SqlState::InvalidTextRepresentation,
            format!("invalid input syntax for type json: {e}"),
        )
    })
}

/// `to_jsonb(v)`.
fn to_json(v: &Value) -> Result<serde_json::Value, DbError> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Numeric(d) => serde_json::from_str(&d.to_string()).unwrap_or(J::Null),
        Value::Json(_) => json_of(v)?,
        Value::Timestamp(t) => {
            // to_jsonb writes ISO 8601: 2024-01-01T10:00:00+00:00.
            let text = Value::Timestamp(*t).to_pg_text().unwrap_or_default();
            J::String(format!("{}:00", text.replacen(' ', "T", 1)))
        }
        Value::LocalTimestamp(_) => J::String(text_of(v).replacen(' ', "T", 1)),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        other => J::String(text_of(other)),
    })
}

fn json_set(target: &mut serde_json::Value, path: &[String], new: serde_json::Value, create: bool) {
    use serde_json::Value as J;
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match target {
        J::Object(map) => {
            if rest.is_empty() {
                if create || map.contains_key(first) {
                    map.insert(first.clone(), new);
                }
            } else if let Some(child) = map.get_mut(first) {
                json_set(child, rest, new, create);
            }
        }
        J::Array(items) => {
            let Ok(i) = first.parse::<i64>() else { return };
            let len = items.len() as i64;
            let at = if i < 0 { len + i } else { i };
            if rest.is_empty() {
                if (0..len).contains(&at) {
                    items[at as usize] = new;
                } else if create {
                    if at < 0 {
                        items.insert(0, new);
                    } else {
                        items.push(new);
                    }
                }
            } else if (0..len).contains(&at) {
                json_set(&mut items[at as usize], rest, new, create);
            }
        }
        _ => {}
    }
}

/// jsonb's text form as PostgreSQL prints it: `{"a": 1, "b": [1, 2]}`,
/// object keys shortest first, then bytewise.
pub(crate) fn pg_json(j: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match j {
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(pg_json).collect::<Vec<_>>().join(", ")
        ),
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}: {}", J::String((*k).clone()), pg_json(&map[*k])))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// A jsonb value's PostgreSQL text.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::Json(t) => serde_json::from_str(t).map_or_else(|_| t.to_string(), |j| pg_json(&j)),
        other => other.to_pg_text().unwrap_or_default(),
    }
}

/// `j -> key` (`as_text`: `->>`); an integer key indexes an array.
pub(crate) fn json_get(x: &Value, key: &Value, as_text: bool) -> Result<Value, DbError> {
    use serde_json::Value as J;
    let j = json_of(x)?;
    let found = match (&j, key) {
        (J::Object(map), k) if !matches!(k, Value::Int(_)) => map.get(&text_of(k)).cloned(),
        (J::Array(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if *i < 0 { len + i } else { *i };
            (0..len).contains(&at).then(|| items[at as usize].clone())
        }
        _ => None,
    };
    Ok(match found {
        None => Value::Null,
        Some(J::Null) if as_text => Value::Null,
        Some(J::String(s)) if as_text => Value::Text(s.into()),
        Some(other) if as_text => Value::Text(pg_json(&other).into()),
        Some(other) => json_value(other),
    })
}

/// `j ? key`: a top-level key of an object, or a string element of an
/// array.
pub(crate) fn json_has_key(x: &Value, key: &Value) -> Result<Value, DbError> {
    use serde_json::Value as J;
    let k = text_of(key);
    Ok(Value::Bool(match json_of(x)? {
        J::Object(map) => map.contains_key(&k),
        J::Array(items) => items.iter().any(|i| i.as_str() == Some(k.as_str())),
        J::String(s) => s == k,
        _ => false,
    }))
}

/// jsonb `@>`: PostgreSQL's containment (objects by subset, arrays by
/// elements in any order, a top-level array contains a scalar).
pub(crate) fn json_contains(a: &Value, b: &Value) -> Result<Value, DbError> {
    fn contains(a: &serde_json::Value, b: &serde_json::Value, top: bool) -> bool {
        use serde_json::Value as J;
        match (a, b) {
            (J::Object(x), J::Object(y)) => y
                .iter()
                .all(|(k, v)| x.get(k).is_some_and(|xv| contains(xv, v, false))),
            (J::Array(x), J::Array(y)) => {
                y.iter().all(|v| x.iter().any(|xv| contains(xv, v, false)))
            }
            (J::Array(x), scalar) if top && !scalar.is_object() && !scalar.is_array() => {
                x.iter().any(|xv| xv == scalar)
            }
            (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
            (x, y) => x == y,
        }
    }
    Ok(Value::Bool(contains(&json_of(a)?, &json_of(b)?, true)))
}

/// Compares two values for `ANY`/`ALL` with operator `op` (`=`...).
pub(crate) fn compare_op(op: &str, a: &Value, b: &Value) -> Result<Value, DbError> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let o = compare(a, b)?;
    Ok(o.map_or(Value::Null, |o| {
        Value::Bool(match op {
            "=" => o == Ordering::Equal,
            "<>" => o != Ordering::Equal,
            "<" => o == Ordering::Less,
            "<=" => o != Ordering::Greater,
            ">" => o == Ordering::Greater,
            _ => o != Ordering::Less,
        })
    }))
}

/// PostgreSQL's `format`: `%s` (NULL: empty), `%I` (an identifier,
/// quoted when needed), `%L` (a literal, NULL unquoted), `%%`.
fn format(fmt: &str, args: &[Value]) -> Result<String, DbError> {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars.next().ok_or_else(|| {
            err(
                SqlState::Other("22023"),
                "unterminated format() type specifier",
            )
        })?;
        if spec == '%' {
            out.push('%');
            continue;
        }
        let arg = next
            .next()
            .ok_or_else(|| err(SqlState::Other("22023"), "too few arguments for format()"))?;
        match spec {
            's' => out.push_str(&arg.to_pg_text().unwrap_or_default()),
            'I' => {
                let t = arg.to_pg_text().ok_or_else(|| {
                    err(
                        SqlState::Other("22004"),
                        "null values cannot be formatted as an SQL identifier",
                    )
                })?;
                let plain = !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && !t.starts_with(|c: char| c.is_ascii_digit());
                if plain {
                    out.push_str(&t);
                } else {
                    out.push_str(&format!("\"{}\"", t.replace('"', "\"\"")));
                }
            }
            'L' => match arg.to_pg_text() {
                None => out.push_str("NULL"),
                Some(t) => out.push_str(&format!("'{}'", t.replace('\'', "''"))),
            },
            other => {
                return Err(err(
                    SqlState::Other("22023"),
                    format!("unrecognized format() type specifier \"{other}\""),
                ))
            }
        }
    }
    Ok(out)
}
