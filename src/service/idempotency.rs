//! Idempotency keys for the bundled services, on the kit's records
//! ([`crate::system::kit::idempotency`]): the first completed response of
//! an operation is stored under `idempotency/<client>/<key>` in the same
//! transaction as the operation's effect.

use super::api::{Request, Response, ResponseBody};
use super::data::idempotency_key;
use crate::store::{DbError, Key, Row, Tx};
use crate::system::kit::idempotency as kit;

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

fn server_error(message: String) -> Response {
    Response {
        status: 500,
        attempts: 0,
        body: ResponseBody::ServerError { message },
    }
}

/// Looks the key up. A stored record for a different request body means
/// the client reused a key: 422, and nothing is done.
pub async fn recall(tx: &mut Tx, key: &Key, request: &Request) -> Result<Recall, DbError> {
    Ok(
        match kit::recall::<Response>(tx, key, &fingerprint(request)).await? {
            kit::Recall::Fresh => Recall::Fresh,
            kit::Recall::Replay(response) => Recall::Replay(response),
            kit::Recall::KeyReused => Recall::Replay(Response {
                status: 422,
                ..server_error(format!(
                    "idempotency key {key} was used for a different request"
                ))
            }),
            kit::Recall::Unreadable => Recall::Replay(server_error(format!(
                "idempotency record {key} is unreadable"
            ))),
        },
    )
}

/// Stores `response` under `key`. Only 2xx responses are stored: a refused
/// operation may succeed when retried later and has no effect to protect.
/// A concurrent request with the same key that committed first turns into
/// 40001 (see [`kit::remember`]).
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
        .with("status", i64::from(response.status));
    kit::remember_row(tx, key, row, &fingerprint(request), response).await
}
