//! PostgreSQL's side of a replay as the service's checker sees it: a fresh
//! schema on the server with the data the model checker starts from, and a
//! simulated store kept equal to the server's committed tables, one commit
//! per step that changed them, so that the same checker (fed commits,
//! responses and the final recount) judges what PostgreSQL did.

use crate::postgres::PgSession;
use crate::sql::{Session, SqlDb, TableLayout, Value};
use crate::store::{block_on, Store};
use std::collections::BTreeMap;

/// The rows of `table` by primary key (as text: `Value` has no order).
type Keyed = BTreeMap<String, Vec<Value>>;

fn keyed(layout: &TableLayout, rows: Vec<Vec<Value>>) -> Keyed {
    rows.into_iter()
        .map(|row| {
            let key: Vec<&Value> = layout.primary_key.iter().map(|&i| &row[i]).collect();
            (format!("{key:?}"), row)
        })
        .collect()
}

/// A simulated store that follows PostgreSQL's committed state.
pub(super) struct Mirror {
    db: SqlDb,
    tables: Vec<TableLayout>,
}

impl Mirror {
    /// Follows from `store` (the schema installed, the data loaded: what
    /// the server starts from too).
    pub(super) fn new(store: &Store) -> Mirror {
        let db = SqlDb::attach(store);
        let tables = db.tables();
        Mirror { db, tables }
    }

    pub(super) fn store(&self) -> &Store {
        self.db.store()
    }

    pub(super) fn tables(&self) -> &[TableLayout] {
        &self.tables
    }

    fn rows(&self, table: &str) -> Result<Vec<Vec<Value>>, String> {
        block_on(
            self.db
                .session()
                .execute(&format!("SELECT * FROM {table}"), &[]),
        )
        .map(|rows| rows.rows)
        .map_err(|e| format!("reading {table} in the simulated copy: {e}"))
    }

    /// Copies what changed on the server since the last call into the
    /// store, as one transaction; returns the rows written.
    pub(super) async fn follow(&self, pg: &mut PgSession) -> Result<usize, String> {
        let mut deletes = Vec::new();
        let mut upserts = Vec::new();
        for layout in &self.tables {
            let server = pg
                .execute(&format!("SELECT * FROM {}", layout.name), &[])
                .await
                .map_err(|e| format!("reading {} on PostgreSQL: {e}", layout.name))?;
            let server = keyed(layout, server.rows);
            let mine = keyed(layout, self.rows(&layout.name)?);
            for (key, row) in &mine {
                if !server.contains_key(key) {
                    deletes.push((layout, row.clone()));
                }
            }
            for (key, row) in server {
                match mine.get(&key) {
                    Some(old) if *old == row => {}
                    Some(_) => upserts.push((layout, row, true)),
                    None => upserts.push((layout, row, false)),
                }
            }
        }
        let changed = deletes.len() + upserts.len();
        if changed == 0 {
            return Ok(0);
        }
        let mut session = self.db.session();
        let mut statements: Vec<(String, Vec<Value>)> = Vec::with_capacity(changed + 2);
        statements.push(("BEGIN ISOLATION LEVEL READ COMMITTED".into(), Vec::new()));
        // Children's rows go before their parents', parents' come first.
        for (layout, row) in deletes.into_iter().rev() {
            let (condition, params) = key_condition(layout, &row, 0);
            statements.push((
                format!("DELETE FROM {} WHERE {condition}", layout.name),
                params,
            ));
        }
        for (layout, row, exists) in upserts {
            if exists {
                let others: Vec<usize> = (0..layout.columns.len())
                    .filter(|i| !layout.primary_key.contains(i))
                    .collect();
                let set: Vec<String> = others
                    .iter()
                    .enumerate()
                    .map(|(n, &i)| format!("{} = ${}", layout.columns[i], n + 1))
                    .collect();
                let mut params: Vec<Value> = others.iter().map(|&i| row[i].clone()).collect();
                let (condition, key_params) = key_condition(layout, &row, params.len());
                params.extend(key_params);
                statements.push((
                    format!(
                        "UPDATE {} SET {} WHERE {condition}",
                        layout.name,
                        set.join(", ")
                    ),
                    params,
                ));
            } else {
                let slots: Vec<String> = (1..=row.len()).map(|n| format!("${n}")).collect();
                statements.push((
                    format!("INSERT INTO {} VALUES ({})", layout.name, slots.join(", ")),
                    row,
                ));
            }
        }
        statements.push(("COMMIT".into(), Vec::new()));
        for (sql, params) in &statements {
            if let Err(e) = block_on(session.execute(sql, params)) {
                let _ = block_on(session.execute("ROLLBACK", &[]));
                return Err(format!(
                    "the simulated copy cannot follow PostgreSQL's rows ({sql}): {e}"
                ));
            }
        }
        Ok(changed)
    }
}

fn key_condition(layout: &TableLayout, row: &[Value], first: usize) -> (String, Vec<Value>) {
    let condition: Vec<String> = layout
        .primary_key
        .iter()
        .enumerate()
        .map(|(n, &i)| format!("{} = ${}", layout.columns[i], first + n + 1))
        .collect();
    let params = layout.primary_key.iter().map(|&i| row[i].clone()).collect();
    (condition.join(" AND "), params)
}

/// The name of a fresh schema for one replay (unique per process and
/// call, so that replays running at once do not share tables).
pub(super) fn schema_name() -> String {
    static REPLAYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = REPLAYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("overbook_confirm_{}_{n}", std::process::id())
}

/// `url` with `schema` first on the search path of its connections.
pub(super) fn scoped_url(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema},public")
}

/// Creates `schema` on the server (dropping an older one of that name),
/// runs `sql_schema` in it and copies every row of `source` (the data the
/// model checker starts from) into it.
pub(super) async fn prepare_postgres(
    admin: &PgSession,
    scoped: &str,
    schema: &str,
    sql_schema: &str,
    source: &Mirror,
) -> Result<(), String> {
    admin
        .fresh_schema(schema)
        .await
        .map_err(|e| format!("creating schema {schema}: {e}"))?;
    let mut session = PgSession::connect(scoped)
        .await
        .map_err(|e| format!("connecting to schema {schema}: {e}"))?;
    session
        .client()
        .batch_execute(sql_schema)
        .await
        .map_err(|e| format!("the service's SQL schema on PostgreSQL: {e}"))?;
    for layout in source.tables() {
        let slots: Vec<String> = (1..=layout.columns.len())
            .map(|n| format!("${n}"))
            .collect();
        let insert = format!("INSERT INTO {} VALUES ({})", layout.name, slots.join(", "));
        for row in source.rows(&layout.name)? {
            session
                .execute(&insert, &row)
                .await
                .map_err(|e| format!("loading {} on PostgreSQL: {e}", layout.name))?;
        }
    }
    Ok(())
}

/// Drops `schema` (after the replay's connections are gone).
pub(super) async fn drop_schema(admin: &PgSession, schema: &str) {
    let _ = admin
        .client()
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await;
}
