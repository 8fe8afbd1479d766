//! Sequences as PostgreSQL 15 has them: `CREATE SEQUENCE`, `ALTER
//! SEQUENCE`, `DROP SEQUENCE`, `nextval` / `currval` / `lastval` /
//! `setval`, the sequences `serial` and identity columns own, and
//! `pg_get_serial_sequence`.
//!
//! A sequence is not transactional: `nextval` and `setval` change it at
//! once for every session, a rolled-back transaction's values are not
//! given out again, and nothing waits for another session's `nextval` or
//! takes an SSI lock for it (PostgreSQL's sequence pages are not
//! MVCC-versioned). The state lives beside the catalog in the database's
//! shared state, so values depend only on the order statements run in,
//! which the simulation's seed fixes. `currval` and `lastval` are the
//! session's (the backend's, as a pooled connection keeps it).
//!
//! DDL on sequences runs outside transaction blocks, as the engine's
//! other DDL: PostgreSQL's `ALTER SEQUENCE` is transactional (and takes a
//! lock `nextval` waits for), which is not modelled, so inside a block it
//! is 0A000 naming it.

use super::catalog::{Catalog, Table, ROW_ID};
use super::expr::{unsupported, Expr};
use super::funcs::Builtin;
use super::value::{err, SqlType, Value};
use crate::store::{DbError, SessionId, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One sequence: its parameters and where it stands.
#[derive(Clone, Debug)]
pub(crate) struct Sequence {
    /// Unique for the database's life: a session's `currval` belongs to
    /// this sequence, not to a later one of the same name.
    id: u64,
    ty: SqlType,
    increment: i64,
    min: i64,
    max: i64,
    start: i64,
    cycle: bool,
    /// The last value given out (or, before the first `nextval`, the
    /// value the next one returns: `is_called` false).
    last_value: i64,
    is_called: bool,
    /// `OWNED BY table.column` (dropped with the table or column).
    owner: Option<Owner>,
}

/// The column a sequence belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owner {
    table: String,
    column: String,
    /// Made for a `serial` or identity column (its default or identity
    /// draws from it), not just `OWNED BY`.
    kind: OwnerKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerKind {
    /// `OWNED BY t.c` written by the user.
    Owned,
    /// A `serial` column's: its default depends on the sequence.
    Serial,
    /// An identity column's: the column requires it.
    Identity,
}

/// A session's `currval`s (by sequence id) and its `lastval` sequence.
#[derive(Default, Clone, Debug)]
struct SessionValues {
    current: BTreeMap<u64, i64>,
    last: Option<u64>,
}

/// The database's sequences and its sessions' `currval` state.
#[derive(Default, Clone, Debug)]
pub(crate) struct Sequences {
    by_name: BTreeMap<String, Sequence>,
    sessions: BTreeMap<SessionId, SessionValues>,
    next_id: u64,
}

fn type_range(ty: SqlType) -> (i64, i64) {
    match ty {
        SqlType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
        SqlType::Integer => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

fn type_name(ty: SqlType) -> &'static str {
    match ty {
        SqlType::SmallInt => "smallint",
        SqlType::Integer => "integer",
        _ => "bigint",
    }
}

fn invalid(message: String) -> DbError {
    err(SqlState::Other("22023"), message)
}

fn undefined(name: &str) -> DbError {
    err(
        SqlState::UndefinedTable,
        format!("relation \"{name}\" does not exist"),
    )
}

/// Options of `CREATE SEQUENCE` / `ALTER SEQUENCE` as written (`None`:
/// not given); `Some(None)` for `NO MINVALUE` / `NO MAXVALUE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    ty: Option<SqlType>,
    increment: Option<i64>,
    min: Option<Option<i64>>,
    max: Option<Option<i64>>,
    start: Option<i64>,
    /// `RESTART` (`Some(None)`: at the start value).
    restart: Option<Option<i64>>,
    cache: Option<i64>,
    cycle: Option<bool>,
    /// `OWNED BY t.c` (`Some(None)`: `OWNED BY NONE`).
    owned_by: Option<Option<(String, String)>>,
}

/// A sequence statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SequenceDdl {
    Create {
        name: String,
        if_not_exists: bool,
        options: Options,
    },
    Alter {
        name: String,
        if_exists: bool,
        options: Options,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
}

/// Whether `sql` is `CREATE [TEMP] SEQUENCE`, `ALTER SEQUENCE` or `DROP
/// SEQUENCE` (cheap: the first words).
pub(crate) fn is_sequence_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(str::to_ascii_lowercase)
        .collect();
    match words.as_slice() {
        [verb, what, ..] if what == "sequence" => {
            matches!(verb.as_str(), "create" | "alter" | "drop")
        }
        [create, temp, what] if create == "create" && what == "sequence" => {
            matches!(temp.as_str(), "temp" | "temporary" | "unlogged")
        }
        _ => false,
    }
}

/// Tokens of a statement without whitespace, with a cursor.
struct Words {
    tokens: Vec<Token>,
    at: usize,
    sql: String,
}

impl Words {
    fn new(sql: &str) -> Result<Words, DbError> {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize()
            .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
            .collect();
        Ok(Words {
            tokens,
            at: 0,
            sql: sql.trim().to_string(),
        })
    }

    fn peek_keyword(&self, k: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
    }

    /// Consumes the keywords `ks` if they come next (all of them).
    fn keywords(&mut self, ks: &[&str]) -> bool {
        let matches = ks.iter().enumerate().all(|(i, k)| {
            matches!(self.tokens.get(self.at + i), Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
        });
        if matches {
            self.at += ks.len();
        }
        matches
    }

    fn syntax(&self) -> DbError {
        let near = self
            .tokens
            .get(self.at)
            .map_or("end of input".to_string(), |t| format!("\"{t}\""));
        err(
            SqlState::SyntaxError,
            format!("syntax error at or near {near} (statement: {})", self.sql),
        )
    }

    fn ident(&mut self) -> Result<String, DbError> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => {
                self.at += 1;
                Ok(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_ascii_lowercase()
                })
            }
            _ => Err(self.syntax()),
        }
    }

    /// `name` or `schema.name` (`public.name` is `name`), as the catalog
    /// names tables.
    fn name(&mut self) -> Result<String, DbError> {
        let first = self.ident()?;
        if matches!(self.tokens.get(self.at), Some(Token::Period)) {
            self.at += 1;
            let second = self.ident()?;
            if matches!(self.tokens.get(self.at), Some(Token::Period)) {
                return Err(unsupported(format!(
                    "a name with more than two parts (statement: {})",
                    self.sql
                )));
            }
            return Ok(qualified(&first, &second));
        }
        Ok(first)
    }

    fn number(&mut self) -> Result<i64, DbError> {
        let negative = match self.tokens.get(self.at) {
            Some(Token::Minus) => {
                self.at += 1;
                true
            }
            Some(Token::Plus) => {
                self.at += 1;
                false
            }
            _ => false,
        };
        match self.tokens.get(self.at) {
            Some(Token::Number(text, _)) => {
                self.at += 1;
                let text = if negative {
                    format!("-{text}")
                } else {
                    text.clone()
                };
                text.parse().map_err(|_| {
                    err(
                        SqlState::NumericValueOutOfRange,
                        format!("value \"{text}\" is out of range for type bigint"),
                    )
                })
            }
            _ => Err(self.syntax()),
        }
    }

    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }
}

fn qualified(schema: &str, name: &str) -> String {
    if schema == "public" {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

/// Parses the options of `CREATE SEQUENCE` (`alter` false) or `ALTER
/// SEQUENCE`, in any order as PostgreSQL takes them.
fn parse_options(words: &mut Words, alter: bool) -> Result<Options, DbError> {
    let mut o = Options::default();
    let conflicting = |words: &Words| {
        err(
            SqlState::SyntaxError,
            format!(
                "conflicting or redundant options (statement: {})",
                words.sql
            ),
        )
    };
    while !words.done() {
        if words.keywords(&["as"]) {
            if o.ty.replace(parse_type(words)?).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["increment"]) {
            words.keywords(&["by"]);
            if o.increment.replace(words.number()?).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["minvalue"]) {
            if o.min.replace(Some(words.number()?)).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["no", "minvalue"]) {
            if o.min.replace(None).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["maxvalue"]) {
            if o.max.replace(Some(words.number()?)).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["no", "maxvalue"]) {
            if o.max.replace(None).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["start"]) {
            words.keywords(&["with"]);
            if o.start.replace(words.number()?).is_some() {
                return Err(conflicting(words));
            }
        } else if alter && words.keywords(&["restart"]) {
            if o.restart.replace(parse_restart(words)?).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["cache"]) {
            if o.cache.replace(words.number()?).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["cycle"]) {
            if o.cycle.replace(true).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["no", "cycle"]) {
            if o.cycle.replace(false).is_some() {
                return Err(conflicting(words));
            }
        } else if words.keywords(&["owned", "by"]) {
            if o.owned_by.replace(parse_owned_by(words)?).is_some() {
                return Err(conflicting(words));
            }
        } else if words.peek_keyword("rename")
            || words.peek_keyword("set")
            || words.peek_keyword("owner")
        {
            return Err(unsupported(format!(
                "this form of ALTER SEQUENCE (statement: {})",
                words.sql
            )));
        } else {
            return Err(words.syntax());
        }
    }
    Ok(o)
}

/// The type of `AS type`, after AS.
fn parse_type(words: &mut Words) -> Result<SqlType, DbError> {
    let name = words.ident()?;
    Ok(match name.as_str() {
        "smallint" | "int2" => SqlType::SmallInt,
        "integer" | "int" | "int4" => SqlType::Integer,
        "bigint" | "int8" => SqlType::BigInt,
        _ => {
            return Err(invalid(
                "sequence type must be smallint, integer, or bigint".into(),
            ))
        }
    })
}

/// Where `RESTART [[WITH] n]` puts the sequence, after RESTART (`None`:
/// at its start value).
fn parse_restart(words: &mut Words) -> Result<Option<i64>, DbError> {
    Ok(
        if words.keywords(&["with"])
            || matches!(
                words.tokens.get(words.at),
                Some(Token::Number(..) | Token::Minus | Token::Plus)
            )
        {
            Some(words.number()?)
        } else {
            None
        },
    )
}

/// The column of `OWNED BY [schema.]table.column` (`None`: `OWNED BY
/// NONE`), after OWNED BY.
fn parse_owned_by(words: &mut Words) -> Result<Option<(String, String)>, DbError> {
    if words.keywords(&["none"]) {
        return Ok(None);
    }
    let first = words.ident()?;
    if !matches!(words.tokens.get(words.at), Some(Token::Period)) {
        return Err(err(
            SqlState::Other("42601"),
            "invalid OWNED BY option".to_string(),
        ));
    }
    words.at += 1;
    let second = words.ident()?;
    if matches!(words.tokens.get(words.at), Some(Token::Period)) {
        words.at += 1;
        let third = words.ident()?;
        Ok(Some((qualified(&first, &second), third)))
    } else {
        Ok(Some((first, second)))
    }
}

/// Parses a sequence statement (see [`is_sequence_ddl`]).
pub(crate) fn parse(sql: &str) -> Result<SequenceDdl, DbError> {
    let mut words = Words::new(sql)?;
    if words.keywords(&["create"]) {
        if ["temp", "temporary", "unlogged"]
            .iter()
            .any(|k| words.peek_keyword(k))
        {
            return Err(unsupported(format!(
                "a temporary or unlogged sequence (statement: {})",
                words.sql
            )));
        }
        words.keywords(&["sequence"]);
        let if_not_exists = words.keywords(&["if", "not", "exists"]);
        let name = words.name()?;
        let options = parse_options(&mut words, false)?;
        return Ok(SequenceDdl::Create {
            name,
            if_not_exists,
            options,
        });
    }
    if words.keywords(&["alter", "sequence"]) {
        let if_exists = words.keywords(&["if", "exists"]);
        let name = words.name()?;
        let options = parse_options(&mut words, true)?;
        return Ok(SequenceDdl::Alter {
            name,
            if_exists,
            options,
        });
    }
    if words.keywords(&["drop", "sequence"]) {
        let if_exists = words.keywords(&["if", "exists"]);
        let mut names = vec![words.name()?];
        while matches!(words.tokens.get(words.at), Some(Token::Comma)) {
            words.at += 1;
            names.push(words.name()?);
        }
        let cascade = words.keywords(&["cascade"]);
        if !cascade {
            words.keywords(&["restrict"]);
        }
        if !words.done() {
            return Err(words.syntax());
        }
        return Ok(SequenceDdl::Drop {
            names,
            if_exists,
            cascade,
        });
    }
    Err(words.syntax())
}

/// A sequence's parameters from `options` over `base` (the defaults for
/// a new one, its parameters for ALTER), checked as PostgreSQL's
/// `init_params` checks them.
fn apply_options(base: Option<&Sequence>, options: &Options) -> Result<Params, DbError> {
    let old_ty = base.map_or(SqlType::BigInt, |s| s.ty);
    let ty = options.ty.unwrap_or(old_ty);
    let increment = options.increment.or(base.map(|s| s.increment)).unwrap_or(1);
    if increment == 0 {
        return Err(invalid("INCREMENT must not be zero".into()));
    }
    let (min, max) = bounds(base, options, ty, increment)?;
    let start = options
        .start
        .or(base.map(|s| s.start))
        .unwrap_or(if increment > 0 { min } else { max });
    if start < min {
        return Err(invalid(format!(
            "START value ({start}) cannot be less than MINVALUE ({min})"
        )));
    }
    if start > max {
        return Err(invalid(format!(
            "START value ({start}) cannot be greater than MAXVALUE ({max})"
        )));
    }
    let restart = options.restart.map(|at| at.unwrap_or(start));
    // The value the sequence stands at is checked against the new bounds
    // (PostgreSQL reports it as the RESTART value either way).
    let current = restart.or(base.map(|s| s.last_value)).unwrap_or(start);
    if current < min {
        return Err(invalid(format!(
            "RESTART value ({current}) cannot be less than MINVALUE ({min})"
        )));
    }
    if current > max {
        return Err(invalid(format!(
            "RESTART value ({current}) cannot be greater than MAXVALUE ({max})"
        )));
    }
    if let Some(cache) = options.cache {
        if cache <= 0 {
            return Err(invalid(format!(
                "CACHE ({cache}) must be greater than zero"
            )));
        }
    }
    let cycle = options.cycle.or(base.map(|s| s.cycle)).unwrap_or(false);
    Ok(Params {
        ty,
        increment,
        min,
        max,
        start,
        cycle,
        restart,
    })
}

/// MINVALUE and MAXVALUE of a sequence of type `ty` stepping by
/// `increment`: as given, else kept from `base`, else the defaults.
fn bounds(
    base: Option<&Sequence>,
    options: &Options,
    ty: SqlType,
    increment: i64,
) -> Result<(i64, i64), DbError> {
    let old_ty = base.map_or(SqlType::BigInt, |s| s.ty);
    let (type_min, type_max) = type_range(ty);
    let (old_type_min, old_type_max) = type_range(old_ty);
    // A bound that was its type's limit follows a changed type, as
    // PostgreSQL's ALTER SEQUENCE ... AS does.
    let max = match options.max {
        Some(Some(v)) => v,
        Some(None) => {
            if increment > 0 {
                type_max
            } else {
                -1
            }
        }
        None => match base {
            Some(s) if s.max != old_type_max || options.ty.is_none() => s.max,
            _ if increment > 0 => type_max,
            _ => -1,
        },
    };
    if max < type_min || max > type_max {
        return Err(invalid(format!(
            "MAXVALUE ({max}) is out of range for sequence data type {}",
            type_name(ty)
        )));
    }
    let min = match options.min {
        Some(Some(v)) => v,
        Some(None) => {
            if increment > 0 {
                1
            } else {
                type_min
            }
        }
        None => match base {
            Some(s) if s.min != old_type_min || options.ty.is_none() => s.min,
            _ if increment > 0 => 1,
            _ => type_min,
        },
    };
    if min < type_min || min > type_max {
        return Err(invalid(format!(
            "MINVALUE ({min}) is out of range for sequence data type {}",
            type_name(ty)
        )));
    }
    if min >= max {
        return Err(invalid(format!(
            "MINVALUE ({min}) must be less than MAXVALUE ({max})"
        )));
    }
    Ok((min, max))
}

/// A sequence's checked parameters, and where ALTER's `RESTART` puts it.
struct Params {
    ty: SqlType,
    increment: i64,
    min: i64,
    max: i64,
    start: i64,
    cycle: bool,
    restart: Option<i64>,
}

impl Params {
    /// A new sequence with these parameters, not yet called.
    fn sequence(&self, id: u64, owner: Option<Owner>) -> Sequence {
        Sequence {
            id,
            ty: self.ty,
            increment: self.increment,
            min: self.min,
            max: self.max,
            start: self.start,
            cycle: self.cycle,
            last_value: self.start,
            is_called: false,
            owner,
        }
    }
}

/// The owner `OWNED BY t.c` names, checked against the catalog.
fn owner_of(
    catalog: &Catalog,
    owned_by: &Option<(String, String)>,
) -> Result<Option<Owner>, DbError> {
    let Some((table, column)) = owned_by else {
        return Ok(None);
    };
    let t = catalog.tables.get(table).ok_or_else(|| undefined(table))?;
    if t.column_index(column).is_none() || column == ROW_ID {
        return Err(err(
            SqlState::UndefinedColumn,
            format!("column \"{column}\" of relation \"{table}\" does not exist"),
        ));
    }
    Ok(Some(Owner {
        table: table.clone(),
        column: column.clone(),
        kind: OwnerKind::Owned,
    }))
}

impl Sequences {
    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The sequence named `name`, as it stands (what a block's ALTER
    /// SEQUENCE keeps to undo, see `ddlblock`).
    pub(crate) fn get(&self, name: &str) -> Option<Sequence> {
        self.by_name.get(name).cloned()
    }

    /// Puts a sequence back as it was (a rolled-back ALTER SEQUENCE).
    pub(crate) fn restore(&mut self, name: &str, before: Option<Sequence>) {
        match before {
            Some(seq) => {
                self.by_name.insert(name.to_string(), seq);
            }
            None => {
                self.by_name.remove(name);
            }
        }
    }

    /// Whether a sequence is named `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Runs `CREATE` / `ALTER` / `DROP SEQUENCE` against `catalog` (its
    /// tables: names are shared with them, owners are their columns). A
    /// `DROP ... CASCADE` of a sequence a column default draws from drops
    /// that default: the changed tables are returned for the catalog.
    pub(crate) fn run_ddl(
        &mut self,
        catalog: &Catalog,
        ddl: &SequenceDdl,
    ) -> Result<Vec<Table>, DbError> {
        match ddl {
            SequenceDdl::Create {
                name,
                if_not_exists,
                options,
            } => {
                self.create(catalog, name, *if_not_exists, options)?;
                Ok(Vec::new())
            }
            SequenceDdl::Alter {
                name,
                if_exists,
                options,
            } => {
                self.alter(catalog, name, *if_exists, options)?;
                Ok(Vec::new())
            }
            SequenceDdl::Drop {
                names,
                if_exists,
                cascade,
            } => self.drop_sequences(catalog, names, *if_exists, *cascade),
        }
    }

    /// `CREATE SEQUENCE`.
    fn create(
        &mut self,
        catalog: &Catalog,
        name: &str,
        if_not_exists: bool,
        options: &Options,
    ) -> Result<(), DbError> {
        if let Some((schema, _)) = name.split_once('.') {
            if !catalog.schemas.contains(schema) {
                return Err(err(
                    SqlState::Other("3F000"),
                    format!("schema \"{schema}\" does not exist"),
                ));
            }
        }
        if self.by_name.contains_key(name) || catalog.tables.contains_key(name) {
            if if_not_exists {
                return Ok(());
            }
            return Err(err(
                SqlState::DuplicateTable,
                format!("relation \"{name}\" already exists"),
            ));
        }
        let params = apply_options(None, options)?;
        let owner = match &options.owned_by {
            Some(o) => owner_of(catalog, o)?,
            None => None,
        };
        let id = self.fresh_id();
        self.by_name
            .insert(name.to_string(), params.sequence(id, owner));
        Ok(())
    }

    /// `ALTER SEQUENCE`: its parameters, owner and (RESTART) position.
    fn alter(
        &mut self,
        catalog: &Catalog,
        name: &str,
        if_exists: bool,
        options: &Options,
    ) -> Result<(), DbError> {
        let Some(old) = self.by_name.get(name) else {
            if catalog.tables.contains_key(name) {
                return Err(not_a_sequence(name));
            }
            if if_exists {
                return Ok(());
            }
            return Err(undefined(name));
        };
        let params = apply_options(Some(old), options)?;
        let owner = match &options.owned_by {
            Some(o) => owner_of(catalog, o)?,
            None => old.owner.clone(),
        };
        let seq = self.by_name.get_mut(name).expect("found above");
        seq.ty = params.ty;
        seq.increment = params.increment;
        seq.min = params.min;
        seq.max = params.max;
        seq.start = params.start;
        seq.cycle = params.cycle;
        seq.owner = owner;
        if let Some(at) = params.restart {
            seq.last_value = at;
            seq.is_called = false;
        }
        Ok(())
    }

    /// `DROP SEQUENCE`: returns the tables whose columns drew from the
    /// sequences dropped (with CASCADE), without those defaults.
    fn drop_sequences(
        &mut self,
        catalog: &Catalog,
        names: &[String],
        if_exists: bool,
        cascade: bool,
    ) -> Result<Vec<Table>, DbError> {
        let mut found = Vec::new();
        for name in names {
            if self.by_name.contains_key(name) {
                found.push(name.clone());
            } else if catalog.tables.contains_key(name) {
                return Err(not_a_sequence(name));
            } else if !if_exists {
                return Err(err(
                    SqlState::UndefinedTable,
                    format!("sequence \"{name}\" does not exist"),
                ));
            }
        }
        let mut changed: Vec<Table> = Vec::new();
        for name in &found {
            let seq = &self.by_name[name];
            if let Some(owner) = &seq.owner {
                if owner.kind == OwnerKind::Identity {
                    return Err(err(
                        SqlState::Other("2BP01"),
                        format!(
                            "cannot drop sequence {name} because column {} of table {} requires it",
                            owner.column, owner.table
                        ),
                    ));
                }
            }
            detach_defaults(catalog, name, seq, cascade, &mut changed)?;
        }
        for name in &found {
            self.by_name.remove(name);
        }
        Ok(changed)
    }

    /// Gives each `serial` / identity column of `table` its sequence
    /// (`table_column_seq`, a digit added while the name is taken, as
    /// PostgreSQL chooses it), with an identity column's options, and
    /// drops the sequences of its columns that are gone: called whenever
    /// a table is created or altered.
    pub(crate) fn adopt(
        &mut self,
        catalog: &Catalog,
        table: &Table,
        identity_options: &[(String, Options)],
    ) -> Result<(), DbError> {
        self.by_name.retain(|_, s| {
            s.owner
                .as_ref()
                .is_none_or(|o| o.table != table.name || table.column_index(&o.column).is_some())
        });
        for col in &table.columns {
            if !col.serial || col.name == ROW_ID || self.owned(&table.name, col.name).is_some() {
                continue;
            }
            let (schema, bare) = match table.name.split_once('.') {
                Some((schema, bare)) => (Some(schema), bare),
                None => (None, table.name.as_str()),
            };
            let base = format!("{bare}_{}_seq", col.name);
            let mut name = match schema {
                Some(schema) => format!("{schema}.{base}"),
                None => base.clone(),
            };
            let mut n = 0;
            while self.by_name.contains_key(&name) || catalog.tables.contains_key(&name) {
                n += 1;
                name = match schema {
                    Some(schema) => format!("{schema}.{base}{n}"),
                    None => format!("{base}{n}"),
                };
            }
            let mut options = identity_options
                .iter()
                .find(|(c, _)| c == col.name)
                .map(|(_, o)| o.clone())
                .unwrap_or_default();
            options.ty = Some(match col.ty {
                SqlType::SmallInt => SqlType::SmallInt,
                SqlType::Integer => SqlType::Integer,
                _ => SqlType::BigInt,
            });
            let params = apply_options(None, &options)?;
            let id = self.fresh_id();
            let kind = if col.always || identity_options.iter().any(|(c, _)| c == col.name) {
                OwnerKind::Identity
            } else {
                OwnerKind::Serial
            };
            let owner = Owner {
                table: table.name.clone(),
                column: col.name.to_string(),
                kind,
            };
            self.by_name.insert(name, params.sequence(id, Some(owner)));
        }
        Ok(())
    }

    /// The sequence a `serial` / identity column draws from.
    fn owned(&self, table: &str, column: &str) -> Option<&str> {
        self.by_name.iter().find_map(|(name, s)| {
            s.owner
                .as_ref()
                .is_some_and(|o| {
                    o.kind != OwnerKind::Owned && o.table == table && o.column == column
                })
                .then_some(name.as_str())
        })
    }

    /// A column's sequence goes on after `drawn` (the values a column
    /// took before its sequence was made).
    pub(crate) fn continue_after(&mut self, table: &str, column: &str, drawn: i64) {
        let Some(name) = self.owned(table, column).map(str::to_string) else {
            return;
        };
        let seq = self.by_name.get_mut(&name).expect("found above");
        if drawn >= seq.min && drawn <= seq.max {
            seq.last_value = drawn;
            seq.is_called = true;
        }
    }

    /// Drops the sequences a dropped table's columns owned.
    pub(crate) fn forget_table(&mut self, table: &str) {
        self.by_name
            .retain(|_, s| s.owner.as_ref().is_none_or(|o| o.table != table));
    }

    /// A sequence of the schema `schema` (named `schema.name`), if any.
    pub(crate) fn first_in_schema(&self, schema: &str) -> Option<String> {
        let prefix = format!("{schema}.");
        self.by_name
            .keys()
            .find(|n| n.starts_with(&prefix))
            .cloned()
    }

    /// Drops the sequences of a dropped schema.
    pub(crate) fn forget_schema(&mut self, schema: &str) {
        let prefix = format!("{schema}.");
        self.by_name.retain(|n, _| !n.starts_with(&prefix));
    }

    /// A renamed table keeps its sequences (under their names).
    pub(crate) fn rename_table(&mut self, from: &str, to: &str) {
        for s in self.by_name.values_mut() {
            if let Some(o) = &mut s.owner {
                if o.table == from {
                    o.table = to.to_string();
                }
            }
        }
    }

    /// A renamed column keeps its sequences.
    pub(crate) fn rename_column(&mut self, table: &str, from: &str, to: &str) {
        for s in self.by_name.values_mut() {
            if let Some(o) = &mut s.owner {
                if o.table == table && o.column == from {
                    o.column = to.to_string();
                }
            }
        }
    }

    /// The next value of a `serial` / identity column, drawn by `session`
    /// (whose `currval` it sets, as the column's `nextval` default does
    /// in PostgreSQL); `None` when the column has no sequence.
    pub(crate) fn next_for_column(
        &mut self,
        session: Option<SessionId>,
        table: &str,
        column: &str,
    ) -> Option<Result<i64, DbError>> {
        let name = self.owned(table, column)?.to_string();
        Some(self.nextval(session, &name))
    }

    /// `nextval(name)`.
    pub(crate) fn nextval(
        &mut self,
        session: Option<SessionId>,
        name: &str,
    ) -> Result<i64, DbError> {
        let seq = self.by_name.get_mut(name).ok_or_else(|| undefined(name))?;
        let value = if !seq.is_called {
            seq.last_value
        } else if seq.increment > 0 {
            match seq.last_value.checked_add(seq.increment) {
                Some(v) if v <= seq.max => v,
                _ if seq.cycle => seq.min,
                _ => {
                    return Err(err(
                        SqlState::Other("2200H"),
                        format!(
                            "nextval: reached maximum value of sequence \"{name}\" ({})",
                            seq.max
                        ),
                    ))
                }
            }
        } else {
            match seq.last_value.checked_add(seq.increment) {
                Some(v) if v >= seq.min => v,
                _ if seq.cycle => seq.max,
                _ => {
                    return Err(err(
                        SqlState::Other("2200H"),
                        format!(
                            "nextval: reached minimum value of sequence \"{name}\" ({})",
                            seq.min
                        ),
                    ))
                }
            }
        };
        seq.last_value = value;
        seq.is_called = true;
        let id = seq.id;
        if let Some(session) = session {
            let values = self.sessions.entry(session).or_default();
            values.current.insert(id, value);
            values.last = Some(id);
        }
        Ok(value)
    }

    /// `currval(name)`: the session's last `nextval` of it.
    pub(crate) fn currval(&self, session: Option<SessionId>, name: &str) -> Result<i64, DbError> {
        let seq = self.by_name.get(name).ok_or_else(|| undefined(name))?;
        session
            .and_then(|s| self.sessions.get(&s))
            .and_then(|v| v.current.get(&seq.id).copied())
            .ok_or_else(|| {
                err(
                    SqlState::Other("55000"),
                    format!("currval of sequence \"{name}\" is not yet defined in this session"),
                )
            })
    }

    /// `lastval()`: the session's last `nextval` of any sequence that
    /// still exists.
    pub(crate) fn lastval(&self, session: Option<SessionId>) -> Result<i64, DbError> {
        let values = session.and_then(|s| self.sessions.get(&s));
        values
            .and_then(|v| {
                let id = v.last?;
                self.by_name.values().any(|s| s.id == id).then_some(())?;
                v.current.get(&id).copied()
            })
            .ok_or_else(|| {
                err(
                    SqlState::Other("55000"),
                    "lastval is not yet defined in this session",
                )
            })
    }

    /// `setval(name, value, is_called)`: sets the session's `currval` when
    /// `is_called`, not its `lastval` (as PostgreSQL's `do_setval`).
    pub(crate) fn setval(
        &mut self,
        session: Option<SessionId>,
        name: &str,
        value: i64,
        is_called: bool,
    ) -> Result<i64, DbError> {
        let seq = self.by_name.get_mut(name).ok_or_else(|| undefined(name))?;
        if value < seq.min || value > seq.max {
            return Err(err(
                SqlState::NumericValueOutOfRange,
                format!(
                    "setval: value {value} is out of bounds for sequence \"{name}\" ({}..{})",
                    seq.min, seq.max
                ),
            ));
        }
        seq.last_value = value;
        seq.is_called = is_called;
        let id = seq.id;
        if let (true, Some(session)) = (is_called, session) {
            self.sessions
                .entry(session)
                .or_default()
                .current
                .insert(id, value);
        }
        Ok(value)
    }

    /// `pg_get_serial_sequence(table, column)`: the sequence the column
    /// owns, schema-qualified, or NULL.
    pub(crate) fn serial_sequence(&self, table: &str, column: &str) -> Option<String> {
        self.by_name.iter().find_map(|(name, s)| {
            let o = s.owner.as_ref()?;
            (o.table == table && o.column == column).then(|| {
                if name.contains('.') {
                    name.clone()
                } else {
                    format!("public.{name}")
                }
            })
        })
    }

    /// A statement that reads a sequence as a table (`SELECT last_value
    /// FROM s`) is 0A000 naming it, not the planner's 42P01 (PostgreSQL
    /// returns the sequence's one row).
    pub(crate) fn read_as_table(&self, e: DbError, sql: &str) -> DbError {
        if e.code != SqlState::UndefinedTable {
            return e;
        }
        let named = e
            .message
            .strip_prefix("relation \"")
            .and_then(|m| m.strip_suffix("\" does not exist"));
        match named {
            Some(name) if self.by_name.contains_key(name) => unsupported(format!(
                "reading the sequence \"{name}\" as a table (statement: {})",
                sql.trim()
            )),
            _ => e,
        }
    }

    /// Forgets a closed session's `currval`s.
    pub(crate) fn end_session(&mut self, session: SessionId) {
        self.sessions.remove(&session);
    }
}

/// The columns that draw from sequence `name` (a serial column it
/// belongs to, or a default calling `nextval` on it) lose their default,
/// in `changed`, with `cascade`; without it, any is 2BP01.
fn detach_defaults(
    catalog: &Catalog,
    name: &str,
    seq: &Sequence,
    cascade: bool,
    changed: &mut Vec<Table>,
) -> Result<(), DbError> {
    for table in catalog.tables.values() {
        for (i, col) in table.columns.iter().enumerate() {
            let serial = col.serial
                && seq.owner.as_ref().is_some_and(|o| {
                    o.kind == OwnerKind::Serial && o.table == table.name && o.column == col.name
                });
            let draws = col.default.as_ref().is_some_and(|e| draws_from(e, name));
            if !(serial || draws) {
                continue;
            }
            if !cascade {
                return Err(err(
                    SqlState::Other("2BP01"),
                    format!(
                        "cannot drop sequence {name} because other objects depend on it (default value for column {} of table {})",
                        col.name, table.name
                    ),
                ));
            }
            let at = changed.iter().position(|t| t.name == table.name);
            let t = match at {
                Some(at) => &mut changed[at],
                None => {
                    changed.push((**table).clone());
                    changed.last_mut().expect("pushed")
                }
            };
            t.columns[i].serial = false;
            t.columns[i].default = None;
        }
    }
    Ok(())
}

fn not_a_sequence(name: &str) -> DbError {
    err(
        SqlState::Other("42809"),
        format!("\"{name}\" is not a sequence"),
    )
}

/// Whether `e` calls `nextval` of the sequence `name` (a column default
/// that depends on it).
fn draws_from(e: &Expr, name: &str) -> bool {
    let mut found = false;
    e.visit(&mut |x| {
        if let Expr::Call(Builtin::Nextval, args) = x {
            found |= matches!(args.first(), Some(Expr::Const(Value::Text(t)))
                if regclass_name(t).as_deref() == Some(name));
        }
    });
    found
}

/// The relation a `regclass` text names, as PostgreSQL's `regclassin`
/// reads it: unquoted parts folded to lower case, `public.` dropped.
pub(crate) fn regclass_name(text: &str) -> Option<String> {
    let mut words = Words::new(text).ok()?;
    let name = words.name().ok()?;
    words.done().then_some(name)
}

/// The sequence a `regclass` argument names, or 42P01 / 42809 (a table).
fn sequence_arg(catalog: &Catalog, sequences: &Sequences, arg: &Value) -> Result<String, DbError> {
    let text = match arg {
        Value::Text(t) => t.to_string(),
        other => {
            return Err(err(
                SqlState::UndefinedFunction,
                format!("function nextval({}) does not exist", other.type_name()),
            ))
        }
    };
    let name = regclass_name(&text).ok_or_else(|| {
        err(
            SqlState::Other("42602"),
            format!("invalid name syntax: \"{text}\""),
        )
    })?;
    if sequences.contains(&name) {
        return Ok(name);
    }
    if catalog.tables.contains_key(&name) {
        return Err(not_a_sequence(&name));
    }
    match name.split_once('.') {
        Some((schema, _)) if !catalog.schemas.contains(schema) => Err(err(
            SqlState::Other("3F000"),
            format!("schema \"{schema}\" does not exist"),
        )),
        _ => Err(undefined(&name)),
    }
}

/// Runs a sequence function of `funcs` on its (non-NULL) arguments.
pub(crate) fn call(
    b: Builtin,
    args: &[Value],
    catalog: &Catalog,
    sequences: &mut Sequences,
    session: Option<SessionId>,
) -> Result<Value, DbError> {
    Ok(match b {
        Builtin::Nextval => {
            let name = sequence_arg(catalog, sequences, &args[0])?;
            Value::Int(sequences.nextval(session, &name)?)
        }
        Builtin::Currval => {
            let name = sequence_arg(catalog, sequences, &args[0])?;
            Value::Int(sequences.currval(session, &name)?)
        }
        Builtin::Lastval => Value::Int(sequences.lastval(session)?),
        Builtin::Setval => {
            let name = sequence_arg(catalog, sequences, &args[0])?;
            let value = match &args[1] {
                Value::Int(v) => *v,
                other => super::value::coerce(other, SqlType::BigInt)?
                    .as_int()
                    .ok_or_else(|| err(SqlState::DatatypeMismatch, "setval needs a bigint"))?,
            };
            let is_called = match args.get(2) {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(err(
                        SqlState::DatatypeMismatch,
                        format!(
                            "function setval(regclass, bigint, {}) does not exist",
                            other.type_name()
                        ),
                    ))
                }
            };
            Value::Int(sequences.setval(session, &name, value, is_called)?)
        }
        Builtin::PgGetSerialSequence => {
            let table_text = match &args[0] {
                Value::Text(t) => t.to_string(),
                other => other.to_pg_text().unwrap_or_default(),
            };
            let table = regclass_name(&table_text).ok_or_else(|| {
                err(
                    SqlState::Other("42602"),
                    format!("invalid name syntax: \"{table_text}\""),
                )
            })?;
            let column = match &args[1] {
                Value::Text(t) => t.to_string(),
                other => other.to_pg_text().unwrap_or_default(),
            };
            let t: &Arc<Table> = catalog
                .tables
                .get(&table)
                .ok_or_else(|| undefined(&table))?;
            if t.column_index(&column).is_none() || column == ROW_ID {
                return Err(err(
                    SqlState::UndefinedColumn,
                    format!("column \"{column}\" of relation \"{table}\" does not exist"),
                ));
            }
            match sequences.serial_sequence(&table, &column) {
                Some(name) => Value::Text(name.into()),
                None => Value::Null,
            }
        }
        _ => unreachable!("only sequence functions are called here"),
    })
}

/// A sequence function's first argument without its `::regclass` cast
/// (`nextval('s'::regclass)`, as `\d` shows a serial default): the
/// engine passes the sequence's name as text.
pub(crate) fn regclass_arg<'a>(function: &str, i: usize, arg: &'a ast::Expr) -> &'a ast::Expr {
    match arg {
        ast::Expr::Cast {
            expr, data_type, ..
        } if i == 0
            && matches!(function, "nextval" | "currval" | "setval")
            && data_type.to_string().eq_ignore_ascii_case("regclass") =>
        {
            expr
        }
        _ => arg,
    }
}

/// Whether a column type (as written, lower case) is one of the `serial`
/// pseudo-types: an integer column with a sequence of its own.
pub(crate) fn is_serial_type(type_text: &str) -> bool {
    matches!(
        type_text,
        "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
    )
}

/// The options of an identity column (`GENERATED ... AS IDENTITY (START
/// WITH 10 ...)`) as sqlparser gives them.
pub(crate) fn options_of_ast(options: &[ast::SequenceOptions]) -> Result<Options, DbError> {
    let number = |e: &ast::Expr| -> Result<i64, DbError> {
        let text = e.to_string().replace(' ', "");
        text.parse().map_err(|_| {
            unsupported(format!(
                "the identity option value {e} (an integer literal is)"
            ))
        })
    };
    let mut o = Options::default();
    for option in options {
        match option {
            ast::SequenceOptions::IncrementBy(e, _) => o.increment = Some(number(e)?),
            ast::SequenceOptions::MinValue(e) => o.min = Some(e.as_ref().map(&number).transpose()?),
            ast::SequenceOptions::MaxValue(e) => o.max = Some(e.as_ref().map(&number).transpose()?),
            ast::SequenceOptions::StartWith(e, _) => o.start = Some(number(e)?),
            ast::SequenceOptions::Cache(e) => o.cache = Some(number(e)?),
            ast::SequenceOptions::Cycle(no) => o.cycle = Some(!*no),
        }
    }
    Ok(o)
}

/// The sequences a statement's `nextval('s')` and `setval('s', ...)`
/// calls name, each locked ROW EXCLUSIVE with the statement's tables, as
/// PostgreSQL's sequence functions lock the sequence to the end of the
/// transaction: so a block's ALTER SEQUENCE (SHARE ROW EXCLUSIVE) holds
/// them back until it ends. (Read from the text: a name given as a
/// constant; a serial column's own sequence is not locked.)
pub(crate) fn lock_sequences(
    statement: &mut super::plan::Statement,
    sql: &str,
    sequences: &Sequences,
) {
    if sequences.by_name.is_empty() {
        return;
    }
    let lower = sql.to_ascii_lowercase();
    let mut locks: Vec<(String, crate::store::TableLockMode)> = Vec::new();
    for function in ["nextval", "setval"] {
        let mut rest = lower.as_str();
        let mut offset = 0;
        while let Some(at) = rest.find(function) {
            let after = offset + at + function.len();
            let tail = sql[after..].trim_start();
            offset = after;
            rest = &lower[after..];
            let Some(tail) = tail.strip_prefix('(') else {
                continue;
            };
            let Some(tail) = tail.trim_start().strip_prefix('\'') else {
                continue;
            };
            let Some(end) = tail.find('\'') else {
                continue;
            };
            let Some(name) = regclass_name(&tail[..end]) else {
                continue;
            };
            let lock = (name, crate::store::TableLockMode::RowExclusive);
            if sequences.by_name.contains_key(&lock.0) && !locks.contains(&lock) {
                locks.push(lock);
            }
        }
    }
    if locks.is_empty() {
        return;
    }
    let mut all: Vec<_> = statement.relation_locks.iter().cloned().collect();
    for lock in locks {
        if !all.contains(&lock) {
            all.push(lock);
        }
    }
    statement.relation_locks = all.into();
}
