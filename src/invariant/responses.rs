//! Invariants on the client-visible history: what clients were told.

use super::{Findings, Tally};
use crate::service::access::Permission;
use crate::service::{Dataset, Request, RequestBody, Response, ResponseBody};
use overbook::store::{KeyRange, Store};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub(super) struct ResponseState {
    /// (appointment, from_version) -> the request that moved it from there.
    moves_from: BTreeMap<(u32, i64), (u32, u64)>,
    /// (client, appointment) -> highest version the client has seen.
    seen_version: BTreeMap<(u32, u32), i64>,
    /// (client, idempotency key) -> reservation ids the client was given.
    reserved_by_key: BTreeMap<(u32, String), u64>,
    /// Bookings acknowledged with a 201, with the client told.
    acknowledged_bookings: BTreeMap<u64, u32>,
}

/// Whether `body` may answer `request` with `status`.
fn consistent(request: &RequestBody, status: u16, body: &ResponseBody) -> bool {
    use ResponseBody as B;
    let status_fits = match body {
        B::Board { .. } | B::Moved { .. } | B::Released { .. } | B::Consumed { .. } => {
            status == 200
        }
        B::Reserved { .. } | B::Booked { .. } => status == 201,
        B::VersionConflict { .. } | B::NotEnoughUnits { .. } => status == 409,
        B::InvalidTransition { .. } => status == 422,
        B::NoRoom { .. } => status == 409 || status == 422,
        B::NotFound => status == 404,
        B::Unauthorized => status == 401,
        B::Forbidden => status == 403,
        B::RateLimited { .. } => status == 429,
        B::RetriesExhausted { .. } => status == 503,
        // 422 for misuse (a reused idempotency key); any 5xx, since the
        // world may answer for a crashed or timed-out server itself.
        B::ServerError { .. } => status == 422 || (500..600).contains(&status),
    };
    let body_fits = match body {
        B::Board { .. } => matches!(request, RequestBody::GetBoard),
        B::Moved { .. } | B::VersionConflict { .. } | B::InvalidTransition { .. } => {
            matches!(request, RequestBody::Move { .. })
        }
        B::Reserved { .. } | B::NotEnoughUnits { .. } => {
            matches!(request, RequestBody::Reserve { .. })
        }
        B::Released { .. } => matches!(request, RequestBody::Release { .. }),
        B::Consumed { .. } => matches!(request, RequestBody::Consume { .. }),
        B::Booked { .. } | B::NoRoom { .. } => matches!(request, RequestBody::Book { .. }),
        _ => true,
    };
    status_fits && body_fits
}

/// The organization owning what `request` touches, when static data says.
fn target_organizations(dataset: &Dataset, request: &RequestBody) -> Vec<u32> {
    match request {
        RequestBody::Move { appointment, .. } => dataset
            .appointment(*appointment)
            .map(|a| a.organization)
            .into_iter()
            .collect(),
        RequestBody::Reserve { authorization, .. } => dataset
            .authorization(*authorization)
            .map(|a| a.organization)
            .into_iter()
            .collect(),
        RequestBody::Book {
            practitioner,
            patient,
            ..
        } => dataset
            .practitioner(*practitioner)
            .map(|p| p.organization)
            .into_iter()
            .chain(dataset.patient(*patient).map(|p| p.organization))
            .collect(),
        _ => Vec::new(),
    }
}

impl ResponseState {
    /// Bookings are never deleted, so every booking a client was told
    /// about must be in the committed state: a service that answers before
    /// its commit is durable (or a store that loses a commit) fails here.
    pub(super) fn at_end(&self, store: &Store, tally: &mut Tally, findings: &mut Findings) {
        if self.acknowledged_bookings.is_empty() {
            tally.check(findings, "acknowledged_bookings_durable", true, String::new);
            return;
        }
        let committed: BTreeSet<u64> = store
            .scan_committed(&KeyRange::prefix("bookings/"))
            .iter()
            .filter_map(|(_, row)| row.int("booking"))
            .map(|id| id as u64)
            .collect();
        for (booking, client) in &self.acknowledged_bookings {
            tally.check(
                findings,
                "acknowledged_bookings_durable",
                committed.contains(booking),
                || format!("booking {booking} was confirmed to client {client} but is not in the committed state"),
            );
        }
    }

    pub(super) fn apply(
        &mut self,
        dataset: &Dataset,
        request: &Request,
        response: &Response,
        now_ms: u64,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let client = request.client;
        let op = request.body.op_name();
        tally.check(
            findings,
            "responses_consistent",
            consistent(&request.body, response.status, &response.body),
            || {
                format!(
                    "client {client} request {} ({op}) got status {} with {:?} at {now_ms} ms",
                    request.request_id, response.status, response.body
                )
            },
        );
        if (200..300).contains(&response.status) {
            self.check_access(dataset, request, response, now_ms, tally, findings);
        }
        match (&request.body, &response.body) {
            (
                RequestBody::Move {
                    appointment,
                    expected_version,
                    ..
                },
                ResponseBody::Moved {
                    from_version,
                    version,
                },
            ) => {
                self.check_move(
                    request,
                    *appointment,
                    *expected_version,
                    *from_version,
                    *version,
                    now_ms,
                    tally,
                    findings,
                );
            }
            (
                RequestBody::Move { appointment, .. },
                ResponseBody::VersionConflict {
                    current_version, ..
                },
            ) => self.saw_version(
                client,
                *appointment,
                *current_version,
                now_ms,
                tally,
                findings,
            ),
            (_, ResponseBody::Board { appointments }) => {
                for view in appointments {
                    self.saw_version(client, view.id, view.version, now_ms, tally, findings);
                }
            }
            (_, ResponseBody::Booked { booking, .. }) if response.status == 201 => {
                self.acknowledged_bookings.insert(*booking, client);
            }
            (_, ResponseBody::Reserved { reservation, .. }) => {
                if let Some(key) = &request.idempotency_key {
                    let first = *self
                        .reserved_by_key
                        .entry((client, key.clone()))
                        .or_insert(*reservation);
                    tally.check(findings, "exactly_once_reservation", first == *reservation, || {
                        format!(
                            "client {client} idempotency key {key:?} was given reservation {first} and then reservation {reservation} (request {}, {now_ms} ms)",
                            request.request_id
                        )
                    });
                }
            }
            _ => {}
        }
    }

    fn check_access(
        &self,
        dataset: &Dataset,
        request: &Request,
        response: &Response,
        now_ms: u64,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let client = request.client;
        let problem =
            match request.token {
                None => Some("no token".to_string()),
                Some(token) if !Permission::of(&request.body).granted_to(token.role) => Some(
                    format!("role {:?} may not {}", token.role, request.body.op_name()),
                ),
                Some(token) => target_organizations(dataset, &request.body)
                    .into_iter()
                    .find(|organization| *organization != token.organization)
                    .map(|organization| {
                        format!(
                            "organization {} acted on organization {organization}'s data",
                            token.organization
                        )
                    }),
            };
        tally.check(findings, "access_enforced", problem.is_none(), || {
            format!(
                "client {client} request {} ({}) got {} at {now_ms} ms despite {}",
                request.request_id,
                request.body.op_name(),
                response.status,
                problem.clone().unwrap_or_default()
            )
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn check_move(
        &mut self,
        request: &Request,
        appointment: u32,
        expected_version: i64,
        from_version: i64,
        version: i64,
        now_ms: u64,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let client = request.client;
        tally.check(findings, "version_monotonic", version > from_version, || {
            format!(
                "client {client} moved appointment {appointment} from version {from_version} to version {version} (request {}, {now_ms} ms)",
                request.request_id
            )
        });
        tally.check(findings, "no_lost_update", from_version == expected_version, || {
            format!(
                "client {client} moved appointment {appointment} expecting version {expected_version}, but the move was made from version {from_version}: the moves in between were overwritten unseen (request {}, {now_ms} ms)",
                request.request_id
            )
        });
        let first = *self
            .moves_from
            .entry((appointment, from_version))
            .or_insert((client, request.request_id));
        tally.check(
            findings,
            "no_lost_update",
            first == (client, request.request_id),
            || {
                format!(
                    "two moves of appointment {appointment} succeeded from version {from_version}: client {} request {} and client {client} request {} ({now_ms} ms)",
                    first.0, first.1, request.request_id
                )
            },
        );
        self.saw_version(client, appointment, version, now_ms, tally, findings);
    }

    fn saw_version(
        &mut self,
        client: u32,
        appointment: u32,
        version: i64,
        now_ms: u64,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let seen = self
            .seen_version
            .entry((client, appointment))
            .or_insert(version);
        let previous = *seen;
        tally.check(findings, "version_monotonic", version >= previous, || {
            format!(
                "client {client} saw appointment {appointment} at version {version} after seeing version {previous} ({now_ms} ms)"
            )
        });
        *seen = previous.max(version);
    }
}
