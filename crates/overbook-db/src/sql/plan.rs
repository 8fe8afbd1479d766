//! Parsing and planning: SQL text to a prepared statement over the
//! catalog, with the access path of every table chosen the way
//! PostgreSQL's planner would for these simple shapes (primary key or a
//! secondary index where the WHERE clause fits its leading columns,
//! otherwise a sequential scan).

use super::catalog::{Catalog, Index, Table};
use super::expr::{
    ident, object_name, type_of, unsupported, AggSpec, BinOp, Compiler, Expr, Scope,
};
use super::settings::ScanSettings;
use super::value::{err, SqlType};
use crate::store::{AdvisoryMode, DbError, RowLockMode, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use std::sync::Arc;

/// Row-lock strength of a locking read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockStrength {
    /// No `NO KEY` or `KEY` modifier: `FOR UPDATE` or `FOR SHARE`.
    Plain,
    /// `FOR NO KEY UPDATE`, rewritten to `FOR UPDATE` for the parser.
    NoKeyUpdate,
    /// `FOR KEY SHARE`, rewritten to `FOR SHARE` for the parser.
    KeyShare,
}

/// What a locking read does when a row is locked by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitPolicy {
    Wait,
    Nowait,
    SkipLocked,
}

/// How one table of a statement is read.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    /// Every row of the table (a predicate lock on the whole relation).
    Seq,
    /// Index `index` (0: the primary key) with its first columns equal to
    /// `eq` and the next one bounded by `lower`/`upper` (value, inclusive).
    Index {
        index: usize,
        eq: Vec<Expr>,
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
    },
    /// Rows the statement computes: a WITH query's, a subquery's in
    /// FROM, `generate_series` (see `cte`).
    Virtual(Box<super::cte::Virtual>),
    /// Every row, read through the exclusion constraint's GiST index:
    /// the conjuncts it can answer (`=` on its group column, `&&` on its
    /// range column) decide which rows a Serializable read locks.
    Exclusion(Expr),
}

#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) table: Arc<Table>,
    pub(crate) offset: usize,
    pub(crate) access: Access,
}

#[derive(Clone, Debug)]
pub(crate) enum OrderKey {
    /// Output column `n`.
    Output(usize),
    Expr(Expr),
}

#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub(crate) key: OrderKey,
    pub(crate) desc: bool,
    pub(crate) nulls_first: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Grouping {
    pub(crate) by: Vec<Expr>,
    pub(crate) aggs: Vec<AggSpec>,
    pub(crate) having: Option<Expr>,
}

#[derive(Clone, Debug)]
pub(crate) struct SelectPlan {
    pub(crate) sources: Vec<Source>,
    /// One join step per source when the FROM clause has an outer join
    /// (see `joins`); empty when every join is inner.
    pub(crate) joins: Vec<super::joins::JoinStep>,
    pub(crate) filter: Option<Expr>,
    pub(crate) output: Vec<(String, Expr)>,
    /// Window functions, filling the columns after the tables' (see
    /// `window`).
    pub(crate) windows: Vec<super::window::WindowSpec>,
    /// `DISTINCT` / `DISTINCT ON (...)` (see `setops`).
    pub(crate) distinct: Option<super::setops::Distinct>,
    pub(crate) grouping: Option<Grouping>,
    pub(crate) order: Vec<Order>,
    pub(crate) limit: Option<Expr>,
    pub(crate) offset: Option<Expr>,
    pub(crate) lock: Option<(RowLockMode, WaitPolicy)>,
}

#[derive(Clone, Debug)]
pub(crate) enum ConflictAction {
    Nothing,
    Update {
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct InsertPlan {
    pub(crate) table: Arc<Table>,
    pub(crate) targets: Vec<usize>,
    pub(crate) rows: Vec<Vec<Expr>>,
    /// `INSERT ... SELECT`: the query whose rows are inserted (then `rows`
    /// is empty).
    pub(crate) select: Option<Box<SelectPlan>>,
    /// Arbiter indexes (empty: every unique index) and the action.
    pub(crate) conflict: Option<(Vec<usize>, ConflictAction)>,
    pub(crate) returning: Option<Vec<(String, Expr)>>,
}

#[derive(Clone, Debug)]
pub(crate) struct UpdatePlan {
    pub(crate) source: Source,
    /// `UPDATE ... FROM`: the FROM items, before `source` in the combined
    /// row (see `join_writes`).
    pub(crate) from: Vec<Source>,
    pub(crate) filter: Option<Expr>,
    pub(crate) sets: Vec<(usize, Expr)>,
    pub(crate) returning: Option<Vec<(String, Expr)>>,
}

#[derive(Clone, Debug)]
pub(crate) struct DeletePlan {
    pub(crate) source: Source,
    /// `DELETE ... USING`: the USING items, before `source` in the
    /// combined row (see `join_writes`).
    pub(crate) using: Vec<Source>,
    pub(crate) filter: Option<Expr>,
    pub(crate) returning: Option<Vec<(String, Expr)>>,
}

/// `EXCLUDE USING gist (group WITH =, range WITH &&)`, cut out of the
/// statement before parsing (sqlparser does not parse it).
#[derive(Clone, Debug)]
pub(crate) struct ExcludeSpec {
    pub(crate) name: Option<String>,
    pub(crate) group: String,
    pub(crate) range: String,
}

#[derive(Clone, Debug)]
pub(crate) enum Prepared {
    /// `BEGIN`, `START TRANSACTION` with the modes they name
    /// (`DEFERRABLE` is effective only with SERIALIZABLE READ ONLY).
    Begin(super::settings::TxModes),
    /// `SET [LOCAL | SESSION] name`, `RESET`.
    Set(super::settings::Set),
    /// `SET TRANSACTION modes`.
    SetTransaction(super::settings::TxModes),
    /// `SET CONSTRAINTS ALL | name [, ...] DEFERRED | IMMEDIATE`.
    SetConstraints(super::deferred::SetConstraints),
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION modes`.
    SetCharacteristics(super::settings::TxModes),
    /// `SHOW name`.
    Show(super::settings::Param),
    /// `DISCARD ALL`.
    DiscardAll,
    Commit,
    Rollback,
    /// `SAVEPOINT name`, `RELEASE [SAVEPOINT] name`, `ROLLBACK TO
    /// [SAVEPOINT] name`, with the name folded as PostgreSQL folds it.
    Savepoint(String),
    ReleaseSavepoint(String),
    RollbackToSavepoint(String),
    CreateTable(Box<ast::CreateTable>, Vec<ExcludeSpec>),
    CreateIndex(Box<ast::CreateIndex>),
    /// `DROP TABLE` / `DROP INDEX`.
    Drop(Box<super::ddl::DropSpec>),
    /// `CREATE EXTENSION [IF NOT EXISTS]` of one of
    /// [`super::ddl::EXTENSIONS`].
    CreateExtension {
        name: String,
        if_not_exists: bool,
    },
    /// `CREATE SCHEMA [IF NOT EXISTS] name`.
    CreateSchema {
        name: String,
        if_not_exists: bool,
    },
    /// `SELECT pg_advisory_xact_lock(...)` and its variants, without FROM.
    AdvisoryLock(Box<AdvisoryPlan>),
    /// `LOCK TABLE`.
    LockTable(Box<super::locks::LockTablePlan>),
    /// `TRUNCATE`.
    Truncate(Box<super::locks::TruncatePlan>),
    Select(Box<SelectPlan>),
    /// `UNION` / `INTERSECT` / `EXCEPT` (see `setops`).
    SetOp(Box<super::setops::SetOpPlan>),
    Insert(Box<InsertPlan>),
    Update(Box<UpdatePlan>),
    Delete(Box<DeletePlan>),
    /// A statement with WITH queries (see `cte`).
    With(Box<super::cte::WithPlan>),
}

/// A select list without FROM that takes advisory transaction locks.
#[derive(Clone, Debug)]
pub(crate) struct AdvisoryPlan {
    /// The output columns, left to right.
    pub(crate) items: Vec<(String, AdvisoryItem)>,
}

/// One item of an [`AdvisoryPlan`]'s select list.
#[derive(Clone, Debug)]
pub(crate) enum AdvisoryItem {
    /// An advisory lock call: the key (one bigint or two integers).
    Lock {
        key: Vec<Expr>,
        mode: AdvisoryMode,
        /// `pg_advisory_xact_lock` waits; `pg_try_...` returns false.
        wait: bool,
        /// `pg_advisory_lock` and its kin: the session's, not the
        /// transaction's.
        session: bool,
    },
    /// `pg_advisory_unlock[_shared]`: a boolean.
    Unlock { key: Vec<Expr>, mode: AdvisoryMode },
    /// `pg_advisory_unlock_all()`.
    UnlockAll,
    /// Any other expression.
    Value(Expr),
}

/// The advisory lock function `name` as a select item with its key
/// arguments still to fill in: mode, waiting and level of the lock
/// functions, the mode of the unlock functions.
fn advisory_function(name: &str) -> Option<AdvisoryItem> {
    use AdvisoryMode::{Exclusive, Shared};
    let lock = |mode, wait, session| AdvisoryItem::Lock {
        key: Vec::new(),
        mode,
        wait,
        session,
    };
    Some(match name {
        "pg_advisory_xact_lock" => lock(Exclusive, true, false),
        "pg_advisory_xact_lock_shared" => lock(Shared, true, false),
        "pg_try_advisory_xact_lock" => lock(Exclusive, false, false),
        "pg_try_advisory_xact_lock_shared" => lock(Shared, false, false),
        "pg_advisory_lock" => lock(Exclusive, true, true),
        "pg_advisory_lock_shared" => lock(Shared, true, true),
        "pg_try_advisory_lock" => lock(Exclusive, false, true),
        "pg_try_advisory_lock_shared" => lock(Shared, false, true),
        "pg_advisory_unlock" => AdvisoryItem::Unlock {
            key: Vec::new(),
            mode: Exclusive,
        },
        "pg_advisory_unlock_shared" => AdvisoryItem::Unlock {
            key: Vec::new(),
            mode: Shared,
        },
        "pg_advisory_unlock_all" => AdvisoryItem::UnlockAll,
        _ => return None,
    })
}

/// A prepared statement.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    pub(crate) kind: Prepared,
    pub(crate) params: usize,
    /// The table locks it takes before its snapshot (shared with each
    /// run of the cached statement, not copied).
    pub(crate) relation_locks: Arc<[(String, crate::store::TableLockMode)]>,
    /// The advisory locks its expressions take after its snapshot.
    pub(crate) advisory_calls: Vec<super::locks::AdvisoryCallPlan>,
}

impl Statement {
    /// A statement that takes no lock before it runs.
    pub(crate) fn new(kind: Prepared, params: usize) -> Statement {
        Statement {
            kind,
            params,
            relation_locks: Arc::default(),
            advisory_calls: Vec::new(),
        }
    }

    /// DDL changes the catalog, so it is never cached.
    pub(crate) fn cacheable(&self) -> bool {
        !matches!(
            self.kind,
            Prepared::CreateTable(..)
                | Prepared::CreateIndex(_)
                | Prepared::Drop(_)
                | Prepared::CreateExtension { .. }
                | Prepared::CreateSchema { .. }
        )
    }
}

/// The statements of a script, split at the semicolons between them
/// (those inside literals and quoted names do not split), empty ones
/// dropped.
pub(crate) fn split_script(script: &str) -> Result<Vec<String>, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, script)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let mut statements = Vec::new();
    let mut current = String::new();
    for token in tokens {
        if matches!(token, Token::SemiColon) {
            statements.push(std::mem::take(&mut current));
        } else if let Token::Whitespace(
            Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
        ) = token
        {
            // A migration's comments (before a statement, or after the
            // last one) are not statements: the statements the engine
            // recognises by their first words must start with them.
            current.push(' ');
        } else {
            current.push_str(&token.to_string());
        }
    }
    statements.push(current);
    statements.retain(|s| !s.trim().is_empty());
    Ok(statements)
}

/// `sql` from its first word on: the whitespace and comments before it
/// skipped, as PostgreSQL's lexer skips them, so that the statements
/// recognised by their first words (`CREATE TYPE`, `ALTER TABLE`...) are
/// recognised after a comment too.
pub(crate) fn skip_leading_comments(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return rest;
        }
    }
}

/// Parses and plans one statement.
/// `scans`: the session's planner switches (`enable_seqscan` and its kin).
pub(crate) fn prepare(
    sql: &str,
    catalog: &Catalog,
    scans: ScanSettings,
) -> Result<Statement, DbError> {
    super::plpgsql::with_functions(&catalog.functions, || prepare_inner(sql, catalog, scans))
        .map_err(|mut e| {
            if matches!(
                e.code,
                SqlState::FeatureNotSupported | SqlState::SyntaxError
            ) {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        })
}

fn prepare_inner(sql: &str, catalog: &Catalog, scans: ScanSettings) -> Result<Statement, DbError> {
    if let Some(statement) = super::settings::parse_session_statement(sql)? {
        use super::settings::SessionStatement as S;
        let kind = match statement {
            S::Begin(modes) => Prepared::Begin(modes),
            S::Commit => Prepared::Commit,
            S::Rollback => Prepared::Rollback,
            S::SetTransaction(modes) => Prepared::SetTransaction(modes),
            S::SetConstraints(set) => Prepared::SetConstraints(set),
            S::SetCharacteristics(modes) => Prepared::SetCharacteristics(modes),
            S::Set(set) => Prepared::Set(set),
            S::Show(param) => Prepared::Show(param),
            S::DiscardAll => Prepared::DiscardAll,
        };
        return Ok(Statement::new(kind, 0));
    }
    if let Some(lock) = super::locks::parse_lock_table(sql)? {
        // Its tables are looked up as it runs, after the check that it is
        // in a transaction block (PostgreSQL's order).
        return Ok(Statement::new(Prepared::LockTable(Box::new(lock)), 0));
    }
    let reordered = super::locks::limit_before_locking(sql)?;
    let sql = &*reordered;
    let stripped;
    let sql = if sql.to_ascii_uppercase().contains("INCLUDE") {
        stripped = strip_constraint_include(sql)?;
        stripped.as_str()
    } else {
        sql
    };
    let first: String = sql
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    if first.eq_ignore_ascii_case("with") {
        return super::cte::prepare_with(sql, catalog, scans);
    }
    let mut planner = Planner::new(catalog, scans);
    let kind = planner.part(sql)?;
    let relation_locks = planner.relation_locks(&kind);
    Ok(Statement {
        kind,
        params: planner.params,
        relation_locks: relation_locks.into(),
        advisory_calls: planner.advisory_calls,
    })
}

/// Rewrites what sqlparser cannot parse: `FOR NO KEY UPDATE` (kept as its
/// strength), `FOR KEY SHARE` (rejected: the store has exclusive row locks
/// only) and `EXCLUDE USING gist (...)` table constraints (cut out and
/// returned).
fn preprocess(sql: &str) -> Result<(String, LockStrength, Vec<ExcludeSpec>), DbError> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("KEY") && !upper.contains("EXCLUDE") {
        return Ok((sql.to_string(), LockStrength::Plain, Vec::new()));
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    // Indexes of the non-whitespace tokens.
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let mut drop = vec![false; tokens.len()];
    let mut strength = LockStrength::Plain;
    let mut excludes = Vec::new();
    let mut depth = 0i32;
    let mut s = 0;
    while s < solid.len() {
        let t = &tokens[solid[s]];
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let at = |k: usize| solid.get(s + k).map(|&i| &tokens[i]);
        if is_word(t, "FOR")
            && at(1).is_some_and(|x| is_word(x, "NO"))
            && at(2).is_some_and(|x| is_word(x, "KEY"))
            && at(3).is_some_and(|x| is_word(x, "UPDATE"))
        {
            strength = LockStrength::NoKeyUpdate;
            drop[solid[s + 1]] = true;
            drop[solid[s + 2]] = true;
            s += 4;
            continue;
        }
        if is_word(t, "FOR")
            && at(1).is_some_and(|x| is_word(x, "KEY"))
            && at(2).is_some_and(|x| is_word(x, "SHARE"))
        {
            strength = LockStrength::KeyShare;
            drop[solid[s + 1]] = true;
            s += 3;
            continue;
        }
        if depth == 1 && is_word(t, "EXCLUDE") {
            let (spec, span) = exclude_constraint(&tokens, &solid, s)?;
            excludes.push(spec);
            for &i in &solid[span.clone()] {
                drop[i] = true;
            }
            s = span.end() + 1;
            continue;
        }
        s += 1;
    }
    let text: String = tokens
        .iter()
        .zip(&drop)
        .filter(|(_, d)| !**d)
        .map(|(t, _)| t.to_string())
        .collect();
    Ok((text, strength, excludes))
}

/// Whether `t` is the unquoted keyword `w`.
fn is_word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

/// The `EXCLUDE USING gist (g WITH =, r WITH &&)` constraint whose
/// `EXCLUDE` is the solid token `s`: its spec, and the solid tokens it
/// spans (with `CONSTRAINT name` and the comma before it) to cut out.
fn exclude_constraint(
    tokens: &[Token],
    solid: &[usize],
    s: usize,
) -> Result<(ExcludeSpec, std::ops::RangeInclusive<usize>), DbError> {
    let at = |k: usize| solid.get(s + k).map(|&i| &tokens[i]);
    // Back up over `CONSTRAINT name` and the comma before it.
    let mut first = s;
    let mut name = None;
    if s >= 2 && is_word(&tokens[solid[s - 2]], "CONSTRAINT") {
        if let Token::Word(w) = &tokens[solid[s - 1]] {
            name = Some(ident(
                &w.clone().into_ident(sqlparser::tokenizer::Span::empty()),
            ));
        }
        first = s - 2;
    }
    if first >= 1 && matches!(tokens[solid[first - 1]], Token::Comma) {
        first -= 1;
    }
    // EXCLUDE USING gist ( ... )
    if !(at(1).is_some_and(|x| is_word(x, "USING"))
        && at(2).is_some_and(|x| is_word(x, "GIST"))
        && matches!(at(3), Some(Token::LParen)))
    {
        return Err(unsupported(
            "EXCLUDE other than USING gist (col WITH =, range WITH &&)",
        ));
    }
    let (elements, k) = exclude_elements(tokens, solid, s + 4);
    if k >= solid.len() {
        return Err(err(
            SqlState::SyntaxError,
            "syntax error: unterminated EXCLUDE",
        ));
    }
    if at(k - s + 1).is_some_and(|x| is_word(x, "WHERE")) {
        return Err(unsupported(
            "EXCLUDE ... WHERE (a partial exclusion constraint)",
        ));
    }
    let spec = match elements.as_slice() {
        [g, r]
            if g.len() == 3
                && g[1] == "with"
                && g[2] == "="
                && r.len() == 3
                && r[1] == "with"
                && r[2] == "&&" =>
        {
            ExcludeSpec {
                name,
                group: g[0].clone(),
                range: r[0].clone(),
            }
        }
        _ => {
            return Err(unsupported(
                "EXCLUDE other than USING gist (col WITH =, range WITH &&)",
            ))
        }
    };
    Ok((spec, first..=k))
}

/// The comma-separated elements of an `EXCLUDE (...)` list starting at
/// solid token `k` (after its parenthesis), each as its tokens' texts
/// (unquoted words lowercased), and the solid index of the closing
/// parenthesis (`solid.len()` when there is none).
fn exclude_elements(tokens: &[Token], solid: &[usize], mut k: usize) -> (Vec<Vec<String>>, usize) {
    let mut elements: Vec<Vec<String>> = vec![Vec::new()];
    let mut inner = 1;
    while k < solid.len() {
        let tk = &tokens[solid[k]];
        match tk {
            Token::LParen => inner += 1,
            Token::RParen => {
                inner -= 1;
                if inner == 0 {
                    break;
                }
            }
            Token::Comma if inner == 1 => {
                elements.push(Vec::new());
                k += 1;
                continue;
            }
            _ => {}
        }
        let text = match tk {
            Token::Word(w) if w.quote_style.is_some() => w.value.clone(),
            Token::Word(w) => w.value.to_ascii_lowercase(),
            other => other.to_string(),
        };
        elements.last_mut().expect("an element").push(text);
        k += 1;
    }
    (elements, k)
}

/// Cuts `INCLUDE (columns)` after a `PRIMARY KEY (...)` or `UNIQUE (...)`
/// constraint of a table definition, which sqlparser does not parse. The
/// included columns only ride along in the index (for index-only scans):
/// they change neither uniqueness nor what a scan reads or locks.
fn strip_constraint_include(sql: &str) -> Result<String, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let mut drop = vec![false; tokens.len()];
    let mut depth = 0i32;
    let mut s = 0;
    while s < solid.len() {
        let t = &tokens[solid[s]];
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let include = matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("INCLUDE"));
        if include
            && depth >= 1
            && s >= 1
            && matches!(tokens[solid[s - 1]], Token::RParen)
            && matches!(solid.get(s + 1).map(|&i| &tokens[i]), Some(Token::LParen))
        {
            let mut k = s + 1;
            let mut inner = 0;
            while k < solid.len() {
                match tokens[solid[k]] {
                    Token::LParen => inner += 1,
                    Token::RParen => {
                        inner -= 1;
                        if inner == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            if k >= solid.len() {
                return Err(err(
                    SqlState::SyntaxError,
                    "syntax error: unterminated INCLUDE",
                ));
            }
            drop[solid[s]..=solid[k]].fill(true);
            s = k + 1;
            continue;
        }
        s += 1;
    }
    Ok(tokens
        .iter()
        .zip(&drop)
        .filter(|(_, d)| !**d)
        .map(|(t, _)| t.to_string())
        .collect())
}

pub(crate) struct Planner<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) params: usize,
    pub(crate) scans: ScanSettings,
    /// The WITH queries the statement's parts may read (see `cte`).
    pub(crate) ctes: Arc<Vec<super::cte::CteDef>>,
    /// The FROM items planned so far that are not stored tables.
    pub(crate) virtuals: Vec<(Arc<Table>, super::cte::Virtual)>,
    /// The `WHERE` of an `ON CONFLICT (columns) WHERE ...` target (see
    /// `conflict`).
    pub(crate) conflict_where: Option<ast::Expr>,
    /// The expressions of an `ON CONFLICT (lower(x))` target (see
    /// `exprindex::cut_conflict_expressions`).
    pub(crate) conflict_exprs: Option<Vec<ast::Expr>>,
    /// The tables the statement names, as resolved, its subqueries'
    /// included (shared with their planners).
    pub(crate) touched: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    /// The waiting advisory lock calls its expressions make.
    pub(crate) advisory_calls: Vec<super::locks::AdvisoryCallPlan>,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(catalog: &'a Catalog, scans: ScanSettings) -> Planner<'a> {
        Planner {
            catalog,
            params: 0,
            scans,
            ctes: Arc::new(Vec::new()),
            virtuals: Vec::new(),
            conflict_where: None,
            conflict_exprs: None,
            touched: Default::default(),
            advisory_calls: Vec::new(),
        }
    }

    /// The table locks `kind`, planned by this planner, takes before its
    /// snapshot (see `locks::relation_locks`).
    pub(crate) fn relation_locks(
        &self,
        kind: &Prepared,
    ) -> Vec<(String, crate::store::TableLockMode)> {
        match kind {
            Prepared::Select(_)
            | Prepared::Insert(_)
            | Prepared::Update(_)
            | Prepared::Delete(_)
            | Prepared::Truncate(_) => super::locks::relation_locks(kind, &self.touched.borrow()),
            _ => Vec::new(),
        }
    }

    /// Parses and plans one statement of text.
    pub(crate) fn part(&mut self, text: &str) -> Result<Prepared, DbError> {
        let (text, conflict_where) = super::conflict::cut_conflict_where(text)?;
        self.conflict_where = conflict_where;
        let (text, conflict_exprs) = super::exprindex::cut_conflict_expressions(&text)?;
        self.conflict_exprs = conflict_exprs;
        let (text, strength, excludes) = preprocess(&text)?;
        let dialect = PostgreSqlDialect {};
        let mut statements = Parser::parse_sql(&dialect, &text)
            .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
        if statements.len() != 1 {
            return Err(unsupported("more than one statement per call (or none)"));
        }
        let statement = statements.pop().expect("one statement");
        self.statement(statement, strength, excludes)
    }

    /// What a FROM item that is not a stored table computes.
    fn virtual_of(&self, table: &Arc<Table>) -> Option<super::cte::Virtual> {
        self.virtuals
            .iter()
            .find(|(t, _)| Arc::ptr_eq(t, table))
            .map(|(_, v)| v.clone())
    }
}

pub(crate) fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Bin(BinOp::And, a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        other => out.push(other),
    }
}

pub(crate) fn and_all(list: Vec<Expr>) -> Option<Expr> {
    list.into_iter()
        .reduce(|a, b| Expr::Bin(BinOp::And, Box::new(a), Box::new(b)))
}

/// Chooses how to read `table` (at `offset` in the combined row) given the
/// statement's conjuncts: the index whose leading columns the equalities
/// cover best, a range on the next column counting half, the primary key
/// first on ties; a sequential scan when no index column is constrained.
/// A bound may read only constants, parameters and earlier tables. With
/// the index paths switched off (`enable_indexscan` and
/// `enable_bitmapscan` off), a sequential scan (see
/// [`ScanSettings::index_paths`]).
fn choose_access(table: &Table, offset: usize, conjuncts: &[Expr], scans: ScanSettings) -> Access {
    if !scans.index_paths() {
        return Access::Seq;
    }
    let width = table.columns.len();
    let local = |e: &Expr| match e {
        Expr::Col(c) if *c >= offset && *c < offset + width => Some(c - offset),
        _ => None,
    };
    let bound_ok = |e: &Expr| e.max_column().is_none_or(|m| m < offset);
    let conds = column_conditions(conjuncts, &local, &bound_ok);
    let mut best: Option<(usize, Access)> = None;
    for (i, index) in table.indexes.iter().enumerate() {
        if !predicate_implied(index, offset, conjuncts) {
            continue;
        }
        // An expression index's key parts are matched by expression (see
        // `exprindex::key_conds`), a column index's by column.
        let (expression_parts, expression_conds);
        let (parts, conds): (&[usize], &[(usize, BinOp, Expr)]) = if index.expressions.is_empty() {
            (&index.columns, &conds)
        } else {
            expression_parts = (0..index.expressions.len()).collect::<Vec<_>>();
            expression_conds = super::exprindex::key_conds(index, offset, conjuncts, &bound_ok);
            (&expression_parts, &expression_conds)
        };
        let Some((score, access)) = index_access(i, index, parts, conds) else {
            continue;
        };
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, access));
        }
    }
    if let Some((_, access)) = best {
        return access;
    }
    exclusion_access(table, conjuncts, &local, &bound_ok).unwrap_or(Access::Seq)
}

/// The conjuncts that compare a column of the table with a bound it may
/// read, as (column, op, bound) with the column on the left; `BETWEEN` is
/// two of them.
fn column_conditions(
    conjuncts: &[Expr],
    local: &dyn Fn(&Expr) -> Option<usize>,
    bound_ok: &dyn Fn(&Expr) -> bool,
) -> Vec<(usize, BinOp, Expr)> {
    let mut conds: Vec<(usize, BinOp, Expr)> = Vec::new();
    for c in conjuncts {
        match c {
            Expr::Bin(op @ (BinOp::Eq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), a, b) => {
                if let (Some(col), true) = (local(a), bound_ok(b)) {
                    conds.push((col, *op, (**b).clone()));
                } else if let (Some(col), true) = (local(b), bound_ok(a)) {
                    let flipped = match op {
                        BinOp::Lt => BinOp::Gt,
                        BinOp::Le => BinOp::Ge,
                        BinOp::Gt => BinOp::Lt,
                        BinOp::Ge => BinOp::Le,
                        other => *other,
                    };
                    conds.push((col, flipped, (**a).clone()));
                }
            }
            Expr::Between(a, lo, hi, false) => {
                if let (Some(col), true, true) = (local(a), bound_ok(lo), bound_ok(hi)) {
                    conds.push((col, BinOp::Ge, (**lo).clone()));
                    conds.push((col, BinOp::Le, (**hi).clone()));
                }
            }
            _ => {}
        }
    }
    conds
}

/// Whether the query's conjuncts imply a partial index's predicate (an
/// index without one holds every row).
///
/// A partial index holds only the rows its predicate accepts, so it can
/// answer the query only when the query's WHERE implies the predicate:
/// here, when each of the predicate's conjuncts is one of the query's
/// (PostgreSQL proves more, e.g. ranges). SSI stays correct: the scan
/// SIREAD-locks the index key range it reads, and any row a concurrent
/// writer makes that the query would return satisfies the WHERE, hence
/// the predicate, so it writes an entry in that range; rows outside the
/// predicate the query never returns, so missing their writes loses no
/// rw-conflict.
fn predicate_implied(index: &Index, offset: usize, conjuncts: &[Expr]) -> bool {
    let Some(predicate) = &index.predicate else {
        return true;
    };
    let shifted = predicate.shifted(offset);
    let mut wanted = Vec::new();
    shifted.conjuncts(&mut wanted);
    wanted.iter().all(|w| {
        let w = format!("{w:?}");
        conjuncts.iter().any(|c| format!("{c:?}") == w)
    })
}

/// How index `i` would answer the conditions on its key `parts`, and its
/// score (equalities on leading parts, then a range on the next, a full
/// unique key above all); `None` when it answers none of them.
fn index_access(
    i: usize,
    index: &Index,
    parts: &[usize],
    conds: &[(usize, BinOp, Expr)],
) -> Option<(usize, Access)> {
    let mut eq = Vec::new();
    for &col in parts {
        match conds
            .iter()
            .find(|(c, op, _)| *c == col && *op == BinOp::Eq)
        {
            Some((_, _, bound)) => eq.push(bound.clone()),
            None => break,
        }
    }
    let (mut lower, mut upper) = (None, None);
    if let Some(&next) = parts.get(eq.len()) {
        for (c, op, bound) in conds {
            if *c != next {
                continue;
            }
            match op {
                BinOp::Gt if lower.is_none() => lower = Some((bound.clone(), false)),
                BinOp::Ge if lower.is_none() => lower = Some((bound.clone(), true)),
                BinOp::Lt if upper.is_none() => upper = Some((bound.clone(), false)),
                BinOp::Le if upper.is_none() => upper = Some((bound.clone(), true)),
                _ => {}
            }
        }
    }
    // A hash index answers only an equality on its whole key.
    if index.hash && eq.len() != parts.len() {
        return None;
    }
    let full_unique = index.unique && eq.len() == parts.len();
    let score = eq.len() * 4
        + usize::from(lower.is_some() || upper.is_some()) * 2
        + usize::from(full_unique) * 100;
    if score == 0 {
        return None;
    }
    Some((
        score,
        Access::Index {
            index: i,
            eq,
            lower,
            upper,
        },
    ))
}

/// PostgreSQL answers `=` on an exclusion constraint's group column and
/// `&&` on its range column through the constraint's GiST index (with
/// btree_gist), whose Serializable reads lock that index's page and the
/// rows it returns rather than the whole relation.
fn exclusion_access(
    table: &Table,
    conjuncts: &[Expr],
    local: &dyn Fn(&Expr) -> Option<usize>,
    bound_ok: &dyn Fn(&Expr) -> bool,
) -> Option<Access> {
    let x = table.exclusion.as_ref()?;
    let indexable = |c: &Expr| match c {
        Expr::Bin(op @ (BinOp::Eq | BinOp::Overlaps), a, b) => {
            let column = if *op == BinOp::Eq { x.group } else { x.range };
            (local(a) == Some(column) && bound_ok(b)) || (local(b) == Some(column) && bound_ok(a))
        }
        _ => false,
    };
    conjuncts
        .iter()
        .filter(|c| indexable(c))
        .cloned()
        .reduce(|a, b| Expr::Bin(BinOp::And, Box::new(a), Box::new(b)))
        .map(Access::Exclusion)
}

impl<'a> Planner<'a> {
    fn table(&self, name: &ast::ObjectName) -> Result<Arc<Table>, DbError> {
        let name = object_name(name)?;
        let Some(table) = self.catalog.tables.get(&name).cloned() else {
            // A partition named itself: its partitioned table seen through
            // it, locked as the partition alone (PostgreSQL locks the
            // partition a statement names, not its parent).
            if let Some(view) = self
                .catalog
                .partitions
                .get(&name)
                .and_then(|parent| self.catalog.tables.get(parent))
                .and_then(|parent| super::partition::view_of(parent, &name))
            {
                self.touched.borrow_mut().push(name);
                return Ok(view);
            }
            // `pg_catalog.pg_locks` as people type it: the copies of a
            // system view `SqlDb::install_activity` makes are tables of
            // the one schema. Looked at only once the name is not found.
            if let Some(table) = name
                .strip_prefix("pg_catalog.")
                .and_then(|bare| self.catalog.tables.get(bare))
            {
                self.touched.borrow_mut().push(table.name.clone());
                return Ok(table.clone());
            }
            return Err(err(
                SqlState::UndefinedTable,
                format!("relation \"{name}\" does not exist"),
            ));
        };
        // Every table a statement names is locked by it (see
        // `locks::relation_locks`), and a partitioned table's partitions
        // with it (PostgreSQL locks those it does not prune).
        let mut touched = self.touched.borrow_mut();
        touched.push(table.name.clone());
        if let Some(p) = &table.partitioning {
            touched.extend(p.names().map(str::to_string));
        }
        Ok(table)
    }

    fn compiler<'s>(&self, scope: &'s Scope) -> Compiler<'s>
    where
        'a: 's,
    {
        let mut c = Compiler::new(scope);
        c.params = self.params;
        c.advisory = Some(Vec::new());
        c.planner = Some(super::subquery::SubPlanner {
            catalog: self.catalog,
            scans: self.scans,
            ctes: self.ctes.clone(),
            touched: self.touched.clone(),
        });
        c
    }

    fn done(&mut self, c: Compiler<'_>) -> Option<Vec<AggSpec>> {
        self.params = self.params.max(c.params);
        self.advisory_calls.extend(c.advisory.unwrap_or_default());
        c.aggs
    }

    pub(crate) fn compile(&mut self, scope: &Scope, e: &ast::Expr) -> Result<Expr, DbError> {
        let mut c = self.compiler(scope);
        let out = c.compile(e);
        self.done(c);
        out
    }

    pub(crate) fn statement(
        &mut self,
        statement: ast::Statement,
        strength: LockStrength,
        excludes: Vec<ExcludeSpec>,
    ) -> Result<Prepared, DbError> {
        use ast::Statement as S;
        Ok(match statement {
            // `settings::parse_session_statement` takes every BEGIN and
            // START TRANSACTION.
            S::StartTransaction { .. } => return Err(unsupported("this form of BEGIN")),
            S::Commit { chain: false, .. } => Prepared::Commit,
            S::Rollback {
                chain: false,
                savepoint: None,
            } => Prepared::Rollback,
            S::Rollback {
                chain: false,
                savepoint: Some(name),
            } => Prepared::RollbackToSavepoint(ident(&name)),
            S::Savepoint { name } => Prepared::Savepoint(ident(&name)),
            S::ReleaseSavepoint { name } => Prepared::ReleaseSavepoint(ident(&name)),
            // `settings::parse_session_statement` takes every SET of a
            // parameter.
            S::SetVariable { .. } | S::SetTimeZone { .. } => {
                return Err(unsupported("SET of this parameter"))
            }
            S::CreateTable(create) => Prepared::CreateTable(Box::new(create), excludes),
            S::CreateIndex(create) => Prepared::CreateIndex(Box::new(create)),
            S::Drop {
                object_type:
                    object_type @ (ast::ObjectType::Table
                    | ast::ObjectType::Index
                    | ast::ObjectType::Schema),
                if_exists,
                names,
                cascade,
                purge: false,
                temporary: false,
                ..
            } => Prepared::Drop(Box::new(super::ddl::DropSpec {
                index: object_type == ast::ObjectType::Index,
                schema: object_type == ast::ObjectType::Schema,
                names: names.iter().map(object_name).collect::<Result<_, _>>()?,
                if_exists,
                cascade,
            })),
            S::CreateSchema {
                schema_name: ast::SchemaName::Simple(name),
                if_not_exists,
            } => Prepared::CreateSchema {
                name: object_name(&name)?,
                if_not_exists,
            },
            S::CreateExtension {
                name,
                if_not_exists,
                schema,
                ..
            } => create_extension(ident(&name), if_not_exists, schema.as_ref())?,
            S::Truncate {
                table_names,
                partitions: None,
                identity,
                cascade,
                on_cluster: None,
                ..
            } => self.truncate(&table_names, identity, cascade)?,
            S::Query(query) => self.query(*query, strength)?,
            S::Insert(insert) => Prepared::Insert(Box::new(self.insert(insert)?)),
            S::Update {
                table,
                assignments,
                from,
                selection,
                returning,
                or,
            } => {
                if or.is_some() || !table.joins.is_empty() {
                    return Err(unsupported("this form of UPDATE"));
                }
                let from = from.as_ref().map(|from| match from {
                    ast::UpdateTableFromKind::AfterSet(f)
                    | ast::UpdateTableFromKind::BeforeSet(f) => f.as_slice(),
                });
                let returning = returning.as_deref();
                self.update(
                    &table.relation,
                    &assignments,
                    from,
                    selection.as_ref(),
                    returning,
                )?
            }
            S::Delete(delete) => self.delete(&delete)?,
            other => return Err(unsupported_statement(&other)),
        })
    }

    /// `TRUNCATE t, ...`: the tables and, with CASCADE, those whose
    /// foreign keys reference them (see `locks::truncate_plan`).
    fn truncate(
        &self,
        table_names: &[ast::TruncateTableTarget],
        identity: Option<ast::TruncateIdentityOption>,
        cascade: Option<ast::CascadeOption>,
    ) -> Result<Prepared, DbError> {
        if identity == Some(ast::TruncateIdentityOption::Restart) {
            return Err(unsupported("TRUNCATE ... RESTART IDENTITY"));
        }
        let tables = table_names
            .iter()
            .map(|target| self.table(&target.name))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(view) = tables.iter().find_map(|t| t.view.as_ref()) {
            return Err(unsupported(format!(
                "TRUNCATE of the partition \"{}\" itself",
                view.name
            )));
        }
        let cascade = cascade == Some(ast::CascadeOption::Cascade);
        let plan = super::locks::truncate_plan(tables, cascade, self.catalog)?;
        Ok(Prepared::Truncate(Box::new(plan)))
    }

    /// `UPDATE target SET ... [FROM ...] [WHERE ...] [RETURNING ...]`.
    fn update(
        &mut self,
        target: &ast::TableFactor,
        assignments: &[ast::Assignment],
        from: Option<&[ast::TableWithJoins]>,
        selection: Option<&ast::Expr>,
        returning: Option<&[ast::SelectItem]>,
    ) -> Result<Prepared, DbError> {
        if let Some(from) = from {
            let joined = self.target_after(target, from, selection)?;
            let t = joined.target.table.clone();
            let sets = self.assignments(&joined.scope, &t, assignments)?;
            let returning = self.returning(&joined.returning_scope, returning)?;
            return Ok(Prepared::Update(Box::new(UpdatePlan {
                source: joined.target,
                from: joined.from,
                filter: joined.filter,
                sets,
                returning,
            })));
        }
        let (t, alias) = self.relation(target)?;
        let mut scope = Scope::default();
        scope.add(&alias, t.clone());
        let sets = self.assignments(&scope, &t, assignments)?;
        let (filter, access) = self.where_clause(&scope, &t, selection)?;
        let returning = self.returning(&scope, returning)?;
        Ok(Prepared::Update(Box::new(UpdatePlan {
            source: Source {
                table: t,
                offset: 0,
                access,
            },
            from: Vec::new(),
            filter,
            sets,
            returning,
        })))
    }

    /// `DELETE FROM target [USING ...] [WHERE ...] [RETURNING ...]`.
    fn delete(&mut self, delete: &ast::Delete) -> Result<Prepared, DbError> {
        if !delete.order_by.is_empty() || delete.limit.is_some() || !delete.tables.is_empty() {
            return Err(unsupported("DELETE ... ORDER BY / LIMIT"));
        }
        let from = match &delete.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let [one] = from.as_slice() else {
            return Err(unsupported("DELETE from several tables"));
        };
        if !one.joins.is_empty() {
            return Err(unsupported("DELETE with a join"));
        }
        if let Some(using) = &delete.using {
            let joined = self.target_after(&one.relation, using, delete.selection.as_ref())?;
            let returning = self.returning(&joined.returning_scope, delete.returning.as_deref())?;
            return Ok(Prepared::Delete(Box::new(DeletePlan {
                source: joined.target,
                using: joined.from,
                filter: joined.filter,
                returning,
            })));
        }
        let (t, alias) = self.relation(&one.relation)?;
        let mut scope = Scope::default();
        scope.add(&alias, t.clone());
        let (filter, access) = self.where_clause(&scope, &t, delete.selection.as_ref())?;
        let returning = self.returning(&scope, delete.returning.as_deref())?;
        Ok(Prepared::Delete(Box::new(DeletePlan {
            source: Source {
                table: t,
                offset: 0,
                access,
            },
            using: Vec::new(),
            filter,
            returning,
        })))
    }

    /// Adds the tables of a FROM list (inner joins) to `scope`, innermost
    /// level; returns the joins' ON conditions.
    pub(crate) fn plan_from_list(
        &mut self,
        scope: &mut Scope,
        from: &[ast::TableWithJoins],
    ) -> Result<Vec<ast::Expr>, DbError> {
        let mut on_conditions: Vec<ast::Expr> = Vec::new();
        for twj in from {
            let (t, alias) = self.plan_from_item(&twj.relation, scope)?;
            if scope.local().iter().any(|(a, _, _)| *a == alias) {
                return Err(err(
                    SqlState::Other("42712"),
                    format!("table name \"{alias}\" specified more than once"),
                ));
            }
            scope.add(&alias, t);
            for join in &twj.joins {
                let (t, alias) = self.plan_from_item(&join.relation, scope)?;
                match &join.join_operator {
                    ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => match c {
                        ast::JoinConstraint::On(e) => on_conditions.push(e.clone()),
                        ast::JoinConstraint::None => {}
                        _ => return Err(unsupported("JOIN ... USING / NATURAL")),
                    },
                    ast::JoinOperator::CrossJoin => {}
                    other => {
                        return Err(unsupported(
                            format!("the join {other:?}")
                                .split('(')
                                .next()
                                .unwrap_or("outer join")
                                .to_string()
                                + " (inner joins only)",
                        ))
                    }
                }
                scope.add(&alias, t);
            }
        }
        Ok(on_conditions)
    }

    /// The innermost level's FROM items of `scope` with their access
    /// paths given the conjuncts of the WHERE clause (and ON conditions).
    pub(crate) fn sources(&self, scope: &Scope, list: &[Expr]) -> Vec<Source> {
        scope
            .local()
            .iter()
            .map(|(_, t, offset)| Source {
                table: t.clone(),
                offset: *offset,
                access: match self.virtual_of(t) {
                    Some(v) => Access::Virtual(Box::new(v)),
                    None => choose_access(t, *offset, list, self.scans),
                },
            })
            .collect()
    }

    pub(crate) fn relation(
        &self,
        factor: &ast::TableFactor,
    ) -> Result<(Arc<Table>, String), DbError> {
        match factor {
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let t = self.table(name)?;
                let alias = match alias {
                    Some(a) if a.columns.is_empty() => ident(&a.name),
                    Some(_) => return Err(unsupported("column aliases on a table")),
                    // `s.t` is referred to as `t`, as in PostgreSQL.
                    None => t
                        .shown_name()
                        .rsplit_once('.')
                        .map_or(t.shown_name().to_string(), |(_, last)| last.to_string()),
                };
                Ok((t, alias))
            }
            other => Err(unsupported(format!("the FROM item {other}"))),
        }
    }

    fn where_clause(
        &mut self,
        scope: &Scope,
        table: &Table,
        selection: Option<&ast::Expr>,
    ) -> Result<(Option<Expr>, Access), DbError> {
        let Some(e) = selection else {
            return Ok((None, Access::Seq));
        };
        let compiled = self.compile(scope, e)?;
        let mut list = Vec::new();
        conjuncts(compiled, &mut list);
        let access = choose_access(table, 0, &list, self.scans);
        Ok((and_all(list), access))
    }

    fn assignments(
        &mut self,
        scope: &Scope,
        table: &Table,
        assignments: &[ast::Assignment],
    ) -> Result<Vec<(usize, Expr)>, DbError> {
        let mut sets = Vec::new();
        for a in assignments {
            let ast::AssignmentTarget::ColumnName(name) = &a.target else {
                return Err(unsupported("a tuple assignment"));
            };
            let column = object_name(name)?;
            let index = table.column_index(&column).ok_or_else(|| {
                err(
                    SqlState::UndefinedColumn,
                    format!(
                        "column \"{column}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                )
            })?;
            let value = match &a.value {
                ast::Expr::Identifier(i)
                    if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default") =>
                {
                    Expr::Default
                }
                other => {
                    if table.columns[index].default_only() {
                        return Err(always_identity(format!(
                            "column \"{column}\" can only be updated to DEFAULT"
                        )));
                    }
                    self.compile(scope, other)?
                }
            };
            sets.push((index, value));
        }
        Ok(sets)
    }

    /// `SELECT pg_advisory_xact_lock($1), ...`: a select list without
    /// FROM, each advisory lock call taken in order as the statement runs.
    fn advisory(
        &mut self,
        select: &ast::Select,
        orders_or_limits: bool,
    ) -> Result<Prepared, DbError> {
        if !select.from.is_empty()
            || select.selection.is_some()
            || select.having.is_some()
            || !matches!(&select.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
            || orders_or_limits
        {
            return Err(unsupported(
                "an advisory lock function in a query with FROM, WHERE, GROUP BY, ORDER BY or LIMIT (a select list alone is)",
            ));
        }
        let scope = Scope::default();
        let mut items = Vec::new();
        for item in &select.projection {
            let (e, alias) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, None),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident(alias))),
                _ => return Err(unsupported(format!("the select item {item}"))),
            };
            let call = match e {
                ast::Expr::Function(f) => {
                    let name = object_name(&f.name)?;
                    advisory_function(&name).map(|found| (f, name, found))
                }
                _ => None,
            };
            let Some((f, name, mut item)) = call else {
                let expr = self.compile(&scope, e)?;
                items.push((
                    alias.unwrap_or_else(|| "?column?".into()),
                    AdvisoryItem::Value(expr),
                ));
                continue;
            };
            let args = match &f.args {
                ast::FunctionArguments::List(list)
                    if list.clauses.is_empty() && list.duplicate_treatment.is_none() =>
                {
                    &list.args
                }
                _ => return Err(unsupported(format!("the function call {f}"))),
            };
            if matches!(item, AdvisoryItem::UnlockAll) {
                if !args.is_empty() {
                    return Err(err(
                        SqlState::UndefinedFunction,
                        format!("function {f} does not exist"),
                    ));
                }
                items.push((alias.unwrap_or(name), item));
                continue;
            }
            if args.is_empty() || args.len() > 2 {
                return Err(err(
                    SqlState::UndefinedFunction,
                    format!("function {f} does not exist (it takes one bigint or two integers)"),
                ));
            }
            let mut key = Vec::with_capacity(args.len());
            for arg in args {
                match arg {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        key.push(self.compile(&scope, e)?)
                    }
                    _ => return Err(unsupported(format!("the function call {f}"))),
                }
            }
            match &mut item {
                AdvisoryItem::Lock { key: slot, .. } | AdvisoryItem::Unlock { key: slot, .. } => {
                    *slot = key
                }
                AdvisoryItem::UnlockAll | AdvisoryItem::Value(_) => {}
            }
            items.push((alias.unwrap_or(name), item));
        }
        Ok(Prepared::AdvisoryLock(Box::new(AdvisoryPlan { items })))
    }

    fn returning(
        &mut self,
        scope: &Scope,
        items: Option<&[ast::SelectItem]>,
    ) -> Result<Option<Vec<(String, Expr)>>, DbError> {
        match items {
            None => Ok(None),
            Some(items) => {
                let mut c = self.compiler(scope);
                let out = projection(&mut c, scope, items);
                self.done(c);
                out.map(Some)
            }
        }
    }

    pub(crate) fn query(
        &mut self,
        query: ast::Query,
        strength: LockStrength,
    ) -> Result<Prepared, DbError> {
        self.query_in(query, strength, None)
    }

    /// Plans a subquery of a query whose scope is `outer` (see
    /// `subquery`).
    pub(crate) fn subquery(
        &mut self,
        query: &ast::Query,
        outer: &Scope,
    ) -> Result<SelectPlan, DbError> {
        match self.query_in(query.clone(), LockStrength::Plain, Some(outer))? {
            Prepared::Select(plan) => Ok(*plan),
            _ => Err(unsupported("an advisory lock function in a subquery")),
        }
    }

    /// Plans a query; `outer`: the scope of the query a subquery is in.
    fn query_in(
        &mut self,
        query: ast::Query,
        strength: LockStrength,
        outer: Option<&Scope>,
    ) -> Result<Prepared, DbError> {
        if query.with.is_some()
            || query.fetch.is_some()
            || !query.limit_by.is_empty()
            || query.for_clause.is_some()
        {
            return Err(unsupported("WITH / FETCH in a query"));
        }
        if matches!(*query.body, ast::SetExpr::SetOperation { .. }) {
            if outer.is_some() {
                return Err(unsupported("a set operation in a subquery"));
            }
            return self.set_operation(query);
        }
        let tail = QueryTail {
            order_by: query.order_by,
            limit: query.limit,
            offset: query.offset,
            locks: query.locks,
        };
        match *query.body {
            ast::SetExpr::Select(select) => self.select_query(*select, tail, strength, outer),
            // `(SELECT ...)` with nothing around it is that query.
            ast::SetExpr::Query(inner) if tail.is_empty() => self.query_in(*inner, strength, outer),
            ast::SetExpr::Values(values) => {
                self.query_in(values_as_select(&values, tail)?, strength, outer)
            }
            other => Err(unsupported(format!("the query form {other}"))),
        }
    }

    /// Plans a `SELECT` with what surrounds it (`tail`).
    fn select_query(
        &mut self,
        mut select: ast::Select,
        tail: QueryTail,
        strength: LockStrength,
        outer: Option<&Scope>,
    ) -> Result<Prepared, DbError> {
        if select.top.is_some()
            || select.into.is_some()
            || !select.lateral_views.is_empty()
            || select.qualify.is_some()
            || !select.named_window.is_empty()
        {
            return Err(unsupported("DISTINCT / INTO / window clauses"));
        }
        let calls_advisory = select.projection.iter().any(|item| {
            let text = item.to_string().to_ascii_lowercase();
            text.contains("pg_advisory_") || text.contains("pg_try_advisory_")
        });
        if calls_advisory && select.from.is_empty() && outer.is_none() {
            let orders_or_limits =
                tail.order_by.is_some() || tail.limit.is_some() || tail.offset.is_some();
            return self.advisory(&select, orders_or_limits);
        }
        let from = self.plan_from(&select.from, outer)?;
        let (mut scope, joins) = (from.scope, from.steps);
        self.select_list_series(&mut scope, &mut select.projection)?;
        let (list, filter) =
            self.where_conjuncts(&scope, select.selection.as_ref(), from.inner_on, &joins)?;
        let sources = self.joined_sources(&scope, &list, &joins);
        let group_by = match &select.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                exprs.clone()
            }
            _ => return Err(unsupported("GROUP BY ALL / ROLLUP")),
        };
        let mut c = self.compiler(&scope);
        c.aggs = Some(Vec::new());
        c.windows = Some(Vec::new());
        c.window_base = scope.width();
        let output = projection(&mut c, &scope, &select.projection)?;
        let having = select.having.as_ref().map(|h| c.compile(h)).transpose()?;
        let order = order_by(&mut c, tail.order_by.as_ref(), &output)?;
        let distinct =
            super::setops::plan_distinct(&mut c, select.distinct.as_ref(), &output, &order)?;
        let windows = c.windows.take().unwrap_or_default();
        let aggs = c.aggs.take().unwrap_or_default();
        let group_exprs = group_by
            .iter()
            .map(|g| super::grouping::group_item(&mut c, g, &output))
            .collect::<Result<Vec<_>, _>>()?;
        let limit = tail.limit.as_ref().map(|l| c.compile(l)).transpose()?;
        let offset = tail
            .offset
            .as_ref()
            .map(|o| c.compile(&o.value))
            .transpose()?;
        self.done(c);
        let grouped = !aggs.is_empty() || !group_exprs.is_empty() || having.is_some();
        if grouped && !windows.is_empty() {
            return Err(unsupported("a window function in a grouped query"));
        }
        if !windows.is_empty() && !tail.locks.is_empty() {
            return Err(unsupported(
                "FOR UPDATE is not allowed with window functions, and it",
            ));
        }
        let grouping = if grouped {
            check_grouping(&scope, &group_exprs, &output, having.as_ref(), &order)?;
            Some(Grouping {
                by: group_exprs,
                aggs,
                having,
            })
        } else {
            None
        };
        let (grouped, distinct_rows) = (grouping.is_some(), distinct.is_some());
        let lock = row_lock(
            &tail.locks,
            strength,
            &scope,
            &sources,
            grouped,
            distinct_rows,
        )?;
        Ok(Prepared::Select(Box::new(SelectPlan {
            sources,
            joins,
            distinct,
            windows,
            filter: and_all(filter),
            output,
            grouping,
            order,
            limit,
            offset,
            lock,
        })))
    }

    /// The conjuncts that choose access paths (the ON conditions of inner
    /// joins and the WHERE clause), and the filter applied after the joins.
    fn where_conjuncts(
        &mut self,
        scope: &Scope,
        selection: Option<&ast::Expr>,
        inner_on: Vec<Expr>,
        joins: &[super::joins::JoinStep],
    ) -> Result<(Vec<Expr>, Vec<Expr>), DbError> {
        let mut list = inner_on;
        let mut where_list = Vec::new();
        if let Some(e) = selection {
            conjuncts(self.compile(scope, e)?, &mut where_list);
        }
        list.extend(where_list.iter().cloned());
        // With an outer join each ON applies at its own join step (see
        // `joins`), so the filter after the joins is the WHERE clause
        // alone; the ON conjuncts of inner joins still choose access paths.
        let filter = if joins.is_empty() {
            list.clone()
        } else {
            where_list
        };
        Ok((list, filter))
    }

    /// The innermost level's FROM items with their access paths, each
    /// chosen from the conjuncts that apply to it at its join step.
    fn joined_sources(
        &self,
        scope: &Scope,
        list: &[Expr],
        joins: &[super::joins::JoinStep],
    ) -> Vec<Source> {
        scope
            .local()
            .iter()
            .enumerate()
            .map(|(i, (_, t, offset))| Source {
                table: t.clone(),
                offset: *offset,
                access: match self.virtual_of(t) {
                    Some(v) => Access::Virtual(Box::new(v)),
                    None => choose_access(
                        t,
                        *offset,
                        &super::joins::access_conjuncts(
                            list,
                            joins.get(i),
                            *offset,
                            t.columns.len(),
                        ),
                        self.scans,
                    ),
                },
            })
            .collect()
    }

    fn insert(&mut self, insert: ast::Insert) -> Result<InsertPlan, DbError> {
        if insert.or.is_some()
            || insert.ignore
            || insert.overwrite
            || !insert.assignments.is_empty()
            || insert.partitioned.is_some()
            || !insert.after_columns.is_empty()
            || insert.replace_into
            || insert.insert_alias.is_some()
        {
            return Err(unsupported("this form of INSERT"));
        }
        let ast::TableObject::TableName(name) = &insert.table else {
            return Err(unsupported("INSERT INTO a function"));
        };
        let table = self.table(name)?;
        let alias = insert
            .table_alias
            .as_ref()
            .map_or(table.shown_name().to_string(), ident);
        let mut targets = insert_targets(&table, &insert.columns)?;
        // Without a column list, fewer values fill the first columns (the
        // others get their defaults).
        let listed = !insert.columns.is_empty();
        let source = insert
            .source
            .ok_or_else(|| unsupported("INSERT ... DEFAULT VALUES"))?;
        let mut select = None;
        let values = match *source.body {
            ast::SetExpr::Values(values)
                if source.with.is_none()
                    && source.order_by.is_none()
                    && source.limit.is_none()
                    && source.offset.is_none() =>
            {
                values
            }
            body => {
                // INSERT ... SELECT (or a VALUES list with ORDER BY/LIMIT:
                // a query too).
                let query = ast::Query {
                    body: Box::new(body),
                    ..*source
                };
                select = Some(self.insert_select(query, &table, &mut targets, listed)?);
                ast::Values {
                    explicit_row: false,
                    rows: Vec::new(),
                }
            }
        };
        let rows = self.insert_values(&values, &table, &mut targets, listed)?;
        let mut scope = Scope::default();
        scope.add(&alias, table.clone());
        let conflict = match insert.on {
            None => None,
            Some(ast::OnInsert::OnConflict(on)) => Some(self.on_conflict(on, &scope, &table)?),
            Some(_) => return Err(unsupported("ON DUPLICATE KEY UPDATE")),
        };
        let returning = self.returning(&scope, insert.returning.as_deref())?;
        Ok(InsertPlan {
            table,
            targets,
            rows,
            select,
            conflict,
            returning,
        })
    }

    /// Plans `INSERT ... SELECT`'s query and checks its width against the
    /// target columns (`listed`: whether the INSERT named them).
    fn insert_select(
        &mut self,
        query: ast::Query,
        table: &Table,
        targets: &mut Vec<usize>,
        listed: bool,
    ) -> Result<Box<SelectPlan>, DbError> {
        let Prepared::Select(plan) = self.query(query, LockStrength::Plain)? else {
            return Err(unsupported(
                "an advisory lock function in INSERT ... SELECT",
            ));
        };
        if !listed && plan.output.len() < targets.len() {
            targets.truncate(plan.output.len());
        }
        match plan.output.len().cmp(&targets.len()) {
            std::cmp::Ordering::Greater => {
                return Err(err(
                    SqlState::SyntaxError,
                    "INSERT has more expressions than target columns",
                ))
            }
            std::cmp::Ordering::Less => {
                return Err(err(
                    SqlState::SyntaxError,
                    "INSERT has more target columns than expressions",
                ))
            }
            std::cmp::Ordering::Equal => {}
        }
        // A query's values are never DEFAULT (PostgreSQL's
        // rewriter refuses even a NULL there).
        if let Some(&target) = targets.iter().find(|&&t| table.columns[t].default_only()) {
            return Err(always_identity(format!(
                "cannot insert a non-DEFAULT value into column \"{}\"",
                table.columns[target].name
            )));
        }
        Ok(plan)
    }

    /// Compiles the rows of `INSERT ... VALUES` (a bare `DEFAULT` is the
    /// column's default), each as wide as the target columns.
    fn insert_values(
        &mut self,
        values: &ast::Values,
        table: &Table,
        targets: &mut Vec<usize>,
        listed: bool,
    ) -> Result<Vec<Vec<Expr>>, DbError> {
        let empty = Scope::default();
        if !listed {
            if let Some(first) = values.rows.first() {
                if first.len() < targets.len() {
                    targets.truncate(first.len());
                }
            }
        }
        let mut rows = Vec::new();
        for row in &values.rows {
            if row.len() > targets.len() {
                return Err(err(
                    SqlState::SyntaxError,
                    "INSERT has more expressions than target columns",
                ));
            }
            if row.len() < targets.len() {
                return Err(err(
                    SqlState::SyntaxError,
                    "INSERT has more target columns than expressions",
                ));
            }
            let mut compiled = Vec::new();
            for (e, &target) in row.iter().zip(targets.iter()) {
                let is_default = matches!(e, ast::Expr::Identifier(i)
                        if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
                if table.columns[target].default_only() && !is_default {
                    return Err(always_identity(format!(
                        "cannot insert a non-DEFAULT value into column \"{}\"",
                        table.columns[target].name
                    )));
                }
                compiled.push(if is_default {
                    Expr::Default
                } else {
                    self.compile(&empty, e)?
                });
            }
            rows.push(compiled);
        }
        Ok(rows)
    }

    /// `ON CONFLICT [target] DO NOTHING | DO UPDATE ...`: the arbiter
    /// indexes and the action.
    fn on_conflict(
        &mut self,
        on: ast::OnConflict,
        scope: &Scope,
        table: &Arc<Table>,
    ) -> Result<(Vec<usize>, ConflictAction), DbError> {
        let arbiters = match &on.conflict_target {
            None => Vec::new(),
            Some(ast::ConflictTarget::Columns(_)) if self.conflict_exprs.is_some() => {
                let targets = self.conflict_exprs.take().unwrap_or_default();
                super::exprindex::expression_arbiters(self, scope, table, &targets)?
            }
            Some(ast::ConflictTarget::Columns(cols)) => {
                self.inferred_arbiters(cols, scope, table)?
            }
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let name = object_name(name)?;
                vec![table
                    .indexes
                    .iter()
                    .position(|i| i.name == name && i.unique && i.predicate.is_none())
                    .ok_or_else(|| {
                        err(
                            SqlState::Other("42704"),
                            format!(
                                "constraint \"{name}\" for table \"{}\" does not exist",
                                table.name
                            ),
                        )
                    })?]
            }
        };
        let action = match on.action {
            ast::OnConflictAction::DoNothing => ConflictAction::Nothing,
            ast::OnConflictAction::DoUpdate(update) => {
                if arbiters.is_empty() {
                    return Err(err(
                        SqlState::SyntaxError,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    ));
                }
                let mut both = scope.clone();
                both.add("excluded", table.clone());
                let sets = self.assignments(&both, table, &update.assignments)?;
                let filter = update
                    .selection
                    .as_ref()
                    .map(|s| self.compile(&both, s))
                    .transpose()?;
                ConflictAction::Update { sets, filter }
            }
        };
        Ok((arbiters, action))
    }

    /// `ON CONFLICT (columns) [WHERE ...]`: the unique indexes over exactly
    /// those columns whose predicate (if partial) the WHERE implies.
    fn inferred_arbiters(
        &mut self,
        cols: &[ast::Ident],
        scope: &Scope,
        table: &Table,
    ) -> Result<Vec<usize>, DbError> {
        let mut wanted: Vec<usize> = Vec::new();
        for c in cols {
            let name = ident(c);
            wanted.push(table.column_index(&name).ok_or_else(|| {
                err(
                    SqlState::UndefinedColumn,
                    format!("column \"{name}\" does not exist"),
                )
            })?);
        }
        wanted.sort_unstable();
        // The conjuncts of the target's WHERE: a partial
        // unique index is inferred only when each of its
        // predicate's conjuncts is one of them.
        let given: Vec<String> = match self.conflict_where.take() {
            None => Vec::new(),
            Some(e) => {
                let mut list = Vec::new();
                self.compile(scope, &e)?.conjuncts(&mut list);
                list.iter().map(|x| format!("{x:?}")).collect()
            }
        };
        let found: Vec<usize> = (0..table.indexes.len())
            .filter(|&i| {
                let idx = &table.indexes[i];
                let mut cols = idx.columns.clone();
                cols.sort_unstable();
                let implied = idx.predicate.as_ref().is_none_or(|p| {
                    let mut needed = Vec::new();
                    p.conjuncts(&mut needed);
                    needed.iter().all(|x| given.contains(&format!("{x:?}")))
                });
                idx.unique && implied && cols == wanted
            })
            .collect();
        if found.is_empty() {
            return Err(err(
                SqlState::InvalidColumnReference,
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            ));
        }
        Ok(found)
    }
}

/// The columns an INSERT writes: those it lists, or every visible column.
fn insert_targets(table: &Table, columns: &[ast::Ident]) -> Result<Vec<usize>, DbError> {
    if columns.is_empty() {
        return Ok((0..table.visible()).collect());
    }
    columns
        .iter()
        .map(|c| {
            let name = ident(c);
            table.column_index(&name).ok_or_else(|| {
                err(
                    SqlState::UndefinedColumn,
                    format!(
                        "column \"{name}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                )
            })
        })
        .collect()
}

/// What a query puts around its `SELECT`: `ORDER BY`, `LIMIT`, `OFFSET`
/// and the locking clauses.
struct QueryTail {
    order_by: Option<ast::OrderBy>,
    limit: Option<ast::Expr>,
    offset: Option<ast::Offset>,
    locks: Vec<ast::LockClause>,
}

impl QueryTail {
    fn is_empty(&self) -> bool {
        self.order_by.is_none()
            && self.limit.is_none()
            && self.offset.is_none()
            && self.locks.is_empty()
    }
}

/// `VALUES ...` as a query is `SELECT * FROM (VALUES ...) "*VALUES*"`, as
/// PostgreSQL names it, with the query's `tail` around it.
fn values_as_select(values: &ast::Values, tail: QueryTail) -> Result<ast::Query, DbError> {
    let text = format!("SELECT * FROM ({values}) AS \"*VALUES*\"");
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let parsed = sqlparser::parser::Parser::parse_sql(&dialect, &text)
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let Some(ast::Statement::Query(mut rewritten)) = parsed.into_iter().next() else {
        return Err(unsupported(format!("the query form {text}")));
    };
    rewritten.order_by = tail.order_by;
    rewritten.limit = tail.limit;
    rewritten.offset = tail.offset;
    rewritten.locks = tail.locks;
    Ok(*rewritten)
}

/// A query's `ORDER BY` keys: a position or an output column's name
/// refers to the select list, anything else is an expression over the
/// FROM items.
fn order_by(
    c: &mut Compiler<'_>,
    order_by: Option<&ast::OrderBy>,
    output: &[(String, Expr)],
) -> Result<Vec<Order>, DbError> {
    let mut order = Vec::new();
    let Some(order_by) = order_by else {
        return Ok(order);
    };
    let ast::OrderByKind::Expressions(exprs) = &order_by.kind else {
        return Err(unsupported("ORDER BY ALL"));
    };
    if order_by.interpolate.is_some() {
        return Err(unsupported("ORDER BY ... INTERPOLATE"));
    }
    for o in exprs {
        let key = match &o.expr {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => {
                    let k: usize = n.parse().unwrap_or(0);
                    if k == 0 || k > output.len() {
                        return Err(err(
                            SqlState::InvalidColumnReference,
                            format!("ORDER BY position {n} is not in select list"),
                        ));
                    }
                    OrderKey::Output(k - 1)
                }
                _ => OrderKey::Expr(c.compile(&o.expr)?),
            },
            ast::Expr::Identifier(i)
                if output.iter().filter(|(name, _)| *name == ident(i)).count() == 1
                    && !matches!(c.compile(&o.expr), Ok(Expr::Col(_))) =>
            {
                OrderKey::Output(
                    output
                        .iter()
                        .position(|(name, _)| *name == ident(i))
                        .expect("counted"),
                )
            }
            e => OrderKey::Expr(c.compile(e)?),
        };
        let desc = o.options.asc == Some(false);
        order.push(Order {
            key,
            desc,
            nulls_first: o.options.nulls_first.unwrap_or(desc),
        });
    }
    Ok(order)
}

/// The row lock a `SELECT ... FOR UPDATE/SHARE` takes, and how it waits
/// (`grouped`, `distinct`: whether the query aggregates, or is DISTINCT,
/// which PostgreSQL refuses to lock).
fn row_lock(
    locks: &[ast::LockClause],
    strength: LockStrength,
    scope: &Scope,
    sources: &[Source],
    grouped: bool,
    distinct: bool,
) -> Result<Option<(RowLockMode, WaitPolicy)>, DbError> {
    let one = match locks {
        [] => return Ok(None),
        [one] => one,
        _ => return Err(unsupported("several locking clauses")),
    };
    if let Some(of) = &one.of {
        // `FOR UPDATE OF t` on a one-table query locks what a
        // plain FOR UPDATE does; it must name that table.
        let named = object_name(of)?;
        let known = scope
            .sources
            .iter()
            .any(|(alias, table, _)| *alias == named || table.name == named);
        if !known {
            return Err(err(
                SqlState::UndefinedTable,
                format!("relation \"{named}\" in FOR UPDATE clause not found in FROM clause"),
            ));
        }
    }
    if grouped {
        return Err(unsupported(
            "FOR UPDATE is not allowed with aggregate functions, and it",
        ));
    }
    if distinct {
        return Err(unsupported(
            "FOR UPDATE is not allowed with DISTINCT clause, and it",
        ));
    }
    if sources.len() != 1 {
        return Err(unsupported("FOR UPDATE on a join"));
    }
    if matches!(sources[0].access, Access::Virtual(_)) {
        return Err(unsupported(
            "FOR UPDATE over a WITH query, a subquery or a function in FROM",
        ));
    }
    let wait = match one.nonblock {
        None => WaitPolicy::Wait,
        Some(ast::NonBlock::Nowait) => WaitPolicy::Nowait,
        Some(ast::NonBlock::SkipLocked) => WaitPolicy::SkipLocked,
    };
    let mode = match (&one.lock_type, strength) {
        (ast::LockType::Update, LockStrength::NoKeyUpdate) => RowLockMode::NoKeyUpdate,
        (ast::LockType::Update, _) => RowLockMode::Update,
        (ast::LockType::Share, LockStrength::KeyShare) => RowLockMode::KeyShare,
        (ast::LockType::Share, _) => RowLockMode::Share,
    };
    Ok(Some((mode, wait)))
}

/// 0A000 for a statement the engine does not run, named by its first two
/// words.
fn unsupported_statement(statement: &ast::Statement) -> DbError {
    let text = statement.to_string();
    let head: String = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    unsupported(format!("the statement {head}"))
}

/// `CREATE EXTENSION name [SCHEMA public]`: the extensions the engine
/// has built in are accepted and recorded, others are 0A000.
fn create_extension(
    name: String,
    if_not_exists: bool,
    schema: Option<&ast::Ident>,
) -> Result<Prepared, DbError> {
    if !super::ddl::EXTENSIONS.contains(&name.as_str()) {
        return Err(unsupported(format!(
            "the extension {name} (btree_gist, pgcrypto and uuid-ossp are)"
        )));
    }
    if let Some(schema) = schema.map(ident) {
        if schema != "public" {
            return Err(err(
                SqlState::Other("3F000"),
                format!("schema \"{schema}\" does not exist"),
            ));
        }
    }
    Ok(Prepared::CreateExtension {
        name,
        if_not_exists,
    })
}

/// A write of a value to a `GENERATED ALWAYS AS IDENTITY` or a generated
/// column.
fn always_identity(message: String) -> DbError {
    err(SqlState::Other("428C9"), message)
}

/// Columns outside aggregates must be grouped (or belong to a table whose
/// whole primary key is grouped), as PostgreSQL requires.
fn check_grouping(
    scope: &Scope,
    by: &[Expr],
    output: &[(String, Expr)],
    having: Option<&Expr>,
    order: &[Order],
) -> Result<(), DbError> {
    let grouped: Vec<usize> = by
        .iter()
        .filter_map(|e| match e {
            Expr::Col(c) => Some(*c),
            _ => None,
        })
        .collect();
    // A subquery's correlated columns are constants within it.
    let own = scope
        .local()
        .first()
        .map_or(usize::MAX, |(_, _, offset)| *offset);
    let allowed = |c: usize| -> bool {
        c < own
            || grouped.contains(&c)
            || scope.sources.iter().any(|(_, t, offset)| {
                c >= *offset
                    && c < offset + t.columns.len()
                    && t.pk().iter().all(|p| grouped.contains(&(offset + p)))
            })
    };
    let by: Vec<String> = by.iter().map(|e| format!("{e:?}")).collect();
    let mut bad = None;
    let mut check = |e: &Expr| {
        if bad.is_none() {
            bad = super::grouping::ungrouped(e, &by, &allowed);
        }
    };
    output.iter().for_each(|(_, e)| check(e));
    if let Some(h) = having {
        check(h);
    }
    for o in order {
        if let OrderKey::Expr(e) = &o.key {
            check(e);
        }
    }
    match bad {
        None => Ok(()),
        Some(c) => {
            let name = scope
                .sources
                .iter()
                .find(|(_, t, offset)| c >= *offset && c < offset + t.columns.len())
                .map(|(alias, t, offset)| format!("{alias}.{}", t.columns[c - offset].name))
                .unwrap_or_default();
            Err(err(
                SqlState::GroupingError,
                format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
            ))
        }
    }
}

/// The select list (or RETURNING list): names and expressions, `*`
/// expanded.
fn projection(
    c: &mut Compiler<'_>,
    scope: &Scope,
    items: &[ast::SelectItem],
) -> Result<Vec<(String, Expr)>, DbError> {
    let mut out = Vec::new();
    for item in items {
        match item {
            ast::SelectItem::Wildcard(options) => {
                if options.opt_exclude.is_some()
                    || options.opt_except.is_some()
                    || options.opt_replace.is_some()
                    || options.opt_rename.is_some()
                    || options.opt_ilike.is_some()
                {
                    return Err(unsupported("* with options"));
                }
                if scope.sources.is_empty() {
                    return Err(err(
                        SqlState::SyntaxError,
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                if let Some(star) = &scope.star {
                    out.extend(star.iter().cloned());
                    continue;
                }
                for (_, t, offset) in scope.local() {
                    for (i, col) in t.columns.iter().enumerate().take(t.visible()) {
                        out.push((col.name.to_string(), Expr::Col(offset + i)));
                    }
                }
            }
            ast::SelectItem::QualifiedWildcard(kind, _) => {
                let ast::SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                    return Err(unsupported("expr.*"));
                };
                let alias = object_name(name)?;
                let (_, t, offset) = scope
                    .local()
                    .iter()
                    .find(|(a, _, _)| *a == alias)
                    .ok_or_else(|| {
                        err(
                            SqlState::UndefinedTable,
                            format!("missing FROM-clause entry for table \"{alias}\""),
                        )
                    })?;
                for (i, col) in t.columns.iter().enumerate().take(t.visible()) {
                    out.push((col.name.to_string(), Expr::Col(offset + i)));
                }
            }
            ast::SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    ast::Expr::Identifier(i) => ident(i),
                    ast::Expr::CompoundIdentifier(parts) => {
                        parts.last().map(ident).unwrap_or_default()
                    }
                    ast::Expr::Function(f) => {
                        object_name(&f.name).unwrap_or_else(|_| "?column?".into())
                    }
                    ast::Expr::Cast {
                        expr, data_type, ..
                    } => match &**expr {
                        ast::Expr::Identifier(i) => ident(i),
                        _ => type_of(data_type)
                            .map(|t| match t {
                                SqlType::Integer => "int4".to_string(),
                                SqlType::BigInt => "int8".to_string(),
                                other => other.name().to_string(),
                            })
                            .unwrap_or_else(|_| "?column?".into()),
                    },
                    _ => "?column?".into(),
                };
                out.push((name, c.compile(e)?));
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                out.push((ident(alias), c.compile(expr)?));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_rewrites_no_key_update_and_cuts_exclude() {
        let (text, strength, ex) =
            preprocess("SELECT * FROM t WHERE id = 1 FOR NO KEY UPDATE").unwrap();
        assert_eq!(strength, LockStrength::NoKeyUpdate);
        assert!(
            text.split_whitespace()
                .collect::<Vec<_>>()
                .ends_with(&["FOR", "UPDATE"]),
            "{text}"
        );
        assert!(ex.is_empty());
        let (text, _, ex) = preprocess(
            "CREATE TABLE b (id int PRIMARY KEY, room int, span int4range, CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, span WITH &&))",
        )
        .unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].name.as_deref(), Some("no_overlap"));
        assert_eq!(
            (ex[0].group.as_str(), ex[0].range.as_str()),
            ("room", "span")
        );
        assert!(!text.to_ascii_uppercase().contains("EXCLUDE"), "{text}");
        let (text, strength, _) = preprocess("SELECT * FROM t FOR KEY SHARE").unwrap();
        assert_eq!(strength, LockStrength::KeyShare);
        assert!(
            text.split_whitespace()
                .collect::<Vec<_>>()
                .ends_with(&["FOR", "SHARE"]),
            "{text}"
        );
    }
}
