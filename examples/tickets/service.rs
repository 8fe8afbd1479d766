//! The handler. Rows: `venue` {seats}, `holds/<client>-<n>` {expires_ms,
//! sold_ms}. A hold takes a seat while sold or not yet expired; a release
//! expires it at once. Nothing sweeps: expired holds free seats lazily.

use crate::Tickets;
use overbook::store::{DbError, Isolation, Key, KeyRange, Row};
use overbook::system::kit::{idempotency, RetryConfig};
use overbook::system::{Message, Reply, ServerContext};
use serde::{Deserialize, Serialize};

pub const OVERSELL: &str = "tickets/oversell";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Settings {
    pub data: Venue,
    pub workload: Workload,
    pub service: RetryConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Venue {
    pub seats: i64,
    pub hold_ttl_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub ops_per_user: u32,
    pub confirm_probability: f64,
    pub think_ms_max: u64,
}

/// An operation on a hold, named `[client, n]` for the client's `n`-th
/// hold. A resend is the same request, so it is its own idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request(pub Op, pub [u32; 2]);

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Hold,
    Confirm,
    Release,
}

impl Message for Request {
    fn operation(&self) -> &'static str {
        match self.0 {
            Op::Hold => "hold",
            Op::Confirm => "confirm",
            Op::Release => "release",
        }
    }
}

/// `SoldOut` says when the clock read `at_ms`, for the invariants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Held { expires_ms: u64 },
    Done,
    SoldOut { at_ms: u64 },
    Refused(u16, String),
}

impl Reply for Response {
    fn status(&self) -> u16 {
        match self {
            Response::Held { .. } => 201,
            Response::Done => 200,
            Response::SoldOut { .. } => 409,
            Response::Refused(status, _) => *status,
        }
    }
}

/// Seats the holds take at `now_ms`: sold, or held and not yet expired.
pub fn seats_taken<'a>(holds: impl IntoIterator<Item = &'a Row>, now_ms: u64) -> i64 {
    let unexpired = |row: &Row| row.int("expires_ms") > Some(now_ms as i64);
    let live = |row: &&Row| row.int("sold_ms").is_some() || unexpired(row);
    holds.into_iter().filter(live).count() as i64
}

pub async fn attempt(ctx: &ServerContext<Tickets>, req: &Request) -> Result<Response, DbError> {
    let refuse = |status, why: &str| Response::Refused(status, why.into());
    let mut tx = ctx.pool.begin(Isolation::ReadCommitted).await?;
    // Every operation locks the venue first, so they run one at a time and
    // a resend queued behind its original finds the original's record. The
    // planted bug skips the lock: concurrent holds count the same seats.
    if !ctx.variant.is(OVERSELL) {
        tx.get_for_update(&Key::raw("venue")).await?;
    }
    let (op, id) = (req.0, format!("{:08}-{:04}", req.1[0], req.1[1]));
    let record = Key::new("idempotency", &[&id, req.operation()]);
    let fingerprint = serde_json::to_string(req).unwrap_or_default();
    let recalled = idempotency::recall(&mut tx, &record, &fingerprint).await?;
    if let Some(answer) = recalled.answer(refuse) {
        return Ok(answer);
    }
    // Read inside the transaction, after the lock: expiry is decided on it.
    let now_ms = ctx.env.now_ms();
    let key = Key::new("holds", &[&id]);
    let response = match (op, tx.get(&key).await?) {
        (Op::Hold, _) => {
            let holds = tx.scan(&KeyRange::prefix("holds/")).await?;
            if seats_taken(holds.iter().map(|(_, row)| row), now_ms) >= ctx.data.seats {
                return Ok(Response::SoldOut { at_ms: now_ms });
            }
            let expires_ms = now_ms + ctx.data.hold_ttl_ms;
            let row = Row::new().with("expires_ms", expires_ms as i64);
            tx.insert(&key, row).await?;
            Response::Held { expires_ms }
        }
        (_, None) => refuse(404, "no such hold"),
        (_, Some(row)) if seats_taken([&row], now_ms) == 0 => refuse(409, "expired"),
        (_, Some(row)) if row.int("sold_ms").is_some() => refuse(409, "sold"),
        (_, Some(row)) => {
            let confirm = op == Op::Confirm;
            let column = if confirm { "sold_ms" } else { "expires_ms" };
            tx.update(&key, row.with(column, now_ms as i64)).await?;
            Response::Done
        }
    };
    if response.status() < 300 {
        idempotency::remember(&mut tx, &record, &fingerprint, &response).await?;
    }
    tx.commit().await?;
    Ok(response)
}
