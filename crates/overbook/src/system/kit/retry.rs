//! Re-running a transaction that failed with a serialization failure or a
//! deadlock, as PostgreSQL's documentation asks of clients: the whole
//! transaction again, after a capped exponential backoff with jitter so
//! that the losers of one conflict do not collide again in lockstep.

use super::config::{Jitter, RetryConfig};
use crate::seed::Rng64;
use crate::store::{DbError, SqlState};
use crate::system::Env;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The backoff before retry number `retry_index` (0 for the first retry):
/// `b = min(cap, base * 2^retry_index)`, then jittered.
pub fn backoff_ms(config: &RetryConfig, retry_index: u32, rng: &mut Rng64) -> u64 {
    let exponential = config
        .base_ms
        .saturating_mul(1u64.checked_shl(retry_index.min(63)).unwrap_or(u64::MAX));
    let ceiling_ms = exponential.min(config.cap_ms);
    match config.jitter {
        Jitter::Full => rng.between(0, ceiling_ms),
        Jitter::Equal => ceiling_ms / 2 + rng.between(0, ceiling_ms / 2),
        Jitter::None => ceiling_ms,
    }
}

/// Counters the retry wrapper keeps for reports.
#[derive(Debug, Default)]
pub struct RetryCounters {
    /// Transactions re-run after a retryable error.
    pub retries: AtomicU64,
    /// Operations that ran out of attempts.
    pub exhausted: AtomicU64,
}

/// What the wrapper needs from the server it runs in.
pub struct RetryContext<'a> {
    /// The policy.
    pub config: &'a RetryConfig,
    /// Where backoff sleeps happen.
    pub env: &'a dyn Env,
    /// The server's jitter stream.
    pub rng: &'a Mutex<Rng64>,
    /// The server's counters.
    pub counters: &'a RetryCounters,
}

/// How a retried operation ended without a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryError {
    /// Every try failed with a retryable error (answer 503).
    Exhausted {
        /// Tries made.
        attempts: u32,
        /// The last error.
        last: DbError,
    },
    /// An error no retry cures (answer 500, or 503 for 53300).
    Failed {
        /// Tries made.
        attempts: u32,
        /// The error.
        error: DbError,
    },
}

impl RetryError {
    /// The HTTP-like status to answer with: 503 when the tries ran out or
    /// the pool's wait limit was hit (53300), 500 for any other error.
    pub fn status(&self) -> u16 {
        match self {
            RetryError::Exhausted { .. } => 503,
            RetryError::Failed { error, .. } if error.code == SqlState::TooManyConnections => 503,
            RetryError::Failed { .. } => 500,
        }
    }

    /// Tries made.
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Exhausted { attempts, .. } | RetryError::Failed { attempts, .. } => {
                *attempts
            }
        }
    }

    /// The error that ended it.
    pub fn error(&self) -> &DbError {
        match self {
            RetryError::Exhausted { last, .. } => last,
            RetryError::Failed { error, .. } => error,
        }
    }
}

impl std::fmt::Display for RetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryError::Exhausted { attempts, last } => {
                write!(f, "retries exhausted after {attempts} tries: {last}")
            }
            RetryError::Failed { error, .. } => write!(f, "{error}"),
        }
    }
}

/// Runs `attempt` until it returns a value, re-running it after an error
/// that `retry_if` accepts (usually [`DbError::is_retryable`]: 40001 and
/// 40P01) up to `config.attempts` tries in all. Returns the value with the
/// tries made.
///
/// ```
/// use overbook::store::{block_on, DbError, SqlState};
/// use overbook::system::kit::{retry, RetryConfig, RetryContext, RetryCounters};
/// use overbook::system::Env;
/// use overbook::seed::Seed;
/// use std::sync::Mutex;
/// # struct Clockless;
/// # impl Env for Clockless {
/// #     fn now_ms(&self) -> u64 { 0 }
/// #     fn sleep_ms(&self, _: u64) -> overbook::store::PauseFuture { Box::pin(std::future::ready(())) }
/// # }
/// let (config, rng, counters) = (RetryConfig::default(), Mutex::new(Seed(1).stream("jitter")), RetryCounters::default());
/// let context = RetryContext { config: &config, env: &Clockless, rng: &rng, counters: &counters };
/// let mut failures = 2;
/// let outcome = block_on(retry(context, DbError::is_retryable, || {
///     let fail = failures > 0;
///     failures -= 1;
///     async move {
///         if fail { Err(DbError::new(SqlState::SerializationFailure, "conflict")) } else { Ok(7) }
///     }
/// }));
/// assert_eq!(outcome, Ok((7, 3)));
/// ```
pub async fn retry<T, F, Fut>(
    context: RetryContext<'_>,
    retry_if: impl Fn(&DbError) -> bool,
    mut attempt: F,
) -> Result<(T, u32), RetryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbError>>,
{
    let attempts_max = context.config.attempts.max(1);
    let mut tries = 0u32;
    loop {
        tries += 1;
        let error = match attempt().await {
            Ok(value) => return Ok((value, tries)),
            Err(error) => error,
        };
        if !retry_if(&error) {
            return Err(RetryError::Failed {
                attempts: tries,
                error,
            });
        }
        if tries >= attempts_max {
            context.counters.exhausted.fetch_add(1, Ordering::Relaxed);
            return Err(RetryError::Exhausted {
                attempts: tries,
                last: error,
            });
        }
        context.counters.retries.fetch_add(1, Ordering::Relaxed);
        let sleep_ms = {
            let mut rng = context.rng.lock().unwrap_or_else(|e| e.into_inner());
            backoff_ms(context.config, tries - 1, &mut rng)
        };
        context.env.sleep_ms(sleep_ms).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn backoff_is_capped_and_jittered_within_bounds() {
        let config = RetryConfig {
            attempts: 5,
            base_ms: 10,
            cap_ms: 100,
            jitter: Jitter::None,
        };
        let mut rng = Seed(1).stream("backoff");
        let plain: Vec<u64> = (0..6).map(|k| backoff_ms(&config, k, &mut rng)).collect();
        assert_eq!(plain, vec![10, 20, 40, 80, 100, 100]);
        assert_eq!(backoff_ms(&config, 200, &mut rng), 100);
        let full = RetryConfig {
            jitter: Jitter::Full,
            ..config
        };
        let equal = RetryConfig {
            jitter: Jitter::Equal,
            ..config
        };
        for k in 0..8 {
            let ceiling = (10u64 << k).min(100);
            assert!(backoff_ms(&full, k, &mut rng) <= ceiling);
            let e = backoff_ms(&equal, k, &mut rng);
            assert!(e >= ceiling / 2 && e <= ceiling);
        }
    }
}
