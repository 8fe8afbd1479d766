//! The bundled services' own scenario sections: `[data]` (the data set's
//! sizes), `[workload]` (the operation mix and what users draw) and
//! `[service]` (retries, rate limiting), parsed into [`ClinicSettings`].

use super::{DataConfig, ServiceConfig};
use overbook::error::InputError;
use overbook::system::kit::Sections;
use overbook::system::Bounds;
use serde::{Deserialize, Serialize};

/// The `[data]`, `[workload]` and `[service]` sections of a scenario for
/// the bundled services (each defaulted when a scenario leaves it out).
pub type ClinicSettings = Sections<DataConfig, Workload, ServiceConfig>;

/// Checks values of `settings` that the types alone cannot, and bounds
/// every size, count, time and rate; every problem at once, each naming
/// its field.
pub fn validate(settings: &ClinicSettings) -> Result<(), InputError> {
    let mut bounds = Bounds::new();
    let workload = &settings.workload;
    let day = 24 * 60;
    bounds
        .check(
            "workload.mix",
            workload.mix.weights().iter().any(|&w| w > 0),
            "at least one operation needs a positive weight",
        )
        .at_most(
            "workload.mix",
            workload.mix.weights().iter().map(|&w| u64::from(w)).sum(),
            1_000_000_000,
        )
        .at_most("workload.ops_per_user", workload.ops_per_user, 10_000)
        .at_most("workload.think_ms_max", workload.think_ms_max, 3_600_000)
        .check(
            "workload.think_ms_min",
            workload.think_ms_min <= workload.think_ms_max,
            "must not exceed think_ms_max",
        )
        .within("workload.units_max", workload.units_max, 1, 1_000_000_000)
        .check(
            "workload.units_min",
            workload.units_min >= 1 && workload.units_min <= workload.units_max,
            "must be at least 1 and at most units_max",
        )
        .at_most(
            "workload.authorizations",
            workload.authorizations.len(),
            1_000_000,
        )
        .within("workload.hot_slot_min", workload.hot_slot_min, 0, day)
        .within(
            "workload.hot_slot_stagger_min",
            workload.hot_slot_stagger_min,
            0,
            day,
        )
        .within("workload.party_size_max", workload.party_size_max, 1, 1_000)
        .within(
            "workload.durations_min",
            workload.durations_min.len(),
            1,
            1_000,
        )
        .check(
            "workload.durations_min",
            workload.durations_min.iter().all(|d| (1..=day).contains(d)),
            "needs lengths from 1 to 1440 minutes",
        )
        .probability("workload.hot_fraction", workload.hot_fraction)
        .probability("workload.hot_slot_fraction", workload.hot_slot_fraction)
        .probability(
            "workload.equipment_probability",
            workload.equipment_probability,
        );
    settings.data.bound(&mut bounds);
    settings.service.bound(&mut bounds);
    bounds.finish()
}

/// Operation weights. An operation with weight 0 never runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    /// `GET /board`.
    pub get_board: u32,
    /// Move an appointment.
    #[serde(rename = "move")]
    pub move_appointment: u32,
    /// Reserve units.
    pub reserve: u32,
    /// Release one of the user's reservations.
    pub release: u32,
    /// Consume one of the user's reservations.
    pub consume: u32,
    /// Book a room.
    pub book: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            get_board: 0,
            move_appointment: 0,
            reserve: 70,
            release: 20,
            consume: 10,
            book: 0,
        }
    }
}

impl Mix {
    /// The weights in a fixed order: get-board, move, reserve, release,
    /// consume, book.
    pub fn weights(&self) -> [u32; 6] {
        [
            self.get_board,
            self.move_appointment,
            self.reserve,
            self.release,
            self.consume,
            self.book,
        ]
    }
}

/// What virtual users do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Operation weights.
    pub mix: Mix,
    /// Operations each user makes before leaving.
    pub ops_per_user: u32,
    /// Pause between a user's operations, lowest.
    pub think_ms_min: u64,
    /// Pause between a user's operations, highest.
    pub think_ms_max: u64,
    /// Fraction of unit operations aimed at the hot authorization.
    pub hot_fraction: f64,
    /// The hot authorization's id.
    pub hot_authorization: u32,
    /// Only these authorizations (empty: all).
    pub authorizations: Vec<u32>,
    /// Units per reservation, lowest.
    pub units_min: i64,
    /// Units per reservation, highest.
    pub units_max: i64,
    /// Fraction of room bookings aimed at one hot slot (day 0, `hot_slot_min`).
    pub hot_slot_fraction: f64,
    /// The hot slot's start, minutes since midnight.
    pub hot_slot_min: i64,
    /// Odd-numbered users book the hot slot this much later, so pairs of
    /// bookings touch or nearly overlap (edge cases of interval logic).
    pub hot_slot_stagger_min: i64,
    /// Booking lengths to choose from, minutes.
    pub durations_min: Vec<i64>,
    /// Party size of a booking, highest (lowest is 1).
    pub party_size_max: u32,
    /// Probability a booking asks for one piece of equipment.
    pub equipment_probability: f64,
    /// User `i` books for practitioner `i mod P` and patient `i mod N`
    /// instead of random ones, so bookings compete only for rooms.
    pub distinct_people: bool,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            mix: Mix::default(),
            ops_per_user: 1,
            think_ms_min: 0,
            think_ms_max: 0,
            hot_fraction: 0.0,
            hot_authorization: 1,
            authorizations: Vec::new(),
            units_min: 1,
            units_max: 10,
            hot_slot_fraction: 0.0,
            hot_slot_min: 9 * 60,
            hot_slot_stagger_min: 0,
            durations_min: vec![15, 30, 45, 60],
            party_size_max: 2,
            equipment_probability: 0.3,
            distinct_people: false,
        }
    }
}
