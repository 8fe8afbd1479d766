//! Idempotency keys: the first completed response of an operation is
//! stored under `idempotency/<client>/<key>` in the same transaction as the
//! operation's effect, so the effect and the record commit together or not
//! at all. A repeat finds the record and gets the stored response.

use super::api::{Request, Response, ResponseBody};
use super::data::idempotency_key;
use crate::store::{DbError, Key, Row, SqlState, Tx};

/// What a request's key resolves to inside its transaction.
pub enum Recall {
    /// No earlier completion: do the work (and then [`remember`]).
    Fresh,
    /// A completed earlier request with this key: answer with this.
    Replay(Response),
}

/// The store key for `request`'s idempotency key, if it has one.
pub fn record_key(request: &Request) -> Option<Key> {
    request
        .idempotency_key
        .as_deref()
        .map(|key| idempotency_key(request.client, key))
}

fn fingerprint(request: &Request) -> String {
    serde_json::to_string(&request.body).unwrap_or_default()
}

/// Looks the key up. A stored record for a different request body means
/// the client reused a key: 422, and nothing is done.
pub async fn recall(tx: &mut Tx, key: &Key, request: &Request) -> Result<Recall, DbError> {
    let Some(row) = tx.get(key).await? else {
        return Ok(Recall::Fresh);
    };
    if row.text("request") != Some(fingerprint(request).as_str()) {
        return Ok(Recall::Replay(Response {
            status: 422,
            attempts: 0,
            body: ResponseBody::ServerError {
                message: format!("idempotency key {key} was used for a different request"),
            },
        }));
    }
    let stored = row
        .text("response")
        .and_then(|text| serde_json::from_str::<Response>(text).ok());
    Ok(Recall::Replay(stored.unwrap_or_else(|| Response {
        status: 500,
        attempts: 0,
        body: ResponseBody::ServerError {
            message: format!("idempotency record {key} is unreadable"),
        },
    })))
}

/// Stores `response` under `key`. Only 2xx responses are stored: a refused
/// operation may succeed when retried later and has no effect to protect.
/// A concurrent request with the same key that committed first makes the
/// insert fail with 23505; that is reported as 40001 so the retry wrapper
/// runs the transaction again, which then replays the winner's response.
pub async fn remember(
    tx: &mut Tx,
    key: &Key,
    request: &Request,
    response: &Response,
) -> Result<(), DbError> {
    if !(200..300).contains(&response.status) {
        return Ok(());
    }
    let row = Row::new()
        .with("client", i64::from(request.client))
        .with("request", fingerprint(request))
        .with("status", i64::from(response.status))
        .with(
            "response",
            serde_json::to_string(response).unwrap_or_default(),
        );
    match tx.insert(key, row).await {
        Err(error) if error.code == SqlState::UniqueViolation => Err(DbError::new(
            SqlState::SerializationFailure,
            format!("concurrent request with the same idempotency key committed first ({key})"),
        )),
        other => other,
    }
}
