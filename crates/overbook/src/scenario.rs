//! Scenario files (`sims/*.toml`): the data, topology, arrival phases,
//! operation mix, client policy, faults and thresholds of one simulation.
//!
//! Every field has a default except `name` and `phases`; unknown fields are
//! errors naming the file, line and field. `--set key=value` overrides any
//! field by its dotted path after the file is read.

use crate::error::{line_column, InputError};
use crate::store::StoreConfig;
pub use crate::system::ClientPolicy;
use crate::system::{Bounds, System};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Limits on scenario values, in one place. Every scenario file and every
/// `--set` is checked against them on load, so that an accepted scenario
/// neither overflows nor outgrows memory on a 2-core, 24 GiB machine, and
/// fails with the field at fault (exit 2) instead of a panic mid-run.
///
/// | field | limit |
/// |---|---|
/// | `phases` | 1 to [`PHASES_MAX`](limits::PHASES_MAX) phases |
/// | `phases.N.duration_s` | 1 to [`PHASE_DURATION_S_MAX`](limits::PHASE_DURATION_S_MAX); all phases together at most [`ARRIVALS_S_MAX`](limits::ARRIVALS_S_MAX) |
/// | `phases.N.arrival_rate`, `phases.N.ramp_to` | 0 to [`ARRIVAL_RATE_MAX`](limits::ARRIVAL_RATE_MAX) users per second |
/// | `phases.N.burst` | at most [`BURST_PER_CLIENT_HOST_MAX`](limits::BURST_PER_CLIENT_HOST_MAX) per client host (turmoil gives a host 16,384 ephemeral ports) |
/// | `phases.N.max_users` | at least 1 |
/// | users in all phases | at most [`USERS_MAX`](limits::USERS_MAX) |
/// | `run.tick_ms` | 1 to 1000 |
/// | `run.drain_s` | at most [`DRAIN_S_MAX`](limits::DRAIN_S_MAX) |
/// | `run.max_steps` | 1 to [`STEPS_MAX`](limits::STEPS_MAX) |
/// | `run.history_check_every` | 1 to [`HISTORY_CHECK_EVERY_MAX`](limits::HISTORY_CHECK_EVERY_MAX) commits |
/// | `run.only_users` | at most [`USERS_MAX`](limits::USERS_MAX) entries |
/// | `run.max_memory_mb` | 1 to [`MEMORY_MB_MAX`](limits::MEMORY_MB_MAX); the data set the service declares ([`System::data_size_bytes`]) must fit in it |
/// | `topology.api_servers` | 1 to 16 |
/// | `topology.client_hosts` | 1 to 64 |
/// | `topology.pool_size` | 1 to [`POOL_SIZE_MAX`](limits::POOL_SIZE_MAX) |
/// | `topology.pool_max_waiting` | at most [`POOL_WAITING_MAX`](limits::POOL_WAITING_MAX) |
/// | `topology.network_latency_ms_*`, `store.latency.*_ms` | at most [`LATENCY_MS_MAX`](limits::LATENCY_MS_MAX) |
/// | `topology.tcp_capacity` | [`TCP_CAPACITY_MIN`](limits::TCP_CAPACITY_MIN) to [`TCP_CAPACITY_MAX`](limits::TCP_CAPACITY_MAX) |
/// | `client.timeout_ms` | 1 to [`TIMEOUT_MS_MAX`](limits::TIMEOUT_MS_MAX) |
/// | `client.retries_on_timeout`, `client.retries_on_409` | at most [`CLIENT_RETRIES_MAX`](limits::CLIENT_RETRIES_MAX) |
/// | `client.token_ttl_s` | at least 1 |
/// | fault probabilities | 0 to 1 |
/// | `faults.partitions`, `faults.holds`, `faults.crashes` | at most [`FAULTS_MAX`](limits::FAULTS_MAX) each; times and durations at most [`FAULT_S_MAX`](limits::FAULT_S_MAX) |
/// | `faults.clock.offset_ms_max`, `faults.clock.drift_ppm_max` | at most [`CLOCK_OFFSET_MS_MAX`](limits::CLOCK_OFFSET_MS_MAX), [`CLOCK_DRIFT_PPM_MAX`](limits::CLOCK_DRIFT_PPM_MAX) |
/// | `faults.pause.*_ms`, `faults.spike.*_ms` | `min_ms` <= `max_ms` <= [`LATENCY_MS_MAX`](limits::LATENCY_MS_MAX) |
/// | `thresholds` | a known metric (see [`crate::metrics::Metrics::value`]) and `<`, `<=`, `==`, `>=` or `>` a number |
///
/// The service's own sections (`[data]`, `[workload]`, `[service]`) are
/// checked by its [`System::validate`] (with [`Bounds`], as these are), and
/// the data set they declare against `run.max_memory_mb` before it is built.
/// Every problem is reported at once.
pub mod limits {
    /// Arrival phases at most.
    pub const PHASES_MAX: usize = 64;
    /// Simulated seconds of one phase at most (a day).
    pub const PHASE_DURATION_S_MAX: u64 = 86_400;
    /// Simulated seconds of all phases together at most (a week).
    pub const ARRIVALS_S_MAX: u64 = 7 * 86_400;
    /// New users per second at most.
    pub const ARRIVAL_RATE_MAX: f64 = 10_000.0;
    /// Users arriving at once at a phase's start, per client host.
    pub const BURST_PER_CLIENT_HOST_MAX: u64 = 10_000;
    /// Users in a run at most.
    pub const USERS_MAX: u64 = 200_000;
    /// Simulated seconds to drain after the last arrival at most.
    pub const DRAIN_S_MAX: u64 = 86_400;
    /// turmoil steps at most.
    pub const STEPS_MAX: u64 = 10_000_000_000;
    /// Commits between two searches of the history at most (the checker
    /// keeps at least that many transactions).
    pub const HISTORY_CHECK_EVERY_MAX: u64 = 100_000;
    /// Connections per API server at most.
    pub const POOL_SIZE_MAX: u32 = 10_000;
    /// Requests waiting for a connection per API server at most.
    pub const POOL_WAITING_MAX: u32 = 1_000_000;
    /// Any one latency at most, in milliseconds (a minute).
    pub const LATENCY_MS_MAX: u64 = 60_000;
    /// turmoil's socket buffer at least (its default; less panics under load).
    pub const TCP_CAPACITY_MIN: u32 = 64;
    /// turmoil's socket buffer at most.
    pub const TCP_CAPACITY_MAX: u32 = 1 << 24;
    /// A client's request timeout at most, in milliseconds (an hour).
    pub const TIMEOUT_MS_MAX: u64 = 3_600_000;
    /// Client resends of one request at most.
    pub const CLIENT_RETRIES_MAX: u32 = 100;
    /// Scheduled faults of each kind at most.
    pub const FAULTS_MAX: usize = 1_000;
    /// A fault's start, duration or downtime at most, in simulated seconds.
    pub const FAULT_S_MAX: u64 = 8 * 86_400;
    /// A host clock's offset from the database's at most, in ms (an hour).
    pub const CLOCK_OFFSET_MS_MAX: u64 = 3_600_000;
    /// A host clock's drift at most, in parts per million (10%).
    pub const CLOCK_DRIFT_PPM_MAX: u64 = 100_000;
    /// The memory budget of a run's data set by default, in MiB.
    pub const MEMORY_MB_DEFAULT: u64 = 4096;
    /// `run.max_memory_mb` at most (1 TiB).
    pub const MEMORY_MB_MAX: u64 = 1 << 20;
}

/// One scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario's name (kebab-case, like the file).
    pub name: String,
    /// What the scenario reproduces.
    #[serde(default)]
    pub description: String,
    /// Simulated time and step limits.
    #[serde(default)]
    pub run: RunConfig,
    /// API servers, client hosts, pool and network.
    #[serde(default)]
    pub topology: Topology,
    /// The service's data section (`[data]`), parsed by the service's
    /// [`System::Settings`].
    #[serde(default)]
    pub data: toml::Table,
    /// Database faults and latency.
    #[serde(default)]
    pub store: StoreConfig,
    /// The service's own settings section (`[service]`).
    #[serde(default)]
    pub service: toml::Table,
    /// Arrival phases, like Artillery's.
    pub phases: Vec<Phase>,
    /// What each virtual user does (`[workload]`), the service's.
    #[serde(default)]
    pub workload: toml::Table,
    /// How clients behave on timeouts, conflicts and expired tokens.
    #[serde(default)]
    pub client: ClientPolicy,
    /// Network and server faults.
    #[serde(default)]
    pub faults: Faults,
    /// What counts as a liveness violation beyond clients never finishing
    /// (both engines).
    #[serde(default)]
    pub liveness: Liveness,
    /// The model checker's settings for this scenario.
    #[serde(default)]
    pub explore: ExploreConfig,
    /// Virtual users written in the scenario as HTTP steps (`[flow]`),
    /// the load-test way, for a service whose users speak HTTP
    /// (`overbook::http::run_flow`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// Pass/fail thresholds: metric -> condition, e.g.
    /// `"requests.reserve.201" = "== 5"` or `"latency_ms.reserve.p95" = "< 500"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
    /// The text the scenario was parsed from, for errors in the service's
    /// sections that name the line.
    #[serde(skip)]
    origin: Origin,
}

/// Virtual users as HTTP steps, as k6 and Artillery scripts write them:
/// each user runs `iterations` rounds of the steps in order, with
/// variables drawn from its own random stream and values captured from
/// earlier responses.
///
/// ```toml
/// [flow]
/// iterations = 2
/// vars = { seats = { between = [1, 2] } }
///
/// [[flow.steps]]
/// name = "events"
/// method = "GET"
/// path = "/events"
/// capture = { event = "/*/id" }        # a random element's id
///
/// [[flow.steps]]
/// name = "hold"
/// method = "POST"
/// path = "/events/{event}/holds"
/// headers = { "Idempotency-Key" = "u{user}-{iteration}" }
/// json = { seats = "{seats}" }         # "{var}" alone keeps its type
/// expect = [200, 201]
/// capture = { hold = "/id" }
///
/// [[flow.steps]]
/// name = "confirm"
/// method = "POST"
/// path = "/holds/{hold}/confirm"
/// think_ms = [0, 1200]
/// probability = 0.8
///
/// [[flow.steps]]
/// name = "release"
/// method = "DELETE"
/// path = "/holds/{hold}"
/// unless = "confirm"                   # when confirm did not run
/// ```
///
/// A step whose response is missing, has a status outside `expect` (any
/// 2xx when empty) or lacks a capture ends the round: the steps after it
/// need what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Rounds of the steps per user.
    #[serde(default = "one_round")]
    pub iterations: u32,
    /// Variables drawn afresh each round: `{ between = [lo, hi] }` (an
    /// integer) or `{ pick = ["a", "b"] }`. `{user}` and `{iteration}`
    /// are always there.
    #[serde(default)]
    pub vars: BTreeMap<String, FlowVar>,
    /// The steps, in order.
    pub steps: Vec<FlowStep>,
}

fn one_round() -> u32 {
    1
}

/// A flow variable: an integer between two bounds, or one of a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowVar {
    /// An integer drawn between the two, inclusive.
    #[serde(default)]
    pub between: Option<[i64; 2]>,
    /// One of these, drawn.
    #[serde(default)]
    pub pick: Vec<String>,
}

/// One HTTP request of a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowStep {
    /// The step's name (for `unless`).
    pub name: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The path, with `{var}` placeholders.
    pub path: String,
    /// A JSON body, with `{var}` placeholders in its strings.
    #[serde(default)]
    pub json: Option<toml::Value>,
    /// Headers, with `{var}` placeholders in their values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The statuses that let the round go on (any 2xx when empty).
    #[serde(default)]
    pub expect: Vec<u16>,
    /// Variables taken from the response's JSON body by pointer (`/id`);
    /// a `*` segment takes a random element of an array.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Thinks between these many ms before the step.
    #[serde(default)]
    pub think_ms: Option<[u64; 2]>,
    /// Runs with this chance (always when absent).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Runs only when the named earlier step did not run this round.
    #[serde(default)]
    pub unless: Option<String>,
}

impl Flow {
    /// Checks what the types do not: methods, probabilities, bounds, and
    /// that every placeholder and `unless` names something defined before
    /// it.
    fn validate(&self, bounds: &mut Bounds) {
        bounds
            .within("flow.iterations", self.iterations, 1, 10_000)
            .check("flow.steps", !self.steps.is_empty(), "at least one step")
            .check("flow.steps", self.steps.len() <= 64, "at most 64 steps");
        for (name, var) in &self.vars {
            let field = format!("flow.vars.{name}");
            let one_kind = var.between.is_some() == var.pick.is_empty();
            bounds.check(
                &field,
                one_kind,
                "either `between = [lo, hi]` or `pick = [...]`",
            );
            if let Some([lo, hi]) = var.between {
                bounds.check(&field, lo <= hi, "`between`'s low bound above its high");
            }
        }
        let mut known: Vec<String> = self.vars.keys().cloned().collect();
        known.extend(["user".to_string(), "iteration".to_string()]);
        let mut earlier: Vec<&str> = Vec::new();
        for (n, step) in self.steps.iter().enumerate() {
            let field = |what: &str| format!("flow.steps.{n}.{what}");
            let method = step.method.to_ascii_uppercase();
            let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
            bounds.check(
                &field("method"),
                methods.contains(&method.as_str()),
                "GET, POST, PUT, PATCH or DELETE",
            );
            bounds.check(
                &field("path"),
                step.path.starts_with('/'),
                "a path starts with /",
            );
            if let Some(p) = step.probability {
                bounds.probability(&field("probability"), p);
            }
            if let Some([lo, hi]) = step.think_ms {
                bounds.check(
                    &field("think_ms"),
                    lo <= hi && hi <= 3_600_000,
                    "[min, max] with min <= max <= 3600000",
                );
            }
            if let Some(unless) = &step.unless {
                bounds.check(
                    &field("unless"),
                    earlier.contains(&unless.as_str()),
                    format!("no earlier step is named {unless:?}"),
                );
            }
            let mut texts = vec![(field("path"), step.path.clone())];
            texts.extend(
                step.headers
                    .iter()
                    .map(|(h, v)| (field(&format!("headers.{h}")), v.clone())),
            );
            if let Some(json) = &step.json {
                texts.push((field("json"), json.to_string()));
            }
            for (at, text) in texts {
                for var in placeholders(&text) {
                    bounds.check(&at, known.contains(&var), format!("{{{var}}} is neither a var, a capture of an earlier step, user nor iteration"));
                }
            }
            known.extend(step.capture.keys().cloned());
            earlier.push(&step.name);
        }
    }
}

/// The `{name}` placeholders of `text`.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            found.push(name.to_string());
        }
        rest = &after[close + 1..];
    }
    found
}

/// Where a scenario's text came from. Two scenarios that differ only in
/// origin are equal.
#[derive(Clone, Debug, Default)]
struct Origin {
    text: String,
    source: String,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

/// Limits of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Simulated milliseconds per turmoil step. Larger ticks are cheaper;
    /// latencies are whole ticks.
    pub tick_ms: u64,
    /// Simulated seconds after the last arrival for clients to finish
    /// before a liveness violation is reported.
    pub drain_s: u64,
    /// Hard limit on turmoil steps.
    pub max_steps: u64,
    /// Check invariants after every step (off: only at the end).
    pub check_every_step: bool,
    /// Run the serializability checker over the committed history as it
    /// grows (on by default; `check_history = false`, or `--no-history-check`
    /// on the command line, turns it off). A cycle that the isolation
    /// level of its transactions forbids is the violation
    /// `serializable_history`, found at the step it appeared.
    pub check_history: bool,
    /// What an anomaly that its transactions' isolation level allows (write
    /// skew at Repeatable Read, a lost update at Read Committed) does:
    /// `"report"` lists it in the report, `"fatal"` makes it the violation
    /// `history_anomaly`, `"off"` ignores it.
    pub history_anomalies: HistoryAnomalies,
    /// Search the history for cycles after every this many commits (1:
    /// at the step a cycle appears; larger: cheaper, found up to that many
    /// commits late).
    pub history_check_every: u64,
    /// Moves each rate-driven arrival later by up to this fraction of its
    /// phase's mean gap, drawn from the seed (0 to 1). Unset: arrivals are
    /// evenly spaced, as Artillery spaces them, and `overbook fuzz` sets 1
    /// so that seeds vary when users meet; set it (to 0 or more) to pin it.
    pub arrival_jitter: Option<f64>,
    /// Only these users (by arrival index) run; empty: all. Shrinking uses
    /// it to drop single users while keeping every other user's arrival
    /// time and random stream.
    pub only_users: Vec<u32>,
    /// The memory budget of the data set, in MiB: a scenario whose data
    /// set the service declares larger ([`System::data_size_bytes`]) is an
    /// input error before anything is built, instead of an allocation that
    /// aborts the process.
    pub max_memory_mb: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            tick_ms: 1,
            drain_s: 60,
            max_steps: 50_000_000,
            check_every_step: true,
            check_history: true,
            history_anomalies: HistoryAnomalies::Report,
            history_check_every: 1,
            arrival_jitter: None,
            only_users: Vec::new(),
            max_memory_mb: limits::MEMORY_MB_DEFAULT,
        }
    }
}

/// What the history checker does with an anomaly that the isolation level
/// of its transactions allows ([`RunConfig::history_anomalies`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryAnomalies {
    /// Listed in the report as a finding; the run still passes.
    #[default]
    Report,
    /// The violation `history_anomaly`.
    Fatal,
    /// Neither listed nor fatal.
    Off,
}

/// Liveness properties, checked on every response by the world and the
/// model checker alike. A 503 and a slow answer are outcomes a load test
/// may expect, so both are off by default; but a handler stuck far longer
/// than a deadlock takes to break is not, so the world bounds how long a
/// handler runs even when the scenario sets nothing
/// ([`Liveness::handler_ms_max`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Liveness {
    /// A 503 (the server's retry budget ran out, on 40001/40P01) is a
    /// `liveness` violation.
    pub retries_exhausted: bool,
    /// A response that arrives more than this long after its request was
    /// sent is a `liveness` violation (a deadlock stalls for the store's
    /// `deadlock_timeout_ms`), and so, in the world, is a handler still
    /// running this long after it started, reported at that moment rather
    /// than when (if ever) it answers. Unset: answers are not judged, and
    /// a running handler is held to the default bound
    /// ([`Liveness::handler_ms_max`]) while no transaction ends for as long
    /// (a stall, not a queue that moves); `0`: no bound at all.
    pub request_ms_max: Option<u64>,
    /// More deadlocks than this broken by the store within any stretch of
    /// twice `deadlock_timeout_ms` is a `liveness` violation in the world,
    /// reported when the one over the bound is broken. Unset: 0, so the
    /// first deadlock is reported. A deadlock stalls its transactions for
    /// `deadlock_timeout_ms` (1 s, as PostgreSQL) before one fails with
    /// 40P01: requests that take their locks in orders that wait on each
    /// other are slow long before any one of them trips a request bound,
    /// and PostgreSQL's advice is to take locks in one order, as the
    /// bundled services and the correct tickets service do (none of them
    /// deadlocks). A service that expects the odd deadlock and retries it
    /// says how many it allows in a stretch (a large number: no bound).
    pub deadlocks_max: Option<u32>,
}

/// The default bound on a running handler, in multiples of the store's
/// `deadlock_timeout_ms` (1 s by default, as PostgreSQL's): a handler may
/// wait out one deadlock the store breaks and retry, but one still running
/// half a timeout later, with no transaction ended meanwhile, is stuck behind
/// more than that (a deadlock the database cannot see, a pool drained by
/// such handlers, a storm).
pub const HANDLER_BOUND_PER_DEADLOCK_TIMEOUT: f64 = 1.5;

impl Liveness {
    /// The bound on answers clients see: `request_ms_max`, unless unset
    /// or 0.
    pub fn answer_ms_max(&self) -> Option<u64> {
        self.request_ms_max.filter(|&max| max > 0)
    }

    /// How long the world lets a handler run before it reports a
    /// `liveness` violation, while the handler still runs: the scenario's
    /// `request_ms_max` when set (none when 0), else
    /// [`HANDLER_BOUND_PER_DEADLOCK_TIMEOUT`] times `deadlock_timeout_ms`
    /// (1,500 ms by default).
    ///
    /// ```
    /// use overbook::scenario::Liveness;
    /// assert_eq!(Liveness::default().handler_ms_max(1000), Some(1500));
    /// let set = Liveness { request_ms_max: Some(800), ..Liveness::default() };
    /// assert_eq!(set.handler_ms_max(1000), Some(800));
    /// let off = Liveness { request_ms_max: Some(0), ..Liveness::default() };
    /// assert_eq!(off.handler_ms_max(1000), None);
    /// ```
    pub fn handler_ms_max(&self, deadlock_timeout_ms: u64) -> Option<u64> {
        match self.request_ms_max {
            Some(0) => None,
            Some(max) => Some(max),
            None => {
                let bound = deadlock_timeout_ms as f64 * HANDLER_BOUND_PER_DEADLOCK_TIMEOUT;
                Some((bound as u64).max(1))
            }
        }
    }

    /// How many deadlocks may be broken within twice
    /// `deadlock_timeout_ms` ([`Liveness::deadlocks_max`]; 0 unless set).
    ///
    /// ```
    /// use overbook::scenario::Liveness;
    /// assert_eq!(Liveness::default().deadlocks_allowed(), 0);
    /// let some = Liveness { deadlocks_max: Some(3), ..Liveness::default() };
    /// assert_eq!(some.deadlocks_allowed(), 3);
    /// ```
    pub fn deadlocks_allowed(&self) -> u32 {
        self.deadlocks_max.unwrap_or(0)
    }

    /// Why a response with `status` after `attempts` tries, sent at
    /// `sent_ms` and received at `received_ms`, breaks liveness, if it
    /// does.
    pub fn broken(
        &self,
        status: u16,
        attempts: u32,
        sent_ms: u64,
        received_ms: u64,
    ) -> Option<String> {
        if self.retries_exhausted && status == 503 {
            return Some(format!(
                "answered 503 after {attempts} attempts (the retry budget ran out)"
            ));
        }
        let waited_ms = received_ms.saturating_sub(sent_ms);
        match self.answer_ms_max() {
            Some(max) if waited_ms > max => Some(format!(
                "answered {status} after {waited_ms} ms, over the bound of {max} ms (sent at {sent_ms} ms)"
            )),
            _ => None,
        }
    }
}

/// How `overbook explore` models a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExploreConfig {
    /// Clock steps a schedule may take while a task could still run (see
    /// `explore::Model::time_jumps`); 0: time moves only when no task can
    /// run. One by default: enough for a background round or a backoff to
    /// come due while a request is half done.
    pub time_jumps: u32,
    /// Rounds each background job of the service runs in a schedule, each
    /// a period after the last.
    pub background_runs: u32,
    /// Requests per client when `explore` is not given `--ops`.
    pub ops: u32,
    /// Connections each model-checking client may open
    /// (`UserContext::connection`), each a task of its own: 1 (no request
    /// in flight beside another) by default.
    pub connections: u32,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig {
            time_jumps: 1,
            background_runs: 1,
            ops: 1,
            connections: 1,
        }
    }
}

/// Hosts and network.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    /// API server hosts sharing the database.
    pub api_servers: u32,
    /// Hosts the virtual users run on, as tasks (not one host each: turmoil's
    /// per-step cost grows steeply with hosts).
    pub client_hosts: u32,
    /// Database connections per API server.
    pub pool_size: u32,
    /// Requests that may wait for a connection per API server (more: 53300).
    pub pool_max_waiting: u32,
    /// One-way network latency, lowest.
    pub network_latency_ms_min: u64,
    /// One-way network latency, highest.
    pub network_latency_ms_max: u64,
    /// turmoil's per-socket buffer (its default of 64 overflows under load).
    pub tcp_capacity: u32,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            api_servers: 2,
            client_hosts: 8,
            pool_size: 20,
            pool_max_waiting: 10_000,
            network_latency_ms_min: 1,
            network_latency_ms_max: 3,
            tcp_capacity: 65_536,
        }
    }
}

/// An arrival phase: new virtual users per second for a duration, optionally
/// ramping linearly to another rate, with a cap on users at once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Length of the phase in simulated seconds.
    pub duration_s: u64,
    /// New users per second at the start of the phase.
    pub arrival_rate: f64,
    /// New users per second at the end (linear ramp); default: constant.
    #[serde(default)]
    pub ramp_to: Option<f64>,
    /// Users arriving at once at the phase's start (a burst, like Locust's
    /// spawn of N users), in addition to the rate.
    #[serde(default)]
    pub burst: u32,
    /// At most this many users alive at once; arrivals over it are skipped
    /// (Artillery's maxVusers).
    #[serde(default)]
    pub max_users: Option<u32>,
}

/// A network fault between two groups of hosts for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFault {
    /// When it starts, simulated seconds from the run's start.
    pub at_s: u64,
    /// How long it lasts.
    pub duration_s: u64,
    /// One side: a host name (`api-0`, `clients-3`) or a glob (`clients-*`).
    pub a: String,
    /// The other side.
    pub b: String,
}

/// An API server crash and restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// When, simulated seconds.
    pub at_s: u64,
    /// Which API server (0-based).
    pub server: u32,
    /// How long it stays down.
    pub down_s: u64,
}

/// Network and server faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Partitions: messages dropped both ways.
    pub partitions: Vec<LinkFault>,
    /// Holds: messages queued both ways until released.
    pub holds: Vec<LinkFault>,
    /// API server crashes; in-flight transactions roll back.
    pub crashes: Vec<Crash>,
    /// Probability that a server drops the connection after committing,
    /// instead of answering (the client sees a timeout).
    pub lost_response_probability: f64,
    /// Each API host's clock against the database's (`[faults.clock]`).
    pub clock: ClockFaults,
    /// API hosts stalling mid-request, locks held (`[faults.pause]`).
    pub pause: PauseFaults,
    /// Extra delay on single statements and commits (`[faults.spike]`).
    pub spike: SpikeFaults,
    /// Fault points in service code (`[faults.buggify]`).
    pub buggify: BuggifyConfig,
}

/// Per-host clock faults: what a handler or background job on API server
/// `N` reads as the time ([`crate::system::Env::now_ms`]) is the database's
/// time (the world's, which the store and [`crate::store::Tx::clock_ms`]
/// keep) plus an offset and a drift, both drawn per host from the seed,
/// uniformly within `[-max, +max]`. Both 0 (the default): every clock
/// agrees. Sleeps are unaffected: they last simulated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockFaults {
    /// Largest offset of a host's clock from the database's, in ms (at
    /// most [`CLOCK_OFFSET_MS_MAX`](limits::CLOCK_OFFSET_MS_MAX)). A clock
    /// behind the start of the run reads 0 until it catches up.
    pub offset_ms_max: u64,
    /// Largest drift of a host's clock, in parts per million (at most
    /// [`CLOCK_DRIFT_PPM_MAX`](limits::CLOCK_DRIFT_PPM_MAX)): 100 ppm gains
    /// or loses 0.1 ms a simulated second.
    pub drift_ppm_max: u64,
}

impl ClockFaults {
    /// Whether any host's clock may differ from the database's.
    pub fn is_on(&self) -> bool {
        self.offset_ms_max > 0 || self.drift_ppm_max > 0
    }
}

/// Host pauses (a long GC or a VM stall): before a statement or commit on
/// an API host, with `probability`, the host stalls for a duration drawn
/// between `min_ms` and `max_ms`. Every request and background job on that
/// host waits at its next statement until the stall ends; the
/// transactions it has open keep their locks, so other hosts' transactions
/// wait on them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PauseFaults {
    /// Probability per statement (0 to 1) that the host pauses before it.
    pub probability: f64,
    /// Shortest pause.
    pub min_ms: u64,
    /// Longest pause (at most [`LATENCY_MS_MAX`](limits::LATENCY_MS_MAX)).
    pub max_ms: u64,
}

impl Default for PauseFaults {
    fn default() -> Self {
        PauseFaults {
            probability: 0.0,
            min_ms: 100,
            max_ms: 1000,
        }
    }
}

/// Latency spikes on one statement or one commit: with the probability,
/// that statement alone takes an extra delay drawn between `min_ms` and
/// `max_ms`, on top of `store.latency`. Unlike `store.latency.spike_*`,
/// each spike is drawn per API host and shows in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeFaults {
    /// Probability per statement other than a commit (0 to 1).
    pub probability: f64,
    /// Probability per commit (0 to 1).
    pub commit_probability: f64,
    /// Smallest extra delay.
    pub min_ms: u64,
    /// Largest extra delay (at most [`LATENCY_MS_MAX`](limits::LATENCY_MS_MAX)).
    pub max_ms: u64,
}

impl Default for SpikeFaults {
    fn default() -> Self {
        SpikeFaults {
            probability: 0.0,
            commit_probability: 0.0,
            min_ms: 20,
            max_ms: 200,
        }
    }
}

/// Fault points in service code ([`crate::system::ServerContext::buggify`]),
/// as FoundationDB's `BUGGIFY`: with `enabled`, each named point is on or
/// off for the whole run (on with `point_probability`, drawn from the seed
/// and the point's name), and an enabled point fires with
/// `fire_probability` each time a handler or background job reaches it.
/// Off (the default), every point is inert.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuggifyConfig {
    /// Whether fault points can fire at all.
    pub enabled: bool,
    /// Probability (0 to 1) that a point is enabled for the run.
    pub point_probability: f64,
    /// Probability (0 to 1) that an enabled point fires when reached.
    pub fire_probability: f64,
}

impl Default for BuggifyConfig {
    fn default() -> Self {
        BuggifyConfig {
            enabled: false,
            point_probability: 0.25,
            fire_probability: 0.25,
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, InputError> {
        let text = std::fs::read_to_string(path).map_err(|err| InputError::io(path, &err))?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parses scenario text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Scenario, InputError> {
        let mut scenario: Scenario = deserialize_located(text, source)?;
        scenario
            .validate()
            .map_err(|err| locate(err.in_source(source), text))?;
        scenario.origin = Origin {
            text: text.to_string(),
            source: source.to_string(),
        };
        Ok(scenario)
    }

    /// This scenario with `key=value` overrides applied. Keys are dotted
    /// paths (`workload.mix.reserve`, `phases.0.arrival_rate`); values are
    /// TOML (`10`, `0.5`, `true`, `"text"`, `[1, 2]`), or a bare string.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Scenario, InputError> {
        self.apply_overrides(overrides, &|_| Ok(()))
    }

    /// [`Scenario::with_overrides`], checking the service's sections too.
    pub fn with_overrides_for<S: System>(
        &self,
        system: &S,
        overrides: &[String],
    ) -> Result<Scenario, InputError> {
        self.apply_overrides(overrides, &|scenario| scenario.settings(system).map(|_| ()))
    }

    /// Applies every override, then checks the result once (its own
    /// validation and `check`), so that their order does not matter; the
    /// error holds every problem found, each blamed on the override that
    /// set its field (or on the scenario with its overrides).
    fn apply_overrides(
        &self,
        overrides: &[String],
        check: &dyn Fn(&Scenario) -> Result<(), InputError>,
    ) -> Result<Scenario, InputError> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let mut value =
            toml::Value::try_from(self).map_err(|err| InputError::new(err.to_string()))?;
        let mut problems = Vec::new();
        // (path, `--set path=value`) of each override applied.
        let mut applied: Vec<(String, String)> = Vec::new();
        for assignment in overrides {
            let source = format!("--set {assignment}");
            let Some((path, raw)) = assignment.split_once('=') else {
                problems.push(
                    InputError::new("expected key=value (for example workload.mix.reserve=50)")
                        .in_source(source),
                );
                continue;
            };
            let path = path.trim();
            match set_path(&mut value, path, parse_override_value(raw.trim())) {
                Ok(()) => applied.push((path.to_string(), source)),
                Err(message) => {
                    problems.push(InputError::new(message).in_source(source).at_field(path))
                }
            }
        }
        let whole = format!("{} with --set", self.origin.source);
        // The override whose path is the error's field, inside it or
        // around it; the last one wins, as its value does.
        let blame = |mut err: InputError| {
            let field = err.field.clone().unwrap_or_default();
            let related = |path: &str| {
                field == path
                    || field.starts_with(&format!("{path}."))
                    || path.starts_with(&format!("{field}."))
            };
            err.source = Some(match applied.iter().rev().find(|(path, _)| related(path)) {
                Some((_, source)) => source.clone(),
                None if applied.len() == 1 => applied[0].1.clone(),
                None => whole.clone(),
            });
            err.line = None;
            err.column = None;
            err
        };
        let text = toml::to_string(&value).map_err(|err| InputError::new(err.to_string()))?;
        match deserialize_located::<Scenario>(&text, "--set") {
            Err(err) => problems.extend(err.map_each(blame).into_each()),
            Ok(scenario) => {
                for result in [scenario.validate(), check(&scenario)] {
                    if let Err(err) = result {
                        problems.extend(err.map_each(blame).into_each());
                    }
                }
            }
        }
        if let Some(err) = InputError::all(problems) {
            return Err(err);
        }
        let mut scenario: Scenario = deserialize_located(&text, "--set")?;
        scenario.origin = Origin {
            text,
            source: whole,
        };
        Ok(scenario)
    }

    /// Parses and validates the service's own sections (`[data]`,
    /// `[workload]`, `[service]`) into `S::Settings`. Errors name the file,
    /// line and field as for the generic sections.
    pub fn settings<S: System>(&self, system: &S) -> Result<S::Settings, InputError> {
        let owned = if self.origin.text.is_empty() {
            let mut table = toml::Table::new();
            table.insert("data".into(), toml::Value::Table(self.data.clone()));
            table.insert("workload".into(), toml::Value::Table(self.workload.clone()));
            table.insert("service".into(), toml::Value::Table(self.service.clone()));
            Origin {
                text: toml::to_string(&table).map_err(|err| InputError::new(err.to_string()))?,
                source: self.name.clone(),
            }
        } else {
            self.origin.clone()
        };
        let settings: S::Settings = deserialize_located(&owned.text, &owned.source)?;
        let locate = |err: InputError| locate(err.in_source(owned.source.clone()), &owned.text);
        system.validate(&settings).map_err(locate)?;
        if let Some((field, retry)) = S::retry_config(&settings) {
            Bounds::new().retry(field, retry).finish().map_err(locate)?;
        }
        // Only once the service's bounds hold: its size estimate may assume them.
        let declared_mb = system.data_size_bytes(&settings).div_ceil(1 << 20);
        Bounds::new()
            .check(
                "run.max_memory_mb",
                declared_mb <= self.run.max_memory_mb,
                format!(
                    "the data set ([data]) would take about {declared_mb} MiB, over the budget of {} MiB: make it smaller, or raise run.max_memory_mb if the machine has the memory",
                    self.run.max_memory_mb
                ),
            )
            .finish()
            .map_err(locate)?;
        Ok(settings)
    }

    /// Loads a scenario file for `system`: the generic sections and the
    /// service's own, both validated.
    pub fn load_for<S: System>(system: &S, path: &Path) -> Result<Scenario, InputError> {
        let scenario = Scenario::load(path)?;
        scenario.settings(system)?;
        Ok(scenario)
    }

    /// Checks values that the types alone cannot, against the [`limits`]:
    /// every problem at once (the first, the others in
    /// [`InputError::also`]).
    pub fn validate(&self) -> Result<(), InputError> {
        let mut bounds = Bounds::new();
        bounds
            .check("name", !self.name.trim().is_empty(), "must not be empty")
            .check(
                "phases",
                !self.phases.is_empty(),
                "at least one arrival phase is needed",
            )
            .check(
                "phases",
                self.phases.len() <= limits::PHASES_MAX,
                format!("at most {} phases", limits::PHASES_MAX),
            );
        self.validate_phases(&mut bounds);
        if let Some(flow) = &self.flow {
            flow.validate(&mut bounds);
        }
        self.validate_limits(&mut bounds);
        self.validate_host_faults(&mut bounds);
        let topology = &self.topology;
        bounds
            .within("run.tick_ms", self.run.tick_ms, 1, 1000)
            .within(
                "run.max_memory_mb",
                self.run.max_memory_mb,
                1,
                limits::MEMORY_MB_MAX,
            )
            .within("topology.api_servers", topology.api_servers, 1, 16)
            .within("topology.client_hosts", topology.client_hosts, 1, 64)
            .at_least("topology.pool_size", topology.pool_size, 1)
            .check(
                "topology.network_latency_ms_min",
                topology.network_latency_ms_min <= topology.network_latency_ms_max,
                "must not exceed network_latency_ms_max",
            );
        for (name, p) in self.fault_probabilities() {
            bounds.probability(name, p);
        }
        if let Some(jitter) = self.run.arrival_jitter {
            bounds.within("run.arrival_jitter", jitter, 0.0, 1.0);
        }
        let latency = &self.store.latency;
        bounds.check(
            "store.latency.min_ms",
            latency.min_ms <= latency.max_ms || latency.max_ms == 0,
            "must not exceed max_ms",
        );
        for (index, crash) in self.faults.crashes.iter().enumerate() {
            bounds.check(
                &format!("faults.crashes.{index}.server"),
                crash.server < topology.api_servers,
                format!(
                    "there are only {} API servers (0-based)",
                    topology.api_servers
                ),
            );
        }
        for (metric, condition) in &self.thresholds {
            let field = format!("thresholds.{metric}");
            if let Err(err) = Threshold::parse(metric, condition) {
                bounds.error(err.at_field(field));
                continue;
            }
            bounds.check(
                &field,
                crate::metrics::Metrics::new().value(metric).is_some(),
                format!("unknown metric `{metric}`; known: requests.total, requests.<op>.total, requests.<op>.<status|timeout>, status.<status|timeout>, latency_ms.<op>.<p50|p95|p99|max>, retries.<count|exhausted|client>, users.<started|finished>"),
            );
        }
        bounds.finish()
    }

    /// The arrival phases against the [`limits`].
    fn validate_phases(&self, bounds: &mut Bounds) {
        let burst_max = limits::BURST_PER_CLIENT_HOST_MAX * u64::from(self.topology.client_hosts);
        let (mut users, mut seconds) = (0.0f64, 0u64);
        for (index, phase) in self.phases.iter().enumerate() {
            let field = |name: &str| format!("phases.{index}.{name}");
            bounds
                .within(
                    &field("duration_s"),
                    phase.duration_s,
                    1,
                    limits::PHASE_DURATION_S_MAX,
                )
                .within(
                    &field("arrival_rate"),
                    phase.arrival_rate,
                    0.0,
                    limits::ARRIVAL_RATE_MAX,
                )
                .check(
                    &field("burst"),
                    u64::from(phase.burst) <= burst_max,
                    format!(
                        "at most {burst_max} ({} per client host: each has 16,384 ports)",
                        limits::BURST_PER_CLIENT_HOST_MAX
                    ),
                )
                .check(
                    &field("max_users"),
                    phase.max_users != Some(0),
                    "must be at least 1 (0 lets nobody in)",
                );
            if let Some(to) = phase.ramp_to {
                bounds.within(&field("ramp_to"), to, 0.0, limits::ARRIVAL_RATE_MAX);
            }
            seconds = seconds.saturating_add(phase.duration_s);
            let mean_rate =
                (phase.arrival_rate + phase.ramp_to.unwrap_or(phase.arrival_rate)) / 2.0;
            users += f64::from(phase.burst) + mean_rate * phase.duration_s as f64;
        }
        bounds
            .check(
                "phases",
                seconds <= limits::ARRIVALS_S_MAX,
                format!(
                    "{seconds} s of arrivals in all; at most {}",
                    limits::ARRIVALS_S_MAX
                ),
            )
            .check(
                "phases",
                users <= limits::USERS_MAX as f64,
                format!(
                    "about {users:.0} users arrive; at most {}",
                    limits::USERS_MAX
                ),
            );
    }

    /// Run, topology, client and fault values against the [`limits`].
    fn validate_limits(&self, bounds: &mut Bounds) {
        self.validate_run_limits(bounds);
        self.validate_topology_limits(bounds);
        self.validate_client_limits(bounds);
        self.validate_fault_schedule_limits(bounds);
    }

    /// The run's and the model checker's sizes, and the store's deadlock
    /// timeout.
    fn validate_run_limits(&self, bounds: &mut Bounds) {
        let run = &self.run;
        bounds
            .at_most("run.drain_s", run.drain_s, limits::DRAIN_S_MAX)
            .at_most("explore.time_jumps", self.explore.time_jumps, 16)
            .within("explore.ops", self.explore.ops, 1, 8)
            .within("explore.connections", self.explore.connections, 1, 4)
            .at_most("explore.background_runs", self.explore.background_runs, 8)
            .at_most(
                "store.deadlock_timeout_ms",
                self.store.deadlock_timeout_ms,
                600_000,
            )
            .within("run.max_steps", run.max_steps, 1, limits::STEPS_MAX)
            .within(
                "run.history_check_every",
                run.history_check_every,
                1,
                limits::HISTORY_CHECK_EVERY_MAX,
            )
            .at_most(
                "run.only_users",
                run.only_users.len() as u64,
                limits::USERS_MAX,
            );
    }

    /// The servers' pool and network, and the store's latency.
    fn validate_topology_limits(&self, bounds: &mut Bounds) {
        let topology = &self.topology;
        bounds
            .at_most(
                "topology.pool_size",
                topology.pool_size,
                limits::POOL_SIZE_MAX,
            )
            .at_most(
                "topology.pool_max_waiting",
                topology.pool_max_waiting,
                limits::POOL_WAITING_MAX,
            )
            .at_most(
                "topology.network_latency_ms_max",
                topology.network_latency_ms_max,
                limits::LATENCY_MS_MAX,
            )
            .within(
                "topology.tcp_capacity",
                topology.tcp_capacity,
                limits::TCP_CAPACITY_MIN,
                limits::TCP_CAPACITY_MAX,
            )
            .at_most(
                "store.latency.max_ms",
                self.store.latency.max_ms,
                limits::LATENCY_MS_MAX,
            )
            .at_most(
                "store.latency.min_ms",
                self.store.latency.min_ms,
                limits::LATENCY_MS_MAX,
            )
            .at_most(
                "store.latency.spike_ms",
                self.store.latency.spike_ms,
                limits::LATENCY_MS_MAX,
            );
    }

    /// The virtual users' timeouts, tokens and retries.
    fn validate_client_limits(&self, bounds: &mut Bounds) {
        let client = &self.client;
        bounds
            .within(
                "client.timeout_ms",
                client.timeout_ms,
                1,
                limits::TIMEOUT_MS_MAX,
            )
            .within(
                "client.token_ttl_s",
                client.token_ttl_s,
                1,
                limits::FAULT_S_MAX,
            )
            .at_most(
                "client.retries_on_timeout",
                client.retries_on_timeout,
                limits::CLIENT_RETRIES_MAX,
            )
            .at_most(
                "client.retries_on_409",
                client.retries_on_409,
                limits::CLIENT_RETRIES_MAX,
            );
    }

    /// How many partitions, holds and crashes, and when.
    fn validate_fault_schedule_limits(&self, bounds: &mut Bounds) {
        for (kind, links) in [
            ("partitions", &self.faults.partitions),
            ("holds", &self.faults.holds),
        ] {
            bounds.at_most(&format!("faults.{kind}"), links.len(), limits::FAULTS_MAX);
            for (index, link) in links.iter().enumerate() {
                bounds
                    .at_most(
                        &format!("faults.{kind}.{index}.at_s"),
                        link.at_s,
                        limits::FAULT_S_MAX,
                    )
                    .at_most(
                        &format!("faults.{kind}.{index}.duration_s"),
                        link.duration_s,
                        limits::FAULT_S_MAX,
                    );
            }
        }
        bounds.at_most(
            "faults.crashes",
            self.faults.crashes.len(),
            limits::FAULTS_MAX,
        );
        for (index, crash) in self.faults.crashes.iter().enumerate() {
            bounds
                .at_most(
                    &format!("faults.crashes.{index}.at_s"),
                    crash.at_s,
                    limits::FAULT_S_MAX,
                )
                .at_most(
                    &format!("faults.crashes.{index}.down_s"),
                    crash.down_s,
                    limits::FAULT_S_MAX,
                );
        }
    }

    /// Clock, pause and spike bounds against the [`limits`].
    fn validate_host_faults(&self, bounds: &mut Bounds) {
        let faults = &self.faults;
        bounds
            .at_most(
                "faults.clock.offset_ms_max",
                faults.clock.offset_ms_max,
                limits::CLOCK_OFFSET_MS_MAX,
            )
            .at_most(
                "faults.clock.drift_ppm_max",
                faults.clock.drift_ppm_max,
                limits::CLOCK_DRIFT_PPM_MAX,
            );
        for (section, min_ms, max_ms) in [
            ("pause", faults.pause.min_ms, faults.pause.max_ms),
            ("spike", faults.spike.min_ms, faults.spike.max_ms),
        ] {
            bounds
                .at_most(
                    &format!("faults.{section}.max_ms"),
                    max_ms,
                    limits::LATENCY_MS_MAX,
                )
                .check(
                    &format!("faults.{section}.min_ms"),
                    min_ms <= max_ms,
                    format!("{min_ms} is more than max_ms ({max_ms})"),
                );
        }
        // Not among the fault probabilities: they only matter when
        // `enabled`, which shrinking turns off as a whole.
        bounds
            .probability(
                "faults.buggify.point_probability",
                faults.buggify.point_probability,
            )
            .probability(
                "faults.buggify.fire_probability",
                faults.buggify.fire_probability,
            );
    }

    /// The fault probabilities by field path: what swarm testing draws,
    /// shrinking turns off and validation bounds.
    pub fn fault_probabilities(&self) -> [(&'static str, f64); 7] {
        [
            (
                "faults.lost_response_probability",
                self.faults.lost_response_probability,
            ),
            (
                "store.faults.serialization_failure_per_statement",
                self.store.faults.serialization_failure_per_statement,
            ),
            (
                "store.faults.serialization_failure_at_commit",
                self.store.faults.serialization_failure_at_commit,
            ),
            (
                "store.latency.spike_probability",
                self.store.latency.spike_probability,
            ),
            ("faults.pause.probability", self.faults.pause.probability),
            ("faults.spike.probability", self.faults.spike.probability),
            (
                "faults.spike.commit_probability",
                self.faults.spike.commit_probability,
            ),
        ]
    }

    /// Whether two seeds can differ in timing: some latency range, arrival
    /// jitter or probabilistic fault for the seed to draw from. When not,
    /// every seed runs the same interleaving and fuzzing it finds nothing
    /// new.
    pub fn timing_varies_with_seed(&self) -> bool {
        self.topology.network_latency_ms_min < self.topology.network_latency_ms_max
            || self.store.latency.min_ms < self.store.latency.max_ms
            || self.run.arrival_jitter.is_some_and(|j| j > 0.0)
            || self.fault_probabilities().iter().any(|(_, p)| *p > 0.0)
            || self.faults.clock.is_on()
            || self.faults.buggify.enabled
    }

    /// Simulated milliseconds until the last arrival.
    pub fn arrivals_end_ms(&self) -> u64 {
        self.phases.iter().map(|p| p.duration_s * 1000).sum()
    }
}

/// Deserializes TOML text, turning errors into located [`InputError`]s
/// with the dotted field path.
pub(crate) fn deserialize_located<T: serde::de::DeserializeOwned>(
    text: &str,
    source: &str,
) -> Result<T, InputError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        // One path syntax everywhere: `phases.0.burst`, as `--set` takes it.
        let path = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect::<Vec<_>>()
            .join(".");
        let inner = err.into_inner();
        let mut located = InputError::new(inner.message().to_string()).in_source(source);
        if path != "." && !path.is_empty() {
            located = located.at_field(path);
        }
        if let Some(span) = inner.span() {
            let (line, column) = line_column(text, span.start);
            located = located.at_line(line, column);
        }
        located
    })
}

/// `err` at the line of its field in `text`, when the field is written
/// there (a default value is not).
pub(crate) fn locate(err: InputError, text: &str) -> InputError {
    err.map_each(|err| locate_one(err, text))
}

/// [`locate`] for one error.
fn locate_one(err: InputError, text: &str) -> InputError {
    let Some(field) = err.field.clone() else {
        return err;
    };
    let Ok(document) = toml_edit::ImDocument::parse(text) else {
        return err;
    };
    match field_span(document.as_item(), &field) {
        Some(start) => {
            let (line, column) = line_column(text, start);
            err.at_line(line, column)
        }
        None => err,
    }
}

/// Where the value at a dotted `path` (`phases.0.burst`) starts in the
/// document, or the deepest written part of it.
fn field_span(root: &toml_edit::Item, path: &str) -> Option<usize> {
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Item(&'a toml_edit::Item),
        Table(&'a toml_edit::Table),
        Value(&'a toml_edit::Value),
    }
    let span = |node: &Node<'_>| match node {
        Node::Item(item) => item.span(),
        Node::Table(table) => table.span(),
        Node::Value(value) => value.span(),
    };
    let segments: Vec<&str> = path.split('.').collect();
    let mut node = Node::Item(root);
    let mut found = None;
    let mut at = 0;
    while at < segments.len() {
        let index = segments[at].parse::<usize>().ok();
        // A key may hold dots itself (`thresholds."requests.book.201"`):
        // try the longest one first.
        let next = match node {
            Node::Item(toml_edit::Item::Table(table)) | Node::Table(table) => {
                longest_key(&segments, at, |key| table.get(key).map(Node::Item))
            }
            Node::Item(toml_edit::Item::ArrayOfTables(tables)) => index
                .and_then(|i| tables.get(i))
                .map(|t| (Node::Table(t), at + 1)),
            Node::Item(toml_edit::Item::Value(value)) | Node::Value(value) => match value {
                toml_edit::Value::Array(array) => index
                    .and_then(|i| array.get(i))
                    .map(|v| (Node::Value(v), at + 1)),
                toml_edit::Value::InlineTable(table) => {
                    longest_key(&segments, at, |key| table.get(key).map(Node::Value))
                }
                _ => None,
            },
            Node::Item(_) => None,
        };
        let Some((next, end)) = next else { break };
        node = next;
        at = end;
        found = span(&node).map(|s| s.start).or(found);
    }
    found
}

/// The node under the longest key made of `segments[at..]` (a key may
/// hold dots itself: `thresholds."requests.book.201"`), and where the
/// segments after it start.
fn longest_key<T>(
    segments: &[&str],
    at: usize,
    get: impl Fn(&str) -> Option<T>,
) -> Option<(T, usize)> {
    (at + 1..=segments.len())
        .rev()
        .find_map(|end| get(&segments[at..end].join(".")).map(|node| (node, end)))
}

fn parse_override_value(raw: &str) -> toml::Value {
    // Parse as a TOML value by wrapping it in a one-key document; anything
    // that is not valid TOML is taken as a bare string.
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn set_path(root: &mut toml::Value, path: &str, new_value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err("empty path segment".into());
    }
    let mut current = root;
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        current = match current {
            toml::Value::Table(table) => {
                if last {
                    table.insert((*part).to_string(), new_value);
                    return Ok(());
                }
                table
                    .entry((*part).to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(items) => {
                let position: usize = part
                    .parse()
                    .map_err(|_| format!("`{part}` is not an index into a list"))?;
                let len = items.len();
                let item = items.get_mut(position).ok_or_else(|| {
                    format!("index {position} is past the end of a list of {len}")
                })?;
                if last {
                    *item = new_value;
                    return Ok(());
                }
                item
            }
            _ => return Err(format!("`{part}` is inside a value that is not a table")),
        };
    }
    unreachable!("the loop returns on the last segment")
}

/// A comparison in a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `==`
    Equal,
    /// `>=`
    GreaterOrEqual,
    /// `>`
    Greater,
}

/// A parsed threshold: `metric comparison value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The metric's dotted name.
    pub metric: String,
    /// How to compare.
    pub comparison: Comparison,
    /// The bound.
    pub value: f64,
}

impl Threshold {
    /// Parses `"< 500"`, `"== 5"`, `">= 0.99"`.
    pub fn parse(metric: &str, condition: &str) -> Result<Threshold, InputError> {
        let condition = condition.trim();
        let (comparison, rest) = [
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("==", Comparison::Equal),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ]
        .into_iter()
        .find_map(|(symbol, comparison)| {
            condition
                .strip_prefix(symbol)
                .map(|rest| (comparison, rest))
        })
        .ok_or_else(|| {
            InputError::new(format!(
                "`{condition}`: expected <, <=, ==, >= or > then a number"
            ))
        })?;
        let value: f64 = rest.trim().parse().map_err(|_| {
            InputError::new(format!("`{condition}`: `{}` is not a number", rest.trim()))
        })?;
        Ok(Threshold {
            metric: metric.to_string(),
            comparison,
            value,
        })
    }

    /// Whether `actual` passes.
    pub fn passes(&self, actual: f64) -> bool {
        match self.comparison {
            Comparison::Less => actual < self.value,
            Comparison::LessOrEqual => actual <= self.value,
            Comparison::Equal => (actual - self.value).abs() < 1e-9,
            Comparison::GreaterOrEqual => actual >= self.value,
            Comparison::Greater => actual > self.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"t\"\n[[phases]]\nduration_s = 1\narrival_rate = 1\n";

    #[test]
    fn minimal_scenario_parses_with_defaults() {
        let scenario = Scenario::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(scenario.topology.api_servers, 2);
        assert_eq!(scenario.phases.len(), 1);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = format!("{MINIMAL}[topolgy]\napi_servers = 2\n");
        let err = Scenario::parse(&text, "t.toml").unwrap_err();
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.to_string().contains("topolgy"), "{err}");
        let text = format!("{MINIMAL}[topology]\napi_servers = \"two\"\n");
        let err = Scenario::parse(&text, "t.toml").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("topology.api_servers"), "{err}");
        assert_eq!(err.line, Some(6), "{err}");
    }

    #[test]
    fn invalid_values_are_rejected_with_the_field() {
        let text = format!("{MINIMAL}[faults]\nlost_response_probability = 1.5\n");
        let err = Scenario::parse(&text, "t.toml").unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("faults.lost_response_probability")
        );
        let text = format!("{MINIMAL}[thresholds]\n\"requests.reserve.201\" = \"about 5\"\n");
        assert!(Scenario::parse(&text, "t.toml").is_err());
    }

    #[test]
    fn host_faults_parse_and_bad_values_name_their_field_and_line() {
        let text = format!(
            "{MINIMAL}[faults.clock]\noffset_ms_max = 250\ndrift_ppm_max = 100\n\
             [faults.pause]\nprobability = 0.001\nmin_ms = 50\nmax_ms = 500\n\
             [faults.spike]\ncommit_probability = 0.1\n\
             [faults.buggify]\nenabled = true\n"
        );
        let scenario = Scenario::parse(&text, "t.toml").unwrap();
        assert_eq!(scenario.faults.clock.offset_ms_max, 250);
        assert_eq!(scenario.faults.pause.max_ms, 500);
        assert_eq!(scenario.faults.spike.max_ms, 200, "the default range");
        assert!(scenario.faults.buggify.enabled);
        assert_eq!(scenario.faults.buggify.point_probability, 0.25);
        let plain = Scenario::parse(MINIMAL, "t.toml").unwrap();
        assert!(!plain.faults.clock.is_on() && !plain.faults.buggify.enabled);

        let bad = |section: &str, line: usize, field: &str| {
            let text = format!("{MINIMAL}{section}");
            let err = Scenario::parse(&text, "t.toml").unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
            assert_eq!(err.line, Some(line), "{err}");
            assert_eq!(err.source.as_deref(), Some("t.toml"), "{err}");
        };
        bad(
            "[faults.pause]\nmin_ms = 600\nmax_ms = 500\n",
            6,
            "faults.pause.min_ms",
        );
        bad(
            "[faults.spike]\nprobability = 2.0\n",
            6,
            "faults.spike.probability",
        );
        bad(
            "[faults.clock]\ndrift_ppm_max = 2000000\n",
            6,
            "faults.clock.drift_ppm_max",
        );
        bad(
            "[faults.buggify]\nfire_probability = -1\n",
            6,
            "faults.buggify.fire_probability",
        );
        bad("[faults.pause]\nmax = 5\n", 6, "faults.pause.max");
    }

    #[test]
    fn thresholds_parse_and_compare() {
        let t = Threshold::parse("x", "== 5").unwrap();
        assert!(t.passes(5.0) && !t.passes(4.0));
        let t = Threshold::parse("x", "<500").unwrap();
        assert!(t.passes(499.0) && !t.passes(500.0));
        assert!(Threshold::parse("x", "=> 1").is_err());
    }
}
