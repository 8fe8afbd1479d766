//! The simulated world: a turmoil simulation built from a scenario and a
//! seed, with API servers, client hosts carrying many virtual users as
//! tasks, one shared simulated database, scheduled faults, and invariants
//! checked after every step.
//!
//! The world is generic over the [`System`] under test: it builds the
//! service's schema and data, runs its servers on API hosts and its virtual
//! users on client hosts, and feeds its invariants.
//!
//! ```no_run
//! use overbook::{scenario::Scenario, seed::Seed, system::{System, Variant}, world};
//!
//! /// One run of `service` (the bundled clinic, yours) on a sim and seed.
//! fn passes<S: System>(service: &S) -> bool {
//!     let scenario = Scenario::load_for(service, "sims/units-contention.toml".as_ref()).unwrap();
//!     let report = world::run(service, &scenario, Seed(1), Variant::CORRECT);
//!     report.passed
//! }
//! ```
//!
//! The [`System`] docs run a whole small service in the world.

mod faults;
mod history;
mod net;
mod report;
mod seeds;

#[cfg(feature = "postgres")]
pub use net::serve_pgwire;
pub use net::{api_host, client_host, API_PORT};

/// The database host's name, when the service serves its database on the
/// wire ([`System::wire_database`]); a fault may name it (`db`).
pub const DB_HOST: &str = "db";
pub use report::{
    HistoryFinding, HistoryReport, Report, RequestsReport, RetriesReport, TraceEvent, UsersReport,
    ViolationReport,
};
pub use seeds::{run_seeds, seeds_from_env};

use crate::metrics::{evaluate_thresholds, Metrics, SeriesRecorder, STATUS_NO_RESPONSE};
use crate::scenario::{LinkFault, Scenario};
use crate::seed::{Seed, TraceHasher};
use crate::store::{
    CommitEvent, CommittedTx, Pacer, PauseFuture, PausePoint, Pool, ReadRecord, Store,
};
use crate::system::{
    prepare_store, BackgroundTask, CallError, CatchPanic, CommittedState, Env, Exchange,
    FromContext, Invariants, Message, Observations, Observer, Reply, ServerContext, System,
    UserContext, UserEvent, Variant,
};
use crate::workload::{arrival_times_ms, jittered_arrival_times_ms};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How many recent events a violation report carries.
pub const RECENT_EVENTS: usize = 40;

/// Time and sleep for code running inside a turmoil host.
struct SimEnv;

impl Env for SimEnv {
    fn now_ms(&self) -> u64 {
        turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }
}

/// Statement latency as simulated time on the host running the statement.
struct SimPacer;

impl Pacer for SimPacer {
    /// The statement's latency, plus on an API host its pause and spike
    /// faults, if any.
    fn pause(&self, point: &PausePoint) -> PauseFuture {
        let extra_ms = faults::HOST
            .try_with(|host| {
                host.note_store_spike(point);
                host.extra_delay_ms(point)
            })
            .unwrap_or(0);
        let wait_ms = point.latency_ms + extra_ms;
        if wait_ms == 0 {
            Box::pin(std::future::ready(()))
        } else {
            Box::pin(tokio::time::sleep(Duration::from_millis(wait_ms)))
        }
    }

    fn sleep(&self, ms: u64) -> PauseFuture {
        SimEnv.sleep_ms(ms)
    }

    fn now_ms(&self) -> u64 {
        SimEnv.now_ms()
    }
}

/// A fault action at a point in simulated time.
#[derive(Clone, Debug)]
enum FaultAction {
    Partition(LinkFault),
    Repair(LinkFault),
    Hold(LinkFault),
    Release(LinkFault),
    Crash(u32),
    Bounce(u32),
}

impl FaultAction {
    fn describe(&self) -> String {
        match self {
            FaultAction::Partition(l) => format!("partition {} <-> {}", l.a, l.b),
            FaultAction::Repair(l) => format!("repair {} <-> {}", l.a, l.b),
            FaultAction::Hold(l) => format!("hold {} <-> {}", l.a, l.b),
            FaultAction::Release(l) => format!("release {} <-> {}", l.a, l.b),
            FaultAction::Crash(server) => format!("crash {}", api_host(*server)),
            FaultAction::Bounce(server) => format!("restart {}", api_host(*server)),
        }
    }
}

fn fault_schedule(scenario: &Scenario) -> VecDeque<(u64, FaultAction)> {
    let mut schedule: Vec<(u64, usize, FaultAction)> = Vec::new();
    let mut order = 0usize;
    let mut push =
        |at_ms: u64, action: FaultAction, schedule: &mut Vec<(u64, usize, FaultAction)>| {
            schedule.push((at_ms, order, action));
            order += 1;
        };
    for link in &scenario.faults.partitions {
        push(
            link.at_s * 1000,
            FaultAction::Partition(link.clone()),
            &mut schedule,
        );
        push(
            (link.at_s + link.duration_s) * 1000,
            FaultAction::Repair(link.clone()),
            &mut schedule,
        );
    }
    for link in &scenario.faults.holds {
        push(
            link.at_s * 1000,
            FaultAction::Hold(link.clone()),
            &mut schedule,
        );
        push(
            (link.at_s + link.duration_s) * 1000,
            FaultAction::Release(link.clone()),
            &mut schedule,
        );
    }
    for crash in &scenario.faults.crashes {
        push(
            crash.at_s * 1000,
            FaultAction::Crash(crash.server),
            &mut schedule,
        );
        push(
            (crash.at_s + crash.down_s) * 1000,
            FaultAction::Bounce(crash.server),
            &mut schedule,
        );
    }
    schedule.sort_by_key(|(at, order, _)| (*at, *order));
    schedule
        .into_iter()
        .map(|(at, _, action)| (at, action))
        .collect()
}

/// Host names a fault side names: an exact name or a `prefix*` glob.
fn expand_hosts(pattern: &str, scenario: &Scenario, db_host: bool) -> Vec<String> {
    // `db` is there only when the service serves its database on the
    // wire; naming it otherwise matches no host, as an unknown name does
    // (turmoil would panic on a partition of a host it does not have).
    let all: Vec<String> = (0..scenario.topology.api_servers)
        .map(api_host)
        .chain((0..scenario.topology.client_hosts).map(client_host))
        .chain(db_host.then(|| DB_HOST.to_string()))
        .collect();
    match pattern.strip_suffix('*') {
        Some(prefix) => all.into_iter().filter(|h| h.starts_with(prefix)).collect(),
        None => all.into_iter().filter(|h| h == pattern).collect(),
    }
}

/// An event kept for the violation report and the trace hash.
#[derive(Clone, Debug)]
enum Event<S: System> {
    Exchange(Box<Exchange<S>>),
    Commit {
        tx: u64,
        seq: u64,
        keys: Vec<String>,
    },
    Fault {
        at_ms: u64,
        what: String,
    },
    Background(net::BackgroundRun),
    Cancelled(net::Cancelled),
}

impl<S: System> Event<S> {
    fn describe(&self) -> String {
        match self {
            Event::Exchange(e) => {
                let outcome = match &e.response {
                    Ok(r) => format!(
                        "{} {}",
                        r.status(),
                        serde_json::to_string(r).unwrap_or_default()
                    ),
                    Err(CallError::Timeout) => "timeout".to_string(),
                    Err(CallError::ConnectionLost) => "connection lost".to_string(),
                };
                format!(
                    "[{} ms] client {} {} {} -> {}",
                    e.received_ms,
                    e.client,
                    e.request.operation(),
                    serde_json::to_string(&e.request).unwrap_or_default(),
                    outcome
                )
            }
            Event::Commit { tx, seq, keys } => {
                format!("commit T{tx} (#{seq}) wrote {}", keys.join(", "))
            }
            Event::Fault { at_ms, what } => format!("[{at_ms} ms] fault: {what}"),
            Event::Background(run) => format!(
                "[{} ms] api-{} ran background job {}",
                run.at_ms, run.server, run.task
            ),
            Event::Cancelled(c) => format!(
                "[{} ms] api-{} cancelled a {} handler: its client closed the connection",
                c.at_ms, c.server, c.op
            ),
        }
    }
}

/// How to run, beyond the scenario, seed and variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep every event (requests, responses, committed transactions with
    /// the versions they read and wrote, faults) in [`Report::trace`].
    pub trace: bool,
}

fn trace_event<S: System>(event: &Event<S>) -> Option<TraceEvent> {
    match event {
        Event::Exchange(e) => {
            let (status, response, attempts) = match &e.response {
                Ok(r) => (
                    Some(r.status()),
                    serde_json::to_string(r).unwrap_or_default(),
                    r.attempts(),
                ),
                Err(CallError::Timeout) => (None, "timeout".to_string(), 0),
                Err(CallError::ConnectionLost) => (None, "connection lost".to_string(), 0),
            };
            Some(TraceEvent::Request {
                client: e.client,
                request_id: e.request_id,
                op: e.request.operation().to_string(),
                request: serde_json::to_string(&e.request).unwrap_or_default(),
                sent_ms: e.sent_ms,
                received_ms: e.received_ms,
                status,
                response,
                attempts,
                idempotency_key: e.request.idempotency_key().map(str::to_string),
            })
        }
        // Transactions are traced from the history record, which has the
        // versions read.
        Event::Commit { .. } => None,
        Event::Fault { at_ms, what } => Some(TraceEvent::Fault {
            at_ms: *at_ms,
            what: what.clone(),
        }),
        Event::Background(run) => Some(TraceEvent::Background {
            at_ms: run.at_ms,
            server: run.server,
            task: run.task.to_string(),
        }),
        Event::Cancelled(c) => Some(TraceEvent::Fault {
            at_ms: c.at_ms,
            what: format!(
                "api-{} cancelled a {} handler (client gone)",
                c.server, c.op
            ),
        }),
    }
}

fn describe_read(read: &ReadRecord) -> String {
    let version = |v: Option<u64>| v.map_or("unborn".to_string(), |w| format!("T{w}"));
    match read {
        ReadRecord::Item { key, version: v } => format!("{key}@{}", version(*v)),
        ReadRecord::Predicate { range, observed } => format!(
            "scan[{}..{}){{{}}}",
            range.start,
            range.end,
            observed
                .iter()
                .map(|(k, w)| format!("{k}@T{w}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs `scenario` with `seed` against `variant` of `system`, to the end or
/// to the first violation. A scenario whose service sections do not parse
/// (see [`Scenario::load_for`]) gives a failed report with the error.
pub fn run<S: System>(system: &S, scenario: &Scenario, seed: Seed, variant: Variant) -> Report {
    run_with(system, scenario, seed, variant, RunOptions::default())
}

/// [`run`] with options.
pub fn run_with<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
) -> Report {
    run_with_progress(system, scenario, seed, variant, options, &mut |_| {})
}

/// The database of a run as the run left it: see [`run_and_keep`].
#[derive(Clone, Debug)]
pub struct KeptDatabase {
    /// The run's store: its committed state as of the step the run
    /// stopped at. The transactions open then have rolled back (they
    /// ended with the simulation), and its pacer is still the
    /// simulation's: install another before running statements outside
    /// it.
    pub store: Store,
    /// Who held and waited for what at that step, taken before the open
    /// transactions ended.
    pub activity: crate::store::activity::Activity,
    /// The simulated time of that step.
    pub sim_time_ms: u64,
}

/// [`run_with`], also giving back the database as it stood at the step
/// the run stopped at (the first violation, or the end), to look inside
/// a failure (`overbook replay --inspect`). The run is the same as
/// [`run_with`]'s, step for step and hash for hash: the database is only
/// read once the run is over. `None` when the run could not start (the
/// report says why).
pub fn run_and_keep<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
) -> (Report, Option<KeptDatabase>) {
    match World::start(system, scenario, seed, variant, options) {
        Ok(world) => {
            let (report, kept) = world.run_and_keep(&mut |_| {});
            (report, Some(kept))
        }
        Err(not_started) => (*not_started, None),
    }
}

/// How far a run has got, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunProgress {
    /// Simulated time so far.
    pub sim_ms: u64,
    /// Simulated time at which the run ends at the latest (last arrival
    /// plus the drain).
    pub sim_ms_limit: u64,
    /// turmoil steps so far.
    pub steps: u64,
}

/// Steps between progress calls when simulated time crawls.
const PROGRESS_STEPS: u64 = 1024;

/// [`run_with`], calling `progress` whenever another simulated second has
/// passed or another 1024 steps were taken. The callback only
/// watches: the run and its trace hash are the same with or without it.
pub fn run_with_progress<S: System>(
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    variant: Variant,
    options: RunOptions,
    progress: &mut dyn FnMut(RunProgress),
) -> Report {
    match World::start(system, scenario, seed, variant, options) {
        Ok(world) => world.run(progress),
        Err(not_started) => *not_started,
    }
}

/// One simulation in progress.
struct World<'a, S: System> {
    scenario: &'a Scenario,
    seed: Seed,
    variant: Variant,
    sim: turmoil::Sim<'a>,
    store: Store,
    checker: S::Checker,
    /// The committed state the checker reads, when it reads it.
    state: Option<CommittedState>,
    panics: net::Panics,
    background_runs: net::BackgroundRuns,
    handlers: net::HandlerLog<S>,
    /// How long a handler may run ([`crate::scenario::Liveness::handler_ms_max`]).
    handler_ms_max: Option<u64>,
    /// The default bound (no `request_ms_max` in the scenario) holds only
    /// while no transaction ends: a stall, not a long queue.
    handler_bound_needs_stall: bool,
    /// When a transaction last committed.
    /// When a transaction last ended (committed or rolled back): the
    /// service's last progress, for the default handler bound. A 40001
    /// storm of Serializable retries commits little for a while, yet
    /// every round ends transactions; a deadlock through the handlers, or
    /// a pool they drained, ends none.
    last_progress_ms: u64,
    /// Transactions ended so far (the store's committed + aborted).
    transactions_ended: u64,
    /// Deadlocks the store has broken so far, and when the recent ones
    /// were (within twice `deadlock_timeout_ms`), for the storm bound
    /// ([`crate::scenario::Liveness::deadlocks_max`]).
    deadlocks_seen: u64,
    recent_deadlocks_ms: VecDeque<u64>,
    metrics: Metrics,
    series: SeriesRecorder,
    observer: Observer<S>,
    hasher: TraceHasher,
    injected: faults::InjectedLog,
    /// Pauses and spikes so far, `(start, end)` in ms.
    stalls: Vec<(u64, u64)>,
    /// When requests were in flight, for how far back a stall's backlog
    /// reaches (kept when the scenario bounds a request's time).
    busy: faults::BusyStretches,
    recent: VecDeque<Event<S>>,
    live_users: BTreeMap<u32, u64>,
    faults_applied: Vec<String>,
    skipped_users: Rc<Cell<u64>>,
    steps: u64,
    invariant_checks: u64,
    options: RunOptions,
    trace: Vec<TraceEvent>,
    history: Option<history::HistoryWatch>,
    /// Whether the run has a database host ([`System::wire_database`]).
    db_host: bool,
}

/// The turmoil simulation a run steps: its random stream, the fixed epoch
/// its clocks start at, its tick and the scenario's network.
fn build_sim<'a>(scenario: &Scenario, seed: Seed) -> turmoil::Sim<'a> {
    let tick_ms = scenario.run.tick_ms;
    let limit_ms = scenario.arrivals_end_ms() + scenario.run.drain_s * 1000;
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed.derive("turmoil").0)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .tick_duration(Duration::from_millis(tick_ms))
        // turmoil's own limit is a backstop; the world reports liveness first.
        .simulation_duration(Duration::from_millis(limit_ms + 10 * tick_ms + 60_000))
        .min_message_latency(Duration::from_millis(
            scenario.topology.network_latency_ms_min,
        ))
        .max_message_latency(Duration::from_millis(
            scenario.topology.network_latency_ms_max,
        ))
        .tcp_capacity(scenario.topology.tcp_capacity as usize);
    builder.build()
}

/// What the API hosts of a run share: one store, the data and settings,
/// the background jobs each runs, and the logs the world reads.
struct ApiHosts<S: System> {
    store: Store,
    dataset: Arc<S::Data>,
    settings: Arc<S::Settings>,
    background: Vec<BackgroundTask>,
    background_runs: net::BackgroundRuns,
    panics: net::Panics,
    handlers: net::HandlerLog<S>,
    injected: faults::InjectedLog,
    buggify: Arc<faults::Buggify>,
}

impl<S: System> ApiHosts<S> {
    /// Adds the scenario's API servers to `sim`, each with its clock skew
    /// drawn (and listed among the injected faults when clock faults are on).
    fn add_to(self, sim: &mut turmoil::Sim<'_>, scenario: &Scenario, seed: Seed, variant: Variant) {
        for server in 0..scenario.topology.api_servers {
            let clock = faults::HostClock::draw(&scenario.faults.clock, seed, server);
            if scenario.faults.clock.is_on() {
                self.injected
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(faults::Injected {
                        at_ms: 0,
                        what: clock.describe(server),
                        listed: true,
                        stall_ms: 0,
                    });
            }
            self.add_host(sim, scenario, seed, variant, server, clock);
        }
    }

    /// Adds API server `server`. Each start of the host (the first, and
    /// each restart after a crash) builds a new process from the shared
    /// parts.
    fn add_host(
        &self,
        sim: &mut turmoil::Sim<'_>,
        scenario: &Scenario,
        seed: Seed,
        variant: Variant,
        server: u32,
        clock: faults::HostClock,
    ) {
        let (buggify, injected) = (self.buggify.clone(), self.injected.clone());
        let (pause, spike) = (scenario.faults.pause, scenario.faults.spike);
        let panics = self.panics.clone();
        let background = self.background.clone();
        let background_runs = self.background_runs.clone();
        let handlers = self.handlers.clone();
        let store = self.store.clone();
        let dataset = self.dataset.clone();
        let settings = self.settings.clone();
        let topology = scenario.topology;
        let lost = scenario.faults.lost_response_probability;
        let starts = Rc::new(Cell::new(0u64));
        sim.host(api_host(server), move || {
            // A restart is a new process: new pool, new in-memory state,
            // and a fresh random stream so it does not replay the old one.
            let start = starts.get();
            starts.set(start + 1);
            let pool = Pool::new(
                store.clone(),
                topology.pool_size as usize,
                topology.pool_max_waiting as usize,
            );
            let incarnation = u64::from(server) * 1_000_003 + start;
            let api_rng = seed.stream_indexed("api", incarnation);
            let fire_rng = seed.stream_indexed("buggify-fire", incarnation);
            let env = faults::HostEnv::new(server, clock, buggify.clone(), fire_rng);
            let host = Rc::new(faults::HostFaults::new(
                server,
                pause,
                spike,
                seed.stream_indexed("host-faults", incarnation),
                injected.clone(),
            ));
            let api = Arc::new(<S::Server as FromContext<S>>::from_context(ServerContext {
                index: server,
                database: pool.clone().into(),
                pool,
                env: Arc::new(env),
                variant,
                data: dataset.clone(),
                settings: settings.clone(),
                rng: Mutex::new(api_rng),
                retries: Default::default(),
            }));
            let net_rng = Rc::new(RefCell::new(
                seed.stream_indexed("lost-response", u64::from(server) * 1_000_003 + start),
            ));
            let (background, runs, panics) =
                (background.clone(), background_runs.clone(), panics.clone());
            let handlers = handlers.clone();
            async move {
                // Spawned inside the host's runtime, so a crash ends them.
                for task in background {
                    let (api, runs, panics) = (api.clone(), runs.clone(), panics.clone());
                    net::spawn_background::<S>(api, task, server, runs, panics, host.clone());
                }
                net::serve::<S>(api, server, lost, net_rng, panics, host, handlers).await
            }
        });
    }
}

/// Adds the database host ([`crate::pg::HOST`]), serving the run's store
/// on PostgreSQL's wire protocol to the service's own driver. It never
/// crashes: the database's own faults are the store's (injected 40001s,
/// latency), and the network's reach it through partitions of `db`.
#[cfg(feature = "postgres")]
fn add_database_host(
    sim: &mut turmoil::Sim<'_>,
    store: &Store,
) -> Result<(), crate::store::DbError> {
    let db = crate::sql::SqlDb::attach(store);
    sim.host(crate::pg::HOST, move || {
        let db = db.clone();
        async move {
            net::serve_pgwire(db, &format!("0.0.0.0:{}", crate::pg::PORT)).await?;
            Ok(())
        }
    });
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn add_database_host(_: &mut turmoil::Sim<'_>, _: &Store) -> Result<(), crate::store::DbError> {
    Err(crate::store::DbError::new(
        crate::store::SqlState::FeatureNotSupported,
        "the service serves its database on the wire (System::wire_database), \
         which needs overbook's `postgres` feature",
    ))
}

/// Adds the client hosts to `sim`: the virtual users' arrivals dealt
/// round-robin over them (only `run.only_users` when it names some).
/// Returns the count of users turned away by a phase's `max_users`.
#[allow(clippy::too_many_arguments)]
fn add_client_hosts<S: System>(
    sim: &mut turmoil::Sim<'_>,
    system: &S,
    scenario: &Scenario,
    seed: Seed,
    dataset: Arc<S::Data>,
    settings: Arc<S::Settings>,
    observer: &Observer<S>,
    panics: &net::Panics,
) -> Rc<Cell<u64>> {
    let env: Arc<dyn Env> = Arc::new(SimEnv);
    let arrivals = match scenario.run.arrival_jitter {
        Some(jitter) if jitter > 0.0 => jittered_arrival_times_ms(&scenario.phases, jitter, seed),
        _ => arrival_times_ms(&scenario.phases),
    };
    let max_users = scenario.phases.iter().filter_map(|p| p.max_users).min();
    let skipped_users = Rc::new(Cell::new(0u64));
    let alive = Rc::new(Cell::new(0u32));
    let hosts = scenario.topology.client_hosts;
    let mut only_users = scenario.run.only_users.clone();
    only_users.sort_unstable();
    for host in 0..hosts {
        let mine: Vec<(u32, u64)> = arrivals
            .iter()
            .enumerate()
            .filter(|(index, _)| *index as u32 % hosts == host)
            .filter(|(index, _)| {
                only_users.is_empty() || only_users.binary_search(&(*index as u32)).is_ok()
            })
            .map(|(index, &at)| (index as u32, at))
            .collect();
        let env = env.clone();
        let dataset = dataset.clone();
        let settings = settings.clone();
        let system = system.clone();
        let policy = scenario.client;
        let observer = observer.clone();
        let servers = scenario.topology.api_servers;
        let skipped = skipped_users.clone();
        let alive = alive.clone();
        let panics = panics.clone();
        let flow = scenario.flow.clone().map(Arc::new);
        sim.client(client_host(host), async move {
            let mut tasks = Vec::with_capacity(mine.len());
            for (index, at_ms) in mine {
                let now = env.now_ms();
                if at_ms > now {
                    tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
                }
                if max_users.is_some_and(|cap| alive.get() >= cap) {
                    skipped.set(skipped.get() + 1);
                    continue;
                }
                alive.set(alive.get() + 1);
                let user = UserContext::new(
                    index,
                    seed.stream_indexed("user", u64::from(index)),
                    dataset.clone(),
                    settings.clone(),
                    policy,
                    env.clone(),
                    Box::new(net::TcpTransport::<S>::new(index, servers)),
                    observer.clone(),
                )
                .with_flow(flow.clone());
                let task = run_virtual_user(
                    system.clone(),
                    user,
                    index,
                    observer.clone(),
                    panics.clone(),
                    alive.clone(),
                );
                tasks.push(tokio::task::spawn_local(task));
            }
            for task in tasks {
                // A user task only ends by finishing (its panics are
                // caught in `run_virtual_user`); anything else is a harness bug and
                // surfaces as a failed host.
                task.await
                    .map_err(|err| format!("user task failed: {err}"))?;
            }
            Ok(())
        });
    }
    skipped_users
}

/// One virtual user's task: its start and finish observed, a panic
/// recorded as the run's, and its place among the live users given back.
async fn run_virtual_user<S: System>(
    system: S,
    user: UserContext<S>,
    index: u32,
    observer: Observer<S>,
    panics: net::Panics,
    alive: Rc<Cell<u32>>,
) {
    let event = |event: UserEvent| {
        observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .push(event);
    };
    event(UserEvent::Started { user: index });
    if let Err(message) = CatchPanic::new(system.user(user)).await {
        panics
            .borrow_mut()
            .push(format!("virtual user {index} panicked: {message}"));
    }
    event(UserEvent::Finished { user: index });
    alive.set(alive.get() - 1);
}

impl<'a, S: System> World<'a, S> {
    /// The world of `scenario`'s settings for `system`, or the report of
    /// a run that could not start: settings the service refuses, or a SQL
    /// schema the simulated engine does not support (the error names the
    /// statement).
    fn start(
        system: &S,
        scenario: &'a Scenario,
        seed: Seed,
        variant: Variant,
        options: RunOptions,
    ) -> Result<World<'a, S>, Box<Report>> {
        let not_started =
            |why: String| Box::new(Report::not_started(scenario, seed, variant.name(), why));
        let settings = scenario
            .settings(system)
            .map_err(|err| not_started(err.to_string()))?;
        World::new(system, scenario, settings, seed, variant, options)
            .map_err(|err| not_started(format!("setting up the database: {err}")))
    }

    fn new(
        system: &S,
        scenario: &'a Scenario,
        settings: S::Settings,
        seed: Seed,
        variant: Variant,
        options: RunOptions,
    ) -> Result<World<'a, S>, crate::store::DbError> {
        let mut sim = build_sim(scenario, seed);
        let mut store_config = scenario.store;
        store_config.record_commits = true;
        // The trace shows each transaction's reads and writes with versions,
        // which only the history record has.
        store_config.record_history = scenario.run.check_history || options.trace;
        let dataset = Arc::new(system.data(&settings, seed));
        let store = prepare_store(system, variant, store_config, seed, &dataset)?;
        store.set_pacer(Arc::new(SimPacer));
        let checker = system.checker(dataset.clone(), &settings);
        let state = <S::Checker as Invariants<S>>::READS_STATE
            .then(|| CommittedState::of(system, variant, &store))
            .transpose()?;
        let settings = Arc::new(settings);
        let observer: Observer<S> = Arc::new(Mutex::new(Observations::default()));
        let panics: net::Panics = Rc::default();
        let background_runs: net::BackgroundRuns = Rc::default();
        let handlers: net::HandlerLog<S> = Rc::default();
        let background = system.background_tasks(&settings);
        let injected: faults::InjectedLog = Arc::default();
        let buggify = Arc::new(faults::Buggify::new(
            scenario.faults.buggify,
            seed,
            injected.clone(),
        ));
        let api = ApiHosts::<S> {
            store: store.clone(),
            dataset: dataset.clone(),
            settings: settings.clone(),
            background,
            background_runs: background_runs.clone(),
            panics: panics.clone(),
            handlers: handlers.clone(),
            injected: injected.clone(),
            buggify,
        };
        api.add_to(&mut sim, scenario, seed, variant);
        if system.wire_database() {
            add_database_host(&mut sim, &store)?;
        }
        let skipped_users = add_client_hosts(
            &mut sim, system, scenario, seed, dataset, settings, &observer, &panics,
        );
        Ok(World {
            scenario,
            seed,
            variant,
            sim,
            store,
            checker,
            state,
            panics,
            background_runs,
            handlers,
            handler_ms_max: scenario
                .liveness
                .handler_ms_max(scenario.store.deadlock_timeout_ms),
            handler_bound_needs_stall: scenario.liveness.request_ms_max.is_none(),
            last_progress_ms: 0,
            transactions_ended: 0,
            deadlocks_seen: 0,
            recent_deadlocks_ms: VecDeque::new(),
            metrics: Metrics::new(),
            series: SeriesRecorder::new(scenario.run.tick_ms),
            observer,
            hasher: TraceHasher::default(),
            injected,
            stalls: Vec::new(),
            busy: faults::BusyStretches::default(),
            recent: VecDeque::with_capacity(RECENT_EVENTS + 1),
            live_users: BTreeMap::new(),
            faults_applied: Vec::new(),
            skipped_users,
            steps: 0,
            invariant_checks: 0,
            options,
            trace: Vec::new(),
            history: history::HistoryWatch::new(&scenario.run),
            db_host: system.wire_database(),
        })
    }

    fn remember(&mut self, event: Event<S>) {
        if self.options.trace {
            if let Some(traced) = trace_event(&event) {
                self.trace.push(traced);
            }
        }
        if self.recent.len() == RECENT_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    fn now_ms(&self) -> u64 {
        self.sim.elapsed().as_millis() as u64
    }

    fn apply_faults(&mut self, schedule: &mut VecDeque<(u64, FaultAction)>) {
        let now = self.now_ms();
        while schedule.front().is_some_and(|(at, _)| *at <= now) {
            let (at_ms, action) = schedule.pop_front().expect("checked non-empty");
            match &action {
                FaultAction::Partition(l)
                | FaultAction::Repair(l)
                | FaultAction::Hold(l)
                | FaultAction::Release(l) => {
                    for a in expand_hosts(&l.a, self.scenario, self.db_host) {
                        for b in expand_hosts(&l.b, self.scenario, self.db_host) {
                            if a == b {
                                continue;
                            }
                            match &action {
                                FaultAction::Partition(_) => {
                                    self.sim.partition(a.as_str(), b.as_str())
                                }
                                FaultAction::Repair(_) => self.sim.repair(a.as_str(), b.as_str()),
                                FaultAction::Hold(_) => self.sim.hold(a.as_str(), b.as_str()),
                                _ => self.sim.release(a.as_str(), b.as_str()),
                            }
                        }
                    }
                }
                FaultAction::Crash(server) => self.sim.crash(api_host(*server)),
                FaultAction::Bounce(server) => self.sim.bounce(api_host(*server)),
            }
            let what = action.describe();
            self.hasher.write_str(&what);
            self.hasher.write_u64(at_ms);
            self.faults_applied.push(format!("{at_ms} ms: {what}"));
            self.series.fault(at_ms, &what);
            self.remember(Event::Fault { at_ms, what });
        }
    }

    /// Feeds what happened in the last step to the checker, metrics and
    /// trace hash. Commits go first: a response is only sent after its
    /// transaction committed.
    fn observe(&mut self) -> Option<crate::system::Violation> {
        let commits: Vec<CommitEvent> = self.store.drain_commits();
        // Taken out of the store, so that its record stays as small as
        // the checker's window in long runs.
        let committed = if self.history.is_some() || self.options.trace {
            self.store.take_history()
        } else {
            Vec::new()
        };
        if self.options.trace {
            self.trace_transactions(&committed);
        }
        let mut violation = None;
        let now_ms = self.now_ms();
        let stats = self.store.stats();
        let ended = stats.committed + stats.aborted;
        if ended != self.transactions_ended {
            self.transactions_ended = ended;
            self.last_progress_ms = now_ms;
        }
        let deadlocks_over_bound = self.deadlocks_over_bound(stats.deadlocks, now_ms);
        for commit in &commits {
            self.observe_commit(commit, now_ms, &mut violation);
        }
        self.observe_injected_faults();
        self.observe_background_runs_and_cancels();
        let observations =
            std::mem::take(&mut *self.observer.lock().unwrap_or_else(|e| e.into_inner()));
        self.metrics.client_retries += observations.client_retries;
        let now_ms = self.now_ms();
        self.series.store(now_ms, self.store.stats());
        self.observe_users(observations.users, observations.client_retries, now_ms);
        for exchange in observations.exchanges {
            self.observe_exchange(exchange, &mut violation);
        }
        for (request, unanswered) in observations.unanswered {
            if violation.is_none() && self.scenario.run.check_every_step {
                self.invariant_checks += 1;
                if let Err(v) = self.checker.on_unanswered(&request, &unanswered, now_ms) {
                    violation = Some(v);
                }
            }
        }
        if violation.is_none() {
            violation = deadlocks_over_bound.or_else(|| self.handler_overdue());
        }
        let history = self.observe_history(committed, false);
        violation.or(history)
    }

    /// Adds the transactions just committed to the trace, with what each
    /// read and wrote (transaction 0, the data load, left out).
    fn trace_transactions(&mut self, committed: &[CommittedTx]) {
        let now = self.now_ms();
        for tx in committed {
            if tx.id == 0 {
                continue;
            }
            self.trace.push(TraceEvent::Transaction {
                at_ms: now,
                tx: tx.id,
                commit_seq: tx.commit_seq,
                isolation: tx.isolation.name().to_string(),
                reads: tx.reads.iter().map(describe_read).collect(),
                writes: tx
                    .writes
                    .iter()
                    .map(|w| {
                        if w.deleted {
                            format!("{} (deleted)", w.key)
                        } else {
                            w.key.to_string()
                        }
                    })
                    .collect(),
            });
        }
    }

    /// Hashes and remembers one commit, applies it to the committed state,
    /// and checks the invariants on it unless a violation is already found.
    fn observe_commit(
        &mut self,
        commit: &CommitEvent,
        now_ms: u64,
        violation: &mut Option<crate::system::Violation>,
    ) {
        self.hasher.write_u64(commit.tx);
        self.hasher.write_u64(commit.commit_seq);
        for (key, after, _) in &commit.writes {
            self.hasher.write_str(key.as_str());
            self.hasher.write(&[u8::from(after.is_some())]);
        }
        self.remember(Event::Commit {
            tx: commit.tx,
            seq: commit.commit_seq,
            keys: commit
                .writes
                .iter()
                .map(|(k, _, _)| k.to_string())
                .collect(),
        });
        if let Some(state) = &self.state {
            state.apply(commit, now_ms);
        }
        if violation.is_none() && self.scenario.run.check_every_step {
            self.invariant_checks += 1;
            if let Err(v) = Invariants::on_commit(&mut self.checker, commit, now_ms) {
                *violation = Some(v);
            } else if let Some(state) = &self.state {
                *violation = self.checker.on_state(state, now_ms).err();
            }
        }
    }

    /// Takes the faults the hosts injected in the last step: their stalls
    /// for the liveness bound, the listed ones for the report.
    fn observe_injected_faults(&mut self) {
        let injected: Vec<faults::Injected> =
            std::mem::take(&mut *self.injected.lock().unwrap_or_else(|e| e.into_inner()));
        for fault in injected {
            if fault.stall_ms > 0 {
                self.stalls
                    .push((fault.at_ms, fault.at_ms + fault.stall_ms));
            }
            self.hasher.write_str(&fault.what);
            self.hasher.write_u64(fault.at_ms);
            if fault.listed {
                self.faults_applied
                    .push(format!("{} ms: {}", fault.at_ms, fault.what));
                self.series.fault(fault.at_ms, &fault.what);
            }
            self.remember(Event::Fault {
                at_ms: fault.at_ms,
                what: fault.what,
            });
        }
    }

    /// Hashes and remembers the background jobs that ran and the handlers
    /// cancelled in the last step.
    fn observe_background_runs_and_cancels(&mut self) {
        let background: Vec<net::BackgroundRun> =
            self.background_runs.borrow_mut().drain(..).collect();
        for run in background {
            self.hasher.write_u64(u64::from(run.server));
            self.hasher.write_str(run.task);
            self.hasher.write_u64(run.at_ms);
            self.remember(Event::Background(run));
        }
        let cancelled = std::mem::take(&mut self.handlers.borrow_mut().cancelled);
        for cancel in cancelled {
            self.hasher.write_u64(u64::from(cancel.server));
            self.hasher.write_str(cancel.op);
            self.hasher.write_u64(cancel.at_ms);
            self.remember(Event::Cancelled(cancel));
        }
    }

    /// Counts the virtual users that started and finished, keeping the
    /// live ones with their start time.
    fn observe_users(&mut self, users: Vec<UserEvent>, client_retries: u64, now_ms: u64) {
        let (mut started, mut finished) = (0, 0);
        for event in users {
            match event {
                UserEvent::Started { user } => {
                    self.metrics.users_started += 1;
                    started += 1;
                    let now = self.now_ms();
                    self.live_users.insert(user, now);
                }
                UserEvent::Finished { user } => {
                    self.metrics.users_finished += 1;
                    finished += 1;
                    self.live_users.remove(&user);
                }
            }
        }
        self.series
            .clients(now_ms, client_retries, started, finished);
    }

    /// Records one request and its response (or its loss) in the metrics
    /// and the hash, and checks the response unless a violation is
    /// already found: the invariants, then liveness.
    fn observe_exchange(
        &mut self,
        exchange: Exchange<S>,
        violation: &mut Option<crate::system::Violation>,
    ) {
        let op = exchange.request.operation();
        let latency_ms = exchange.received_ms.saturating_sub(exchange.sent_ms);
        if self.handler_ms_max.is_some() {
            self.busy.add(exchange.sent_ms, exchange.received_ms);
        }
        self.hasher.write_u64(exchange.request_id);
        self.hasher.write_u64(exchange.received_ms);
        match &exchange.response {
            Ok(response) => {
                self.metrics
                    .record(op, response.status(), latency_ms, response.attempts());
                self.series.request(
                    exchange.received_ms,
                    op,
                    response.status(),
                    latency_ms,
                    response.attempts(),
                );
                self.hasher.write_u64(u64::from(response.status()));
                self.hasher
                    .write(&serde_json::to_vec(response).unwrap_or_default());
                if violation.is_none() && self.scenario.run.check_every_step {
                    self.invariant_checks += 1;
                    if let Err(v) =
                        self.checker
                            .on_response(&exchange.request, response, exchange.received_ms)
                    {
                        *violation = Some(v);
                    }
                }
                let slow_or_exhausted = self.liveness_broken(
                    response.status(),
                    response.attempts(),
                    exchange.sent_ms,
                    exchange.received_ms,
                );
                if let (None, Some(why)) = (&*violation, slow_or_exhausted) {
                    *violation = Some(crate::system::Violation {
                        invariant: "liveness",
                        message: format!(
                            "client {} {} {}: {why}",
                            exchange.client,
                            op,
                            serde_json::to_string(&exchange.request).unwrap_or_default()
                        ),
                    });
                }
            }
            Err(_) => {
                self.metrics.record(op, STATUS_NO_RESPONSE, latency_ms, 1);
                self.series
                    .request(exchange.received_ms, op, STATUS_NO_RESPONSE, latency_ms, 1);
                self.hasher.write_u64(u64::from(STATUS_NO_RESPONSE));
            }
        }
        self.remember(Event::Exchange(Box::new(exchange)));
    }

    /// The longest-running handler, when it has run past the bound
    /// ([`crate::scenario::Liveness::handler_ms_max`]), not counting
    /// injected stalls as [`World::liveness_broken`] does not: reported
    /// while it runs, so a stuck handler (a deadlock the database cannot
    /// see, a storm) is found when it starts, not at the drain deadline.
    /// The default bound also needs no transaction to have ended for as
    /// long: a handler queued behind a busy lock (300 users racing for one
    /// venue's row in `tickets-rush`) waits long while the queue moves, and
    /// 50 Serializable bookings of one slot (`rooms-conflict`) abort each
    /// other for over a second under injected faults while their retries
    /// go on; a storm stops both.
    fn handler_overdue(&self) -> Option<crate::system::Violation> {
        let bound = self.handler_ms_max?;
        let now_ms = self.now_ms();
        let idle_ms = now_ms.saturating_sub(self.last_progress_ms);
        if self.handler_bound_needs_stall && idle_ms <= bound {
            return None;
        }
        let handlers = self.handlers.borrow();
        // Cheap on every step: only the oldest handler can be overdue
        // first, and only past the bound are stalls looked at.
        let (_, oldest) = handlers.running.first_key_value()?;
        let started_ms = oldest.started_ms;
        if now_ms.saturating_sub(started_ms) <= bound {
            return None;
        }
        let since_ms = started_ms
            .saturating_sub(bound)
            .min(self.busy.began(started_ms));
        let excused_ms =
            faults::stalled_ms_between(&self.stalls, since_ms, now_ms).min(now_ms - started_ms);
        let ran_ms = now_ms - started_ms - excused_ms;
        if ran_ms <= bound {
            return None;
        }
        let mut excuse = if excused_ms > 0 {
            format!(", not counting {excused_ms} ms of injected pauses and spikes")
        } else {
            String::new()
        };
        if self.handler_bound_needs_stall {
            excuse.push_str(&format!(
                "; no transaction committed or rolled back for {idle_ms} ms (the default bound, 1.5 times store.deadlock_timeout_ms; set liveness.request_ms_max to change it)"
            ));
        }
        Some(crate::system::Violation {
            invariant: "liveness",
            message: format!(
                "api-{} has run a {} handler for {ran_ms} ms without answering, over the bound of {bound} ms (started at {started_ms} ms, from {}): {}{excuse}",
                oldest.server,
                oldest.request.operation(),
                client_host(oldest.source),
                serde_json::to_string(&oldest.request).unwrap_or_default(),
            ),
        })
    }

    /// Records the deadlocks broken since the last step (the store's
    /// count is `deadlocks`) and reports more than the scenario allows
    /// within twice `deadlock_timeout_ms` (none by default). Deadlocks
    /// broken in one step count at that step's time; checked every step,
    /// so the report comes as the one over the bound is broken.
    fn deadlocks_over_bound(
        &mut self,
        deadlocks: u64,
        now_ms: u64,
    ) -> Option<crate::system::Violation> {
        let bound = self.scenario.liveness.deadlocks_allowed();
        if deadlocks == self.deadlocks_seen {
            return None;
        }
        let new = deadlocks - self.deadlocks_seen;
        self.deadlocks_seen = deadlocks;
        let window_ms = self.scenario.store.deadlock_timeout_ms.saturating_mul(2);
        self.recent_deadlocks_ms.extend((0..new).map(|_| now_ms));
        while self
            .recent_deadlocks_ms
            .front()
            .is_some_and(|&at| at + window_ms < now_ms)
        {
            self.recent_deadlocks_ms.pop_front();
        }
        let count = self.recent_deadlocks_ms.len();
        if count <= bound as usize {
            return None;
        }
        let at: Vec<String> = self
            .recent_deadlocks_ms
            .iter()
            .map(|ms| ms.to_string())
            .collect();
        Some(crate::system::Violation {
            invariant: "liveness",
            message: format!(
                "the store broke {count} deadlock(s) within {window_ms} ms (at {} ms), over the {bound} allowed (liveness.deadlocks_max, per twice store.deadlock_timeout_ms): requests take their locks in orders that wait on each other, and each deadlock stalled its transactions for {} ms before one failed with 40P01",
                at.join(", "),
                self.scenario.store.deadlock_timeout_ms,
            ),
        })
    }

    /// Feeds the transactions just committed to the history checker; at
    /// the `end`, searches whatever is still unchecked.
    fn observe_history(
        &mut self,
        committed: Vec<CommittedTx>,
        end: bool,
    ) -> Option<crate::system::Violation> {
        let (step, now_ms) = (self.steps, self.now_ms());
        let store = &self.store;
        let watch = self.history.as_mut()?;
        watch
            .observe(
                committed,
                || store.oldest_live_first_snapshot(),
                step,
                now_ms,
                end,
            )
            .err()
            .map(|broken| crate::system::Violation {
                invariant: broken.invariant,
                message: broken.message,
            })
    }

    /// Why an answer breaks the scenario's liveness, if it does. Time the
    /// harness itself stalled some host or statement (pauses and spikes,
    /// on any host: a request may wait on a stalled host's locks) does not
    /// count against the service, as stalls a search chose do not in the
    /// explorer; a deadlock storm's stalls still do. That includes stalls
    /// before the request was sent: on a lock every request queues on (a
    /// venue's row) a stall leaves a backlog that later requests wait out
    /// at the service's pace, until the system next runs dry. So the stalls
    /// excused are those since the busy stretch the request was sent in
    /// began (at least one bound before it was sent). Seen on the correct
    /// `tickets-swaps`, whose venue lock runs near its capacity: a request
    /// 828 ms over a stall-free queue that a 250 ms stall had filled just
    /// before it was sent, and one 825 ms long sent 1.2 s after a 911 ms
    /// pause, the queue it left never drained while arrivals went on.
    fn liveness_broken(
        &self,
        status: u16,
        attempts: u32,
        sent_ms: u64,
        received_ms: u64,
    ) -> Option<String> {
        let liveness = &self.scenario.liveness;
        let why = liveness.broken(status, attempts, sent_ms, received_ms)?;
        let backlog_ms = liveness.answer_ms_max().unwrap_or(0);
        let since_ms = sent_ms
            .saturating_sub(backlog_ms)
            .min(self.busy.began(sent_ms));
        let excused_ms = faults::stalled_ms_between(&self.stalls, since_ms, received_ms)
            .min(received_ms - sent_ms);
        if excused_ms == 0 {
            return Some(why);
        }
        let why = liveness.broken(status, attempts, sent_ms, received_ms - excused_ms)?;
        Some(format!(
            "{why}, not counting {excused_ms} ms of injected pauses and spikes"
        ))
    }

    fn run(mut self, progress: &mut dyn FnMut(RunProgress)) -> Report {
        let (violation, harness_error) = self.run_to_the_end(progress);
        self.report(violation, harness_error)
    }

    /// [`World::run`], keeping the database as the run left it.
    fn run_and_keep(mut self, progress: &mut dyn FnMut(RunProgress)) -> (Report, KeptDatabase) {
        let (violation, harness_error) = self.run_to_the_end(progress);
        // Taken while the simulation still holds the open transactions:
        // they roll back when it is dropped with the world.
        let kept = KeptDatabase {
            store: self.store.clone(),
            activity: self.store.activity(),
            sim_time_ms: self.now_ms(),
        };
        (self.report(violation, harness_error), kept)
    }

    /// Steps the simulation to the first violation or the end, then runs
    /// the final checks: the violation, or the harness error, if any.
    fn run_to_the_end(
        &mut self,
        progress: &mut dyn FnMut(RunProgress),
    ) -> (Option<ViolationReport>, Option<String>) {
        let mut schedule = fault_schedule(self.scenario);
        let deadline_ms = self.scenario.arrivals_end_ms() + self.scenario.run.drain_s * 1000;
        let mut reported_s = 0u64;
        let mut violation: Option<ViolationReport> = None;
        let mut harness_error: Option<String> = None;
        loop {
            self.apply_faults(&mut schedule);
            let finished = match self.sim.step() {
                Ok(finished) => finished,
                Err(err) => {
                    harness_error = Some(err.to_string());
                    break;
                }
            };
            self.steps += 1;
            let now_s = self.now_ms() / 1000;
            if now_s != reported_s || self.steps.is_multiple_of(PROGRESS_STEPS) {
                reported_s = now_s;
                progress(RunProgress {
                    sim_ms: self.now_ms(),
                    sim_ms_limit: deadline_ms,
                    steps: self.steps,
                });
            }
            let panicked = self.panics.borrow_mut().drain(..).next();
            if let Some(message) = panicked {
                violation = Some(self.violation("panic".to_string(), message));
                break;
            }
            if let Some(v) = self.observe() {
                violation = Some(self.violation(v.invariant.to_string(), v.message));
                break;
            }
            if finished {
                break;
            }
            if self.now_ms() > deadline_ms || self.steps >= self.scenario.run.max_steps {
                violation = Some(self.liveness_violation(deadline_ms));
                break;
            }
        }
        if violation.is_none() && harness_error.is_none() {
            violation = self.final_checks();
        }
        if violation.is_none() && harness_error.is_none() && self.metrics.total_requests() == 0 {
            // A run that tested nothing must not read as a pass (a workload
            // of zero operations, phases with no arrivals, a hot id that
            // does not exist).
            harness_error = Some(format!(
                "nothing was tested: {} users arrived and sent no request (check [[phases]] and the workload)",
                self.metrics.users_started
            ));
        }
        (violation, harness_error)
    }

    fn final_checks(&mut self) -> Option<ViolationReport> {
        self.invariant_checks += 1;
        let now_ms = self.now_ms();
        // The whole state once more at the end's time: what depends on
        // time changes without a commit, and a run that skips the
        // per-step checks checks it here.
        let state = self
            .state
            .as_ref()
            .map(|s| self.checker.on_state(s, now_ms));
        if let Some(Err(v)) = state {
            return Some(self.violation(v.invariant.to_string(), v.message));
        }
        if let Err(v) = self.checker.at_end(&self.store, now_ms) {
            return Some(self.violation(v.invariant.to_string(), v.message));
        }
        let committed = if self.history.is_some() {
            self.store.take_history()
        } else {
            Vec::new()
        };
        if let Some(v) = self.observe_history(committed, true) {
            return Some(self.violation(v.invariant.to_string(), v.message));
        }
        None
    }

    fn liveness_violation(&mut self, deadline_ms: u64) -> ViolationReport {
        let stuck: Vec<String> = self
            .live_users
            .iter()
            .take(10)
            .map(|(user, since)| format!("user {user} (arrived at {since} ms)"))
            .collect();
        let message = format!(
            "{} users still running at {} ms, past the deadline of {} ms (last arrival + drain_s): {}{}",
            self.live_users.len(),
            self.now_ms(),
            deadline_ms,
            stuck.join(", "),
            if self.live_users.len() > 10 { ", ..." } else { "" }
        );
        self.violation("liveness".to_string(), message)
    }

    fn violation(&self, invariant: String, message: String) -> ViolationReport {
        ViolationReport {
            invariant,
            step: self.steps,
            sim_time_ms: self.now_ms(),
            message,
            recent_events: self.recent.iter().map(Event::<S>::describe).collect(),
        }
    }

    fn report(
        mut self,
        violation: Option<ViolationReport>,
        harness_error: Option<String>,
    ) -> Report {
        self.metrics.users_skipped = self.skipped_users.get();
        let thresholds = evaluate_thresholds(&self.metrics, &self.scenario.thresholds);
        let mut invariants_checked: BTreeMap<String, u64> = self
            .checker
            .checks()
            .into_iter()
            .map(|(name, count)| (name.to_string(), count))
            .collect();
        invariants_checked.insert("liveness".to_string(), 1);
        if let Some(watch) = &self.history {
            invariants_checked.insert("serializable_history".to_string(), watch.searches());
        }
        let passed =
            violation.is_none() && harness_error.is_none() && thresholds.iter().all(|t| t.passed);
        self.hasher.write_u64(self.store.commit_count());
        let end_ms = self.now_ms();
        self.series.store(end_ms, self.store.stats());
        let series = std::mem::replace(&mut self.series, SeriesRecorder::new(1)).finish(end_ms);
        Report {
            sim: self.scenario.name.clone(),
            seed: self.seed.0,
            variant: self.variant.name().to_string(),
            passed,
            violation,
            harness_error,
            trace_hash: format!("{:016x}", self.hasher.finish()),
            requests: RequestsReport {
                total: self.metrics.total_requests(),
                by_status: self.metrics.by_status(),
                by_op: self.metrics.by_op(),
            },
            latency_ms: self.metrics.latency(),
            retries: RetriesReport {
                count: self.metrics.server_retries,
                exhausted: self.metrics.retries_exhausted,
                client: self.metrics.client_retries,
            },
            users: UsersReport {
                started: self.metrics.users_started,
                finished: self.metrics.users_finished,
                skipped: self.metrics.users_skipped,
            },
            thresholds,
            invariants_checked,
            invariant_evaluations: self.invariant_checks,
            store: self.store.stats(),
            faults: self.faults_applied.clone(),
            history: self
                .history
                .as_ref()
                .map(history::HistoryWatch::report)
                .unwrap_or_default(),
            sim_time_ms: self.now_ms(),
            steps: self.steps,
            trace: std::mem::take(&mut self.trace),
            series,
            wall_ms: 0,
        }
    }
}
