//! The system API: what a booking service implements to get everything
//! overbook does (the turmoil world and its faults, fuzzing, the corpus,
//! replay, shrinking, the model checker, reports and the CLI).
//!
//! A service is one type implementing [`System`], in the manner of
//! FoundationDB's simulation workloads (setup, start, check) and
//! stateright's `Model`:
//!
//! - **the system under test**: its store [`Schema`] (tables, exclusion
//!   constraints), its data set ([`System::data`], drawn from the scenario's
//!   own sections and the seed, and [`System::load`] into the store), and a
//!   handler ([`System::handle`]) from a request of its own type to a
//!   response of its own type, running transactions through the pool and
//!   the [`Env`] of a [`ServerContext`];
//! - **a virtual user** ([`System::user`]): what one simulated client does,
//!   from its own random stream and the responses so far, through
//!   [`UserContext::call`] (several calls in flight at once on
//!   [`UserContext::connection`]s);
//! - **invariants** ([`System::checker`] returning an [`Invariants`]):
//!   named checks on every committed transaction, on the whole committed
//!   state as of it, on every response, and at the end;
//! - **variants**: the correct service and named planted bugs
//!   ([`System::variants`]), as strings;
//! - **model-checking clients** ([`System::explore_clients`]): a few
//!   clients' request lists for exhaustive exploration, and what a client
//!   does with them ([`System::explore_user`]: by default, send each once
//!   the last is answered; written out, build requests from earlier
//!   answers, or have several in flight on [`UserContext::connection`]s);
//! - **background jobs**, if any ([`System::background_tasks`] and
//!   [`System::run_background`]): sweepers and expiry jobs each API server
//!   runs on a timer, which the model checker schedules like clients.
//!
//! Scenario files keep their generic sections (run, topology, phases,
//! faults, store, client, thresholds) for overbook; the `[data]`,
//! `[workload]` and `[service]` sections belong to the service and are
//! parsed into [`System::Settings`].
//!
//! The helpers every such service needs are in [`kit`]: retry with backoff
//! and jitter on 40001/40P01, idempotency records, a rate limiter, access
//! tokens, the settings' three sections ([`kit::Sections`]), numbers the
//! server hands out ([`kit::next_number()`]). Beside them:
//! [`ServerContext::retry_or_refuse`] (retry by the service's
//! [`System::retry_config`], a failure answered with a status),
//! [`BackgroundTask::periodic`], [`UserContext::think_ms`],
//! [`UserContext::send_both`] (two requests in flight at once),
//! [`ExploreContext::requests`], and for invariants the committed state as
//! of each commit ([`CommittedState`], in [`Invariants::on_state`]) and
//! each commit's changes by table ([`CommitEvent::changes`]).
//! [`crate::prelude`] imports all of it.

mod bounds;
mod direct;
pub mod kit;
mod policy;
mod state;

pub use bounds::Bounds;
pub use direct::{DirectTransport, ManualClock};
pub use policy::ClientPolicy;
pub use state::CommittedState;

pub use crate::error::InputError;
use crate::seed::{Rng64, Seed};
use crate::store::{CommitEvent, PauseFuture, Pool, Schema, Store};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Time and sleep as services and users see them. The world maps these to
/// turmoil's simulated clock; the model checker to logical time and
/// scheduling points.
pub trait Env: Send + Sync {
    /// Milliseconds of simulated time since the run's start.
    fn now_ms(&self) -> u64;
    /// A future that completes `ms` milliseconds of simulated time later.
    fn sleep_ms(&self, ms: u64) -> PauseFuture;

    /// Whether the fault point named `point` fires here (see
    /// [`ServerContext::buggify`]). Only the world's API hosts fire
    /// points, and only when the scenario turns `[faults.buggify]` on;
    /// everywhere else (the model checker, a real database, unit tests)
    /// this default keeps every point inert.
    fn buggify(&self, point: &'static str) -> bool {
        let _ = point;
        false
    }
}

/// A service implementation's name: `correct` or a planted bug such as
/// `units/read-committed`. Only names a [`System`] declares exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Variant(&'static str);

impl Variant {
    /// The correct service, which every system has.
    pub const CORRECT: Variant = Variant("correct");

    /// The name used on the command line and in corpus entries.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// Whether this is the correct service.
    pub fn is_correct(self) -> bool {
        self == Variant::CORRECT
    }

    /// Whether this variant is named `name`.
    pub fn is(self, name: &str) -> bool {
        self.0 == name
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A variant a system declares: its name and what it does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantInfo {
    /// kebab-case, `service/bug` for planted bugs (`tickets/oversell`).
    pub name: &'static str,
    /// One line on what the variant does wrong.
    pub description: &'static str,
}

impl VariantInfo {
    /// A variant named `name` (`correct`, or `service/bug`).
    pub const fn new(name: &'static str, description: &'static str) -> VariantInfo {
        VariantInfo { name, description }
    }
}

/// An invariant a system declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvariantInfo {
    /// snake_case (`no_overbooking`).
    pub name: &'static str,
    /// One line on what must hold.
    pub description: &'static str,
}

impl InvariantInfo {
    /// An invariant named `name` (snake_case).
    pub const fn new(name: &'static str, description: &'static str) -> InvariantInfo {
        InvariantInfo { name, description }
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name (one the system declares).
    pub invariant: &'static str,
    /// What broke it: keys, numbers, clients.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.message)
    }
}

impl std::error::Error for Violation {}

/// Counts how often each invariant was evaluated, for reports, and turns a
/// failed check into a [`Violation`].
///
/// ```
/// use overbook::system::Tally;
/// let mut tally = Tally::default();
/// assert!(tally.check("seats_never_oversold", 3 <= 4, || "3 > 4".into()).is_ok());
/// let broken = tally.check("seats_never_oversold", 5 <= 4, || "5 seats sold of 4".into());
/// assert_eq!(broken.unwrap_err().invariant, "seats_never_oversold");
/// assert_eq!(tally.counts()["seats_never_oversold"], 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tally {
    counts: BTreeMap<&'static str, u64>,
}

impl Tally {
    /// Records one evaluation of `invariant`; when `holds` is false, the
    /// violation with the message `message()` builds.
    pub fn check(
        &mut self,
        invariant: &'static str,
        holds: bool,
        message: impl FnOnce() -> String,
    ) -> Result<(), Violation> {
        *self.counts.entry(invariant).or_insert(0) += 1;
        if holds {
            Ok(())
        } else {
            Err(Violation {
                invariant,
                message: message(),
            })
        }
    }

    /// Evaluations per invariant so far.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.clone()
    }
}

/// A service's own scenario settings: the `[data]`, `[workload]` and
/// `[service]` sections, parsed from the whole scenario document (so the
/// type's fields name those sections; leave unknown top-level keys allowed,
/// overbook rejects stray sections itself).
pub trait Settings:
    Serialize + DeserializeOwned + Clone + Debug + Default + Send + Sync + 'static
{
}

impl<T> Settings for T where
    T: Serialize + DeserializeOwned + Clone + Debug + Default + Send + Sync + 'static
{
}

/// A request as overbook sees it: JSON on the simulated wire, a name for
/// reports.
///
/// ```
/// use overbook::system::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// enum Request {
///     Hold { seats: u32, key: String },
///     Confirm { hold: u64 },
/// }
///
/// impl Message for Request {
///     fn operation(&self) -> &'static str {
///         match self {
///             Request::Hold { .. } => "hold",
///             Request::Confirm { .. } => "confirm",
///         }
///     }
///     fn idempotency_key(&self) -> Option<&str> {
///         match self {
///             Request::Hold { key, .. } => Some(key),
///             Request::Confirm { .. } => None,
///         }
///     }
/// }
/// assert_eq!(Request::Confirm { hold: 7 }.operation(), "confirm");
/// ```
pub trait Message: Clone + Debug + Serialize + DeserializeOwned + 'static {
    /// The operation's name for reports and thresholds (`reserve`,
    /// `book`): `requests.<operation>.<status>`.
    fn operation(&self) -> &'static str;

    /// The client's idempotency key, if the request carries one (shown in
    /// traces).
    fn idempotency_key(&self) -> Option<&str> {
        None
    }
}

/// A response as overbook sees it: a status for reports and thresholds
/// (`requests.hold.409`), and the server's transaction attempts.
///
/// ```
/// use overbook::system::Reply;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Response { status: u16, attempts: u32, seats_left: Option<u32> }
///
/// impl Reply for Response {
///     fn status(&self) -> u16 { self.status }
///     fn attempts(&self) -> u32 { self.attempts }
/// }
/// let sold_out = Response { status: 409, attempts: 2, seats_left: Some(0) };
/// assert_eq!((sold_out.status(), sold_out.attempts()), (409, 2));
/// ```
pub trait Reply: Clone + Debug + Serialize + DeserializeOwned + 'static {
    /// HTTP-like status: 2xx success, 409 conflict, 503 retries exhausted...
    fn status(&self) -> u16;

    /// Transaction attempts the server made (1 + retries on 40001/40P01).
    fn attempts(&self) -> u32 {
        1
    }
}

/// Invariants of one run, fed everything that happens. Count each check
/// with a [`Tally`] so reports show what was evaluated; the
/// [`System`] docs have a complete checker.
pub trait Invariants<S: System> {
    /// Whether the checker reads the committed state in
    /// [`Invariants::on_state`]. Only then does the harness keep the copy
    /// of the database that `on_state` reads (it costs about as much as a
    /// mirror of every committed row): a checker that implements
    /// `on_state` sets this to `true`.
    const READS_STATE: bool = false;

    /// After every committed transaction, in commit order (the events of
    /// [`Store::drain_commits`]), at simulated `now_ms` (the commit's time,
    /// to within a step). Nothing by default.
    fn on_commit(&mut self, event: &CommitEvent, now_ms: u64) -> Result<(), Violation> {
        let _ = (event, now_ms);
        Ok(())
    }

    /// After [`Invariants::on_commit`] of every commit, with the whole
    /// committed state as of that commit (a snapshot read: see
    /// [`CommittedState`]), when [`Invariants::READS_STATE`] is `true`:
    /// for invariants over the whole state ("no night oversold", "the
    /// counters match the reservations") written as a query, with no
    /// mirror of committed rows. The commit itself is `state`'s
    /// [`CommittedState::commit_seq`]. Called once more at the end of a
    /// run, before [`Invariants::at_end`], with the last commit's state at
    /// the end's time (what depends on time changes without a commit).
    /// Nothing by default.
    fn on_state(&mut self, state: &CommittedState, now_ms: u64) -> Result<(), Violation> {
        let _ = (state, now_ms);
        Ok(())
    }

    /// After every response a client received, at simulated `now_ms`.
    fn on_response(
        &mut self,
        request: &S::Request,
        response: &S::Response,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let _ = (request, response, now_ms);
        Ok(())
    }

    /// After a request went unanswered, at simulated `now_ms`: every
    /// attempt [`UserContext::send`] made timed out or lost its connection,
    /// and the user gave up. `unanswered` is what the client saw (each
    /// attempt's outcome and times). The request may still have taken
    /// effect (its answer lost on the way back): a checker that counts
    /// what was granted from answers can note it here as unknown rather
    /// than missing. The world calls it; the model checker, whose clients
    /// resend until answered, does not.
    fn on_unanswered(
        &mut self,
        request: &S::Request,
        unanswered: &Unanswered,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let _ = (request, unanswered, now_ms);
        Ok(())
    }

    /// Once at the end, at simulated `now_ms`: a full recount from
    /// committed rows ([`Store::scan_all_committed`]), cross-checked with
    /// what was kept incrementally. Nothing by default (a checker that
    /// reads the whole state in [`Invariants::on_state`] has recounted
    /// already).
    fn at_end(&mut self, store: &Store, now_ms: u64) -> Result<(), Violation> {
        let _ = (store, now_ms);
        Ok(())
    }

    /// Evaluations per invariant (a [`Tally`]'s counts).
    fn checks(&self) -> BTreeMap<&'static str, u64>;
}

/// A fresh store for `system`'s `variant`, ready to run: its schema, its
/// SQL schema ([`System::sql_schema`]) and its data loaded. An error is a
/// statement of the SQL schema that the simulated engine refused, named
/// in the message.
pub fn prepare_store<S: System>(
    system: &S,
    variant: Variant,
    config: crate::store::StoreConfig,
    seed: Seed,
    data: &S::Data,
) -> Result<Store, crate::store::DbError> {
    let store = Store::new(system.schema(variant), config, seed);
    let script = system.sql_schema(variant);
    if !script.trim().is_empty() {
        crate::sql::SqlDb::attach(&store).install(&script)?;
    }
    system.load(data, &store);
    Ok(store)
}

/// What a server instance is built from, on each API host (again after a
/// crash and restart: in-memory state is lost).
pub struct ServerContext<S: System> {
    /// Which API server (0-based).
    pub index: u32,
    /// Connections to the shared simulated database (a key-value handler
    /// begins its transactions here).
    pub pool: Pool,
    /// The database a SQL handler connects to ([`kit::Database::connect`]):
    /// the pool's store in the world and the model checker, a real
    /// PostgreSQL under `overbook confirm`. Connect through this, not
    /// through `pool`, so that the same handler runs on both.
    pub database: kit::Database,
    /// Time and sleep.
    pub env: Arc<dyn Env>,
    /// The implementation to run.
    pub variant: Variant,
    /// The data set.
    pub data: Arc<S::Data>,
    /// The scenario's service-owned settings.
    pub settings: Arc<S::Settings>,
    /// The server's own random stream (backoff jitter).
    pub rng: Mutex<Rng64>,
    /// Retries and exhausted retries of [`ServerContext::retry`].
    pub retries: kit::RetryCounters,
}

impl<S: System> ServerContext<S> {
    /// Runs `attempt` (one transaction) until it returns a value,
    /// re-running it after 40001 or 40P01 with capped, jittered backoff per
    /// `config` (see [`kit::retry()`]); the value with the tries made.
    pub async fn retry<T, F, Fut>(
        &self,
        config: &kit::RetryConfig,
        attempt: F,
    ) -> Result<(T, u32), kit::RetryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, crate::store::DbError>>,
    {
        let context = kit::RetryContext {
            config,
            env: self.env.as_ref(),
            rng: &self.rng,
            counters: &self.retries,
        };
        kit::retry(context, crate::store::DbError::is_retryable, attempt).await
    }

    /// [`ServerContext::retry`] by the system's own retry settings
    /// ([`System::retry_config`]; the kit's defaults without them).
    pub async fn retry_configured<T, F, Fut>(&self, attempt: F) -> Result<(T, u32), kit::RetryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, crate::store::DbError>>,
    {
        let default = kit::RetryConfig::default();
        let config = S::retry_config(&self.settings).map_or(&default, |(_, retry)| retry);
        self.retry(config, attempt).await
    }

    /// [`ServerContext::retry_configured`], answering with its value, or
    /// when it ended without one with `refuse(status, why)`: the status of
    /// the [`kit::RetryError`] (503 when the tries ran out, 500 for an
    /// error no retry cures) and its message. For a handler whose response
    /// type has a refusal variant: `ctx.retry_or_refuse(attempt,
    /// Response::Refused)`.
    pub async fn retry_or_refuse<T, F, Fut>(
        &self,
        attempt: F,
        refuse: impl FnOnce(u16, String) -> T,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, crate::store::DbError>>,
    {
        match self.retry_configured(attempt).await {
            Ok((value, _attempts)) => value,
            Err(e) => refuse(e.status(), e.to_string()),
        }
    }

    /// Whether the fault point `point` fires now: a place in handler or
    /// background-job code where the service author lets the simulation
    /// make something go wrong that can go wrong in production (a delay
    /// between a read and its write, a retry taken early, a cache
    /// skipped), as FoundationDB's `BUGGIFY`.
    ///
    /// In the world with `[faults.buggify] enabled = true`, each point
    /// name is enabled or not for the whole run (drawn from the seed and
    /// the name, with `point_probability`), and an enabled point fires
    /// with `fire_probability` each time it is reached; both show in the
    /// trace. Everywhere else it is `false`: with buggify off, in the model
    /// checker (whose schedules already put every other task between any
    /// two statements, which is what a delay point would do), on a real
    /// PostgreSQL and in unit tests.
    ///
    /// ```
    /// use overbook::system::{ServerContext, System};
    ///
    /// /// A confirm that waits a while between its read and its write when
    /// /// the point fires: a window for a concurrent writer.
    /// async fn confirm<S: System>(ctx: &ServerContext<S>) -> u16 {
    ///     // ... read the hold ...
    ///     ctx.buggify_sleep("slow-confirm", 300).await;
    ///     if ctx.buggify("confirm-refuses") {
    ///         return 503; // the error path a real outage would take
    ///     }
    ///     // ... write it ...
    ///     200
    /// }
    /// ```
    ///
    /// Outside the world (a unit test's manual clock) points are inert:
    /// overbook-clinic's `service` module shows one such context.
    pub fn buggify(&self, point: &'static str) -> bool {
        self.env.buggify(point)
    }

    /// When the fault point `point` fires ([`ServerContext::buggify`]),
    /// sleeps a delay drawn from the server's stream between 1 and
    /// `max_ms` of simulated time, with whatever transaction is open
    /// keeping its locks; whether it fired.
    pub async fn buggify_sleep(&self, point: &'static str, max_ms: u64) -> bool {
        if !self.buggify(point) {
            return false;
        }
        let delay_ms = self
            .rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .between(1, max_ms.max(1));
        self.env.sleep_ms(delay_ms).await;
        true
    }

    /// A SQL connection from the pool, to the database the harness set up
    /// from [`System::sql_schema`]; the pool slot is held until it is
    /// dropped.
    pub async fn sql(&self) -> Result<crate::sql::SqlSession, crate::store::DbError> {
        crate::sql::SqlDb::connect(&self.pool).await
    }
}

/// How a server is built from its context, on each API host and again
/// after each restart. [`ServerContext`] itself is a server.
pub trait FromContext<S: System> {
    /// The server of `context`.
    fn from_context(context: ServerContext<S>) -> Self;
}

impl<S: System> FromContext<S> for ServerContext<S> {
    fn from_context(context: ServerContext<S>) -> Self {
        context
    }
}

/// Why a call got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No response within the client's timeout.
    Timeout,
    /// The connection failed or was closed before a response.
    ConnectionLost,
}

/// A boxed future of a call's outcome.
pub type CallFuture<'a, R> = Pin<Box<dyn Future<Output = Result<R, CallError>> + 'a>>;

/// Carries one request to an API server and its response back: turmoil
/// TCP in the world, a direct call elsewhere.
pub trait Transport<S: System> {
    /// Sends `request` and waits at most `timeout_ms` for the response.
    fn call<'a>(
        &'a mut self,
        request: &'a S::Request,
        timeout_ms: u64,
    ) -> CallFuture<'a, S::Response>;

    /// A second connection of the same client, whose calls may be in
    /// flight while this one's are ([`UserContext::connection`]): a new
    /// TCP connection in the world (to the next API server in turn, as a
    /// load balancer spreads connections), a task of its own in the model
    /// checker (so that the search interleaves the two calls' statements).
    fn open_another(&mut self) -> Box<dyn Transport<S>>;
}

/// One request's round trip, as the client saw it.
#[derive(Clone, Debug)]
pub struct Exchange<S: System> {
    /// The user that sent it.
    pub client: u32,
    /// `client << 32 | n` for the user's `n`-th call: unique per attempt.
    pub request_id: u64,
    /// The request sent.
    pub request: S::Request,
    /// The response, or why none came.
    pub response: Result<S::Response, CallError>,
    /// Simulated time the request was sent.
    pub sent_ms: u64,
    /// Simulated time the response (or the timeout) arrived.
    pub received_ms: u64,
}

/// One attempt of a request that got no answer, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// `client << 32 | n`, as in [`Exchange::request_id`].
    pub request_id: u64,
    /// Why no answer came.
    pub error: CallError,
    /// Simulated time the attempt was sent.
    pub sent_ms: u64,
    /// Simulated time the client stopped waiting.
    pub gave_up_ms: u64,
}

/// A request the client gave up on: every attempt of
/// [`UserContext::send`] timed out or lost its connection (see
/// [`Invariants::on_unanswered`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unanswered {
    /// The user that sent it.
    pub client: u32,
    /// Every attempt, first to last (1 + the policy's
    /// `retries_on_timeout`).
    pub attempts: Vec<Attempt>,
}

impl Unanswered {
    /// When the first attempt was sent.
    pub fn first_sent_ms(&self) -> u64 {
        self.attempts.first().map_or(0, |a| a.sent_ms)
    }
}

/// A user's life events, for liveness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserEvent {
    /// The user arrived.
    Started {
        /// User index.
        user: u32,
    },
    /// The user finished (or gave up).
    Finished {
        /// User index.
        user: u32,
    },
}

/// What users report; the world drains it after every step.
#[derive(Debug)]
pub struct Observations<S: System> {
    /// Completed round trips, in the order they completed.
    pub exchanges: Vec<Exchange<S>>,
    /// Requests given up on (every attempt unanswered), in that order.
    pub unanswered: Vec<(S::Request, Unanswered)>,
    /// Arrivals and departures.
    pub users: Vec<UserEvent>,
    /// Client-side resends since the last drain.
    pub client_retries: u64,
}

impl<S: System> Default for Observations<S> {
    fn default() -> Self {
        Observations {
            exchanges: Vec::new(),
            unanswered: Vec::new(),
            users: Vec::new(),
            client_retries: 0,
        }
    }
}

/// A shared sink of observations.
pub type Observer<S> = Arc<Mutex<Observations<S>>>;

/// Everything one virtual user has: its index, its own random stream, the
/// data set and settings, the client policy, the clock, and the one way to
/// reach the service ([`UserContext::call`]).
///
/// A call takes `&mut self`: one request in flight per context. A user
/// with several requests in flight at once (a customer confirming in one
/// tab while releasing in another, a front desk and a patient acting on
/// one reservation) opens more connections with
/// [`UserContext::connection`], each a context of its own, and awaits
/// their calls together; [`UserContext::send_both`] and
/// [`UserContext::call_both`] do it for two requests:
///
/// ```
/// use overbook::prelude::*;
///
/// /// Confirms and releases a hold at once, in two tabs; both answers
/// /// (or `None` for one that never came).
/// async fn both<S: System>(user: &mut UserContext<S>, confirm: S::Request, release: S::Request)
///     -> (Option<S::Response>, Option<S::Response>)
/// {
///     user.send_both(confirm, release).await
/// }
/// ```
///
/// Each connection's calls are recorded, resent and counted as the
/// user's own (the same client id, request ids from one counter), in the
/// world and in the model checker (see [`System::explore_user`]).
pub struct UserContext<S: System> {
    /// The user's index (arrival order), also its client id.
    pub index: u32,
    /// The user's own random stream: draw every choice from it.
    pub rng: Rng64,
    /// The data set.
    pub data: Arc<S::Data>,
    /// The scenario's service-owned settings.
    pub settings: Arc<S::Settings>,
    /// How clients behave on timeouts, conflicts, expired tokens and 429s.
    pub policy: ClientPolicy,
    env: Arc<dyn Env>,
    transport: Box<dyn Transport<S>>,
    /// Where calls are recorded; `None` where the transport records them
    /// itself (the model checker's).
    observer: Option<Observer<S>>,
    /// Calls so far, shared by the user's connections: request ids stay
    /// unique per user.
    calls: Rc<Cell<u32>>,
    /// The scenario's `[flow]`, if it writes its users as HTTP steps.
    flow: Option<Arc<crate::scenario::Flow>>,
}

impl<S: System> UserContext<S> {
    /// A user context; the world and tests build these.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: u32,
        rng: Rng64,
        data: Arc<S::Data>,
        settings: Arc<S::Settings>,
        policy: ClientPolicy,
        env: Arc<dyn Env>,
        transport: Box<dyn Transport<S>>,
        observer: Observer<S>,
    ) -> UserContext<S> {
        UserContext {
            index,
            rng,
            data,
            settings,
            policy,
            env,
            transport,
            observer: Some(observer),
            calls: Rc::new(Cell::new(0)),
            flow: None,
        }
    }

    /// This user with the scenario's `[flow]` (the world sets it).
    pub fn with_flow(mut self, flow: Option<Arc<crate::scenario::Flow>>) -> UserContext<S> {
        self.flow = flow;
        self
    }

    /// The scenario's `[flow]`, when it writes its virtual users as HTTP
    /// steps: a service whose users speak HTTP runs it
    /// (`overbook::http::run_flow`) instead of its own user.
    pub fn flow(&self) -> Option<&Arc<crate::scenario::Flow>> {
        self.flow.as_ref()
    }

    /// A user context whose transport records its exchanges itself (the
    /// model checker's and `confirm`'s clients).
    pub(crate) fn unobserved(
        index: u32,
        rng: Rng64,
        data: Arc<S::Data>,
        settings: Arc<S::Settings>,
        env: Arc<dyn Env>,
        transport: Box<dyn Transport<S>>,
    ) -> UserContext<S> {
        UserContext {
            index,
            rng,
            data,
            settings,
            policy: ClientPolicy::default(),
            env,
            transport,
            observer: None,
            calls: Rc::new(Cell::new(0)),
            flow: None,
        }
    }

    /// Another connection of this user, for a request in flight beside
    /// this context's (see the [type's docs](UserContext)): the same
    /// index, data, settings, policy, clock and observer, request ids from
    /// the same counter, and a random stream of its own (seeded from this
    /// one's, which moves one draw). In the world a new TCP connection; in
    /// the model checker one of the client's `explore.connections`.
    pub fn connection(&mut self) -> UserContext<S> {
        UserContext {
            index: self.index,
            rng: Seed(self.rng.next_u64()).stream("connection"),
            data: self.data.clone(),
            settings: self.settings.clone(),
            policy: self.policy,
            env: self.env.clone(),
            transport: self.transport.open_another(),
            observer: self.observer.clone(),
            calls: self.calls.clone(),
            flow: self.flow.clone(),
        }
    }

    /// Milliseconds of simulated time since the run's start.
    pub fn now_ms(&self) -> u64 {
        self.env.now_ms()
    }

    /// Waits `ms` of simulated time (think time, a retry-after).
    pub async fn sleep_ms(&self, ms: u64) {
        self.env.sleep_ms(ms).await
    }

    /// Thinks: waits a time drawn from the user's stream between
    /// `min_ms` and `max_ms` (inclusive); the time waited.
    pub async fn think_ms(&mut self, min_ms: u64, max_ms: u64) -> u64 {
        let think_ms = self.rng.between(min_ms, max_ms);
        self.sleep_ms(think_ms).await;
        think_ms
    }

    /// The request id the next [`UserContext::call`] will be recorded
    /// with: `index << 32 | calls so far`.
    pub fn next_request_id(&self) -> u64 {
        (u64::from(self.index) << 32) | u64::from(self.calls.get())
    }

    /// Sends one request (one attempt) and waits at most the policy's
    /// `timeout_ms` for its response. Every call is recorded for the
    /// invariants, metrics and trace; resending is the user's decision.
    pub async fn call(&mut self, request: S::Request) -> Result<S::Response, CallError> {
        let request_id = self.next_request_id();
        self.calls.set(self.calls.get() + 1);
        let timeout_ms = self.policy.timeout_ms;
        let Some(observer) = &self.observer else {
            // The model checker's transport records its calls; a clock
            // read here would count as the client's own, which lets the
            // search move time after it.
            return self.transport.call(&request, timeout_ms).await;
        };
        let sent_ms = self.env.now_ms();
        let response = self.transport.call(&request, timeout_ms).await;
        let received_ms = self.env.now_ms();
        observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exchanges
            .push(Exchange {
                client: self.index,
                request_id,
                request,
                response: response.clone(),
                sent_ms,
                received_ms,
            });
        response
    }

    /// Sends `request` and resends it after a timeout or a lost connection,
    /// up to the policy's `retries_on_timeout` times (a resend carries the
    /// same idempotency key, so the service can tell). The response, or
    /// `None` when none came, after which the checker's
    /// [`Invariants::on_unanswered`] sees the request and its attempts.
    pub async fn send(&mut self, request: S::Request) -> Option<S::Response> {
        let mut attempts = Vec::new();
        for resend in 0..=self.policy.retries_on_timeout {
            if resend > 0 {
                self.count_client_retry();
            }
            let request_id = self.next_request_id();
            let sent_ms = self.observed_now_ms();
            match self.call(request.clone()).await {
                Ok(response) => return Some(response),
                Err(error) => attempts.push(Attempt {
                    request_id,
                    error,
                    sent_ms,
                    gave_up_ms: self.observed_now_ms(),
                }),
            }
        }
        let unanswered = Unanswered {
            client: self.index,
            attempts,
        };
        if let Some(observer) = &self.observer {
            observer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unanswered
                .push((request, unanswered));
        }
        None
    }

    /// Sends `first` on this connection and `second` on a new one
    /// ([`UserContext::connection`]) at once, each with
    /// [`UserContext::send`]'s resends, and awaits both: two requests in
    /// flight together (a confirm in one tab and a release in another, a
    /// double submit). `first` is polled first.
    pub async fn send_both(
        &mut self,
        first: S::Request,
        second: S::Request,
    ) -> (Option<S::Response>, Option<S::Response>) {
        let mut other = self.connection();
        crate::join!(self.send(first), other.send(second))
    }

    /// [`UserContext::send_both`] with one attempt each
    /// ([`UserContext::call`]), as a model-checking client
    /// ([`System::explore_user`]) sends: there the second connection's
    /// call runs on a task of its own, interleaved with the first's.
    #[allow(clippy::type_complexity)]
    pub async fn call_both(
        &mut self,
        first: S::Request,
        second: S::Request,
    ) -> (
        Result<S::Response, CallError>,
        Result<S::Response, CallError>,
    ) {
        let mut other = self.connection();
        crate::join!(self.call(first), other.call(second))
    }

    /// The time, for the record of a call where calls are recorded here
    /// (0 in the model checker: see [`UserContext::call`]).
    fn observed_now_ms(&self) -> u64 {
        match self.observer {
            Some(_) => self.env.now_ms(),
            None => 0,
        }
    }

    /// Counts a client-side resend (after a timeout, 401, 409 or 429) for
    /// the report.
    pub fn count_client_retry(&self) {
        if let Some(observer) = &self.observer {
            observer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .client_retries += 1;
        }
    }
}

/// What [`System::explore_clients`] draws a model-checking scenario from.
pub struct ExploreContext<'a, S: System> {
    /// The scenario's service-owned settings.
    pub settings: &'a S::Settings,
    /// The data set.
    pub data: &'a S::Data,
    /// The exploration's seed (draw requests from streams of it).
    pub seed: Seed,
    /// How many clients.
    pub clients: u32,
    /// Requests per client.
    pub ops: u32,
}

impl<S: System> ExploreContext<'_, S> {
    /// Each client's `ops` requests, the `i`-th of client `c` being
    /// `request(c, i)`: what [`System::explore_clients`] returns for
    /// clients that differ only by their index.
    pub fn requests(&self, request: impl Fn(u32, u32) -> S::Request) -> Vec<Vec<S::Request>> {
        let client = |c| (0..self.ops).map(|i| request(c, i)).collect();
        (0..self.clients).map(client).collect()
    }
}

/// A "sometimes" condition of the model checker: it should hold at the end
/// of at least one schedule, or the exploration missed the interesting
/// cases. `reached` sees every (request, response, time) answered so far.
pub struct Sometimes<S: System> {
    /// What is reached, in words (`a 409 conflict answered`).
    pub name: &'static str,
    /// Whether a schedule's exchanges reach it.
    // The tuple is the documented shape implementations destructure; an
    // alias would only hide it.
    #[allow(clippy::type_complexity)]
    pub reached: fn(&[(S::Request, S::Response, u64)]) -> bool,
}

/// A job a service runs in the background on every API server (a sweeper
/// of expired holds, a reconciliation): [`System::run_background`] once per
/// `period_ms` of simulated time (at least 1 ms), first `period_ms` after
/// the server starts. The world runs it on its own timer on each API host; the model
/// checker runs it as one more task, a bounded number of times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackgroundTask {
    /// kebab-case, shown in traces (`sweep-expired-holds`).
    pub name: &'static str,
    /// Simulated time between runs (at least 1).
    pub period_ms: u64,
}

impl BackgroundTask {
    /// A job named `name` run every `period_ms`.
    pub const fn new(name: &'static str, period_ms: u64) -> BackgroundTask {
        BackgroundTask { name, period_ms }
    }

    /// What [`System::background_tasks`] returns for a service with one
    /// job: `name` every `period_ms`, or no job when `period_ms` is 0 (a
    /// scenario that turns the job off).
    ///
    /// ```
    /// use overbook::system::BackgroundTask;
    /// assert_eq!(BackgroundTask::periodic("sweep", 500), [BackgroundTask::new("sweep", 500)]);
    /// assert!(BackgroundTask::periodic("sweep", 0).is_empty());
    /// ```
    pub fn periodic(name: &'static str, period_ms: u64) -> Vec<BackgroundTask> {
        let task = BackgroundTask::new(name, period_ms);
        (period_ms > 0).then_some(task).into_iter().collect()
    }
}

/// A booking service under test. See the [module docs](self).
///
/// The associated functions that take no `self` are called once per
/// request or user; everything a handler or user needs comes through its
/// context.
///
/// A whole service, small: a shared pool of `seats`, users taking one
/// each, the invariant that no more are taken than there are, and a
/// planted bug that reads and writes the counter at Read Committed without
/// a lock. The world runs it like any bundled service:
///
/// ```
/// use overbook::scenario::Scenario;
/// use overbook::seed::Seed;
/// use overbook::store::{CommitEvent, Isolation, Key, Pool, Row, Schema, Store};
/// use overbook::system::*;
/// use serde::{Deserialize, Serialize};
/// use std::{collections::BTreeMap, future::Future, sync::Arc};
///
/// #[derive(Clone)]
/// struct Seats;
///
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// struct SeatsSettings {
///     #[serde(default)]
///     data: SeatsData,
/// }
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct SeatsData {
///     seats: i64,
/// }
/// impl Default for SeatsData {
///     fn default() -> Self { SeatsData { seats: 3 } }
/// }
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Take;
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Taken { status: u16 }
/// impl Message for Take {
///     fn operation(&self) -> &'static str { "take" }
/// }
/// impl Reply for Taken {
///     fn status(&self) -> u16 { self.status }
/// }
///
/// fn counter() -> Key { Key::raw("seats/taken") }
///
/// struct NeverPastCapacity { seats: i64, granted: i64, tally: Tally }
/// impl Invariants<Seats> for NeverPastCapacity {
///     // Lost updates keep the counter low; the clients' 201s show the oversell.
///     fn on_response(&mut self, _: &Take, taken: &Taken, _: u64) -> Result<(), Violation> {
///         self.granted += i64::from(taken.status == 201);
///         self.tally.check("never_past_capacity", self.granted <= self.seats, || {
///             format!("{} seats granted of {}", self.granted, self.seats)
///         })
///     }
///     fn on_commit(&mut self, event: &CommitEvent, _: u64) -> Result<(), Violation> {
///         for (_, after, _) in &event.writes {
///             let taken = after.as_ref().and_then(|row| row.int("taken")).unwrap_or(0);
///             self.tally.check("never_past_capacity", taken <= self.seats, || {
///                 format!("{taken} seats taken of {}", self.seats)
///             })?;
///         }
///         Ok(())
///     }
///     fn at_end(&mut self, store: &Store, _: u64) -> Result<(), Violation> {
///         let taken = store.read_committed(&counter()).and_then(|r| r.int("taken")).unwrap_or(0);
///         self.tally.check("never_past_capacity", taken <= self.seats, || format!("{taken} taken"))
///     }
///     fn checks(&self) -> BTreeMap<&'static str, u64> { self.tally.counts() }
/// }
///
/// impl System for Seats {
///     type Settings = SeatsSettings;
///     type Data = i64;
///     type Request = Take;
///     type Response = Taken;
///     type Server = ServerContext<Self>;
///     type Checker = NeverPastCapacity;
///
///     fn name(&self) -> &'static str { "seats" }
///     fn variants(&self) -> &'static [VariantInfo] {
///         &[
///             VariantInfo { name: "correct", description: "takes a seat under a row lock" },
///             VariantInfo { name: "seats/no-lock", description: "read then write without a lock" },
///         ]
///     }
///     fn invariants(&self) -> &'static [InvariantInfo] {
///         &[InvariantInfo { name: "never_past_capacity", description: "taken <= seats" }]
///     }
///     fn schema(&self, _: Variant) -> Schema { Schema::default() }
///     fn data(&self, settings: &SeatsSettings, _: Seed) -> i64 { settings.data.seats }
///     fn load(&self, _: &i64, store: &Store) { store.load(counter(), Row::new().with("taken", 0)) }
///     fn handle(ctx: &ServerContext<Seats>, _: Take, _: u32) -> impl Future<Output = Taken> {
///         async move {
///             let (pool, variant, seats) = (&ctx.pool, ctx.variant, *ctx.data);
///             let outcome = async {
///                 let mut tx = pool.begin(Isolation::ReadCommitted).await?;
///                 let row = if variant.is_correct() {
///                     tx.get_for_update(&counter()).await?
///                 } else {
///                     tx.get(&counter()).await?
///                 };
///                 let taken = row.and_then(|r| r.int("taken")).unwrap_or(0);
///                 if taken >= seats {
///                     return Ok(409);
///                 }
///                 tx.put(&counter(), Row::new().with("taken", taken + 1)).await?;
///                 tx.commit().await?;
///                 Ok::<u16, overbook::store::DbError>(201)
///             };
///             Taken { status: outcome.await.unwrap_or(500) }
///         }
///     }
///     fn user(&self, mut user: UserContext<Seats>) -> impl Future<Output = ()> {
///         async move { let _ = user.call(Take).await; }
///     }
///     fn checker(&self, seats: Arc<i64>, _: &SeatsSettings) -> NeverPastCapacity {
///         NeverPastCapacity { seats: *seats, granted: 0, tally: Tally::default() }
///     }
///     fn explore_clients(&self, ctx: ExploreContext<'_, Seats>) -> Vec<Vec<Take>> {
///         (0..ctx.clients).map(|_| vec![Take; ctx.ops as usize]).collect()
///     }
/// }
///
/// // Twenty users arrive at once for three seats; statements take 1-3 ms.
/// let sim = "name = \"seats-rush\"\n[store.latency]\nmin_ms = 1\nmax_ms = 3\n\
///            [[phases]]\nduration_s = 1\narrival_rate = 0\nburst = 20\n";
/// let scenario = Scenario::parse(sim, "seats-rush.toml").unwrap();
/// let report = overbook::world::run(&Seats, &scenario, Seed(1), Variant::CORRECT);
/// assert!(report.passed, "{}", report.summary_line());
/// assert_eq!(report.requests.by_op["take"]["201"], 3);
///
/// let bug = Seats.variant("seats/no-lock").unwrap();
/// let broken = overbook::world::run(&Seats, &scenario, Seed(1), bug);
/// assert_eq!(broken.violation.unwrap().invariant, "never_past_capacity");
/// ```
pub trait System: Clone + Send + Sync + Sized + 'static {
    /// The `[data]`, `[workload]` and `[service]` sections of a scenario
    /// ([`kit::Sections`] of the service's own types, or a type of its
    /// own with those fields).
    type Settings: Settings;
    /// The data set a run serves, shared read-only by servers, users and
    /// invariants (ids users draw from).
    type Data: 'static;
    /// What a client sends.
    type Request: Message;
    /// What the service answers.
    type Response: Reply;
    /// One API server's instance: per-server in-memory state (caches, rate
    /// limiters, jitter streams), lost on a crash, built from its
    /// [`ServerContext`]. A service with no state of its own uses the
    /// context itself: `type Server = ServerContext<Self>`.
    type Server: FromContext<Self> + 'static;
    /// The invariants of one run.
    type Checker: Invariants<Self>;

    /// The service's name (kebab-case).
    fn name(&self) -> &'static str;

    /// Every implementation, `correct` first, then the planted bugs.
    fn variants(&self) -> &'static [VariantInfo];

    /// Every invariant the checker evaluates.
    fn invariants(&self) -> &'static [InvariantInfo];

    /// Checks settings beyond what their types check, and bounds every
    /// size, count, time and rate in them with [`Bounds`] (a line each), so
    /// that a scenario or `--set` out of reach is an input error naming the
    /// file, line and field rather than a run that exhausts the machine.
    /// Errors name the field by its dotted path (`data.seats`).
    fn validate(&self, settings: &Self::Settings) -> Result<(), InputError> {
        let _ = settings;
        Ok(())
    }

    /// The service's retry settings ([`kit::RetryConfig`], usually its
    /// `[service]` section or a table in it), with their `--set` path
    /// (`"service"`), if the service retries. They are bounded with the
    /// rest of the settings ([`Bounds::retry`] under that path), they are
    /// what [`ServerContext::retry_configured`] and
    /// [`ServerContext::retry_or_refuse`] retry by, and they give the
    /// default [`System::retry_attempts`]. `None` by default.
    fn retry_config(settings: &Self::Settings) -> Option<(&'static str, &kit::RetryConfig)> {
        let _ = settings;
        None
    }

    /// The attempts a request gets against 40001/40P01 (its retry budget,
    /// as `ctx.retry` spends it), if the service retries: `fuzz --swarm`
    /// keeps the serialization failures it injects low enough that no
    /// request of a correct service spends the whole budget on injected
    /// ones alone (such a failure would be the faults', not the
    /// service's). By default, the attempts of [`System::retry_config`]
    /// (`None` without it).
    fn retry_attempts(&self, settings: &Self::Settings) -> Option<u32> {
        Self::retry_config(settings).map(|(_, retry)| retry.attempts)
    }

    /// About how many bytes the data set of `settings` takes once drawn
    /// and loaded into the store, for the harness's memory budget
    /// (`run.max_memory_mb`), checked before the data set is built. Called
    /// only on settings that passed [`System::validate`]. 0 (not declared)
    /// by default.
    fn data_size_bytes(&self, settings: &Self::Settings) -> u64 {
        let _ = settings;
        0
    }

    /// The store schema a variant runs on (exclusion constraints); none by
    /// default.
    fn schema(&self, variant: Variant) -> Schema {
        let _ = variant;
        Schema::default()
    }

    /// For handlers that speak SQL: the `CREATE TABLE` and `CREATE INDEX`
    /// statements (one script, `;` between statements) a variant runs on.
    /// The harness runs them on every fresh store before [`System::load`],
    /// so `load` and the servers find the tables through
    /// [`SqlDb::attach`](crate::sql::SqlDb::attach). Empty (no SQL) by
    /// default.
    fn sql_schema(&self, variant: Variant) -> String {
        let _ = variant;
        String::new()
    }

    /// Whether the world also serves the run's database on PostgreSQL's
    /// wire protocol at `db:5432` (see [`crate::pg`]), for a service that
    /// connects with its own driver (tokio-postgres, a deadpool or bb8
    /// pool) rather than through [`ServerContext::database`]. Its
    /// statements run on the same store, so invariants, the trace and the
    /// history checker see them as any handler's. `false` (no database
    /// host) by default.
    fn wire_database(&self) -> bool {
        false
    }

    /// Draws the data set from the settings and the seed.
    fn data(&self, settings: &Self::Settings, seed: Seed) -> Self::Data;

    /// Loads the data set into a fresh store (before anything runs): rows
    /// with [`Store::load`], or SQL rows with
    /// [`SqlDb::load`](crate::sql::SqlDb::load).
    fn load(&self, data: &Self::Data, store: &Store);

    /// Handles one request on `server`, from client host `source`. Expected
    /// domain outcomes (409, 503 after retries) are responses, not errors.
    fn handle(
        server: &Self::Server,
        request: Self::Request,
        source: u32,
    ) -> impl Future<Output = Self::Response>;

    /// Whether `request`'s handler may be cancelled (its future dropped,
    /// its open transaction rolled back, its pool connection returned) when
    /// the client closes the connection before the answer, as a server
    /// does on a closed connection: true for a handler that is
    /// cancellation-safe, whose every effect is in a transaction or
    /// idempotent. The world then drops the handler of a client that timed
    /// out, instead of letting it hold its locks and connection while the
    /// client resends. `false` (run every handler to its end) by default.
    fn cancellable(request: &Self::Request) -> bool {
        let _ = request;
        false
    }

    /// Runs one virtual user to its end.
    fn user(&self, user: UserContext<Self>) -> impl Future<Output = ()>;

    /// The invariant checker of one run over `data`.
    fn checker(&self, data: Arc<Self::Data>, settings: &Self::Settings) -> Self::Checker;

    /// Model checking: each client's requests, sent one after the other
    /// straight to a server.
    fn explore_clients(&self, context: ExploreContext<'_, Self>) -> Vec<Vec<Self::Request>>;

    /// Model checking: what client `user.index` does with its requests
    /// (its list from [`System::explore_clients`]), as a task the model
    /// checker schedules. By default it sends them one after the other,
    /// each once the last is answered.
    ///
    /// Write it for clients whose next request depends on what earlier
    /// responses returned (an id the server chose: hold, then confirm
    /// what the hold's answer names), or that have several requests in
    /// flight at once, each on a connection of its own
    /// ([`UserContext::connection`]; the scenario's `explore.connections`
    /// says how many a client may open, 1 by default). Every call is
    /// recorded, checked and subject to lost responses as a listed
    /// request is; its statements are scheduling points like any
    /// handler's, and a second connection's calls run on a task of their
    /// own, so the search interleaves them with the first's. The user's
    /// random stream is drawn from the exploration's seed: a choice drawn
    /// from it is the same in every schedule (the search explores
    /// interleavings, not draws).
    ///
    /// ```
    /// # use overbook::prelude::*;
    /// /// Sends the first request, then the next two at once, on two
    /// /// connections (with `explore.connections = 2`).
    /// async fn first_then_two<S: System>(mut user: UserContext<S>, requests: Vec<S::Request>) {
    ///     let mut requests = requests.into_iter();
    ///     if let Some(first) = requests.next() {
    ///         let _ = user.call(first).await;
    ///     }
    ///     if let (Some(a), Some(b)) = (requests.next(), requests.next()) {
    ///         let _ = user.call_both(a, b).await;
    ///     }
    /// }
    /// ```
    fn explore_user(
        &self,
        mut user: UserContext<Self>,
        requests: Vec<Self::Request>,
    ) -> impl Future<Output = ()> {
        async move {
            for request in requests {
                let _ = user.call(request).await;
            }
        }
    }

    /// Model checking with lost responses: the request a client resends
    /// after a timeout (same idempotency key, new request id).
    fn resend(&self, request: &Self::Request) -> Self::Request {
        request.clone()
    }

    /// Model checking: the "sometimes" conditions a scenario's clients can
    /// reach. By default, a 409 answered and every request succeeding.
    fn sometimes(
        &self,
        settings: &Self::Settings,
        clients: &[Vec<Self::Request>],
    ) -> Vec<Sometimes<Self>> {
        let _ = (settings, clients);
        vec![
            Sometimes {
                name: "a 409 conflict answered",
                reached: |exchanges| exchanges.iter().any(|(_, r, _)| r.status() == 409),
            },
            Sometimes {
                name: "every request succeeded",
                reached: |exchanges| {
                    !exchanges.is_empty() && exchanges.iter().all(|(_, r, _)| r.status() < 300)
                },
            },
        ]
    }

    /// Shrinking: `--set` overrides that make the workload smaller, tried
    /// in order while the same invariant still breaks, beyond those
    /// overbook derives itself (fewer users, shorter phases, fewer faults,
    /// and [`System::operations_per_user`] halved and less one).
    fn shrink_steps(&self, settings: &Self::Settings) -> Vec<String> {
        let _ = settings;
        Vec::new()
    }

    /// Shrinking: the setting that counts each user's operations, as its
    /// `--set` path and value (`("workload.ops_per_user", 4)`), if the
    /// workload has one. overbook tries halving it and taking one off, and
    /// counts a case's size as users times it (times 1 without one).
    fn operations_per_user(&self, settings: &Self::Settings) -> Option<(&'static str, u64)> {
        let _ = settings;
        None
    }

    /// The jobs every API server runs in the background, from the
    /// scenario's settings. None by default.
    fn background_tasks(&self, settings: &Self::Settings) -> Vec<BackgroundTask> {
        let _ = settings;
        Vec::new()
    }

    /// Runs one round of background job `task` (one of
    /// [`System::background_tasks`]) on `server`, like a handler: its
    /// transactions go through the server's pool, its clock is the
    /// server's [`Env`]. Only called for declared tasks.
    fn run_background(server: &Self::Server, task: BackgroundTask) -> impl Future<Output = ()> {
        let _ = (server, task);
        std::future::ready(())
    }

    /// Looks a declared variant up by name.
    fn variant(&self, name: &str) -> Option<Variant> {
        self.variants()
            .iter()
            .find(|v| v.name == name)
            .map(|v| Variant(v.name))
    }
}

/// The text of a panic's payload (`panic!("...")` gives a `&str` or a
/// `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_string())
}

/// A future that turns a panic while it is polled into `Err(message)`, so
/// that a panicking handler or virtual user is a finding of its run, not a
/// crashed sweep.
pub struct CatchPanic<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> CatchPanic<F> {
    /// Wraps `future`.
    pub fn new(future: F) -> CatchPanic<F> {
        CatchPanic {
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = self.future.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(std::task::Poll::Ready(value)) => std::task::Poll::Ready(Ok(value)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}
