//! Settings of the kit's helpers, for a service's `[service]` section,
//! and [`Sections`], the three sections a service's settings hold.

use serde::{Deserialize, Serialize};

/// A service's settings as the three scenario sections it owns, the shape
/// every service's [`System::Settings`](crate::system::System::Settings)
/// takes: `[data]` (the data set), `[workload]` (what users do) and
/// `[service]` (how the service behaves; the kit's [`RetryConfig`] unless
/// the service has more to set). A section a scenario leaves out takes
/// its type's default; other top-level sections are overbook's.
///
/// ```
/// use overbook::prelude::*;
///
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Venue {
///     seats: i64,
/// }
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Workload {
///     ops_per_user: u32,
/// }
/// type Settings = Sections<Venue, Workload>;
///
/// let sim = "name = \"rush\"\n[data]\nseats = 3\n[service]\nattempts = 2\n";
/// let settings: Settings = toml::from_str(sim).unwrap();
/// assert_eq!((settings.data.seats, settings.workload.ops_per_user), (3, 0));
/// assert_eq!((settings.service.attempts, settings.service.base_ms), (2, 10));
/// let stray = toml::from_str::<Settings>("[workload]\nseats = 3\n");
/// assert!(stray.unwrap_err().to_string().contains("unknown field `seats`"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sections<Data, Workload, Service = RetryConfig> {
    /// `[data]`: what [`System::data`](crate::system::System::data) builds
    /// the data set from.
    #[serde(default)]
    pub data: Data,
    /// `[workload]`: what each virtual user does.
    #[serde(default)]
    pub workload: Workload,
    /// `[service]`: the service's own behaviour (its retries).
    #[serde(default)]
    pub service: Service,
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
