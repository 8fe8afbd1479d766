//! One API server: the three services behind a rate limiter and access
//! checks, with the server's in-memory state.

use super::access;
use super::api::{Request, RequestBody, Response, ResponseBody};
use super::config::ServiceConfig;
use super::data::Dataset;
use super::retry::{with_retry, RetryContext, RetryCounters, RetryOn};
use super::rooms::AvailabilityCache;
use super::{board, rooms, units, Env, Variant};
use overbook::seed::Rng64;
use overbook::store::DbError;
use overbook::system::kit::Database;
use overbook::system::kit::RateLimiter;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one server, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApiStats {
    /// Requests handled.
    pub requests: u64,
    /// Transactions re-run after 40001/40P01 (or 23P01 for bookings).
    pub retries: u64,
    /// Operations that ran out of attempts (503).
    pub retries_exhausted: u64,
    /// Requests refused by the rate limiter (429).
    pub rate_limited: u64,
    /// Requests answered from a stored idempotent response.
    pub idempotent_replays: u64,
    /// Refreshes of the stale availability cache (that variant only).
    pub cache_refreshes: u64,
}

/// One API server's instance of all three services. Holds per-server
/// in-memory state (the rate limiter, the buggy availability cache, the
/// jitter stream) which a crash loses: build a new `Api` for the restarted
/// server.
pub struct Api {
    pub(super) database: Database,
    pub(super) env: Arc<dyn Env>,
    pub(super) config: ServiceConfig,
    pub(super) variant: Variant,
    pub(super) dataset: Arc<Dataset>,
    rng: Mutex<Rng64>,
    limiter: Mutex<RateLimiter>,
    pub(super) availability_cache: Mutex<AvailabilityCache>,
    /// Soft-preference weights after the config's overrides, in table order.
    pub(super) soft_weights: Vec<i64>,
    retry_counters: RetryCounters,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    pub(super) idempotent_replays: AtomicU64,
    pub(super) cache_refreshes: AtomicU64,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("variant", &self.variant)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A server over `database` (a [`overbook::store::Pool`] of the
    /// simulated store, or [`Database::Postgres`]), whose schema is
    /// [`super::sql_schema`]. `config` should have passed
    /// [`ServiceConfig::validate`]; unknown soft-preference names are
    /// ignored here. `rng` is the server's own stream (backoff jitter).
    pub fn new(
        database: impl Into<Database>,
        env: Arc<dyn Env>,
        config: ServiceConfig,
        variant: Variant,
        dataset: Arc<Dataset>,
        rng: Rng64,
    ) -> Api {
        let soft_weights = rooms::SOFT_PREFERENCES
            .iter()
            .map(|rule| {
                config
                    .soft_preference_weights
                    .get(rule.name)
                    .copied()
                    .unwrap_or(rule.weight)
            })
            .collect();
        Api {
            database: database.into(),
            env,
            config,
            variant,
            dataset,
            rng: Mutex::new(rng),
            limiter: Mutex::new(RateLimiter::default()),
            availability_cache: Mutex::new(AvailabilityCache::default()),
            soft_weights,
            retry_counters: RetryCounters::default(),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            idempotent_replays: AtomicU64::new(0),
            cache_refreshes: AtomicU64::new(0),
        }
    }

    /// The variant this server runs.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The data set it serves.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// Counters so far.
    pub fn stats(&self) -> ApiStats {
        ApiStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retry_counters.retries.load(Ordering::Relaxed),
            retries_exhausted: self.retry_counters.exhausted.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            idempotent_replays: self.idempotent_replays.load(Ordering::Relaxed),
            cache_refreshes: self.cache_refreshes.load(Ordering::Relaxed),
        }
    }

    /// Handles one request from a client on host `source` (the index used
    /// by per-source rate limiting). Order: rate limit (429), token (401),
    /// role and organization (403), then the operation. Never panics on
    /// client input.
    pub async fn handle(&self, request: Request, source: u32) -> Response {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now_ms = self.env.now_ms();
        let admitted = self
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(&self.config.rate_limit, request.client, source, now_ms);
        if let Err(retry_after_ms) = admitted {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Response {
                status: 429,
                attempts: 0,
                body: ResponseBody::RateLimited { retry_after_ms },
            };
        }
        let token = match access::authenticate(&request, now_ms) {
            Ok(token) => token,
            Err(response) => return response,
        };
        match &request.body {
            RequestBody::GetBoard => board::get_board(self, &token).await,
            RequestBody::Move { .. } => board::move_appointment(self, &token, &request).await,
            RequestBody::Reserve { .. } => units::reserve_units(self, &token, &request).await,
            RequestBody::Release { .. } | RequestBody::Consume { .. } => {
                units::settle_reservation(self, &token, &request).await
            }
            RequestBody::Book { .. } => rooms::assign_room(self, &token, &request).await,
        }
    }

    /// Runs `attempt` in the retry wrapper; `Ok((value, tries))` or the
    /// 503/500 response that ended it.
    pub(super) async fn retry<T, F, Fut>(
        &self,
        retry_on: RetryOn,
        attempt: F,
    ) -> Result<(T, u32), Response>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        let context = RetryContext {
            config: &self.config.retry,
            env: self.env.as_ref(),
            rng: &self.rng,
            counters: &self.retry_counters,
        };
        with_retry(context, retry_on, attempt).await
    }

    /// Like [`Api::retry`] for attempts that produce a response: the
    /// response with its tries filled in.
    pub(super) async fn retry_response<F, Fut>(&self, retry_on: RetryOn, attempt: F) -> Response
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Response, DbError>>,
    {
        match self.retry(retry_on, attempt).await {
            Ok((mut response, tries)) => {
                response.attempts = tries;
                response
            }
            Err(response) => response,
        }
    }
}
