//! Idempotency keys for the bundled services: the first completed
//! response of an operation is stored in `idempotency_records` (keyed by
//! client and key) in the same transaction as the operation's effect, so
//! the effect and the record commit together or not at all.

use super::api::{Request, Response, ResponseBody};
use overbook::sql::{Session, Value};
use overbook::store::{DbError, SqlState};

/// What a request's key resolves to inside its transaction.
pub enum Recall {
    /// No earlier completion: do the work (and then [`remember`]).
    Fresh,
    /// A completed earlier request with this key: answer with this.
    Replay(Response),
}

/// The record's primary key for `request`'s idempotency key, if it has one.
pub struct RecordKey {
    client: i64,
    key: String,
}

/// The record key of `request`, if it carries an idempotency key.
pub fn record_key(request: &Request) -> Option<RecordKey> {
    request.idempotency_key.as_deref().map(|key| RecordKey {
        client: i64::from(request.client),
        key: key.to_string(),
    })
}

fn fingerprint(request: &Request) -> String {
    serde_json::to_string(&request.body).unwrap_or_default()
}

fn server_error(status: u16, message: String) -> Response {
    Response {
        status,
        attempts: 0,
        body: ResponseBody::ServerError { message },
    }
}

/// Looks the key up. A stored record for a different request body means
/// the client reused a key: 422, and nothing is done.
pub async fn recall(
    s: &mut impl Session,
    record: &RecordKey,
    request: &Request,
) -> Result<Recall, DbError> {
    let rows = s
        .execute(
            "SELECT request, response FROM idempotency_records WHERE client = $1 AND key = $2",
            &[record.client.into(), record.key.as_str().into()],
        )
        .await?;
    if rows.is_empty() {
        return Ok(Recall::Fresh);
    }
    let text = |column: &str| {
        rows.get(0, column)
            .and_then(Value::as_text)
            .map(str::to_string)
    };
    let (client, key) = (record.client, &record.key);
    if text("request").as_deref() != Some(fingerprint(request).as_str()) {
        return Ok(Recall::Replay(server_error(
            422,
            format!("idempotency key {key:?} of client {client} was used for a different request"),
        )));
    }
    Ok(Recall::Replay(
        text("response")
            .and_then(|stored| serde_json::from_str::<Response>(&stored).ok())
            .unwrap_or_else(|| {
                server_error(
                    500,
                    format!("idempotency record {key:?} of client {client} is unreadable"),
                )
            }),
    ))
}

/// Stores `response` under the key. Only 2xx responses are stored: a
/// refused operation may succeed when retried later and has no effect to
/// protect. A concurrent request with the same key that committed first
/// makes the insert fail with 23505, reported as 40001 so the retry
/// wrapper runs the transaction again, which then replays the winner's
/// response.
pub async fn remember(
    s: &mut impl Session,
    record: &RecordKey,
    request: &Request,
    response: &Response,
) -> Result<(), DbError> {
    if !(200..300).contains(&response.status) {
        return Ok(());
    }
    let stored = serde_json::to_string(response).unwrap_or_default();
    let inserted = s
        .execute(
            "INSERT INTO idempotency_records (client, key, request, status, response) VALUES ($1, $2, $3, $4, $5)",
            &[
                record.client.into(),
                record.key.as_str().into(),
                fingerprint(request).into(),
                i64::from(response.status).into(),
                stored.into(),
            ],
        )
        .await;
    match inserted {
        Err(error) if error.code == SqlState::UniqueViolation => Err(DbError::new(
            SqlState::SerializationFailure,
            format!(
                "concurrent request with the same idempotency key committed first (client {}, key {:?})",
                record.client, record.key
            ),
        )),
        other => other.map(|_| ()),
    }
}
