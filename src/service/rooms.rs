//! Room booking with automatic room selection (the Locust README).
//!
//! A booking names a practitioner, a patient, a day, a start and a length;
//! the service picks the room. **Hard constraints** ([`HARD_CONSTRAINTS`])
//! filter rooms and times; **soft preferences** ([`SOFT_PREFERENCES`], a
//! table of named weighted rules) score the rooms that pass, and the best
//! score wins (ties: lowest room id). When nothing fits the answer is 409
//! with up to three alternatives: the next start times at which a room
//! passing every hard constraint is free.
//!
//! The correct service checks availability inside one Serializable
//! transaction: a predicate read over each fitting room's bookings of the
//! day, the practitioner's slots and the patient's slots, then locks the
//! chosen room's row (so bookings of one room queue instead of deadlocking
//! in its exclusion check) and inserts the booking and both slots. Exclusion constraints on the three tables make
//! overlaps impossible even if that check were wrong; a 23P01 (or a 40001)
//! means a concurrent booking won, and the retry wrapper runs the whole
//! selection again against the new state.

use super::access;
use super::api::{Alternative, Request, RequestBody, Response, ResponseBody, Token};
use super::board::not_found;
use super::data::{
    absolute_min, Dataset, PatientInfo, PractitionerInfo, RoomInfo, MINUTES_PER_DAY,
};
use super::idempotency::{self, Recall};
use super::retry::RetryOn;
use super::server::Api;
use super::Variant;
use overbook::sql::{Rows, Session, Span, Value};
use overbook::store::{DbError, Isolation, Row};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// Hard constraints, by name: a booking must satisfy every one.
pub const HARD_CONSTRAINTS: &[(&str, &str)] = &[
    (
        "clinic-hours",
        "the visit starts at or after opening and ends by closing",
    ),
    (
        "practitioner-shift",
        "the visit lies within the practitioner's shift",
    ),
    (
        "practitioner-free",
        "the practitioner has no other visit overlapping it",
    ),
    (
        "patient-free",
        "the patient has no other visit overlapping it",
    ),
    (
        "capacity",
        "the room holds the party (capacity >= party_size)",
    ),
    (
        "equipment",
        "the room has every piece of equipment the visit needs",
    ),
    (
        "accessibility",
        "a patient who needs accessibility gets an accessible room",
    ),
    (
        "specialty",
        "the room is allowed for the practitioner's specialty",
    ),
    (
        "isolation",
        "a patient who needs isolation gets an isolation-capable room",
    ),
    ("in-service", "the room is not out of service that day"),
    (
        "max-duration",
        "the visit is not longer than the room's longest booking",
    ),
    (
        "room-free-with-buffer",
        "no other booking of the room overlaps [start, end + cleaning buffer)",
    ),
];

/// One visit to book, as the request describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    /// Practitioner id.
    pub practitioner: u32,
    /// Patient id.
    pub patient: u32,
    /// Day index.
    pub day: u32,
    /// Start, minutes since midnight.
    pub start_min: i64,
    /// Length in minutes.
    pub duration_min: i64,
    /// Equipment needed.
    pub equipment: Vec<String>,
    /// People in the room.
    pub party_size: u32,
}

impl Visit {
    /// The visit a `Book` request asks for; `None` for other requests.
    pub fn from_body(body: &RequestBody) -> Option<Visit> {
        match body {
            RequestBody::Book {
                practitioner,
                patient,
                day,
                start_min,
                duration_min,
                equipment,
                party_size,
            } => Some(Visit {
                practitioner: *practitioner,
                patient: *patient,
                day: *day,
                start_min: *start_min,
                duration_min: *duration_min,
                equipment: equipment.clone(),
                party_size: *party_size,
            }),
            _ => None,
        }
    }

    /// End, minutes since midnight (exclusive).
    pub fn end_min(&self) -> i64 {
        // Saturating: the fields come from clients, and a handler must
        // answer nonsense with a 422, never an overflow panic.
        self.start_min.saturating_add(self.duration_min)
    }

    fn at(&self, start_min: i64) -> Visit {
        Visit {
            start_min,
            ..self.clone()
        }
    }
}

/// A booking row as the services and the invariants read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingView {
    /// Booking id.
    pub booking: u64,
    /// Room.
    pub room: u32,
    /// Practitioner.
    pub practitioner: u32,
    /// Patient.
    pub patient: u32,
    /// Day.
    pub day: u32,
    /// Start, minutes since midnight.
    pub start_min: i64,
    /// End (exclusive).
    pub end_min: i64,
    /// End plus the cleaning buffer: the room is free again from here.
    pub busy_until_min: i64,
    /// People in the room.
    pub party_size: u32,
    /// Equipment the visit needed.
    pub equipment: Vec<String>,
}

impl BookingView {
    /// Reads a `bookings/...` row; `None` if a column is missing.
    pub fn from_row(row: &Row) -> Option<BookingView> {
        let equipment = row
            .text("equipment")?
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        Some(BookingView {
            booking: row.int("booking")? as u64,
            room: u32::try_from(row.int("room")?).ok()?,
            practitioner: u32::try_from(row.int("practitioner")?).ok()?,
            patient: u32::try_from(row.int("patient")?).ok()?,
            day: u32::try_from(row.int("day")?).ok()?,
            start_min: row.int("start_min")?,
            end_min: row.int("end_min")?,
            busy_until_min: row.int("busy_until_min")?,
            party_size: u32::try_from(row.int("party_size")?).ok()?,
            equipment,
        })
    }

    /// Row `i` of a `SELECT * FROM bookings` result; `None` if a column
    /// is missing.
    fn from_rows(rows: &Rows, i: usize) -> Option<BookingView> {
        let int = |column: &str| rows.int(i, column);
        Some(BookingView {
            booking: int("booking")? as u64,
            room: u32::try_from(int("room")?).ok()?,
            practitioner: u32::try_from(int("practitioner")?).ok()?,
            patient: u32::try_from(int("patient")?).ok()?,
            day: u32::try_from(int("day")?).ok()?,
            start_min: int("start_min")?,
            end_min: int("end_min")?,
            busy_until_min: int("busy_until_min")?,
            party_size: u32::try_from(int("party_size")?).ok()?,
            equipment: rows
                .get(i, "equipment")
                .and_then(Value::as_text)?
                .split(',')
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The booking's columns as the checker reads them from a committed
    /// `bookings` row (for tests that feed the checker rows by hand).
    pub fn to_row(&self) -> Row {
        Row::new()
            .with("booking", self.booking as i64)
            .with("room", i64::from(self.room))
            .with("practitioner", i64::from(self.practitioner))
            .with("patient", i64::from(self.patient))
            .with("day", i64::from(self.day))
            .with("start_min", self.start_min)
            .with("end_min", self.end_min)
            .with("busy_until_min", self.busy_until_min)
            .with("party_size", i64::from(self.party_size))
            .with("equipment", self.equipment.join(","))
    }
}

/// A practitioner's or patient's slot: when they are busy, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotView {
    /// Booking id.
    pub booking: u64,
    /// Room of the visit.
    pub room: u32,
    /// Start, minutes since midnight.
    pub start_min: i64,
    /// End (exclusive).
    pub end_min: i64,
}

impl SlotView {
    fn from_rows(rows: &Rows, i: usize) -> Option<SlotView> {
        Some(SlotView {
            booking: rows.int(i, "booking")? as u64,
            room: u32::try_from(rows.int(i, "room")?).ok()?,
            start_min: rows.int(i, "start_min")?,
            end_min: rows.int(i, "end_min")?,
        })
    }

    fn overlaps(&self, visit: &Visit) -> bool {
        visit.start_min < self.end_min && self.start_min < visit.end_min()
    }
}

/// The visit-level hard constraints that do not depend on a room or on
/// other bookings: clinic hours and the practitioner's shift. `Err` names
/// the first one broken.
pub fn visit_fits_clinic(
    dataset: &Dataset,
    visit: &Visit,
    practitioner: &PractitionerInfo,
) -> Result<(), &'static str> {
    let config = &dataset.config;
    if visit.start_min < config.clinic_open_min || visit.end_min() > config.clinic_close_min {
        return Err("clinic-hours");
    }
    if visit.start_min < practitioner.shift_start_min
        || visit.end_min() > practitioner.shift_end_min
    {
        return Err("practitioner-shift");
    }
    Ok(())
}

/// The room-level hard constraints that depend only on static facts.
/// `Err` names the first one broken.
pub fn room_fits(
    room: &RoomInfo,
    visit: &Visit,
    practitioner: &PractitionerInfo,
    patient: &PatientInfo,
) -> Result<(), &'static str> {
    if room.capacity < visit.party_size {
        return Err("capacity");
    }
    if !visit
        .equipment
        .iter()
        .all(|name| room.equipment.contains(name))
    {
        return Err("equipment");
    }
    if patient.needs_accessibility && !room.accessible {
        return Err("accessibility");
    }
    if !room.specialties.contains(&practitioner.specialty) {
        return Err("specialty");
    }
    if patient.needs_isolation && !room.isolation_capable {
        return Err("isolation");
    }
    if room.out_of_service_days.contains(&visit.day) {
        return Err("in-service");
    }
    if visit.duration_min > room.max_booking_min {
        return Err("max-duration");
    }
    Ok(())
}

/// Whether `existing` keeps its room from taking `visit`: the correct test
/// is `[start, end + buffer)` against `[existing.start, existing.busy_until)`.
///
/// The planted bug `rooms/inclusive-end` stores the existing booking as the
/// closed interval `[start, end - 1]` (its last occupied minute) but then
/// compares with a strict `<` as if it were half-open, and adds no buffer
/// on either side: a visit may start at the existing booking's last minute
/// (one minute of true overlap) or right at its end (no cleaning time).
pub fn room_conflicts(
    variant: Variant,
    existing: &BookingView,
    visit: &Visit,
    buffer_min: i64,
) -> bool {
    if variant == Variant::RoomsInclusiveEnd {
        let last_min = existing.end_min - 1;
        visit.start_min < last_min && existing.start_min < visit.end_min()
    } else {
        visit.start_min < existing.busy_until_min
            && existing.start_min < visit.end_min() + buffer_min
    }
}

/// What a soft preference sees of one room for one visit.
#[derive(Debug)]
pub struct Candidate<'a> {
    /// The data set.
    pub dataset: &'a Dataset,
    /// The room being scored.
    pub room: &'a RoomInfo,
    /// The practitioner.
    pub practitioner: &'a PractitionerInfo,
    /// The patient.
    pub patient: &'a PatientInfo,
    /// The visit.
    pub visit: &'a Visit,
    /// The room's bookings that day, by start.
    pub room_bookings: &'a [BookingView],
    /// The practitioner's other visits that day.
    pub practitioner_slots: &'a [SlotView],
}

/// A named, weighted soft preference: a room's score is the sum over
/// rules of `weight * evaluate(candidate)`.
#[derive(Clone, Copy)]
pub struct SoftPreference {
    /// Kebab-case name (scenario files override weights by name).
    pub name: &'static str,
    /// Default weight; negative rules are penalties.
    pub weight: i64,
    /// What it prefers and why.
    pub description: &'static str,
    /// The rule's factor for a candidate (usually 0 or 1, or a count).
    pub evaluate: fn(&Candidate<'_>) -> i64,
}

impl std::fmt::Debug for SoftPreference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, self.weight)
    }
}

fn flag(condition: bool) -> i64 {
    i64::from(condition)
}

fn previous_booking<'a>(c: &'a Candidate<'_>) -> Option<&'a BookingView> {
    c.room_bookings
        .iter()
        .filter(|b| b.busy_until_min <= c.visit.start_min)
        .max_by_key(|b| b.busy_until_min)
}

fn next_booking<'a>(c: &'a Candidate<'_>) -> Option<&'a BookingView> {
    c.room_bookings
        .iter()
        .filter(|b| b.start_min >= c.visit.end_min())
        .min_by_key(|b| b.start_min)
}

/// Soft preferences, in the order they are evaluated.
pub const SOFT_PREFERENCES: &[SoftPreference] = &[
    SoftPreference {
        name: "previous-room",
        weight: 50,
        description: "the room of the patient's last visit: familiar to the patient",
        evaluate: |c| flag(c.patient.previous_room == Some(c.room.id)),
    },
    SoftPreference {
        name: "preferred-room",
        weight: 40,
        description: "one of the practitioner's preferred rooms",
        evaluate: |c| flag(c.practitioner.preferred_rooms.contains(&c.room.id)),
    },
    SoftPreference {
        name: "first-preferred-room",
        weight: 10,
        description: "the practitioner's favourite room, on top of preferred-room",
        evaluate: |c| flag(c.practitioner.preferred_rooms.first() == Some(&c.room.id)),
    },
    SoftPreference {
        name: "practitioner-floor",
        weight: 20,
        description: "on the floor of the practitioner's office",
        evaluate: |c| flag(c.room.floor == c.practitioner.floor),
    },
    SoftPreference {
        name: "floor-distance",
        weight: -5,
        description: "penalty per floor between the room and the practitioner's office",
        evaluate: |c| i64::from(c.room.floor.abs_diff(c.practitioner.floor)),
    },
    SoftPreference {
        name: "load-balance",
        weight: -3,
        description: "penalty per booking the room already has that day: spreads wear and cleaning",
        evaluate: |c| c.room_bookings.len() as i64,
    },
    SoftPreference {
        name: "tight-capacity",
        weight: -2,
        description: "penalty per spare seat (up to 6): keeps big rooms for big parties",
        evaluate: |c| i64::from(c.room.capacity.saturating_sub(c.visit.party_size).min(6)),
    },
    SoftPreference {
        name: "spare-equipment",
        weight: -2,
        description:
            "penalty per installed item the visit does not need: keeps equipped rooms free",
        evaluate: |c| {
            c.room
                .equipment
                .iter()
                .filter(|name| !c.visit.equipment.contains(name))
                .count() as i64
        },
    },
    SoftPreference {
        name: "keep-accessible-rooms",
        weight: -10,
        description: "an accessible room for a patient who does not need one",
        evaluate: |c| flag(c.room.accessible && !c.patient.needs_accessibility),
    },
    SoftPreference {
        name: "keep-isolation-rooms",
        weight: -10,
        description: "an isolation room for a patient who does not need one",
        evaluate: |c| flag(c.room.isolation_capable && !c.patient.needs_isolation),
    },
    SoftPreference {
        name: "practitioner-continuity",
        weight: 15,
        description: "a room the practitioner already uses that day: no moving between rooms",
        evaluate: |c| flag(c.practitioner_slots.iter().any(|s| s.room == c.room.id)),
    },
    SoftPreference {
        name: "back-to-back",
        weight: 10,
        description: "the room becomes free exactly when the visit starts: no idle gap",
        evaluate: |c| {
            flag(previous_booking(c).is_some_and(|b| b.busy_until_min == c.visit.start_min))
        },
    },
    SoftPreference {
        name: "small-gap-before",
        weight: -8,
        description: "leaves an idle gap under 30 minutes before the visit, too short to sell",
        evaluate: |c| {
            flag(previous_booking(c).is_some_and(|b| {
                let gap = c.visit.start_min - b.busy_until_min;
                gap > 0 && gap < 30
            }))
        },
    },
    SoftPreference {
        name: "small-gap-after",
        weight: -8,
        description: "leaves an idle gap under 30 minutes after the visit and its cleaning",
        evaluate: |c| {
            let busy_until = c.visit.end_min() + c.dataset.config.cleaning_buffer_min;
            flag(next_booking(c).is_some_and(|b| {
                let gap = b.start_min - busy_until;
                gap > 0 && gap < 30
            }))
        },
    },
    SoftPreference {
        name: "near-elevator",
        weight: 8,
        description: "next to the elevator, for a patient who needs accessibility",
        evaluate: |c| flag(c.patient.needs_accessibility && c.room.near_elevator),
    },
    SoftPreference {
        name: "ground-floor-access",
        weight: 15,
        description: "on the ground floor, for a patient who needs accessibility",
        evaluate: |c| flag(c.patient.needs_accessibility && c.room.floor == 0),
    },
    SoftPreference {
        name: "specialty-home",
        weight: 12,
        description: "a room dedicated to the practitioner's specialty (its last listed one)",
        evaluate: |c| flag(c.room.specialties.last() == Some(&c.practitioner.specialty)),
    },
    SoftPreference {
        name: "quiet-long-visit",
        weight: 6,
        description: "a sound-proofed room for a visit of 45 minutes or more",
        evaluate: |c| flag(c.visit.duration_min >= 45 && c.room.quiet),
    },
    SoftPreference {
        name: "window-long-visit",
        weight: 4,
        description: "a room with a window for a visit of an hour or more",
        evaluate: |c| flag(c.visit.duration_min >= 60 && c.room.has_window),
    },
    SoftPreference {
        name: "previous-floor",
        weight: 6,
        description: "on the floor of the patient's previous room: a known way there",
        evaluate: |c| {
            flag(
                c.patient
                    .previous_room
                    .and_then(|room| c.dataset.room(room))
                    .is_some_and(|room| room.floor == c.room.floor),
            )
        },
    },
    SoftPreference {
        name: "late-day-consolidation",
        weight: 5,
        description: "in the last two hours, a room already in use that day, so others can close",
        evaluate: |c| {
            flag(
                c.visit.start_min >= c.dataset.config.clinic_close_min - 120
                    && !c.room_bookings.is_empty(),
            )
        },
    },
    SoftPreference {
        name: "exact-equipment",
        weight: 4,
        description: "a visit needing equipment gets a room with nothing else but an exam table",
        evaluate: |c| {
            flag(
                !c.visit.equipment.is_empty()
                    && c.room
                        .equipment
                        .iter()
                        .all(|name| name == "exam-table" || c.visit.equipment.contains(name)),
            )
        },
    },
    SoftPreference {
        name: "short-visit-small-room",
        weight: 3,
        description: "a visit of 20 minutes or less in a room for at most two",
        evaluate: |c| flag(c.visit.duration_min <= 20 && c.room.capacity <= 2),
    },
];

/// The score of a candidate under `weights` (one per soft preference, in
/// table order).
pub fn score(candidate: &Candidate<'_>, weights: &[i64]) -> i64 {
    SOFT_PREFERENCES
        .iter()
        .zip(weights)
        .map(|(rule, weight)| weight * (rule.evaluate)(candidate))
        .sum()
}

/// The outcome of room selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Book this room.
    Room {
        /// The room.
        room: u32,
        /// Its soft-preference score.
        score: i64,
    },
    /// Nothing fits.
    NoRoom {
        /// Which hard constraint failed, in words.
        reason: String,
        /// Next free starts (up to 3).
        alternatives: Vec<Alternative>,
    },
}

/// Everything room selection reads, whether from the transaction or from a
/// cache.
#[derive(Debug)]
pub struct Availability<'a> {
    /// The data set.
    pub dataset: &'a Dataset,
    /// Which overlap test to use.
    pub variant: Variant,
    /// Soft-preference weights, in table order.
    pub weights: &'a [i64],
    /// The practitioner's slots that day.
    pub practitioner_slots: &'a [SlotView],
    /// The patient's slots that day.
    pub patient_slots: &'a [SlotView],
    /// Bookings that day of every room passing the static constraints.
    pub rooms: &'a BTreeMap<u32, Vec<BookingView>>,
}

impl Availability<'_> {
    /// The first hard constraint `visit` breaks at the visit level.
    fn visit_blocked(
        &self,
        visit: &Visit,
        practitioner: &PractitionerInfo,
    ) -> Option<&'static str> {
        if let Err(name) = visit_fits_clinic(self.dataset, visit, practitioner) {
            return Some(name);
        }
        if self
            .practitioner_slots
            .iter()
            .any(|slot| slot.overlaps(visit))
        {
            return Some("practitioner-free");
        }
        if self.patient_slots.iter().any(|slot| slot.overlaps(visit)) {
            return Some("patient-free");
        }
        None
    }

    /// Free rooms for `visit` with their scores, best first.
    fn free_rooms(
        &self,
        visit: &Visit,
        practitioner: &PractitionerInfo,
        patient: &PatientInfo,
    ) -> Vec<(i64, u32)> {
        let buffer_min = self.dataset.config.cleaning_buffer_min;
        let mut free: Vec<(i64, u32)> = self
            .rooms
            .iter()
            .filter(|(_, bookings)| {
                !bookings
                    .iter()
                    .any(|existing| room_conflicts(self.variant, existing, visit, buffer_min))
            })
            .filter_map(|(&room_id, bookings)| {
                let room = self.dataset.room(room_id)?;
                let candidate = Candidate {
                    dataset: self.dataset,
                    room,
                    practitioner,
                    patient,
                    visit,
                    room_bookings: bookings,
                    practitioner_slots: self.practitioner_slots,
                };
                Some((score(&candidate, self.weights), room_id))
            })
            .collect();
        // Best score first; equal scores go to the lowest room id.
        free.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        free
    }

    /// Picks a room for `visit`, or explains why none fits.
    pub fn choose(
        &self,
        visit: &Visit,
        practitioner: &PractitionerInfo,
        patient: &PatientInfo,
    ) -> Choice {
        if self.rooms.is_empty() {
            return Choice::NoRoom {
                reason: "no room passes the static hard constraints (capacity, equipment, accessibility, specialty, isolation, in-service, max-duration)".into(),
                alternatives: Vec::new(),
            };
        }
        let reason = match self.visit_blocked(visit, practitioner) {
            Some(name) => format!("hard constraint {name} fails at the requested time"),
            None => match self.free_rooms(visit, practitioner, patient).first() {
                Some(&(score, room)) => return Choice::Room { room, score },
                None => "hard constraint room-free-with-buffer: every fitting room is taken".into(),
            },
        };
        Choice::NoRoom {
            reason,
            alternatives: self.alternatives(visit, practitioner, patient),
        }
    }

    /// Up to three `(room, start)` pairs after the requested start at which
    /// every hard constraint holds: candidate starts are the moments
    /// something becomes free (a room's busy-until, the end of a
    /// practitioner's or patient's visit, opening and shift start) and the
    /// clinic's quarter-hour grid.
    pub fn alternatives(
        &self,
        visit: &Visit,
        practitioner: &PractitionerInfo,
        patient: &PatientInfo,
    ) -> Vec<Alternative> {
        const ALTERNATIVES_MAX: usize = 3;
        const GRID_MIN: i64 = 15;
        let mut starts: Vec<i64> = vec![
            visit.start_min,
            self.dataset.config.clinic_open_min,
            practitioner.shift_start_min,
        ];
        starts.extend(self.rooms.values().flatten().map(|b| b.busy_until_min));
        starts.extend(self.practitioner_slots.iter().map(|s| s.end_min));
        starts.extend(self.patient_slots.iter().map(|s| s.end_min));
        let grid_first = (visit.start_min / GRID_MIN + 1) * GRID_MIN;
        starts
            .extend((grid_first..self.dataset.config.clinic_close_min).step_by(GRID_MIN as usize));
        starts.retain(|&start| start > visit.start_min);
        starts.sort_unstable();
        starts.dedup();
        let mut found = Vec::new();
        for start in starts {
            let moved = visit.at(start);
            if self.visit_blocked(&moved, practitioner).is_some() {
                continue;
            }
            for (_, room) in self.free_rooms(&moved, practitioner, patient) {
                found.push(Alternative {
                    room,
                    start_min: start,
                });
                if found.len() == ALTERNATIVES_MAX {
                    return found;
                }
            }
        }
        found
    }
}

/// The per-server availability cache of `rooms/stale-availability-cache`:
/// each day's bookings by room, as read at `fetched_at_ms`.
#[derive(Debug, Default)]
pub struct AvailabilityCache {
    days: BTreeMap<u32, CachedDay>,
}

#[derive(Clone, Debug)]
struct CachedDay {
    fetched_at_ms: u64,
    rooms: BTreeMap<u32, Vec<BookingView>>,
}

fn invalid(reason: String) -> Response {
    Response {
        status: 422,
        attempts: 0,
        body: ResponseBody::NoRoom {
            reason,
            alternatives: Vec::new(),
        },
    }
}

/// `POST /bookings`.
pub(super) async fn assign_room(api: &Api, token: &Token, request: &Request) -> Response {
    let Some(visit) = Visit::from_body(&request.body) else {
        unreachable!("assign_room gets book requests")
    };
    let (Some(practitioner), Some(patient)) = (
        api.dataset.practitioner(visit.practitioner),
        api.dataset.patient(visit.patient),
    ) else {
        return not_found();
    };
    for organization in [practitioner.organization, patient.organization] {
        if let Err(refused) = access::same_organization(token, organization) {
            return refused;
        }
    }
    if visit.day >= api.dataset.config.days {
        return invalid(format!(
            "day {} is not bookable (days 0..{})",
            visit.day, api.dataset.config.days
        ));
    }
    if visit.duration_min <= 0
        || visit.start_min < 0
        || visit.end_min() > MINUTES_PER_DAY
        || visit.party_size == 0
    {
        return invalid(format!(
            "a visit needs a positive length and party within one day (start {}, length {}, party {})",
            visit.start_min, visit.duration_min, visit.party_size
        ));
    }
    let static_rooms: Vec<u32> = api
        .dataset
        .rooms
        .iter()
        .filter(|room| room_fits(room, &visit, practitioner, patient).is_ok())
        .map(|room| room.id)
        .collect();
    api.retry_response(RetryOn::AlsoExclusion, || {
        book_once(api, request, &visit, &static_rooms)
    })
    .await
}

/// A practitioner's or patient's slots of one day: an index range read
/// (`owner` is `practitioner_slots` or `patient_slots`).
async fn scan_slots(
    s: &mut impl Session,
    sql: &str,
    owner: u32,
    day: u32,
) -> Result<Vec<SlotView>, DbError> {
    let rows = s
        .execute(sql, &[i64::from(owner).into(), i64::from(day).into()])
        .await?;
    Ok((0..rows.len())
        .filter_map(|i| SlotView::from_rows(&rows, i))
        .collect())
}

const PRACTITIONER_SLOTS: &str = "SELECT booking, room, start_min, end_min FROM practitioner_slots WHERE practitioner = $1 AND day = $2 ORDER BY start_min, booking";
const PATIENT_SLOTS: &str = "SELECT booking, room, start_min, end_min FROM patient_slots WHERE patient = $1 AND day = $2 ORDER BY start_min, booking";
const ROOM_BOOKINGS: &str =
    "SELECT * FROM bookings WHERE room = $1 AND day = $2 ORDER BY start_min, booking";
const DAY_BOOKINGS: &str =
    "SELECT * FROM bookings WHERE day = $1 ORDER BY room, start_min, booking";

async fn book_once(
    api: &Api,
    request: &Request,
    visit: &Visit,
    static_rooms: &[u32],
) -> Result<Response, DbError> {
    // The stale-cache bug reads room availability before, and outside, the
    // booking transaction.
    let cached = if api.variant == Variant::RoomsStaleAvailabilityCache {
        Some(cached_rooms(api, visit.day, static_rooms).await?)
    } else {
        None
    };
    // The planted bug `rooms/check-then-insert-repeatable-read`: snapshot
    // isolation lets two transactions both see a room free and both insert.
    let isolation = if api.variant == Variant::RoomsCheckThenInsertRepeatableRead {
        Isolation::RepeatableRead
    } else {
        Isolation::Serializable
    };
    let record = idempotency::record_key(request);
    let mut s = api.database.connect().await?;
    s.begin(isolation).await?;
    if let Some(record) = &record {
        if let Recall::Replay(stored) = idempotency::recall(&mut s, record, request).await? {
            api.idempotent_replays.fetch_add(1, Ordering::Relaxed);
            s.commit().await?;
            return Ok(stored);
        }
    }
    let (room, score) = match choose_room(api, &mut s, visit, cached, static_rooms).await? {
        Choice::Room { room, score } => (room, score),
        Choice::NoRoom {
            reason,
            alternatives,
        } => {
            // Commit the read-only transaction so SSI confirms what it saw.
            s.commit().await?;
            return Ok(Response {
                status: 409,
                attempts: 0,
                body: ResponseBody::NoRoom {
                    reason,
                    alternatives,
                },
            });
        }
    };
    let booking = booking_of(api.dataset.as_ref(), request, visit, room);
    lock_room_and_insert(api, &mut s, &booking).await?;
    let booked = Response {
        status: 201,
        attempts: 0,
        body: ResponseBody::Booked {
            booking: booking.booking,
            room,
            score,
        },
    };
    if let Some(record) = &record {
        idempotency::remember(&mut s, record, request, &booked).await?;
    }
    s.commit().await?;
    if api.variant == Variant::RoomsStaleAvailabilityCache {
        remember_own_booking(api, booking);
    }
    Ok(booked)
}

/// The booking transaction's check: reads the practitioner's and the
/// patient's slots that day and the fitting rooms' bookings (unless the
/// stale cache gave them), and chooses a room for `visit` among them.
async fn choose_room(
    api: &Api,
    s: &mut impl Session,
    visit: &Visit,
    cached: Option<BTreeMap<u32, Vec<BookingView>>>,
    static_rooms: &[u32],
) -> Result<Choice, DbError> {
    let dataset = api.dataset.as_ref();
    let practitioner = &dataset.practitioners[visit.practitioner as usize];
    let patient = &dataset.patients[visit.patient as usize];
    let practitioner_slots =
        scan_slots(s, PRACTITIONER_SLOTS, visit.practitioner, visit.day).await?;
    let patient_slots = scan_slots(s, PATIENT_SLOTS, visit.patient, visit.day).await?;
    let rooms = match cached {
        Some(rooms) => rooms,
        None => scan_rooms(s, visit.day, static_rooms).await?,
    };
    let availability = Availability {
        dataset,
        variant: api.variant,
        weights: &api.soft_weights,
        practitioner_slots: &practitioner_slots,
        patient_slots: &patient_slots,
        rooms: &rooms,
    };
    Ok(availability.choose(visit, practitioner, patient))
}

/// The booking of `visit` in `room`, busy until its cleaning ends.
fn booking_of(dataset: &Dataset, request: &Request, visit: &Visit, room: u32) -> BookingView {
    let booking = BookingView {
        booking: request.request_id,
        room,
        practitioner: visit.practitioner,
        patient: visit.patient,
        day: visit.day,
        start_min: visit.start_min,
        end_min: visit.end_min(),
        busy_until_min: visit.end_min() + dataset.config.cleaning_buffer_min,
        party_size: visit.party_size,
        equipment: visit.equipment.clone(),
    };
    debug_assert!(
        booking.start_min < booking.end_min && booking.end_min <= booking.busy_until_min,
        "a chosen booking is a non-empty interval: {booking:?}"
    );
    booking
}

/// Inserts `booking`, first locking its room's row when the schema has
/// the room's exclusion constraint.
async fn lock_room_and_insert(
    api: &Api,
    s: &mut impl Session,
    booking: &BookingView,
) -> Result<(), DbError> {
    // Bookings of one room queue on its row lock rather than meet in the
    // exclusion check, where PostgreSQL puts each one's index entry in
    // place before it waits: waiters for a booking that rolls back (SSI
    // aborts many here) would find each other's entries and deadlock, each
    // deadlock costing a deadlock_timeout. The lock changes no outcome: a
    // booking that waited still fails on the exclusion constraint (23P01)
    // or on SSI (40001) when the one before it took the room. The rooms
    // bugs' schemas have no room constraint, hence no such deadlock, and
    // their bugs stay exactly as planted without the lock.
    if super::has_room_constraint(api.variant) {
        s.execute(
            "SELECT id FROM rooms WHERE id = $1 FOR UPDATE",
            &[i64::from(booking.room).into()],
        )
        .await?;
    }
    insert_booking(s, booking).await
}

/// The predicate reads of the check: each fitting room's bookings that day.
async fn scan_rooms(
    s: &mut impl Session,
    day: u32,
    rooms: &[u32],
) -> Result<BTreeMap<u32, Vec<BookingView>>, DbError> {
    let mut bookings_by_room = BTreeMap::new();
    for &room in rooms {
        let rows = s
            .execute(
                ROOM_BOOKINGS,
                &[i64::from(room).into(), i64::from(day).into()],
            )
            .await?;
        let bookings = (0..rows.len())
            .filter_map(|i| BookingView::from_rows(&rows, i))
            .collect();
        bookings_by_room.insert(room, bookings);
    }
    Ok(bookings_by_room)
}

/// Writes the booking and the practitioner's and patient's slots (each
/// table with its own exclusion constraint in the correct schema; spans in
/// absolute minutes).
async fn insert_booking(s: &mut impl Session, booking: &BookingView) -> Result<(), DbError> {
    let day = booking.day;
    let span = |from: i64, to: i64| {
        Value::IntRange(Span::new(
            Some(absolute_min(day, from)),
            Some(absolute_min(day, to)),
        ))
    };
    let id = (booking.booking as i64).into();
    let (room, day_value) = (i64::from(booking.room).into(), i64::from(day).into());
    let (start, end) = (booking.start_min.into(), booking.end_min.into());
    s.execute(
        "INSERT INTO bookings (booking, room, practitioner, patient, day, start_min, end_min, busy_until_min, span, party_size, equipment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            Value::clone(&id),
            Value::clone(&room),
            i64::from(booking.practitioner).into(),
            i64::from(booking.patient).into(),
            Value::clone(&day_value),
            Value::clone(&start),
            Value::clone(&end),
            booking.busy_until_min.into(),
            span(booking.start_min, booking.busy_until_min),
            i64::from(booking.party_size).into(),
            booking.equipment.join(",").into(),
        ],
    )
    .await?;
    let slot_span = span(booking.start_min, booking.end_min);
    for (sql, owner) in [
        (
            "INSERT INTO practitioner_slots (booking, practitioner, day, room, start_min, end_min, span) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            booking.practitioner,
        ),
        (
            "INSERT INTO patient_slots (booking, patient, day, room, start_min, end_min, span) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            booking.patient,
        ),
    ] {
        s.execute(
            sql,
            &[
                Value::clone(&id),
                i64::from(owner).into(),
                Value::clone(&day_value),
                Value::clone(&room),
                Value::clone(&start),
                Value::clone(&end),
                slot_span.clone(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The stale cache's view of the fitting rooms' bookings on `day`, read
/// again (in a Read Committed transaction of its own) only when older than
/// the TTL.
async fn cached_rooms(
    api: &Api,
    day: u32,
    static_rooms: &[u32],
) -> Result<BTreeMap<u32, Vec<BookingView>>, DbError> {
    let now_ms = api.env.now_ms();
    let fresh = {
        let cache = api
            .availability_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache
            .days
            .get(&day)
            .filter(|cached| now_ms < cached.fetched_at_ms + api.config.availability_cache_ttl_ms)
            .map(|cached| cached.rooms.clone())
    };
    let all_rooms = match fresh {
        Some(rooms) => rooms,
        None => {
            let mut s = api.database.connect().await?;
            let rows = s.execute(DAY_BOOKINGS, &[i64::from(day).into()]).await?;
            drop(s);
            let mut rooms: BTreeMap<u32, Vec<BookingView>> = BTreeMap::new();
            for booking in (0..rows.len()).filter_map(|i| BookingView::from_rows(&rows, i)) {
                rooms.entry(booking.room).or_default().push(booking);
            }
            api.cache_refreshes.fetch_add(1, Ordering::Relaxed);
            api.availability_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .days
                .insert(
                    day,
                    CachedDay {
                        fetched_at_ms: now_ms,
                        rooms: rooms.clone(),
                    },
                );
            rooms
        }
    };
    Ok(static_rooms
        .iter()
        .map(|room| (*room, all_rooms.get(room).cloned().unwrap_or_default()))
        .collect())
}

/// The stale cache does learn of the server's own bookings (write-through),
/// so it only goes wrong across servers or between concurrent requests.
fn remember_own_booking(api: &Api, booking: BookingView) {
    let mut cache = api
        .availability_cache
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(day) = cache.days.get_mut(&booking.day) {
        day.rooms.entry(booking.room).or_default().push(booking);
    }
}
