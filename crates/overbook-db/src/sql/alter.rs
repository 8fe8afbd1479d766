//! `ALTER TABLE`: columns added, dropped, renamed, their defaults and NOT
//! NULL; constraints added (checked against the existing rows, or not with
//! `NOT VALID`), validated and dropped; the table renamed; storage
//! parameters accepted and ignored.
//!
//! It runs as PostgreSQL's does: it first takes the table lock of its
//! strongest action (ACCESS EXCLUSIVE for most; SHARE ROW EXCLUSIVE on
//! both tables for ADD FOREIGN KEY; SHARE UPDATE EXCLUSIVE for VALIDATE
//! CONSTRAINT and SET (...)), so it waits for, and blocks, the
//! transactions using the table; then it checks and rewrites the existing
//! rows in one transaction of its own, and changes the catalog only when
//! every action succeeded (an ALTER with several actions is atomic).
//! Like the engine's other DDL it runs outside transaction blocks only
//! (0A000 inside one).

use super::catalog::{intern, Check, Column, ForeignKey, Index, Table};
use super::deferred;
use super::expr::{ident, object_name, type_of, unsupported, Compiler, Env, Expr, Scope};
use super::funcs::Ctx;
use super::value::{coerce, err, Value};
use super::SqlDb;
use crate::store::{
    DbError, Isolation, Key, Op, Row, SqlState, TableLockMode, Timeouts, WriteKind,
};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Whether `sql` is an `ALTER TABLE` statement (which this module parses,
/// since sqlparser does not know `NOT VALID`, `VALIDATE CONSTRAINT` or
/// storage parameters).
pub(crate) fn is_alter_table(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("alter"))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("table"))
}

/// One action of an `ALTER TABLE`.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    AddColumn {
        def: ast::ColumnDef,
        if_not_exists: bool,
    },
    DropColumn {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    AddConstraint {
        constraint: ast::TableConstraint,
        not_valid: bool,
    },
    ValidateConstraint(String),
    DropConstraint {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    /// `ALTER COLUMN c SET DEFAULT e` / `DROP DEFAULT` (None).
    Default(String, Option<ast::Expr>),
    /// `ALTER COLUMN c SET NOT NULL` (true) / `DROP NOT NULL`.
    NotNull(String, bool),
    /// `ALTER COLUMN c DROP EXPRESSION [IF EXISTS]`: a generated column
    /// becomes a plain one, keeping its values.
    DropExpression(String, bool),
    RenameColumn(String, String),
    RenameTable(String),
    /// `SET (name = value, ...)` / `RESET (name, ...)`: storage and
    /// autovacuum parameters, which the store has nothing to apply to.
    StorageParameters,
    /// `OWNER TO role` (see `roles`).
    OwnerTo(String),
}

/// A parsed `ALTER TABLE [IF EXISTS] [ONLY] name action [, ...]`.
#[derive(Clone, Debug)]
pub(crate) struct AlterPlan {
    pub(crate) table: String,
    pub(crate) if_exists: bool,
    pub(crate) actions: Vec<Action>,
}

fn word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

fn syntax(message: impl std::fmt::Display) -> DbError {
    err(SqlState::SyntaxError, format!("syntax error: {message}"))
}

/// Parses an `ALTER TABLE` statement.
pub(crate) fn parse_alter(sql: &str) -> Result<AlterPlan, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(syntax)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut at = 2; // ALTER TABLE
    let mut if_exists = false;
    if tokens.get(at).is_some_and(|t| word(t, "IF"))
        && tokens.get(at + 1).is_some_and(|t| word(t, "EXISTS"))
    {
        if_exists = true;
        at += 2;
    }
    if tokens.get(at).is_some_and(|t| word(t, "ONLY")) {
        at += 1;
    }
    // The name: word (. word)*.
    let name_start = at;
    loop {
        if !matches!(tokens.get(at), Some(Token::Word(_))) {
            return Err(syntax("ALTER TABLE without a table name"));
        }
        at += 1;
        if matches!(tokens.get(at), Some(Token::Period)) {
            at += 1;
        } else {
            break;
        }
    }
    let name_text: String = tokens[name_start..at]
        .iter()
        .map(|t| t.to_string())
        .collect();
    if matches!(tokens.get(at), Some(Token::Mul)) {
        at += 1;
    }
    // The actions, split at top-level commas.
    let mut pieces: Vec<&[Token]> = Vec::new();
    let mut depth = 0i32;
    let mut start = at;
    for (i, t) in tokens.iter().enumerate().skip(at) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                pieces.push(&tokens[start..i]);
                start = i + 1;
            }
            Token::SemiColon | Token::EOF if depth == 0 => {
                pieces.push(&tokens[start..i]);
                start = usize::MAX;
                break;
            }
            _ => {}
        }
    }
    if start != usize::MAX {
        pieces.push(&tokens[start.min(tokens.len())..]);
    }
    let mut actions = Vec::new();
    for piece in pieces {
        if piece.is_empty() {
            return Err(syntax("an empty ALTER TABLE action"));
        }
        actions.push(parse_action(&name_text, piece)?);
    }
    let table = {
        let parsed =
            Parser::parse_sql(&dialect, &format!("DROP TABLE {name_text}")).map_err(syntax)?;
        match parsed.as_slice() {
            [ast::Statement::Drop { names, .. }] if names.len() == 1 => object_name(&names[0])?,
            _ => return Err(syntax("ALTER TABLE's table name")),
        }
    };
    Ok(AlterPlan {
        table,
        if_exists,
        actions,
    })
}

fn parse_action(name_text: &str, piece: &[Token]) -> Result<Action, DbError> {
    if let Some(action) = action_sqlparser_skips(piece) {
        return action;
    }
    let mut piece = piece.to_vec();
    let mut not_valid = false;
    let n = piece.len();
    if n >= 2 && word(&piece[n - 2], "NOT") && word(&piece[n - 1], "VALID") {
        not_valid = true;
        piece.truncate(n - 2);
    }
    let text: String = piece
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    if piece.iter().any(|t| word(t, "EXCLUDE")) {
        return Err(unsupported("ALTER TABLE ... ADD EXCLUDE"));
    }
    let sql = format!("ALTER TABLE {name_text} {text}");
    let dialect = PostgreSqlDialect {};
    let mut parsed = Parser::parse_sql(&dialect, &sql).map_err(syntax)?;
    let Some(ast::Statement::AlterTable { mut operations, .. }) = parsed.pop() else {
        return Err(syntax("ALTER TABLE"));
    };
    if operations.len() != 1 {
        return Err(syntax("ALTER TABLE action"));
    }
    action_of_operation(operations.pop().expect("one operation"), not_valid)
}

/// The actions read from the tokens, which sqlparser does not parse (or
/// parses into less than they say): VALIDATE CONSTRAINT, DROP EXPRESSION,
/// SET / RESET (storage parameters), OWNER TO. None: another action.
fn action_sqlparser_skips(piece: &[Token]) -> Option<Result<Action, DbError>> {
    let w = |i: usize, s: &str| piece.get(i).is_some_and(|t| word(t, s));
    let name_at = |t: &sqlparser::tokenizer::Word| {
        ident(&t.clone().into_ident(sqlparser::tokenizer::Span::empty()))
    };
    if w(0, "VALIDATE") && w(1, "CONSTRAINT") && piece.len() == 3 {
        if let Token::Word(x) = &piece[2] {
            return Some(Ok(Action::ValidateConstraint(name_at(x))));
        }
    }
    // `ALTER [COLUMN] c DROP EXPRESSION [IF EXISTS]`.
    let at = if w(1, "COLUMN") { 2 } else { 1 };
    if w(0, "ALTER") && w(at + 1, "DROP") && w(at + 2, "EXPRESSION") {
        let if_exists = w(at + 3, "IF") && w(at + 4, "EXISTS");
        let end = at + if if_exists { 5 } else { 3 };
        if let (Some(Token::Word(x)), true) = (piece.get(at), piece.len() == end) {
            return Some(Ok(Action::DropExpression(name_at(x), if_exists)));
        }
    }
    if (w(0, "SET") || w(0, "RESET")) && matches!(piece.get(1), Some(Token::LParen)) {
        return Some(Ok(Action::StorageParameters));
    }
    if w(0, "OWNER") && w(1, "TO") && piece.len() == 3 {
        return Some(match &piece[2] {
            Token::Word(x)
                if x.quote_style.is_none()
                    && ["current_user", "current_role", "session_user"]
                        .iter()
                        .any(|k| x.value.eq_ignore_ascii_case(k)) =>
            {
                Err(unsupported("OWNER TO CURRENT_USER / SESSION_USER"))
            }
            Token::Word(x) => Ok(Action::OwnerTo(name_at(x))),
            other => Err(syntax(format!("at or near \"{other}\""))),
        });
    }
    None
}

/// The action sqlparser parsed; `not_valid` (a trailing NOT VALID) is
/// for ADD CONSTRAINT of a CHECK or a foreign key only.
fn action_of_operation(op: ast::AlterTableOperation, not_valid: bool) -> Result<Action, DbError> {
    use ast::AlterTableOperation as O;
    let cascade = |b: &Option<ast::DropBehavior>| *b == Some(ast::DropBehavior::Cascade);
    let action = match op {
        O::AddColumn {
            if_not_exists,
            column_def,
            column_position: None,
            ..
        } => Action::AddColumn {
            def: column_def,
            if_not_exists,
        },
        O::DropColumn {
            column_name,
            if_exists,
            drop_behavior,
        } => Action::DropColumn {
            name: ident(&column_name),
            if_exists,
            cascade: cascade(&drop_behavior),
        },
        O::AddConstraint(constraint) => {
            if not_valid
                && !matches!(
                    constraint,
                    ast::TableConstraint::Check { .. } | ast::TableConstraint::ForeignKey { .. }
                )
            {
                return Err(err(
                    SqlState::FeatureNotSupported,
                    "constraints other than CHECK and FOREIGN KEY cannot be marked NOT VALID",
                ));
            }
            return Ok(Action::AddConstraint {
                constraint,
                not_valid,
            });
        }
        O::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => Action::DropConstraint {
            name: ident(&name),
            if_exists,
            cascade: cascade(&drop_behavior),
        },
        O::AlterColumn { column_name, op } => alter_column_action(ident(&column_name), op)?,
        O::RenameColumn {
            old_column_name,
            new_column_name,
        } => Action::RenameColumn(ident(&old_column_name), ident(&new_column_name)),
        O::RenameTable { table_name } => {
            let new = object_name(&table_name)?;
            if new.contains('.') {
                return Err(syntax("RENAME TO takes an unqualified name"));
            }
            Action::RenameTable(new)
        }
        other => return Err(unsupported(format!("ALTER TABLE ... {other}"))),
    };
    if not_valid {
        return Err(syntax(
            "NOT VALID after an action that is not ADD CONSTRAINT",
        ));
    }
    Ok(action)
}

/// `ALTER COLUMN c ...`: its NOT NULL or its default.
fn alter_column_action(c: String, op: ast::AlterColumnOperation) -> Result<Action, DbError> {
    Ok(match op {
        ast::AlterColumnOperation::SetNotNull => Action::NotNull(c, true),
        ast::AlterColumnOperation::DropNotNull => Action::NotNull(c, false),
        ast::AlterColumnOperation::SetDefault { value } => Action::Default(c, Some(value)),
        ast::AlterColumnOperation::DropDefault => Action::Default(c, None),
        other => return Err(unsupported(format!("ALTER TABLE ... ALTER COLUMN {other}"))),
    })
}

/// The table locks an ALTER takes, strongest per table, in the order
/// PostgreSQL takes them (the altered table first).
pub(crate) fn lock_modes(plan: &AlterPlan, table: &Table) -> Vec<(String, TableLockMode)> {
    let mut out: Vec<(String, TableLockMode)> =
        vec![(table.name.clone(), TableLockMode::AccessShare)];
    let mut want = |name: &str, mode: TableLockMode| match out.iter_mut().find(|(n, _)| n == name) {
        Some((_, m)) => *m = (*m).max(mode),
        None => out.push((name.to_string(), mode)),
    };
    for action in &plan.actions {
        match action {
            Action::StorageParameters => want(&table.name, TableLockMode::ShareUpdateExclusive),
            Action::OwnerTo(_) => want(&table.name, TableLockMode::AccessExclusive),
            Action::ValidateConstraint(name) => {
                want(&table.name, TableLockMode::ShareUpdateExclusive);
                if let Some(fk) = table.foreign_keys.iter().find(|fk| fk.name == *name) {
                    want(&fk.parent, TableLockMode::RowShare);
                }
            }
            Action::AddConstraint {
                constraint: ast::TableConstraint::ForeignKey { foreign_table, .. },
                ..
            } => {
                want(&table.name, TableLockMode::ShareRowExclusive);
                if let Ok(parent) = object_name(foreign_table) {
                    want(&parent, TableLockMode::ShareRowExclusive);
                }
            }
            _ => want(&table.name, TableLockMode::AccessExclusive),
        }
    }
    out
}

/// A row of the altered table as the actions reshape it.
struct Existing {
    key: Key,
    stored: Row,
    values: Vec<Value>,
}

/// What the actions change: the altered table and the others whose
/// catalog entries follow (parents and children of foreign keys).
struct Work<'a> {
    db: &'a SqlDb,
    tables: BTreeMap<String, Arc<Table>>,
    changed: BTreeSet<String>,
    name: String,
    table: Table,
    rows: Vec<Existing>,
    /// Constraints whose existing rows must be checked at the end (after
    /// the new columns got their values), by kind and name.
    validate: Vec<String>,
    renamed_from: Option<String>,
    /// (old, new) column names of the table renamed.
    renamed_columns: Vec<(String, &'static str)>,
    ctx: Ctx,
}

fn no_column(c: &str, t: &str) -> DbError {
    err(
        SqlState::UndefinedColumn,
        format!("column \"{c}\" of relation \"{t}\" does not exist"),
    )
}

impl Work<'_> {
    fn other(&self, name: &str) -> Result<Table, DbError> {
        if name == self.name {
            return Ok(self.table.clone());
        }
        self.tables.get(name).map(|t| (**t).clone()).ok_or_else(|| {
            err(
                SqlState::UndefinedTable,
                format!("relation \"{name}\" does not exist"),
            )
        })
    }

    fn put(&mut self, table: Table) {
        self.changed.insert(table.name.clone());
        self.tables.insert(table.name.clone(), Arc::new(table));
    }

    fn column(&self, c: &str) -> Result<usize, DbError> {
        self.table
            .column_index(c)
            .filter(|&i| i < self.table.visible())
            .ok_or_else(|| no_column(c, &self.name))
    }

    fn eval(&self, e: &Expr, row: &[Value]) -> Result<Value, DbError> {
        e.eval(&Env {
            row,
            params: &[],
            aggs: &[],
            ctx: &self.ctx,
        })
    }

    /// A constraint name PostgreSQL would make from `base`: `base`, or
    /// `base1`, `base2`, ... when that is taken.
    fn fresh_name(&self, base: &str) -> String {
        let taken =
            |n: &str| self.constraint_exists(n) || self.table.indexes.iter().any(|i| i.name == n);
        let mut candidate = base.to_string();
        let mut n = 0;
        while taken(&candidate) {
            n += 1;
            candidate = format!("{base}{n}");
        }
        candidate
    }

    fn constraint_exists(&self, name: &str) -> bool {
        let t = &self.table;
        t.checks.iter().any(|c| c.name == name)
            || t.foreign_keys.iter().any(|f| f.name == name)
            || t.indexes.iter().any(|i| i.constraint && i.name == name)
            || t.exclusion.as_ref().is_some_and(|x| x.name == name)
    }

    fn add_column(
        &mut self,
        def: &ast::ColumnDef,
        if_not_exists: bool,
        more: &mut Vec<Action>,
    ) -> Result<(), DbError> {
        let column = ident(&def.name);
        if column.is_empty() || column.contains(['/', '@']) {
            return Err(unsupported(format!(
                "the name \"{column}\" (no '/' or '@' in names)"
            )));
        }
        if self.table.column_index(&column).is_some() {
            if if_not_exists {
                return Ok(());
            }
            return Err(err(
                SqlState::Other("42701"),
                format!(
                    "column \"{column}\" of relation \"{}\" already exists",
                    self.name
                ),
            ));
        }
        let type_text = def.data_type.to_string().to_ascii_lowercase();
        let serial = super::sequences::is_serial_type(&type_text);
        let ty = type_of(&def.data_type)?;
        let mut col = Column {
            name: intern(&column),
            ty,
            not_null: serial,
            default: None,
            serial,
            always: false,
            generated: None,
        };
        let mut generation_expr = None;
        for opt in &def.options {
            if let Some(e) = self.column_option(opt, &column, &mut col, more)? {
                generation_expr = Some(e);
            }
        }
        if generation_expr.is_some() {
            super::generated::check_options(
                &self.name,
                &column,
                col.default.is_some() || serial,
                false,
            )?;
        }
        // A heap table's two hidden columns stay last.
        let at = self.table.visible();
        let moved = |c: usize| if c >= at { c + 1 } else { c };
        remap(&mut self.table, &moved);
        self.table.columns.insert(at, col.clone());
        if let Some(e) = &generation_expr {
            // Compiled over the table with the column in it, which marks
            // a reference to itself.
            let compiled = super::generated::compile(&Arc::new(self.table.clone()), col.name, e)?;
            self.table.columns[at].generated = Some(compiled.clone());
            col.generated = Some(compiled);
        }
        self.fill_new_column(at, &col)
    }

    /// Applies one option written on an added column: NOT NULL and
    /// DEFAULT to the column; its keys and checks become ADD CONSTRAINT
    /// actions in `more`. Returns the generation expression of a
    /// `GENERATED ALWAYS AS (...) STORED` column.
    fn column_option(
        &self,
        opt: &ast::ColumnOptionDef,
        column: &str,
        col: &mut Column,
        more: &mut Vec<Action>,
    ) -> Result<Option<ast::Expr>, DbError> {
        let cols = vec![ast::Ident::new(column)];
        if let Some(e) = super::generated::refused(&opt.option) {
            return Err(e);
        }
        let constraint = match &opt.option {
            ast::ColumnOption::Generated {
                generated_as: ast::GeneratedAs::ExpStored,
                generation_expr: Some(e),
                ..
            } => return Ok(Some(e.clone())),
            ast::ColumnOption::Null => return Ok(None),
            ast::ColumnOption::NotNull => {
                col.not_null = true;
                return Ok(None);
            }
            ast::ColumnOption::Default(e) => {
                col.default = Some(super::ddl::column_default(e)?);
                return Ok(None);
            }
            ast::ColumnOption::Unique {
                is_primary,
                characteristics,
            } => key_constraint(opt.name.clone(), *is_primary, *characteristics, cols),
            ast::ColumnOption::ForeignKey {
                foreign_table,
                referred_columns,
                on_delete,
                on_update,
                characteristics,
            } => ast::TableConstraint::ForeignKey {
                name: opt.name.clone(),
                columns: cols,
                foreign_table: foreign_table.clone(),
                referred_columns: referred_columns.clone(),
                on_delete: *on_delete,
                on_update: *on_update,
                characteristics: *characteristics,
            },
            ast::ColumnOption::Check(e) => ast::TableConstraint::Check {
                name: opt
                    .name
                    .clone()
                    .or_else(|| Some(ast::Ident::new(format!("{}_{column}_check", self.name)))),
                expr: Box::new(e.clone()),
            },
            other => {
                return Err(unsupported(format!(
                    "ALTER TABLE ... ADD COLUMN with {other}"
                )))
            }
        };
        more.push(Action::AddConstraint {
            constraint,
            not_valid: false,
        });
        Ok(None)
    }

    /// Gives each existing row its value of the column added at `at`.
    fn fill_new_column(&mut self, at: usize, col: &Column) -> Result<(), DbError> {
        let mut values = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            // Evaluated per row: a volatile default (random(),
            // gen_random_uuid(), a serial) gives each row its own value;
            // a generated column is computed from the row's values.
            let v = if let Some(e) = &col.generated {
                let mut with = row.values.clone();
                with.insert(at, Value::Null);
                let v = self.eval(e, &with)?;
                if v.is_null() {
                    v
                } else {
                    coerce(&v, col.ty)?
                }
            } else if col.serial {
                Value::Int(self.db.shared.next_serial(&self.table.name, col.name))
            } else {
                match &col.default {
                    Some(e) => coerce(&self.eval(e, &[])?, col.ty)?,
                    None => Value::Null,
                }
            };
            if col.not_null && v.is_null() {
                return Err(err(
                    SqlState::NotNullViolation,
                    format!(
                        "column \"{}\" of relation \"{}\" contains null values",
                        col.name, self.name
                    ),
                ));
            }
            values.push(v);
        }
        for (row, v) in self.rows.iter_mut().zip(values) {
            row.values.insert(at, v);
        }
        Ok(())
    }

    fn drop_column(&mut self, name: &str, if_exists: bool, cascade: bool) -> Result<(), DbError> {
        let Some(c) = self
            .table
            .column_index(name)
            .filter(|&i| i < self.table.visible())
        else {
            if if_exists {
                return Ok(());
            }
            return Err(no_column(name, &self.name));
        };
        if self.table.visible() == 1 && !self.table.heap && self.table.columns.len() == 1 {
            return Err(unsupported("dropping the last column of a table"));
        }
        if !self.table.heap && self.table.pk().contains(&c) {
            return Err(unsupported(
                "ALTER TABLE ... DROP COLUMN of a primary key column (the store keys rows by it)",
            ));
        }
        self.drop_referencing_keys(name, c, cascade)?;
        // The generated columns computed from it depend on it: without
        // CASCADE it is not dropped, with it they go too (dropped first,
        // the later ones first, so that `c` stays valid).
        let dependents = super::generated::dependents(&self.table, c);
        if let (Some(&d), false) = (dependents.first(), cascade) {
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop column {name} of table {} because other objects depend on it (column {} of table {} depends on column {name} of table {}; use DROP ... CASCADE to drop the dependent objects too)",
                    self.name, self.table.columns[d].name, self.name, self.name
                ),
            ));
        }
        if !dependents.is_empty() {
            for &d in dependents.iter().rev() {
                let dependent = self.table.columns[d].name;
                self.drop_column(dependent, false, true)?;
            }
            return self.drop_column(name, if_exists, cascade);
        }
        self.drop_what_uses(c)?;
        self.remove_column(c)
    }

    /// Drops the foreign keys of other tables on column `c` (`name`) with
    /// `cascade`; without it, any is 2BP01.
    fn drop_referencing_keys(
        &mut self,
        name: &str,
        c: usize,
        cascade: bool,
    ) -> Result<(), DbError> {
        let referencing: Vec<(String, usize)> = self
            .table
            .referenced_by
            .iter()
            .filter(|(child, p)| {
                self.other(child)
                    .is_ok_and(|t| t.foreign_keys[*p].parent_columns.contains(&c))
            })
            .cloned()
            .collect();
        if let (Some((child, p)), false) = (referencing.first(), cascade) {
            let fk = self.other(child)?.foreign_keys[*p].name.clone();
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop column {name} of table {} because other objects depend on it (constraint {fk} on table {child} depends on column {name} of table {}; use DROP ... CASCADE to drop the dependent objects too)",
                    self.name, self.name
                ),
            ));
        }
        for (child, p) in referencing {
            let fk = self.other(&child)?.foreign_keys[p].name.clone();
            self.drop_foreign_key(&child, &fk)?;
        }
        Ok(())
    }

    /// Drops what involves column `c`, as PostgreSQL does: its indexes
    /// and constraints (of several columns too). An EXCLUDE constraint's
    /// column is refused.
    fn drop_what_uses(&mut self, c: usize) -> Result<(), DbError> {
        let uses = |e: &Expr| {
            let mut found = false;
            e.visit(&mut |x| found |= matches!(x, Expr::Col(i) if *i == c));
            found
        };
        let doomed: Vec<String> = self
            .table
            .indexes
            .iter()
            .skip(1)
            .filter(|i| {
                i.columns.contains(&c)
                    || i.expressions.iter().any(|part| uses(&part.expr))
                    || i.predicate.as_ref().is_some_and(uses)
            })
            .map(|i| i.name.clone())
            .collect();
        for index in doomed {
            self.drop_index(&index, true)?;
        }
        let own: Vec<String> = self
            .table
            .foreign_keys
            .iter()
            .filter(|fk| fk.columns.contains(&c))
            .map(|fk| fk.name.clone())
            .collect();
        let me = self.name.clone();
        for fk in own {
            self.drop_foreign_key(&me, &fk)?;
        }
        self.table.checks.retain(|check| !uses(&check.expr));
        if self
            .table
            .exclusion
            .as_ref()
            .is_some_and(|x| x.group == c || x.range == c)
        {
            return Err(unsupported(
                "ALTER TABLE ... DROP COLUMN of an EXCLUDE constraint's column",
            ));
        }
        Ok(())
    }

    /// Removes column `c` from the table and its rows, and renumbers the
    /// columns after it here and in the foreign keys referring to them.
    fn remove_column(&mut self, c: usize) -> Result<(), DbError> {
        self.table.columns.remove(c);
        let moved = |i: usize| if i > c { i - 1 } else { i };
        remap(&mut self.table, &moved);
        for row in &mut self.rows {
            row.values.remove(c);
        }
        // Foreign keys of other tables refer to this table's columns by
        // position.
        for (child, p) in self.table.referenced_by.clone() {
            let mut t = self.other(&child)?;
            let fk = &mut t.foreign_keys[p];
            fk.parent_columns = fk.parent_columns.iter().map(|&i| moved(i)).collect();
            self.store_other(t);
        }
        Ok(())
    }

    /// Keeps `t` (another table, or this one) as changed.
    fn store_other(&mut self, t: Table) {
        if t.name == self.name {
            self.table = t;
        } else {
            self.put(t);
        }
    }

    /// Removes foreign key `fk` of table `child` and renumbers its
    /// parents' `referenced_by`.
    fn drop_foreign_key(&mut self, child: &str, fk: &str) -> Result<(), DbError> {
        let mut c = self.other(child)?;
        let Some(position) = c.foreign_keys.iter().position(|f| f.name == fk) else {
            return Ok(());
        };
        c.foreign_keys.remove(position);
        self.store_other(c);
        let parents: BTreeSet<String> = self
            .other(child)?
            .foreign_keys
            .iter()
            .map(|f| f.parent.clone())
            .chain(std::iter::once(self.name.clone()))
            .chain(
                self.tables
                    .values()
                    .filter(|t| t.referenced_by.iter().any(|(n, _)| n == child))
                    .map(|t| t.name.clone()),
            )
            .collect();
        for parent in parents {
            let Ok(mut p) = self.other(&parent) else {
                continue;
            };
            let before = p.referenced_by.clone();
            p.referenced_by = before
                .into_iter()
                .filter_map(|(n, i)| match (n == child, i.cmp(&position)) {
                    (true, std::cmp::Ordering::Equal) => None,
                    (true, std::cmp::Ordering::Greater) => Some((n, i - 1)),
                    _ => Some((n, i)),
                })
                .collect();
            self.store_other(p);
        }
        Ok(())
    }

    /// Removes index `name` of this table (not its primary key); the
    /// foreign keys of other tables that rely on it go too with
    /// `cascade`, else 2BP01.
    fn drop_index(&mut self, name: &str, cascade: bool) -> Result<(), DbError> {
        let Some(position) = self.table.indexes.iter().position(|i| i.name == name) else {
            return Ok(());
        };
        let dependent: Vec<(String, String)> = self
            .table
            .referenced_by
            .iter()
            .filter_map(|(child, p)| {
                let t = self.other(child).ok()?;
                (t.foreign_keys[*p].parent_index == position)
                    .then(|| (child.clone(), t.foreign_keys[*p].name.clone()))
            })
            .collect();
        if let (Some((child, fk)), false) = (dependent.first(), cascade) {
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop constraint {name} on table {} because other objects depend on it (constraint {fk} on table {child} depends on index {name}; use DROP ... CASCADE to drop the dependent objects too)",
                    self.name
                ),
            ));
        }
        for (child, fk) in dependent {
            self.drop_foreign_key(&child, &fk)?;
        }
        self.table.indexes.remove(position);
        for (child, p) in self.table.referenced_by.clone() {
            let mut t = self.other(&child)?;
            if t.foreign_keys[p].parent_index > position {
                t.foreign_keys[p].parent_index -= 1;
            }
            self.store_other(t);
        }
        Ok(())
    }

    fn add_constraint(
        &mut self,
        constraint: &ast::TableConstraint,
        not_valid: bool,
    ) -> Result<(), DbError> {
        match constraint {
            ast::TableConstraint::PrimaryKey {
                name,
                columns,
                characteristics,
                ..
            }
            | ast::TableConstraint::Unique {
                name,
                columns,
                characteristics,
                ..
            } => {
                deferred::unique_deferrability(characteristics)?;
                let primary = matches!(constraint, ast::TableConstraint::PrimaryKey { .. });
                self.add_unique(name.as_ref(), columns, primary)
            }
            ast::TableConstraint::Check { name, expr } => {
                self.add_check(name.as_ref(), expr, not_valid)
            }
            ast::TableConstraint::ForeignKey {
                name,
                columns,
                foreign_table,
                referred_columns,
                on_delete,
                on_update,
                characteristics,
            } => {
                let deferrability = deferred::deferrability(characteristics)?;
                let cols = self.key_columns(columns)?;
                let parent_name = object_name(foreign_table)?;
                if parent_name == self.name {
                    return Err(unsupported("a self-referencing foreign key"));
                }
                let parent = self.other(&parent_name)?;
                let (parent_columns, parent_index) =
                    referenced_key(&parent, &parent_name, referred_columns, cols.len())?;
                let fk_name = match name {
                    Some(n) => ident(n),
                    None => self.fresh_key_name(&cols, "fkey"),
                };
                if self.constraint_exists(&fk_name) {
                    return Err(self.duplicate(&fk_name));
                }
                let position = self.table.foreign_keys.len();
                self.table.foreign_keys.push(ForeignKey {
                    name: fk_name.clone(),
                    columns: cols,
                    parent: parent_name.clone(),
                    parent_index,
                    parent_columns,
                    on_delete: super::referential::Action::from_ast(on_delete),
                    on_update: super::referential::Action::from_ast(on_update),
                    deferrable: deferrability.deferrable,
                    initially_deferred: deferrability.initially_deferred,
                });
                let mut parent = parent;
                parent.referenced_by.push((self.name.clone(), position));
                self.put(parent);
                if !not_valid {
                    self.validate.push(fk_name);
                }
                Ok(())
            }
            other => Err(unsupported(format!("ALTER TABLE ... ADD {other}"))),
        }
    }

    /// The positions of the columns a key names.
    fn key_columns(&self, cols: &[ast::Ident]) -> Result<Vec<usize>, DbError> {
        cols.iter()
            .map(|c| {
                let c = ident(c);
                self.column(&c).map_err(|_| {
                    err(
                        SqlState::UndefinedColumn,
                        format!("column \"{c}\" named in key does not exist"),
                    )
                })
            })
            .collect()
    }

    /// The name PostgreSQL gives an unnamed key: table, columns, `suffix`.
    fn fresh_key_name(&self, cols: &[usize], suffix: &str) -> String {
        let names: Vec<&str> = cols.iter().map(|&c| self.table.columns[c].name).collect();
        self.fresh_name(&format!("{}_{}_{suffix}", self.name, names.join("_")))
    }

    fn duplicate(&self, name: &str) -> DbError {
        err(
            SqlState::Other("42710"),
            format!(
                "constraint \"{name}\" for relation \"{}\" already exists",
                self.name
            ),
        )
    }

    /// ADD PRIMARY KEY (of a heap table) or ADD UNIQUE: a unique index,
    /// whose entries the rewrite writes; a primary key's columns become
    /// NOT NULL.
    fn add_unique(
        &mut self,
        name: Option<&ast::Ident>,
        columns: &[ast::Ident],
        primary: bool,
    ) -> Result<(), DbError> {
        let t = self.name.clone();
        let cols = self.key_columns(columns)?;
        if primary && (!self.table.heap || self.has_primary_key()) {
            return Err(err(
                SqlState::Other("42P16"),
                format!("multiple primary keys for table \"{t}\" are not allowed"),
            ));
        }
        let index_name = match name {
            Some(n) => ident(n),
            None if primary => format!("{t}_pkey"),
            None => self.fresh_key_name(&cols, "key"),
        };
        if self.constraint_exists(&index_name) {
            return Err(self.duplicate(&index_name));
        }
        if self.table.indexes.iter().any(|i| i.name == index_name) {
            return Err(err(
                SqlState::DuplicateTable,
                format!("relation \"{index_name}\" already exists"),
            ));
        }
        if primary {
            for &c in &cols {
                if self.rows.iter().any(|r| r.values[c].is_null()) {
                    return Err(err(
                        SqlState::NotNullViolation,
                        format!(
                            "column \"{}\" of relation \"{t}\" contains null values",
                            self.table.columns[c].name
                        ),
                    ));
                }
                self.table.columns[c].not_null = true;
            }
        }
        let prefix = self
            .db
            .shared
            .catalog()
            .fresh_prefix(&format!("{}@{index_name}", self.table.base()));
        self.table.indexes.push(Index {
            name: index_name,
            columns: cols,
            unique: true,
            prefix,
            constraint: true,
            predicate: None,
            expressions: Vec::new(),
            hash: false,
        });
        Ok(())
    }

    /// ADD CHECK, named as PostgreSQL names it (after the first column
    /// it reads) when unnamed; the existing rows are checked at the end
    /// unless NOT VALID.
    fn add_check(
        &mut self,
        name: Option<&ast::Ident>,
        expr: &ast::Expr,
        not_valid: bool,
    ) -> Result<(), DbError> {
        let t = self.name.clone();
        let mut scope = Scope::default();
        scope.add(&t, Arc::new(self.table.clone()));
        let mut c = Compiler::new(&scope);
        let compiled: Expr = c.compile(expr)?;
        let check_name = match name {
            Some(n) => ident(n),
            None => {
                let mut first = None;
                compiled.visit(&mut |x| {
                    if let (Expr::Col(i), None) = (x, first) {
                        first = Some(*i);
                    }
                });
                self.fresh_name(&match first {
                    Some(i) => format!("{t}_{}_check", self.table.columns[i].name),
                    None => format!("{t}_check"),
                })
            }
        };
        if self.constraint_exists(&check_name) {
            return Err(self.duplicate(&check_name));
        }
        self.table.checks.push(Check {
            name: check_name.clone(),
            expr: compiled,
        });
        if !not_valid {
            self.validate.push(check_name);
        }
        Ok(())
    }

    /// A heap table's primary key added by ALTER TABLE: its unique index
    /// named as PostgreSQL names a primary key, on NOT NULL columns.
    fn has_primary_key(&self) -> bool {
        let pkey = format!("{}_pkey", self.name);
        self.table
            .indexes
            .iter()
            .skip(1)
            .any(|i| i.constraint && i.name == pkey)
    }

    /// Checks the existing rows against constraint `name` (a CHECK or a
    /// foreign key), as `VALIDATE CONSTRAINT` and a valid `ADD
    /// CONSTRAINT` do.
    async fn check_existing(
        &mut self,
        tx: &mut crate::store::Tx,
        name: &str,
    ) -> Result<(), DbError> {
        let t = self.name.clone();
        if let Some(check) = self.table.checks.iter().find(|c| c.name == name) {
            for row in &self.rows {
                if self.eval(&check.expr, &row.values)?.as_bool() == Some(false) {
                    return Err(err(
                        SqlState::CheckViolation,
                        format!("check constraint \"{name}\" of relation \"{t}\" is violated by some row"),
                    ));
                }
            }
            return Ok(());
        }
        let Some(fk) = self
            .table
            .foreign_keys
            .iter()
            .find(|f| f.name == name)
            .cloned()
        else {
            return Err(err(
                SqlState::Other("42704"),
                format!("constraint \"{name}\" of relation \"{t}\" does not exist"),
            ));
        };
        let parent = self.other(&fk.parent)?;
        let index = &parent.indexes[fk.parent_index];
        let mut present: BTreeSet<String> = BTreeSet::new();
        for (_, row) in tx.sql_scan(&parent.range())? {
            let values = parent.values_of(&row);
            let key: Vec<Value> = index.columns.iter().map(|&c| values[c].clone()).collect();
            present.insert(parent.index_prefix(fk.parent_index, &key));
        }
        for row in &self.rows {
            let mut parent_values = vec![Value::Null; parent.columns.len()];
            let mut null = false;
            for (&c, &pc) in fk.columns.iter().zip(&fk.parent_columns) {
                null |= row.values[c].is_null();
                parent_values[pc] = coerce(&row.values[c], parent.columns[pc].ty)?;
            }
            if null {
                continue;
            }
            let key: Vec<Value> = index
                .columns
                .iter()
                .map(|&c| parent_values[c].clone())
                .collect();
            if !present.contains(&parent.index_prefix(fk.parent_index, &key)) {
                return Err(err(
                    SqlState::ForeignKeyViolation,
                    format!("insert or update on table \"{t}\" violates foreign key constraint \"{name}\""),
                ));
            }
        }
        Ok(())
    }
}

/// The parent's columns a foreign key refers to (its primary key when
/// none are named) and the position of the unique index over exactly
/// them (not a heap's hidden key), which must exist.
fn referenced_key(
    parent: &Table,
    parent_name: &str,
    referred_columns: &[ast::Ident],
    referencing: usize,
) -> Result<(Vec<usize>, usize), DbError> {
    let parent_columns: Vec<usize> = if referred_columns.is_empty() {
        if parent.heap {
            return Err(err(
                SqlState::Other("42704"),
                format!("there is no primary key for referenced table \"{parent_name}\""),
            ));
        }
        parent.pk().to_vec()
    } else {
        referred_columns
            .iter()
            .map(|c| {
                let c = ident(c);
                parent.column_index(&c).filter(|&i| i < parent.visible()).ok_or_else(|| {
                    err(
                        SqlState::UndefinedColumn,
                        format!("column \"{c}\" referenced in foreign key constraint does not exist"),
                    )
                })
            })
            .collect::<Result<_, _>>()?
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
            let mut c = idx.columns.clone();
            c.sort_unstable();
            idx.unique && idx.predicate.is_none() && c == wanted
        })
        .filter(|&i| !(parent.heap && i == 0))
        .ok_or_else(|| {
            err(
                SqlState::Other("42830"),
                format!("there is no unique constraint matching given keys for referenced table \"{parent_name}\""),
            )
        })?;
    Ok((parent_columns, parent_index))
}

/// The PRIMARY KEY or UNIQUE constraint written on a column.
fn key_constraint(
    name: Option<ast::Ident>,
    is_primary: bool,
    characteristics: Option<ast::ConstraintCharacteristics>,
    columns: Vec<ast::Ident>,
) -> ast::TableConstraint {
    if is_primary {
        ast::TableConstraint::PrimaryKey {
            name,
            index_name: None,
            index_type: None,
            columns,
            index_options: Vec::new(),
            characteristics,
        }
    } else {
        ast::TableConstraint::Unique {
            name,
            index_name: None,
            index_type_display: ast::KeyOrIndexDisplay::None,
            index_type: None,
            columns,
            index_options: Vec::new(),
            characteristics,
            nulls_distinct: ast::NullsDistinctOption::None,
        }
    }
}

/// Moves every column number of `table` (indexes, foreign keys, checks,
/// index predicates, the exclusion constraint) by `f`.
fn remap(table: &mut Table, f: &impl Fn(usize) -> usize) {
    for index in &mut table.indexes {
        index.columns = index.columns.iter().map(|&c| f(c)).collect();
        index.predicate = index.predicate.as_ref().map(|p| p.map_columns(f));
        for part in &mut index.expressions {
            part.expr = part.expr.map_columns(f);
        }
    }
    for fk in &mut table.foreign_keys {
        fk.columns = fk.columns.iter().map(|&c| f(c)).collect();
    }
    for check in &mut table.checks {
        check.expr = check.expr.map_columns(f);
    }
    if let Some(x) = &mut table.exclusion {
        x.group = f(x.group);
        x.range = f(x.range);
    }
    for column in &mut table.columns {
        column.generated = column.generated.as_ref().map(|e| e.map_columns(f));
    }
}

/// Runs an `ALTER TABLE` (outside a transaction block).
/// `types`: the database's enum types, which column types and defaults
/// may name.
pub(crate) async fn alter_table(
    db: &SqlDb,
    plan: &AlterPlan,
    types: &BTreeMap<String, u32>,
    timeouts: Timeouts,
) -> Result<(), DbError> {
    let Ok(table) = db.shared.table(&plan.table) else {
        if plan.if_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::UndefinedTable,
            format!("relation \"{}\" does not exist", plan.table),
        ));
    };
    let locks = lock_modes(plan, &table);
    let mut tx = db.store().begin(Isolation::ReadCommitted);
    tx.set_timeouts(timeouts);
    let result = run(db, plan, types, &locks, &mut tx).await;
    // OWNER TO names an existing role, checked once the lock is held.
    let owners: Vec<&String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::OwnerTo(role) => Some(role),
            _ => None,
        })
        .collect();
    let result = result.and_then(|done| {
        let roles = super::lock(&db.shared.roles);
        match owners.iter().find(|r| !roles.exists(r)) {
            Some(missing) => Err(err(
                SqlState::Other("42704"),
                format!("role \"{missing}\" does not exist"),
            )),
            None => Ok(done),
        }
    });
    match result {
        Ok(done) => {
            tx.commit().await?;
            done();
            let mut roles = super::lock(&db.shared.roles);
            for role in owners {
                roles.set_owner(&plan.table, role)?;
            }
            Ok(())
        }
        Err(e) => {
            tx.rollback();
            Err(e)
        }
    }
}

/// `ALTER TABLE` inside a transaction block: the table locks, checks and
/// row rewrites in the block's `tx`; on success, what installs the new
/// catalog entries (None: `IF EXISTS` of a missing table). RENAME and
/// OWNER TO (whose sequences and owners live outside the catalog) are
/// 0A000 there.
pub(crate) async fn alter_in_block<'a>(
    db: &'a SqlDb,
    plan: &AlterPlan,
    types: &BTreeMap<String, u32>,
    tx: &mut crate::store::Tx,
) -> Result<Option<Box<dyn FnOnce() + Send + 'a>>, DbError> {
    if plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::RenameColumn(..) | Action::RenameTable(_) | Action::OwnerTo(_)
        )
    }) {
        return Err(super::expr::unsupported(
            "ALTER TABLE ... RENAME / OWNER TO inside a transaction block",
        ));
    }
    let Ok(table) = db.shared.table(&plan.table) else {
        if plan.if_exists {
            return Ok(None);
        }
        return Err(err(
            SqlState::UndefinedTable,
            format!("relation \"{}\" does not exist", plan.table),
        ));
    };
    let locks = lock_modes(plan, &table);
    run(db, plan, types, &locks, tx).await.map(Some)
}

/// Whether the actions read the table's rows (to check or rewrite them).
pub(crate) fn reads_rows(plan: &AlterPlan) -> bool {
    plan.actions.iter().any(|a| {
        !matches!(
            a,
            Action::StorageParameters
                | Action::OwnerTo(_)
                | Action::Default(..)
                | Action::DropConstraint { .. }
        )
    })
}

/// The actions in `tx` (which takes the table locks, checks and rewrites
/// the rows); on success, what installs the new catalog entries.
async fn run<'a>(
    db: &'a SqlDb,
    plan: &AlterPlan,
    types: &BTreeMap<String, u32>,
    locks: &[(String, TableLockMode)],
    tx: &mut crate::store::Tx,
) -> Result<Box<dyn FnOnce() + Send + 'a>, DbError> {
    tx.sql_lock_tables(locks, false).await?;
    // The catalog as it is once the locks are held.
    let tables = db.shared.catalog().tables.clone();
    let Some(table) = tables.get(&plan.table).cloned() else {
        return Err(err(
            SqlState::UndefinedTable,
            format!("relation \"{}\" does not exist", plan.table),
        ));
    };
    let original = (*table).clone();
    let needs_rows = reads_rows(plan);
    let mut rows = Vec::new();
    if needs_rows {
        tx.sql_start(Op::Scan, None, None).await?;
        for (key, stored) in tx.sql_scan(&original.range())? {
            let values = original.values_of(&stored);
            rows.push(Existing {
                key,
                stored,
                values,
            });
        }
    }
    let mut work = Work {
        db,
        tables,
        changed: BTreeSet::new(),
        name: original.name.clone(),
        table: original.clone(),
        rows,
        validate: Vec::new(),
        renamed_from: None,
        renamed_columns: Vec::new(),
        ctx: Ctx::new(db.store(), &db.shared, None),
    };
    let mut actions: Vec<Action> = plan.actions.clone();
    actions.reverse();
    while let Some(action) = actions.pop() {
        // Compiling a column type or an expression looks enum types up.
        super::types::with_types(types, || apply(&mut work, &action, &mut actions))?;
    }
    for name in std::mem::take(&mut work.validate) {
        work.check_existing(tx, &name).await?;
    }
    rewrite_rows(&mut work, &original, tx).await?;
    let Work {
        db,
        tables,
        changed,
        name,
        table,
        renamed_from,
        renamed_columns,
        ..
    } = work;
    Ok(Box::new(move || {
        let mut catalog = db.shared.catalog();
        if let Some(old) = &renamed_from {
            catalog.tables.remove(old);
            db.shared.rename_serials(old, &name);
        }
        for (old, new) in &renamed_columns {
            db.shared.rename_serial_column(&name, old, new);
        }
        for other in changed {
            if other != name {
                if let Some(t) = tables.get(&other) {
                    catalog.tables.insert(other, t.clone());
                }
            }
        }
        // A new serial column's sequence goes on after the values its
        // existing rows took; a dropped column's goes with it.
        // (Default options on an integer column: nothing to refuse.)
        db.shared
            .adopt_serials(&catalog, &table, &[])
            .expect("a serial column's default sequence is valid");
        catalog.tables.insert(name, Arc::new(table));
        drop(catalog);
        db.shared.clear_cache();
    }))
}

/// One action on the table being altered.
fn apply(work: &mut Work<'_>, action: &Action, actions: &mut Vec<Action>) -> Result<(), DbError> {
    match action {
        Action::AddColumn { def, if_not_exists } => {
            let mut more = Vec::new();
            work.add_column(def, *if_not_exists, &mut more)?;
            // Its inline constraints come right after it.
            actions.extend(more.into_iter().rev());
        }
        Action::DropColumn {
            name,
            if_exists,
            cascade,
        } => work.drop_column(name, *if_exists, *cascade)?,
        Action::AddConstraint {
            constraint,
            not_valid,
        } => work.add_constraint(constraint, *not_valid)?,
        Action::ValidateConstraint(name) => {
            if !work.table.checks.iter().any(|c| c.name == *name)
                && !work.table.foreign_keys.iter().any(|f| f.name == *name)
            {
                return Err(no_constraint(name, &work.name));
            }
            work.validate.push(name.clone());
        }
        Action::DropConstraint {
            name,
            if_exists,
            cascade,
        } => drop_constraint(work, name, *if_exists, *cascade)?,
        Action::DropExpression(column, if_exists) => drop_expression(work, column, *if_exists)?,
        Action::Default(column, default) => set_default(work, column, default.as_ref())?,
        Action::NotNull(column, true) => {
            let c = work.column(column)?;
            if work.rows.iter().any(|r| r.values[c].is_null()) {
                return Err(err(
                    SqlState::NotNullViolation,
                    format!(
                        "column \"{column}\" of relation \"{}\" contains null values",
                        work.name
                    ),
                ));
            }
            work.table.columns[c].not_null = true;
        }
        Action::NotNull(column, false) => drop_not_null(work, column)?,
        Action::RenameColumn(old, new) => rename_column(work, old, new)?,
        Action::RenameTable(new) => {
            let new = match work.name.split_once('.') {
                Some((schema, _)) => format!("{schema}.{new}"),
                None => new.clone(),
            };
            if work.tables.contains_key(&new)
                || work
                    .tables
                    .values()
                    .any(|t| t.indexes.iter().any(|i| i.name == new))
            {
                return Err(err(
                    SqlState::DuplicateTable,
                    format!("relation \"{new}\" already exists"),
                ));
            }
            rename_table(work, &new)?;
        }
        Action::StorageParameters | Action::OwnerTo(_) => {}
    }
    Ok(())
}

fn no_constraint(name: &str, table: &str) -> DbError {
    err(
        SqlState::Other("42704"),
        format!("constraint \"{name}\" of relation \"{table}\" does not exist"),
    )
}

/// `DROP CONSTRAINT`: a check, a foreign key, or a unique constraint's
/// index (with `cascade`, the foreign keys relying on it too).
fn drop_constraint(
    work: &mut Work<'_>,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> Result<(), DbError> {
    let t = &work.table;
    if let Some(i) = t.checks.iter().position(|c| c.name == *name) {
        work.table.checks.remove(i);
    } else if t.foreign_keys.iter().any(|f| f.name == *name) {
        let me = work.name.clone();
        work.drop_foreign_key(&me, name)?;
    } else if let Some(i) = t
        .indexes
        .iter()
        .position(|x| x.constraint && x.name == *name)
    {
        if i == 0 {
            return Err(unsupported(
                    "ALTER TABLE ... DROP CONSTRAINT of a primary key made with the table (the store keys rows by it)",
                ));
        }
        work.drop_index(name, cascade)?;
    } else if t.exclusion.as_ref().is_some_and(|x| x.name == *name) {
        return Err(unsupported(
            "ALTER TABLE ... DROP CONSTRAINT of an EXCLUDE constraint",
        ));
    } else if !if_exists {
        return Err(no_constraint(name, &work.name));
    }
    Ok(())
}

/// `ALTER COLUMN c DROP EXPRESSION`: a stored generated column becomes a
/// plain one, keeping its values.
fn drop_expression(work: &mut Work<'_>, column: &str, if_exists: bool) -> Result<(), DbError> {
    let c = work.column(column)?;
    if work.table.columns[c].generated.is_none() {
        // IF EXISTS: PostgreSQL's notice, and nothing done.
        if if_exists {
            return Ok(());
        }
        return Err(err(
            SqlState::Other("55000"),
            format!(
                "column \"{column}\" of relation \"{}\" is not a stored generated column",
                work.name
            ),
        ));
    }
    work.table.columns[c].generated = None;
    Ok(())
}

/// `ALTER COLUMN c SET DEFAULT` / `DROP DEFAULT` (not of a generated
/// column).
fn set_default(
    work: &mut Work<'_>,
    column: &str,
    default: Option<&ast::Expr>,
) -> Result<(), DbError> {
    let c = work.column(column)?;
    if work.table.columns[c].generated.is_some() {
        return Err(err(
            SqlState::SyntaxError,
            format!(
                "column \"{column}\" of relation \"{}\" is a generated column",
                work.name
            ),
        ));
    }
    work.table.columns[c].default = match default {
        None => None,
        Some(e) => Some(super::ddl::column_default(e)?),
    };
    Ok(())
}

/// `ALTER COLUMN c DROP NOT NULL`, refused for a primary key's column.
fn drop_not_null(work: &mut Work<'_>, column: &str) -> Result<(), DbError> {
    let c = work.column(column)?;
    let in_pk = (!work.table.heap && work.table.pk().contains(&c))
        || (work.has_primary_key()
            && work
                .table
                .indexes
                .iter()
                .any(|i| i.name == format!("{}_pkey", work.name) && i.columns.contains(&c)));
    if in_pk {
        return Err(err(
            SqlState::Other("42P16"),
            format!("column \"{column}\" is in a primary key"),
        ));
    }
    work.table.columns[c].not_null = false;
    Ok(())
}

/// `RENAME COLUMN old TO new`; the sequence of a serial column follows
/// once the catalog changes.
fn rename_column(work: &mut Work<'_>, old: &str, new: &str) -> Result<(), DbError> {
    let c = work.column(old)?;
    if work.table.column_index(new).is_some() {
        return Err(err(
            SqlState::Other("42701"),
            format!(
                "column \"{new}\" of relation \"{}\" already exists",
                work.name
            ),
        ));
    }
    if new.contains(['/', '@']) || new.is_empty() {
        return Err(unsupported(format!(
            "the name \"{new}\" (no '/' or '@' in names)"
        )));
    }
    let name = intern(new);
    work.renamed_columns.push((old.to_string(), name));
    work.table.columns[c].name = name;
    Ok(())
}

/// `RENAME TO`: the catalog name changes, and with it the names by which
/// foreign keys refer to the table (its rows keep their key prefix).
fn rename_table(work: &mut Work<'_>, new: &str) -> Result<(), DbError> {
    let old = work.name.clone();
    for (child, _) in work.table.referenced_by.clone() {
        if child == old {
            continue;
        }
        let mut t = work.other(&child)?;
        for fk in &mut t.foreign_keys {
            if fk.parent == old {
                fk.parent = new.to_string();
            }
        }
        work.put(t);
    }
    let parents: BTreeSet<String> = work
        .table
        .foreign_keys
        .iter()
        .map(|f| f.parent.clone())
        .collect();
    for parent in parents {
        let mut p = work.other(&parent)?;
        for (child, _) in &mut p.referenced_by {
            if *child == old {
                *child = new.to_string();
            }
        }
        work.put(p);
    }
    work.table.name = new.to_string();
    work.name = new.to_string();
    if work.renamed_from.is_none() {
        work.renamed_from = Some(old);
    }
    Ok(())
}

/// Writes the rows whose stored form changed (a column added, dropped or
/// renamed), fills the new indexes (23505 on a duplicate, as `could not
/// create unique index`), and rewrites the entries of the old ones when
/// the primary key columns they hold were renamed.
async fn rewrite_rows(
    work: &mut Work<'_>,
    original: &Table,
    tx: &mut crate::store::Tx,
) -> Result<(), DbError> {
    let table = work.table.clone();
    for row in &work.rows {
        let wanted = table.to_row(&row.values);
        if wanted != row.stored {
            tx.sql_write(&row.key, WriteKind::Update, Some(wanted))
                .await?;
        }
    }
    let pk_names =
        |t: &Table| -> Vec<&'static str> { t.pk().iter().map(|&c| t.columns[c].name).collect() };
    let entries_renamed = pk_names(&table) != pk_names(original);
    for (position, index) in table.indexes.iter().enumerate().skip(1) {
        let old = original.indexes.iter().any(|i| i.prefix == index.prefix);
        if old && !entries_renamed {
            continue;
        }
        for row in &work.rows {
            if !table.has_entry(position, &row.values)? {
                continue;
            }
            let key = table.index_key(position, &row.values)?;
            let kind = if old {
                WriteKind::Update
            } else {
                WriteKind::Insert
            };
            tx.sql_write(&key, kind, Some(table.entry_row(&row.values)))
                .await
                .map_err(|e| {
                    if e.code == SqlState::UniqueViolation {
                        err(
                            SqlState::UniqueViolation,
                            format!("could not create unique index \"{}\"", index.name),
                        )
                    } else {
                        e
                    }
                })?;
        }
    }
    Ok(())
}
