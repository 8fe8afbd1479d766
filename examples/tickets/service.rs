//! Event ticketing: a client holds seats of an event; the hold expires
//! `hold_ttl_ms` later unless it is confirmed (sold) or released first.
//!
//! Rows: `events/<e>` {capacity}, `holds/<e>/<client>-<n>` {event, seats,
//! state, expires_ms, at_ms}. Expired holds free their seats lazily: seats
//! are taken while their hold is confirmed, or held and not yet expired.
//! Every operation locks its event's row first, so operations on an event
//! run one at a time, each reading the clock after the previous committed.

use overbook::seed::Rng64;
use overbook::store::{DbError, Isolation, Key, KeyRange, Row, Tx};
use overbook::system::kit::idempotency::{recall, remember, Recall};
use overbook::system::kit::{retry, RetryConfig, RetryContext, RetryCounters, RetryError};
use overbook::system::{Message, Reply, ServerContext};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The planted bug's name.
pub const OVERSELL: &str = "tickets/oversell";
/// Hold states; a hold is expired when `held` at or past `expires_ms`.
pub const HELD: &str = "held";
/// Sold.
pub const CONFIRMED: &str = "confirmed";
/// Given back.
pub const RELEASED: &str = "released";

/// The scenario's `[data]`, `[workload]` and `[service]` sections.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `events` of `seats` each.
    pub data: Data,
    /// What each user does.
    pub workload: Workload,
    /// `hold_ttl_ms` and `retry`.
    pub service: Service,
}

/// `[data]`: the events on sale (every field required).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// How many events.
    pub events: u32,
    /// Seats per event.
    pub seats: i64,
}

/// `[workload]`: each user makes `ops_per_user` holds of 1 to `seats_max`
/// seats, then confirms (with `confirm_probability`) or releases each,
/// thinking up to `think_ms_max` (default 0) after each hold.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub ops_per_user: u32,
    pub seats_max: u64,
    pub confirm_probability: f64,
    #[serde(default)]
    pub think_ms_max: u64,
}

/// `[service]`: how long a hold lives; retries on 40001/40P01.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub hold_ttl_ms: u64,
    #[serde(default)]
    pub retry: RetryConfig,
}

/// A client's request about its `hold`-th hold; a resend carries the same
/// idempotency `key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub client: u32,
    pub key: String,
    pub event: u32,
    pub hold: u32,
    pub op: Op,
}

/// Hold this many seats, buy the held seats, or give them back.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Hold(i64),
    Confirm,
    Release,
}

impl Request {
    /// A request whose idempotency key names the operation and the hold.
    pub fn new(client: u32, event: u32, hold: u32, op: Op) -> Request {
        let key = format!("{op:?}-{hold}");
        Request {
            client,
            key,
            event,
            hold,
            op,
        }
    }
}

impl Message for Request {
    fn operation(&self) -> &'static str {
        match self.op {
            Op::Hold(_) => "hold",
            Op::Confirm => "confirm",
            Op::Release => "release",
        }
    }
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.key)
    }
}

/// 201 held, 200 done, 409 sold out or refused, 404, 422, 500, 503.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub attempts: u32,
    pub outcome: Outcome,
}

/// What happened: held until `expires_ms`, done (confirmed or released),
/// sold out with `available` seats free at `at_ms`, or refused and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Held(u64),
    Done,
    SoldOut(i64, u64),
    Refused(String),
}

impl Reply for Response {
    fn status(&self) -> u16 {
        self.status
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
}

fn reply(status: u16, outcome: Outcome) -> Response {
    let attempts = 1;
    Response {
        status,
        attempts,
        outcome,
    }
}

fn refuse(status: u16, why: impl ToString) -> Response {
    reply(status, Outcome::Refused(why.to_string()))
}

/// `events/<e>`.
pub fn event_key(event: u32) -> Key {
    Key::new("events", &[&format!("{event:04}")])
}

/// Seats a hold row takes at `now_ms`.
pub fn seats_taken(row: &Row, now_ms: u64) -> i64 {
    let live = match row.text("state") {
        Some(HELD) => row.int("expires_ms").unwrap_or(0) > now_ms as i64,
        state => state == Some(CONFIRMED),
    };
    row.int("seats").filter(|_| live).unwrap_or(0)
}

/// One API server. The retry kit wants the jitter stream behind a mutex
/// and counters of its own, so the context alone is not enough.
pub struct Server(Context, Mutex<Rng64>, RetryCounters);
type Context = ServerContext<crate::Tickets>;

impl Server {
    /// A server from its context.
    pub fn new(ctx: Context) -> Server {
        let rng = Mutex::new(ctx.rng.clone());
        Server(ctx, rng, RetryCounters::default())
    }
}

/// Handles one request in a retried Read Committed transaction.
pub async fn handle(server: &Server, request: Request) -> Response {
    if matches!(request.op, Op::Hold(seats) if seats <= 0) {
        return refuse(422, "seats must be positive");
    }
    let Server(ctx, rng, counters) = server;
    let config = &ctx.settings.service.retry;
    let retry_ctx = RetryContext {
        config,
        env: &*ctx.env,
        rng,
        counters,
    };
    let (mut response, attempts) =
        match retry(retry_ctx, DbError::is_retryable, || attempt(ctx, &request)).await {
            Ok(done) => done,
            Err(RetryError::Exhausted { attempts, last }) => (refuse(503, last), attempts),
            Err(RetryError::Failed { attempts, error }) => (refuse(500, error), attempts),
        };
    response.attempts = attempts;
    response
}

async fn attempt(ctx: &Context, request: &Request) -> Result<Response, DbError> {
    let mut tx = ctx.pool.begin(Isolation::ReadCommitted).await?;
    // The planted bug reads the event without locking it: concurrent holds
    // all count the same free seats.
    let event = if ctx.variant.is(OVERSELL) {
        tx.get(&event_key(request.event)).await?
    } else {
        tx.get_for_update(&event_key(request.event)).await?
    };
    let Some(capacity) = event.and_then(|row| row.int("capacity")) else {
        return done(tx, refuse(404, "no such event")).await;
    };
    // After the lock, so that a resend queued behind its original finds the
    // original's record instead of holding the seats again.
    let record = Key::new("idempotency", &[&request.client.to_string(), &request.key]);
    let fingerprint = serde_json::to_string(request).unwrap_or_default();
    match recall(&mut tx, &record, &fingerprint).await? {
        Recall::Fresh => {}
        Recall::Replay(stored) => return done(tx, stored).await,
        Recall::KeyReused => return done(tx, refuse(422, "idempotency key reused")).await,
        Recall::Unreadable => return done(tx, refuse(500, "unreadable record")).await,
    }
    let now_ms = ctx.env.now_ms();
    let client_hold = format!("{:08}-{:04}", request.client, request.hold);
    let key = Key::new("holds", &[&format!("{:04}", request.event), &client_hold]);
    let response = match request.op {
        Op::Hold(seats) => {
            let range = KeyRange::prefix(&format!("holds/{:04}/", request.event));
            let holds = tx.scan(&range).await?;
            let taken: i64 = holds.iter().map(|(_, row)| seats_taken(row, now_ms)).sum();
            let expires_ms = now_ms + ctx.settings.service.hold_ttl_ms;
            if seats > capacity - taken {
                reply(409, Outcome::SoldOut(capacity - taken, now_ms))
            } else {
                let row = Row::new().with("event", i64::from(request.event));
                let row = row.with("seats", seats).with("state", HELD);
                let row = row.with("expires_ms", expires_ms as i64);
                tx.insert(&key, row.with("at_ms", now_ms as i64)).await?;
                reply(201, Outcome::Held(expires_ms))
            }
        }
        op => match tx.get(&key).await? {
            None => refuse(404, "no such hold"),
            Some(row) if row.text("state") != Some(HELD) => refuse(409, "not held"),
            Some(row) if op == Op::Confirm && seats_taken(&row, now_ms) == 0 => {
                refuse(409, "expired")
            }
            Some(mut row) => {
                let state = if op == Op::Confirm {
                    CONFIRMED
                } else {
                    RELEASED
                };
                row.set("state", state);
                row.set("at_ms", now_ms as i64);
                tx.update(&key, row).await?;
                reply(200, Outcome::Done)
            }
        },
    };
    if response.status < 300 {
        remember(&mut tx, &record, &fingerprint, &response).await?;
    }
    done(tx, response).await
}

async fn done(tx: Tx, response: Response) -> Result<Response, DbError> {
    tx.commit().await?;
    Ok(response)
}
