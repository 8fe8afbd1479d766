//! Service-level models: clients that call [`Api::handle`] directly (no
//! network), so the model checker explores the very handlers the simulated
//! world runs.
//!
//! Every store statement of a handler is a scheduling point, and so is
//! every [`Env`] sleep (retry backoff): a sleep advances a logical clock by
//! its duration and then yields, so time moves only when a client waits.
//! After every step the [`Checker`] is fed the new commits and responses;
//! each of its invariants is a named `always` property, and its full
//! recomputation runs as the `at_end` check `state_agrees_at_end`.
//!
//! "Sometimes" conditions (stateright's, Antithesis's) keep a clean
//! exploration from being clean for missing the interesting cases: each is
//! reported as reached by some schedule or never reached. A model gets the
//! ones its requests can reach: a serialization failure retried to success
//! (services that retry), a 409, a 409 offering other rooms (bookings),
//! every request succeeding, and a lost response resent (when responses
//! may be lost).

use super::{Client, Model};
use crate::invariant::{Checker, Violation, INVARIANTS};
use crate::seed::Seed;
use crate::service::{
    schema, Api, DataConfig, Dataset, Env, Request, RequestBody, Response, ResponseBody,
    ServiceConfig, Variant,
};
use crate::store::{PauseFuture, Pool, Store, StoreConfig};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

/// Logical time: starts at 0 and moves only when a client sleeps.
#[derive(Debug, Default)]
pub struct LogicalEnv {
    now_ms: Arc<AtomicU64>,
}

impl Env for LogicalEnv {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        let now_ms = self.now_ms.clone();
        let mut slept = false;
        Box::pin(std::future::poll_fn(move |cx| {
            if slept {
                return Poll::Ready(());
            }
            slept = true;
            now_ms.fetch_add(ms, Ordering::Relaxed);
            // A scheduling point: others may run while this client waits.
            cx.waker().wake_by_ref();
            Poll::Pending
        }))
    }
}

/// What becomes of a request's response (a choice of the model checker).
const SEND: &[&str] = &[
    "sends",
    "sends, times out and resends the same request while the original is in flight",
];

/// Requests a client gave up waiting for, handed to the daemon that keeps
/// running them.
#[derive(Default)]
struct InFlight {
    requests: RefCell<VecDeque<Request>>,
    waker: RefCell<Option<Waker>>,
}

impl InFlight {
    fn hand_over(&self, request: Request) {
        self.requests.borrow_mut().push_back(request);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    async fn next(&self) -> Request {
        std::future::poll_fn(|cx| match self.requests.borrow_mut().pop_front() {
            Some(request) => Poll::Ready(request),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Added to a request's id when it is resent (request ids number a
/// client's operations in their low bits).
const RESEND_ID_STEP: u64 = 1 << 24;

/// A service scenario for the model checker.
#[derive(Clone, Debug)]
pub struct ServiceScenario {
    /// The service implementation (correct or a planted bug).
    pub variant: Variant,
    /// The data set's sizes.
    pub data: DataConfig,
    /// Seeds the data set, the store and the server's stream.
    pub seed: Seed,
    /// Retry, rate-limit and cache settings.
    pub service: ServiceConfig,
    /// Connections in the pool (make it at least the client count, or
    /// clients also wait for connections).
    pub pool_size: usize,
    /// Each client's requests, sent one after the other.
    pub clients: Vec<Vec<Request>>,
    /// Responses each client may lose: every request a client with losses
    /// left sends branches into "answered" and "timed out", and on a
    /// timeout the client resends it (new request id, same idempotency key)
    /// while the original keeps running on a daemon task, so the search
    /// covers the resend racing the original as well as arriving after it
    /// committed.
    pub lost_responses_per_client: u32,
}

/// What one schedule of a service model has seen so far.
#[derive(Debug)]
pub struct ServiceRun {
    checker: Checker,
    env: Arc<LogicalEnv>,
    /// Every response received, with its request and the time.
    exchanges: Vec<(Request, Response, u64)>,
    exchanges_fed: usize,
    violations: Vec<Violation>,
    /// Requests resent after a lost response.
    resends: u32,
}

impl ServiceRun {
    /// Every response received so far, with its request and the time.
    pub fn exchanges(&self) -> &[(Request, Response, u64)] {
        &self.exchanges
    }

    /// Feeds the checker what happened since the last call.
    fn catch_up(&mut self, store: &Store) {
        for event in store.drain_commits() {
            if let Err(violation) = self.checker.on_commit(&event) {
                self.violations.push(violation);
            }
        }
        while self.exchanges_fed < self.exchanges.len() {
            let (request, response, now_ms) = &self.exchanges[self.exchanges_fed];
            if let Err(violation) = self.checker.on_response(request, response, *now_ms) {
                self.violations.push(violation);
            }
            self.exchanges_fed += 1;
        }
    }
}

/// Per-schedule state of a service model.
pub type ServiceState = Rc<RefCell<ServiceRun>>;

/// A model whose clients send `scenario`'s requests to one [`Api`] server
/// over a fresh store loaded with the scenario's data set.
pub fn service_model(name: &str, scenario: ServiceScenario) -> Model<ServiceState> {
    let sometimes = Sometimes::of(&scenario);
    let dataset = Arc::new(Dataset::generate(&scenario.data, scenario.seed));
    let store_dataset = dataset.clone();
    let (variant, seed) = (scenario.variant, scenario.seed);
    let config = StoreConfig {
        record_history: false,
        record_commits: true,
        ..StoreConfig::default()
    };
    let losses = scenario.lost_responses_per_client;
    let senders = scenario.clients.len();
    let mut model = Model::with_state(name, move |store| {
        let env = Arc::new(LogicalEnv::default());
        // Timed-out originals run beside their resends, on connections of
        // their own.
        let tasks = if losses > 0 { 2 * senders } else { senders };
        let api = Rc::new(Api::new(
            Pool::new(store.clone(), scenario.pool_size + tasks - senders, tasks),
            env.clone(),
            scenario.service.clone(),
            scenario.variant,
            dataset.clone(),
            scenario.seed.stream_indexed("api", 0),
        ));
        let run = Rc::new(RefCell::new(ServiceRun {
            checker: Checker::new(dataset.clone()),
            env: env.clone(),
            exchanges: Vec::new(),
            exchanges_fed: 0,
            violations: Vec::new(),
            resends: 0,
        }));
        let in_flight: Vec<Rc<InFlight>> =
            (0..senders).map(|_| Rc::new(InFlight::default())).collect();
        let mut clients: Vec<Client> = scenario
            .clients
            .iter()
            .enumerate()
            .map(|(index, requests)| {
                let (api, run, requests) = (api.clone(), run.clone(), requests.clone());
                let (store, in_flight) = (store.clone(), in_flight[index].clone());
                let mut losses_left = losses;
                Box::pin(async move {
                    for mut request in requests {
                        if losses_left > 0 && store.choose(SEND).await == 1 {
                            losses_left -= 1;
                            // The original goes on without the client, which
                            // resends with a new request id (as the world's
                            // clients give every send) and the same key.
                            in_flight.hand_over(request.clone());
                            request.request_id += RESEND_ID_STEP;
                            run.borrow_mut().resends += 1;
                        }
                        let response = api.handle(request.clone(), index as u32).await;
                        let mut run = run.borrow_mut();
                        let now_ms = run.env.now_ms();
                        run.exchanges.push((request, response, now_ms));
                    }
                }) as Client
            })
            .collect();
        if losses > 0 {
            // Each client's abandoned originals run on a daemon of their
            // own, interleaved with everything else; their responses reach
            // nobody.
            for (index, in_flight) in in_flight.into_iter().enumerate() {
                let api = api.clone();
                clients.push(Box::pin(async move {
                    loop {
                        let request = in_flight.next().await;
                        let _unseen = api.handle(request, index as u32).await;
                    }
                }));
            }
        }
        (run, clients)
    })
    .daemons(if losses > 0 {
        (0..senders)
            .map(|i| format!("client {i}'s timed-out original"))
            .collect()
    } else {
        Vec::new()
    })
    .store(move || {
        let store = Store::new(schema(variant), config, seed);
        store_dataset.load_into(&store);
        store
    });
    for (invariant, _) in INVARIANTS {
        model = model.always(invariant, move |store, run: &ServiceState| {
            let mut run = run.borrow_mut();
            run.catch_up(store);
            match run.violations.iter().find(|v| v.invariant == *invariant) {
                Some(violation) => Err(violation.message.clone()),
                None => Ok(()),
            }
        });
    }
    model = model.at_end("state_agrees_at_end", |store, run: &ServiceState| {
        let mut run = run.borrow_mut();
        run.catch_up(store);
        run.checker.at_end(store).map_err(|v| v.to_string())
    });
    sometimes.add_to(model)
}

/// Which "sometimes" conditions a service scenario can reach.
struct Sometimes {
    retries: bool,
    bookings: bool,
    lost_responses: bool,
}

impl Sometimes {
    fn of(scenario: &ServiceScenario) -> Sometimes {
        let bodies = || scenario.clients.iter().flatten().map(|r| &r.body);
        Sometimes {
            // Board moves are optimistic and never retried by the server.
            retries: scenario.service.retry.attempts > 1
                && bodies().any(|b| !matches!(b, RequestBody::Move { .. } | RequestBody::GetBoard)),
            bookings: bodies().any(|b| matches!(b, RequestBody::Book { .. })),
            lost_responses: scenario.lost_responses_per_client > 0,
        }
    }

    fn add_to(&self, mut model: Model<ServiceState>) -> Model<ServiceState> {
        let any = |check: fn(&Response) -> bool| {
            move |_: &Store, state: &ServiceState| {
                state.borrow().exchanges.iter().any(|(_, r, _)| check(r))
            }
        };
        if self.retries {
            model = model.sometimes(
                "a 40001 retried to success",
                any(|r| r.status < 300 && r.attempts > 1),
            );
        }
        model = model.sometimes("a 409 conflict answered", any(|r| r.status == 409));
        if self.bookings {
            model = model.sometimes(
                "a 409 with alternatives",
                any(|r| matches!(&r.body, ResponseBody::NoRoom { alternatives, .. } if !alternatives.is_empty())),
            );
        }
        model = model.sometimes("every request succeeded", |_, state: &ServiceState| {
            let run = state.borrow();
            !run.exchanges.is_empty() && run.exchanges.iter().all(|(_, r, _)| r.status < 300)
        });
        if self.lost_responses {
            model = model.sometimes("a lost response resent", |_, state: &ServiceState| {
                state.borrow().resends > 0
            });
        }
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{explore, replay, Dfs, Limits};
    use crate::service::{AuthorizationGroup, Role, Token};

    fn reserve(id: u64, client: u32, units: i64) -> Request {
        Request {
            request_id: id,
            client,
            token: Some(Token {
                organization: 0,
                role: Role::Scheduler,
                expires_at_ms: u64::MAX / 2,
            }),
            idempotency_key: Some(format!("reserve-{id}")),
            body: RequestBody::Reserve {
                authorization: 0,
                units,
            },
        }
    }

    /// Two clients each reserve 6 units of an authorization of 10.
    fn units_scenario(variant: Variant) -> ServiceScenario {
        ServiceScenario {
            variant,
            data: DataConfig {
                organizations: 1,
                authorizations: vec![AuthorizationGroup {
                    count: 1,
                    units: 10,
                }],
                appointments: 1,
                practitioners: 1,
                patients: 1,
                rooms: 1,
                ..DataConfig::default()
            },
            seed: Seed(5),
            service: ServiceConfig::default(),
            pool_size: 2,
            clients: vec![vec![reserve(1, 0, 6)], vec![reserve(2, 1, 6)]],
            lost_responses_per_client: 0,
        }
    }

    #[test]
    fn dfs_finds_units_read_committed_overbooking() {
        let model = service_model(
            "units/read-committed",
            units_scenario(Variant::UnitsReadCommitted),
        );
        let report = explore(&model, Dfs::default().into(), Limits::default());
        eprintln!("{report}");
        assert!(report.exhausted);
        let violation = report
            .violations
            .iter()
            .find(|v| v.property == "no_overbooking")
            .expect("two reserves of 6 against 10 overbook at Read Committed");
        let replayed = replay(&model, &violation.line).unwrap();
        assert_eq!(replayed.violation.unwrap().property, "no_overbooking");
        assert_eq!((report.schedules, report.pruned), (28, 1));
    }

    #[test]
    fn the_correct_units_service_passes_exhaustively() {
        let model = service_model("units/correct", units_scenario(Variant::Correct));
        let report = explore(&model, Dfs::default().into(), Limits::default());
        eprintln!("{report}");
        assert!(report.exhausted);
        assert!(report.violations.is_empty(), "{report}");
        // Either client may win the last units: two final states.
        assert_eq!(report.distinct_final_states, 2);
        assert_eq!((report.schedules, report.pruned), (12, 0));
    }
}
