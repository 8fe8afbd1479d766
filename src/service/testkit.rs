//! A deterministic mini-runtime for service tests: a logical clock, an Env
//! whose sleeps wait on it, a pacer that makes every statement a
//! scheduling point, and a driver that polls many handler futures in a
//! seeded random order with a no-op waker.

use super::api::{Request, RequestBody, Response, Role, Token};
use super::{sql_schema, Api, Dataset, Env, ServiceConfig, Variant};
use crate::invariant::{Checker, Violation};
use overbook::seed::{Rng64, Seed};
use overbook::sql::SqlDb;
use overbook::store::{Pacer, PauseFuture, PausePoint, Pool, Schema, Store, StoreConfig};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Logical time shared by the Env and the driver.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    pub(crate) fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub(crate) fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

struct SleepUntil {
    clock: Clock,
    deadline_ms: u64,
}

impl Future for SleepUntil {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now_ms() >= self.deadline_ms {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Pending once, then ready: a scheduling point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// An Env on the logical clock; counts sleeps.
#[derive(Debug, Default)]
pub(crate) struct TestEnv {
    pub(crate) clock: Clock,
    pub(crate) sleeps: AtomicU64,
    pub(crate) slept_ms: AtomicU64,
}

impl Env for TestEnv {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        self.slept_ms.fetch_add(ms, Ordering::SeqCst);
        Box::pin(SleepUntil {
            clock: self.clock.clone(),
            deadline_ms: self.clock.now_ms() + ms,
        })
    }
}

/// Every statement yields once, so concurrent handlers interleave at each
/// statement.
pub(crate) struct YieldPacer;

impl Pacer for YieldPacer {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(YieldOnce(false))
    }
}

type BoxedResponse<'a> = Pin<Box<dyn Future<Output = Response> + 'a>>;

/// Polls `futures` to completion: each round polls every unfinished future
/// once in an order drawn from `seed`, then advances the clock by 1 ms.
pub(crate) fn run_concurrently(
    futures: Vec<BoxedResponse<'_>>,
    clock: &Clock,
    seed: u64,
) -> Vec<Response> {
    const ROUNDS_MAX: u32 = 2_000_000;
    let mut rng: Rng64 = Seed(seed).stream("test-driver");
    let mut slots: Vec<Option<BoxedResponse<'_>>> = futures.into_iter().map(Some).collect();
    let mut results: Vec<Option<Response>> = vec![None; slots.len()];
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..ROUNDS_MAX {
        let mut live: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].is_some()).collect();
        if live.is_empty() {
            return results.into_iter().map(|r| r.expect("finished")).collect();
        }
        // Fisher-Yates with the seeded stream.
        for i in (1..live.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            live.swap(i, j);
        }
        for index in live {
            let future = slots[index].as_mut().expect("live");
            if let Poll::Ready(response) = future.as_mut().poll(&mut cx) {
                results[index] = Some(response);
                slots[index] = None;
            }
        }
        clock.advance(1);
    }
    panic!("run_concurrently: handlers did not finish within {ROUNDS_MAX} rounds");
}

/// A store loaded with a data set, an Env and a way to build servers.
pub(crate) struct Harness {
    pub(crate) store: Store,
    pub(crate) pool: Pool,
    pub(crate) env: Arc<TestEnv>,
    pub(crate) dataset: Arc<Dataset>,
    pub(crate) variant: Variant,
}

impl Harness {
    pub(crate) fn new(variant: Variant, dataset: Dataset) -> Harness {
        let config = StoreConfig {
            record_history: false,
            record_commits: true,
            ..StoreConfig::default()
        };
        Harness::with_store_config(variant, dataset, config)
    }

    pub(crate) fn with_store_config(
        variant: Variant,
        dataset: Dataset,
        config: StoreConfig,
    ) -> Harness {
        Harness::with_schema(variant, dataset, config, &sql_schema(variant))
    }

    /// A harness whose store has the SQL `schema` instead of the variant's own.
    pub(crate) fn with_schema(
        variant: Variant,
        dataset: Dataset,
        config: StoreConfig,
        schema: &str,
    ) -> Harness {
        let store = Store::new(Schema::default(), config, Seed(11));
        SqlDb::attach(&store)
            .install(schema)
            .expect("the clinic schema installs");
        dataset.load_into(&store);
        store.set_pacer(Arc::new(YieldPacer));
        let pool = Pool::new(store.clone(), 64, 10_000);
        Harness {
            store,
            pool,
            env: Arc::new(TestEnv::default()),
            dataset: Arc::new(dataset),
            variant,
        }
    }

    pub(crate) fn api(&self, config: ServiceConfig, index: u64) -> Api {
        Api::new(
            self.pool.clone(),
            self.env.clone(),
            config,
            self.variant,
            self.dataset.clone(),
            Seed(3).stream_indexed("api", index),
        )
    }

    /// Runs `(server, request)` pairs concurrently.
    pub(crate) fn run(
        &self,
        apis: &[&Api],
        requests: &[(usize, Request)],
        seed: u64,
    ) -> Vec<Response> {
        let futures: Vec<BoxedResponse<'_>> = requests
            .iter()
            .map(|(server, request)| {
                let api = apis[*server];
                Box::pin(api.handle(request.clone(), request.client)) as BoxedResponse<'_>
            })
            .collect();
        run_concurrently(futures, &self.env.clock, seed)
    }

    /// Runs one request alone.
    pub(crate) fn one(&self, api: &Api, request: Request) -> Response {
        self.run(&[api], &[(0, request)], 0).remove(0)
    }

    /// Feeds every commit so far, then the responses, then the end check;
    /// returns every violation found.
    pub(crate) fn check(
        &self,
        checker: &mut Checker,
        exchanges: &[(Request, Response)],
    ) -> Vec<Violation> {
        let mut violations = Vec::new();
        for event in self.store.drain_commits() {
            if let Err(v) = checker.on_commit(&event) {
                violations.push(v);
            }
        }
        for (request, response) in exchanges {
            if let Err(v) = checker.on_response(request, response, self.env.now_ms()) {
                violations.push(v);
            }
        }
        if let Err(v) = checker.at_end(&self.store) {
            violations.push(v);
        }
        violations
    }
}

/// A token for `organization` and `role`, valid for an hour.
pub(crate) fn token(organization: u32, role: Role) -> Option<Token> {
    Some(Token {
        organization,
        role,
        expires_at_ms: 3_600_000,
    })
}

/// A request with id `id` from `client`.
pub(crate) fn request(
    id: u64,
    client: u32,
    token: Option<Token>,
    key: Option<&str>,
    body: RequestBody,
) -> Request {
    Request {
        request_id: id,
        client,
        token,
        idempotency_key: key.map(str::to_string),
        body,
    }
}

/// Names of the invariants violated, sorted and deduplicated.
pub(crate) fn names(violations: &[Violation]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = violations.iter().map(|v| v.invariant).collect();
    names.sort_unstable();
    names.dedup();
    names
}
