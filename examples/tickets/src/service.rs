//! The handler and the sweeper. Rows: `venue` {seats}, `holds/<client>-<n>`
//! {expires_ms, sold_ms}. A hold takes a seat while sold or not yet
//! expired; a release expires it at once. Expired holds free their seats
//! lazily; a sweeper deletes them every `sweep_every_ms`.
//!
//! Expiry is decided on the database's clock ([`overbook::store::Tx::clock_ms`]), read in
//! the transaction after the venue's lock: an API server's own clock may
//! be off the database's (the world's `[faults.clock]`).
//!
//! Buggify points (with `[faults.buggify] enabled = true`) widen the
//! windows where the planted bugs bite: a request stalling after it read
//! its server's clock and before its transaction, a swap pausing between
//! its two locks, and a sweeper round starting late. None sits under the
//! venue's lock: every hold queues for it, so a delay there would stall
//! the whole queue past the sims' liveness bounds.

use crate::Tickets;
use overbook::prelude::*;

pub const OVERSELL: &str = "tickets/oversell";
pub const STALE_CLOCK: &str = "tickets/stale-expiry-clock";
pub const LOCK_ORDER: &str = "tickets/lock-order";
pub const SPLIT_SWAP: &str = "tickets/swap-split-tx";
pub const RELEASE_EARLY: &str = "tickets/release-reads-early";

pub type Settings = Sections<Venue, Workload>;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Venue {
    pub seats: i64,
    pub hold_ttl_ms: u64,
    /// The sweeper's period (0: no sweeper).
    pub sweep_every_ms: u64,
    /// The server names each hold (the venue's next number), and its
    /// answer says the name: a hold request's `[client, n]` is then only
    /// its idempotency key, and its confirm names what the answer said.
    pub server_ids: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub ops_per_user: u32,
    pub confirm_probability: f64,
    pub think_ms_max: u64,
    /// How often a user with a hold swaps it with its neighbour's.
    pub swap_probability: f64,
    /// How often a user confirms a hold in one tab while releasing it in
    /// another: two requests in flight at once, on two connections.
    pub two_tabs_probability: f64,
}

/// An operation on a hold, named `[client, n]` for the client's `n`-th
/// hold; a swap names two clients, whose first holds trade expiry times. A
/// resend is the same request, so it is its own idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request(pub Op, pub [u32; 2]);

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Hold,
    Confirm,
    Release,
    Swap,
}

impl Message for Request {
    fn operation(&self) -> &'static str {
        ["hold", "confirm", "release", "swap"][self.0 as usize]
    }
}

/// `SoldOut` says when the clock read `at_ms`, for the invariants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Held {
        expires_ms: u64,
        /// The hold's name, when the server chose it (`data.server_ids`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold: Option<[u32; 2]>,
    },
    Done,
    SoldOut {
        at_ms: u64,
    },
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
pub fn seats_taken(holds: impl IntoIterator<Item = impl AsRef<Row>>, now_ms: u64) -> i64 {
    let unexpired = |row: &Row| row.int("expires_ms") > Some(now_ms as i64);
    let live = |row: &Row| row.int("sold_ms").is_some() || unexpired(row);
    holds.into_iter().filter(|row| live(row.as_ref())).count() as i64
}

pub async fn attempt(ctx: &ServerContext<Tickets>, req: &Request) -> Result<Response, DbError> {
    if req.0 == Op::Swap {
        return swap(ctx, req).await;
    }
    let refuse = |status, why: &str| Response::Refused(status, why.into());
    // The planted bug reads the clock before its transaction: by the time
    // it holds the lock the hold may have expired and its seat gone.
    let early_ms = ctx.env.now_ms();
    // A stall between the request's arrival and its transaction (a slow
    // authentication, a GC).
    ctx.buggify_sleep("stall-before-transaction", 100).await;
    let mut tx = ctx.pool.begin(Isolation::ReadCommitted).await?;
    let (op, id) = (req.0, hold_id(req.1));
    let key = Key::new("holds", &[&id]);
    // A planted bug: a release reads its hold before queueing for the lock
    // (to answer 404 early), then writes back what it read. Only the
    // hold's owner changes it meanwhile: a user with a confirm of it in
    // flight beside the release (in sims without swaps and sweeper).
    let early = match op == Op::Release && ctx.variant.is(RELEASE_EARLY) {
        true => Some(tx.get(&key).await?),
        false => None,
    };
    // Every operation locks the venue first, so they run one at a time and
    // a resend queued behind its original finds the original's record. The
    // planted bug skips the lock: concurrent holds count the same seats.
    if !ctx.variant.is(OVERSELL) {
        tx.get_for_update(&Key::raw("venue")).await?;
    }
    let record = idempotency::Record::new(Key::new("idempotency", &[&id, req.operation()]), req);
    if let Some(answer) = record.answer(&mut tx, refuse).await? {
        return Ok(answer);
    }
    // Read inside the transaction, after the lock: expiry is decided on it.
    let now_ms = tx.clock_ms();
    let stale = op == Op::Confirm && ctx.variant.is(STALE_CLOCK);
    let expiry_ms = if stale { early_ms } else { now_ms };
    let hold = match early {
        Some(hold) => hold,
        None => tx.get(&key).await?,
    };
    let response = match (op, hold) {
        (Op::Hold, _) => {
            let holds = tx.scan(&KeyRange::prefix("holds/")).await?;
            if seats_taken(holds.iter().map(|(_, row)| row), now_ms) >= ctx.data.seats {
                return Ok(Response::SoldOut { at_ms: now_ms });
            }
            // The server names the hold `[client, the venue's next number]`,
            // counted under the venue's lock: which client gets which number
            // is the interleaving's, known only from the answer.
            let hold = match ctx.data.server_ids {
                true => Some(next_number(&mut tx, &Key::raw("venue"), "next_hold").await?),
                false => None,
            };
            let hold = hold.map(|n| [req.1[0], n as u32]);
            let key = hold.map_or(key, |name| Key::new("holds", &[&hold_id(name)]));
            let expires_ms = now_ms + ctx.data.hold_ttl_ms;
            let row = Row::new().with("expires_ms", expires_ms as i64);
            tx.insert(&key, row).await?;
            Response::Held { expires_ms, hold }
        }
        (_, None) => refuse(404, "no such hold"),
        (_, Some(row)) if seats_taken([&row], expiry_ms) == 0 => refuse(409, "expired"),
        (_, Some(row)) if row.int("sold_ms").is_some() => refuse(409, "sold"),
        (_, Some(row)) => {
            let confirm = op == Op::Confirm;
            let column = if confirm { "sold_ms" } else { "expires_ms" };
            tx.update(&key, row.with(column, expiry_ms as i64)).await?;
            Response::Done
        }
    };
    record.remember_and_commit(tx, response).await
}

/// A hold's name in its key: `[client, n]`, zero-padded so that keys sort
/// by client, then by number.
fn hold_id(name: [u32; 2]) -> String {
    format!("{:08}-{:04}", name[0], name[1])
}

/// Two clients' first holds trade expiry times, both live and unsold. The
/// venue is not locked (no seat changes hands); the holds are locked in
/// key order, or, in the planted bug `tickets/lock-order`, in request
/// order, so two opposite swaps deadlock (and the store breaks it). The
/// planted bug `tickets/swap-split-tx` also locks the second hold in a
/// transaction of its own, on another connection ("short transactions"):
/// two opposite swaps then deadlock through the handler, where the
/// database cannot see it, so nothing breaks it, and every operation
/// after them waits: a storm.
async fn swap(ctx: &ServerContext<Tickets>, req: &Request) -> Result<Response, DbError> {
    let key = |client: u32| Key::new("holds", &[&hold_id([client, 0])]);
    let (mut first, mut second) = (key(req.1[0]), key(req.1[1]));
    let split = ctx.variant.is(SPLIT_SWAP);
    if first > second && !ctx.variant.is(LOCK_ORDER) && !split {
        std::mem::swap(&mut first, &mut second);
    }
    let mut tx = ctx.pool.begin(Isolation::ReadCommitted).await?;
    let a = tx.get_for_update(&first).await?;
    ctx.buggify_sleep("swap-between-locks", 50).await;
    let mut two = match split {
        true => Some(ctx.pool.begin(Isolation::ReadCommitted).await?),
        false => None,
    };
    let b = two.as_mut().unwrap_or(&mut tx).get_for_update(&second);
    let b = b.await?;
    let now_ms = tx.clock_ms();
    let live = |row: &Row| row.int("sold_ms").is_none() && seats_taken([row], now_ms) == 1;
    let (Some(a), Some(b)) = (a.filter(live), b.filter(live)) else {
        return Ok(Response::Refused(409, "not two live holds".into()));
    };
    let expires = |row: &Row| row.int("expires_ms").unwrap_or(0);
    let (a_ms, b_ms) = (expires(&a), expires(&b));
    tx.update(&first, a.with("expires_ms", b_ms)).await?;
    let other = two.as_mut().unwrap_or(&mut tx);
    other.update(&second, b.with("expires_ms", a_ms)).await?;
    if let Some(two) = two {
        two.commit().await?;
    }
    tx.commit().await?;
    Ok(Response::Done)
}

/// One round of the sweeper: deletes the holds expired unsold by now,
/// under the venue's lock like every operation that decides on expiry.
pub async fn sweep(ctx: &ServerContext<Tickets>) -> Result<usize, DbError> {
    // A sweeper that falls behind (its job queue busy), up to a hold's time
    // to live: expired holds linger, and confirms find them.
    ctx.buggify_sleep("sweep-late", ctx.data.hold_ttl_ms).await;
    let mut tx = ctx.pool.begin(Isolation::ReadCommitted).await?;
    tx.get_for_update(&Key::raw("venue")).await?;
    let now_ms = tx.clock_ms();
    let mut swept = 0;
    for (key, row) in tx.scan(&KeyRange::prefix("holds/")).await? {
        if seats_taken([&row], now_ms) == 0 {
            tx.delete(&key).await?;
            swept += 1;
        }
    }
    tx.commit().await?;
    Ok(swept)
}
