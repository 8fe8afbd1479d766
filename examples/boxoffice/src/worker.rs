//! The background worker: frees the seats of expired holds and carries
//! out queued jobs.

use crate::config::Config;
use crate::error::ApiError;
use deadpool_postgres::Pool;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Holds marked expired.
    pub expired: u64,
    /// Jobs carried out.
    pub jobs: usize,
}

/// One round: sweep expired holds, then carry out a batch of due jobs.
pub async fn run_once(pool: &Pool, config: &Config) -> Result<Round, ApiError> {
    let mut client = pool.get().await?;
    // A hold being confirmed is locked by the confirm; the sweep waits for
    // it and then skips it, since it is no longer `held`.
    let expired = client
        .execute(
            "UPDATE holds SET status = 'expired' WHERE status = 'held' AND expires_at <= now()",
            &[],
        )
        .await?;
    let tx = client.transaction().await?;
    // Several workers (one per API server) share the queue: each takes
    // jobs no other holds.
    let due = tx
        .query(
            "SELECT id FROM jobs WHERE done_at IS NULL AND run_after <= now() \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&config.worker_batch],
        )
        .await?;
    for job in &due {
        let id: i64 = job.get(0);
        tx.execute(
            "INSERT INTO deliveries (job_id, order_id, kind) \
             SELECT id, order_id, kind FROM jobs WHERE id = $1",
            &[&id],
        )
        .await?;
        tx.execute(
            "UPDATE jobs SET done_at = now(), attempts = attempts + 1 WHERE id = $1",
            &[&id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Round {
        expired,
        jobs: due.len(),
    })
}

/// Rounds forever, `config.worker_interval` apart; a failed round is
/// logged and the next one tries again.
pub async fn run(pool: Pool, config: Config) {
    loop {
        if let Err(err) = run_once(&pool, &config).await {
            tracing::warn!(error = ?err, "worker round failed");
        }
        tokio::time::sleep(config.worker_interval).await;
    }
}
