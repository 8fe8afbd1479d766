//! CREATE TABLE and CREATE INDEX: the catalog entries, the store's
//! exclusion constraint, and the backfill of a new index.

use super::catalog::{intern, Check, Column, Exclusion, ForeignKey, Index, Table};
use super::expr::{ident, object_name, type_of, unsupported, Compiler, Expr, Scope};
use super::plan::ExcludeSpec;
use super::value::{err, SqlType};
use super::SqlDb;
use crate::store::{DbError, Isolation, KeyRange, Op, SqlState, WriteKind};
use sqlparser::ast;
use std::sync::Arc;

fn check_name(name: &str) -> Result<(), DbError> {
    if name.is_empty() || name.contains(['/', '@']) {
        return Err(unsupported(format!(
            "the name \"{name}\" (no '/' or '@' in names)"
        )));
    }
    Ok(())
}

fn referential(action: &Option<ast::ReferentialAction>) -> Result<(), DbError> {
    match action {
        None | Some(ast::ReferentialAction::NoAction) | Some(ast::ReferentialAction::Restrict) => {
            Ok(())
        }
        Some(other) => Err(unsupported(format!("ON DELETE/UPDATE {other}"))),
    }
}

/// A foreign key as written: name, columns, parent table, parent columns.
type FkDraft = (Option<String>, Vec<String>, String, Vec<String>);

struct Draft {
    table: Table,
    pk: Option<Vec<String>>,
    uniques: Vec<(Option<String>, Vec<String>)>,
    fks: Vec<FkDraft>,
    checks: Vec<(Option<String>, ast::Expr)>,
}

/// Creates a table from its parsed definition.
pub(crate) fn create_table(
    db: &SqlDb,
    create: &ast::CreateTable,
    excludes: &[ExcludeSpec],
) -> Result<(), DbError> {
    if create.query.is_some()
        || create.like.is_some()
        || create.clone.is_some()
        || create.temporary
        || create.or_replace
    {
        return Err(unsupported(
            "CREATE TABLE AS / LIKE / TEMPORARY / OR REPLACE",
        ));
    }
    let name = object_name(&create.name)?;
    check_name(&name)?;
    let mut catalog = db.shared.catalog();
    if catalog.tables.contains_key(&name) {
        if create.if_not_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::DuplicateTable,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let mut draft = Draft {
        table: Table {
            name: name.clone(),
            columns: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            exclusion: None,
            referenced_by: Vec::new(),
        },
        pk: None,
        uniques: Vec::new(),
        fks: Vec::new(),
        checks: Vec::new(),
    };
    for def in &create.columns {
        let column = ident(&def.name);
        check_name(&column)?;
        if draft.table.column_index(&column).is_some() {
            return Err(err(
                SqlState::Other("42701"),
                format!("column \"{column}\" specified more than once"),
            ));
        }
        let type_text = def.data_type.to_string().to_ascii_lowercase();
        let serial = type_text == "serial" || type_text == "bigserial";
        let ty = type_of(&def.data_type)?;
        let mut col = Column {
            name: intern(&column),
            ty,
            not_null: false,
            default: None,
            serial,
        };
        for opt in &def.options {
            let constraint = opt.name.as_ref().map(ident);
            match &opt.option {
                ast::ColumnOption::Null => {}
                ast::ColumnOption::NotNull => col.not_null = true,
                ast::ColumnOption::Default(e) => {
                    let scope = Scope::default();
                    let mut c = Compiler::new(&scope);
                    let compiled = c.compile(e)?;
                    if c.params > 0 {
                        return Err(err(SqlState::Other("42P02"), "there is no parameter $1"));
                    }
                    col.default = Some(compiled);
                }
                ast::ColumnOption::Unique {
                    is_primary: true, ..
                } => {
                    if draft.pk.is_some() {
                        return Err(err(
                            SqlState::Other("42P16"),
                            format!("multiple primary keys for table \"{name}\" are not allowed"),
                        ));
                    }
                    draft.pk = Some(vec![column.clone()]);
                }
                ast::ColumnOption::Unique {
                    is_primary: false, ..
                } => {
                    draft.uniques.push((constraint, vec![column.clone()]));
                }
                ast::ColumnOption::ForeignKey {
                    foreign_table,
                    referred_columns,
                    on_delete,
                    on_update,
                    ..
                } => {
                    referential(on_delete)?;
                    referential(on_update)?;
                    draft.fks.push((
                        constraint,
                        vec![column.clone()],
                        object_name(foreign_table)?,
                        referred_columns.iter().map(ident).collect(),
                    ));
                }
                ast::ColumnOption::Check(e) => draft.checks.push((
                    constraint.or_else(|| Some(format!("{name}_{column}_check"))),
                    e.clone(),
                )),
                ast::ColumnOption::Generated {
                    generated_as: ast::GeneratedAs::ByDefault,
                    generation_expr: None,
                    ..
                } => {
                    col.serial = true;
                    col.not_null = true;
                }
                other => return Err(unsupported(format!("the column option {other}"))),
            }
        }
        if col.serial && !matches!(ty, SqlType::Integer | SqlType::BigInt | SqlType::SmallInt) {
            return Err(unsupported("an identity column that is not an integer"));
        }
        if col.serial {
            col.not_null = true;
        }
        draft.table.columns.push(col);
    }
    for constraint in &create.constraints {
        match constraint {
            ast::TableConstraint::PrimaryKey { columns, .. } => {
                if draft.pk.is_some() {
                    return Err(err(
                        SqlState::Other("42P16"),
                        format!("multiple primary keys for table \"{name}\" are not allowed"),
                    ));
                }
                draft.pk = Some(columns.iter().map(ident).collect());
            }
            ast::TableConstraint::Unique {
                name: n, columns, ..
            } => draft
                .uniques
                .push((n.as_ref().map(ident), columns.iter().map(ident).collect())),
            ast::TableConstraint::ForeignKey {
                name: n,
                columns,
                foreign_table,
                referred_columns,
                on_delete,
                on_update,
                ..
            } => {
                referential(on_delete)?;
                referential(on_update)?;
                draft.fks.push((
                    n.as_ref().map(ident),
                    columns.iter().map(ident).collect(),
                    object_name(foreign_table)?,
                    referred_columns.iter().map(ident).collect(),
                ));
            }
            ast::TableConstraint::Check { name: n, expr } => {
                draft.checks.push((n.as_ref().map(ident), (**expr).clone()))
            }
            other => return Err(unsupported(format!("the table constraint {other}"))),
        }
    }
    let column_of = |table: &Table, c: &str| -> Result<usize, DbError> {
        table.column_index(c).ok_or_else(|| {
            err(
                SqlState::UndefinedColumn,
                format!("column \"{c}\" named in key does not exist"),
            )
        })
    };
    let pk = draft
        .pk
        .clone()
        .ok_or_else(|| unsupported("a table without a PRIMARY KEY"))?;
    let pk_cols = pk
        .iter()
        .map(|c| column_of(&draft.table, c))
        .collect::<Result<Vec<_>, _>>()?;
    for &c in &pk_cols {
        draft.table.columns[c].not_null = true;
    }
    draft.table.indexes.push(Index {
        name: format!("{name}_pkey"),
        columns: pk_cols,
        unique: true,
        prefix: format!("{name}/"),
    });
    for (n, cols) in &draft.uniques {
        let index_name = n
            .clone()
            .unwrap_or_else(|| format!("{name}_{}_key", cols.join("_")));
        check_name(&index_name)?;
        let columns = cols
            .iter()
            .map(|c| column_of(&draft.table, c))
            .collect::<Result<Vec<_>, _>>()?;
        draft.table.indexes.push(Index {
            prefix: format!("{name}@{index_name}/"),
            name: index_name,
            columns,
            unique: true,
        });
    }
    let scope_table = Arc::new(draft.table.clone());
    let mut scope = Scope::default();
    scope.add(&name, scope_table);
    for (n, e) in &draft.checks {
        let mut c = Compiler::new(&scope);
        let expr: Expr = c.compile(e)?;
        let check_name = n.clone().unwrap_or_else(|| {
            let mut first = None;
            expr.visit(&mut |x| {
                if let (Expr::Col(i), None) = (x, first) {
                    first = Some(*i);
                }
            });
            match first {
                Some(i) => format!("{name}_{}_check", draft.table.columns[i].name),
                None => format!("{name}_check"),
            }
        });
        draft.table.checks.push(Check {
            name: check_name,
            expr,
        });
    }
    let mut parents: Vec<(String, usize)> = Vec::new();
    for (n, cols, parent_name, referred) in &draft.fks {
        let columns = cols
            .iter()
            .map(|c| column_of(&draft.table, c))
            .collect::<Result<Vec<_>, _>>()?;
        let parent: &Table = if *parent_name == name {
            return Err(unsupported("a self-referencing foreign key"));
        } else {
            catalog.tables.get(parent_name).ok_or_else(|| {
                err(
                    SqlState::UndefinedTable,
                    format!("relation \"{parent_name}\" does not exist"),
                )
            })?
        };
        let parent_columns: Vec<usize> = if referred.is_empty() {
            parent.pk().to_vec()
        } else {
            referred
                .iter()
                .map(|c| column_of(parent, c))
                .collect::<Result<_, _>>()?
        };
        if parent_columns.len() != columns.len() {
            return Err(err(
                SqlState::Other("42830"),
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let mut wanted = parent_columns.clone();
        wanted.sort_unstable();
        let parent_index = parent
            .indexes
            .iter()
            .position(|idx| {
                let mut cols = idx.columns.clone();
                cols.sort_unstable();
                idx.unique && cols == wanted
            })
            .ok_or_else(|| {
                err(SqlState::Other("42830"), format!("there is no unique constraint matching given keys for referenced table \"{parent_name}\""))
            })?;
        let fk_name = n
            .clone()
            .unwrap_or_else(|| format!("{name}_{}_fkey", cols.join("_")));
        parents.push((parent_name.clone(), draft.table.foreign_keys.len()));
        draft.table.foreign_keys.push(ForeignKey {
            name: fk_name,
            columns,
            parent: parent_name.clone(),
            parent_index,
            parent_columns,
        });
    }
    match excludes {
        [] => {}
        [one] => {
            let group = column_of(&draft.table, &one.group)?;
            let range = column_of(&draft.table, &one.range)?;
            if !matches!(
                draft.table.columns[range].ty,
                SqlType::IntRange | SqlType::TsRange
            ) {
                return Err(unsupported(
                    "EXCLUDE ... WITH && on a column that is not a range",
                ));
            }
            draft.table.exclusion = Some(Exclusion {
                name: one
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{name}_{}_{}_excl", one.group, one.range)),
                group,
                range,
            });
        }
        _ => return Err(unsupported("more than one EXCLUDE constraint on a table")),
    }
    if let Some(x) = &draft.table.exclusion {
        db.store().add_range_exclusion(
            &name,
            draft.table.columns[x.group].name,
            draft.table.columns[x.range].name,
        );
    }
    for (parent_name, position) in parents {
        let parent = catalog.tables.get(&parent_name).expect("checked above");
        let mut updated = (**parent).clone();
        updated.referenced_by.push((name.clone(), position));
        catalog.tables.insert(parent_name, Arc::new(updated));
    }
    catalog.tables.insert(name, Arc::new(draft.table));
    Ok(())
}

/// Creates a secondary index and fills it from the committed rows (in a
/// transaction of its own; PostgreSQL's CREATE INDEX blocks writers, the
/// simulation expects it in setup, before concurrent work).
pub(crate) async fn create_index(db: &SqlDb, create: &ast::CreateIndex) -> Result<(), DbError> {
    if create.using.as_ref().is_some_and(|u| ident(u) != "btree")
        || create.predicate.is_some()
        || !create.include.is_empty()
        || create.concurrently
        || !create.with.is_empty()
        || create.nulls_distinct == Some(false)
    {
        return Err(unsupported(
            "CREATE INDEX other than a plain btree on columns",
        ));
    }
    let table_name = object_name(&create.table_name)?;
    let table = db.shared.table(&table_name)?;
    let mut columns = Vec::new();
    for c in &create.columns {
        let ast::Expr::Identifier(i) = &c.expr else {
            return Err(unsupported("an index on an expression"));
        };
        if c.options.asc == Some(false) || c.options.nulls_first.is_some() {
            return Err(unsupported("DESC / NULLS FIRST index columns"));
        }
        let name = ident(i);
        columns.push(table.column_index(&name).ok_or_else(|| {
            err(
                SqlState::UndefinedColumn,
                format!("column \"{name}\" does not exist"),
            )
        })?);
    }
    let index_name = match &create.name {
        Some(n) => object_name(n)?,
        None => {
            let cols: Vec<&str> = columns.iter().map(|&c| table.columns[c].name).collect();
            format!("{table_name}_{}_idx", cols.join("_"))
        }
    };
    check_name(&index_name)?;
    if table.indexes.iter().any(|i| i.name == index_name) {
        if create.if_not_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::DuplicateTable,
            format!("relation \"{index_name}\" already exists"),
        ));
    }
    let mut updated = (*table).clone();
    updated.indexes.push(Index {
        prefix: format!("{table_name}@{index_name}/"),
        name: index_name.clone(),
        columns,
        unique: create.unique,
    });
    let position = updated.indexes.len() - 1;
    // Backfill. An index made on an empty table (a schema's setup) needs
    // none, and no transaction that could commit or fail.
    if db.store().scan_committed(&updated.range()).is_empty() {
        db.shared
            .catalog()
            .tables
            .insert(table_name, Arc::new(updated));
        return Ok(());
    }
    let mut tx = db.store().begin(Isolation::ReadCommitted);
    tx.sql_start(Op::Scan, None, None).await?;
    let rows: Vec<_> = tx.sql_scan(&KeyRange::prefix(&updated.indexes[0].prefix))?;
    for (_, row) in rows {
        let values = updated.values_of(&row);
        let key = updated.index_key(position, &values);
        tx.sql_write(&key, WriteKind::Insert, Some(updated.entry_row(&values)))
            .await
            .map_err(|e| {
                if e.code == SqlState::UniqueViolation {
                    DbError::new(
                        SqlState::UniqueViolation,
                        format!("could not create unique index \"{index_name}\""),
                    )
                } else {
                    e
                }
            })?;
    }
    tx.commit().await?;
    db.shared
        .catalog()
        .tables
        .insert(table_name, Arc::new(updated));
    Ok(())
}
