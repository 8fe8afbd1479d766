//! CREATE TABLE, CREATE INDEX, DROP TABLE and DROP INDEX: the catalog
//! entries, the store's exclusion constraint, and the backfill of a new
//! index.

use super::catalog::{
    intern, Catalog, Check, Column, Exclusion, ForeignKey, Index, Table, ROW_ID, ROW_POSITION,
};
use super::deferred;
use super::expr::{ident, object_name, type_of, unsupported, Compiler, Expr, Scope};
use super::plan::ExcludeSpec;
use super::referential::Action;
use super::sequences;
use super::value::{err, SqlType};
use super::SqlDb;
use crate::store::{DbError, Isolation, KeyRange, Op, SqlState, WriteKind, HASH_INDEX};
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

/// A foreign key as written: name, columns, parent table, parent columns,
/// its ON DELETE and ON UPDATE actions, and whether it is deferrable.
type FkDraft = (
    Option<String>,
    Vec<String>,
    String,
    Vec<String>,
    (Action, Action),
    deferred::Deferrability,
);

/// A table being made: the catalog entry so far, and what its definition
/// asked for that is resolved once every column is known.
struct Draft {
    table: Table,
    pk: Option<Vec<String>>,
    uniques: Vec<(Option<String>, Vec<String>)>,
    fks: Vec<FkDraft>,
    checks: Vec<(Option<String>, ast::Expr)>,
    /// The sequence options of its identity columns, by column.
    identity_options: Vec<(String, sequences::Options)>,
    /// Generation expressions, compiled once every column is known.
    generation: Vec<(usize, ast::Expr)>,
}

/// Creates a table from its parsed definition.
pub(crate) fn create_table(
    db: &SqlDb,
    create: &ast::CreateTable,
    excludes: &[ExcludeSpec],
) -> Result<(), DbError> {
    refuse_unsupported_table(create)?;
    let name = object_name(&create.name)?;
    check_name(&name)?;
    let mut catalog = db.shared.catalog();
    if relation_exists(db, &catalog, &name)? {
        if create.if_not_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::DuplicateTable,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let mut draft = Draft {
        table: empty_table(&name),
        pk: None,
        uniques: Vec::new(),
        fks: Vec::new(),
        checks: Vec::new(),
        identity_options: Vec::new(),
        generation: Vec::new(),
    };
    for def in &create.columns {
        define_column(&mut draft, &name, def)?;
    }
    compile_generated_columns(&mut draft)?;
    for constraint in &create.constraints {
        add_table_constraint(&mut draft, &name, constraint)?;
    }
    add_primary_key(&mut draft, &name)?;
    add_unique_constraints(&mut draft, &name)?;
    compile_checks(&mut draft, &name)?;
    let parents = resolve_foreign_keys(&catalog, &mut draft, &name)?;
    draft.table.exclusion = exclusion_of(&draft.table, &name, excludes)?;
    // Prefixes are given out at the end, once the table is valid.
    assign_prefixes(&mut catalog, &mut draft.table, &name);
    if let Some(x) = &draft.table.exclusion {
        db.store().add_range_exclusion(
            draft.table.base(),
            draft.table.columns[x.group].name,
            draft.table.columns[x.range].name,
        );
    }
    link_to_parents(&mut catalog, &mut draft.table, &name, parents);
    // Its serial and identity columns' sequences.
    db.shared
        .adopt_serials(&catalog, &draft.table, &draft.identity_options)?;
    catalog.tables.insert(name, Arc::new(draft.table));
    Ok(())
}

/// Refuses the forms of CREATE TABLE the simulation does not model.
fn refuse_unsupported_table(create: &ast::CreateTable) -> Result<(), DbError> {
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
    if create.partition_by.is_some() {
        // Partitions (ATTACH, routing rows, per-partition locks) are not
        // modelled; a partitioned table taken as a plain one would run
        // what PostgreSQL refuses or routes elsewhere.
        return Err(unsupported("CREATE TABLE ... PARTITION BY (partitioning)"));
    }
    Ok(())
}

/// Whether a relation of this name exists (its schema must); a
/// sequence's name is a relation's name too, and so is a partition's.
fn relation_exists(db: &SqlDb, catalog: &Catalog, name: &str) -> Result<bool, DbError> {
    if let Some((schema, _)) = name.split_once('.') {
        if !catalog.schemas.contains(schema) {
            return Err(err(
                SqlState::Other("3F000"),
                format!("schema \"{schema}\" does not exist"),
            ));
        }
    }
    Ok(catalog.tables.contains_key(name)
        || catalog.partitions.contains_key(name)
        || super::lock(&db.shared.sequences).contains(name))
}

/// A table with no columns, keys or constraints yet.
fn empty_table(name: &str) -> Table {
    Table {
        name: name.to_string(),
        columns: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        exclusion: None,
        referenced_by: Vec::new(),
        heap: false,
        partitioning: None,
        triggers: Vec::new(),
        view: None,
    }
}

/// Adds one column as defined, with the constraints written on it.
fn define_column(draft: &mut Draft, name: &str, def: &ast::ColumnDef) -> Result<(), DbError> {
    let column = ident(&def.name);
    check_name(&column)?;
    if draft.table.column_index(&column).is_some() {
        return Err(err(
            SqlState::Other("42701"),
            format!("column \"{column}\" specified more than once"),
        ));
    }
    let type_text = def.data_type.to_string().to_ascii_lowercase();
    let serial = sequences::is_serial_type(&type_text);
    let ty = type_of(&def.data_type)?;
    let mut col = Column {
        name: intern(&column),
        ty,
        not_null: false,
        default: None,
        serial,
        always: false,
        generated: None,
    };
    let mut generation_expr = None;
    for opt in &def.options {
        if let Some(e) = apply_column_option(draft, name, &column, &mut col, opt)? {
            generation_expr = Some(e);
        }
    }
    if col.serial && !matches!(ty, SqlType::Integer | SqlType::BigInt | SqlType::SmallInt) {
        return Err(unsupported("an identity column that is not an integer"));
    }
    if let Some(e) = generation_expr {
        super::generated::check_options(
            name,
            &column,
            col.default.is_some() || serial,
            col.serial && !serial,
        )?;
        // A placeholder until the expression is compiled: it marks the
        // column generated for the others' expressions.
        col.generated = Some(Expr::Const(super::value::Value::Null));
        draft.generation.push((draft.table.columns.len(), e));
    }
    if col.serial {
        col.not_null = true;
    }
    draft.table.columns.push(col);
    Ok(())
}

/// Applies one option written on a column (NOT NULL, DEFAULT, a key, a
/// check, identity) to the column or the draft. Returns the generation
/// expression of a `GENERATED ALWAYS AS (...) STORED` column.
fn apply_column_option(
    draft: &mut Draft,
    name: &str,
    column: &str,
    col: &mut Column,
    opt: &ast::ColumnOptionDef,
) -> Result<Option<ast::Expr>, DbError> {
    let constraint = opt.name.as_ref().map(ident);
    if let Some(e) = super::generated::refused(&opt.option) {
        return Err(e);
    }
    match &opt.option {
        ast::ColumnOption::Generated {
            generated_as: ast::GeneratedAs::ExpStored,
            generation_expr: Some(e),
            ..
        } => return Ok(Some(e.clone())),
        ast::ColumnOption::Null => {}
        ast::ColumnOption::NotNull => col.not_null = true,
        ast::ColumnOption::Default(e) => col.default = Some(column_default(e)?),
        ast::ColumnOption::Unique {
            is_primary: true,
            characteristics,
        } => {
            deferred::unique_deferrability(characteristics)?;
            set_primary_key(draft, name, vec![column.to_string()])?;
        }
        ast::ColumnOption::Unique {
            is_primary: false,
            characteristics,
        } => {
            deferred::unique_deferrability(characteristics)?;
            draft.uniques.push((constraint, vec![column.to_string()]));
        }
        ast::ColumnOption::ForeignKey {
            foreign_table,
            referred_columns,
            on_delete,
            on_update,
            characteristics,
        } => {
            draft.fks.push((
                constraint,
                vec![column.to_string()],
                object_name(foreign_table)?,
                referred_columns.iter().map(ident).collect(),
                (Action::from_ast(on_delete), Action::from_ast(on_update)),
                deferred::deferrability(characteristics)?,
            ));
        }
        ast::ColumnOption::Check(e) => draft.checks.push((
            constraint.or_else(|| Some(format!("{name}_{column}_check"))),
            e.clone(),
        )),
        ast::ColumnOption::Generated {
            generated_as: generated @ (ast::GeneratedAs::ByDefault | ast::GeneratedAs::Always),
            generation_expr: None,
            sequence_options,
            ..
        } => {
            draft.identity_options.push((
                column.to_string(),
                sequences::options_of_ast(sequence_options.as_deref().unwrap_or_default())?,
            ));
            col.serial = true;
            col.not_null = true;
            col.always = *generated == ast::GeneratedAs::Always;
        }
        other => return Err(unsupported(format!("the column option {other}"))),
    }
    Ok(None)
}

/// Compiles a column's DEFAULT: a constant expression, no parameters.
pub(super) fn column_default(e: &ast::Expr) -> Result<Expr, DbError> {
    let scope = Scope::default();
    let mut c = Compiler::new(&scope);
    let compiled = c.compile(e)?;
    if c.params > 0 {
        return Err(err(SqlState::Other("42P02"), "there is no parameter $1"));
    }
    Ok(compiled)
}

/// Records the primary key's columns; a table has at most one.
fn set_primary_key(draft: &mut Draft, name: &str, columns: Vec<String>) -> Result<(), DbError> {
    if draft.pk.is_some() {
        return Err(err(
            SqlState::Other("42P16"),
            format!("multiple primary keys for table \"{name}\" are not allowed"),
        ));
    }
    draft.pk = Some(columns);
    Ok(())
}

/// Compiles the generated columns' expressions over the columns defined.
fn compile_generated_columns(draft: &mut Draft) -> Result<(), DbError> {
    let defined = Arc::new(draft.table.clone());
    for (c, e) in &draft.generation {
        let column = draft.table.columns[*c].name;
        draft.table.columns[*c].generated = Some(super::generated::compile(&defined, column, e)?);
    }
    Ok(())
}

/// Records a constraint written apart from the columns (PRIMARY KEY,
/// UNIQUE, FOREIGN KEY, CHECK), to be resolved with the others.
fn add_table_constraint(
    draft: &mut Draft,
    name: &str,
    constraint: &ast::TableConstraint,
) -> Result<(), DbError> {
    match constraint {
        ast::TableConstraint::PrimaryKey {
            columns,
            characteristics,
            ..
        } => {
            deferred::unique_deferrability(characteristics)?;
            set_primary_key(draft, name, columns.iter().map(ident).collect())?;
        }
        ast::TableConstraint::Unique {
            name: n,
            columns,
            characteristics,
            ..
        } => {
            deferred::unique_deferrability(characteristics)?;
            draft
                .uniques
                .push((n.as_ref().map(ident), columns.iter().map(ident).collect()))
        }
        ast::TableConstraint::ForeignKey {
            name: n,
            columns,
            foreign_table,
            referred_columns,
            on_delete,
            on_update,
            characteristics,
        } => {
            draft.fks.push((
                n.as_ref().map(ident),
                columns.iter().map(ident).collect(),
                object_name(foreign_table)?,
                referred_columns.iter().map(ident).collect(),
                (Action::from_ast(on_delete), Action::from_ast(on_update)),
                deferred::deferrability(characteristics)?,
            ));
        }
        ast::TableConstraint::Check { name: n, expr } => {
            draft.checks.push((n.as_ref().map(ident), (**expr).clone()))
        }
        other => return Err(unsupported(format!("the table constraint {other}"))),
    }
    Ok(())
}

/// The position of a column a key names.
fn key_column(table: &Table, c: &str) -> Result<usize, DbError> {
    table.column_index(c).ok_or_else(|| {
        err(
            SqlState::UndefinedColumn,
            format!("column \"{c}\" named in key does not exist"),
        )
    })
}

/// The positions of the columns a key names.
fn key_columns(table: &Table, names: &[String]) -> Result<Vec<usize>, DbError> {
    names.iter().map(|c| key_column(table, c)).collect()
}

/// Adds the table's first index: its primary key, or for a table without
/// one PostgreSQL's plain heap, whose rows are keyed by a hidden identity
/// (see `catalog::ROW_ID`).
fn add_primary_key(draft: &mut Draft, name: &str) -> Result<(), DbError> {
    let (pk_cols, pk_name) = match draft.pk.clone() {
        Some(pk) => {
            let pk_cols = key_columns(&draft.table, &pk)?;
            for &c in &pk_cols {
                draft.table.columns[c].not_null = true;
            }
            (pk_cols, format!("{name}_pkey"))
        }
        None => {
            draft.table.heap = true;
            draft.table.columns.push(Column {
                name: intern(ROW_ID),
                ty: SqlType::BigInt,
                not_null: true,
                default: None,
                serial: true,
                always: false,
                generated: None,
            });
            draft.table.columns.push(Column {
                name: intern(ROW_POSITION),
                ty: SqlType::BigInt,
                not_null: false,
                default: None,
                serial: false,
                always: false,
                generated: None,
            });
            (vec![draft.table.columns.len() - 2], format!("{name}_heap"))
        }
    };
    draft.table.indexes.push(Index {
        name: pk_name,
        columns: pk_cols,
        unique: true,
        prefix: String::new(),
        constraint: true,
        predicate: None,
        expressions: Vec::new(),
        hash: false,
    });
    Ok(())
}

/// Adds an index for each UNIQUE constraint.
fn add_unique_constraints(draft: &mut Draft, name: &str) -> Result<(), DbError> {
    for (n, cols) in &draft.uniques {
        let index_name = n
            .clone()
            .unwrap_or_else(|| format!("{name}_{}_key", cols.join("_")));
        check_name(&index_name)?;
        let columns = key_columns(&draft.table, cols)?;
        if draft.table.indexes.iter().any(|i| i.name == index_name) {
            return Err(err(
                SqlState::DuplicateTable,
                format!("relation \"{index_name}\" already exists"),
            ));
        }
        draft.table.indexes.push(Index {
            prefix: String::new(),
            name: index_name,
            columns,
            unique: true,
            constraint: true,
            predicate: None,
            expressions: Vec::new(),
            hash: false,
        });
    }
    Ok(())
}

/// Compiles the CHECK constraints over the table's columns, naming the
/// unnamed ones as PostgreSQL does (after the first column they read).
fn compile_checks(draft: &mut Draft, name: &str) -> Result<(), DbError> {
    let scope_table = Arc::new(draft.table.clone());
    let mut scope = Scope::default();
    scope.add(name, scope_table);
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
    Ok(())
}

/// Resolves each foreign key against its parent (the catalog's, or this
/// table for a self-reference) and adds it. Returns each parent's name
/// with the key's position, to record the reference on the parent.
fn resolve_foreign_keys(
    catalog: &Catalog,
    draft: &mut Draft,
    name: &str,
) -> Result<Vec<(String, usize)>, DbError> {
    let mut parents: Vec<(String, usize)> = Vec::new();
    for (n, cols, parent_name, referred, (on_delete, on_update), deferrability) in &draft.fks {
        let columns = key_columns(&draft.table, cols)?;
        let parent: &Table = if parent_name == name {
            // A self-referencing key: the parent is the table being made.
            &draft.table
        } else {
            parent_table(catalog, parent_name)?
        };
        let (parent_columns, parent_index) =
            referenced_key(parent, parent_name, referred, columns.len())?;
        super::generated::check_foreign_key(&draft.table, &columns, *on_delete, *on_update)?;
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
            on_delete: *on_delete,
            on_update: *on_update,
            deferrable: deferrability.deferrable,
            initially_deferred: deferrability.initially_deferred,
        });
    }
    Ok(parents)
}

/// The table a foreign key refers to (not a partition by itself).
fn parent_table<'a>(catalog: &'a Catalog, parent_name: &str) -> Result<&'a Table, DbError> {
    if catalog.partitions.contains_key(parent_name) {
        return Err(unsupported(format!(
            "a foreign key referring to the partition \"{parent_name}\" itself"
        )));
    }
    catalog
        .tables
        .get(parent_name)
        .map(|t| &**t)
        .ok_or_else(|| {
            err(
                SqlState::UndefinedTable,
                format!("relation \"{parent_name}\" does not exist"),
            )
        })
}

/// The parent's columns a foreign key refers to (its primary key when
/// none are named) and the position of the unique index over exactly
/// them, which must exist.
fn referenced_key(
    parent: &Table,
    parent_name: &str,
    referred: &[String],
    referencing: usize,
) -> Result<(Vec<usize>, usize), DbError> {
    let parent_columns: Vec<usize> = if referred.is_empty() {
        if parent.heap {
            return Err(err(
                SqlState::Other("42704"),
                format!("there is no primary key for referenced table \"{parent_name}\""),
            ));
        }
        parent.pk().to_vec()
    } else {
        key_columns(parent, referred)?
    };
    if parent_columns.len() != referencing {
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
            idx.unique && idx.predicate.is_none() && cols == wanted
        })
        .ok_or_else(|| {
            err(SqlState::Other("42830"), format!("there is no unique constraint matching given keys for referenced table \"{parent_name}\""))
        })?;
    Ok((parent_columns, parent_index))
}

/// The table's exclusion constraint (`EXCLUDE USING gist (g WITH =, r
/// WITH &&)`), at most one, over a range column.
fn exclusion_of(
    table: &Table,
    name: &str,
    excludes: &[ExcludeSpec],
) -> Result<Option<Exclusion>, DbError> {
    match excludes {
        [] => Ok(None),
        [one] => {
            let group = key_column(table, &one.group)?;
            let range = key_column(table, &one.range)?;
            if !matches!(
                table.columns[range].ty,
                SqlType::IntRange | SqlType::TsRange
            ) {
                return Err(unsupported(
                    "EXCLUDE ... WITH && on a column that is not a range",
                ));
            }
            Ok(Some(Exclusion {
                name: one
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{name}_{}_{}_excl", one.group, one.range)),
                group,
                range,
            }))
        }
        _ => Err(unsupported("more than one EXCLUDE constraint on a table")),
    }
}

/// Gives each index its key prefix in the store: the first (the primary
/// key or heap) the table's, the others derived from it and the index's
/// name.
fn assign_prefixes(catalog: &mut Catalog, table: &mut Table, name: &str) {
    let base = catalog.fresh_prefix(name);
    for (i, index) in table.indexes.iter_mut().enumerate() {
        index.prefix = if i == 0 {
            base.clone()
        } else {
            catalog.fresh_prefix(&format!("{}@{}", &base[..base.len() - 1], index.name))
        };
    }
}

/// Records on each parent that this table's foreign key refers to it.
fn link_to_parents(
    catalog: &mut Catalog,
    table: &mut Table,
    name: &str,
    parents: Vec<(String, usize)>,
) {
    for (parent_name, position) in parents {
        if parent_name == name {
            table.referenced_by.push((name.to_string(), position));
            continue;
        }
        let parent = catalog.tables.get(&parent_name).expect("checked above");
        let mut updated = (**parent).clone();
        updated.referenced_by.push((name.to_string(), position));
        catalog.tables.insert(parent_name, Arc::new(updated));
    }
}

/// Creates a secondary index and fills it from the committed rows (in a
/// transaction of its own; PostgreSQL's CREATE INDEX blocks writers, the
/// simulation expects it in setup, before concurrent work).
///
/// In a transaction block (`tx`), the backfill is the block's: its
/// entries go with a rollback, and its own uncommitted rows are indexed.
/// Returns the table and the index made (None: IF NOT EXISTS found one).
pub(crate) async fn create_index(
    db: &SqlDb,
    create: &ast::CreateIndex,
    tx: Option<&mut crate::store::Tx>,
) -> Result<Option<(String, String)>, DbError> {
    let hash = index_method_is_hash(create)?;
    let table_name = object_name(&create.table_name)?;
    if db.shared.catalog().partitions.contains_key(&table_name) {
        return Err(unsupported(format!(
            "CREATE INDEX on the partition \"{table_name}\" itself"
        )));
    }
    let table = db.shared.table(&table_name)?;
    let key = index_key(db, create, &table_name, &table)?;
    let index_name = match &create.name {
        Some(n) => object_name(n)?,
        None => super::exprindex::default_name(&table_name, &key.names, |name| {
            table.indexes.iter().any(|i| i.name == name)
                || db.shared.catalog().tables.contains_key(name)
        }),
    };
    check_name(&index_name)?;
    if table.indexes.iter().any(|i| i.name == index_name) {
        if create.if_not_exists {
            return Ok(None);
        }
        return Err(err(
            SqlState::DuplicateTable,
            format!("relation \"{index_name}\" already exists"),
        ));
    }
    let predicate = match &create.predicate {
        Some(p) => Some(index_predicate(&table_name, &table, p)?),
        None => None,
    };
    let mut updated = (*table).clone();
    updated.indexes.push(Index {
        prefix: db.shared.catalog().fresh_prefix(&format!(
            "{}@{index_name}{}",
            table.base(),
            if hash { HASH_INDEX } else { "" }
        )),
        name: index_name.clone(),
        columns: key.columns,
        unique: create.unique,
        constraint: false,
        predicate,
        expressions: key.expressions,
        hash,
    });
    // Backfill. An index made on an empty table (a schema's setup) needs
    // none, and no transaction that could commit or fail.
    let made = Some((table_name.clone(), index_name.clone()));
    if tx.is_some() || !db.store().scan_committed(&updated.range()).is_empty() {
        backfill_index(db, tx, &updated, &index_name).await?;
    }
    db.shared
        .catalog()
        .tables
        .insert(table_name, Arc::new(updated));
    Ok(made)
}

/// Whether the index is a hash index; refuses the access methods and
/// options the simulation does not model, and what PostgreSQL's hash
/// access method refuses: more than one key column, uniqueness, INCLUDE
/// (each 0A000 there too).
fn index_method_is_hash(create: &ast::CreateIndex) -> Result<bool, DbError> {
    let method = create.using.as_ref().map(ident);
    let hash = method.as_deref() == Some("hash");
    if !matches!(method.as_deref(), None | Some("btree" | "hash"))
        || create.concurrently
        || !create.with.is_empty()
        || create.nulls_distinct == Some(false)
    {
        return Err(unsupported(
            "CREATE INDEX other than a plain btree or hash index (USING gin/gist/brin/spgist, CONCURRENTLY, WITH, NULLS NOT DISTINCT)",
        ));
    }
    let refused = |what: &str| {
        err(
            SqlState::FeatureNotSupported,
            format!("access method \"hash\" does not support {what}"),
        )
    };
    if hash && create.unique {
        return Err(refused("unique indexes"));
    }
    if hash && !create.include.is_empty() {
        return Err(refused("included columns"));
    }
    if hash && create.columns.len() > 1 {
        return Err(refused("multicolumn indexes"));
    }
    Ok(hash)
}

/// The index's key: columns, or expressions over them (see `exprindex`),
/// checked against the table's partition key and INCLUDE columns.
fn index_key(
    db: &SqlDb,
    create: &ast::CreateIndex,
    table_name: &str,
    table: &Arc<Table>,
) -> Result<super::exprindex::KeyDef, DbError> {
    // (User functions are known, to refuse them with 0A000 rather than
    // say they do not exist.)
    let functions = db.shared.catalog().functions.clone();
    let key = super::plpgsql::with_functions(&functions, || {
        super::exprindex::key_def(table_name, table, &create.columns)
    })?;
    // A unique index of a partitioned table must include its partition
    // key, which makes per-partition uniqueness the table's (0A000 in
    // PostgreSQL otherwise).
    if let (true, Some(p)) = (create.unique, &table.partitioning) {
        if p.columns.iter().any(|c| !key.columns.contains(c)) {
            return Err(err(
                SqlState::FeatureNotSupported,
                "unique constraint on partitioned table must include all partitioning columns",
            ));
        }
    }
    // INCLUDE columns ride along for index-only scans; they change neither
    // uniqueness nor what a scan reads or locks.
    for c in &create.include {
        let name = ident(c);
        if table.column_index(&name).is_none() {
            return Err(err(
                SqlState::UndefinedColumn,
                format!("column \"{name}\" does not exist"),
            ));
        }
    }
    Ok(key)
}

/// Writes the new index's entries (the last of `updated`'s indexes) for
/// the rows the transaction sees: the block's (`tx`), or one of its own,
/// committed here.
async fn backfill_index(
    db: &SqlDb,
    tx: Option<&mut crate::store::Tx>,
    updated: &Table,
    index_name: &str,
) -> Result<(), DbError> {
    let position = updated.indexes.len() - 1;
    let mut own = None;
    let tx = match tx {
        Some(tx) => tx,
        None => {
            own = Some(db.store().begin(Isolation::ReadCommitted));
            own.as_mut().expect("just made")
        }
    };
    tx.sql_start(Op::Scan, None, None).await?;
    let rows: Vec<_> = tx.sql_scan(&KeyRange::prefix(&updated.indexes[0].prefix))?;
    for (_, row) in rows {
        let values = updated.values_of(&row);
        if !updated.has_entry(position, &values)? {
            continue;
        }
        let key = updated.index_key(position, &values)?;
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
    if let Some(own) = own.take() {
        own.commit().await?;
    }
    Ok(())
}

/// Compiles a partial index's `WHERE` over the table's columns. As in
/// PostgreSQL it may read only the row: no parameters, subqueries or
/// functions whose value changes between calls (`now()`, `random()`),
/// which would make whether a row has an entry change under it.
fn index_predicate(name: &str, table: &Arc<Table>, p: &ast::Expr) -> Result<Expr, DbError> {
    let mut scope = Scope::default();
    scope.add(name, table.clone());
    let mut c = Compiler::new(&scope);
    let expr = c.compile(p)?;
    if c.params > 0 {
        return Err(err(
            SqlState::Other("42P02"),
            "there is no parameter $1".to_string(),
        ));
    }
    // The same volatility rules as an index expression's (see
    // `exprindex`).
    let mut aggregate = false;
    expr.visit(&mut |x| aggregate |= matches!(x, Expr::Agg(_)));
    if aggregate || super::exprindex::non_immutable(&expr, table) {
        return Err(super::exprindex::not_immutable("predicate"));
    }
    Ok(expr)
}

/// `DROP TABLE`, `DROP INDEX` or `DROP SCHEMA` as parsed: the names
/// (folded), `IF EXISTS`, and `CASCADE`.
#[derive(Clone, Debug)]
pub(crate) struct DropSpec {
    pub(crate) index: bool,
    pub(crate) schema: bool,
    pub(crate) names: Vec<String>,
    pub(crate) if_exists: bool,
    pub(crate) cascade: bool,
}

/// Removes `child`'s foreign keys for which `gone` holds, and renumbers
/// the `referenced_by` entries of its remaining keys' parents.
fn drop_foreign_keys(catalog: &mut Catalog, child: &str, gone: impl Fn(&ForeignKey) -> bool) {
    let Some(table) = catalog.tables.get(child) else {
        return;
    };
    let mut updated = (**table).clone();
    let old = std::mem::take(&mut updated.foreign_keys);
    // (parent, old position, new position or None when dropped)
    let mut moves: Vec<(String, usize, Option<usize>)> = Vec::new();
    for (position, fk) in old.into_iter().enumerate() {
        if gone(&fk) {
            moves.push((fk.parent.clone(), position, None));
        } else {
            moves.push((
                fk.parent.clone(),
                position,
                Some(updated.foreign_keys.len()),
            ));
            updated.foreign_keys.push(fk);
        }
    }
    catalog.tables.insert(child.to_string(), Arc::new(updated));
    for (parent, from, to) in moves {
        let Some(p) = catalog.tables.get(&parent) else {
            continue;
        };
        let mut p = (**p).clone();
        p.referenced_by = p
            .referenced_by
            .into_iter()
            .filter_map(|(c, position)| match (c == child && position == from, to) {
                (true, None) => None,
                (true, Some(to)) => Some((c, to)),
                (false, _) => Some((c, position)),
            })
            .collect();
        catalog.tables.insert(parent, Arc::new(p));
    }
}

/// `DROP TABLE [IF EXISTS] name [, ...] [CASCADE | RESTRICT]`: without
/// CASCADE a table another table's foreign key refers to is not dropped
/// (2BP01); with it, those foreign keys go too, as in PostgreSQL. The rows
/// stay in the store under the old prefix, which no later table reuses.
fn drop_tables(db: &SqlDb, spec: &DropSpec) -> Result<Vec<String>, DbError> {
    let mut catalog = db.shared.catalog();
    let mut names: Vec<String> = Vec::new();
    let mut partitions: Vec<(String, String)> = Vec::new();
    for name in &spec.names {
        if let Some(parent) = catalog.partitions.get(name) {
            // A partition goes with its partitioned table.
            if spec.names.contains(parent) {
                continue;
            }
            // Alone, an empty one leaves its table's partitions; one with
            // rows would take them out of the table, which is not
            // modelled.
            let table = catalog.tables[parent].clone();
            if partition_has_rows(db, &table, name) {
                return Err(unsupported(format!(
                    "DROP TABLE of the partition \"{name}\" holding rows without its partitioned table \"{parent}\""
                )));
            }
            partitions.push((name.clone(), parent.clone()));
            continue;
        }
        if !catalog.tables.contains_key(name) {
            let is_index = catalog
                .tables
                .values()
                .any(|t| t.indexes.iter().skip(1).any(|i| i.name == *name));
            if is_index {
                return Err(err(
                    SqlState::Other("42809"),
                    format!("\"{name}\" is not a table"),
                ));
            }
            if spec.if_exists {
                continue;
            }
            return Err(err(
                SqlState::UndefinedTable,
                format!("table \"{name}\" does not exist"),
            ));
        }
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    for name in &names {
        let table = catalog.tables.get(name).expect("checked above").clone();
        let outside = table
            .referenced_by
            .iter()
            .find(|(child, _)| !names.contains(child));
        if let (Some((child, position)), false) = (outside, spec.cascade) {
            let fk = &catalog.tables[child].foreign_keys[*position];
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop table {name} because other objects depend on it (constraint {} on table {child} depends on table {name}; use DROP ... CASCADE to drop the dependent objects too)",
                    fk.name
                ),
            ));
        }
    }
    for (name, parent) in partitions {
        catalog.partitions.remove(&name);
        let mut table = (*catalog.tables[&parent]).clone();
        if let Some(p) = &table.partitioning {
            let mut p = (**p).clone();
            p.partitions.retain(|x| x.name != name);
            table.partitioning = Some(Arc::new(p));
        }
        catalog.tables.insert(parent, Arc::new(table));
    }
    for name in &names {
        let table = catalog.tables.remove(name).expect("checked above");
        if let Some(p) = &table.partitioning {
            for partition in p.names() {
                catalog.partitions.remove(partition);
            }
        }
        let children: Vec<String> = table.referenced_by.iter().map(|(c, _)| c.clone()).collect();
        for child in children {
            drop_foreign_keys(&mut catalog, &child, |fk| fk.parent == *name);
        }
        // Its own keys no longer refer to their parents.
        for fk in &table.foreign_keys {
            if let Some(parent) = catalog.tables.get(&fk.parent) {
                let mut parent = (**parent).clone();
                parent.referenced_by.retain(|(c, _)| c != name);
                catalog.tables.insert(fk.parent.clone(), Arc::new(parent));
            }
        }
    }
    // Its serial columns' sequences go with it: the caller forgets them
    // (at once, or at the commit of the block that dropped it).
    Ok(names)
}

/// Whether a committed row of the partitioned `table` belongs to its
/// partition `name` (the dropping statement holds ACCESS EXCLUSIVE on the
/// table, so no other writer's rows are uncommitted).
pub(crate) fn partition_has_rows(db: &SqlDb, table: &Table, name: &str) -> bool {
    let Some(p) = &table.partitioning else {
        return false;
    };
    let Some(at) = p.partitions.iter().position(|x| x.name == name) else {
        return false;
    };
    db.store()
        .scan_committed(&KeyRange::prefix(&table.indexes[0].prefix))
        .iter()
        .any(|(_, row)| p.route(&table.values_of(row)) == Some(at))
}

/// `DROP INDEX [IF EXISTS] name [, ...] [CASCADE | RESTRICT]`: an index
/// that a PRIMARY KEY or UNIQUE constraint owns cannot be dropped (2BP01),
/// nor without CASCADE one a foreign key relies on.
fn drop_indexes(db: &SqlDb, spec: &DropSpec) -> Result<(), DbError> {
    let mut catalog = db.shared.catalog();
    let mut found: Vec<(String, usize)> = Vec::new();
    for name in &spec.names {
        let at = catalog.tables.values().find_map(|t| {
            t.indexes
                .iter()
                .position(|i| i.name == *name)
                .map(|i| (t.clone(), i))
        });
        let Some((table, position)) = at else {
            if catalog.tables.contains_key(name) {
                return Err(err(
                    SqlState::Other("42809"),
                    format!("\"{name}\" is not an index"),
                ));
            }
            if spec.if_exists {
                continue;
            }
            return Err(err(
                SqlState::Other("42704"),
                format!("index \"{name}\" does not exist"),
            ));
        };
        let index = &table.indexes[position];
        if index.constraint || (table.heap && position == 0) {
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop index {name} because constraint {name} on table {} requires it",
                    table.name
                ),
            ));
        }
        let dependent = table
            .referenced_by
            .iter()
            .find(|(child, p)| catalog.tables[child].foreign_keys[*p].parent_index == position);
        if let (Some((child, p)), false) = (dependent, spec.cascade) {
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop index {name} because other objects depend on it (constraint {} on table {child} depends on index {name}; use DROP ... CASCADE to drop the dependent objects too)",
                    catalog.tables[child].foreign_keys[*p].name
                ),
            ));
        }
        found.push((table.name.clone(), position));
    }
    // Later positions first, so that the earlier ones stay valid.
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    found.dedup();
    for (table_name, position) in found {
        let table = catalog.tables[&table_name].clone();
        let children: Vec<String> = table.referenced_by.iter().map(|(c, _)| c.clone()).collect();
        for child in children {
            drop_foreign_keys(&mut catalog, &child, |fk| {
                fk.parent == table_name && fk.parent_index == position
            });
        }
        let mut updated = (*catalog.tables[&table_name]).clone();
        updated.indexes.remove(position);
        catalog.tables.insert(table_name.clone(), Arc::new(updated));
        // Foreign keys into this table name its indexes by position.
        let children: Vec<(String, usize)> = catalog.tables[&table_name].referenced_by.clone();
        for (child, p) in children {
            let mut c = (*catalog.tables[&child]).clone();
            if c.foreign_keys[p].parent_index > position {
                c.foreign_keys[p].parent_index -= 1;
            }
            catalog.tables.insert(child, Arc::new(c));
        }
    }
    Ok(())
}

/// `DROP TABLE`, `DROP INDEX` or `DROP SCHEMA`.
/// Returns the tables dropped, whose serial sequences, owner and grants
/// the caller forgets (see `DbShared::forget_serials`).
pub(crate) fn drop_objects(db: &SqlDb, spec: &DropSpec) -> Result<Vec<String>, DbError> {
    if spec.schema {
        drop_schemas(db, spec).map(|()| Vec::new())
    } else if spec.index {
        drop_indexes(db, spec).map(|()| Vec::new())
    } else {
        drop_tables(db, spec)
    }
}

/// The extensions booking services use that `CREATE EXTENSION` accepts:
/// btree_gist (the simulated gist already compares with `=`), pgcrypto
/// and uuid-ossp (whatever of their functions the engine supports is
/// built into its expressions, installed or not), and plpgsql (present in
/// every database).
pub(crate) const EXTENSIONS: [&str; 4] = ["btree_gist", "pgcrypto", "uuid-ossp", "plpgsql"];

/// `CREATE EXTENSION [IF NOT EXISTS] name`: 42710 when it is installed
/// already, unless IF NOT EXISTS.
pub(crate) fn create_extension(db: &SqlDb, name: &str, if_not_exists: bool) -> Result<(), DbError> {
    let mut catalog = db.shared.catalog();
    // plpgsql is installed in every PostgreSQL database.
    if name == "plpgsql" || !catalog.extensions.insert(name.to_string()) {
        if if_not_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::Other("42710"),
            format!("extension \"{name}\" already exists"),
        ));
    }
    Ok(())
}

/// `CREATE SCHEMA [IF NOT EXISTS] name`: its tables are named
/// `name.table` in the catalog; unqualified names (and `public.x`) are the
/// `public` schema's, as with PostgreSQL's default search path.
pub(crate) fn create_schema(db: &SqlDb, name: &str, if_not_exists: bool) -> Result<(), DbError> {
    check_name(name)?;
    if name.contains('.') {
        return Err(unsupported(format!("the schema name \"{name}\" (no '.')")));
    }
    let mut catalog = db.shared.catalog();
    if name == "public" || !catalog.schemas.insert(name.to_string()) {
        if if_not_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::Other("42P06"),
            format!("schema \"{name}\" already exists"),
        ));
    }
    Ok(())
}

/// `DROP SCHEMA [IF EXISTS] name [, ...] [CASCADE | RESTRICT]`: a schema
/// holding tables is dropped only with CASCADE (2BP01), which drops them
/// as `DROP TABLE ... CASCADE` does.
pub(crate) fn drop_schemas(db: &SqlDb, spec: &DropSpec) -> Result<(), DbError> {
    let mut tables = Vec::new();
    let mut schemas = Vec::new();
    {
        let catalog = db.shared.catalog();
        for name in &spec.names {
            if name == "public" {
                return Err(unsupported("DROP SCHEMA public"));
            }
            if !catalog.schemas.contains(name) {
                if spec.if_exists {
                    continue;
                }
                return Err(err(
                    SqlState::Other("3F000"),
                    format!("schema \"{name}\" does not exist"),
                ));
            }
            let prefix = format!("{name}.");
            let inside: Vec<String> = catalog
                .tables
                .keys()
                .filter(|t| t.starts_with(&prefix))
                .cloned()
                .collect();
            if !inside.is_empty() && !spec.cascade {
                return Err(err(
                    SqlState::Other("2BP01"),
                    format!(
                        "cannot drop schema {name} because other objects depend on it (table {} depends on schema {name}; use DROP ... CASCADE to drop the dependent objects too)",
                        inside[0]
                    ),
                ));
            }
            let sequence = super::lock(&db.shared.sequences).first_in_schema(name);
            if let (Some(sequence), false) = (sequence, spec.cascade) {
                return Err(err(
                    SqlState::Other("2BP01"),
                    format!(
                        "cannot drop schema {name} because other objects depend on it (sequence {sequence} depends on schema {name}; use DROP ... CASCADE to drop the dependent objects too)"
                    ),
                ));
            }
            tables.extend(inside);
            schemas.push(name.clone());
        }
    }
    if !tables.is_empty() {
        let dropped = drop_tables(
            db,
            &DropSpec {
                index: false,
                schema: false,
                names: tables,
                if_exists: false,
                cascade: true,
            },
        )?;
        for name in dropped {
            db.shared.forget_serials(&name);
        }
    }
    let mut catalog = db.shared.catalog();
    for name in schemas {
        super::lock(&db.shared.sequences).forget_schema(&name);
        catalog.schemas.remove(&name);
    }
    Ok(())
}
