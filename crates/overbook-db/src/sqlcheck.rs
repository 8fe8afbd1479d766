//! `overbook sql-check`: which statements of a team's SQL files the
//! simulated store runs, statement by statement, and (with a PostgreSQL to
//! compare with) whether they give PostgreSQL's results.
//!
//! The files run in order on one fresh simulated database, so that later
//! statements see the tables earlier ones created. A statement with `$n`
//! parameters is prepared (parsed and planned), not executed, as a driver
//! prepares it. A statement the store rejects as not supported (0A000) or
//! cannot parse (42601) is `rejected`, with the store's reason; any other
//! outcome (rows, or another error such as 23505) is `accepted`.

use crate::pgspecs::run::{StepConn, StepOutput};
use crate::pgspecs::split::{has_parameters, split};
use crate::sql::SqlDb;
use crate::store::{DbError, SqlState};
use serde::Serialize;
use std::path::PathBuf;

/// One statement's outcome on one engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Ran: its rows (as text, sorted) and the rows it changed.
    Rows {
        /// Returned rows.
        rows: Vec<Vec<String>>,
        /// Rows inserted, updated or deleted.
        affected: u64,
    },
    /// Prepared without error (a statement with parameters).
    Prepared,
    /// Failed with this SQLSTATE and message.
    Error {
        /// The SQLSTATE.
        code: String,
        /// The message.
        message: String,
    },
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Rows { rows, affected } if rows.is_empty() => {
                format!("ok, {affected} affected")
            }
            Outcome::Rows { rows, .. } => {
                let shown: Vec<String> = rows
                    .iter()
                    .take(3)
                    .map(|r| format!("({})", r.join(", ")))
                    .collect();
                let more = if rows.len() > 3 {
                    format!(" and {} more", rows.len() - 3)
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(" "))
            }
            Outcome::Prepared => "prepared".into(),
            Outcome::Error { code, message } => format!("error {code}: {message}"),
        }
    }

    fn same(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Error { code: a, .. }, Outcome::Error { code: b, .. }) => a == b,
            (a, b) => a == b,
        }
    }
}

/// One statement of a file.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    /// The file.
    pub file: String,
    /// Its line there.
    pub line: usize,
    /// The statement.
    pub sql: String,
    /// Whether it has `$n` parameters (prepared, not run).
    pub parameters: bool,
    /// The store's reason, when it rejects the statement.
    pub rejected: Option<String>,
    /// The store's outcome.
    pub store: Outcome,
    /// PostgreSQL's, when compared.
    pub postgres: Option<Outcome>,
}

impl Checked {
    /// Whether PostgreSQL was asked and answered otherwise than the store
    /// (rejected statements are not compared).
    pub fn differs(&self) -> bool {
        self.rejected.is_none() && self.postgres.as_ref().is_some_and(|g| !self.store.same(g))
    }
}

fn outcome(out: StepOutput) -> Outcome {
    if let Some(e) = out.error {
        return error(&e);
    }
    let mut rows: Vec<Vec<String>> = out
        .sets
        .iter()
        .flat_map(|s| s.rows.iter())
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    rows.sort();
    Outcome::Rows {
        rows,
        affected: out.affected,
    }
}

fn error(e: &DbError) -> Outcome {
    Outcome::Error {
        code: e.code.code().to_string(),
        message: e.message.clone(),
    }
}

/// Reads and splits the files (an unreadable one is the error).
pub fn read(files: &[PathBuf]) -> Result<Vec<(String, crate::pgspecs::split::Statement)>, String> {
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for statement in split(&text) {
            out.push((path.display().to_string(), statement));
        }
    }
    Ok(out)
}

/// Runs the statements on a fresh simulated database and, with `pg` (a
/// server URL), on a fresh database there (created and dropped).
pub async fn check(
    statements: &[(String, crate::pgspecs::split::Statement)],
    pg: Option<&str>,
) -> Result<Vec<Checked>, String> {
    let db = SqlDb::new_empty();
    let mut session = db.session();
    let mut out = Vec::with_capacity(statements.len());
    for (file, statement) in statements {
        let parameters = has_parameters(&statement.sql);
        let store = if parameters {
            match db.check(&statement.sql) {
                Ok(()) => Outcome::Prepared,
                Err(e) => error(&e),
            }
        } else {
            outcome(session.run_step(&statement.sql).await)
        };
        let rejected = match &store {
            Outcome::Error { code, message }
                if code == SqlState::FeatureNotSupported.code()
                    || code == SqlState::SyntaxError.code() =>
            {
                Some(crate::pgspecs::reason(message))
            }
            _ => None,
        };
        out.push(Checked {
            file: file.clone(),
            line: statement.line,
            sql: statement.sql.clone(),
            parameters,
            rejected,
            store,
            postgres: None,
        });
    }
    let Some(url) = pg else { return Ok(out) };
    let name = format!("overbook_sqlcheck_{}", std::process::id());
    let admin = crate::postgres::PgSession::connect(url)
        .await
        .map_err(|e| format!("--pg: {}", e.message))?;
    // One statement per call: DROP and CREATE DATABASE cannot run in the
    // implicit transaction of a multi-statement query.
    let _ = admin
        .client()
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    admin
        .client()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| {
            format!(
                "--pg: cannot create database {name}: {}",
                crate::postgres::db_error(&e).message
            )
        })?;
    let result = async {
        let mut conn =
            crate::postgres::PgSession::connect(&crate::pgspecs::database_url(url, &name))
                .await
                .map_err(|e| format!("--pg: {}", e.message))?;
        for (checked, (_, statement)) in out.iter_mut().zip(statements) {
            checked.postgres = Some(if checked.parameters {
                match conn.client().prepare(&statement.sql).await {
                    Ok(_) => Outcome::Prepared,
                    Err(e) => error(&crate::postgres::db_error(&e)),
                }
            } else {
                outcome(conn.run_step(&statement.sql).await)
            });
        }
        Ok::<(), String>(())
    }
    .await;
    let _ = admin
        .client()
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    result.map(|()| out)
}

/// The per-statement lines and a summary.
pub fn text(checked: &[Checked]) -> String {
    let mut out = String::new();
    for c in checked {
        let first_line = c.sql.lines().next().unwrap_or("");
        let verdict = match &c.rejected {
            Some(reason) => format!("rejected: {reason}"),
            None if c.parameters => "accepted (prepared)".into(),
            None => match &c.store {
                Outcome::Error { code, .. } => format!("accepted (it fails with {code})"),
                _ => "accepted".into(),
            },
        };
        out.push_str(&format!(
            "{}:{}: {verdict}  -- {first_line}\n",
            c.file, c.line
        ));
        if c.differs() {
            out.push_str(&format!(
                "  differs: store {}; PostgreSQL {}\n",
                c.store.describe(),
                c.postgres
                    .as_ref()
                    .map(Outcome::describe)
                    .unwrap_or_default()
            ));
        }
    }
    let rejected = checked.iter().filter(|c| c.rejected.is_some()).count();
    let differ = checked.iter().filter(|c| c.differs()).count();
    out.push_str(&format!(
        "{} statements: {} accepted, {rejected} rejected",
        checked.len(),
        checked.len() - rejected
    ));
    if checked.iter().any(|c| c.postgres.is_some()) {
        out.push_str(&format!("; {differ} give other results than PostgreSQL"));
    }
    out.push('\n');
    out
}
