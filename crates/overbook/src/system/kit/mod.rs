//! What every booking service needs, public so that a user's service gets
//! the same behaviour as the bundled ones:
//!
//! - [`retry()`]: re-run a transaction after 40001/40P01 with capped
//!   exponential backoff and jitter, as PostgreSQL asks of clients;
//! - [`idempotency`]: store an operation's response under its idempotency
//!   key in the same transaction as its effect, and replay it on a repeat
//!   ([`idempotency::Record`] does the round for one request);
//! - [`RateLimiter`]: token buckets per client or per source host on
//!   simulated time;
//! - [`AccessToken`]: bearer tokens that expire on the simulated clock;
//! - [`Database`]: SQL connections to the simulated store or to a real
//!   PostgreSQL, for handlers written once for both;
//! - [`Sections`]: a service's settings as its `[data]`, `[workload]` and
//!   `[service]` sections;
//! - [`next_number()`]: numbers the server hands out (a hold's, an
//!   invoice's) from a counter in a row, without gaps.

mod config;
mod counter;
mod database;
pub mod idempotency;
mod ratelimit;
pub mod retry;

pub use config::{Jitter, RateLimitConfig, RateLimitKey, RetryConfig, Sections};
pub use counter::next_number;
pub use database::{Connection, Database};
pub use ratelimit::RateLimiter;
pub use retry::{backoff_ms, retry, RetryContext, RetryCounters, RetryError};

use serde::{Deserialize, Serialize};

/// A bearer token as a service sees it after signature checks: whom it was
/// issued to and when it lapses, in simulated milliseconds. Clients keep
/// one until it expires; servers answer 401 past `expires_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Whom the token was issued to (a user, an organization).
    pub subject: u32,
    /// Simulated time after which the token is expired.
    pub expires_at_ms: u64,
}

impl AccessToken {
    /// A token issued at `now_ms` for `ttl_ms`.
    pub fn issue(subject: u32, now_ms: u64, ttl_ms: u64) -> AccessToken {
        AccessToken {
            subject,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        }
    }

    /// Whether the token is still valid at `now_ms`.
    pub fn valid_at(&self, now_ms: u64) -> bool {
        now_ms <= self.expires_at_ms
    }
}
