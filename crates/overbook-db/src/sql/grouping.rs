//! Aggregate accumulators: what one aggregate of a grouped query keeps per
//! group while rows stream in, with PostgreSQL 15's rules for `FILTER
//! (WHERE ...)`, `DISTINCT`, NULL inputs and result types.

use super::expr::{AggFunc, AggSpec, Compiler, Env, Expr};
use super::value::{coerce, encode_key, err, sort_order, SqlType, Value};
use super::Decimal;
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The running state of one aggregate over one group.
#[derive(Clone, Default)]
pub(crate) struct Acc {
    /// Non-NULL inputs fed (all inputs for `array_agg`).
    count: i64,
    value: Option<Value>,
    /// Keys of the values already fed, for `DISTINCT`.
    seen: BTreeSet<String>,
}

/// Feeds the aggregate `spec` one row (read through `env`).
pub(crate) fn feed(spec: &AggSpec, acc: &mut Acc, env: &Env<'_>) -> Result<(), DbError> {
    if let Some(f) = &spec.filter {
        if !f.is_true(env)? {
            return Ok(());
        }
    }
    let v = match &spec.arg {
        None => Value::Bool(true),
        Some(a) => a.eval(env)?,
    };
    if spec.distinct {
        // PostgreSQL's DISTINCT aggregates drop NULLs (array_agg too).
        if v.is_null() {
            return Ok(());
        }
        let mut key = String::new();
        encode_key(&mut key, &v);
        if !acc.seen.insert(key) {
            return Ok(());
        }
    }
    // array_agg keeps NULLs, in the order rows come.
    if spec.func == AggFunc::ArrayAgg {
        acc.count += 1;
        match &mut acc.value {
            Some(Value::Array(items)) => items.push(v),
            _ => acc.value = Some(Value::Array(vec![v])),
        }
        return Ok(());
    }
    if v.is_null() {
        return Ok(());
    }
    acc.count += 1;
    acc.value = Some(match (spec.func, acc.value.take()) {
        (AggFunc::StringAgg, prev) => {
            let text = text_of(&v, "string_agg")?;
            match prev {
                None => Value::Text(text.into()),
                Some(p) => {
                    let delimiter = match &spec.delimiter {
                        Some(d) => d.eval(env)?,
                        None => Value::Null,
                    };
                    let mut out = p.as_text().unwrap_or_default().to_string();
                    if !delimiter.is_null() {
                        out.push_str(&text_of(&delimiter, "string_agg")?);
                    }
                    out.push_str(&text);
                    Value::Text(out.into())
                }
            }
        }
        (AggFunc::BoolAnd | AggFunc::BoolOr, prev) => {
            let b = bool_of(&v, spec.func)?;
            match (spec.func, prev.and_then(|p| p.as_bool())) {
                (_, None) => Value::Bool(b),
                (AggFunc::BoolAnd, Some(p)) => Value::Bool(p && b),
                (_, Some(p)) => Value::Bool(p || b),
            }
        }
        // avg keeps the exact sum (numeric for integers, as PostgreSQL's
        // int8 accumulator) and divides at the end.
        (AggFunc::Avg, prev) => {
            let add = match &v {
                Value::Int(i) => Value::Numeric(Decimal::from_int(*i)),
                Value::Numeric(_) | Value::Interval(_) => v.clone(),
                Value::Text(_) => coerce(&v, SqlType::Numeric)?,
                other => {
                    return Err(err(
                        SqlState::UndefinedFunction,
                        format!("function avg({}) does not exist", other.type_name()),
                    ))
                }
            };
            match prev {
                None => add,
                Some(p) => add_values(&p, &add, "avg")?,
            }
        }
        // numeric and interval sums.
        (AggFunc::Sum, None) if !matches!(v, Value::Int(_) | Value::Text(_)) => v,
        (AggFunc::Sum, Some(p)) if !matches!(p, Value::Int(_)) => add_values(&p, &v, "sum")?,
        (AggFunc::Sum, prev) => {
            let add = coerce(&v, SqlType::BigInt)?.as_int().unwrap_or(0);
            let base = prev.and_then(|p| p.as_int()).unwrap_or(0);
            Value::Int(
                base.checked_add(add)
                    .ok_or_else(|| err(SqlState::NumericValueOutOfRange, "bigint out of range"))?,
            )
        }
        (AggFunc::Min, Some(p)) if sort_order(&p, &v) != Ordering::Greater => p,
        (AggFunc::Max, Some(p)) if sort_order(&p, &v) != Ordering::Less => p,
        _ => v,
    });
    Ok(())
}

impl Acc {
    /// A copy, for a running aggregate (a window's growing frame).
    pub(crate) fn snapshot(&self) -> Acc {
        self.clone()
    }
}

/// The aggregate's value for its group.
pub(crate) fn result(spec: &AggSpec, acc: Acc) -> Result<Value, DbError> {
    Ok(match spec.func {
        AggFunc::Count | AggFunc::CountStar => Value::Int(acc.count),
        AggFunc::Avg => match acc.value {
            None => Value::Null,
            Some(Value::Numeric(sum)) => Value::Numeric(sum.div(&Decimal::from_int(acc.count))?),
            Some(sum) => match super::funcs::arith('/', &sum, &Value::Int(acc.count)) {
                Some(v) => v?,
                None => {
                    return Err(err(
                        SqlState::UndefinedFunction,
                        format!("function avg({}) does not exist", sum.type_name()),
                    ))
                }
            },
        },
        _ => acc.value.unwrap_or(Value::Null),
    })
}

fn add_values(p: &Value, v: &Value, name: &str) -> Result<Value, DbError> {
    super::funcs::arith('+', p, v).unwrap_or_else(|| {
        Err(err(
            SqlState::UndefinedFunction,
            format!("function {name}({}) does not exist", v.type_name()),
        ))
    })
}

fn text_of(v: &Value, name: &str) -> Result<String, DbError> {
    match v {
        Value::Text(t) => Ok(t.to_string()),
        // bpchar loses its padding on the way to text.
        Value::Char(t) => Ok(t.trim_end_matches(' ').to_string()),
        other => Err(err(
            SqlState::UndefinedFunction,
            format!(
                "function {name}({}, unknown) does not exist",
                other.type_name()
            ),
        )),
    }
}

fn bool_of(v: &Value, func: AggFunc) -> Result<bool, DbError> {
    match coerce(v, SqlType::Bool) {
        Ok(Value::Bool(b)) => Ok(b),
        _ => Err(err(
            SqlState::UndefinedFunction,
            format!(
                "function {}({}) does not exist",
                if func == AggFunc::BoolAnd {
                    "bool_and"
                } else {
                    "bool_or"
                },
                v.type_name()
            ),
        )),
    }
}

/// One `GROUP BY` item: an output-column number (`GROUP BY 1`), an
/// output-column name that is no input column, or an expression over the
/// FROM tables, as PostgreSQL resolves them.
pub(crate) fn group_item(
    c: &mut Compiler<'_>,
    item: &ast::Expr,
    output: &[(String, Expr)],
) -> Result<Expr, DbError> {
    let compiled = match item {
        ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
            let ast::Value::Number(n, _) = &v.value else {
                unreachable!("matched above")
            };
            let k: usize = n.parse().unwrap_or(0);
            if k == 0 || k > output.len() {
                return Err(err(
                    SqlState::InvalidColumnReference,
                    format!("GROUP BY position {n} is not in select list"),
                ));
            }
            output[k - 1].1.clone()
        }
        ast::Expr::Identifier(i) => match c.compile(item) {
            Err(e) if e.code == SqlState::UndefinedColumn => {
                let name = super::expr::ident(i);
                match output.iter().find(|(n, _)| *n == name) {
                    Some((_, x)) => x.clone(),
                    None => return Err(e),
                }
            }
            other => other?,
        },
        other => c.compile(other)?,
    };
    let mut has_agg = false;
    compiled.visit(&mut |x| has_agg |= matches!(x, Expr::Agg(_)));
    if has_agg {
        return Err(err(
            SqlState::GroupingError,
            "aggregate functions are not allowed in GROUP BY",
        ));
    }
    Ok(compiled)
}

/// The first column `e` reads outside aggregates and outside any of the
/// GROUP BY expressions `by` that `allowed` does not accept (`None`: the
/// expression is fine in a grouped query).
pub(crate) fn ungrouped(e: &Expr, by: &[String], allowed: &dyn Fn(usize) -> bool) -> Option<usize> {
    if by.contains(&format!("{e:?}")) {
        return None;
    }
    match e {
        Expr::Col(c) => (!allowed(*c)).then_some(*c),
        Expr::Agg(_) => None,
        other => {
            // Every direct operand, found through `visit` (which also
            // walks deeper: those deeper nodes are skipped here and
            // checked by the recursion on their parent).
            let mut children: Vec<&Expr> = Vec::new();
            match other {
                Expr::Bin(_, a, b) => children.extend([&**a, &**b]),
                Expr::Not(a)
                | Expr::Neg(a)
                | Expr::IsNull(a, _)
                | Expr::IsBool(a, _, _)
                | Expr::Cast(a, _) => children.push(a),
                Expr::InList(a, list, _) => {
                    children.push(a);
                    children.extend(list.iter());
                }
                Expr::Between(a, b, c, _) => children.extend([&**a, &**b, &**c]),
                Expr::Func(_, args)
                | Expr::Call(_, args)
                | Expr::UserCall(_, args)
                | Expr::Array(args) => children.extend(args.iter()),
                Expr::AnyAll(_, _, a, b) => children.extend([&**a, &**b]),
                Expr::Case(arms, rest) => {
                    for (c, r) in arms {
                        children.extend([c, r]);
                    }
                    children.extend(rest.as_deref());
                }
                Expr::Const(_) | Expr::Param(_) | Expr::Default => {}
                #[allow(unreachable_patterns)]
                _ => {
                    // An expression kind not listed: every column in it
                    // must be grouped.
                    let mut bad = None;
                    other.visit(&mut |x| {
                        if let Expr::Col(c) = x {
                            if !allowed(*c) && bad.is_none() {
                                bad = Some(*c);
                            }
                        }
                    });
                    return bad;
                }
            }
            children.into_iter().find_map(|c| ungrouped(c, by, allowed))
        }
    }
}
