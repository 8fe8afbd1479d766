//! Where a SQL handler's connections come from: the simulated database
//! behind the server's pool, or a real PostgreSQL. A handler written
//! against [`Connection`] (a [`Session`]) runs unchanged in the world, in
//! the model checker and on a real server in an integration test.

#[cfg(feature = "postgres")]
use crate::postgres::{PgSession, ScheduledPg, ScheduledSession};
use crate::sql::{Rows, Session, SqlDb, SqlSession, Value};
use crate::store::{DbError, Pool};

/// A database to open connections to.
#[derive(Clone, Debug)]
pub enum Database {
    /// The simulated store behind a pool (the world, the model checker).
    Simulated(Pool),
    #[cfg(feature = "postgres")]
    /// A real PostgreSQL at this connection URL; each connection is a new
    /// client (integration tests run short workloads, not pools).
    Postgres(String),
    #[cfg(feature = "postgres")]
    /// A real PostgreSQL whose statements wait for a scheduler's turn:
    /// `overbook confirm` replaying a model checker's schedule.
    Scheduled(ScheduledPg),
}

impl Database {
    /// A new connection (from the pool in simulation).
    pub async fn connect(&self) -> Result<Connection, DbError> {
        match self {
            Database::Simulated(pool) => SqlDb::connect(pool).await.map(Connection::Simulated),
            #[cfg(feature = "postgres")]
            Database::Postgres(url) => PgSession::connect(url).await.map(Connection::Postgres),
            #[cfg(feature = "postgres")]
            Database::Scheduled(pg) => pg.connect().await.map(Connection::Scheduled),
        }
    }
}

impl From<Pool> for Database {
    fn from(pool: Pool) -> Database {
        Database::Simulated(pool)
    }
}

/// A connection to either engine.
#[derive(Debug)]
pub enum Connection {
    /// On the simulated store.
    Simulated(SqlSession),
    #[cfg(feature = "postgres")]
    /// On a real PostgreSQL.
    Postgres(PgSession),
    #[cfg(feature = "postgres")]
    /// On a real PostgreSQL, statement by statement in a schedule's order.
    Scheduled(ScheduledSession),
}

impl Session for Connection {
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        match self {
            Connection::Simulated(s) => s.execute(sql, params).await,
            #[cfg(feature = "postgres")]
            Connection::Postgres(s) => s.execute(sql, params).await,
            #[cfg(feature = "postgres")]
            Connection::Scheduled(s) => s.execute(sql, params).await,
        }
    }
}
