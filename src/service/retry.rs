//! Re-running a transaction that failed with a serialization failure or a
//! deadlock, as PostgreSQL's documentation asks of clients: the whole
//! transaction again, after a capped exponential backoff with jitter so
//! that the losers of one conflict do not collide again in lockstep.

use super::api::{Response, ResponseBody};
use overbook::store::{DbError, SqlState};
use overbook::system::kit::{retry, RetryError};
use std::future::Future;

pub use overbook::system::kit::{RetryContext, RetryCounters};

/// Which errors re-running the transaction may cure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOn {
    /// 40001 and 40P01 only.
    SerializationAndDeadlock,
    /// Those and 23P01: for room booking, where an exclusion violation means
    /// a concurrent booking took the slot between our check and our insert,
    /// and a fresh attempt will see it and choose another room.
    AlsoExclusion,
}

impl RetryOn {
    fn covers(self, error: &DbError) -> bool {
        error.is_retryable()
            || (self == RetryOn::AlsoExclusion && error.code == SqlState::ExclusionViolation)
    }
}

/// Runs `attempt` until it returns a value, re-running it after a
/// retryable error up to `config.attempts` tries in all. Returns the value
/// with the tries made, or the response that ended it: 503 with the last
/// SQLSTATE when the tries ran out, 500 for any other database error (503
/// for 53300, the pool's wait limit).
pub async fn with_retry<T, F, Fut>(
    context: RetryContext<'_>,
    retry_on: RetryOn,
    attempt: F,
) -> Result<(T, u32), Response>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbError>>,
{
    match retry(context, |error| retry_on.covers(error), attempt).await {
        Ok(done) => Ok(done),
        Err(RetryError::Exhausted { attempts, last }) => Err(Response {
            status: 503,
            attempts,
            body: ResponseBody::RetriesExhausted {
                attempts,
                sqlstate: last.code.code().to_string(),
            },
        }),
        Err(RetryError::Failed { attempts, error }) => {
            Err(database_error_response(&error, attempts))
        }
    }
}

/// A response for a database error no retry cures.
pub fn database_error_response(error: &DbError, attempts: u32) -> Response {
    let status = if error.code == SqlState::TooManyConnections {
        503
    } else {
        500
    };
    Response {
        status,
        attempts,
        body: ResponseBody::ServerError {
            message: error.to_string(),
        },
    }
}
