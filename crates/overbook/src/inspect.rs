//! Looking inside a failure: the database of a run as it stood at the step
//! the run stopped at ([`crate::world::run_and_keep`]), served on a real TCP port
//! over PostgreSQL's wire protocol ([`crate::pgwire`]), so a person opens
//! `psql` on it and queries the rows the violation is about, `pg_locks`
//! and `pg_stat_activity` (`overbook replay ENTRY --inspect`).
//!
//! This runs outside the simulation, after it: on a real tokio runtime,
//! a real socket and the wall clock. The run is over and its trace hash
//! taken before anything here happens, so nothing a person types can
//! reach a run's determinism. The run's own transactions have rolled back
//! by then (they ended with the simulation); `pg_locks` and
//! `pg_stat_activity` are the picture [`crate::world::run_and_keep`] took of them
//! at the failing step (see [`crate::sql::SqlDb::install_activity`]).
//!
//! ```no_run
//! # async fn example(kept: overbook::world::KeptDatabase) -> std::io::Result<()> {
//! let inspection = overbook::inspect::Inspection::new(kept).unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("psql \"{}\"", overbook::inspect::connection_url(listener.local_addr()?));
//! inspection.serve(listener, std::future::pending()).await
//! # }
//! ```

use crate::pgwire::Server;
use crate::sql::SqlDb;
use crate::store::{Pacer, PauseFuture, PausePoint};
use crate::world::KeptDatabase;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The table a store without SQL tables (a key-value service) is served
/// as: every committed key and its row as JSON.
pub const KEYS_TABLE: &str = "overbook_keys";

/// A run's database, ready to serve.
#[derive(Debug)]
pub struct Inspection {
    db: SqlDb,
    /// What the served database holds, for the person connecting.
    pub summary: String,
}

/// Statements outside the simulation: none waits (the run's latencies
/// were for the run), and time goes on from the failing step's simulated
/// time at the wall clock's pace, so `now()` reads as it did for the
/// service, and `lock_timeout` and `deadlock_timeout` between two `psql`
/// sessions take as long as they say.
struct WallClock {
    start_ms: u64,
    started: Instant,
}

impl Pacer for WallClock {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }

    fn sleep(&self, ms: u64) -> PauseFuture {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }

    fn now_ms(&self) -> u64 {
        self.start_ms + self.started.elapsed().as_millis() as u64
    }
}

impl Inspection {
    /// The database `kept` with `pg_locks` and `pg_stat_activity` of its
    /// step, its pacer the wall clock's. A store with no SQL tables (a
    /// service with no `sql_schema`) gets its keys as the table
    /// [`KEYS_TABLE`]. The error says what could not be set up.
    pub fn new(kept: KeptDatabase) -> Result<Inspection, String> {
        kept.store.set_pacer(Arc::new(WallClock {
            start_ms: kept.sim_time_ms,
            started: Instant::now(),
        }));
        let db = SqlDb::attach(&kept.store);
        let mut summary = format!("the committed rows at {} ms (simulated)", kept.sim_time_ms);
        if db.tables().is_empty() {
            let keys = serve_keys(&db)?;
            summary = format!(
                "{summary}: the service keeps no SQL tables, so its {keys} keys are the table {KEYS_TABLE} (key, row jsonb)"
            );
        } else {
            let tables: Vec<String> = db.tables().into_iter().map(|t| t.name).collect();
            summary = format!("{summary} of {}", tables.join(", "));
        }
        db.install_activity(&kept.activity)
            .map_err(|err| format!("setting up pg_locks: {err}"))?;
        let open = kept.activity.transactions.len();
        summary = format!(
            "{summary}; pg_locks ({} locks) and pg_stat_activity ({open} open transaction{}) as they stood then (the run's open transactions rolled back when it ended)",
            kept.activity.locks.len(),
            if open == 1 { "" } else { "s" },
        );
        Ok(Inspection { db, summary })
    }

    /// The database served.
    pub fn db(&self) -> &SqlDb {
        &self.db
    }

    /// Serves the database on `listener`, each connection in a task of its
    /// own, until `shutdown` completes. Needs a tokio runtime with I/O and
    /// time. A connection that fails ends alone; so does one left open at
    /// shutdown.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let server = Server::new(self.db.clone());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        // Out of file descriptors and the like: this
                        // client goes, the server stays.
                        Err(err) => {
                            eprintln!("inspect: accepting a connection: {err}");
                            continue;
                        }
                    };
                    // psql waits for each answer: no Nagle delay on them.
                    let _ = stream.set_nodelay(true);
                    let server = server.clone();
                    tokio::spawn(async move {
                        if let Err(err) = server.serve(stream).await {
                            eprintln!("inspect: a connection ended: {err}");
                        }
                    });
                }
            }
        }
    }
}

/// The URL `psql` and drivers connect to a server on `addr` with.
pub fn connection_url(addr: SocketAddr) -> String {
    format!("postgres://overbook@{addr}/overbook")
}

/// Loads every committed key of the store into [`KEYS_TABLE`]; how many.
fn serve_keys(db: &SqlDb) -> Result<usize, String> {
    let keys = db.store().scan_all_committed();
    db.install(&format!(
        "CREATE TABLE {KEYS_TABLE} (key text PRIMARY KEY, row jsonb NOT NULL)"
    ))
    .map_err(|err| format!("setting up {KEYS_TABLE}: {err}"))?;
    for (key, row) in &keys {
        let object: serde_json::Map<String, serde_json::Value> = row
            .columns()
            .map(|(name, datum)| {
                let value = serde_json::to_value(datum).unwrap_or(serde_json::Value::Null);
                (name.to_string(), value)
            })
            .collect();
        let json = serde_json::Value::Object(object).to_string();
        db.load(
            KEYS_TABLE,
            &[
                crate::sql::Value::Text(key.as_str().into()),
                crate::sql::Value::Text(json.into()),
            ],
        )
        .map_err(|err| format!("loading {key} into {KEYS_TABLE}: {err}"))?;
    }
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use crate::sql::Session;
    use crate::store::{block_on, Key, Row, Schema, Store, StoreConfig};

    /// A key-value service (no `sql_schema`) is served too: its keys and
    /// rows as a table, with its locks.
    #[test]
    fn a_store_without_sql_tables_is_served_as_its_keys() {
        let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
        store.load(Key::new("units", &["0001"]), Row::new().with("left", 3));
        store.load(
            Key::new("units", &["0002"]),
            Row::new().with("left", 0).with("owner", "ann"),
        );
        let kept = KeptDatabase {
            activity: store.activity(),
            store,
            sim_time_ms: 1500,
        };
        let inspection = Inspection::new(kept).unwrap();
        assert!(
            inspection
                .summary
                .contains("its 2 keys are the table overbook_keys"),
            "{}",
            inspection.summary
        );
        let mut session = inspection.db().session();
        let rows = block_on(session.execute(
            "SELECT key, row->>'left', row->>'owner' FROM overbook_keys ORDER BY key",
            &[],
        ))
        .unwrap();
        let text: Vec<String> = rows
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_pg_text().unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        assert_eq!(text, ["units/0001|3|NULL", "units/0002|0|ann"]);
        let locks = block_on(session.execute("SELECT count(*) FROM pg_locks", &[])).unwrap();
        assert_eq!(locks.int(0, "count"), Some(0));
    }
}
