//! Client programs for the model checker, drawn from a scenario's data set
//! and operation mix, so that `overbook explore SIM` checks the same
//! services and invariants as `overbook run SIM`, with few clients and
//! every interleaving instead of many clients and one.

use super::clinic::Clinic;
use super::settings::ClinicSettings;
use super::{AppointmentStatus, Dataset, Request, RequestBody, Role, Token};
use overbook::seed::Rng64;
use overbook::system::ExploreContext;

/// The mix's operations, in [`super::Mix::weights`] order.
const OPS: [&str; 6] = ["get-board", "move", "reserve", "release", "consume", "book"];

/// A model-checking scenario: `clients` clients with `ops` requests each,
/// drawn with `seed` from `scenario`'s mix, data set and workload settings.
/// Releases and consumes name the client's own earlier reservation (a
/// reservation's id is its reserve request's id); a client with none
/// reserves instead. Moves start from the appointment's loaded status and
/// version, as a client fresh from `GET /board` would. When the scenario
/// loses responses (`faults.lost_response_probability` above 0), each
/// client may lose one, at any of its requests: the checker explores both
/// outcomes instead of drawing one.
pub fn explore_clients(context: ExploreContext<'_, Clinic>) -> Vec<Vec<Request>> {
    let ExploreContext {
        settings,
        data: dataset,
        seed,
        clients,
        ops,
    } = context;
    let workload = &settings.workload;
    let weights = workload.mix.weights();
    let mut programs = Vec::with_capacity(clients as usize);
    for client in 0..clients {
        let mut rng = seed.stream_indexed("explore-client", u64::from(client));
        let mut reservations: Vec<(u64, u32)> = Vec::new();
        // A client's later moves continue from its earlier ones, as a client
        // that saw its own successful move would.
        let mut moved: Option<(u32, AppointmentStatus, i64)> = None;
        let mut requests = Vec::with_capacity(ops as usize);
        for op_index in 0..ops {
            let request_id = (u64::from(client) << 32) | u64::from(op_index);
            let mut op = OPS[rng.weighted(&weights)];
            if matches!(op, "release" | "consume") && reservations.is_empty() {
                op = "reserve";
            }
            let (body, organization) = match op {
                "get-board" => (
                    RequestBody::GetBoard,
                    client % settings.data.organizations.max(1),
                ),
                "move" => {
                    let (body, organization) = move_body(dataset, &mut rng, client, moved);
                    if let RequestBody::Move {
                        appointment,
                        to,
                        expected_version,
                        ..
                    } = &body
                    {
                        moved = Some((*appointment, *to, expected_version + 1));
                    }
                    (body, organization)
                }
                "reserve" => {
                    let authorization =
                        if workload.hot_fraction > 0.0 && rng.chance(workload.hot_fraction) {
                            workload.hot_authorization
                        } else {
                            rng.below(dataset.authorizations.len().max(1) as u64) as u32
                        };
                    let organization = dataset
                        .authorization(authorization)
                        .map_or(0, |a| a.organization);
                    let units =
                        rng.between(workload.units_min as u64, workload.units_max as u64) as i64;
                    reservations.push((request_id, organization));
                    (
                        RequestBody::Reserve {
                            authorization,
                            units,
                        },
                        organization,
                    )
                }
                "release" | "consume" => {
                    let (reservation, organization) = reservations.remove(0);
                    let body = if op == "release" {
                        RequestBody::Release { reservation }
                    } else {
                        RequestBody::Consume { reservation }
                    };
                    (body, organization)
                }
                _ => book_body(settings, dataset, &mut rng, client),
            };
            requests.push(Request {
                request_id,
                client,
                token: Some(Token {
                    organization,
                    role: Role::Scheduler,
                    expires_at_ms: u64::MAX,
                }),
                idempotency_key: Some(format!("u{client}-op{op_index}")),
                body,
            });
        }
        programs.push(requests);
    }
    programs
}

fn move_body(
    dataset: &Dataset,
    rng: &mut Rng64,
    client: u32,
    previous: Option<(u32, AppointmentStatus, i64)>,
) -> (RequestBody, u32) {
    if dataset.appointments.is_empty() {
        return (RequestBody::GetBoard, client);
    }
    let appointment = &dataset.appointments[rng.below(dataset.appointments.len() as u64) as usize];
    let (from, expected_version) = match previous {
        Some((id, status, version)) if id == appointment.id => (status, version),
        _ => (appointment.initial_status, appointment.initial_version),
    };
    let to = AppointmentStatus::ALL
        .into_iter()
        .find(|&to| from.can_move_to(to) && to != AppointmentStatus::Cancelled)
        .unwrap_or(AppointmentStatus::Cancelled);
    (
        RequestBody::Move {
            appointment: appointment.id,
            from,
            to,
            expected_version,
        },
        appointment.organization,
    )
}

fn book_body(
    settings: &ClinicSettings,
    dataset: &Dataset,
    rng: &mut Rng64,
    client: u32,
) -> (RequestBody, u32) {
    let workload = &settings.workload;
    let pick = |rng: &mut Rng64, len: usize| rng.below(len.max(1) as u64) as usize;
    let practitioner = if workload.distinct_people {
        &dataset.practitioners[client as usize % dataset.practitioners.len()]
    } else {
        &dataset.practitioners[pick(rng, dataset.practitioners.len())]
    };
    let patient = if workload.distinct_people {
        &dataset.patients[client as usize % dataset.patients.len()]
    } else {
        let same: Vec<_> = dataset
            .patients
            .iter()
            .filter(|p| p.organization == practitioner.organization)
            .collect();
        same.get(pick(rng, same.len()))
            .copied()
            .unwrap_or(&dataset.patients[0])
    };
    let duration_min = workload.durations_min[pick(rng, workload.durations_min.len())];
    let config = &dataset.config;
    let (day, start_min) =
        if workload.hot_slot_fraction > 0.0 && rng.chance(workload.hot_slot_fraction) {
            (
                0,
                workload.hot_slot_min + workload.hot_slot_stagger_min * i64::from(client % 2),
            )
        } else {
            let latest = (config.clinic_close_min - duration_min).max(config.clinic_open_min);
            let slots = ((latest - config.clinic_open_min) / 15).max(0) as u64 + 1;
            (
                rng.below(u64::from(config.days.max(1))) as u32,
                config.clinic_open_min + 15 * rng.below(slots) as i64,
            )
        };
    let equipment =
        if rng.chance(workload.equipment_probability) && !dataset.equipment_names.is_empty() {
            vec![dataset.equipment_names[pick(rng, dataset.equipment_names.len())].clone()]
        } else {
            Vec::new()
        };
    let party_size = rng.between(1, u64::from(workload.party_size_max.max(1))) as u32;
    (
        RequestBody::Book {
            practitioner: practitioner.id,
            patient: patient.id,
            day,
            start_min,
            duration_min,
            equipment,
            party_size,
        },
        practitioner.organization,
    )
}
