//! Service-level models: clients that call a [`System`]'s handler directly
//! (no network), so the model checker explores the very handlers the
//! simulated world runs, generic over the system. Each client runs the
//! system's [`System::explore_user`] over its requests; a further
//! connection it opens ([`UserContext::connection`], up to
//! [`ServiceScenario::connections`]) is a daemon task of its own, handed
//! each call and handing the answer back.
//!
//! Every store statement of a handler is a scheduling point. Every [`Env`]
//! sleep (a retry's backoff, a background job's period) is a timer on a
//! logical clock that moves only when no task can run or when the search
//! jumps it (see [`Model::time_jumps`]).
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
use crate::scenario::{Liveness, Scenario};
use crate::seed::Seed;
use crate::store::{PauseFuture, Pool, Store, StoreConfig};
use crate::system::{
    prepare_store, BackgroundTask, CallFuture, CommittedState, Env, ExploreContext, FromContext,
    Invariants, Reply, ServerContext, Sometimes, System, Transport, UserContext, Variant,
    Violation,
};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

/// Logical time: the explorer's clock, behind the store's pacer. It starts
/// at 0; a sleep is a timer that a clock step fires (when nothing else can
/// run, or by a time jump of the search).
#[derive(Debug)]
pub struct LogicalEnv {
    store: Store,
}

impl LogicalEnv {
    /// The clock of the explored run over `store`.
    pub fn new(store: Store) -> LogicalEnv {
        LogicalEnv { store }
    }
}

impl Env for LogicalEnv {
    fn now_ms(&self) -> u64 {
        self.store.now_ms()
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        self.store.sleep_ms(ms)
    }
}

/// What becomes of a request's response (a choice of the model checker).
pub(crate) const SEND: &[&str] = &[
    "sends",
    "sends, times out and resends the same request while the original is in flight",
];

/// Requests a client gave up waiting for, handed to the daemon that keeps
/// running them.
pub(crate) struct InFlight<R> {
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
    pub(crate) fn hand_over(&self, request: R) {
        self.requests.borrow_mut().push_back(request);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    pub(crate) async fn next(&self) -> R {
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

/// A response a connection's task hands back to the client awaiting it.
struct Answer<R> {
    response: RefCell<Option<R>>,
    waker: RefCell<Option<Waker>>,
}

impl<R> Answer<R> {
    fn new() -> Answer<R> {
        Answer {
            response: RefCell::new(None),
            waker: RefCell::new(None),
        }
    }

    fn fill(&self, response: R) {
        *self.response.borrow_mut() = Some(response);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    async fn wait(&self) -> R {
        std::future::poll_fn(|cx| match self.response.borrow_mut().take() {
            Some(response) => Poll::Ready(response),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Requests handed to one of a client's further connections, each with
/// where its answer goes.
type Handover<S> = InFlight<(<S as System>::Request, Rc<Answer<<S as System>::Response>>)>;

/// Where a model's client calls go besides the handler: the choice of a
/// lost response, the clock's stalled time, and the record of each
/// exchange. The model checker's is its store and schedule state;
/// `confirm`'s its turnstile and replay.
pub(crate) trait ClientCalls<S: System> {
    /// Whether this call's response is lost (a choice of the schedule).
    fn lose_response(&self) -> Pin<Box<dyn Future<Output = bool>>>;
    /// Stalled time so far (see [`Store::stalled_ms`]).
    fn stalled_ms(&self) -> u64;
    /// A response the client received; `sent_stalled_ms` is the stalled
    /// time when its request was sent.
    fn record(&self, request: S::Request, response: S::Response, sent_stalled_ms: u64);
    /// A lost response's request was resent.
    fn resent(&self);
}

/// One client of a model: its handler, its lost-response budget and
/// daemon, and its connections not yet opened.
struct ClientLine<S: System> {
    index: u32,
    system: S,
    api: Rc<S::Server>,
    calls: Rc<dyn ClientCalls<S>>,
    losses_left: Cell<u32>,
    in_flight: Rc<InFlight<S::Request>>,
    spare: RefCell<VecDeque<Rc<Handover<S>>>>,
    connections: u32,
}

impl<S: System> ClientLine<S> {
    /// One request's round trip: maybe a lost response (the original goes
    /// on without the client, which resends with a new request id, as the
    /// world's clients give every send, and the same key), then the
    /// handler, recorded.
    async fn exchange(&self, mut request: S::Request) -> S::Response {
        if self.losses_left.get() > 0 && self.calls.lose_response().await {
            self.losses_left.set(self.losses_left.get() - 1);
            self.in_flight.hand_over(request.clone());
            request = self.system.resend(&request);
            self.calls.resent();
        }
        let sent_stalled_ms = self.calls.stalled_ms();
        let response = S::handle(&self.api, request.clone(), self.index).await;
        self.calls
            .record(request, response.clone(), sent_stalled_ms);
        response
    }
}

/// A model client's connection: the client's own task for its first, a
/// task of its own for each further one ([`UserContext::connection`]).
struct ModelTransport<S: System> {
    line: Rc<ClientLine<S>>,
    /// `None`: calls run on the client's task.
    handover: Option<Rc<Handover<S>>>,
}

impl<S: System> Transport<S> for ModelTransport<S> {
    fn call<'a>(
        &'a mut self,
        request: &'a S::Request,
        _timeout_ms: u64,
    ) -> CallFuture<'a, S::Response> {
        Box::pin(async move {
            let Some(handover) = &self.handover else {
                return Ok(self.line.exchange(request.clone()).await);
            };
            let answer = Rc::new(Answer::new());
            handover.hand_over((request.clone(), answer.clone()));
            Ok(answer.wait().await)
        })
    }

    fn open_another(&mut self) -> Box<dyn Transport<S>> {
        let next = self.line.spare.borrow_mut().pop_front();
        let Some(handover) = next else {
            // Tasks are fixed when a schedule starts: a client's
            // connections are declared, not opened at will.
            panic!(
                "client {} opened more connections than explore.connections = {} allows: \
                 raise it in the sim's [explore] section",
                self.line.index, self.line.connections
            );
        };
        Box::new(ModelTransport {
            line: self.line.clone(),
            handover: Some(handover),
        })
    }
}

/// A model's client tasks: each client's [`System::explore_user`] over its
/// requests, and the daemons after them (each client's lost responses'
/// originals when responses may be lost, then each client's further
/// connections), with their names.
pub(crate) struct ClientTasks {
    pub(crate) clients: Vec<Client>,
    pub(crate) daemons: Vec<(String, Client)>,
}

/// The tasks of `scenario`'s clients against `api`, the same in the model
/// checker and in `confirm`.
pub(crate) fn client_tasks<S: System>(
    system: &S,
    scenario: &ServiceScenario<S>,
    (data, settings): (Arc<S::Data>, Arc<S::Settings>),
    env: Arc<dyn Env>,
    api: Rc<S::Server>,
    calls: Rc<dyn ClientCalls<S>>,
) -> ClientTasks {
    let mut tasks = ClientTasks {
        clients: Vec::new(),
        daemons: Vec::new(),
    };
    let mut connections = Vec::new();
    for (index, requests) in scenario.clients.iter().enumerate() {
        let further: Vec<Rc<Handover<S>>> = (1..scenario.connections)
            .map(|_| Rc::new(InFlight::default()))
            .collect();
        let line = Rc::new(ClientLine {
            index: index as u32,
            system: system.clone(),
            api: api.clone(),
            calls: calls.clone(),
            losses_left: Cell::new(scenario.lost_responses_per_client),
            in_flight: Rc::new(InFlight::default()),
            spare: RefCell::new(further.iter().cloned().collect()),
            connections: scenario.connections,
        });
        let user = UserContext::unobserved(
            index as u32,
            scenario.seed.stream_indexed("explore-user", index as u64),
            data.clone(),
            settings.clone(),
            env.clone(),
            Box::new(ModelTransport {
                line: line.clone(),
                handover: None,
            }),
        );
        let (system, requests) = (system.clone(), requests.clone());
        tasks.clients.push(Box::pin(async move {
            system.explore_user(user, requests).await
        }));
        if scenario.lost_responses_per_client > 0 {
            // Each client's abandoned originals run on a daemon of their
            // own, interleaved with everything else; their responses reach
            // nobody.
            let (api, in_flight) = (api.clone(), line.in_flight.clone());
            tasks.daemons.push((
                format!("client {index}'s timed-out original"),
                Box::pin(async move {
                    loop {
                        let request = in_flight.next().await;
                        let _unseen = S::handle(&api, request, index as u32).await;
                    }
                }),
            ));
        }
        connections.push((line, further));
    }
    for (line, further) in connections {
        for (k, handover) in further.into_iter().enumerate() {
            let line = line.clone();
            tasks.daemons.push((
                format!("client {}'s connection {}", line.index, k + 1),
                Box::pin(async move {
                    loop {
                        let (request, answer) = handover.next().await;
                        answer.fill(line.exchange(request).await);
                    }
                }),
            ));
        }
    }
    tasks
}

/// The model checker's side of a client's calls.
struct ModelCalls<S: System> {
    store: Store,
    run: ServiceState<S>,
}

impl<S: System> ClientCalls<S> for ModelCalls<S> {
    fn lose_response(&self) -> Pin<Box<dyn Future<Output = bool>>> {
        let choice = self.store.choose(SEND);
        Box::pin(async move { choice.await == 1 })
    }

    fn stalled_ms(&self) -> u64 {
        self.store.stalled_ms()
    }

    fn record(&self, request: S::Request, response: S::Response, sent_stalled_ms: u64) {
        let mut run = self.run.borrow_mut();
        let now_ms = run.env.now_ms();
        run.exchanges.push((request, response, now_ms));
        run.stalls_ms
            .push((sent_stalled_ms, self.store.stalled_ms()));
    }

    fn resent(&self) {
        self.run.borrow_mut().resends += 1;
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
    /// Each client's requests, sent one after the other (or as the
    /// system's [`System::explore_user`] sends them).
    pub clients: Vec<Vec<S::Request>>,
    /// Connections each client may open (`explore.connections`): its
    /// first, on its own task, and `connections - 1` more, each a task of
    /// its own with a pool connection of its own
    /// ([`UserContext::connection`]).
    pub connections: u32,
    /// Responses each client may lose: every request a client with losses
    /// left sends branches into "answered" and "timed out", and on a
    /// timeout the client resends it (new request id, same idempotency key)
    /// while the original keeps running on a daemon task, so the search
    /// covers the resend racing the original as well as arriving after it
    /// committed.
    pub lost_responses_per_client: u32,
    /// Time jumps a schedule may take (see [`super::Model::time_jumps`]);
    /// 0: time moves only when no task can run.
    pub time_jumps: u32,
    /// Rounds each of the system's background jobs runs in a schedule, as
    /// one more task each with a pool connection of its own. Each round
    /// comes a period after the last (the first a period after t = 0): a
    /// timer, so the clients start at t = 0 and the round interleaves with
    /// them wherever a time jump or a stall fires it.
    pub background_runs: u32,
    /// Which responses are liveness violations.
    pub liveness: Liveness,
    /// The store's `deadlock_timeout_ms`: how long a lock wait lasts before
    /// the deadlock check (on the explorer's clock).
    pub deadlock_timeout_ms: u64,
}

impl<S: System> Clone for ServiceScenario<S> {
    fn clone(&self) -> Self {
        ServiceScenario {
            variant: self.variant,
            settings: self.settings.clone(),
            seed: self.seed,
            pool_size: self.pool_size,
            clients: self.clients.clone(),
            connections: self.connections,
            lost_responses_per_client: self.lost_responses_per_client,
            time_jumps: self.time_jumps,
            background_runs: self.background_runs,
            liveness: self.liveness,
            deadlock_timeout_ms: self.deadlock_timeout_ms,
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
    if system.wire_database() {
        // Its driver's connection tasks and its pool's sockets are
        // turmoil's, which the model checker's executor does not run: a
        // schedule would fail on the first connect, a false alarm.
        return Err(InputError::new(format!(
            "{} connects to its database over the wire (System::wire_database), \
             which the model checker does not run yet: use `run` or `fuzz`",
            system.name()
        )));
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
        connections: scenario.explore.connections,
        lost_responses_per_client: u32::from(scenario.faults.lost_response_probability > 0.0),
        time_jumps: scenario.explore.time_jumps,
        background_runs: scenario.explore.background_runs,
        liveness: scenario.liveness,
        deadlock_timeout_ms: scenario.store.deadlock_timeout_ms,
    })
}

/// What one schedule of a service model has seen so far.
pub struct ServiceRun<S: System> {
    checker: S::Checker,
    /// The committed state the checker reads, when it reads it.
    state: Option<CommittedState>,
    env: Arc<LogicalEnv>,
    liveness: Liveness,
    /// Every response received, with its request and the time.
    exchanges: Vec<(S::Request, S::Response, u64)>,
    exchanges_fed: usize,
    violations: Vec<Violation>,
    /// Requests resent after a lost response.
    resends: u32,
    /// Stalled time ([`Store::stalled_ms`]) when each exchange's request
    /// was sent and answered (parallel to `exchanges`).
    stalls_ms: Vec<(u64, u64)>,
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
            let now_ms = self.env.now_ms();
            if let Err(violation) = self.checker.on_commit(&event, now_ms) {
                self.violations.push(violation);
            }
            if let Some(state) = &self.state {
                state.apply(&event, now_ms);
                if let Err(violation) = self.checker.on_state(state, now_ms) {
                    self.violations.push(violation);
                }
            }
        }
        while self.exchanges_fed < self.exchanges.len() {
            let (request, response, now_ms) = &self.exchanges[self.exchanges_fed];
            if let Err(violation) = self.checker.on_response(request, response, *now_ms) {
                self.violations.push(violation);
            }
            // The wait that counts is stalled time: the search's own clock
            // steps are delays it chose, which a correct service may not
            // outlast; a stall is time that had to pass (a deadlock's
            // timeout).
            let (sent, received) = self.stalls_ms[self.exchanges_fed];
            let (status, attempts) = (response.status(), response.attempts());
            if let Some(message) = self.liveness.broken(status, attempts, sent, received) {
                self.violations.push(Violation {
                    invariant: "liveness",
                    message: format!(
                        "{request:?} at {now_ms} ms: {message} (stalled time: nothing else could run)"
                    ),
                });
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
    let settings = Arc::new(scenario.settings.clone());
    let config = StoreConfig {
        record_history: false,
        record_commits: true,
        deadlock_timeout_ms: scenario.deadlock_timeout_ms,
        ..StoreConfig::default()
    };
    // `service_scenario` set up the same store once and reported its
    // error; a deterministic setup cannot fail the second time.
    let template = prepare_store(system, scenario.variant, config, scenario.seed, &dataset)
        .unwrap_or_else(|e| panic!("setting up the database: {e}"));
    let background = system.background_tasks(&scenario.settings);
    let background_names: Vec<String> = if scenario.background_runs == 0 {
        Vec::new()
    } else {
        background
            .iter()
            .map(|task| format!("background {}", task.name))
            .collect()
    };
    let daemon_names = daemon_names(&scenario);
    let (time_jumps, liveness) = (scenario.time_jumps, scenario.liveness);
    let losses = scenario.lost_responses_per_client;
    let schedule = ScheduleSetup {
        system: system.clone(),
        background_jobs: background_names.len(),
        background,
        scenario,
        dataset,
        settings,
    };
    let model = Model::with_state(name, move |store| schedule.start(store))
        .daemons(daemon_names)
        .background(background_names)
        .store(move || {
            // Every schedule starts from a fork of one database set up here
            // (schema, data, and the plans its statements share), not from
            // running the schema script again: the fork is the same database,
            // so the schedules are the same.
            template
                .fork()
                .unwrap_or_else(|e| panic!("forking the database: {e}"))
        })
        .time_jumps(time_jumps);
    with_service_checks(model, system, liveness, sometimes, losses)
}

/// The names of the tasks that need not finish: each client's timed-out
/// original (when responses get lost) and its further connections.
fn daemon_names<S: System>(scenario: &ServiceScenario<S>) -> Vec<String> {
    let senders = scenario.clients.len();
    let mut names: Vec<String> = Vec::new();
    if scenario.lost_responses_per_client > 0 {
        names.extend((0..senders).map(|i| format!("client {i}'s timed-out original")));
    }
    for i in 0..senders {
        names.extend((1..scenario.connections).map(|k| format!("client {i}'s connection {k}")));
    }
    names
}

/// What every schedule of a service model starts from.
struct ScheduleSetup<S: System> {
    system: S,
    scenario: ServiceScenario<S>,
    dataset: Arc<S::Data>,
    settings: Arc<S::Settings>,
    background: Vec<BackgroundTask>,
    /// The background jobs run (none when `background_runs` is 0).
    background_jobs: usize,
}

impl<S: System> ScheduleSetup<S> {
    /// One schedule's server on `store`, its run state, and its tasks:
    /// the clients, the background jobs and the daemons.
    fn start(&self, store: &Store) -> (ServiceState<S>, Vec<Client>) {
        let scenario = &self.scenario;
        let senders = scenario.clients.len();
        let further_connections = senders * scenario.connections.saturating_sub(1) as usize;
        let env = Arc::new(LogicalEnv::new(store.clone()));
        // Timed-out originals run beside their resends, and background
        // jobs beside the requests, on connections of their own (an API
        // host's jobs do not queue behind its requests for a connection).
        let requests = if scenario.lost_responses_per_client > 0 {
            2 * senders
        } else {
            senders
        };
        let tasks = requests + self.background_jobs + further_connections;
        let pool = Pool::new(store.clone(), scenario.pool_size + tasks - senders, tasks);
        let api = Rc::new(<S::Server as FromContext<S>>::from_context(ServerContext {
            index: 0,
            pool: pool.clone(),
            database: pool.into(),
            env: env.clone(),
            variant: scenario.variant,
            data: self.dataset.clone(),
            settings: self.settings.clone(),
            rng: std::sync::Mutex::new(scenario.seed.stream_indexed("api", 0)),
            retries: Default::default(),
        }));
        let run = Rc::new(RefCell::new(ServiceRun::<S> {
            checker: self.system.checker(self.dataset.clone(), &self.settings),
            // The store is fresh: the copy starts from the data set.
            state: <S::Checker as Invariants<S>>::READS_STATE.then(|| {
                CommittedState::of(&self.system, scenario.variant, store)
                    .unwrap_or_else(|e| panic!("setting up the committed state: {e}"))
            }),
            env: env.clone(),
            liveness: scenario.liveness,
            exchanges: Vec::new(),
            exchanges_fed: 0,
            violations: Vec::new(),
            resends: 0,
            stalls_ms: Vec::new(),
        }));
        let calls = Rc::new(ModelCalls {
            store: store.clone(),
            run: run.clone(),
        });
        let ClientTasks {
            mut clients,
            daemons,
        } = client_tasks(
            &self.system,
            scenario,
            (self.dataset.clone(), self.settings.clone()),
            env.clone(),
            api.clone(),
            calls,
        );
        let background_runs = scenario.background_runs;
        if background_runs > 0 {
            // Each background job is a task of its own that ends after its
            // rounds, so every schedule runs them all; when they run
            // against the clients is the search's choice. Its sleeps are
            // timers: the clients start at t = 0, before its first period
            // passes, and a time jump or a stall fires each round.
            for task in self.background.iter().copied() {
                let (api, env) = (api.clone(), env.clone());
                clients.push(Box::pin(async move {
                    for _ in 0..background_runs {
                        env.sleep_ms(task.period_ms).await;
                        S::run_background(&api, task).await;
                    }
                }));
            }
        }
        clients.extend(daemons.into_iter().map(|(_, daemon)| daemon));
        (run, clients)
    }
}

/// Adds what a service model checks: the system's invariants (and
/// liveness, when the scenario bounds it) after every step, the committed
/// state and the checker's end check at the end, and the conditions some
/// schedule must reach.
fn with_service_checks<S: System>(
    mut model: Model<ServiceState<S>>,
    system: &S,
    liveness: Liveness,
    sometimes: Vec<Sometimes<S>>,
    losses: u32,
) -> Model<ServiceState<S>> {
    let liveness_checked =
        (liveness.retries_exhausted || liveness.answer_ms_max().is_some()).then_some("liveness");
    for invariant in system
        .invariants()
        .iter()
        .map(|info| info.name)
        .chain(liveness_checked)
    {
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
        let run = &mut *run;
        if let Some(state) = &run.state {
            run.checker
                .on_state(state, now_ms)
                .map_err(|v| v.to_string())?;
        }
        run.checker.at_end(store, now_ms).map_err(|v| v.to_string())
    });
    for condition in sometimes {
        let reached = condition.reached;
        model = model.sometimes(condition.name, move |_, state: &ServiceState<S>| {
            reached(&state.borrow().exchanges)
        });
    }
    if losses > 0 {
        model = model.sometimes("a lost response resent", |_, state: &ServiceState<S>| {
            state.borrow().resends > 0
        });
    }
    model
}
