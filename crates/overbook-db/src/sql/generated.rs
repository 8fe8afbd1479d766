//! Generated columns: `col type GENERATED ALWAYS AS (expr) STORED`, as
//! PostgreSQL 15 has them. The expression reads only the row being
//! written (no subquery, aggregate, parameter, other generated column or
//! function whose value can change between calls), and its value is
//! computed from the new row on every INSERT and UPDATE (a
//! foreign key's cascaded update too), after the SET list or the
//! inserted values and before the NOT NULL and CHECK constraints and the
//! index entries, as PostgreSQL's `ExecComputeStoredGenerated` does. So
//! an UPDATE that re-reads a row changed under its wait (Read Committed)
//! computes it again from the newer version.

use super::catalog::Table;
use super::expr::{unsupported, Compiler, Env, Expr, Scope};
use super::funcs::Ctx;
use super::referential::Action;
use super::value::{coerce, err, Value};
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use std::sync::Arc;

/// PostgreSQL's system columns, which a generation expression may not
/// read.
const SYSTEM_COLUMNS: [&str; 6] = ["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

/// Compiles column `column`'s generation expression over `table` (every
/// column of the table being defined, so that a reference to a generated
/// one is found). The checks and their order are PostgreSQL's: the parse
/// errors, then the reference to a generated column, then immutability.
pub(crate) fn compile(table: &Arc<Table>, column: &str, e: &ast::Expr) -> Result<Expr, DbError> {
    let mut scope = Scope::default();
    scope.add(&table.name, table.clone());
    let mut c = Compiler::new(&scope);
    let expr = c.compile(e).map_err(|e| {
        let system = SYSTEM_COLUMNS
            .iter()
            .find(|c| e.message == format!("column \"{c}\" does not exist"));
        if let (Some(system), SqlState::UndefinedColumn) = (system, &e.code) {
            err(
                SqlState::Other("42P10"),
                format!("cannot use system column \"{system}\" in column generation expression"),
            )
        } else if e.code == SqlState::FeatureNotSupported && e.message.contains("subquery") {
            err(
                SqlState::FeatureNotSupported,
                "cannot use subquery in column generation expression",
            )
        } else if e.code == SqlState::Other("42803") || e.message.contains("aggregate") {
            // The compiler's wording for an aggregate outside a query.
            err(
                SqlState::Other("42803"),
                "aggregate functions are not allowed in column generation expressions",
            )
        } else {
            e
        }
    })?;
    if c.params > 0 {
        return Err(err(SqlState::Other("42P02"), "there is no parameter $1"));
    }
    let mut aggregate = false;
    let mut subquery = false;
    let mut generated = None;
    expr.visit(&mut |x| match x {
        Expr::Agg(_) => aggregate = true,
        Expr::Subquery(_) => subquery = true,
        Expr::Col(i) => {
            let c = &table.columns[*i];
            // The column being defined counts: its expression may not read
            // itself either.
            if generated.is_none() && (c.generated.is_some() || c.name == column) {
                generated = Some(c.name);
            }
        }
        _ => {}
    });
    if subquery {
        return Err(err(
            SqlState::FeatureNotSupported,
            "cannot use subquery in column generation expression",
        ));
    }
    if aggregate {
        return Err(err(
            SqlState::Other("42803"),
            "aggregate functions are not allowed in column generation expressions",
        ));
    }
    if let Some(name) = generated {
        return Err(err(
            SqlState::Other("42P17"),
            format!("cannot use generated column \"{name}\" in column generation expression"),
        ));
    }
    if super::exprindex::non_immutable(&expr, table) {
        return Err(err(
            SqlState::Other("42P17"),
            "generation expression is not immutable",
        ));
    }
    // A constant is cast to the column's type when the table is made
    // (`int GENERATED ALWAYS AS ('x')` fails there), as PostgreSQL folds
    // it.
    if let (Expr::Const(v), Some(c)) = (&expr, table.column_index(column)) {
        if !v.is_null() {
            coerce(v, table.columns[c].ty)?;
        }
    }
    Ok(expr)
}

/// Whether column `column` of `table` may have a generation expression
/// with the other options it was given (PostgreSQL: 42601).
pub(crate) fn check_options(
    table: &str,
    column: &str,
    default: bool,
    identity: bool,
) -> Result<(), DbError> {
    let what = match (default, identity) {
        (true, _) => "default",
        (_, true) => "identity",
        _ => return Ok(()),
    };
    Err(err(
        SqlState::SyntaxError,
        format!(
            "both {what} and generation expression specified for column \"{column}\" of table \"{table}\""
        ),
    ))
}

/// `GENERATED BY DEFAULT AS (expr) STORED` or a virtual generated column:
/// what PostgreSQL 15 refuses or does not have.
pub(crate) fn refused(option: &ast::ColumnOption) -> Option<DbError> {
    match option {
        ast::ColumnOption::Generated {
            generated_as: ast::GeneratedAs::ExpStored,
            generation_expr: Some(_),
            ..
        } => None,
        ast::ColumnOption::Generated {
            generation_expr: Some(_),
            ..
        } => Some(unsupported(format!("the column option {option}"))),
        _ => None,
    }
}

/// Computes the generated columns of a row about to be written from its
/// other values (each coerced to its column's type, as PostgreSQL's
/// assignment does).
pub(crate) fn compute(
    table: &Table,
    values: &mut [Value],
    params: &[Value],
    ctx: &Ctx,
) -> Result<(), DbError> {
    if !table.columns.iter().any(|c| c.generated.is_some()) {
        return Ok(());
    }
    let mut computed = Vec::new();
    {
        let env = Env {
            row: values,
            params,
            aggs: &[],
            ctx,
        };
        for (i, c) in table.columns.iter().enumerate() {
            if let Some(e) = &c.generated {
                let v = e.eval(&env)?;
                computed.push((i, if v.is_null() { v } else { coerce(&v, c.ty)? }));
            }
        }
    }
    for (i, v) in computed {
        values[i] = v;
    }
    Ok(())
}

/// The generated columns of `table` whose expression reads column `c`.
pub(crate) fn dependents(table: &Table, c: usize) -> Vec<usize> {
    (0..table.columns.len())
        .filter(|&i| {
            table.columns[i].generated.as_ref().is_some_and(|e| {
                let mut found = false;
                e.visit(&mut |x| found |= matches!(x, Expr::Col(j) if *j == c));
                found
            })
        })
        .collect()
}

/// A foreign key over a generated column may not have its referencing
/// columns written by an action (PostgreSQL: 42601).
pub(crate) fn check_foreign_key(
    table: &Table,
    columns: &[usize],
    on_delete: Action,
    on_update: Action,
) -> Result<(), DbError> {
    if !columns
        .iter()
        .any(|&c| table.columns[c].generated.is_some())
    {
        return Ok(());
    }
    let writes = |a: Action| matches!(a, Action::SetNull | Action::SetDefault);
    let event = if matches!(on_update, Action::Cascade) || writes(on_update) {
        "UPDATE"
    } else if writes(on_delete) {
        "DELETE"
    } else {
        return Ok(());
    };
    Err(err(
        SqlState::SyntaxError,
        format!("invalid ON {event} action for foreign key constraint containing generated column"),
    ))
}
