//! How the services behave: retry policy, rate limiting and the cache of
//! the stale-availability bug. Read from the scenario file.

use serde::{Deserialize, Serialize};
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

/// Retry of serialization failures and deadlocks, with capped exponential
/// backoff and jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries in all (the first one included); then 503.
    pub attempts: u32,
    /// Backoff before the first retry, before jitter.
    pub base_ms: u64,
    /// Largest backoff, before jitter.
    pub cap_ms: u64,
    /// How the backoff is randomized.
    pub jitter: Jitter,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 5,
            base_ms: 10,
            cap_ms: 1000,
            jitter: Jitter::Full,
        }
    }
}

/// Jitter of a backoff `b = min(cap, base * 2^k)` (the AWS architecture
/// blog's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Uniform in `[0, b]`: spreads retries the most.
    Full,
    /// `b/2` plus uniform in `[0, b/2]`: never retries at once.
    Equal,
    /// Exactly `b`: synchronized retries (for experiments only).
    None,
}

/// What the rate limiter counts requests by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateLimitKey {
    /// Each virtual client has its own bucket.
    Client,
    /// Each source host has one bucket (the reports' per-IP limit, which
    /// throttled every virtual user behind one load generator together).
    Source,
}

/// A token bucket per client or per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off by default.
    pub enabled: bool,
    /// What a bucket belongs to.
    pub per: RateLimitKey,
    /// Refill rate.
    pub requests_per_second: u32,
    /// Bucket size.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: false,
            per: RateLimitKey::Client,
            requests_per_second: 10,
            burst: 20,
        }
    }
}
