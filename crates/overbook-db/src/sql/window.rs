//! Window functions of an ungrouped query's select list and ORDER BY:
//! `row_number()`, `rank()`, `dense_rank()`, `lag` / `lead` and the
//! aggregates `count`, `sum`, `min`, `max`, `avg` with `OVER (PARTITION BY
//! ... ORDER BY ...)` and PostgreSQL's default frame (`RANGE UNBOUNDED
//! PRECEDING` to `CURRENT ROW`: with an ORDER BY, a row sees its partition
//! up to its last peer; without one, the whole partition).
//!
//! A window function compiles to a column past the FROM tables' columns:
//! once the WHERE clause has filtered the rows, each window's values are
//! computed over all of them and appended to each row, so the select list
//! and ORDER BY read them like any column.

use super::exec::Bound;
use super::expr::{object_name, plain_args, unsupported, AggFunc, AggSpec, Compiler, Env, Expr};
use super::grouping::{feed, result, Acc};
use super::value::{coerce, encode_key, err, sort_order, SqlType, Value};
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A window function.
#[derive(Clone, Debug)]
pub(crate) enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    /// `lag(x [, offset [, default]])` (false) or `lead` (true).
    Shift(bool),
    /// An aggregate over the frame.
    Agg(AggSpec),
}

/// One window function call with its window.
#[derive(Clone, Debug)]
pub(crate) struct WindowSpec {
    pub(crate) func: WinFunc,
    pub(crate) args: Vec<Expr>,
    pub(crate) partition: Vec<Expr>,
    /// (key, descending, nulls first).
    pub(crate) order: Vec<(Expr, bool, bool)>,
}

/// A window call's compiled arguments, `PARTITION BY` keys, `ORDER BY`
/// keys (key, descending, nulls first) and `FILTER`.
type WindowParts = (Vec<Expr>, Vec<Expr>, Vec<(Expr, bool, bool)>, Option<Expr>);

impl Compiler<'_> {
    /// Compiles `f OVER (...)` into the column its values will fill.
    pub(crate) fn window(&mut self, f: &ast::Function) -> Result<Expr, DbError> {
        let name = object_name(&f.name)?;
        let Some(over) = &f.over else {
            unreachable!("called for OVER only")
        };
        if self.windows.is_none() {
            return Err(err(
                SqlState::Other("42P20"),
                format!("window functions are not allowed here: {f}"),
            ));
        }
        let ast::WindowType::WindowSpec(spec) = over else {
            return Err(unsupported("a named window"));
        };
        if spec.window_name.is_some() || spec.window_frame.is_some() {
            return Err(unsupported(format!(
                "the window {spec} (PARTITION BY and ORDER BY with the default frame are)"
            )));
        }
        let (args, star, distinct) = plain_args(f)?;
        if distinct {
            return Err(unsupported(
                "DISTINCT is not implemented for window functions, and it",
            ));
        }
        // Window arguments, partitions and orders are plain expressions:
        // no aggregates and no nested windows inside.
        let windows = self.windows.take();
        let aggs = self.aggs.take();
        let compiled = self.window_parts(f, spec, &args);
        self.windows = windows;
        self.aggs = aggs;
        let (args, partition, order, filter) = compiled?;
        let func = window_function(f, &name, &args, star, filter.as_ref())?;
        if filter.is_some() && !matches!(func, WinFunc::Agg(_)) {
            return Err(err(
                SqlState::Other("42809"),
                format!("FILTER is not implemented for non-aggregate window functions: {name}"),
            ));
        }
        let windows = self.windows.as_mut().expect("checked above");
        windows.push(WindowSpec {
            func,
            args,
            partition,
            order,
        });
        Ok(Expr::Col(self.window_base + windows.len() - 1))
    }

    /// Compiles a window call's arguments, `PARTITION BY`, `ORDER BY` and
    /// `FILTER`.
    fn window_parts(
        &mut self,
        f: &ast::Function,
        spec: &ast::WindowSpec,
        args: &[ast::Expr],
    ) -> Result<WindowParts, DbError> {
        let args = args
            .iter()
            .map(|a| self.compile(a))
            .collect::<Result<Vec<_>, _>>()?;
        let partition = spec
            .partition_by
            .iter()
            .map(|p| self.compile(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order = Vec::new();
        for o in &spec.order_by {
            let desc = o.options.asc == Some(false);
            order.push((
                self.compile(&o.expr)?,
                desc,
                o.options.nulls_first.unwrap_or(desc),
            ));
        }
        let filter = f.filter.as_ref().map(|x| self.compile(x)).transpose()?;
        Ok((args, partition, order, filter))
    }
}

/// The window function `name` called with `args` (`star`: `count(*)`),
/// its arity checked.
fn window_function(
    f: &ast::Function,
    name: &str,
    args: &[Expr],
    star: bool,
    filter: Option<&Expr>,
) -> Result<WinFunc, DbError> {
    let arity = |n: std::ops::RangeInclusive<usize>| -> Result<(), DbError> {
        if n.contains(&args.len()) && !star {
            Ok(())
        } else {
            Err(err(
                SqlState::UndefinedFunction,
                format!("function {f} does not exist"),
            ))
        }
    };
    let agg = |func: AggFunc| AggSpec {
        func,
        arg: args.first().cloned(),
        filter: filter.cloned(),
        distinct: false,
        delimiter: None,
    };
    Ok(match name {
        "row_number" => arity(0..=0).map(|_| WinFunc::RowNumber)?,
        "rank" => arity(0..=0).map(|_| WinFunc::Rank)?,
        "dense_rank" => arity(0..=0).map(|_| WinFunc::DenseRank)?,
        "lag" => arity(1..=3).map(|_| WinFunc::Shift(false))?,
        "lead" => arity(1..=3).map(|_| WinFunc::Shift(true))?,
        "count" if star && args.is_empty() => WinFunc::Agg(agg(AggFunc::CountStar)),
        "count" => arity(1..=1).map(|_| WinFunc::Agg(agg(AggFunc::Count)))?,
        "sum" => arity(1..=1).map(|_| WinFunc::Agg(agg(AggFunc::Sum)))?,
        "min" => arity(1..=1).map(|_| WinFunc::Agg(agg(AggFunc::Min)))?,
        "max" => arity(1..=1).map(|_| WinFunc::Agg(agg(AggFunc::Max)))?,
        "avg" => arity(1..=1).map(|_| WinFunc::Agg(agg(AggFunc::Avg)))?,
        other => {
            return Err(unsupported(format!(
                "the window function {other} (row_number, rank, dense_rank, lag, lead, count, sum, min, max, avg are)"
            )))
        }
    })
}

fn compare_keys(a: &[Value], b: &[Value], order: &[(Expr, bool, bool)]) -> Ordering {
    for ((x, y), (_, desc, nulls_first)) in a.iter().zip(b).zip(order) {
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if *nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if *nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if *desc => sort_order(x, y).reverse(),
            _ => sort_order(x, y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Appends each window's value to every row (rows in their current
/// order; `env` builds the environment a row's expressions read).
pub(crate) fn compute(
    windows: &[WindowSpec],
    rows: &mut [Vec<Value>],
    params: Bound<'_>,
) -> Result<(), DbError> {
    for w in windows {
        let values = one_window(w, rows, params)?;
        for (row, v) in rows.iter_mut().zip(values) {
            row.push(v);
        }
    }
    Ok(())
}

fn env_of<'a>(row: &'a [Value], params: Bound<'a>) -> Env<'a> {
    Env {
        row,
        params: params.values,
        aggs: &[],
        ctx: params.ctx,
    }
}

fn one_window(
    w: &WindowSpec,
    rows: &[Vec<Value>],
    params: Bound<'_>,
) -> Result<Vec<Value>, DbError> {
    let env = |row| env_of(row, params);
    // Partition key text and ORDER BY values of each row.
    let mut partitions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut order_keys = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let e = env(row);
        let mut key = String::new();
        for p in &w.partition {
            encode_key(&mut key, &p.eval(&e)?);
        }
        partitions.entry(key).or_default().push(i);
        order_keys.push(
            w.order
                .iter()
                .map(|(x, _, _)| x.eval(&e))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let mut out = vec![Value::Null; rows.len()];
    for (_, mut members) in partitions {
        members.sort_by(|&a, &b| compare_keys(&order_keys[a], &order_keys[b], &w.order));
        let peers = |a: usize, b: usize| {
            compare_keys(&order_keys[a], &order_keys[b], &w.order) == Ordering::Equal
        };
        match &w.func {
            WinFunc::RowNumber | WinFunc::Rank | WinFunc::DenseRank => {
                let (mut rank, mut dense) = (0i64, 0i64);
                for (pos, &i) in members.iter().enumerate() {
                    let new_peer_group = pos == 0 || !peers(members[pos - 1], i);
                    if new_peer_group {
                        rank = pos as i64 + 1;
                        dense += 1;
                    }
                    out[i] = Value::Int(match w.func {
                        WinFunc::RowNumber => pos as i64 + 1,
                        WinFunc::Rank => rank,
                        _ => dense,
                    });
                }
            }
            WinFunc::Shift(forward) => {
                for (pos, &i) in members.iter().enumerate() {
                    let e = env(&rows[i]);
                    let offset = match w.args.get(1) {
                        Some(o) => match coerce(&o.eval(&e)?, SqlType::Integer)? {
                            Value::Null => {
                                out[i] = Value::Null;
                                continue;
                            }
                            v => v.as_int().unwrap_or(1),
                        },
                        None => 1,
                    };
                    let target = if *forward {
                        pos as i64 + offset
                    } else {
                        pos as i64 - offset
                    };
                    out[i] = match usize::try_from(target).ok().and_then(|t| members.get(t)) {
                        Some(&j) => w.args[0].eval(&env(&rows[j]))?,
                        None => match w.args.get(2) {
                            Some(d) => d.eval(&e)?,
                            None => Value::Null,
                        },
                    };
                }
            }
            WinFunc::Agg(spec) => {
                // The frame grows by peer groups: every row of a peer
                // group sees the aggregate through its last peer.
                let mut acc = Acc::default();
                let mut pos = 0;
                while pos < members.len() {
                    let mut end = pos + 1;
                    if !w.order.is_empty() {
                        while end < members.len() && peers(members[pos], members[end]) {
                            end += 1;
                        }
                    } else {
                        end = members.len();
                    }
                    for &i in &members[pos..end] {
                        feed(spec, &mut acc, &env(&rows[i]))?;
                    }
                    let value = result(spec, acc.snapshot())?;
                    for &i in &members[pos..end] {
                        out[i] = value.clone();
                    }
                    pos = end;
                }
            }
        }
    }
    Ok(out)
}
