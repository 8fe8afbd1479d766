//! How the services behave: retry policy, rate limiting and the cache of
//! the stale-availability bug. Read from the scenario file.

use serde::{Deserialize, Serialize};

pub use crate::system::kit::{Jitter, RateLimitConfig, RateLimitKey, RetryConfig};
use std::collections::BTreeMap;

/// Service behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Retrying transactions that fail with 40001/40P01.
    pub retry: RetryConfig,
    /// The API gateway's rate limiter.
    pub rate_limit: RateLimitConfig,
    /// How long `rooms/stale-availability-cache` trusts its per-server
    /// availability cache before re-reading it.
    pub availability_cache_ttl_ms: u64,
    /// Overrides of soft-preference weights by rule name (see
    /// [`crate::service::SOFT_PREFERENCES`]); a weight of 0 turns a rule off.
    pub soft_preference_weights: BTreeMap<String, i64>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            retry: RetryConfig::default(),
            rate_limit: RateLimitConfig::default(),
            availability_cache_ttl_ms: 5000,
            soft_preference_weights: BTreeMap::new(),
        }
    }
}

impl ServiceConfig {
    /// Checks the configuration; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.retry.attempts == 0 {
            return Err("service.retry.attempts must be at least 1".into());
        }
        if self.retry.base_ms > self.retry.cap_ms {
            return Err(format!(
                "service.retry.base_ms ({}) must not exceed service.retry.cap_ms ({})",
                self.retry.base_ms, self.retry.cap_ms
            ));
        }
        if self.rate_limit.enabled
            && (self.rate_limit.requests_per_second == 0 || self.rate_limit.burst == 0)
        {
            return Err(
                "service.rate_limit: requests_per_second and burst must be positive when enabled"
                    .into(),
            );
        }
        for name in self.soft_preference_weights.keys() {
            if !super::rooms::SOFT_PREFERENCES
                .iter()
                .any(|rule| rule.name == name)
            {
                return Err(format!(
                    "service.soft_preference_weights: no soft preference is called {name:?}"
                ));
            }
        }
        Ok(())
    }
}
