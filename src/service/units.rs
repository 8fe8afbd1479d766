//! Authorization units (the Artillery reports): reserve units against an
//! authorization, release a reservation, consume it when the visit
//! happens.
//!
//! Every operation is one Serializable transaction in the retry wrapper:
//! the authorization's counters are read with `FOR UPDATE` and written back
//! in the same transaction as the reservation row and the idempotency
//! record. Counters: `units_total >= units_used + units_scheduled`, where
//! `units_scheduled` is the sum of scheduled reservations and `units_used`
//! the sum of consumed ones.
//!
//! Reservation ids are the request's `request_id`, which the contract makes
//! unique per attempt (client id in the high bits), so servers need no
//! coordination and a transaction re-run by the retry wrapper reuses the
//! id of its rolled-back predecessor.

use super::access;
use super::api::{Request, RequestBody, Response, ResponseBody, Token};
use super::board::not_found;
use super::data::{authorization_key, reservation_key};
use super::idempotency::{self, Recall};
use super::retry::RetryOn;
use super::server::Api;
use super::Variant;
use crate::store::{DbError, Isolation, Key, Row, Tx};
use std::sync::atomic::Ordering;

/// `state` of a reservation whose units are scheduled.
pub const STATE_SCHEDULED: &str = "scheduled";
/// `state` of a reservation whose units were used.
pub const STATE_CONSUMED: &str = "consumed";

fn response(status: u16, body: ResponseBody) -> Response {
    Response {
        status,
        attempts: 0,
        body,
    }
}

fn malformed(key: &Key, row: &Row) -> Response {
    response(
        500,
        ResponseBody::ServerError {
            message: format!("row {key} is malformed: {row:?}"),
        },
    )
}

/// The idempotency record key, unless the variant ignores keys.
fn record_key(api: &Api, request: &Request) -> Option<Key> {
    if api.variant == Variant::UnitsNoIdempotency {
        None
    } else {
        idempotency::record_key(request)
    }
}

/// Replays a stored response if the key was seen. `Ok(Some)` ends the
/// attempt (the transaction is committed so SSI validates the read).
async fn replay(
    api: &Api,
    tx: &mut Tx,
    record: Option<&Key>,
    request: &Request,
) -> Result<Option<Response>, DbError> {
    let Some(record) = record else {
        return Ok(None);
    };
    match idempotency::recall(tx, record, request).await? {
        Recall::Fresh => Ok(None),
        Recall::Replay(stored) => {
            api.idempotent_replays.fetch_add(1, Ordering::Relaxed);
            Ok(Some(stored))
        }
    }
}

/// `POST /authorizations/{id}/reservations`.
pub(super) async fn reserve_units(api: &Api, token: &Token, request: &Request) -> Response {
    let RequestBody::Reserve {
        authorization,
        units,
    } = request.body
    else {
        unreachable!("reserve_units gets reserve requests")
    };
    let Some(info) = api.dataset.authorization(authorization) else {
        return not_found();
    };
    if let Err(refused) = access::same_organization(token, info.organization) {
        return refused;
    }
    if units <= 0 {
        return response(
            422,
            ResponseBody::ServerError {
                message: format!("units must be positive (got {units})"),
            },
        );
    }
    api.retry_response(RetryOn::SerializationAndDeadlock, || {
        reserve_once(api, request, authorization, units)
    })
    .await
}

async fn reserve_once(
    api: &Api,
    request: &Request,
    authorization: u32,
    units: i64,
) -> Result<Response, DbError> {
    // The planted bug `units/read-committed` reads the counters with a plain
    // SELECT at Read Committed and writes back read + units: two concurrent
    // reserves both see the old counters, both pass the check, and the
    // second UPDATE (after waiting for the first's row lock) overwrites it.
    let buggy = api.variant == Variant::UnitsReadCommitted;
    let isolation = if buggy {
        Isolation::ReadCommitted
    } else {
        Isolation::Serializable
    };
    let record = record_key(api, request);
    let mut tx = api.pool.begin(isolation).await?;
    if let Some(stored) = replay(api, &mut tx, record.as_ref(), request).await? {
        tx.commit().await?;
        return Ok(stored);
    }
    let auth_key = authorization_key(authorization);
    let row = if buggy {
        tx.get(&auth_key).await?
    } else {
        tx.get_for_update(&auth_key).await?
    };
    let Some(mut row) = row else {
        return Ok(not_found());
    };
    let (Some(total), Some(used), Some(scheduled)) = (
        row.int("units_total"),
        row.int("units_used"),
        row.int("units_scheduled"),
    ) else {
        return Ok(malformed(&auth_key, &row));
    };
    let available = total - used - scheduled;
    if units > available {
        tx.commit().await?;
        return Ok(response(
            409,
            ResponseBody::NotEnoughUnits {
                units_available: available,
            },
        ));
    }
    debug_assert!(units > 0 && units <= available, "reserve passed its checks");
    row.set("units_scheduled", scheduled + units);
    tx.update(&auth_key, row).await?;
    let reservation = request.request_id;
    tx.insert(
        &reservation_key(reservation),
        Row::new()
            .with("authorization", i64::from(authorization))
            .with("units", units)
            .with("state", STATE_SCHEDULED)
            .with("client", i64::from(request.client))
            .with(
                "idempotency_key",
                request.idempotency_key.clone().unwrap_or_default(),
            ),
    )
    .await?;
    let reserved = response(
        201,
        ResponseBody::Reserved {
            reservation,
            units,
            units_available: available - units,
        },
    );
    if let Some(record) = &record {
        idempotency::remember(&mut tx, record, request, &reserved).await?;
    }
    tx.commit().await?;
    Ok(reserved)
}

/// `DELETE /reservations/{id}` and `POST /reservations/{id}/consume`.
///
/// The reservation's organization is data, not a static fact, so the access
/// check first looks the reservation up in a short read of its own (retried
/// like any read), then decides 403 once, outside the retry of the write.
pub(super) async fn settle_reservation(api: &Api, token: &Token, request: &Request) -> Response {
    let (reservation, consume) = match request.body {
        RequestBody::Release { reservation } => (reservation, false),
        RequestBody::Consume { reservation } => (reservation, true),
        _ => unreachable!("settle_reservation gets release and consume requests"),
    };
    let key = reservation_key(reservation);
    let lookup = api
        .retry(RetryOn::SerializationAndDeadlock, || async {
            let mut tx = api.pool.begin(Isolation::ReadCommitted).await?;
            let row = tx.get(&key).await?;
            tx.commit().await?;
            Ok(row.and_then(|row| row.int("authorization")))
        })
        .await;
    let authorization = match lookup {
        Ok((Some(authorization), _)) => authorization,
        Ok((None, _)) => return not_found(),
        Err(failed) => return failed,
    };
    let Some(info) = u32::try_from(authorization)
        .ok()
        .and_then(|id| api.dataset.authorization(id))
    else {
        return not_found();
    };
    if let Err(refused) = access::same_organization(token, info.organization) {
        return refused;
    }
    api.retry_response(RetryOn::SerializationAndDeadlock, || {
        settle_once(api, request, reservation, consume)
    })
    .await
}

async fn settle_once(
    api: &Api,
    request: &Request,
    reservation: u64,
    consume: bool,
) -> Result<Response, DbError> {
    let record = record_key(api, request);
    let mut tx = api.pool.begin(Isolation::Serializable).await?;
    if let Some(stored) = replay(api, &mut tx, record.as_ref(), request).await? {
        tx.commit().await?;
        return Ok(stored);
    }
    let key = reservation_key(reservation);
    // Released reservations are deleted and consumed ones are final: either
    // way there is no scheduled reservation to act on (404).
    let Some(mut reservation_row) = tx.get_for_update(&key).await? else {
        return Ok(not_found());
    };
    if reservation_row.text("state") != Some(STATE_SCHEDULED) {
        return Ok(not_found());
    }
    let (Some(authorization), Some(units)) = (
        reservation_row.int("authorization"),
        reservation_row.int("units"),
    ) else {
        return Ok(malformed(&key, &reservation_row));
    };
    let auth_key = authorization_key(authorization as u32);
    let Some(mut auth_row) = tx.get_for_update(&auth_key).await? else {
        return Ok(malformed(&key, &reservation_row));
    };
    let (Some(used), Some(scheduled)) =
        (auth_row.int("units_used"), auth_row.int("units_scheduled"))
    else {
        return Ok(malformed(&auth_key, &auth_row));
    };
    auth_row.set("units_scheduled", scheduled - units);
    let settled = if consume {
        auth_row.set("units_used", used + units);
        reservation_row.set("state", STATE_CONSUMED);
        tx.update(&key, reservation_row).await?;
        response(200, ResponseBody::Consumed { units })
    } else {
        tx.delete(&key).await?;
        response(200, ResponseBody::Released { units })
    };
    tx.update(&auth_key, auth_row).await?;
    if let Some(record) = &record {
        idempotency::remember(&mut tx, record, request, &settled).await?;
    }
    tx.commit().await?;
    Ok(settled)
}
