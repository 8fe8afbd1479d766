//! User-defined types: `CREATE TYPE name AS ENUM (...)` and `DROP TYPE`.
//!
//! An enum's definition (name and labels) is interned once per process
//! and named by a small id, so that [`SqlType`] stays `Copy` and a value
//! is two integers; each database's catalog maps its type names to ids.
//! Ids never reach output (values print as their labels), so the order in
//! which a process interns definitions changes nothing observable.

use super::value::{err, SqlType};
use crate::store::{DbError, SqlState};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// An enum type's definition.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnumDef {
    name: &'static str,
    labels: Vec<Arc<str>>,
}

impl EnumDef {
    /// The type's name (leaked once per distinct definition).
    pub(crate) fn name_static(&self) -> &'static str {
        self.name
    }

    /// The value of `label`; 22P02 as PostgreSQL words it when the type
    /// has no such label.
    pub(crate) fn value_of(&self, label: &str) -> Result<EnumValue, DbError> {
        let ordinal = self
            .labels
            .iter()
            .position(|l| &**l == label)
            .ok_or_else(|| {
                err(
                    SqlState::InvalidTextRepresentation,
                    format!("invalid input value for enum {}: \"{label}\"", self.name),
                )
            })?;
        let ty = lock(&ENUMS)
            .iter()
            .position(|d| std::ptr::eq(&**d, self))
            .expect("an interned definition") as u32;
        Ok(EnumValue {
            ty,
            ordinal: ordinal as u32,
        })
    }
}

/// A value of an enum type: the type's id and the label's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnumValue {
    pub(crate) ty: u32,
    pub(crate) ordinal: u32,
}

impl EnumValue {
    /// The label.
    pub fn label(&self) -> Arc<str> {
        enum_def(self.ty).labels[self.ordinal as usize].clone()
    }
}

static ENUMS: Mutex<Vec<Arc<EnumDef>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The definition of enum type `id`.
pub(crate) fn enum_def(id: u32) -> Arc<EnumDef> {
    lock(&ENUMS)[id as usize].clone()
}

/// The id of the definition (interned: the same name and labels, the same
/// id, in every database of the process).
fn intern_enum(name: &str, labels: &[String]) -> u32 {
    let mut enums = lock(&ENUMS);
    if let Some(i) = enums.iter().position(|d| {
        d.name == name
            && d.labels
                .iter()
                .map(|l| &**l)
                .eq(labels.iter().map(|l| l.as_str()))
    }) {
        return i as u32;
    }
    enums.push(Arc::new(EnumDef {
        name: Box::leak(name.to_string().into_boxed_str()),
        labels: labels.iter().map(|l| l.as_str().into()).collect(),
    }));
    (enums.len() - 1) as u32
}

thread_local! {
    /// The type names of the database whose statement is being compiled.
    /// Compilation is synchronous (no await inside), so the names set by
    /// [`with_types`] are the ones of the statement compiled on this
    /// thread; type-name parsing (`SqlType::parse`) is deep inside
    /// sqlparser-driven code that has no catalog at hand.
    static TYPES: RefCell<BTreeMap<String, u32>> = const { RefCell::new(BTreeMap::new()) };
}

/// Runs `f` (a synchronous compilation) with `types` as the user-defined
/// type names in scope.
pub(crate) fn with_types<R>(types: &BTreeMap<String, u32>, f: impl FnOnce() -> R) -> R {
    let saved = TYPES.with(|t| std::mem::replace(&mut *t.borrow_mut(), types.clone()));
    let out = f();
    TYPES.with(|t| *t.borrow_mut() = saved);
    out
}

/// The enum type named `name` in the database being compiled.
pub(crate) fn lookup_type(name: &str) -> Option<u32> {
    TYPES.with(|t| t.borrow().get(name).copied())
}

/// A `CREATE TYPE` / `DROP TYPE` statement, recognised before the general
/// parser (sqlparser's forms of these vary between versions).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TypeDdl {
    CreateEnum {
        name: String,
        labels: Vec<String>,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
}

/// Whether `sql` is `CREATE TYPE`/`DROP TYPE` (cheap: the first words).
pub(crate) fn is_type_ddl(sql: &str) -> bool {
    // Without lowercasing copies: every statement passes here.
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or("");
    (first.eq_ignore_ascii_case("create") || first.eq_ignore_ascii_case("drop"))
        && words.next().is_some_and(|w| w.eq_ignore_ascii_case("type"))
}

fn syntax(sql: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error in type statement: {}", sql.trim()),
    )
}

fn type_name(word: &str) -> Result<String, DbError> {
    let w = word.trim();
    let w = w.strip_prefix("public.").unwrap_or(w);
    if let Some(q) = w.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        return Ok(q.to_string());
    }
    if w.is_empty() || !w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(
            SqlState::SyntaxError,
            format!("syntax error at or near \"{w}\""),
        ));
    }
    Ok(w.to_ascii_lowercase())
}

/// Parses `CREATE TYPE name AS ENUM ('a', ...)` and `DROP TYPE [IF
/// EXISTS] name [, ...] [CASCADE | RESTRICT]`; other `CREATE TYPE` forms
/// are 0A000.
pub(crate) fn parse_type_ddl(sql: &str) -> Result<TypeDdl, DbError> {
    let body = sql.trim().trim_end_matches(';').trim();
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("drop") {
        let rest = body[4..].trim_start()[4..].trim();
        let mut rest_lower = rest.to_ascii_lowercase();
        let mut rest = rest.to_string();
        let if_exists = rest_lower.starts_with("if exists");
        if if_exists {
            rest = rest[9..].trim().to_string();
            rest_lower = rest.to_ascii_lowercase();
        }
        let mut cascade = false;
        for (suffix, c) in [(" cascade", true), (" restrict", false)] {
            if rest_lower.ends_with(suffix) {
                cascade = c;
                rest.truncate(rest.len() - suffix.len());
                break;
            }
        }
        let names = rest
            .split(',')
            .map(type_name)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(TypeDdl::Drop {
            names,
            if_exists,
            cascade,
        });
    }
    // CREATE TYPE name AS ENUM ( 'a', 'b' )
    let rest = body[6..].trim_start()[4..].trim();
    let as_at = rest
        .to_ascii_lowercase()
        .find(" as ")
        .ok_or_else(|| crate::sql::expr::unsupported(format!("the statement {}", body)))?;
    let name = type_name(&rest[..as_at])?;
    let after = rest[as_at + 4..].trim();
    let Some(list) = after
        .get(..4)
        .filter(|w| w.eq_ignore_ascii_case("enum"))
        .map(|_| after[4..].trim())
    else {
        return Err(crate::sql::expr::unsupported(format!(
            "CREATE TYPE other than AS ENUM (statement: {body})"
        )));
    };
    let inner = list
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| syntax(sql))?;
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None if labels.is_empty() => break,
            Some('\'') => {}
            _ => return Err(syntax(sql)),
        }
        let mut label = String::new();
        loop {
            match chars.next() {
                None => return Err(syntax(sql)),
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                Some('\'') => break,
                Some(c) => label.push(c),
            }
        }
        if label.is_empty() || label.len() > 63 {
            return Err(err(
                SqlState::Other("22023"),
                format!("invalid enum label \"{label}\""),
            ));
        }
        if labels.contains(&label) {
            return Err(err(
                SqlState::UniqueViolation,
                format!("enum label \"{label}\" used more than once"),
            ));
        }
        labels.push(label);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => {}
            _ => return Err(syntax(sql)),
        }
    }
    Ok(TypeDdl::CreateEnum { name, labels })
}

const BUILTIN: &[&str] = &[
    "int",
    "integer",
    "int2",
    "int4",
    "int8",
    "smallint",
    "bigint",
    "numeric",
    "decimal",
    "text",
    "varchar",
    "char",
    "character",
    "bpchar",
    "boolean",
    "bool",
    "date",
    "timestamptz",
    "uuid",
    "interval",
    "jsonb",
    "json",
    "int4range",
    "tstzrange",
    "timestamp",
    "real",
    "float4",
    "float8",
];

/// Runs a type statement against a database's type names; `in_use` says
/// whether a table column has the type (DROP without CASCADE then fails
/// with 2BP01, as PostgreSQL's dependency check does).
pub(crate) fn run_type_ddl(
    ddl: &TypeDdl,
    types: &mut BTreeMap<String, u32>,
    in_use: impl Fn(u32) -> Option<String>,
) -> Result<(), DbError> {
    match ddl {
        TypeDdl::CreateEnum { name, labels } => {
            if types.contains_key(name) || BUILTIN.contains(&name.as_str()) {
                return Err(err(
                    SqlState::Other("42710"),
                    format!("type \"{name}\" already exists"),
                ));
            }
            let id = intern_enum(name, labels);
            types.insert(name.clone(), id);
            Ok(())
        }
        TypeDdl::Drop {
            names,
            if_exists,
            cascade,
        } => {
            for name in names {
                match types.get(name) {
                    None if *if_exists => {}
                    None => {
                        return Err(err(
                            SqlState::Other("42704"),
                            format!("type \"{name}\" does not exist"),
                        ))
                    }
                    Some(&id) => {
                        if let Some(table) = in_use(id) {
                            let what = if *cascade {
                                "DROP TYPE ... CASCADE of a type a table uses is not supported by the simulated SQL engine".to_string()
                            } else {
                                format!("cannot drop type {name} because other objects depend on it (table {table})")
                            };
                            let code = if *cascade {
                                SqlState::FeatureNotSupported
                            } else {
                                SqlState::Other("2BP01")
                            };
                            return Err(err(code, what));
                        }
                    }
                }
            }
            for name in names {
                types.remove(name);
            }
            Ok(())
        }
    }
}

/// Whether `ty` is (or is an array of) enum type `id`.
pub(crate) fn uses_enum(ty: SqlType, id: u32) -> bool {
    match ty {
        SqlType::Enum(e) => e == id,
        SqlType::Array(elem) => uses_enum(*elem, id),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration file opens with comments, and may end with one: the
    /// statements recognised by their first words are recognised after
    /// them, as PostgreSQL's lexer skips them.
    #[test]
    fn statements_after_comments_are_recognised() {
        use crate::sql::{Session, SqlDb};
        let db = SqlDb::new_empty();
        db.install(
            "-- Schema, version 1.\n/* enums first */\n\
             CREATE TYPE status AS ENUM ('held', 'sold');\n\
             -- the table\nCREATE TABLE t (id int PRIMARY KEY, s status NOT NULL);\n\
             -- end of file\n",
        )
        .unwrap();
        let mut session = db.session();
        crate::store::block_on(async {
            session
                .execute("-- a client's note\nCREATE TYPE kind AS ENUM ('a')", &[])
                .await
                .unwrap();
            session
                .execute("INSERT INTO t VALUES (1, 'sold')", &[])
                .await
                .unwrap();
            let bad = session
                .execute("INSERT INTO t VALUES (2, 'gone')", &[])
                .await;
            assert_eq!(bad.unwrap_err().code.code(), "22P02");
        });
    }

    #[test]
    fn type_statements_parse() {
        assert!(is_type_ddl("  CREATE TYPE s AS ENUM ('a')"));
        assert!(!is_type_ddl("CREATE TABLE t (a int)"));
        assert_eq!(
            parse_type_ddl("CREATE TYPE Booking_Status AS ENUM ('held', 'it''s', 'done');")
                .unwrap(),
            TypeDdl::CreateEnum {
                name: "booking_status".into(),
                labels: vec!["held".into(), "it's".into(), "done".into()]
            }
        );
        assert_eq!(
            parse_type_ddl("DROP TYPE IF EXISTS a, b CASCADE").unwrap(),
            TypeDdl::Drop {
                names: vec!["a".into(), "b".into()],
                if_exists: true,
                cascade: true
            }
        );
        assert_eq!(
            parse_type_ddl("CREATE TYPE p AS (x int)").unwrap_err().code,
            SqlState::FeatureNotSupported
        );
        assert_eq!(
            parse_type_ddl("CREATE TYPE e AS ENUM ('a', 'a')")
                .unwrap_err()
                .code,
            SqlState::UniqueViolation
        );
    }
}
