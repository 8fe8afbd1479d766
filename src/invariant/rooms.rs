//! Booking invariants: interval indexes per room, practitioner and patient
//! and day, updated per committed booking row.

use super::{Findings, Tally};
use crate::service::rooms::{room_fits, visit_fits_clinic, BookingView, Visit};
use crate::service::Dataset;
use overbook::store::{Key, KeyRange, Row, Store};
use std::collections::BTreeMap;

/// Intervals of one owner on one day: booking id -> [start, end).
type Intervals = BTreeMap<u64, (i64, i64)>;

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RoomsState {
    /// (day, room) -> booking -> [start, busy_until).
    by_room: BTreeMap<(u32, u32), Intervals>,
    /// (day, practitioner) -> booking -> [start, end).
    by_practitioner: BTreeMap<(u32, u32), Intervals>,
    /// (day, patient) -> booking -> [start, end).
    by_patient: BTreeMap<(u32, u32), Intervals>,
}

fn remove(index: &mut BTreeMap<(u32, u32), Intervals>, owner: (u32, u32), booking: u64) {
    if let Some(intervals) = index.get_mut(&owner) {
        intervals.remove(&booking);
        if intervals.is_empty() {
            index.remove(&owner);
        }
    }
}

/// Inserts `[start, end)` for `booking` and returns the bookings it
/// overlaps. Linear in the owner's bookings that day, which are few.
fn insert(
    index: &mut BTreeMap<(u32, u32), Intervals>,
    owner: (u32, u32),
    booking: u64,
    start: i64,
    end: i64,
) -> Vec<(u64, i64, i64)> {
    let intervals = index.entry(owner).or_default();
    let overlapping = intervals
        .iter()
        .filter(|(other, (s, e))| **other != booking && *s < end && start < *e)
        .map(|(other, (s, e))| (*other, *s, *e))
        .collect();
    intervals.insert(booking, (start, end));
    overlapping
}

fn describe(overlapping: &[(u64, i64, i64)]) -> String {
    overlapping
        .iter()
        .map(|(booking, start, end)| format!("booking {booking} [{start}, {end})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RoomsState {
    pub(super) fn apply(
        &mut self,
        dataset: &Dataset,
        key: &Key,
        after: Option<&Row>,
        before: Option<&Row>,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        if let Some(old) = before.and_then(BookingView::from_row) {
            remove(&mut self.by_room, (old.day, old.room), old.booking);
            remove(
                &mut self.by_practitioner,
                (old.day, old.practitioner),
                old.booking,
            );
            remove(&mut self.by_patient, (old.day, old.patient), old.booking);
        }
        let Some(row) = after else { return };
        let Some(booking) = BookingView::from_row(row) else {
            tally.check(findings, "hard_constraints_hold", false, || {
                format!("booking row {key} is malformed: {row:?}")
            });
            return;
        };
        self.add(dataset, &booking, tally, findings);
    }

    fn add(
        &mut self,
        dataset: &Dataset,
        b: &BookingView,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let overlapping = insert(
            &mut self.by_room,
            (b.day, b.room),
            b.booking,
            b.start_min,
            b.busy_until_min,
        );
        tally.check(findings, "no_room_double_booking", overlapping.is_empty(), || {
            format!(
                "room {} day {}: booking {} [{}, {}) (busy until {}) overlaps {} (intervals include the {}-minute cleaning buffer)",
                b.room, b.day, b.booking, b.start_min, b.end_min, b.busy_until_min,
                describe(&overlapping), dataset.config.cleaning_buffer_min
            )
        });
        let overlapping = insert(
            &mut self.by_practitioner,
            (b.day, b.practitioner),
            b.booking,
            b.start_min,
            b.end_min,
        );
        tally.check(
            findings,
            "no_practitioner_double_booking",
            overlapping.is_empty(),
            || {
                format!(
                    "practitioner {} day {}: booking {} [{}, {}) overlaps {}",
                    b.practitioner,
                    b.day,
                    b.booking,
                    b.start_min,
                    b.end_min,
                    describe(&overlapping)
                )
            },
        );
        let overlapping = insert(
            &mut self.by_patient,
            (b.day, b.patient),
            b.booking,
            b.start_min,
            b.end_min,
        );
        tally.check(
            findings,
            "no_patient_double_booking",
            overlapping.is_empty(),
            || {
                format!(
                    "patient {} day {}: booking {} [{}, {}) overlaps {}",
                    b.patient,
                    b.day,
                    b.booking,
                    b.start_min,
                    b.end_min,
                    describe(&overlapping)
                )
            },
        );
        let broken = hard_constraint_broken(dataset, b);
        tally.check(findings, "hard_constraints_hold", broken.is_none(), || {
            format!(
                "booking {} in room {} breaks hard constraint {}",
                b.booking,
                b.room,
                broken.unwrap_or("?")
            )
        });
    }

    pub(super) fn at_end(
        &self,
        dataset: &Dataset,
        store: &Store,
        cross_check: bool,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let mut recomputed = RoomsState::default();
        for (key, row) in store.scan_committed(&KeyRange::prefix("bookings/")) {
            recomputed.apply(dataset, &key, Some(&row), None, tally, findings);
        }
        if cross_check {
            let count =
                |state: &RoomsState| -> usize { state.by_room.values().map(BTreeMap::len).sum() };
            tally.check(findings, "state_agrees", recomputed == *self, || {
                format!(
                    "booking indexes disagree: {} bookings kept incrementally, {} in committed rows",
                    count(self),
                    count(&recomputed)
                )
            });
        }
    }
}

/// The first static hard constraint a committed booking breaks.
fn hard_constraint_broken(dataset: &Dataset, b: &BookingView) -> Option<&'static str> {
    let (Some(room), Some(practitioner), Some(patient)) = (
        dataset.room(b.room),
        dataset.practitioner(b.practitioner),
        dataset.patient(b.patient),
    ) else {
        return Some("unknown room, practitioner or patient");
    };
    if b.busy_until_min != b.end_min + dataset.config.cleaning_buffer_min {
        return Some("room-free-with-buffer (busy_until is not end + buffer)");
    }
    let visit = Visit {
        practitioner: b.practitioner,
        patient: b.patient,
        day: b.day,
        start_min: b.start_min,
        duration_min: b.end_min - b.start_min,
        equipment: b.equipment.clone(),
        party_size: b.party_size,
    };
    visit_fits_clinic(dataset, &visit, practitioner)
        .and_then(|()| room_fits(room, &visit, practitioner, patient))
        .err()
}
