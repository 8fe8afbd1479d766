//! The appointment board (the k6 report): read the board, move an
//! appointment between statuses with optimistic concurrency.
//!
//! A move locks the row (`SELECT ... FOR UPDATE`) at Read Committed and
//! compares both status and version with what the client saw: a stale view
//! gets 409, a move the workflow forbids gets 422. The lock makes the
//! compare-and-set atomic; Read Committed is enough because the decision
//! reads nothing but the locked row.

use super::access;
use super::api::{
    AppointmentStatus, AppointmentView, Request, RequestBody, Response, ResponseBody, Token,
};
use super::retry::RetryOn;
use super::server::Api;
use super::Variant;
use overbook::sql::{Rows, Session, Value};
use overbook::store::{DbError, Isolation};

pub(super) fn not_found() -> Response {
    Response {
        status: 404,
        attempts: 0,
        body: ResponseBody::NotFound,
    }
}

/// Row `i` of `rows` (id, status, version) as the board shows it; `None`
/// if it is malformed.
fn view_of(rows: &Rows, i: usize) -> Option<AppointmentView> {
    Some(AppointmentView {
        id: u32::try_from(rows.int(i, "id")?).ok()?,
        status: AppointmentStatus::parse(rows.get(i, "status").and_then(Value::as_text)?)?,
        version: rows.int(i, "version")?,
    })
}

/// `GET /board`: the caller's organization's appointments in id order.
pub(super) async fn get_board(api: &Api, token: &Token) -> Response {
    let organization = i64::from(token.organization);
    api.retry_response(RetryOn::SerializationAndDeadlock, || async {
        let mut s = api.database.connect().await?;
        let rows = s
            .execute(
                "SELECT id, status, version FROM appointments WHERE organization = $1 ORDER BY id",
                &[organization.into()],
            )
            .await?;
        let appointments = (0..rows.len()).filter_map(|i| view_of(&rows, i)).collect();
        Ok(Response {
            status: 200,
            attempts: 0,
            body: ResponseBody::Board { appointments },
        })
    })
    .await
}

/// `POST /appointments/{id}/move`.
pub(super) async fn move_appointment(api: &Api, token: &Token, request: &Request) -> Response {
    let RequestBody::Move { appointment, .. } = request.body else {
        unreachable!("move_appointment gets move requests")
    };
    let Some(info) = api.dataset.appointment(appointment) else {
        return not_found();
    };
    if let Err(response) = access::same_organization(token, info.organization) {
        return response;
    }
    api.retry_response(RetryOn::SerializationAndDeadlock, || {
        move_once(api, request)
    })
    .await
}

async fn move_once(api: &Api, request: &Request) -> Result<Response, DbError> {
    let RequestBody::Move {
        appointment,
        from,
        to,
        expected_version,
    } = request.body
    else {
        unreachable!("move_once gets move requests")
    };
    let mut s = api.database.connect().await?;
    s.begin(Isolation::ReadCommitted).await?;
    let rows = s
        .execute(
            "SELECT id, status, version FROM appointments WHERE id = $1 FOR UPDATE",
            &[i64::from(appointment).into()],
        )
        .await?;
    if rows.is_empty() {
        return Ok(not_found());
    }
    let Some(current) = view_of(&rows, 0) else {
        return Ok(Response {
            status: 500,
            attempts: 0,
            body: ResponseBody::ServerError {
                message: format!("appointment {appointment} is malformed: {rows:?}"),
            },
        });
    };
    // The planted bug `board/no-version-check` compares the status only, so
    // a client whose view is stale but whose status happens to match again
    // (ready -> scheduled -> ready) overwrites moves it never saw.
    let version_matches =
        api.variant == Variant::BoardNoVersionCheck || current.version == expected_version;
    if current.status != from || !version_matches {
        return Ok(Response {
            status: 409,
            attempts: 0,
            body: ResponseBody::VersionConflict {
                status: current.status,
                current_version: current.version,
            },
        });
    }
    if !current.status.can_move_to(to) {
        return Ok(Response {
            status: 422,
            attempts: 0,
            body: ResponseBody::InvalidTransition {
                status: current.status,
            },
        });
    }
    // The planted bug `board/version-not-incremented` writes the version
    // back unchanged: two different states then share one version.
    let version = if api.variant == Variant::BoardVersionNotIncremented {
        current.version
    } else {
        current.version + 1
    };
    s.execute(
        "UPDATE appointments SET status = $2, version = $3 WHERE id = $1",
        &[
            i64::from(appointment).into(),
            to.name().into(),
            version.into(),
        ],
    )
    .await?;
    s.commit().await?;
    Ok(Response {
        status: 200,
        attempts: 0,
        body: ResponseBody::Moved {
            from_version: current.version,
            version,
        },
    })
}
