//! Table locks and advisory locks on the SQL side: `LOCK TABLE` (parsed
//! here: sqlparser knows only MySQL's `LOCK TABLES`), the table lock
//! modes every statement takes implicitly, the advisory lock calls a
//! WHERE clause makes, and the rewrite that lets a `LIMIT` follow a
//! locking clause (PostgreSQL accepts both orders, sqlparser only
//! `LIMIT` first).

use super::catalog::Catalog;
use super::expr::{Env, Expr};
use super::plan::Prepared;
use super::value::{coerce, encode_key, err, SqlType, Value};
use crate::store::{AdvisoryCall, AdvisoryMode, DbError, Key, SqlState, TableLockMode};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::borrow::Cow;

/// `LOCK [TABLE] [ONLY] name [*] [, ...] [IN mode MODE] [NOWAIT]`.
#[derive(Clone, Debug)]
pub(crate) struct LockTablePlan {
    /// The tables, in the order they are locked (names as the catalog
    /// keys them).
    pub(crate) tables: Vec<String>,
    pub(crate) mode: TableLockMode,
    pub(crate) nowait: bool,
}

/// An advisory lock call in a WHERE clause (or a select list with FROM):
/// the key's arguments, the mode, and whether it is session-level.
#[derive(Clone, Debug)]
pub(crate) struct AdvisoryCallPlan {
    pub(crate) args: Vec<Expr>,
    pub(crate) mode: AdvisoryMode,
    pub(crate) session_level: bool,
}

/// The waiting advisory lock functions, by name: mode and level. The
/// `try` forms return a boolean the statement goes on with, which a
/// statement-level prelude cannot give, so only these are taken in a
/// WHERE clause.
pub(crate) fn waiting_advisory_function(name: &str) -> Option<(AdvisoryMode, bool)> {
    Some(match name {
        "pg_advisory_lock" => (AdvisoryMode::Exclusive, true),
        "pg_advisory_lock_shared" => (AdvisoryMode::Shared, true),
        "pg_advisory_xact_lock" => (AdvisoryMode::Exclusive, false),
        "pg_advisory_xact_lock_shared" => (AdvisoryMode::Shared, false),
        _ => return None,
    })
}

/// The store key of an advisory lock: one bigint, or two integers (a
/// different key space, as in PostgreSQL); `None` when an argument is
/// NULL (the functions are strict: no lock).
pub(crate) fn advisory_key(args: &[Expr], env: &Env<'_>) -> Result<Option<Key>, DbError> {
    let (prefix, ty) = match args.len() {
        1 => ("@advisory/", SqlType::BigInt),
        _ => ("@advisory2/", SqlType::Integer),
    };
    let mut text = String::from(prefix);
    for arg in args {
        let value = coerce(&arg.eval(env)?, ty)?;
        if value.is_null() {
            return Ok(None);
        }
        encode_key(&mut text, &value);
    }
    Ok(Some(Key::raw(&text)))
}

fn tokens(sql: &str) -> Result<Vec<Token>, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    Ok(tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect())
}

fn is_word(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

fn syntax(at: Option<&Token>) -> DbError {
    match at {
        Some(t) => err(
            SqlState::SyntaxError,
            format!("syntax error at or near \"{t}\" in LOCK TABLE"),
        ),
        None => err(SqlState::SyntaxError, "syntax error at end of LOCK TABLE"),
    }
}

/// `LOCK TABLE ...`, or `None` when `sql` is another statement.
pub(crate) fn parse_lock_table(sql: &str) -> Result<Option<LockTablePlan>, DbError> {
    let head = sql.trim_start();
    if !head
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("LOCK"))
        || head[4..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    {
        return Ok(None);
    }
    let tokens = tokens(sql)?;
    let mut at = 1;
    let peek = |i: usize| tokens.get(i);
    if is_word(peek(at), "TABLE") {
        at += 1;
    }
    if is_word(peek(at), "ONLY") {
        at += 1;
    }
    let mut tables = Vec::new();
    loop {
        tables.push(lock_table_name(&tokens, &mut at)?);
        if matches!(peek(at), Some(Token::Comma)) {
            at += 1;
            continue;
        }
        break;
    }
    let mut mode = TableLockMode::AccessExclusive;
    if is_word(peek(at), "IN") {
        at += 1;
        mode = lock_mode(&tokens, &mut at)?;
    }
    let nowait = is_word(peek(at), "NOWAIT");
    if nowait {
        at += 1;
    }
    if matches!(peek(at), Some(Token::SemiColon)) {
        at += 1;
    }
    if at != tokens.len() {
        return Err(syntax(peek(at)));
    }
    Ok(Some(LockTablePlan {
        tables,
        mode,
        nowait,
    }))
}

/// A table name of LOCK TABLE at token `at` (moved past it): a possibly
/// qualified name, word (. word)*, then an optional `*` (descendant
/// tables: there are none).
fn lock_table_name(tokens: &[Token], at: &mut usize) -> Result<String, DbError> {
    let peek = |i: usize| tokens.get(i);
    let mut parts = Vec::new();
    loop {
        match peek(*at) {
            Some(Token::Word(w)) => {
                parts.push(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_ascii_lowercase()
                });
                *at += 1;
            }
            other => return Err(syntax(other)),
        }
        if matches!(peek(*at), Some(Token::Period)) {
            *at += 1;
            continue;
        }
        break;
    }
    if matches!(peek(*at), Some(Token::Mul)) {
        *at += 1;
    }
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        [schema, table] if schema == "public" => Ok(table.clone()),
        [schema, table] => Ok(format!("{schema}.{table}")),
        _ => Err(err(
            SqlState::FeatureNotSupported,
            format!(
                "the name {} is not supported by the simulated SQL engine",
                parts.join(".")
            ),
        )),
    }
}

/// The lock mode of `LOCK TABLE ... IN mode MODE`, its words starting at
/// token `at` (moved past `MODE`).
fn lock_mode(tokens: &[Token], at: &mut usize) -> Result<TableLockMode, DbError> {
    let peek = |i: usize| tokens.get(i);
    let mut words = Vec::new();
    while let Some(Token::Word(w)) = peek(*at) {
        if w.value.eq_ignore_ascii_case("MODE") {
            break;
        }
        words.push(w.value.to_ascii_uppercase());
        *at += 1;
    }
    if !is_word(peek(*at), "MODE") {
        return Err(syntax(peek(*at)));
    }
    *at += 1;
    let spelled = words.join(" ");
    TableLockMode::ALL
        .into_iter()
        .find(|m| m.sql_name() == spelled)
        .ok_or_else(|| syntax(tokens.get(*at - 1 - words.len().min(1))))
}

/// The table locks a statement takes before it runs, in order, as
/// PostgreSQL's parser takes them: ROW EXCLUSIVE on the table an INSERT,
/// UPDATE or DELETE writes, ROW SHARE on the tables of a locking read,
/// ACCESS SHARE on every other table it reads (`touched`: every table the
/// planner resolved).
pub(crate) fn relation_locks(kind: &Prepared, touched: &[String]) -> Vec<(String, TableLockMode)> {
    let mut out: Vec<(String, TableLockMode)> = Vec::new();
    let mut add = |table: &str, mode: TableLockMode| {
        if !out.iter().any(|(t, m)| t == table && *m == mode) {
            out.push((table.to_string(), mode));
        }
    };
    let target = match kind {
        Prepared::Insert(plan) => Some(&plan.table),
        Prepared::Update(plan) => Some(&plan.source.table),
        Prepared::Delete(plan) => Some(&plan.source.table),
        _ => None,
    };
    if let Prepared::Truncate(plan) = kind {
        for table in &plan.tables {
            for name in with_partitions(table) {
                add(&name, TableLockMode::AccessExclusive);
            }
        }
        return out;
    }
    let locking_read = matches!(kind, Prepared::Select(plan) if plan.lock.is_some());
    // A foreign key's other table is locked only when its check or action
    // runs (`sql_lock_table_in_statement`), as PostgreSQL's RI trigger
    // query locks it: an UPDATE of a parent's other columns, or a child
    // row with a NULL reference, locks nothing there.
    // A partitioned target's partitions get its mode.
    let targets = target.map(|t| with_partitions(t)).unwrap_or_default();
    for name in &targets {
        add(name, TableLockMode::RowExclusive);
    }
    // An INSERT into a partition itself checks the row against the
    // partition's bound, which PostgreSQL reads from the parent under
    // ACCESS SHARE (generate_partition_qual).
    if let (Prepared::Insert(plan), Some(_)) = (kind, target.and_then(|t| t.view.as_ref())) {
        add(&plan.table.name, TableLockMode::AccessShare);
    }
    for table in touched {
        if targets.contains(table) {
            continue;
        }
        let mode = if locking_read {
            TableLockMode::RowShare
        } else {
            TableLockMode::AccessShare
        };
        add(table, mode);
    }
    out
}

/// Moves a `LIMIT` / `OFFSET` written after a locking clause (`FOR UPDATE
/// ... LIMIT 1`, which PostgreSQL accepts) before it, where sqlparser
/// expects it. Other text is returned as it is.
pub(crate) fn limit_before_locking(sql: &str) -> Result<Cow<'_, str>, DbError> {
    let upper = sql.to_ascii_uppercase();
    if !(upper.contains("FOR") && (upper.contains("LIMIT") || upper.contains("OFFSET"))) {
        return Ok(Cow::Borrowed(sql));
    }
    let dialect = PostgreSqlDialect {};
    let all = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let word = |t: &Token, w: &str| is_word(Some(t), w);
    let solid: Vec<usize> = (0..all.len())
        .filter(|&i| !matches!(all[i], Token::Whitespace(_)))
        .collect();
    let depth_at = paren_depths(&all, &solid);
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut changed = false;
    let mut s = 0;
    while s < solid.len() {
        let starts_lock = word(&all[solid[s]], "FOR")
            && solid.get(s + 1).is_some_and(|&i| {
                ["UPDATE", "SHARE", "NO", "KEY"]
                    .iter()
                    .any(|w| word(&all[i], w))
            });
        if !starts_lock {
            s += 1;
            continue;
        }
        let depth = depth_at[s];
        let k = locking_clauses_end(&all, &solid, &depth_at, s);
        if k >= solid.len() || depth_at[k] != depth || matches!(all[solid[k]], Token::SemiColon) {
            s = k.max(s + 1);
            continue;
        }
        if matches!(all[solid[k]], Token::RParen) {
            s = k + 1;
            continue;
        }
        let end = limit_part_end(&all, &solid, &depth_at, k);
        // Tokens from the FOR (solid s) to the LIMIT (solid k) go after
        // the LIMIT part (solid k..end).
        let (lock_from, limit_from) = (solid[s], solid[k]);
        let limit_to = if end < solid.len() {
            solid[end]
        } else {
            all.len()
        };
        let positions: Vec<usize> = (0..order.len())
            .filter(|&p| order[p] >= lock_from && order[p] < limit_to)
            .collect();
        let mut moved: Vec<usize> = (limit_from..limit_to).collect();
        moved.push(usize::MAX); // a space between the parts
        moved.extend(lock_from..limit_from);
        let first = positions[0];
        order.splice(first..first + positions.len(), moved);
        changed = true;
        s = end;
    }
    if !changed {
        return Ok(Cow::Borrowed(sql));
    }
    Ok(Cow::Owned(
        order
            .iter()
            .map(|&i| {
                if i == usize::MAX {
                    " ".to_string()
                } else {
                    all[i].to_string()
                }
            })
            .collect(),
    ))
}

/// The parenthesis depth at each solid (non-whitespace) token.
fn paren_depths(all: &[Token], solid: &[usize]) -> Vec<i32> {
    let mut depth = 0;
    solid
        .iter()
        .map(|&i| {
            let here = depth;
            match all[i] {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => {}
            }
            here
        })
        .collect()
}

/// Where the locking clauses starting at solid token `s` end: the first
/// LIMIT / OFFSET at their depth, else the parenthesis closing them, a
/// semicolon or the end of the query.
fn locking_clauses_end(all: &[Token], solid: &[usize], depth_at: &[i32], s: usize) -> usize {
    let word = |t: &Token, w: &str| is_word(Some(t), w);
    let depth = depth_at[s];
    let mut k = s;
    while k < solid.len()
        && depth_at[k] >= depth
        && !(depth_at[k] == depth
            && (word(&all[solid[k]], "LIMIT") || word(&all[solid[k]], "OFFSET")))
        && !matches!(all[solid[k]], Token::SemiColon)
    {
        if depth_at[k] == depth && matches!(all[solid[k]], Token::RParen) {
            break;
        }
        k += 1;
    }
    k
}

/// Where the LIMIT / OFFSET part starting at solid token `k` ends: at a
/// locking clause, a closing parenthesis, a semicolon or the end.
fn limit_part_end(all: &[Token], solid: &[usize], depth_at: &[i32], k: usize) -> usize {
    let word = |t: &Token, w: &str| is_word(Some(t), w);
    let depth = depth_at[k];
    let mut end = k;
    while end < solid.len()
        && depth_at[end] >= depth
        && !(depth_at[end] == depth
            && (word(&all[solid[end]], "FOR") || matches!(all[solid[end]], Token::RParen)))
        && !matches!(all[solid[end]], Token::SemiColon)
    {
        end += 1;
    }
    end
}

/// The value a waiting advisory lock call has in an expression: `void`,
/// which is not NULL (`pg_advisory_lock(k) IS NOT NULL` is true).
pub(crate) fn void() -> Value {
    Value::Text("".into())
}

/// A statement's table locks and advisory lock calls.
pub(super) type Prelude = (std::sync::Arc<[(String, TableLockMode)]>, Vec<AdvisoryCall>);

/// What `statement` takes around its snapshot (see
/// [`crate::store::Tx`]'s prelude): its table locks, and its WHERE
/// clause's advisory lock calls with their keys (a NULL key takes none).
pub(super) fn prelude(
    statement: &super::plan::Statement,
    params: &[Value],
    ctx: &super::funcs::Ctx,
) -> Result<Prelude, DbError> {
    let env = Env {
        row: &[],
        params,
        aggs: &[],
        ctx,
    };
    let mut calls = Vec::new();
    for call in &statement.advisory_calls {
        if let Some(key) = advisory_key(&call.args, &env)? {
            calls.push(AdvisoryCall {
                key,
                mode: call.mode,
                session_level: call.session_level,
            });
        }
    }
    Ok((statement.relation_locks.clone(), calls))
}

impl super::SqlSession {
    /// `LOCK TABLE`: only in a transaction block (25P01), in any mode
    /// also in a READ ONLY one (PostgreSQL refuses the strong modes only
    /// on a hot standby); the tables are locked in order, each wait under
    /// the session's timeouts.
    pub(super) async fn lock_table(
        &mut self,
        lock: &LockTablePlan,
        timeouts: crate::store::Timeouts,
    ) -> Result<super::Rows, DbError> {
        let Some(block) = &mut self.block else {
            return Err(err(
                SqlState::Other("25P01"),
                "LOCK TABLE can only be used in transaction blocks",
            ));
        };
        if block.failed {
            return Err(err(
                SqlState::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let mut tables = Vec::with_capacity(lock.tables.len());
        for name in &lock.tables {
            // A partition is locked by its own name; LOCK TABLE of a
            // partitioned table locks its partitions too (PostgreSQL
            // recurses without ONLY).
            if self.db.shared.catalog().partitions.contains_key(name) {
                tables.push((name.clone(), lock.mode));
                continue;
            }
            match self.db.shared.table(name) {
                Ok(table) => tables.extend(
                    with_partitions(&table)
                        .into_iter()
                        .map(|name| (name, lock.mode)),
                ),
                Err(e) => return Err(self.fail(e)),
            }
        }
        let block = self.block.as_mut().expect("checked above");
        block.tx.set_timeouts(timeouts);
        match block.tx.sql_lock_tables(&tables, lock.nowait).await {
            Ok(()) => Ok(super::Rows::default()),
            Err(e) => {
                block.failed = true;
                Err(e)
            }
        }
    }
}

/// `TRUNCATE [TABLE] [ONLY] a [, ...] [CONTINUE IDENTITY] [CASCADE |
/// RESTRICT]`: the tables to empty (with CASCADE, every table whose
/// foreign key refers to one of them, and so on).
#[derive(Clone, Debug)]
pub(crate) struct TruncatePlan {
    pub(crate) tables: Vec<std::sync::Arc<super::catalog::Table>>,
    /// Without CASCADE, a table outside the list whose foreign key refers
    /// to one in it (child, parent): the statement fails with 0A000 once
    /// it holds its locks, as PostgreSQL checks then.
    pub(crate) refused: Option<(String, String)>,
}

/// Plans `TRUNCATE` of `named` (resolved), with the tables CASCADE adds,
/// or the reference that makes it fail without CASCADE.
pub(crate) fn truncate_plan(
    mut tables: Vec<std::sync::Arc<super::catalog::Table>>,
    cascade: bool,
    catalog: &Catalog,
) -> Result<TruncatePlan, DbError> {
    let mut refused = None;
    let mut i = 0;
    while i < tables.len() && refused.is_none() {
        let name = tables[i].name.clone();
        for child in catalog.tables.values() {
            let refers = child.foreign_keys.iter().any(|fk| fk.parent == name);
            if !refers || tables.iter().any(|t| t.name == child.name) {
                continue;
            }
            if !cascade {
                refused = Some((child.name.clone(), name.clone()));
                break;
            }
            tables.push(child.clone());
        }
        i += 1;
    }
    Ok(TruncatePlan { tables, refused })
}

/// Runs `TRUNCATE` (its ACCESS EXCLUSIVE locks were taken before its
/// start, so no other transaction has the tables' rows in flight):
/// deletes every row and index entry and marks the ranges, so that at
/// commit no snapshot, however old, sees the old rows.
pub(super) async fn truncate(
    tx: &mut crate::store::Tx,
    plan: &TruncatePlan,
) -> Result<super::Rows, DbError> {
    tx.sql_start(crate::store::Op::Delete, None, None).await?;
    if let Some((child, parent)) = &plan.refused {
        // PostgreSQL's SQLSTATE for it is 0A000 too.
        return Err(err(
            SqlState::FeatureNotSupported,
            format!(
                "cannot truncate a table referenced in a foreign key constraint (table \"{child}\" references \"{parent}\"; truncate it at the same time, or use TRUNCATE ... CASCADE)"
            ),
        ));
    }
    for table in &plan.tables {
        for index in &table.indexes {
            let range = crate::store::KeyRange::prefix(&index.prefix);
            for (key, _) in tx.sql_latest_range(&range) {
                tx.sql_write(&key, crate::store::WriteKind::Delete, None)
                    .await?;
            }
            tx.sql_truncated(range);
        }
    }
    Ok(super::Rows::default())
}

/// The table lock a DDL statement takes (ACCESS EXCLUSIVE for `DROP
/// TABLE`, SHARE for `CREATE INDEX`), in a transaction of its own that
/// the caller drops (rolls back) once the DDL is done. DDL runs outside
/// transaction blocks here, so it holds the lock only while it waits for
/// it: the lock is taken (through the store, waiting in the queue like
/// any request, which makes later readers queue behind it) only when
/// another transaction holds or waits for a conflicting mode; otherwise
/// nothing happens and `None` is returned.
/// A table's name, and its partitions' when it is partitioned: the
/// relations PostgreSQL locks for a statement on it.
pub(super) fn with_partitions(table: &super::catalog::Table) -> Vec<String> {
    if let Some(view) = &table.view {
        return vec![view.name.clone()];
    }
    let mut names = vec![table.name.clone()];
    if let Some(p) = &table.partitioning {
        names.extend(p.names().map(str::to_string));
    }
    names
}

/// The table locks a DDL statement of the plan takes: ACCESS EXCLUSIVE
/// for DROP TABLE, SHARE for CREATE INDEX (with a partitioned table's
/// partitions).
pub(super) fn ddl_lock_modes(db: &super::SqlDb, kind: &Prepared) -> Vec<(String, TableLockMode)> {
    match kind {
        // A partitioned table's partitions are locked with it.
        // A partition dropped alone: its partitioned table first, as
        // PostgreSQL's RangeVarCallbackForDropRelation locks it.
        Prepared::Drop(spec) if !spec.index && !spec.schema => {
            let mut out: Vec<(String, TableLockMode)> = Vec::new();
            for name in &spec.names {
                let parent = db.shared.catalog().partitions.get(name).cloned();
                let names = match (parent, db.shared.table(name)) {
                    (Some(parent), _) => vec![parent, name.clone()],
                    (None, Ok(table)) => with_partitions(&table),
                    (None, Err(_)) => Vec::new(),
                };
                for name in names {
                    if !out.iter().any(|(n, _)| *n == name) {
                        out.push((name, TableLockMode::AccessExclusive));
                    }
                }
            }
            out
        }
        Prepared::CreateIndex(create) => super::expr::object_name(&create.table_name)
            .ok()
            .and_then(|name| db.shared.table(&name).ok())
            .map(|table| {
                with_partitions(&table)
                    .into_iter()
                    .map(|name| (name, TableLockMode::Share))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

pub(super) async fn ddl_lock(
    db: &super::SqlDb,
    kind: &Prepared,
    timeouts: crate::store::Timeouts,
) -> Result<Option<crate::store::Tx>, DbError> {
    let wanted = ddl_lock_modes(db, kind);
    if !wanted
        .iter()
        .any(|(table, mode)| db.store.table_lock_contended(table, *mode))
    {
        return Ok(None);
    }
    let mut tx = db.store.begin(crate::store::Isolation::ReadCommitted);
    tx.set_timeouts(timeouts);
    tx.sql_lock_tables(&wanted, false).await?;
    Ok(Some(tx))
}

/// The settings side of a savepoint statement that succeeded: `SAVEPOINT`
/// remembers the session's settings and the block's `SET LOCAL`s,
/// `ROLLBACK TO` puts them back (keeping the savepoint) and revives the
/// block, `RELEASE` forgets it and the newer ones.
pub(super) fn savepoint_settings(
    kind: &Prepared,
    block: &mut super::Block,
    settings: &mut super::Settings,
    ddl_mark: usize,
) -> Option<usize> {
    let find = |block: &super::Block, name: &str| {
        block
            .savepoints
            .iter()
            .rposition(|(saved, _, _, _, _)| saved == name)
    };
    match kind {
        Prepared::Savepoint(name) => {
            block.savepoints.push((
                name.clone(),
                settings.clone(),
                block.local.clone(),
                block.deferred.clone(),
                ddl_mark,
            ));
        }
        Prepared::RollbackToSavepoint(name) => {
            block.failed = false;
            if let Some(index) = find(block, name) {
                block.savepoints.truncate(index + 1);
                let (_, saved, local, deferred, mark) = &block.savepoints[index];
                *settings = saved.clone();
                block.local = local.clone();
                block.deferred = deferred.clone();
                return Some(*mark);
            }
        }
        Prepared::ReleaseSavepoint(name) => {
            if let Some(index) = find(block, name) {
                block.savepoints.truncate(index);
            }
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{Session, SqlDb};
    use crate::store::{block_on, Pool};

    #[test]
    fn lock_table_parses_postgres_forms() {
        let plan = parse_lock_table("LOCK TABLE a, public.b IN SHARE ROW EXCLUSIVE MODE NOWAIT")
            .unwrap()
            .expect("a LOCK statement");
        assert_eq!(plan.tables, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(plan.mode, TableLockMode::ShareRowExclusive);
        assert!(plan.nowait);
        let bare = parse_lock_table("lock only s.t *;").unwrap().unwrap();
        assert_eq!(bare.tables, vec!["s.t".to_string()]);
        assert_eq!(bare.mode, TableLockMode::AccessExclusive);
        assert!(!bare.nowait);
        assert!(parse_lock_table("LOCKED UP").unwrap().is_none());
        assert!(parse_lock_table("SELECT 1").unwrap().is_none());
        for bad in [
            "LOCK TABLE a IN SHARED MODE",
            "LOCK TABLE a IN SHARE",
            "LOCK TABLE",
            "LOCK TABLE a NOWAIT x",
        ] {
            let e = parse_lock_table(bad).expect_err(bad);
            assert_eq!(e.code, SqlState::SyntaxError, "{bad}");
        }
    }

    #[test]
    fn table_lock_conflicts_are_postgres_table() {
        // PostgreSQL's documented table (13.3.1): row = held, columns the
        // requested modes in ALL order; 'x' conflicts.
        let table = [
            ".......x", "......xx", "....xxxx", "...xxxxx", "..xx.xxx", "..xxxxxx", ".xxxxxxx",
            "xxxxxxxx",
        ];
        for (i, row) in table.iter().enumerate() {
            for (j, cell) in row.chars().enumerate() {
                let (held, wanted) = (TableLockMode::ALL[i], TableLockMode::ALL[j]);
                assert_eq!(
                    held.conflicts_with(wanted),
                    cell == 'x',
                    "{held:?} vs {wanted:?}"
                );
                assert_eq!(held.conflicts_with(wanted), wanted.conflicts_with(held));
            }
        }
    }

    #[test]
    fn limit_after_locking_clause_moves_before_it() {
        let moved =
            limit_before_locking("SELECT * FROM q ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1")
                .unwrap();
        assert_eq!(
            moved.split_whitespace().collect::<Vec<_>>().join(" "),
            "SELECT * FROM q ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        );
        let inner = limit_before_locking(
            "WITH c AS (SELECT id FROM q FOR UPDATE LIMIT $1 OFFSET 2) SELECT * FROM c",
        )
        .unwrap();
        assert_eq!(
            inner.split_whitespace().collect::<String>(),
            "WITHcAS(SELECTidFROMqLIMIT$1OFFSET2FORUPDATE)SELECT*FROMc"
        );
        let kept = "SELECT * FROM q LIMIT 1 FOR UPDATE";
        assert!(matches!(
            limit_before_locking(kept).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_closed_session_releases_its_advisory_locks_and_a_pooled_one_keeps_them() {
        let db = SqlDb::new_empty();
        let mut a = db.session();
        let mut b = db.session();
        let try_lock = "SELECT pg_try_advisory_lock(1) AS got";
        block_on(a.execute("SELECT pg_advisory_lock(1)", &[])).unwrap();
        let got = block_on(b.execute(try_lock, &[])).unwrap();
        assert_eq!(got.rows, vec![vec![Value::Bool(false)]]);
        drop(a);
        let got = block_on(b.execute(try_lock, &[])).unwrap();
        assert_eq!(got.rows, vec![vec![Value::Bool(true)]]);
        drop(b);

        let pool = Pool::new(db.store().clone(), 1, 4);
        let mut first = block_on(SqlDb::connect(&pool)).unwrap();
        block_on(first.execute("SELECT pg_advisory_lock(2)", &[])).unwrap();
        drop(first);
        let mut outsider = db.session();
        let got = block_on(outsider.execute("SELECT pg_try_advisory_lock(2) AS got", &[])).unwrap();
        assert_eq!(
            got.rows,
            vec![vec![Value::Bool(false)]],
            "the pooled backend keeps it"
        );
        let mut again = block_on(SqlDb::connect(&pool)).unwrap();
        let released = block_on(again.execute("SELECT pg_advisory_unlock(2) AS r", &[])).unwrap();
        assert_eq!(
            released.rows,
            vec![vec![Value::Bool(true)]],
            "the same backend holds it"
        );
    }

    #[test]
    fn truncate_refuses_a_referenced_table_unless_cascade() {
        let db = SqlDb::new_empty();
        let mut s = db.session();
        for stmt in [
            "CREATE TABLE p (id int PRIMARY KEY)",
            "CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p(id))",
            "INSERT INTO p VALUES (1)",
            "INSERT INTO c VALUES (1, 1)",
        ] {
            block_on(s.execute(stmt, &[])).unwrap();
        }
        let e = block_on(s.execute("TRUNCATE p", &[])).unwrap_err();
        assert_eq!(e.code, SqlState::FeatureNotSupported);
        block_on(s.execute("TRUNCATE p CASCADE", &[])).unwrap();
        let n = block_on(s.execute("SELECT count(*) AS n FROM c", &[])).unwrap();
        assert_eq!(n.int(0, "n"), Some(0));
        block_on(s.execute("INSERT INTO p VALUES (1)", &[])).unwrap();
        let n = block_on(s.execute("SELECT count(*) AS n FROM p", &[])).unwrap();
        assert_eq!(n.int(0, "n"), Some(1));
    }
}
