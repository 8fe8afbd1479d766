//! How virtual clients behave: the `[client]` section of a scenario file,
//! defined here because the system API hands it to every virtual user
//! ([`super::UserContext::policy`]) and the API must not depend on the
//! scenario module above it.

use serde::{Deserialize, Serialize};

/// How virtual clients behave.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientPolicy {
    /// Per-request timeout.
    pub timeout_ms: u64,
    /// Retries after a timeout or lost connection (same idempotency key).
    pub retries_on_timeout: u32,
    /// On a 409 version conflict: refetch the board and retry, this often.
    pub retries_on_409: u32,
    /// Send idempotency keys.
    pub idempotency_keys: bool,
    /// The k6 report's stale client: moves with the version from its first
    /// board fetch and never refetches.
    pub stale_version: bool,
    /// Token lifetime; tokens expire mid-run when shorter than the run.
    pub token_ttl_s: u64,
    /// Fetch a new token after a 401 and retry once.
    pub refresh_token_on_401: bool,
    /// Wait this long after a 429 before retrying (once).
    pub retry_after_429: bool,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy {
            timeout_ms: 10_000,
            retries_on_timeout: 2,
            retries_on_409: 1,
            idempotency_keys: true,
            stale_version: false,
            token_ttl_s: 3600,
            refresh_token_on_401: true,
            retry_after_429: true,
        }
    }
}
