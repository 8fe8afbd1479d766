//! The box office under overbook: its real axum app and deadpool pool on
//! the world's API hosts, its tokio-postgres talking to the simulated
//! PostgreSQL over the wire, virtual users over HTTP, and invariants read
//! in SQL from the committed state.
//!
//! Shared by the tests (`mod sim;`) and the `sim` example (the CLI).

use boxoffice::{db, router, worker, AppState, Config, Flaws};
use overbook::http::{HttpApp, HttpRequest, HttpResponse};
use overbook::prelude::*;
use overbook::sql::{Session, SqlDb, Value};
use overbook::store::block_on;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// The box office as overbook runs it.
#[derive(Clone, Copy, Debug)]
pub struct Boxoffice;

/// Each planted bug is one of the service's own [`Flaws`] switched on.
pub const HOLD_WITHOUT_EVENT_LOCK: &str = "boxoffice/hold-without-event-lock";
/// See [`Flaws::confirm_without_row_lock`].
pub const CONFIRM_WITHOUT_ROW_LOCK: &str = "boxoffice/confirm-without-row-lock";

const VARIANTS: &[VariantInfo] = &[
    VariantInfo::new("correct", "holds lock their event, confirms their hold"),
    VariantInfo::new(
        HOLD_WITHOUT_EVENT_LOCK,
        "holds count seats without the event's lock",
    ),
    VariantInfo::new(
        CONFIRM_WITHOUT_ROW_LOCK,
        "confirm reads its hold without FOR UPDATE",
    ),
];

const INVARIANTS: &[InvariantInfo] = &[
    InvariantInfo::new("seats_never_oversold", "held + confirmed seats <= capacity"),
    InvariantInfo::new(
        "orders_match_holds",
        "an order is confirmed iff its hold is",
    ),
    InvariantInfo::new("refunded_once", "a cancelled order gets one refund"),
    InvariantInfo::new(
        "ended_holds_stay_ended",
        "no expired or released hold comes back",
    ),
];

/// The scenario's `[data]`, `[workload]` and `[service]` sections (each
/// may be left out: a flow scenario has no `[workload]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub data: Data,
    pub workload: Workload,
    pub service: Service,
}

/// The events on sale.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Data {
    pub events: u32,
    pub capacity: i32,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            events: 1,
            capacity: 4,
        }
    }
}

/// What a virtual user does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub holds_per_user: u32,
    pub seats_max: u32,
    pub think_ms_max: u64,
    pub confirm_probability: f64,
    pub cancel_probability: f64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            holds_per_user: 1,
            seats_max: 2,
            think_ms_max: 500,
            confirm_probability: 0.8,
            cancel_probability: 0.1,
        }
    }
}

/// The box office's own configuration ([`Config`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    pub hold_ttl_ms: u64,
    pub pool_size: u32,
    pub transaction_attempts: u32,
    pub worker_interval_ms: u64,
}

impl Default for Service {
    fn default() -> Self {
        let config = Config::default();
        Service {
            hold_ttl_ms: 1_000,
            pool_size: 8,
            transaction_attempts: config.transaction_attempts,
            worker_interval_ms: 200,
        }
    }
}

impl Service {
    /// The box office's configuration, with `variant`'s flaw on.
    pub fn config(&self, variant: Variant) -> Config {
        Config {
            hold_ttl: Duration::from_millis(self.hold_ttl_ms),
            pool_size: self.pool_size as usize,
            transaction_attempts: self.transaction_attempts,
            worker_interval: Duration::from_millis(self.worker_interval_ms),
            flaws: flaws(variant),
            ..Config::default()
        }
    }
}

/// The flaws a variant switches on.
pub fn flaws(variant: Variant) -> Flaws {
    Flaws {
        hold_without_event_lock: variant.is(HOLD_WITHOUT_EVENT_LOCK),
        confirm_without_row_lock: variant.is(CONFIRM_WITHOUT_ROW_LOCK),
    }
}

/// The events of a run: ids drawn from the seed.
#[derive(Clone, Debug)]
pub struct Events {
    pub ids: Vec<String>,
    pub capacity: i32,
}

/// One API host: the app and the pool its worker shares.
pub struct Api {
    app: HttpApp,
    pool: deadpool_postgres::Pool,
    config: Config,
}

impl FromContext<Boxoffice> for Api {
    /// What `main.rs` does, with the pool's connector the seam: its
    /// connections go to the world's database over turmoil's TCP.
    fn from_context(ctx: ServerContext<Boxoffice>) -> Api {
        let config = ctx.settings.service.config(ctx.variant);
        let pool = db::pool(
            overbook::pg::config(),
            overbook::pg::Connector,
            config.pool_size,
        );
        let app = HttpApp::new(router(AppState::new(pool.clone(), config.clone())));
        Api { app, pool, config }
    }
}

impl System for Boxoffice {
    type Settings = Settings;
    type Data = Events;
    type Request = HttpRequest;
    type Response = HttpResponse;
    type Server = Api;
    type Checker = Checker;

    fn name(&self) -> &'static str {
        "boxoffice"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        VARIANTS
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        INVARIANTS
    }

    fn validate(&self, s: &Settings) -> Result<(), InputError> {
        let (data, work, service) = (&s.data, &s.workload, &s.service);
        Bounds::new()
            .within("data.events", data.events, 1, 1_000)
            .within("data.capacity", data.capacity, 0, 1_000_000)
            .within("workload.holds_per_user", work.holds_per_user, 0, 1_000)
            .within("workload.seats_max", work.seats_max, 1, 8)
            .at_most("workload.think_ms_max", work.think_ms_max, 3_600_000)
            .probability("workload.confirm_probability", work.confirm_probability)
            .probability("workload.cancel_probability", work.cancel_probability)
            .within("service.hold_ttl_ms", service.hold_ttl_ms, 1, 86_400_000)
            .within("service.pool_size", service.pool_size, 1, 256)
            .within(
                "service.transaction_attempts",
                service.transaction_attempts,
                1,
                20,
            )
            .within(
                "service.worker_interval_ms",
                service.worker_interval_ms,
                1,
                3_600_000,
            )
            .finish()
    }

    fn sql_schema(&self, _: Variant) -> String {
        db::MIGRATION.to_string()
    }

    fn wire_database(&self) -> bool {
        true
    }

    fn data(&self, settings: &Settings, seed: Seed) -> Events {
        let mut rng = seed.stream("events");
        let ids = (0..settings.data.events)
            .map(|_| uuid_from(rng.next_u64(), rng.next_u64()))
            .collect();
        Events {
            ids,
            capacity: settings.data.capacity,
        }
    }

    fn load(&self, events: &Events, store: &Store) {
        let mut session = SqlDb::attach(store).session();
        for (n, id) in events.ids.iter().enumerate() {
            let params = [
                Value::from(id.as_str()),
                Value::from(format!("event {n}").as_str()),
                Value::Int(events.capacity.into()),
            ];
            let insert = session.execute(
                "INSERT INTO events (id, name, capacity, starts_at) \
                 VALUES ($1::uuid, $2, $3, now() + interval '30 days')",
                &params,
            );
            block_on(insert).expect("the events load");
        }
    }

    async fn handle(api: &Api, request: HttpRequest, _source: u32) -> HttpResponse {
        api.app.handle(request).await
    }

    fn background_tasks(&self, settings: &Settings) -> Vec<BackgroundTask> {
        BackgroundTask::periodic("worker", settings.service.worker_interval_ms)
    }

    /// One round of the service's own worker loop (`worker::run`).
    async fn run_background(api: &Api, _: BackgroundTask) {
        let _ = worker::run_once(&api.pool, &api.config).await;
    }

    /// Holds seats of an event, thinks, then confirms (and sometimes
    /// cancels the order) or releases; or the scenario's `[flow]`.
    async fn user(&self, user: UserContext<Self>) {
        http_user(user).await
    }

    fn checker(&self, _: Arc<Events>, _: &Settings) -> Checker {
        Checker::default()
    }

    /// Each client holds one seat of the first event, then confirms it.
    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<HttpRequest>> {
        let event = ctx.data.ids[0].clone();
        ctx.requests(|c, i| match i % 2 {
            0 => HttpRequest::post(format!("/events/{event}/holds"))
                .with_idempotency_key(format!("c{c}-{i}"))
                .json(json!({ "seats": 1 })),
            _ => HttpRequest::post("/holds/{hold}/confirm"),
        })
    }

    fn operations_per_user(&self, settings: &Settings) -> Option<(&'static str, u64)> {
        let holds = settings.workload.holds_per_user.into();
        Some(("workload.holds_per_user", holds))
    }
}

/// The virtual user: holds seats of an event, thinks, then confirms (and
/// sometimes cancels the order) or releases; or the scenario's `[flow]`.
pub async fn http_user<S>(mut user: UserContext<S>)
where
    S: System<Request = HttpRequest, Response = HttpResponse, Settings = Settings, Data = Events>,
{
    if user.flow().is_some() {
        // The scenario writes its users as HTTP steps.
        return overbook::http::run_flow(user).await;
    }
    let work = user.settings.workload.clone();
    for n in 0..work.holds_per_user {
        let event = user.rng.below(user.data.ids.len() as u64) as usize;
        let seats = user.rng.between(1, work.seats_max.into());
        let hold = HttpRequest::post(format!("/events/{}/holds", user.data.ids[event]))
            .with_idempotency_key(format!("u{}-{n}", user.index))
            .json(json!({ "seats": seats }));
        let Some(held) = user.send(hold).await.filter(HttpResponse::is_success) else {
            continue;
        };
        let Some(hold_id) = held.str_at("/id").map(str::to_owned) else {
            continue;
        };
        user.think_ms(0, work.think_ms_max).await;
        if !user.rng.chance(work.confirm_probability) {
            user.send(HttpRequest::delete(format!("/holds/{hold_id}")))
                .await;
            continue;
        }
        let confirm = HttpRequest::post(format!("/holds/{hold_id}/confirm"));
        let order = user.send(confirm).await.filter(HttpResponse::is_success);
        let order_id = order.as_ref().and_then(|o| o.str_at("/id"));
        if let Some(order_id) = order_id {
            if user.rng.chance(work.cancel_probability) {
                let order_id = order_id.to_owned();
                user.think_ms(0, work.think_ms_max).await;
                let cancel = HttpRequest::post(format!("/orders/{order_id}/cancel"));
                user.send(cancel).await;
            }
        }
    }
}

/// A version-4-shaped uuid from two random words.
fn uuid_from(high: u64, low: u64) -> String {
    let high = (high & 0xffff_ffff_ffff_0fff) | 0x4000;
    let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// The invariants, each one SQL query over the committed state as of
/// every commit: no mirror of the service's rows.
#[derive(Default)]
pub struct Checker {
    tally: Tally,
}

/// Seats in use past capacity, by event.
const OVERSOLD: &str = "SELECT e.id::text AS event, e.capacity, sum(h.seats) AS in_use \
     FROM events e JOIN holds h ON h.event_id = e.id \
     WHERE h.status IN ('held', 'confirmed') \
     GROUP BY e.id, e.capacity HAVING sum(h.seats) > e.capacity";

/// Orders whose state disagrees with their hold's.
const MISMATCHED: &str = "SELECT o.id::text AS order_id, o.status::text AS order_status, \
     h.status::text AS hold_status \
     FROM orders o JOIN holds h ON h.id = o.hold_id \
     WHERE (o.status = 'confirmed') <> (h.status = 'confirmed')";

/// Orders refunded more than once.
const REFUNDED_TWICE: &str = "SELECT order_id::text AS order_id, count(*) AS refunds \
     FROM jobs WHERE kind = 'refund' GROUP BY order_id HAVING count(*) > 1";

impl Checker {
    fn none_of(
        &mut self,
        state: &CommittedState,
        invariant: &'static str,
        query: &str,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let found = state.sql(query, &[]).expect("the invariant's query runs");
        let why = || {
            let rows: Vec<String> = (0..found.len())
                .map(|row| {
                    let cells = found.columns.iter().map(|column| {
                        let value = found.get(row, column).expect("a column of the row");
                        format!("{column}={}", value.to_pg_text().unwrap_or_default())
                    });
                    cells.collect::<Vec<_>>().join(" ")
                })
                .collect();
            format!("at {now_ms} ms: {}", rows.join("; "))
        };
        self.tally.check(invariant, found.is_empty(), why)
    }
}

impl<S: System> Invariants<S> for Checker {
    const READS_STATE: bool = true;

    /// A hold that expired or was released gave its seats back: it never
    /// becomes anything else (a confirm that read it live before the
    /// sweep, and wrote after, would sell seats already freed).
    fn on_commit(&mut self, commit: &CommitEvent, now_ms: u64) -> Result<(), Violation> {
        for (key, before, after) in commit.changes("holds") {
            let status = |row: Option<&Row>| row.and_then(|r| r.text("status")).map(str::to_owned);
            let (was, is) = (status(before), status(after));
            let ended = matches!(was.as_deref(), Some("expired" | "released"));
            let why = || format!("{key} went from {was:?} to {is:?} at {now_ms} ms");
            self.tally
                .check("ended_holds_stay_ended", !ended || was == is, why)?;
        }
        Ok(())
    }

    fn on_state(&mut self, state: &CommittedState, now_ms: u64) -> Result<(), Violation> {
        self.none_of(state, "seats_never_oversold", OVERSOLD, now_ms)?;
        self.none_of(state, "orders_match_holds", MISMATCHED, now_ms)?;
        self.none_of(state, "refunded_once", REFUNDED_TWICE, now_ms)
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}
