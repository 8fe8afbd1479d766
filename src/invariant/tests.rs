//! Every invariant can fire: synthetic commits and responses that break
//! each one, so that no check is silently unable to fail.

use super::{Checker, Violation, INVARIANTS};
use crate::service::data::{appointment_key, booking_key};
use crate::service::rooms::BookingView;
use crate::service::{
    AppointmentStatus, DataConfig, Dataset, Request, RequestBody, Response, ResponseBody, Role,
    Token,
};
use overbook::seed::Seed;
use overbook::store::{block_on, CommitEvent, Isolation, Key, Row, Schema, Store, StoreConfig};
use std::collections::BTreeSet;
use std::sync::Arc;

fn dataset() -> Arc<Dataset> {
    let mut dataset = Dataset::generate(&DataConfig::default(), Seed(4));
    for room in &mut dataset.rooms {
        room.capacity = 2;
        room.specialties = crate::service::data::SPECIALTIES
            .iter()
            .map(|s| s.to_string())
            .collect();
        room.out_of_service_days.clear();
        room.max_booking_min = 240;
        room.accessible = true;
        room.isolation_capable = true;
    }
    for practitioner in &mut dataset.practitioners {
        practitioner.shift_start_min = 8 * 60;
        practitioner.shift_end_min = 18 * 60;
    }
    Arc::new(dataset)
}

fn event(seq: u64, writes: Vec<(Key, Option<Row>, Option<Row>)>) -> CommitEvent {
    CommitEvent {
        tx: seq,
        commit_seq: seq,
        writes: writes
            .into_iter()
            .map(|(key, after, before)| (key, after.map(Arc::new), before.map(Arc::new)))
            .collect(),
    }
}

fn booking(
    id: u64,
    room: u32,
    practitioner: u32,
    patient: u32,
    start_min: i64,
    party_size: u32,
) -> (Key, Option<Row>, Option<Row>) {
    let view = BookingView {
        booking: id,
        room,
        practitioner,
        patient,
        day: 0,
        start_min,
        end_min: start_min + 30,
        busy_until_min: start_min + 40,
        party_size,
        equipment: Vec::new(),
    };
    (booking_key(id), Some(view.to_row()), None)
}

fn appointment(status: AppointmentStatus, version: i64) -> Row {
    Row::new()
        .with("organization", 0)
        .with("status", status.name())
        .with("version", version)
}

fn fired(results: &[Result<(), Violation>]) -> BTreeSet<&'static str> {
    results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|v| v.invariant))
        .collect()
}

#[test]
fn commit_side_invariants_can_fire() {
    use AppointmentStatus::*;
    let mut checker = Checker::new(dataset());
    let results = vec![
        checker.on_commit(&event(
            1,
            vec![(
                appointment_key(0),
                Some(appointment(Completed, 2)),
                Some(appointment(Scheduled, 1)),
            )],
        )),
        checker.on_commit(&event(2, vec![booking(1, 0, 0, 0, 9 * 60, 1)])),
        // Another room, same practitioner, overlapping.
        checker.on_commit(&event(3, vec![booking(2, 1, 0, 1, 9 * 60 + 10, 1)])),
        // Another room and practitioner, same patient.
        checker.on_commit(&event(4, vec![booking(3, 2, 1, 0, 9 * 60 + 20, 1)])),
        // A party of 3 in a room for 2.
        checker.on_commit(&event(5, vec![booking(4, 3, 2, 2, 12 * 60, 3)])),
    ];
    assert_eq!(
        results[0].as_ref().unwrap_err().invariant,
        "valid_transition"
    );
    assert!(results[1].is_ok());
    let found = fired(&results);
    for name in [
        "valid_transition",
        "no_practitioner_double_booking",
        "no_patient_double_booking",
        "hard_constraints_hold",
    ] {
        assert!(found.contains(name), "{name} did not fire: {results:#?}");
    }
}

fn request(token: Option<Token>, body: RequestBody) -> Request {
    Request {
        request_id: 1,
        client: 1,
        token,
        idempotency_key: None,
        body,
    }
}

#[test]
fn response_side_invariants_can_fire() {
    let mut checker = Checker::new(dataset());
    let reserve = RequestBody::Reserve {
        authorization: 0,
        units: 1,
    };
    let reserved = Response {
        status: 201,
        attempts: 1,
        body: ResponseBody::Reserved {
            reservation: 1,
            units: 1,
            units_available: 49,
        },
    };
    let no_token = checker.on_response(&request(None, reserve.clone()), &reserved, 5);
    assert_eq!(no_token.unwrap_err().invariant, "access_enforced");
    let auditor = Some(Token {
        organization: 0,
        role: Role::Auditor,
        expires_at_ms: 100,
    });
    let write = checker.on_response(&request(auditor, reserve.clone()), &reserved, 5);
    assert_eq!(write.unwrap_err().invariant, "access_enforced");
    let wrong_status = Response {
        status: 200,
        ..reserved.clone()
    };
    let scheduler = Some(Token {
        organization: 0,
        role: Role::Scheduler,
        expires_at_ms: 100,
    });
    let inconsistent = checker.on_response(&request(scheduler, reserve), &wrong_status, 5);
    assert_eq!(inconsistent.unwrap_err().invariant, "responses_consistent");
    let board = |version| Response {
        status: 200,
        attempts: 1,
        body: ResponseBody::Board {
            appointments: vec![crate::service::AppointmentView {
                id: 0,
                status: AppointmentStatus::Ready,
                version,
            }],
        },
    };
    assert!(checker
        .on_response(&request(scheduler, RequestBody::GetBoard), &board(3), 6)
        .is_ok());
    let back = checker.on_response(&request(scheduler, RequestBody::GetBoard), &board(2), 7);
    assert_eq!(back.unwrap_err().invariant, "version_monotonic");
    let book = RequestBody::Book {
        practitioner: 0,
        patient: 0,
        day: 0,
        start_min: 9 * 60,
        duration_min: 30,
        equipment: Vec::new(),
        party_size: 1,
    };
    let booked = Response {
        status: 201,
        attempts: 1,
        body: ResponseBody::Booked {
            booking: 77,
            room: 0,
            score: 0,
        },
    };
    let staff = Some(Token {
        organization: 0,
        role: Role::Staff,
        expires_at_ms: 100,
    });
    assert!(checker
        .on_response(&request(staff, book), &booked, 8)
        .is_ok());
    let empty = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
    let end = checker.at_end(&empty).unwrap_err();
    assert_eq!(end.invariant, "acknowledged_bookings_durable", "{end}");
}

#[test]
fn missed_commits_make_state_agrees_fire_and_every_invariant_is_counted() {
    let dataset = dataset();
    let store = Store::new(
        Schema::default(),
        StoreConfig {
            record_commits: true,
            ..StoreConfig::default()
        },
        Seed(1),
    );
    overbook::sql::SqlDb::attach(&store)
        .install(&crate::service::sql_schema(
            crate::service::Variant::Correct,
        ))
        .unwrap();
    dataset.load_into(&store);
    let write = |units: i64| {
        let mut tx = store.begin(Isolation::Serializable);
        let key = crate::service::data::authorization_key(0);
        let mut row = block_on(tx.get(&key)).unwrap().unwrap();
        row.set("units_scheduled", units);
        block_on(tx.update(&key, row)).unwrap();
        block_on(tx.commit()).unwrap();
    };
    write(5);
    let mut checker = Checker::new(dataset.clone());
    let events = store.drain_commits();
    // The counter says 5 scheduled with no reservation behind it.
    assert_eq!(
        checker.on_commit(&events[0]).unwrap_err().invariant,
        "units_conserved"
    );
    write(0);
    let _missed = store.drain_commits();
    let end = checker.at_end(&store).unwrap_err();
    assert_eq!(end.invariant, "state_agrees", "{end}");
    assert!(end.message.contains("authorization 0"), "{end}");
    let counted = checker.checks();
    let mut all_checked = true;
    // Feed the other tests' kinds of input to cover every name.
    let _ = checker.on_commit(&event(9, vec![booking(1, 0, 0, 0, 9 * 60, 1)]));
    let _ = checker.on_commit(&event(
        10,
        vec![(
            appointment_key(1),
            Some(appointment(AppointmentStatus::Ready, 2)),
            Some(appointment(AppointmentStatus::Scheduled, 1)),
        )],
    ));
    let move_request = request(
        Some(Token {
            organization: 0,
            role: Role::Scheduler,
            expires_at_ms: 100,
        }),
        RequestBody::Move {
            appointment: 0,
            from: AppointmentStatus::Scheduled,
            to: AppointmentStatus::Ready,
            expected_version: 1,
        },
    );
    let moved = Response {
        status: 200,
        attempts: 1,
        body: ResponseBody::Moved {
            from_version: 1,
            version: 2,
        },
    };
    let _ = checker.on_response(&move_request, &moved, 1);
    let mut keyed = request(
        None,
        RequestBody::Reserve {
            authorization: 0,
            units: 1,
        },
    );
    keyed.idempotency_key = Some("k".into());
    let _ = checker.on_response(
        &keyed,
        &Response {
            status: 201,
            attempts: 1,
            body: ResponseBody::Reserved {
                reservation: 1,
                units: 1,
                units_available: 1,
            },
        },
        1,
    );
    let counted_after = checker.checks();
    for info in INVARIANTS {
        let name = info.name;
        if !counted_after.contains_key(name) {
            all_checked = false;
            eprintln!("{name} was never evaluated");
        }
    }
    assert!(all_checked, "{counted_after:?}");
    assert!(counted.get("no_overbooking").copied().unwrap_or(0) >= 2);
}
