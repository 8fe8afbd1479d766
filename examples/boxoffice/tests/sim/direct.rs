//! The box office's hold, confirm, release and cancel ported to overbook's
//! direct `Session` path (the same statements, in the same order, through
//! `ServerContext::sql`), for one measure only: what running the service
//! unchanged, over the wire protocol and its HTTP app, costs against a
//! port (the `wire_against_direct` test prints the ratio). The box office
//! itself never runs this code.

use crate::sim::{http_user, Boxoffice, Checker, Events, Settings};
use overbook::http::{HttpRequest, HttpResponse};
use overbook::prelude::*;
use overbook::sql::{Rows, Session, SqlSession, Value};
use overbook::store::DbError;
use serde_json::json;

/// The port, with the box office's settings, data, user and invariants.
#[derive(Clone, Copy, Debug)]
pub struct DirectBoxoffice;

type Answer = Result<HttpResponse, DbError>;

fn answer(status: u16, body: serde_json::Value) -> Answer {
    Ok(HttpResponse {
        status,
        headers: Vec::new(),
        body,
    })
}

fn text(rows: &Rows, row: usize, column: &str) -> String {
    rows.get(row, column)
        .and_then(Value::to_pg_text)
        .unwrap_or_default()
}

async fn hold(s: &mut SqlSession, event: &str, seats: i64, key: &str, ttl_ms: i64) -> Answer {
    s.execute("BEGIN", &[]).await?;
    let capacity = s
        .execute("SELECT capacity FROM events WHERE id = $1::uuid FOR UPDATE", &[event.into()])
        .await?;
    let Some(capacity) = capacity.int(0, "capacity") else {
        s.execute("ROLLBACK", &[]).await?;
        return answer(404, json!({ "error": "no such event" }));
    };
    let sql = "SELECT id::text AS id FROM holds WHERE idempotency_key = $1";
    let known = s.execute(sql, &[key.into()]).await?;
    if !known.is_empty() {
        s.execute("COMMIT", &[]).await?;
        return answer(200, json!({ "id": text(&known, 0, "id") }));
    }
    let in_use = s
        .execute(
            "SELECT coalesce(sum(seats), 0) AS in_use FROM holds \
             WHERE event_id = $1::uuid AND status IN ('held', 'confirmed')",
            &[event.into()],
        )
        .await?
        .int(0, "in_use")
        .unwrap_or(0);
    if in_use + seats > capacity {
        s.execute("ROLLBACK", &[]).await?;
        return answer(409, json!({ "error": "sold out" }));
    }
    let row = s
        .execute(
            "INSERT INTO holds (event_id, seats, idempotency_key, expires_at) \
             VALUES ($1::uuid, $2, $3, now() + $4::bigint * interval '1 millisecond') \
             RETURNING id::text AS id",
            &[event.into(), Value::Int(seats), key.into(), Value::Int(ttl_ms)],
        )
        .await?;
    s.execute("COMMIT", &[]).await?;
    answer(201, json!({ "id": text(&row, 0, "id") }))
}

async fn confirm(s: &mut SqlSession, hold: &str) -> Answer {
    s.execute("BEGIN", &[]).await?;
    let found = s
        .execute(
            "SELECT status::text AS status, expires_at > now() AS live, seats, \
             event_id::text AS event_id FROM holds WHERE id = $1::uuid FOR UPDATE",
            &[hold.into()],
        )
        .await?;
    if found.is_empty() {
        s.execute("ROLLBACK", &[]).await?;
        return answer(404, json!({ "error": "no such hold" }));
    }
    let live = matches!(found.get(0, "live"), Some(Value::Bool(true)));
    match (text(&found, 0, "status").as_str(), live) {
        ("held", true) => {}
        ("confirmed", _) => {
            let order = s
                .execute("SELECT id::text AS id FROM orders WHERE hold_id = $1::uuid", &[hold.into()])
                .await?;
            s.execute("COMMIT", &[]).await?;
            return answer(200, json!({ "id": text(&order, 0, "id") }));
        }
        ("held" | "expired", _) => {
            s.execute("ROLLBACK", &[]).await?;
            return answer(410, json!({ "error": "the hold expired" }));
        }
        _ => {
            s.execute("ROLLBACK", &[]).await?;
            return answer(409, json!({ "error": "the hold ended" }));
        }
    }
    let seats = found.get(0, "seats").cloned().unwrap_or(Value::Null);
    let event = text(&found, 0, "event_id");
    let order = s
        .execute(
            "INSERT INTO orders (hold_id, event_id, seats) VALUES ($1::uuid, $2::uuid, $3) \
             RETURNING id::text AS id",
            &[hold.into(), event.as_str().into(), seats],
        )
        .await?;
    let order = text(&order, 0, "id");
    s.execute("UPDATE holds SET status = 'confirmed' WHERE id = $1::uuid", &[hold.into()])
        .await?;
    s.execute(
        "INSERT INTO jobs (kind, order_id) VALUES ('send_tickets', $1::uuid)",
        &[order.as_str().into()],
    )
    .await?;
    s.execute("COMMIT", &[]).await?;
    answer(201, json!({ "id": order }))
}

async fn release(s: &mut SqlSession, hold: &str) -> Answer {
    let sql = "UPDATE holds SET status = 'released' WHERE id = $1::uuid AND status = 'held'";
    s.execute(sql, &[hold.into()]).await?;
    answer(204, serde_json::Value::Null)
}

async fn cancel(s: &mut SqlSession, order: &str) -> Answer {
    s.execute("BEGIN", &[]).await?;
    let found = s
        .execute(
            "SELECT hold_id::text AS hold_id, status::text AS status FROM orders \
             WHERE id = $1::uuid FOR UPDATE",
            &[order.into()],
        )
        .await?;
    if found.is_empty() || text(&found, 0, "status") == "cancelled" {
        s.execute("COMMIT", &[]).await?;
        return answer(200, json!({ "id": order }));
    }
    let hold = text(&found, 0, "hold_id");
    s.execute(
        "UPDATE orders SET status = 'cancelled', cancelled_at = now() WHERE id = $1::uuid",
        &[order.into()],
    )
    .await?;
    s.execute("UPDATE holds SET status = 'cancelled' WHERE id = $1::uuid", &[hold.as_str().into()])
        .await?;
    s.execute("INSERT INTO jobs (kind, order_id) VALUES ('refund', $1::uuid)", &[order.into()])
        .await?;
    s.execute("COMMIT", &[]).await?;
    answer(200, json!({ "id": order }))
}

/// The worker's round: the sweep, then a batch of jobs.
async fn work(s: &mut SqlSession) -> Result<(), DbError> {
    let sweep = "UPDATE holds SET status = 'expired' WHERE status = 'held' AND expires_at <= now()";
    s.execute(sweep, &[]).await?;
    s.execute("BEGIN", &[]).await?;
    let due = s
        .execute(
            "SELECT id FROM jobs WHERE done_at IS NULL AND run_after <= now() \
             ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED",
            &[],
        )
        .await?;
    for row in 0..due.len() {
        let id = Value::Int(due.int(row, "id").unwrap_or(0));
        s.execute(
            "INSERT INTO deliveries (job_id, order_id, kind) \
             SELECT id, order_id, kind FROM jobs WHERE id = $1",
            std::slice::from_ref(&id),
        )
        .await?;
        s.execute(
            "UPDATE jobs SET done_at = now(), attempts = attempts + 1 WHERE id = $1",
            &[id],
        )
        .await?;
    }
    s.execute("COMMIT", &[]).await?;
    Ok(())
}

async fn route(ctx: &ServerContext<DirectBoxoffice>, request: &HttpRequest) -> Answer {
    let mut s = ctx.sql().await?;
    let parts: Vec<&str> = request.path.split('/').collect();
    let ttl_ms = ctx.settings.service.hold_ttl_ms as i64;
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["", "events"]) => {
            let sql = "SELECT id::text AS id FROM events WHERE starts_at > now() ORDER BY starts_at, id";
            let rows = s.execute(sql, &[]).await?;
            let ids: Vec<_> = (0..rows.len()).map(|r| json!({ "id": text(&rows, r, "id") })).collect();
            answer(200, serde_json::Value::Array(ids))
        }
        ("POST", ["", "events", event, "holds"]) => {
            let seats = request.body.as_ref().and_then(|b| b["seats"].as_i64()).unwrap_or(1);
            let key = request.header_value("idempotency-key").unwrap_or_default();
            hold(&mut s, event, seats, key, ttl_ms).await
        }
        ("POST", ["", "holds", id, "confirm"]) => confirm(&mut s, id).await,
        ("DELETE", ["", "holds", id]) => release(&mut s, id).await,
        ("POST", ["", "orders", id, "cancel"]) => cancel(&mut s, id).await,
        _ => answer(404, serde_json::Value::Null),
    }
}

impl System for DirectBoxoffice {
    type Settings = Settings;
    type Data = Events;
    type Request = HttpRequest;
    type Response = HttpResponse;
    type Server = ServerContext<Self>;
    type Checker = Checker;

    fn name(&self) -> &'static str {
        "boxoffice-direct"
    }
    fn variants(&self) -> &'static [VariantInfo] {
        const CORRECT: &[VariantInfo] = &[VariantInfo::new("correct", "the direct port")];
        CORRECT
    }
    fn invariants(&self) -> &'static [InvariantInfo] {
        Boxoffice.invariants()
    }
    fn sql_schema(&self, variant: Variant) -> String {
        Boxoffice.sql_schema(variant)
    }
    fn data(&self, settings: &Settings, seed: Seed) -> Events {
        Boxoffice.data(settings, seed)
    }
    fn load(&self, events: &Events, store: &Store) {
        Boxoffice.load(events, store)
    }
    async fn handle(ctx: &ServerContext<Self>, request: HttpRequest, _: u32) -> HttpResponse {
        for attempt in 0..ctx.settings.service.transaction_attempts {
            match route(ctx, &request).await {
                Ok(response) => return response,
                Err(err) if err.is_retryable() => ctx.env.sleep_ms(10 << attempt.min(6)).await,
                Err(err) => return answer(500, json!({ "error": err.to_string() })).unwrap(),
            }
        }
        answer(503, serde_json::Value::Null).unwrap()
    }
    fn background_tasks(&self, settings: &Settings) -> Vec<BackgroundTask> {
        Boxoffice.background_tasks(settings)
    }
    async fn run_background(ctx: &ServerContext<Self>, _: BackgroundTask) {
        if let Ok(mut s) = ctx.sql().await {
            let _ = work(&mut s).await;
        }
    }
    async fn user(&self, user: UserContext<Self>) {
        http_user(user).await
    }
    fn checker(&self, _: Arc<Events>, _: &Settings) -> Checker {
        Checker::default()
    }
    fn explore_clients(&self, _: ExploreContext<'_, Self>) -> Vec<Vec<HttpRequest>> {
        Vec::new()
    }
}
