//! `overbook confirm`: a model checker's counterexample replayed on a real
//! PostgreSQL, to tell a bug of the service from an artefact of the
//! simulated database.
//!
//! [`confirm`] takes a schedule line from [`crate::explore`] (such as
//! `dfs:2-clients:0,1,1,0,...`) and the scenario it was found in, and
//!
//! 1. replays it in the store, as `overbook explore --replay` does, for
//!    what each step did there;
//! 2. creates a fresh schema on the server with the service's
//!    [`System::sql_schema`] and the scenario's data (copied from the store
//!    the model checker starts from);
//! 3. runs the same clients (the same requests, the same server state, the
//!    same jitter stream and logical clock) with the service's database
//!    pointing at the server ([`Database::Scheduled`]), one connection per
//!    client, and lets them go in the schedule's order: each statement at
//!    which the store pauses waits for the step that names its client. A
//!    statement PostgreSQL blocks (seen as isolationtester sees it,
//!    `pg_isolation_test_session_is_blocked`) is noted as waiting and the
//!    schedule goes on; when PostgreSQL lets it finish, its client waits
//!    for the step that resumes it, as a parked task does in the model
//!    checker. Lost responses are replayed as the model checker injects
//!    them: the original keeps running on a task of its own while the
//!    client resends;
//! 4. after the line, lets every client finish (lowest first), keeping a
//!    simulated copy of the server's committed tables in step, so that the
//!    service's own checker judges PostgreSQL's commits, the responses and
//!    the final recount exactly as it judges the store's.
//!
//! The counterexample is *confirmed* when the invariant it breaks in the
//! store breaks on PostgreSQL too. Otherwise the report names the first
//! step at which PostgreSQL did something else than the store (waited where
//! it did not, failed with another SQLSTATE), which is where to look.
//!
//! The command exits 1 when confirmed (a real bug: CI should fail), 0 when
//! not, and 2 on bad input (a line that does not replay, an unknown
//! variant, an unreachable server).

mod mirror;
mod scheduler;
#[cfg(test)]
mod tests;

use crate::explore::{self, replay, service_model, ServiceScenario, SEND};
use crate::explore::{client_tasks, ClientCalls, ClientTasks};
use crate::postgres::{PgSession, ScheduledPg, SCHEDULED_DEADLOCK_TIMEOUT_MS};
use crate::store::{Pool, StoreConfig};
use crate::system::kit::Database;
use crate::system::{
    prepare_store, CommittedState, FromContext, Invariants, ServerContext, System, Violation,
};
use mirror::Mirror;
use scheduler::{Driven, Driver, LogicalClock, Stop, Task, Turnstile};
use serde::Serialize;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a replay could not be judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmError {
    /// The schedule line does not replay in the store.
    Line(String),
    /// The server cannot be reached or refused a statement of the setup.
    Postgres(String),
    /// The service cannot run on PostgreSQL (no SQL schema, or it never
    /// reached the server).
    Service(String),
}

impl fmt::Display for ConfirmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfirmError::Line(why) => write!(f, "the schedule line: {why}"),
            ConfirmError::Postgres(why) => write!(f, "PostgreSQL: {why}"),
            ConfirmError::Service(why) => write!(f, "the service: {why}"),
        }
    }
}

impl std::error::Error for ConfirmError {}

/// An invariant that broke on one engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Broken {
    /// The property's name, as the model checker names it (an invariant,
    /// or `state_agrees_at_end` for the final recount).
    pub property: String,
    /// What the checker said.
    pub message: String,
    /// The schedule step after which it broke; `None` after the line's
    /// steps (while the clients finished, or at the final recount).
    pub step: Option<usize>,
}

/// One step of the line on both engines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepComparison {
    /// The step's index in the line.
    pub step: usize,
    /// The task stepped (`client 0`, `clock`...).
    pub task: String,
    /// The store's trace of the step.
    pub store: String,
    /// What happened on PostgreSQL.
    pub postgres: String,
    /// The store's outcome: `done`, `waits`, `error 40001`, `clock`.
    pub store_outcome: String,
    /// PostgreSQL's outcome, in the same words.
    pub postgres_outcome: String,
}

/// The first step at which the engines did different things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The step's index in the line.
    pub step: usize,
    /// What the store did.
    pub store: String,
    /// What PostgreSQL did.
    pub postgres: String,
}

/// What a replay on PostgreSQL showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    /// The schedule line replayed.
    pub line: String,
    /// The violation the line ends in on the store, if any.
    pub store_violation: Option<Broken>,
    /// Each property that broke on PostgreSQL (the first time).
    pub postgres_violations: Vec<Broken>,
    /// Whether the store's violation broke on PostgreSQL too.
    pub confirmed: bool,
    /// The first step whose outcome differed, if any.
    pub divergence: Option<Divergence>,
    /// The line's steps on both engines.
    pub steps: Vec<StepComparison>,
    /// What PostgreSQL ran after the line to let every client finish.
    pub finish: Vec<String>,
    /// Tasks that never finished on PostgreSQL.
    pub stuck: Vec<String>,
    /// Wall time of the whole confirmation, in ms.
    pub wall_ms: u64,
}

impl Confirmation {
    /// One line: `confirmed: ...` or `not confirmed: ...`.
    pub fn verdict(&self) -> String {
        let Some(store) = &self.store_violation else {
            return match self.postgres_violations.first() {
                Some(pg) => format!(
                    "not confirmed: the line breaks nothing in the store, but {} broke on PostgreSQL: {}",
                    pg.property, pg.message
                ),
                None => {
                    "not confirmed: no invariant broke on either engine (the line breaks nothing in the store)"
                        .to_string()
                }
            };
        };
        if self.confirmed {
            let pg = self
                .postgres_violations
                .iter()
                .find(|b| b.property == store.property)
                .expect("confirmed by a PostgreSQL violation");
            let when = match pg.step {
                Some(step) => format!("after step {step}"),
                None => "after the line, as the clients finished".to_string(),
            };
            return format!(
                "confirmed: {} broke on PostgreSQL too ({when}): {}",
                store.property, pg.message
            );
        }
        match &self.divergence {
            Some(d) => format!(
                "not confirmed: {} held on PostgreSQL; PG diverged at step {}: store did {}, PG did {}",
                store.property, d.step, d.store, d.postgres
            ),
            None => format!(
                "not confirmed: every step did the same on PostgreSQL, but {} held there",
                store.property
            ),
        }
    }
}

impl fmt::Display for Confirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "schedule: {}", self.line)?;
        for step in &self.steps {
            let mark = if step.store_outcome == step.postgres_outcome {
                ' '
            } else {
                '!'
            };
            writeln!(f, "{mark} step {}: {}", step.step, step.task)?;
            writeln!(f, "    store:      {}", step.store)?;
            writeln!(f, "    PostgreSQL: {}", step.postgres)?;
        }
        if !self.finish.is_empty() {
            writeln!(f, "after the line, on PostgreSQL:")?;
            for line in &self.finish {
                writeln!(f, "    {line}")?;
            }
        }
        if !self.stuck.is_empty() {
            writeln!(f, "never finished on PostgreSQL: {}", self.stuck.join(", "))?;
        }
        match &self.store_violation {
            Some(b) => writeln!(f, "store: {} broke: {}", b.property, b.message)?,
            None => writeln!(f, "store: no invariant broke")?,
        }
        if self.postgres_violations.is_empty() {
            writeln!(f, "PostgreSQL: no invariant broke")?;
        }
        for b in &self.postgres_violations {
            writeln!(f, "PostgreSQL: {} broke: {}", b.property, b.message)?;
        }
        writeln!(f, "{}", self.verdict())?;
        write!(f, "{:.2} s wall", self.wall_ms as f64 / 1000.0)
    }
}

/// Replays schedule `line` of `scenario` (the one `line` was found in,
/// with the same variant, seed, clients and losses) on the PostgreSQL at
/// `pg_url`, in a fresh schema dropped afterwards. See the [module
/// docs](self).
pub fn confirm<S: System>(
    system: &S,
    scenario: &ServiceScenario<S>,
    line: &str,
    pg_url: &str,
) -> Result<Confirmation, ConfirmError> {
    let started = Instant::now();
    let sql_schema = system.sql_schema(scenario.variant);
    if sql_schema.trim().is_empty() {
        return Err(ConfirmError::Service(format!(
            "{} declares no SQL schema (System::sql_schema), so it cannot run on PostgreSQL",
            system.name()
        )));
    }
    let choices = explore::line_choices(line).map_err(|e| ConfirmError::Line(e.to_string()))?;
    let model = service_model(system, "confirm", scenario.clone());
    let replayed = replay(&model, line).map_err(|e| ConfirmError::Line(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConfirmError::Postgres(format!("starting the I/O runtime: {e}")))?;
    let mut confirmation = runtime.block_on(async {
        let admin = PgSession::connect(pg_url)
            .await
            .map_err(|e| ConfirmError::Postgres(format!("cannot connect to {pg_url}: {e}")))?;
        let schema = mirror::schema_name();
        let result = on_postgres(
            system,
            scenario,
            &sql_schema,
            &admin,
            pg_url,
            &schema,
            &choices,
            &replayed,
        )
        .await;
        mirror::drop_schema(&admin, &schema).await;
        result
    })?;
    confirmation.line = line.trim().to_string();
    confirmation.store_violation = replayed.violation.as_ref().map(|v| Broken {
        property: v.property.clone(),
        message: v.message.clone(),
        step: Some(choices.len().saturating_sub(1)),
    });
    confirmation.confirmed = confirmation.store_violation.as_ref().is_some_and(|store| {
        confirmation
            .postgres_violations
            .iter()
            .any(|pg| pg.property == store.property)
    });
    confirmation.wall_ms = started.elapsed().as_millis() as u64;
    Ok(confirmation)
}

/// The first step whose outcomes differ.
fn first_divergence(steps: &[StepComparison]) -> Option<Divergence> {
    steps
        .iter()
        .find(|s| s.store_outcome != s.postgres_outcome)
        .map(|s| Divergence {
            step: s.step,
            store: format!("{} ({})", s.store_outcome, s.store),
            postgres: format!("{} ({})", s.postgres_outcome, s.postgres),
        })
}

/// The store's outcome of a step, in the words compared.
fn store_outcome(step: &explore::StepOutcome) -> String {
    if step.task.is_none() {
        return "clock".to_string();
    }
    if let Some(code) = &step.error {
        return format!("error {code}");
    }
    if step.waits {
        return "waits".to_string();
    }
    "done".to_string()
}

fn short(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 72 {
        format!("{}...", one_line.chars().take(69).collect::<String>())
    } else {
        one_line
    }
}

/// `confirm`'s side of the clients' calls: choices from the line, time
/// from the turnstile (whose clock never stalls on its own).
struct ReplayCalls<S: System> {
    turnstile: Turnstile,
    exchanges: Exchanges<S>,
}

impl<S: System> ClientCalls<S> for ReplayCalls<S> {
    fn lose_response(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> {
        let choice = self.turnstile.choose(SEND);
        Box::pin(async move { choice.await == 1 })
    }

    fn stalled_ms(&self) -> u64 {
        0
    }

    fn record(&self, request: S::Request, response: S::Response, _sent_stalled_ms: u64) {
        let now_ms = self.turnstile.now_ms();
        self.exchanges
            .borrow_mut()
            .push((request, response, now_ms));
    }

    fn resent(&self) {}
}

/// Every response the clients received, with its request and the time.
type Exchanges<S> = Rc<RefCell<Vec<(<S as System>::Request, <S as System>::Response, u64)>>>;

/// The replay's state on PostgreSQL's side.
struct Replay<'a, S: System> {
    driver: Driver,
    names: Vec<String>,
    /// Daemon tasks (lost responses' originals) start here.
    first_daemon: usize,
    mirror: Mirror,
    reader: PgSession,
    checker: S::Checker,
    /// The committed state the checker reads, when it reads it.
    state: Option<CommittedState>,
    exchanges: Exchanges<S>,
    exchanges_fed: usize,
    broken: Vec<Broken>,
    /// Per task, statements that finished after waiting, during other
    /// tasks' steps, not yet reported by a step of their own.
    resumed: std::collections::BTreeMap<usize, Vec<scheduler::Finished>>,
    system: &'a S,
}

#[allow(clippy::too_many_arguments)]
async fn on_postgres<S: System>(
    system: &S,
    scenario: &ServiceScenario<S>,
    sql_schema: &str,
    admin: &PgSession,
    pg_url: &str,
    schema: &str,
    choices: &[explore::LineStep],
    replayed: &explore::Replayed,
) -> Result<Confirmation, ConfirmError> {
    let scoped = mirror::scoped_url(pg_url, schema);
    let data = Arc::new(system.data(&scenario.settings, scenario.seed));
    let config = StoreConfig {
        record_history: false,
        record_commits: true,
        ..StoreConfig::default()
    };
    let copy = prepare_store(system, scenario.variant, config, scenario.seed, &data)
        .map_err(setup_failed("setting up the simulated copy"))?;
    copy.drain_commits();
    let state = <S::Checker as Invariants<S>>::READS_STATE
        .then(|| CommittedState::of(system, scenario.variant, &copy))
        .transpose()
        .map_err(setup_failed("setting up the committed state"))?;
    let mirror = Mirror::new(&copy);
    mirror::prepare_postgres(admin, &scoped, schema, sql_schema, &mirror)
        .await
        .map_err(ConfirmError::Postgres)?;
    let (driver, reader) = connect_driver(&scoped).await?;
    let api = scheduled_server(system, scenario, &scoped, &driver.turnstile, &data)?;
    let mut replay = Replay {
        driver,
        names: Vec::new(),
        first_daemon: usize::MAX,
        mirror,
        reader,
        checker: system.checker(data.clone(), &scenario.settings),
        state,
        exchanges: Rc::new(RefCell::new(Vec::new())),
        exchanges_fed: 0,
        broken: Vec::new(),
        resumed: Default::default(),
        system,
    };
    replay.spawn_tasks(scenario, api);
    let result = replay.run(choices, replayed).await;
    replay.driver.shut_down().await;
    let confirmation = result?;
    if replay.driver.turnstile.turns_taken() == 0 && !choices.is_empty() {
        return Err(ConfirmError::Service(format!(
            "{} ran no statement on PostgreSQL: its handlers must connect through ServerContext::database",
            system.name()
        )));
    }
    Ok(confirmation)
}

/// The error of a setup step (`what`) that failed on the store.
fn setup_failed(what: &str) -> impl FnOnce(crate::store::DbError) -> ConfirmError {
    let what = what.to_string();
    move |e| ConfirmError::Service(format!("{what}: {e}"))
}

/// The driver that steps the replay's statements on the server at
/// `scoped` (with its observer connection), and the connection that reads
/// the server's committed rows.
async fn connect_driver(scoped: &str) -> Result<(Driver, PgSession), ConfirmError> {
    let connect = |what: &'static str| async move {
        PgSession::connect(scoped)
            .await
            .map_err(|e| ConfirmError::Postgres(format!("connecting the {what}: {e}")))
    };
    let observer = connect("observer").await?;
    let reader = connect("reader").await?;
    // Without the right to shorten deadlock_timeout, PostgreSQL looks for
    // a deadlock after its default second.
    let superuser = observer
        .client()
        .query_one("SELECT current_setting('is_superuser') = 'on'", &[])
        .await
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false);
    let grace = Duration::from_millis(if superuser {
        4 * SCHEDULED_DEADLOCK_TIMEOUT_MS + 20
    } else {
        1_500
    });
    // Sleeps are timers, as in the model checker.
    let turnstile = Turnstile::new(true);
    Ok((Driver::new(turnstile, observer, grace), reader))
}

/// The service's server, its `database` the scheduled PostgreSQL session
/// at `scoped`, its clock the turnstile's.
fn scheduled_server<S: System>(
    system: &S,
    scenario: &ServiceScenario<S>,
    scoped: &str,
    turnstile: &Turnstile,
    data: &Arc<S::Data>,
) -> Result<Rc<S::Server>, ConfirmError> {
    // A service that used the pool instead of `database` would run on
    // this store, not on the server: the check after the replay says so.
    let unused = prepare_store(
        system,
        scenario.variant,
        StoreConfig::default(),
        scenario.seed,
        data,
    )
    .map_err(setup_failed("setting up the store"))?;
    let tasks = scenario.clients.len()
        * (scenario.connections as usize + usize::from(scenario.lost_responses_per_client > 0));
    Ok(Rc::new(<S::Server as FromContext<S>>::from_context(
        ServerContext {
            index: 0,
            pool: Pool::new(unused, tasks, tasks),
            database: Database::Scheduled(ScheduledPg::new(scoped, Arc::new(turnstile.clone()))),
            env: Arc::new(LogicalClock(turnstile.clone())),
            variant: scenario.variant,
            data: data.clone(),
            settings: Arc::new(scenario.settings.clone()),
            rng: Mutex::new(scenario.seed.stream_indexed("api", 0)),
            retries: Default::default(),
        },
    )))
}

impl<S: System> Replay<'_, S> {
    /// The same tasks as the model checker's service model, in the same
    /// order: the clients, the background jobs, the lost responses'
    /// originals.
    fn spawn_tasks(&mut self, scenario: &ServiceScenario<S>, api: Rc<S::Server>) {
        let turnstile = self.driver.turnstile.clone();
        let calls = Rc::new(ReplayCalls::<S> {
            turnstile: turnstile.clone(),
            exchanges: self.exchanges.clone(),
        });
        let data = Arc::new(self.system.data(&scenario.settings, scenario.seed));
        let settings = Arc::new(scenario.settings.clone());
        let ClientTasks { clients, daemons } = client_tasks(
            self.system,
            scenario,
            (data, settings),
            Arc::new(LogicalClock(turnstile.clone())),
            api.clone(),
            calls,
        );
        for (index, client) in clients.into_iter().enumerate() {
            self.driver.spawn(client as Task);
            self.names.push(format!("client {index}"));
        }
        if scenario.background_runs > 0 {
            for task in self.system.background_tasks(&scenario.settings) {
                let (api, env) = (api.clone(), LogicalClock(turnstile.clone()));
                let runs = scenario.background_runs;
                self.driver.spawn(Box::pin(async move {
                    for _ in 0..runs {
                        crate::system::Env::sleep_ms(&env, task.period_ms).await;
                        S::run_background(&api, task).await;
                    }
                }));
                self.names.push(format!("background {}", task.name));
            }
        }
        if !daemons.is_empty() {
            self.first_daemon = self.driver.tasks();
        }
        for (name, daemon) in daemons {
            self.driver.spawn(daemon as Task);
            self.names.push(name);
        }
    }

    fn name(&self, task: usize) -> String {
        self.names
            .get(task)
            .cloned()
            .unwrap_or_else(|| format!("task {task}"))
    }

    fn record(&mut self, property: &str, message: String, step: Option<usize>) {
        if !self.broken.iter().any(|b| b.property == property) {
            self.broken.push(Broken {
                property: property.to_string(),
                message,
                step,
            });
        }
    }

    /// Brings the copy up to PostgreSQL's committed tables and feeds the
    /// checker the commit and the responses since the last check.
    async fn check(&mut self, step: Option<usize>) -> Result<(), ConfirmError> {
        self.mirror
            .follow(&mut self.reader)
            .await
            .map_err(ConfirmError::Postgres)?;
        let now_ms = self.driver.turnstile.now_ms();
        let mut found: Vec<Violation> = Vec::new();
        for event in self.mirror.store().drain_commits() {
            found.extend(self.checker.on_commit(&event, now_ms).err());
            if let Some(state) = &self.state {
                state.apply(&event, now_ms);
                found.extend(self.checker.on_state(state, now_ms).err());
            }
        }
        let exchanges = self.exchanges.clone();
        let exchanges = exchanges.borrow();
        while self.exchanges_fed < exchanges.len() {
            let (request, response, at_ms) = &exchanges[self.exchanges_fed];
            found.extend(self.checker.on_response(request, response, *at_ms).err());
            self.exchanges_fed += 1;
        }
        for violation in found {
            self.record(violation.invariant, violation.message, step);
        }
        if let Some(message) = self.driver.panicked.clone() {
            self.record("panic", message, step);
        }
        Ok(())
    }

    /// Steps `task` as the line says; PostgreSQL's description and outcome.
    async fn step(
        &mut self,
        task: usize,
        alternative: usize,
        store_resumed: bool,
    ) -> (String, String) {
        let turnstile = self.driver.turnstile.clone();
        if task >= self.driver.tasks() {
            return ("no such task on PostgreSQL".into(), "not run".into());
        }
        if turnstile.is_done(task) {
            return ("already finished on PostgreSQL".into(), "finished".into());
        }
        let driven = match turnstile.stop_of(task) {
            Some(Stop::Timer { deadline_ms }) => {
                return (
                    format!("sleeps on PostgreSQL's side until {deadline_ms} ms"),
                    "not run".into(),
                )
            }
            Some(Stop::Resume(_)) if !store_resumed => {
                // PostgreSQL made it wait where the store did not (the
                // earlier step shows it): resume it and run the statement
                // the store runs now, so that later steps stay aligned.
                match self.driver.step(task, 0).await {
                    Driven::Stopped if turnstile.stop_of(task).is_some() => {
                        self.driver.step(task, alternative).await
                    }
                    driven => driven,
                }
            }
            Some(Stop::Resume(_)) => self.driver.step(task, alternative).await,
            Some(_) if store_resumed => {
                return (
                    "nothing to resume: its statement did not wait on PostgreSQL".into(),
                    "done".into(),
                )
            }
            Some(_) => self.driver.step(task, alternative).await,
            None if turnstile.is_busy(task) => {
                // Still waiting on PostgreSQL: give it the time PostgreSQL
                // may need, then resume it if it finished.
                match self.driver.drive(task).await {
                    Driven::Waiting => {
                        return (
                            "still waits for a lock on PostgreSQL".into(),
                            "waits".into(),
                        )
                    }
                    Driven::Stopped => match turnstile.stop_of(task) {
                        Some(Stop::Resume(_)) => self.driver.step(task, 0).await,
                        _ => Driven::Stopped,
                    },
                }
            }
            None if self.driver.runnable(task) => self.driver.step(task, 0).await,
            None => {
                return (
                    "cannot step on PostgreSQL: it waits for work".into(),
                    "not run".into(),
                )
            }
        };
        self.describe(task, driven)
    }

    /// The statements that finished during a step, and its outcome for
    /// `task`.
    fn describe(&mut self, task: usize, driven: Driven) -> (String, String) {
        let finished = self.driver.turnstile.drain_finished();
        // A statement PostgreSQL let finish during another task's step
        // counts for the step that resumes its own task, as in the store.
        let mut mine: Vec<scheduler::Finished> = self.resumed.remove(&task).unwrap_or_default();
        mine.extend(finished.iter().filter(|s| s.task == task).cloned());
        let mut parts = Vec::new();
        let mut outcome = "done".to_string();
        for statement in &mine {
            let result = match &statement.error {
                None => "done".to_string(),
                Some(e) => format!("error {}", e.code.code()),
            };
            if outcome == "done"
                && statement
                    .error
                    .as_ref()
                    .is_some_and(|e| e.code.code() != "25P02")
            {
                outcome = result.clone();
            }
            let resumed = if statement.waited {
                " (after waiting)"
            } else {
                ""
            };
            parts.push(format!("{}{resumed} -> {result}", short(&statement.sql)));
        }
        if driven == Driven::Waiting {
            outcome = "waits".to_string();
            parts.push("waits for a lock".to_string());
        }
        if task < self.driver.tasks() && self.driver.turnstile.is_done(task) {
            parts.push("client finished".to_string());
        }
        for statement in finished.iter().filter(|s| s.task != task) {
            let result = match &statement.error {
                None => "done".to_string(),
                Some(e) => format!("error {}", e.code.code()),
            };
            parts.push(format!(
                "{}'s waiting {} finished -> {result}",
                self.name(statement.task),
                short(&statement.sql)
            ));
            self.resumed
                .entry(statement.task)
                .or_default()
                .push(statement.clone());
        }
        if parts.is_empty() {
            parts.push("ran client code (no statement)".to_string());
        }
        (parts.join("; "), outcome)
    }

    async fn clock_step(&mut self, alternative: usize) -> String {
        let turnstile = self.driver.turnstile.clone();
        match turnstile.next_timer_ms() {
            Some(next_ms) => {
                let target_ms = match alternative {
                    0 => next_ms,
                    1 => next_ms + 1,
                    _ => next_ms.saturating_sub(1),
                };
                turnstile.move_clock(target_ms);
                format!("clock moves to {} ms", turnstile.now_ms())
            }
            // The store's own timer (its deadlock_timeout): PostgreSQL
            // runs its own, so give a waiting statement that time.
            None => {
                let grace = self.driver_grace();
                self.driver.idle(grace).await;
                let (described, _) = self.describe(usize::MAX, Driven::Stopped);
                format!("no timer on PostgreSQL's side (the store's deadlock timer): waited; {described}")
            }
        }
    }

    fn driver_grace(&self) -> Duration {
        Duration::from_millis(4 * SCHEDULED_DEADLOCK_TIMEOUT_MS + 20).max(Duration::from_millis(50))
    }

    async fn run(
        &mut self,
        choices: &[explore::LineStep],
        replayed: &explore::Replayed,
    ) -> Result<Confirmation, ConfirmError> {
        self.driver.start().await;
        self.driver.turnstile.drain_finished();
        let mut steps = Vec::with_capacity(choices.len());
        for (index, (&(task, alternative), store)) in
            choices.iter().zip(&replayed.steps).enumerate()
        {
            let (name, (postgres, postgres_outcome)) = match task {
                None => (
                    "clock".to_string(),
                    (self.clock_step(alternative).await, "clock".to_string()),
                ),
                Some(task) => (
                    self.name(task),
                    self.step(task, alternative, store.resumed).await,
                ),
            };
            self.check(Some(index)).await?;
            steps.push(StepComparison {
                step: index,
                task: name,
                store: replayed.trace.get(index).cloned().unwrap_or_default(),
                postgres,
                store_outcome: store_outcome(store),
                postgres_outcome,
            });
        }
        let (finish, stuck) = self.finish().await?;
        let now_ms = self.driver.turnstile.now_ms();
        let state = self
            .state
            .as_ref()
            .map(|s| self.checker.on_state(s, now_ms));
        if let Some(Err(violation)) = state {
            self.record(violation.invariant, violation.message, None);
        }
        if let Err(violation) = self.checker.at_end(self.mirror.store(), now_ms) {
            self.record(violation.invariant, violation.message.clone(), None);
            self.record("state_agrees_at_end", violation.to_string(), None);
        }
        let divergence = first_divergence(&steps);
        Ok(Confirmation {
            line: String::new(),
            store_violation: None,
            postgres_violations: self.broken.clone(),
            confirmed: false,
            divergence,
            steps,
            finish,
            stuck,
            wall_ms: 0,
        })
    }

    /// Lets every task finish after the line: the lowest that can step,
    /// first alternatives, waiting statements given their time.
    async fn finish(&mut self) -> Result<(Vec<String>, Vec<String>), ConfirmError> {
        let mut finish = Vec::new();
        let mut idle_rounds = 0;
        for _ in 0..FINISH_STEPS_MAX {
            let turnstile = self.driver.turnstile.clone();
            let next = (0..self.driver.tasks()).find(|&t| {
                !turnstile.is_done(t)
                    && match turnstile.stop_of(t) {
                        Some(Stop::Timer { .. }) => false,
                        Some(_) => true,
                        None => !turnstile.is_busy(t) && self.driver.runnable(t),
                    }
            });
            if let Some(task) = next {
                idle_rounds = 0;
                let driven = self.driver.step(task, 0).await;
                let (described, _) = self.describe(task, driven);
                finish.push(format!("{}: {described}", self.name(task)));
                self.check(None).await?;
                continue;
            }
            if (0..self.driver.tasks()).any(|t| turnstile.is_busy(t)) && idle_rounds < 3 {
                idle_rounds += 1;
                let grace = self.driver_grace();
                self.driver.idle(grace * 10).await;
                continue;
            }
            match turnstile.next_timer_ms() {
                Some(next_ms) => {
                    turnstile.move_clock(next_ms);
                }
                None => break,
            }
        }
        let turnstile = self.driver.turnstile.clone();
        let stuck = (0..self.driver.tasks())
            .filter(|&t| {
                let parked_daemon = t >= self.first_daemon
                    && turnstile.stop_of(t).is_none()
                    && !turnstile.is_busy(t);
                !turnstile.is_done(t) && !parked_daemon
            })
            .map(|t| self.name(t))
            .collect();
        Ok((finish, stuck))
    }
}

/// Steps after the line at most, to let the clients finish.
const FINISH_STEPS_MAX: usize = 1_000;
