//! Roles and table privileges, as far as PostgreSQL's isolation specs
//! lean on them: `CREATE ROLE | USER name [[WITH] option ...]`, `DROP
//! ROLE | USER [IF EXISTS] name [, ...]`, `GRANT privileges ON [TABLE]
//! name [, ...] TO role | PUBLIC [, ...]`, `REVOKE [GRANT OPTION FOR]
//! privileges ON [TABLE] ... FROM ...`, `ALTER TABLE ... OWNER TO role`,
//! and the session's current role (`SET [LOCAL] ROLE name | NONE`, `RESET
//! ROLE`, `SET SESSION AUTHORIZATION name | DEFAULT`, see `settings`).
//!
//! A connection is PostgreSQL's bootstrap superuser `postgres`, which
//! owns every table it makes. What a role without superuser may do is
//! modelled for the statements whose checks PostgreSQL makes at the
//! table level: SELECT, INSERT, UPDATE, DELETE (their table privileges,
//! checked once the statement holds its table locks, as PostgreSQL's
//! executor checks them), TRUNCATE and LOCK TABLE (checked before the
//! lock is waited for, as PostgreSQL's name lookup callback does: 42501 at
//! once), VACUUM and ANALYZE (a table the role does not own is skipped
//! with PostgreSQL's warning, without waiting for its lock), and the
//! owner-only DDL (`ALTER TABLE`, `DROP TABLE`, `CREATE INDEX`: 42501
//! "must be owner of table t"; `CREATE TABLE`: 42501 for schema public,
//! whose CREATE privilege PostgreSQL 15 gives no one but its owner).
//! Anything else run as a role without superuser (sequence functions,
//! GRANT by an owner, other DDL) is refused with 0A000: its privilege
//! checks are not modelled. Role DDL, GRANT and REVOKE are DDL: outside
//! transaction blocks, as the engine's other DDL. Column privileges,
//! role membership (`GRANT role TO role`), and privileges on sequences,
//! schemas, databases and functions are 0A000.

use super::cte::each_source;
use super::expr::{unsupported, Expr};
use super::plan::{Access, Prepared, Source};
use super::value::err;
use crate::store::{DbError, SqlState, TableLockMode};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeMap;

/// The role every connection logs in as: a superuser.
pub(crate) const BOOTSTRAP: &str = "postgres";

/// The grantee key of `PUBLIC` (no role may be named `public`).
const PUBLIC: &str = "public";

/// Table privileges, as bits.
pub(crate) const SELECT: u8 = 1;
pub(crate) const INSERT: u8 = 2;
pub(crate) const UPDATE: u8 = 4;
pub(crate) const DELETE: u8 = 8;
pub(crate) const TRUNCATE: u8 = 16;
const REFERENCES: u8 = 32;
const TRIGGER: u8 = 64;
const ALL: u8 = 127;

/// The roles, table owners and grants of a database.
#[derive(Clone, Debug, Default)]
pub(crate) struct Roles {
    /// Roles besides [`BOOTSTRAP`], with whether each is a superuser.
    roles: BTreeMap<String, bool>,
    /// Tables owned by a role other than [`BOOTSTRAP`].
    owners: BTreeMap<String, String>,
    /// Per table, per grantee ([`PUBLIC`] too), the privileges granted.
    grants: BTreeMap<String, BTreeMap<String, u8>>,
}

/// A role statement, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RoleDdl {
    Create {
        name: String,
        superuser: bool,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `GRANT` (true) or `REVOKE` of `privileges` on `tables` to or from
    /// `grantees`.
    Grant {
        grant: bool,
        privileges: u8,
        tables: Vec<String>,
        grantees: Vec<String>,
    },
}

fn missing_role(name: &str) -> DbError {
    err(
        SqlState::Other("42704"),
        format!("role \"{name}\" does not exist"),
    )
}

impl Roles {
    /// Whether role `name` exists.
    pub(crate) fn exists(&self, name: &str) -> bool {
        name == BOOTSTRAP || self.roles.contains_key(name)
    }

    /// Whether role `name` is a superuser.
    pub(crate) fn superuser(&self, name: &str) -> bool {
        name == BOOTSTRAP || self.roles.get(name).copied().unwrap_or(false)
    }

    /// The owner of `table`.
    pub(crate) fn owner(&self, table: &str) -> &str {
        self.owners.get(table).map_or(BOOTSTRAP, String::as_str)
    }

    /// Whether `role` owns `table` (or is a superuser, who passes every
    /// owner check).
    pub(crate) fn owns(&self, role: &str, table: &str) -> bool {
        self.superuser(role) || self.owner(table) == role
    }

    /// Whether `role` holds any of `privileges` on `table`: as a
    /// superuser, its owner, or by a grant to it or to PUBLIC.
    pub(crate) fn has_any(&self, role: &str, table: &str, privileges: u8) -> bool {
        if self.owns(role, table) {
            return true;
        }
        let Some(grants) = self.grants.get(table) else {
            return false;
        };
        [role, PUBLIC]
            .iter()
            .any(|g| grants.get(*g).is_some_and(|p| p & privileges != 0))
    }

    /// 42501 unless `role` holds one of `privileges` on `table`.
    pub(crate) fn check(&self, role: &str, table: &str, privileges: u8) -> Result<(), DbError> {
        if self.has_any(role, table, privileges) {
            return Ok(());
        }
        Err(err(
            SqlState::Other("42501"),
            format!("permission denied for table {table}"),
        ))
    }

    /// 42501 unless `role` owns `table`.
    pub(crate) fn check_owner(&self, role: &str, table: &str) -> Result<(), DbError> {
        if self.owns(role, table) {
            return Ok(());
        }
        Err(err(
            SqlState::Other("42501"),
            format!("must be owner of table {table}"),
        ))
    }

    /// `ALTER TABLE table OWNER TO role`.
    pub(crate) fn set_owner(&mut self, table: &str, role: &str) -> Result<(), DbError> {
        if !self.exists(role) {
            return Err(missing_role(role));
        }
        if role == BOOTSTRAP {
            self.owners.remove(table);
        } else {
            self.owners.insert(table.to_string(), role.to_string());
        }
        Ok(())
    }

    /// A dropped table's owner and grants go with it.
    pub(crate) fn forget_table(&mut self, table: &str) {
        self.owners.remove(table);
        self.grants.remove(table);
    }

    /// A renamed table keeps its owner and grants.
    pub(crate) fn rename_table(&mut self, from: &str, to: &str) {
        if let Some(owner) = self.owners.remove(from) {
            self.owners.insert(to.to_string(), owner);
        }
        if let Some(grants) = self.grants.remove(from) {
            self.grants.insert(to.to_string(), grants);
        }
    }

    /// Runs a role statement as superuser; `table_exists` resolves a
    /// GRANT's table names (42P01 for a missing one), `current` is the
    /// session's current role (which DROP ROLE refuses).
    pub(crate) fn run(
        &mut self,
        ddl: &RoleDdl,
        table_exists: &dyn Fn(&str) -> bool,
        current: &str,
    ) -> Result<(), DbError> {
        match ddl {
            RoleDdl::Create { name, superuser } => {
                if self.exists(name) {
                    return Err(err(
                        SqlState::Other("42710"),
                        format!("role \"{name}\" already exists"),
                    ));
                }
                self.roles.insert(name.clone(), *superuser);
            }
            RoleDdl::Drop { names, if_exists } => {
                for name in names {
                    if !self.exists(name) {
                        if *if_exists {
                            continue;
                        }
                        return Err(missing_role(name));
                    }
                    if name == current {
                        return Err(err(
                            SqlState::Other("55006"),
                            "current user cannot be dropped",
                        ));
                    }
                    if name == BOOTSTRAP {
                        return Err(err(
                            SqlState::Other("55006"),
                            format!("cannot drop role {name} because it is required by the database system"),
                        ));
                    }
                    let owns = self.owners.values().any(|o| o == name);
                    let granted = self.grants.values().any(|g| g.contains_key(name));
                    if owns || granted {
                        return Err(err(
                            SqlState::Other("2BP01"),
                            format!("role \"{name}\" cannot be dropped because some objects depend on it"),
                        ));
                    }
                    self.roles.remove(name);
                }
            }
            RoleDdl::Grant {
                grant,
                privileges,
                tables,
                grantees,
            } => {
                for t in tables {
                    if !table_exists(t) {
                        return Err(err(
                            SqlState::UndefinedTable,
                            format!("relation \"{t}\" does not exist"),
                        ));
                    }
                }
                for g in grantees {
                    if g != PUBLIC && !self.exists(g) {
                        return Err(missing_role(g));
                    }
                }
                for t in tables {
                    let table = self.grants.entry(t.clone()).or_default();
                    for g in grantees {
                        let held = table.entry(g.clone()).or_insert(0);
                        if *grant {
                            *held |= privileges;
                        } else {
                            *held &= !privileges;
                        }
                        if *held == 0 {
                            table.remove(g);
                        }
                    }
                    if table.is_empty() {
                        self.grants.remove(t);
                    }
                }
            }
        }
        Ok(())
    }
}

pub(super) fn word(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

pub(super) fn syntax_at(t: Option<&Token>) -> DbError {
    match t {
        Some(t) => err(
            SqlState::SyntaxError,
            format!("syntax error at or near \"{t}\""),
        ),
        None => err(SqlState::SyntaxError, "syntax error at end of input"),
    }
}

/// A role or table name as PostgreSQL folds it (quoted: as written).
pub(super) fn name_of(t: Option<&Token>) -> Result<String, DbError> {
    match t {
        Some(Token::Word(w)) if w.quote_style.is_some() => Ok(w.value.clone()),
        Some(Token::Word(w)) => Ok(w.value.to_ascii_lowercase()),
        other => Err(syntax_at(other)),
    }
}

/// Whether `sql` is `CREATE ROLE | USER`, `DROP ROLE | USER`, `GRANT` or
/// `REVOKE`.
pub(crate) fn is_role_ddl(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or_default();
    if first.eq_ignore_ascii_case("grant") || first.eq_ignore_ascii_case("revoke") {
        return true;
    }
    let second = words.next().unwrap_or_default();
    (first.eq_ignore_ascii_case("create") || first.eq_ignore_ascii_case("drop"))
        && (second.eq_ignore_ascii_case("role") || second.eq_ignore_ascii_case("user"))
}

/// Parses a statement [`is_role_ddl`] took.
pub(crate) fn parse(sql: &str) -> Result<RoleDdl, DbError> {
    let dialect = PostgreSqlDialect {};
    let mut tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    while matches!(tokens.last(), Some(Token::SemiColon)) {
        tokens.pop();
    }
    let at = |i: usize| tokens.get(i);
    if word(at(0), "create") {
        if word(at(2), "mapping") || word(at(1), "user") && word(at(2), "mapping") {
            return Err(unsupported("CREATE USER MAPPING"));
        }
        let name = name_of(at(2))?;
        if name == PUBLIC || name == "none" {
            return Err(err(
                SqlState::Other("42939"),
                format!("role name \"{name}\" is reserved"),
            ));
        }
        // Options: only SUPERUSER changes what the model does; LOGIN,
        // PASSWORD, INHERIT, CREATEDB and the others are accepted.
        let mut superuser = false;
        for t in &tokens[3..] {
            if word(Some(t), "superuser") {
                superuser = true;
            } else if word(Some(t), "nosuperuser") {
                superuser = false;
            } else if word(Some(t), "in") || word(Some(t), "admin") || word(Some(t), "sysid") {
                return Err(unsupported(
                    "CREATE ROLE ... IN ROLE / ROLE / ADMIN (role membership)",
                ));
            }
        }
        return Ok(RoleDdl::Create { name, superuser });
    }
    if word(at(0), "drop") {
        let mut i = 2;
        let if_exists = word(at(2), "if") && word(at(3), "exists");
        if if_exists {
            i = 4;
        }
        let mut names = vec![name_of(at(i))?];
        i += 1;
        while matches!(at(i), Some(Token::Comma)) {
            names.push(name_of(at(i + 1))?);
            i += 2;
        }
        if i < tokens.len() {
            return Err(syntax_at(at(i)));
        }
        return Ok(RoleDdl::Drop { names, if_exists });
    }
    parse_grant(&tokens)
}

/// `GRANT privileges ON [TABLE] name [, ...] TO grantee [, ...] [WITH
/// GRANT OPTION] [GRANTED BY role]` and `REVOKE [GRANT OPTION FOR]
/// privileges ON [TABLE] name [, ...] FROM grantee [, ...] [GRANTED BY
/// role] [CASCADE | RESTRICT]`.
fn parse_grant(tokens: &[Token]) -> Result<RoleDdl, DbError> {
    let at = |i: usize| tokens.get(i);
    let grant = word(at(0), "grant");
    let mut i = 1;
    if !grant && word(at(1), "grant") && word(at(2), "option") && word(at(3), "for") {
        // Grant options are not modelled: revoking only them leaves the
        // privileges, which is what PostgreSQL does.
        return Err(unsupported("REVOKE GRANT OPTION FOR"));
    }
    let privileges = parse_privileges(tokens, &mut i)?;
    if !word(at(i), "on") {
        return Err(unsupported("GRANT / REVOKE of role membership"));
    }
    i += 1;
    if word(at(i), "table") {
        i += 1;
    } else {
        refuse_other_objects(tokens, i)?;
    }
    let tables = parse_grant_tables(tokens, &mut i)?;
    let to = if grant { "to" } else { "from" };
    if !word(at(i), to) {
        return Err(syntax_at(at(i)));
    }
    i += 1;
    let grantees = parse_grantees(tokens, &mut i)?;
    if grant && word(at(i), "with") && word(at(i + 1), "grant") && word(at(i + 2), "option") {
        i += 3;
    }
    if word(at(i), "granted") {
        return Err(unsupported("GRANTED BY"));
    }
    if !grant && (word(at(i), "cascade") || word(at(i), "restrict")) {
        i += 1;
    }
    if i < tokens.len() {
        return Err(syntax_at(at(i)));
    }
    Ok(RoleDdl::Grant {
        grant,
        privileges,
        tables,
        grantees,
    })
}

/// The privileges granted or revoked (`SELECT, INSERT`, `ALL
/// [PRIVILEGES]`), from token `i`, as a bit set; `i` ends after them.
fn parse_privileges(tokens: &[Token], i: &mut usize) -> Result<u8, DbError> {
    let at = |i: usize| tokens.get(i);
    let mut privileges = 0u8;
    loop {
        let Some(Token::Word(w)) = at(*i) else {
            return Err(syntax_at(at(*i)));
        };
        privileges |= match w.value.to_ascii_lowercase().as_str() {
            "all" => {
                if word(at(*i + 1), "privileges") {
                    *i += 1;
                }
                ALL
            }
            "select" => SELECT,
            "insert" => INSERT,
            "update" => UPDATE,
            "delete" => DELETE,
            "truncate" => TRUNCATE,
            "references" => REFERENCES,
            "trigger" => TRIGGER,
            "temp" | "temporary" | "usage" | "create" | "connect" | "execute" => {
                return Err(unsupported(format!(
                    "GRANT / REVOKE of {} (privileges other than a table's)",
                    w.value.to_ascii_uppercase()
                )))
            }
            // GRANT role TO role.
            _ => return Err(unsupported("GRANT / REVOKE of role membership")),
        };
        *i += 1;
        if matches!(at(*i), Some(Token::LParen)) {
            return Err(unsupported(
                "column privileges (GRANT / REVOKE with a column list)",
            ));
        }
        if !matches!(at(*i), Some(Token::Comma)) {
            break;
        }
        *i += 1;
    }
    Ok(privileges)
}

/// 0A000 for `ON SEQUENCE`, `ON SCHEMA`, ... (privileges on objects other
/// than tables) at token `i`, unless the word is a table's name.
fn refuse_other_objects(tokens: &[Token], i: usize) -> Result<(), DbError> {
    let at = |i: usize| tokens.get(i);
    if let Some(Token::Word(w)) = at(i) {
        let kind = w.value.to_ascii_lowercase();
        if [
            "sequence",
            "database",
            "schema",
            "function",
            "procedure",
            "routine",
            "all",
            "domain",
            "type",
            "language",
            "foreign",
            "tablespace",
            "large",
            "parameter",
        ]
        .contains(&kind.as_str())
            && w.quote_style.is_none()
            && !matches!(at(i + 1), Some(Token::Comma | Token::Period))
            && !word(at(i + 1), "to")
            && !word(at(i + 1), "from")
        {
            return Err(unsupported(format!(
                "GRANT / REVOKE ON {} (privileges other than a table's)",
                kind.to_ascii_uppercase()
            )));
        }
    }
    Ok(())
}

/// The tables named (`public.t` is `t`), from token `i`; `i` ends after
/// them.
fn parse_grant_tables(tokens: &[Token], i: &mut usize) -> Result<Vec<String>, DbError> {
    let at = |i: usize| tokens.get(i);
    let mut tables = Vec::new();
    loop {
        let mut name = name_of(at(*i))?;
        *i += 1;
        if matches!(at(*i), Some(Token::Period)) {
            let last = name_of(at(*i + 1))?;
            name = if name == "public" {
                last
            } else {
                format!("{name}.{last}")
            };
            *i += 2;
        }
        tables.push(name);
        if !matches!(at(*i), Some(Token::Comma)) {
            break;
        }
        *i += 1;
    }
    Ok(tables)
}

/// The roles granted to or revoked from (`PUBLIC`, `[GROUP] role`), from
/// token `i`; `i` ends after them.
fn parse_grantees(tokens: &[Token], i: &mut usize) -> Result<Vec<String>, DbError> {
    let at = |i: usize| tokens.get(i);
    let mut grantees = Vec::new();
    loop {
        if word(at(*i), "group") {
            *i += 1;
        }
        let g = match at(*i) {
            Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("public") =>
            {
                PUBLIC.to_string()
            }
            Some(Token::Word(w))
                if w.quote_style.is_none()
                    && ["current_user", "current_role", "session_user"]
                        .iter()
                        .any(|k| w.value.eq_ignore_ascii_case(k)) =>
            {
                return Err(unsupported("CURRENT_USER / SESSION_USER as a grantee"))
            }
            other => name_of(other)?,
        };
        grantees.push(g);
        *i += 1;
        if !matches!(at(*i), Some(Token::Comma)) {
            break;
        }
        *i += 1;
    }
    Ok(grantees)
}

/// 42501 unless `role` (not a superuser) holds the table privileges data
/// statement `p` needs, as PostgreSQL's executor checks them: SELECT on
/// every table it reads (an UPDATE's or DELETE's own table only when its
/// WHERE, SET or RETURNING reads a column), INSERT, UPDATE or DELETE on
/// the table it writes, UPDATE too for a locking read. 0A000 for the
/// forms whose checks are not modelled (a set operation, ON CONFLICT).
pub(crate) fn check_data(roles: &Roles, role: &str, p: &Prepared) -> Result<(), DbError> {
    let reads_columns = |exprs: &mut dyn Iterator<Item = &Expr>| {
        let mut found = false;
        for e in exprs {
            e.visit(&mut |x| found |= matches!(x, Expr::Col(_)));
        }
        found
    };
    let (target, needs, reads_target): (Option<&Source>, u8, bool) = match p {
        Prepared::Select(s) => {
            let lock = if s.lock.is_some() { UPDATE } else { 0 };
            for src in &s.sources {
                if !matches!(src.access, Access::Virtual(_)) && lock != 0 {
                    roles.check(role, &src.table.name, UPDATE)?;
                }
            }
            (None, 0, false)
        }
        Prepared::Insert(i) => {
            if i.conflict.is_some() {
                return Err(unsupported(
                    "INSERT ... ON CONFLICT as a role without superuser (its privilege checks are not modelled)",
                ));
            }
            roles.check(role, &i.table.name, INSERT)?;
            if i.returning.is_some() {
                roles.check(role, &i.table.name, SELECT)?;
            }
            (None, 0, false)
        }
        Prepared::Update(u) => {
            let mut exprs = u
                .filter
                .iter()
                .chain(u.sets.iter().map(|(_, e)| e))
                .chain(u.returning.iter().flatten().map(|(_, e)| e));
            (Some(&u.source), UPDATE, reads_columns(&mut exprs))
        }
        Prepared::Delete(d) => {
            let mut exprs = d
                .filter
                .iter()
                .chain(d.returning.iter().flatten().map(|(_, e)| e));
            (Some(&d.source), DELETE, reads_columns(&mut exprs))
        }
        Prepared::With(w) => {
            for (part, _) in &w.ctes {
                check_data(roles, role, part)?;
            }
            return check_data(roles, role, &w.main);
        }
        Prepared::AdvisoryLock(_) => return Ok(()),
        _ => return Err(unsupported(
            "this statement as a role without superuser (its privilege checks are not modelled)",
        )),
    };
    if let Some(target) = target {
        roles.check(role, &target.table.name, needs)?;
        if reads_target {
            roles.check(role, &target.table.name, SELECT)?;
        }
    }
    let mut denied = None;
    each_source(p, &mut |src| {
        let is_target = target.is_some_and(|t| std::ptr::eq(t, src));
        if denied.is_none() && !is_target && !matches!(src.access, Access::Virtual(_)) {
            denied = roles.check(role, &src.table.name, SELECT).err();
        }
    });
    denied.map_or(Ok(()), Err)
}

/// 42501 unless `role` may `LOCK TABLE table IN mode MODE`: ACCESS SHARE
/// with SELECT, ROW EXCLUSIVE with INSERT, UPDATE, DELETE or TRUNCATE,
/// the stronger modes with UPDATE, DELETE or TRUNCATE (PostgreSQL 15's
/// `LockTableAclCheck`).
pub(crate) fn check_lock(
    roles: &Roles,
    role: &str,
    table: &str,
    mode: TableLockMode,
) -> Result<(), DbError> {
    let privileges = match mode {
        TableLockMode::AccessShare => SELECT,
        TableLockMode::RowExclusive => INSERT | UPDATE | DELETE | TRUNCATE,
        _ => UPDATE | DELETE | TRUNCATE,
    };
    roles.check(role, table, privileges)
}
