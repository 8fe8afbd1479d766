//! The data set a run starts from: organizations, authorizations,
//! appointments, practitioners, patients and rooms, generated from a
//! [`DataConfig`] and a [`Seed`], and the key layout of every table.
//!
//! Static facts (who belongs to which organization, what a room holds) live
//! in the [`Dataset`] in memory and never change during a run; the services
//! and the invariant checker read them from there. Mutable state (units,
//! statuses, bookings) lives in the store under the keys built here.

use super::api::AppointmentStatus;
use overbook::error::InputError;
use overbook::seed::{Rng64, Seed};
use overbook::sql::{self, SqlDb, Value};
use overbook::store::{Key, Store};
use overbook::system::Bounds;
use serde::{Deserialize, Serialize};

/// Data-set sizes. The defaults are the sizes of the load-test reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Organizations (tenants); every other entity belongs to one.
    pub organizations: u32,
    /// Authorizations, in groups of equal size.
    pub authorizations: Vec<AuthorizationGroup>,
    /// Appointments on the board.
    pub appointments: u32,
    /// Practitioners.
    pub practitioners: u32,
    /// Patients.
    pub patients: u32,
    /// Rooms (shared by every organization: one clinic building).
    pub rooms: u32,
    /// Days that can be booked (day indexes `0..days`).
    pub days: u32,
    /// Clinic opening, minutes since midnight.
    pub clinic_open_min: i64,
    /// Clinic closing, minutes since midnight: visits must end by then.
    pub clinic_close_min: i64,
    /// Cleaning time a room needs after each booking.
    pub cleaning_buffer_min: i64,
    /// Make every room fit every visit (all equipment and specialties,
    /// accessible, isolation-capable, large, always in service), so that a
    /// scenario measures contention for rooms, not their rules.
    pub uniform_rooms: bool,
    /// Every practitioner works from opening to closing (no shifts), for
    /// the same reason.
    pub full_shifts: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            organizations: 3,
            authorizations: vec![
                AuthorizationGroup {
                    count: 10,
                    units: 50,
                },
                AuthorizationGroup {
                    count: 20,
                    units: 200,
                },
                AuthorizationGroup {
                    count: 25,
                    units: 1000,
                },
            ],
            appointments: 20,
            practitioners: 10,
            patients: 20,
            rooms: 10,
            days: 1,
            clinic_open_min: 8 * 60,
            clinic_close_min: 18 * 60,
            cleaning_buffer_min: 10,
            uniform_rooms: false,
            full_shifts: false,
        }
    }
}

impl DataConfig {
    /// Authorizations in all groups.
    pub fn authorization_count(&self) -> u64 {
        self.authorizations.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Checks the sizes make sense and stay within reach; errors name the
    /// field.
    pub fn validate(&self) -> Result<(), InputError> {
        let mut bounds = Bounds::new();
        self.bound(&mut bounds);
        bounds.finish()
    }

    /// Puts the sizes' bounds in `bounds` (fields under `data.`).
    pub fn bound(&self, bounds: &mut Bounds) {
        let day = 0..=24 * 60;
        bounds
            .within("data.organizations", self.organizations, 1, 100_000)
            .at_most("data.authorizations", self.authorization_count(), 1_000_000)
            .at_most("data.appointments", self.appointments, 1_000_000)
            .at_most("data.practitioners", self.practitioners, 100_000)
            .at_most("data.patients", self.patients, 1_000_000)
            .at_most("data.rooms", self.rooms, 10_000)
            .within("data.days", self.days, 1, 3_660)
            .check(
                "data.clinic_open_min",
                day.contains(&self.clinic_open_min)
                    && day.contains(&self.clinic_close_min)
                    && self.clinic_open_min < self.clinic_close_min,
                format!(
                    "{} must be before data.clinic_close_min ({}), both within a day (0 to 1440)",
                    self.clinic_open_min, self.clinic_close_min
                ),
            )
            .within(
                "data.cleaning_buffer_min",
                self.cleaning_buffer_min,
                0,
                24 * 60,
            );
        for (index, group) in self.authorizations.iter().enumerate() {
            let field = format!("data.authorizations.{index}.units");
            bounds.within(&field, group.units, 0, 1_000_000_000);
        }
    }

    /// About how many bytes the data set takes drawn and loaded: a row in
    /// memory and in the store (its versions, index entries and SQL
    /// values) is well under a KiB; a room keeps a list of its days out of
    /// service.
    pub fn size_bytes(&self) -> u64 {
        let rows = u64::from(self.organizations)
            + self.authorization_count()
            + u64::from(self.appointments)
            + u64::from(self.practitioners)
            + u64::from(self.patients)
            + u64::from(self.rooms);
        rows.saturating_mul(1024)
            .saturating_add(u64::from(self.rooms).saturating_mul(u64::from(self.days)))
    }
}

/// A group of authorizations with the same number of units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationGroup {
    /// How many authorizations.
    pub count: u32,
    /// Units each one grants.
    pub units: i64,
}

/// An authorization as loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthorizationInfo {
    /// Id, from 0.
    pub id: u32,
    /// Owning organization.
    pub organization: u32,
    /// Units granted.
    pub units_total: i64,
}

/// An appointment as loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppointmentInfo {
    /// Id, from 0.
    pub id: u32,
    /// Owning organization.
    pub organization: u32,
    /// Status at the start of the run.
    pub initial_status: AppointmentStatus,
    /// Version at the start of the run.
    pub initial_version: i64,
}

/// A practitioner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PractitionerInfo {
    /// Id, from 0.
    pub id: u32,
    /// Employing organization.
    pub organization: u32,
    /// Specialty; a room must allow it.
    pub specialty: String,
    /// Rooms the practitioner likes, best first.
    pub preferred_rooms: Vec<u32>,
    /// The floor of the practitioner's office.
    pub floor: u32,
    /// Start of the practitioner's shift, minutes since midnight.
    pub shift_start_min: i64,
    /// End of the shift: visits must end by then.
    pub shift_end_min: i64,
}

/// A patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PatientInfo {
    /// Id, from 0.
    pub id: u32,
    /// Organization the patient is registered with.
    pub organization: u32,
    /// The room of the patient's last visit, if any.
    pub previous_room: Option<u32>,
    /// Needs a wheelchair-accessible room.
    pub needs_accessibility: bool,
    /// Needs an isolation-capable room (infection control).
    pub needs_isolation: bool,
}

/// A room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    /// Id, from 0.
    pub id: u32,
    /// Floor.
    pub floor: u32,
    /// People it holds.
    pub capacity: u32,
    /// Equipment installed (names from [`Dataset::equipment_names`]).
    pub equipment: Vec<String>,
    /// Wheelchair accessible.
    pub accessible: bool,
    /// Specialties allowed to use it.
    pub specialties: Vec<String>,
    /// Has negative pressure and a separate entry (infection control).
    pub isolation_capable: bool,
    /// Longest single booking the room takes (procedure rooms are short).
    pub max_booking_min: i64,
    /// Days (indexes) the room is out of service for maintenance.
    pub out_of_service_days: Vec<u32>,
    /// Sound-proofed (preferred for long consultations).
    pub quiet: bool,
    /// Has a window (preferred for long visits).
    pub has_window: bool,
    /// Next to the elevator (preferred for patients with reduced mobility).
    pub near_elevator: bool,
}

/// Specialties practitioners have; every room allows `general`.
pub const SPECIALTIES: [&str; 6] = [
    "general",
    "cardiology",
    "dermatology",
    "pediatrics",
    "orthopedics",
    "physiotherapy",
];

/// Equipment names rooms may hold and visits may need.
pub const EQUIPMENT: [&str; 6] = ["exam-table", "ecg", "ultrasound", "sink", "oxygen", "x-ray"];

/// What was loaded: the static facts the services, the workload and the
/// invariants need. Built deterministically from a [`DataConfig`] and a
/// [`Seed`]; ids are indexes into the vectors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// The sizes it was built from.
    pub config: DataConfig,
    /// Authorizations by id.
    pub authorizations: Vec<AuthorizationInfo>,
    /// Appointments by id.
    pub appointments: Vec<AppointmentInfo>,
    /// Practitioners by id.
    pub practitioners: Vec<PractitionerInfo>,
    /// Patients by id.
    pub patients: Vec<PatientInfo>,
    /// Rooms by id.
    pub rooms: Vec<RoomInfo>,
    /// Every equipment name a room may hold.
    pub equipment_names: Vec<String>,
}

fn pick<'a>(rng: &mut Rng64, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

impl Dataset {
    /// Generates the data set. Same config and seed, same data set. Draws
    /// from `seed`'s `"dataset"` stream only.
    pub fn generate(config: &DataConfig, seed: Seed) -> Dataset {
        let mut rng = seed.stream("dataset");
        let organizations = config.organizations.max(1);
        let mut authorizations = Vec::new();
        for group in &config.authorizations {
            for _ in 0..group.count {
                let id = authorizations.len() as u32;
                authorizations.push(AuthorizationInfo {
                    id,
                    organization: id % organizations,
                    units_total: group.units,
                });
            }
        }
        let appointments = (0..config.appointments)
            .map(|id| AppointmentInfo {
                id,
                organization: id % organizations,
                initial_status: if rng.chance(0.3) {
                    AppointmentStatus::Ready
                } else {
                    AppointmentStatus::Scheduled
                },
                initial_version: 1,
            })
            .collect();
        let rooms: Vec<RoomInfo> = (0..config.rooms)
            .map(|id| {
                let room = generate_room(&mut rng, id, config.days);
                if config.uniform_rooms {
                    uniform(room)
                } else {
                    room
                }
            })
            .collect();
        let practitioners = (0..config.practitioners)
            .map(|id| {
                let practitioner = generate_practitioner(&mut rng, id, organizations, config);
                if config.full_shifts {
                    PractitionerInfo {
                        shift_start_min: config.clinic_open_min,
                        shift_end_min: config.clinic_close_min,
                        ..practitioner
                    }
                } else {
                    practitioner
                }
            })
            .collect();
        let patients = (0..config.patients)
            .map(|id| PatientInfo {
                id,
                organization: id % organizations,
                previous_room: if config.rooms > 0 && rng.chance(0.5) {
                    Some(rng.below(u64::from(config.rooms)) as u32)
                } else {
                    None
                },
                needs_accessibility: rng.chance(0.15),
                needs_isolation: rng.chance(0.05),
            })
            .collect();
        Dataset {
            config: config.clone(),
            authorizations,
            appointments,
            practitioners,
            patients,
            rooms,
            equipment_names: EQUIPMENT.iter().map(|e| e.to_string()).collect(),
        }
    }

    /// Loads the mutable rows (authorization counters, appointments) and
    /// the rooms (whose rows bookings lock) into a fresh store whose SQL
    /// schema ([`super::sql_schema`]) is installed. Bookings start empty.
    pub fn load_into(&self, store: &Store) {
        let db = SqlDb::attach(store);
        let load = |table: &str, values: &[Value]| {
            // The schema is ours and the data set is generated to fit it:
            // a refusal here is a bug in this module, not an input error.
            if let Err(e) = db.load(table, values) {
                panic!("loading the clinic data set into {table}: {e}");
            }
        };
        for authorization in &self.authorizations {
            load(
                "authorizations",
                &[
                    i64::from(authorization.id).into(),
                    i64::from(authorization.organization).into(),
                    authorization.units_total.into(),
                    0.into(),
                    0.into(),
                ],
            );
        }
        for appointment in &self.appointments {
            load(
                "appointments",
                &[
                    i64::from(appointment.id).into(),
                    i64::from(appointment.organization).into(),
                    appointment.initial_status.name().into(),
                    appointment.initial_version.into(),
                ],
            );
        }
        for room in &self.rooms {
            load("rooms", &[i64::from(room.id).into()]);
        }
    }

    /// The same rows as `INSERT` statements, for a real PostgreSQL.
    pub fn insert_statements(&self) -> Vec<(&'static str, Vec<Value>)> {
        let mut out = Vec::new();
        for a in &self.authorizations {
            out.push((
                "INSERT INTO authorizations VALUES ($1, $2, $3, 0, 0)",
                vec![
                    i64::from(a.id).into(),
                    i64::from(a.organization).into(),
                    a.units_total.into(),
                ],
            ));
        }
        for a in &self.appointments {
            out.push((
                "INSERT INTO appointments VALUES ($1, $2, $3, $4)",
                vec![
                    i64::from(a.id).into(),
                    i64::from(a.organization).into(),
                    a.initial_status.name().into(),
                    a.initial_version.into(),
                ],
            ));
        }
        for room in &self.rooms {
            out.push((
                "INSERT INTO rooms VALUES ($1)",
                vec![i64::from(room.id).into()],
            ));
        }
        out
    }

    /// The authorization with `id`, if it exists.
    pub fn authorization(&self, id: u32) -> Option<&AuthorizationInfo> {
        self.authorizations.get(id as usize)
    }

    /// The appointment with `id`, if it exists.
    pub fn appointment(&self, id: u32) -> Option<&AppointmentInfo> {
        self.appointments.get(id as usize)
    }

    /// The practitioner with `id`, if it exists.
    pub fn practitioner(&self, id: u32) -> Option<&PractitionerInfo> {
        self.practitioners.get(id as usize)
    }

    /// The patient with `id`, if it exists.
    pub fn patient(&self, id: u32) -> Option<&PatientInfo> {
        self.patients.get(id as usize)
    }

    /// The room with `id`, if it exists.
    pub fn room(&self, id: u32) -> Option<&RoomInfo> {
        self.rooms.get(id as usize)
    }
}

/// `room` made fit for every visit (see [`DataConfig::uniform_rooms`]).
fn uniform(room: RoomInfo) -> RoomInfo {
    RoomInfo {
        capacity: 8,
        equipment: EQUIPMENT.iter().map(|e| e.to_string()).collect(),
        accessible: true,
        specialties: SPECIALTIES.iter().map(|s| s.to_string()).collect(),
        isolation_capable: true,
        max_booking_min: 240,
        out_of_service_days: Vec::new(),
        ..room
    }
}

fn generate_room(rng: &mut Rng64, id: u32, days: u32) -> RoomInfo {
    let mut equipment: Vec<String> = vec!["exam-table".to_string()];
    for name in &EQUIPMENT[1..] {
        if rng.chance(0.3) {
            equipment.push(name.to_string());
        }
    }
    let mut specialties = vec!["general".to_string()];
    for _ in 0..rng.between(1, 2) {
        let specialty = pick(rng, &SPECIALTIES[1..]).to_string();
        if !specialties.contains(&specialty) {
            specialties.push(specialty);
        }
    }
    let out_of_service_days = (0..days).filter(|_| rng.chance(0.05)).collect();
    RoomInfo {
        id,
        floor: rng.below(3) as u32,
        capacity: [1u32, 2, 3, 4, 6, 8][rng.below(6) as usize],
        equipment,
        accessible: rng.chance(0.6),
        specialties,
        isolation_capable: rng.chance(0.2),
        max_booking_min: [60i64, 120, 240][rng.weighted(&[2, 3, 5])],
        out_of_service_days,
        quiet: rng.chance(0.4),
        has_window: rng.chance(0.5),
        near_elevator: rng.chance(0.3),
    }
}

fn generate_practitioner(
    rng: &mut Rng64,
    id: u32,
    organizations: u32,
    config: &DataConfig,
) -> PractitionerInfo {
    let mut preferred_rooms = Vec::new();
    if config.rooms > 0 {
        for _ in 0..rng.between(1, 3) {
            let room = rng.below(u64::from(config.rooms)) as u32;
            if !preferred_rooms.contains(&room) {
                preferred_rooms.push(room);
            }
        }
    }
    // Most practitioners work the whole clinic day; some only a half day.
    let open = config.clinic_open_min;
    let close = config.clinic_close_min;
    let middle = open + (close - open) / 2;
    let (shift_start_min, shift_end_min) = match rng.weighted(&[6, 2, 2]) {
        0 => (open, close),
        1 => (open, middle),
        _ => (middle, close),
    };
    PractitionerInfo {
        id,
        organization: id % organizations,
        // Half are general practitioners so that most rooms fit most visits.
        specialty: if rng.chance(0.5) {
            "general".to_string()
        } else {
            pick(rng, &SPECIALTIES[1..]).to_string()
        },
        preferred_rooms,
        floor: rng.below(3) as u32,
        shift_start_min,
        shift_end_min,
    }
}

/// The store key of authorization `id`'s row.
pub fn authorization_key(id: u32) -> Key {
    sql::row_key("authorizations", &[i64::from(id).into()])
}

/// The store key of appointment `id`'s row.
pub fn appointment_key(id: u32) -> Key {
    sql::row_key("appointments", &[i64::from(id).into()])
}

/// The store key of reservation `id`'s row.
pub fn reservation_key(id: u64) -> Key {
    sql::row_key("reservations", &[(id as i64).into()])
}

/// The store key of booking `id`'s row.
pub fn booking_key(id: u64) -> Key {
    sql::row_key("bookings", &[(id as i64).into()])
}

/// Minutes in a day: absolute minutes (`day * MINUTES_PER_DAY + minute`)
/// let one exclusion constraint per room cover every day.
pub const MINUTES_PER_DAY: i64 = 24 * 60;

/// Minutes since the start of day 0.
pub fn absolute_min(day: u32, minute: i64) -> i64 {
    i64::from(day) * MINUTES_PER_DAY + minute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let config = DataConfig::default();
        let a = Dataset::generate(&config, Seed(5));
        let b = Dataset::generate(&config, Seed(5));
        assert_eq!(a, b);
        assert_eq!(a.authorizations.len(), 55);
        assert_eq!(a.authorizations[0].units_total, 50);
        assert_eq!(a.authorizations[54].units_total, 1000);
        assert_eq!(a.appointments.len(), 20);
        assert_eq!(a.rooms.len(), 10);
        assert!(a.rooms.iter().all(|r| r.specialties[0] == "general"));
        assert_ne!(a, Dataset::generate(&config, Seed(6)));
    }

    #[test]
    fn keys_sort_by_number() {
        assert!(reservation_key(9) < reservation_key(10));
        assert!(authorization_key(2) < authorization_key(10));
        assert!(booking_key(3).as_str().starts_with("bookings/"));
    }

    #[test]
    fn config_rejects_nonsense() {
        let mut config = DataConfig::default();
        assert!(config.validate().is_ok());
        config.clinic_open_min = 20 * 60;
        let err = config.validate().unwrap_err();
        assert_eq!(err.field.as_deref(), Some("data.clinic_open_min"), "{err}");
        config.clinic_open_min = 8 * 60;
        config.appointments = 4_000_000_000;
        config.days = 4_000_000_000;
        let err = config.validate().unwrap_err();
        assert_eq!(err.field.as_deref(), Some("data.appointments"), "{err}");
        assert_eq!(err.also[0].field.as_deref(), Some("data.days"), "{err}");
        let parsed: Result<DataConfig, _> = toml::from_str("rooms = 3\nbogus = 1");
        assert!(parsed.is_err());
        let parsed: DataConfig = toml::from_str("rooms = 3").unwrap();
        assert_eq!(parsed.rooms, 3);
        assert_eq!(parsed.organizations, 3);
    }
}
