//! The HTTP API.

use crate::config::Config;
use crate::db::Retry;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::{Client, Pool};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio_postgres::Row;
use uuid::Uuid;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: Pool,
    /// The settings.
    pub config: Arc<Config>,
}

impl AppState {
    /// The state of an app on `pool` with `config`.
    pub fn new(pool: Pool, config: Config) -> AppState {
        AppState {
            pool,
            config: Arc::new(config),
        }
    }
}

/// The API's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/events", get(list_events).post(create_event))
        .route("/events/{event_id}", get(get_event))
        .route("/events/{event_id}/holds", post(create_hold))
        .route("/holds/{hold_id}", get(get_hold).delete(release_hold))
        .route("/holds/{hold_id}/confirm", post(confirm_hold))
        .route("/orders/{order_id}/cancel", post(cancel_order))
        .with_state(state)
}

/// `POST /events`.
#[derive(Debug, Deserialize)]
pub struct NewEvent {
    /// Its name.
    pub name: String,
    /// Seats for sale.
    pub capacity: i32,
    /// Seconds from now until it starts.
    pub starts_in_s: i64,
}

/// An event and its seats.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Seats for sale.
    pub capacity: i32,
    /// Seats of live holds and confirmed orders.
    pub in_use: i64,
    /// Seats still free.
    pub free: i64,
}

/// `POST /events/{id}/holds`.
#[derive(Debug, Deserialize)]
pub struct NewHold {
    /// Seats to hold.
    pub seats: i32,
}

/// A hold.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hold {
    /// Its id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// Seats held.
    pub seats: i32,
    /// `held`, `confirmed`, `released`, `expired` or `cancelled`.
    pub status: String,
}

impl Hold {
    /// Columns: id, event_id, seats, status::text.
    fn from_row(row: &Row) -> Hold {
        Hold {
            id: row.get(0),
            event_id: row.get(1),
            seats: row.get(2),
            status: row.get(3),
        }
    }
}

/// An order.
#[derive(Debug, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: Uuid,
    /// The hold it was confirmed from.
    pub hold_id: Uuid,
    /// Seats bought.
    pub seats: i32,
    /// `confirmed` or `cancelled`.
    pub status: String,
}

const HOLD_COLUMNS: &str = "id, event_id, seats, status::text";

async fn create_event(
    State(state): State<AppState>,
    Json(new): Json<NewEvent>,
) -> Result<(StatusCode, Json<Event>), ApiError> {
    if new.capacity < 0 || new.name.trim().is_empty() {
        return Err(ApiError::BadRequest("a name and a capacity >= 0".into()));
    }
    let client = state.pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO events (id, name, capacity, starts_at) \
             VALUES (gen_random_uuid(), $1, $2, now() + $3::bigint * interval '1 second') RETURNING id",
            &[&new.name, &new.capacity, &new.starts_in_s],
        )
        .await?;
    let event = Event {
        id: row.get(0),
        name: new.name,
        capacity: new.capacity,
        in_use: 0,
        free: i64::from(new.capacity),
    };
    Ok((StatusCode::CREATED, Json(event)))
}

async fn list_events(State(state): State<AppState>) -> Result<Json<Vec<Event>>, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT e.id, e.name, e.capacity, \
                    coalesce(sum(h.seats) FILTER (WHERE h.status IN ('held', 'confirmed')), 0) AS in_use \
             FROM events e LEFT JOIN holds h ON h.event_id = e.id \
             WHERE e.starts_at > now() \
             GROUP BY e.id, e.name, e.capacity, e.starts_at ORDER BY e.starts_at, e.id",
            &[],
        )
        .await?;
    Ok(Json(rows.iter().map(event_of).collect()))
}

/// Columns: id, name, capacity, in_use.
fn event_of(row: &Row) -> Event {
    let (capacity, in_use): (i32, i64) = (row.get(2), row.get(3));
    Event {
        id: row.get(0),
        name: row.get(1),
        capacity,
        in_use,
        free: i64::from(capacity) - in_use,
    }
}

async fn get_event(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
) -> Result<Json<Event>, ApiError> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT e.id, e.name, e.capacity, \
                    coalesce(sum(h.seats) FILTER (WHERE h.status IN ('held', 'confirmed')), 0) AS in_use \
             FROM events e LEFT JOIN holds h ON h.event_id = e.id \
             WHERE e.id = $1 GROUP BY e.id, e.name, e.capacity",
            &[&event_id],
        )
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    Ok(Json(event_of(&row)))
}

async fn create_hold(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
    Json(new): Json<NewHold>,
) -> Result<(StatusCode, Json<Hold>), ApiError> {
    let config = &state.config;
    if new.seats < 1 || new.seats > config.max_seats_per_hold {
        return Err(ApiError::BadRequest(format!(
            "seats must be 1 to {}",
            config.max_seats_per_hold
        )));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Seats are counted and taken under the event's row lock: every hold
    // of the event waits its turn, so two cannot both take the last seats.
    let event_query = if config.flaws.hold_without_event_lock {
        "SELECT capacity FROM events WHERE id = $1"
    } else {
        "SELECT capacity FROM events WHERE id = $1 FOR UPDATE"
    };
    let ttl_ms = config.hold_ttl.as_millis() as i64;
    let mut client = state.pool.get().await?;
    let mut retry = Retry::new(config.transaction_attempts);
    loop {
        let hold = HoldTx {
            event_query,
            event_id,
            seats: new.seats,
            key: key.as_deref(),
            ttl_ms,
        };
        match hold.run(&mut client).await {
            Err(err) if retry.again(&err).await => continue,
            done => return retry.give_up(done),
        }
    }
}

/// One try of a hold's transaction.
struct HoldTx<'a> {
    event_query: &'static str,
    event_id: Uuid,
    seats: i32,
    key: Option<&'a str>,
    ttl_ms: i64,
}

impl HoldTx<'_> {
    async fn run(self, client: &mut Client) -> Result<(StatusCode, Json<Hold>), ApiError> {
        let HoldTx {
            event_query,
            event_id,
            seats,
            key,
            ttl_ms,
        } = self;
        let tx = client.transaction().await?;
        let event = tx
            .query_opt(event_query, &[&event_id])
            .await?
            .ok_or(ApiError::NotFound("event"))?;
        let capacity: i32 = event.get(0);
        if let Some(key) = key {
            // A retry of a hold already made gets that hold back.
            let sql = format!("SELECT {HOLD_COLUMNS} FROM holds WHERE idempotency_key = $1");
            if let Some(row) = tx.query_opt(&sql, &[&key]).await? {
                return Ok((StatusCode::OK, Json(Hold::from_row(&row))));
            }
        }
        let in_use: i64 = tx
            .query_one(
                "SELECT coalesce(sum(seats), 0) FROM holds \
                 WHERE event_id = $1 AND status IN ('held', 'confirmed')",
                &[&event_id],
            )
            .await?
            .get(0);
        if in_use + i64::from(seats) > i64::from(capacity) {
            return Err(ApiError::Conflict(format!(
                "{} seats asked, {} free",
                seats,
                i64::from(capacity) - in_use
            )));
        }
        let sql = format!(
            "INSERT INTO holds (event_id, seats, idempotency_key, expires_at) \
             VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') RETURNING {HOLD_COLUMNS}"
        );
        let row = tx
            .query_one(&sql, &[&event_id, &seats, &key, &ttl_ms])
            .await?;
        tx.commit().await?;
        Ok((StatusCode::CREATED, Json(Hold::from_row(&row))))
    }
}

async fn get_hold(
    State(state): State<AppState>,
    Path(hold_id): Path<Uuid>,
) -> Result<Json<Hold>, ApiError> {
    let client = state.pool.get().await?;
    let sql = format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1");
    let row = client
        .query_opt(&sql, &[&hold_id])
        .await?
        .ok_or(ApiError::NotFound("hold"))?;
    Ok(Json(Hold::from_row(&row)))
}

async fn release_hold(
    State(state): State<AppState>,
    Path(hold_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client = state.pool.get().await?;
    let released = client
        .execute(
            "UPDATE holds SET status = 'released' WHERE id = $1 AND status = 'held'",
            &[&hold_id],
        )
        .await?;
    if released == 1 {
        return Ok(StatusCode::NO_CONTENT);
    }
    let status: Option<String> = client
        .query_opt("SELECT status::text FROM holds WHERE id = $1", &[&hold_id])
        .await?
        .map(|row| row.get(0));
    match status.as_deref() {
        None => Err(ApiError::NotFound("hold")),
        Some("released") => Ok(StatusCode::NO_CONTENT),
        Some(other) => Err(ApiError::Conflict(format!("the hold is {other}"))),
    }
}

async fn confirm_hold(
    State(state): State<AppState>,
    Path(hold_id): Path<Uuid>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let config = &state.config;
    // The hold's row lock keeps the sweeper from expiring it between the
    // check below and the order.
    let hold_query = if config.flaws.confirm_without_row_lock {
        "SELECT status::text, expires_at > now(), seats, event_id FROM holds WHERE id = $1"
    } else {
        "SELECT status::text, expires_at > now(), seats, event_id FROM holds WHERE id = $1 FOR UPDATE"
    };
    let mut client = state.pool.get().await?;
    let mut retry = Retry::new(config.transaction_attempts);
    loop {
        match confirm_tx(&mut client, hold_query, hold_id).await {
            Err(err) if retry.again(&err).await => continue,
            done => return retry.give_up(done),
        }
    }
}

/// One try of a confirm's transaction.
async fn confirm_tx(
    client: &mut Client,
    hold_query: &str,
    hold_id: Uuid,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let tx = client.transaction().await?;
    let hold = tx
        .query_opt(hold_query, &[&hold_id])
        .await?
        .ok_or(ApiError::NotFound("hold"))?;
    let (status, live, seats, event_id): (String, bool, i32, Uuid) =
        (hold.get(0), hold.get(1), hold.get(2), hold.get(3));
    match status.as_str() {
        "held" if live => {}
        "held" | "expired" => return Err(ApiError::Gone("the hold expired".into())),
        "confirmed" => {
            // A retried confirm: the order it made.
            let row = tx
                .query_one(
                    "SELECT id, status::text FROM orders WHERE hold_id = $1",
                    &[&hold_id],
                )
                .await?;
            let order = Order {
                id: row.get(0),
                hold_id,
                seats,
                status: row.get(1),
            };
            return Ok((StatusCode::OK, Json(order)));
        }
        other => return Err(ApiError::Conflict(format!("the hold is {other}"))),
    }
    let order_id: Uuid = tx
        .query_one(
            "INSERT INTO orders (hold_id, event_id, seats) VALUES ($1, $2, $3) RETURNING id",
            &[&hold_id, &event_id, &seats],
        )
        .await?
        .get(0);
    tx.execute(
        "UPDATE holds SET status = 'confirmed' WHERE id = $1",
        &[&hold_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO jobs (kind, order_id) VALUES ('send_tickets', $1)",
        &[&order_id],
    )
    .await?;
    tx.commit().await?;
    let order = Order {
        id: order_id,
        hold_id,
        seats,
        status: "confirmed".into(),
    };
    Ok((StatusCode::CREATED, Json(order)))
}

async fn cancel_order(
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    let mut client = state.pool.get().await?;
    let mut retry = Retry::new(state.config.transaction_attempts);
    loop {
        match cancel_tx(&mut client, order_id).await {
            Err(err) if retry.again(&err).await => continue,
            done => return retry.give_up(done),
        }
    }
}

/// One try of a cancel's transaction.
async fn cancel_tx(client: &mut Client, order_id: Uuid) -> Result<Json<Order>, ApiError> {
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT hold_id, seats, status::text FROM orders WHERE id = $1 FOR UPDATE",
            &[&order_id],
        )
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    let (hold_id, seats, status): (Uuid, i32, String) = (row.get(0), row.get(1), row.get(2));
    let order = Order {
        id: order_id,
        hold_id,
        seats,
        status: "cancelled".into(),
    };
    if status == "cancelled" {
        return Ok(Json(order));
    }
    tx.execute(
        "UPDATE orders SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
        &[&order_id],
    )
    .await?;
    tx.execute(
        "UPDATE holds SET status = 'cancelled' WHERE id = $1",
        &[&hold_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO jobs (kind, order_id) VALUES ('refund', $1)",
        &[&order_id],
    )
    .await?;
    tx.commit().await?;
    Ok(Json(order))
}
