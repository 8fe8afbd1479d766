//! `VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [, ...]]` and
//! `ANALYZE [VERBOSE] [table [, ...]]`: accepted, with nothing to do. The
//! store keeps every committed version it needs for its snapshots and has
//! no statistics (its planner does not cost), so neither changes what a
//! later statement reads, locks or returns. What is observable is kept:
//! the tables named must exist (42P01), VACUUM refuses a transaction
//! block (25001), and each table's SHARE UPDATE EXCLUSIVE lock is waited
//! for when another transaction holds a conflicting one.

use super::value::err;
use super::SqlDb;
use crate::store::{DbError, Isolation, SqlState, TableLockMode, Timeouts};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A parsed `VACUUM` or `ANALYZE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Maintenance {
    /// VACUUM (true) or ANALYZE alone.
    pub(crate) vacuum: bool,
    /// The tables named (folded), empty for the whole database.
    pub(crate) tables: Vec<String>,
    /// `(SKIP_LOCKED)`: a relation whose lock is not free at once is
    /// skipped (PostgreSQL warns for a named one) instead of waited for.
    pub(crate) skip_locked: bool,
    /// `FULL`: ACCESS EXCLUSIVE instead of SHARE UPDATE EXCLUSIVE.
    pub(crate) full: bool,
    /// `ANALYZE` (alone or with VACUUM): a partitioned table's inherited
    /// statistics read every partition under ACCESS SHARE.
    pub(crate) analyze: bool,
}

/// Whether `sql` starts with `VACUUM`, `ANALYZE` or `ANALYSE`.
pub(crate) fn is_maintenance(sql: &str) -> bool {
    sql.split_whitespace().next().is_some_and(|w| {
        ["vacuum", "analyze", "analyse"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    })
}

/// Parses a `VACUUM` / `ANALYZE` statement.
pub(crate) fn parse(sql: &str) -> Result<Maintenance, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
        .collect();
    let keyword = |t: &Token, words: &[&str]| {
        matches!(t, Token::Word(w) if w.quote_style.is_none()
            && words.iter().any(|k| w.value.eq_ignore_ascii_case(k)))
    };
    let vacuum = keyword(&tokens[0], &["vacuum"]);
    let (mut skip_locked, mut full, mut analyze) = (false, false, !vacuum);
    let mut at = 1;
    // ( option [value] [, ...] ); a value of false or off turns it off.
    if matches!(tokens.get(at), Some(Token::LParen)) {
        at += 1;
        while at < tokens.len() && !matches!(tokens[at], Token::RParen) {
            let off = tokens
                .get(at + 1)
                .is_some_and(|t| keyword(t, &["false", "off"]) || t.to_string() == "0");
            if keyword(&tokens[at], &["skip_locked"]) {
                skip_locked = !off;
            } else if keyword(&tokens[at], &["full"]) {
                full = !off;
            } else if keyword(&tokens[at], &["analyze", "analyse"]) {
                analyze = !off;
            }
            at += 1;
        }
        at += 1;
    }
    while let Some(t) = tokens
        .get(at)
        .filter(|t| keyword(t, &["full", "freeze", "verbose", "analyze", "analyse"]))
    {
        full |= keyword(t, &["full"]);
        analyze |= keyword(t, &["analyze", "analyse"]);
        at += 1;
    }
    let mut tables = Vec::new();
    let mut name = String::new();
    let mut depth = 0;
    for t in &tokens[at..] {
        match t {
            // A column list: ANALYZE t (a, b).
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth > 0 => {}
            Token::Comma => tables.push(std::mem::take(&mut name)),
            Token::Period => name.push('.'),
            Token::Word(w) if w.quote_style.is_some() => name.push_str(&w.value),
            Token::Word(w) => name.push_str(&w.value.to_ascii_lowercase()),
            other => {
                return Err(err(
                    SqlState::SyntaxError,
                    format!("syntax error at or near \"{other}\""),
                ))
            }
        }
    }
    if !name.is_empty() {
        tables.push(name);
    }
    let tables = tables
        .into_iter()
        .map(|t| t.strip_prefix("public.").map(str::to_string).unwrap_or(t))
        .collect();
    Ok(Maintenance {
        vacuum,
        tables,
        skip_locked,
        full,
        analyze,
    })
}

/// Runs it outside a transaction block: checks the tables and waits for
/// their SHARE UPDATE EXCLUSIVE locks (ACCESS EXCLUSIVE for FULL) when
/// another transaction holds a conflicting lock, one relation at a time
/// as PostgreSQL processes each in a transaction of its own (so a lock
/// taken for one is not held while it waits for the next). A partitioned
/// table's partitions are processed after it, and ANALYZE of one reads
/// every partition under ACCESS SHARE with the table's own lock
/// (acquire_inherited_sample_rows, which waits even with SKIP_LOCKED).
/// With SKIP_LOCKED a named relation whose ACCESS SHARE or own lock is
/// not free is skipped (PostgreSQL's WARNING "skipping vacuum of ... ---
/// lock not available"), and so, silently, is such a partition of a named
/// partitioned table. A relation dropped while it waited its turn is
/// passed over (PostgreSQL's WARNING "skipping vacuum of ... --- relation
/// no longer exists").
pub(crate) async fn run(db: &SqlDb, m: &Maintenance, timeouts: Timeouts) -> Result<(), DbError> {
    let mode = if m.full {
        TableLockMode::AccessExclusive
    } else {
        TableLockMode::ShareUpdateExclusive
    };
    let busy = |name: &str, mode: TableLockMode| db.store().table_lock_contended(name, mode);
    let mut groups: Vec<Vec<(String, TableLockMode)>> = Vec::new();
    for name in &m.tables {
        let is_partition = db.shared.catalog().partitions.contains_key(name);
        let partitions: Vec<String> = if is_partition {
            Vec::new()
        } else {
            let table = db.shared.table(name)?;
            super::locks::with_partitions(&table)
                .into_iter()
                .skip(1)
                .collect()
        };
        if m.skip_locked && (busy(name, TableLockMode::AccessShare) || busy(name, mode)) {
            continue;
        }
        let mut own = vec![(name.clone(), mode)];
        if m.analyze {
            own.extend(
                partitions
                    .iter()
                    .map(|p| (p.clone(), TableLockMode::AccessShare)),
            );
        }
        groups.push(own);
        for partition in &partitions {
            if !(m.skip_locked && busy(partition, mode)) {
                groups.push(vec![(partition.clone(), mode)]);
            }
        }
    }
    // (A relation dropped meanwhile has nothing left to process once its
    // lock is free: PostgreSQL warns and goes on, and so does the store.)
    for locks in groups {
        if locks.iter().any(|(t, mode)| busy(t, *mode)) {
            let mut tx = db.store().begin(Isolation::ReadCommitted);
            tx.set_timeouts(timeouts);
            let locked = tx.sql_lock_tables(&locks, false).await;
            tx.rollback();
            locked?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postgres_forms() {
        let p = parse("VACUUM FREEZE ANALYZE tabx").unwrap();
        assert_eq!(
            p,
            Maintenance {
                vacuum: true,
                tables: vec!["tabx".to_string()],
                skip_locked: false,
                full: false,
                analyze: true,
            }
        );
        let p = parse("VACUUM (FREEZE, ANALYZE) a, public.b").unwrap();
        assert_eq!(p.tables, vec!["a".to_string(), "b".to_string()]);
        let p = parse("ANALYZE t (x, y)").unwrap();
        assert!(!p.vacuum);
        assert_eq!(p.tables, vec!["t".to_string()]);
        assert!(parse("VACUUM").unwrap().tables.is_empty());
        assert_eq!(parse("VACUUM 1").unwrap_err().code, SqlState::SyntaxError);
    }

    #[test]
    fn vacuum_outside_blocks_analyze_anywhere() {
        use crate::sql::Session;
        use crate::store::block_on;
        let mut s = SqlDb::new_empty().session();
        block_on(s.execute("CREATE TABLE t (id int PRIMARY KEY)", &[])).unwrap();
        block_on(s.execute("VACUUM FREEZE ANALYZE t", &[])).unwrap();
        block_on(s.execute("ANALYZE", &[])).unwrap();
        let missing = block_on(s.execute("VACUUM nope", &[])).unwrap_err();
        assert_eq!(missing.code, SqlState::UndefinedTable);
        block_on(s.execute("BEGIN", &[])).unwrap();
        block_on(s.execute("ANALYZE t", &[])).unwrap();
        let inside = block_on(s.execute("VACUUM t", &[])).unwrap_err();
        assert_eq!(inside.code.code(), "25001");
        assert_eq!(
            inside.message,
            "VACUUM cannot run inside a transaction block"
        );
        block_on(s.execute("ROLLBACK", &[])).unwrap();
    }
}
