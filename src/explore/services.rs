//! Service-level models: clients that call a [`System`]'s handler directly
//! (no network), so the model checker explores the very handlers the
//! simulated world runs, generic over the system.
//!
//! Every store statement of a handler is a scheduling point, and so is
//! every [`Env`] sleep (retry backoff): a sleep advances a logical clock by
//! its duration and then yields, so time moves only when a client waits.
//! After every step the system's checker is fed the new commits and
//! responses; each of its invariants is a named `always` property, and its
//! end check (a full recount) runs as the `at_end` check
//! `state_agrees_at_end`.
//!
//! "Sometimes" conditions (stateright's, Antithesis's) keep a clean
//! exploration from being clean for missing the interesting cases: each is
//! reported as reached by some schedule or never reached. A model gets the
//! ones its requests can reach ([`System::sometimes`]), and a lost
//! response resent when responses may be lost.

use super::{Client, Model};
use crate::error::InputError;
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::store::{PauseFuture, Pool, Store, StoreConfig};
use crate::system::{
    prepare_store, Env, ExploreContext, FromContext, Invariants, ServerContext, System, Variant,
    Violation,
};
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
struct InFlight<R> {
    requests: RefCell<VecDeque<R>>,
    waker: RefCell<Option<Waker>>,
}

impl<R> Default for InFlight<R> {
    fn default() -> Self {
        InFlight {
            requests: RefCell::new(VecDeque::new()),
            waker: RefCell::new(None),
        }
    }
}

impl<R> InFlight<R> {
    fn hand_over(&self, request: R) {
        self.requests.borrow_mut().push_back(request);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    async fn next(&self) -> R {
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

/// A service scenario for the model checker.
pub struct ServiceScenario<S: System> {
    /// The service implementation (correct or a planted bug).
    pub variant: Variant,
    /// The service's own settings (data, workload, service sections).
    pub settings: S::Settings,
    /// Seeds the data set, the store and the server's stream.
    pub seed: Seed,
    /// Connections in the pool (make it at least the client count, or
    /// clients also wait for connections).
    pub pool_size: usize,
    /// Each client's requests, sent one after the other.
    pub clients: Vec<Vec<S::Request>>,
    /// Responses each client may lose: every request a client with losses
    /// left sends branches into "answered" and "timed out", and on a
    /// timeout the client resends it (new request id, same idempotency key)
    /// while the original keeps running on a daemon task, so the search
    /// covers the resend racing the original as well as arriving after it
    /// committed.
    pub lost_responses_per_client: u32,
}

impl<S: System> Clone for ServiceScenario<S> {
    fn clone(&self) -> Self {
        ServiceScenario {
            variant: self.variant,
            settings: self.settings.clone(),
            seed: self.seed,
            pool_size: self.pool_size,
            clients: self.clients.clone(),
            lost_responses_per_client: self.lost_responses_per_client,
        }
    }
}

/// A model-checking scenario drawn from a scenario file: `clients` clients
/// with `ops` requests each, from the system's
/// [`System::explore_clients`] with `seed`. When the scenario loses
/// responses (`faults.lost_response_probability` above 0), each client may
/// lose one, at any of its requests: the checker explores both outcomes
/// instead of drawing one.
pub fn service_scenario<S: System>(
    system: &S,
    scenario: &Scenario,
    variant: Variant,
    seed: Seed,
    clients: u32,
    ops: u32,
) -> Result<ServiceScenario<S>, InputError> {
    if clients == 0 || ops == 0 {
        return Err(InputError::new(
            "a model needs at least one client with one request",
        ));
    }
    let settings = scenario.settings(system)?;
    let data = system.data(&settings, seed);
    // A schema the simulated engine refuses is an input error here, before
    // any schedule runs.
    prepare_store(system, variant, StoreConfig::default(), seed, &data)
        .map_err(|e| InputError::new(format!("setting up the database: {e}")))?;
    let programs = system.explore_clients(ExploreContext {
        settings: &settings,
        data: &data,
        seed,
        clients,
        ops,
    });
    Ok(ServiceScenario {
        variant,
        settings,
        seed,
        pool_size: clients as usize,
        clients: programs,
        lost_responses_per_client: u32::from(scenario.faults.lost_response_probability > 0.0),
    })
}

/// What one schedule of a service model has seen so far.
pub struct ServiceRun<S: System> {
    checker: S::Checker,
    env: Arc<LogicalEnv>,
    /// Every response received, with its request and the time.
    exchanges: Vec<(S::Request, S::Response, u64)>,
    exchanges_fed: usize,
    violations: Vec<Violation>,
    /// Requests resent after a lost response.
    resends: u32,
}

impl<S: System> std::fmt::Debug for ServiceRun<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRun")
            .field("exchanges", &self.exchanges.len())
            .field("violations", &self.violations)
            .field("resends", &self.resends)
            .finish_non_exhaustive()
    }
}

impl<S: System> ServiceRun<S> {
    /// Every response received so far, with its request and the time.
    pub fn exchanges(&self) -> &[(S::Request, S::Response, u64)] {
        &self.exchanges
    }

    /// Feeds the checker what happened since the last call.
    fn catch_up(&mut self, store: &Store) {
        for event in store.drain_commits() {
            if let Err(violation) = self.checker.on_commit(&event, self.env.now_ms()) {
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
pub type ServiceState<S> = Rc<RefCell<ServiceRun<S>>>;

/// A model whose clients send `scenario`'s requests to one server of
/// `system` over a fresh store loaded with the scenario's data set.
pub fn service_model<S: System>(
    system: &S,
    name: &str,
    scenario: ServiceScenario<S>,
) -> Model<ServiceState<S>> {
    let sometimes = system.sometimes(&scenario.settings, &scenario.clients);
    let dataset = Arc::new(system.data(&scenario.settings, scenario.seed));
    let store_dataset = dataset.clone();
    let (variant, seed) = (scenario.variant, scenario.seed);
    let settings = Arc::new(scenario.settings.clone());
    let (store_system, model_system) = (system.clone(), system.clone());
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
        let api = Rc::new(<S::Server as FromContext<S>>::from_context(ServerContext {
            index: 0,
            pool: Pool::new(store.clone(), scenario.pool_size + tasks - senders, tasks),
            env: env.clone(),
            variant: scenario.variant,
            data: dataset.clone(),
            settings: settings.clone(),
            rng: std::sync::Mutex::new(scenario.seed.stream_indexed("api", 0)),
            retries: Default::default(),
        }));
        let run = Rc::new(RefCell::new(ServiceRun::<S> {
            checker: model_system.checker(dataset.clone(), &settings),
            env: env.clone(),
            exchanges: Vec::new(),
            exchanges_fed: 0,
            violations: Vec::new(),
            resends: 0,
        }));
        let in_flight: Vec<Rc<InFlight<S::Request>>> =
            (0..senders).map(|_| Rc::new(InFlight::default())).collect();
        let mut clients: Vec<Client> = scenario
            .clients
            .iter()
            .enumerate()
            .map(|(index, requests)| {
                let (api, run, requests) = (api.clone(), run.clone(), requests.clone());
                let (store, in_flight) = (store.clone(), in_flight[index].clone());
                let system = model_system.clone();
                let mut losses_left = losses;
                Box::pin(async move {
                    for mut request in requests {
                        if losses_left > 0 && store.choose(SEND).await == 1 {
                            losses_left -= 1;
                            // The original goes on without the client, which
                            // resends with a new request id (as the world's
                            // clients give every send) and the same key.
                            in_flight.hand_over(request.clone());
                            request = system.resend(&request);
                            run.borrow_mut().resends += 1;
                        }
                        let response = S::handle(&api, request.clone(), index as u32).await;
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
                        let _unseen = S::handle(&api, request, index as u32).await;
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
        // `service_scenario` set up the same store once and reported its
        // error; a deterministic setup cannot fail the second time.
        prepare_store(&store_system, variant, config, seed, &store_dataset)
            .unwrap_or_else(|e| panic!("setting up the database: {e}"))
    });
    for info in system.invariants() {
        let invariant = info.name;
        model = model.always(invariant, move |store, run: &ServiceState<S>| {
            let mut run = run.borrow_mut();
            run.catch_up(store);
            match run.violations.iter().find(|v| v.invariant == invariant) {
                Some(violation) => Err(violation.message.clone()),
                None => Ok(()),
            }
        });
    }
    model = model.at_end("state_agrees_at_end", |store, run: &ServiceState<S>| {
        let mut run = run.borrow_mut();
        run.catch_up(store);
        let now_ms = run.env.now_ms();
        run.checker.at_end(store, now_ms).map_err(|v| v.to_string())
    });
    for condition in sometimes {
        let reached = condition.reached;
        model = model.sometimes(condition.name, move |_, state: &ServiceState<S>| {
            reached(&state.borrow().exchanges)
        });
    }
    if scenario.lost_responses_per_client > 0 {
        model = model.sometimes("a lost response resent", |_, state: &ServiceState<S>| {
            state.borrow().resends > 0
        });
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{explore, replay, Dfs, Limits};
    use crate::service::{
        AuthorizationGroup, Clinic, ClinicSettings, DataConfig, Request, RequestBody, Role, Token,
    };

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
    fn units_scenario(variant: &str) -> ServiceScenario<Clinic> {
        let data = DataConfig {
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
        };
        ServiceScenario {
            variant: Clinic.variant(variant).expect("declared"),
            settings: ClinicSettings {
                data,
                ..ClinicSettings::default()
            },
            seed: Seed(5),
            pool_size: 2,
            clients: vec![vec![reserve(1, 0, 6)], vec![reserve(2, 1, 6)]],
            lost_responses_per_client: 0,
        }
    }

    #[test]
    fn dfs_finds_units_read_committed_overbooking() {
        let model = service_model(
            &Clinic,
            "units/read-committed",
            units_scenario("units/read-committed"),
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
        assert_eq!((report.schedules, report.pruned), (46, 0));
    }

    #[test]
    fn the_correct_units_service_passes_exhaustively() {
        let model = service_model(&Clinic, "units/correct", units_scenario("correct"));
        let report = explore(&model, Dfs::default().into(), Limits::default());
        eprintln!("{report}");
        assert!(report.exhausted);
        assert!(report.violations.is_empty(), "{report}");
        // Either client may win the last units: two final states.
        assert_eq!(report.distinct_final_states, 2);
        assert_eq!((report.schedules, report.pruned), (22, 0));
    }
}
