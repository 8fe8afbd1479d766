//! Authorization units (the Artillery reports): reserve units against an
//! authorization, release a reservation, consume it when the visit
//! happens.
//!
//! Every operation is one Serializable transaction in the retry wrapper:
//! the authorization's counters are read with `FOR UPDATE` and written back
//! in the same transaction as the reservation row and the idempotency
//! record. A reserve locks the counters and inserts the reservation in one
//! statement (a CTE with a locking read feeding an `INSERT ... SELECT`). Counters: `units_total >= units_used + units_scheduled`, where
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
use super::idempotency::{self, Recall, RecordKey};
use super::retry::RetryOn;
use super::server::Api;
use super::Variant;
use overbook::sql::{Rows, Session, Value};
use overbook::store::{DbError, Isolation};
use std::sync::atomic::Ordering;

/// `state` of a reservation whose units are scheduled.
pub const STATE_SCHEDULED: &str = "scheduled";
/// `state` of a reservation whose units were used.
pub const STATE_CONSUMED: &str = "consumed";

/// Reserves `$3` units of authorization `$1` as reservation `$2` when the
/// authorization has them left; one row (`available`, `units_scheduled`,
/// `reserved`) per existing authorization, none for a missing one.
const RESERVE: &str = "WITH auth AS (
    SELECT id, units_total - units_used - units_scheduled AS available, units_scheduled
    FROM authorizations WHERE id = $1 FOR UPDATE
), reserved AS (
    INSERT INTO reservations (id, authorization_id, units, state, client, idempotency_key)
    SELECT $2, id, $3, $4, $5, $6 FROM auth WHERE available >= $3
    RETURNING id
)
SELECT auth.available, auth.units_scheduled, reserved.id IS NOT NULL AS reserved
FROM auth LEFT JOIN reserved ON true";

/// The planted bug `units/read-committed`: [`RESERVE`] without the CTE's
/// `FOR UPDATE`, run at Read Committed.
const RESERVE_UNLOCKED: &str = "WITH auth AS (
    SELECT id, units_total - units_used - units_scheduled AS available, units_scheduled
    FROM authorizations WHERE id = $1
), reserved AS (
    INSERT INTO reservations (id, authorization_id, units, state, client, idempotency_key)
    SELECT $2, id, $3, $4, $5, $6 FROM auth WHERE available >= $3
    RETURNING id
)
SELECT auth.available, auth.units_scheduled, reserved.id IS NOT NULL AS reserved
FROM auth LEFT JOIN reserved ON true";

fn response(status: u16, body: ResponseBody) -> Response {
    Response {
        status,
        attempts: 0,
        body,
    }
}

fn malformed(what: &str, rows: &Rows) -> Response {
    response(
        500,
        ResponseBody::ServerError {
            message: format!("{what} is malformed: {rows:?}"),
        },
    )
}

/// The idempotency record key, unless the variant ignores keys.
fn record_key(api: &Api, request: &Request) -> Option<RecordKey> {
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
    s: &mut impl Session,
    record: Option<&RecordKey>,
    request: &Request,
) -> Result<Option<Response>, DbError> {
    let Some(record) = record else {
        return Ok(None);
    };
    match idempotency::recall(s, record, request).await? {
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
    // The planted bug `units/read-committed` drops the CTE's FOR UPDATE and
    // runs at Read Committed, then writes back read + units: two concurrent
    // reserves both see the old counters, both insert, and the second UPDATE
    // (after waiting for the first's row lock) overwrites the first's.
    let buggy = api.variant == Variant::UnitsReadCommitted;
    let isolation = if buggy {
        Isolation::ReadCommitted
    } else {
        Isolation::Serializable
    };
    let record = record_key(api, request);
    let mut s = api.database.connect().await?;
    s.begin(isolation).await?;
    if let Some(stored) = replay(api, &mut s, record.as_ref(), request).await? {
        s.commit().await?;
        return Ok(stored);
    }
    // One statement checks the counters and inserts the reservation: the CTE
    // locks the authorization row, and the INSERT ... SELECT draws from it
    // only when enough units are left, so no reservation exists that the
    // locked counters did not allow. The outer join tells a missing
    // authorization (no row) from one without enough units (not reserved).
    let reserve = if buggy { RESERVE_UNLOCKED } else { RESERVE };
    let rows = s
        .execute(
            reserve,
            &[
                i64::from(authorization).into(),
                (request.request_id as i64).into(),
                units.into(),
                STATE_SCHEDULED.into(),
                i64::from(request.client).into(),
                request.idempotency_key.clone().unwrap_or_default().into(),
            ],
        )
        .await?;
    if rows.is_empty() {
        return Ok(not_found());
    }
    let (Some(available), Some(scheduled), Some(reserved)) = (
        rows.int(0, "available"),
        rows.int(0, "units_scheduled"),
        rows.get(0, "reserved").and_then(Value::as_bool),
    ) else {
        return Ok(malformed(&format!("authorization {authorization}"), &rows));
    };
    if !reserved {
        s.commit().await?;
        return Ok(response(
            409,
            ResponseBody::NotEnoughUnits {
                units_available: available,
            },
        ));
    }
    debug_assert!(units > 0 && units <= available, "reserve passed its checks");
    s.execute(
        "UPDATE authorizations SET units_scheduled = $2 WHERE id = $1",
        &[i64::from(authorization).into(), (scheduled + units).into()],
    )
    .await?;
    let reservation = request.request_id;
    let reserved = response(
        201,
        ResponseBody::Reserved {
            reservation,
            units,
            units_available: available - units,
        },
    );
    if let Some(record) = &record {
        idempotency::remember(&mut s, record, request, &reserved).await?;
    }
    s.commit().await?;
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
    let lookup = api
        .retry(RetryOn::SerializationAndDeadlock, || async {
            let mut s = api.database.connect().await?;
            let rows = s
                .execute(
                    "SELECT authorization_id FROM reservations WHERE id = $1",
                    &[(reservation as i64).into()],
                )
                .await?;
            Ok(rows.int(0, "authorization_id"))
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
    let mut s = api.database.connect().await?;
    s.begin(Isolation::Serializable).await?;
    if let Some(stored) = replay(api, &mut s, record.as_ref(), request).await? {
        s.commit().await?;
        return Ok(stored);
    }
    let id: Value = (reservation as i64).into();
    // Released reservations are deleted and consumed ones are final: either
    // way there is no scheduled reservation to act on (404).
    let found = s
        .execute(
            "SELECT authorization_id, units, state FROM reservations WHERE id = $1 FOR UPDATE",
            std::slice::from_ref(&id),
        )
        .await?;
    if found.is_empty() || found.get(0, "state").and_then(Value::as_text) != Some(STATE_SCHEDULED) {
        return Ok(not_found());
    }
    let (Some(authorization), Some(units)) =
        (found.int(0, "authorization_id"), found.int(0, "units"))
    else {
        return Ok(malformed(&format!("reservation {reservation}"), &found));
    };
    let counters = s
        .execute(
            "SELECT units_used, units_scheduled FROM authorizations WHERE id = $1 FOR UPDATE",
            &[authorization.into()],
        )
        .await?;
    let (Some(used), Some(scheduled)) = (
        counters.int(0, "units_used"),
        counters.int(0, "units_scheduled"),
    ) else {
        return Ok(malformed(
            &format!("authorization {authorization}"),
            &counters,
        ));
    };
    let settled = if consume {
        s.execute(
            "UPDATE reservations SET state = $2 WHERE id = $1",
            &[id, STATE_CONSUMED.into()],
        )
        .await?;
        s.execute(
            "UPDATE authorizations SET units_used = $2, units_scheduled = $3 WHERE id = $1",
            &[
                authorization.into(),
                (used + units).into(),
                (scheduled - units).into(),
            ],
        )
        .await?;
        response(200, ResponseBody::Consumed { units })
    } else {
        s.execute("DELETE FROM reservations WHERE id = $1", &[id])
            .await?;
        s.execute(
            "UPDATE authorizations SET units_scheduled = $2 WHERE id = $1",
            &[authorization.into(), (scheduled - units).into()],
        )
        .await?;
        response(200, ResponseBody::Released { units })
    };
    if let Some(record) = &record {
        idempotency::remember(&mut s, record, request, &settled).await?;
    }
    s.commit().await?;
    Ok(settled)
}
