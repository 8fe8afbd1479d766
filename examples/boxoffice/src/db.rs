//! The connection pool, the migration, and transactions retried on
//! serialization failures.

use crate::error::ApiError;
use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;

/// The schema, applied by [`migrate`].
pub const MIGRATION: &str = include_str!("../migrations/0001_init.sql");

/// A pool of `size` connections made by `connect` (deadpool-postgres's
/// `ConfigConnectImpl { tls: NoTls }` in production).
pub fn pool(pg: tokio_postgres::Config, connect: impl Connect + 'static, size: usize) -> Pool {
    let manager = Manager::from_connect(
        pg,
        connect,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .build()
        .expect("a pool without timeouts needs no runtime to build")
}

/// Applies the schema (a fresh database).
pub async fn migrate(pool: &Pool) -> Result<(), ApiError> {
    let client = pool.get().await?;
    client.batch_execute(MIGRATION).await?;
    Ok(())
}

/// Retries of one request's transaction after serialization failures
/// and deadlocks (40001, 40P01), backing off 10, 20, 40... ms:
///
/// ```no_run
/// use boxoffice::{db::Retry, error::ApiError};
///
/// async fn transaction(client: &mut deadpool_postgres::Client) -> Result<u64, ApiError> {
///     Ok(client.execute("UPDATE events SET name = name", &[]).await?)
/// }
///
/// async fn handler(pool: &deadpool_postgres::Pool) -> Result<u64, ApiError> {
///     let mut client = pool.get().await?;
///     let mut retry = Retry::new(5);
///     loop {
///         match transaction(&mut client).await {
///             Err(err) if retry.again(&err).await => continue,
///             done => return retry.give_up(done),
///         }
///     }
/// }
/// ```
pub struct Retry {
    attempts: u32,
    tried: u32,
}

impl Retry {
    /// At most `attempts` tries in all.
    pub fn new(attempts: u32) -> Retry {
        Retry {
            attempts: attempts.max(1),
            tried: 1,
        }
    }

    /// Whether to try again after `err` (then after the backoff).
    pub async fn again(&mut self, err: &ApiError) -> bool {
        if !err.is_retryable() || self.tried >= self.attempts {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10 << (self.tried - 1).min(6))).await;
        self.tried += 1;
        true
    }

    /// The outcome, with a failure that is still retryable after the last
    /// attempt answered as unavailable.
    pub fn give_up<T>(&self, outcome: Result<T, ApiError>) -> Result<T, ApiError> {
        match outcome {
            Err(err) if err.is_retryable() => Err(ApiError::Unavailable(format!(
                "gave up after {} attempts: {err:?}",
                self.tried
            ))),
            done => done,
        }
    }
}
