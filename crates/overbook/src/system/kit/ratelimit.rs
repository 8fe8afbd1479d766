//! Token-bucket rate limiting, per client or per source host, on simulated
//! time. Integer milli-tokens keep it exact and platform independent.

use super::config::{RateLimitConfig, RateLimitKey};
use std::collections::BTreeMap;

/// One request costs this many milli-tokens.
const TOKEN_MILLI: u64 = 1000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens_milli: u64,
    refilled_at_ms: u64,
}

/// The buckets of one API server. A crash loses them (they are in memory),
/// as a restarted gateway forgets its counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: BTreeMap<u32, Bucket>,
}

impl RateLimiter {
    /// Takes a token for a request from `client` on host `source` at
    /// `now_ms`; `Err(retry_after_ms)` when the bucket is empty.
    pub fn admit(
        &mut self,
        config: &RateLimitConfig,
        client: u32,
        source: u32,
        now_ms: u64,
    ) -> Result<(), u64> {
        if !config.enabled {
            return Ok(());
        }
        let capacity_milli = u64::from(config.burst.max(1)) * TOKEN_MILLI;
        let rate_per_second = u64::from(config.requests_per_second.max(1));
        let owner = match config.per {
            RateLimitKey::Client => client,
            RateLimitKey::Source => source,
        };
        let bucket = self.buckets.entry(owner).or_insert(Bucket {
            tokens_milli: capacity_milli,
            refilled_at_ms: now_ms,
        });
        // rate tokens per 1000 ms = rate milli-tokens per ms.
        let elapsed_ms = now_ms.saturating_sub(bucket.refilled_at_ms);
        bucket.tokens_milli = bucket
            .tokens_milli
            .saturating_add(elapsed_ms.saturating_mul(rate_per_second))
            .min(capacity_milli);
        bucket.refilled_at_ms = now_ms.max(bucket.refilled_at_ms);
        if bucket.tokens_milli >= TOKEN_MILLI {
            bucket.tokens_milli -= TOKEN_MILLI;
            Ok(())
        } else {
            let missing_milli = TOKEN_MILLI - bucket.tokens_milli;
            Err(missing_milli.div_ceil(rate_per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let config = RateLimitConfig {
            enabled: true,
            per: RateLimitKey::Source,
            requests_per_second: 10,
            burst: 3,
        };
        let mut limiter = RateLimiter::default();
        for client in 0..3 {
            assert!(limiter.admit(&config, client, 7, 0).is_ok());
        }
        // Same source, another client: per-source shares the bucket.
        assert_eq!(limiter.admit(&config, 9, 7, 0), Err(100));
        assert!(limiter.admit(&config, 9, 8, 0).is_ok());
        assert_eq!(limiter.admit(&config, 9, 7, 60), Err(40));
        assert!(limiter.admit(&config, 9, 7, 100).is_ok());
        let off = RateLimitConfig::default();
        assert!(limiter.admit(&off, 9, 7, 100).is_ok());
    }
}
