//! How the services behave: retry policy, rate limiting and the cache of
//! the stale-availability bug. Read from the scenario file.

use overbook::error::InputError;
use overbook::system::Bounds;
use serde::{Deserialize, Serialize};

pub use overbook::system::kit::{Jitter, RateLimitConfig, RateLimitKey, RetryConfig};
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
    /// Checks the configuration; errors name the field.
    pub fn validate(&self) -> Result<(), InputError> {
        let mut bounds = Bounds::new();
        self.bound(&mut bounds);
        bounds.finish()
    }

    /// Puts the configuration's bounds in `bounds` (fields under
    /// `service.`).
    pub fn bound(&self, bounds: &mut Bounds) {
        let limit = &self.rate_limit;
        bounds
            .retry("service.retry", &self.retry)
            .check(
                "service.rate_limit",
                !limit.enabled || (limit.requests_per_second > 0 && limit.burst > 0),
                "requests_per_second and burst must be positive when enabled",
            )
            .at_most(
                "service.rate_limit.requests_per_second",
                limit.requests_per_second,
                1_000_000,
            )
            .at_most("service.rate_limit.burst", limit.burst, 1_000_000)
            .at_most(
                "service.availability_cache_ttl_ms",
                self.availability_cache_ttl_ms,
                86_400_000,
            );
        for (name, weight) in &self.soft_preference_weights {
            let field = format!("service.soft_preference_weights.{name}");
            let known = super::rooms::SOFT_PREFERENCES
                .iter()
                .any(|rule| rule.name == name);
            bounds
                .check(
                    &field,
                    known,
                    format!("no soft preference is called {name:?}"),
                )
                .within(&field, *weight, -1_000_000, 1_000_000);
        }
    }
}
