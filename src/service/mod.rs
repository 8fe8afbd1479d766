//! The booking services from the load-test reports, written once against
//! the store API: the appointment board (k6), authorization units
//! (Artillery) and room assignment (Locust), each with named planted bugs.
//!
//! A service never touches turmoil: time and sleeping come from an [`Env`],
//! so the same handler runs in the simulated world and in the model checker.
//!
//! A virtual user against one server, with no world around it (the
//! harness's `DirectTransport` and `ManualClock`):
//!
//! ```
//! use overbook::scenario::ClientPolicy;
//! use overbook::seed::Seed;
//! use overbook_clinic::service::{Api, Clinic, ClinicSettings};
//! use overbook::store::{block_on, Pool, Store, StoreConfig};
//! use overbook::system::*;
//! use std::{rc::Rc, sync::{Arc, Mutex}};
//!
//! let settings = Arc::new(ClinicSettings::default());
//! let data = Arc::new(Clinic.data(&settings, Seed(1)));
//! let store = prepare_store(&Clinic, Variant::CORRECT, StoreConfig::default(), Seed(1), &data).unwrap();
//! let clock = ManualClock::default();
//! let pool = Pool::new(store, 4, 16);
//! let server = Rc::new(Api::from_context(ServerContext {
//!     index: 0,
//!     pool: pool.clone(),
//!     database: pool.into(),
//!     env: Arc::new(clock.clone()),
//!     variant: Variant::CORRECT,
//!     data: data.clone(),
//!     settings: settings.clone(),
//!     rng: Mutex::new(Seed(1).stream("api")),
//!     retries: Default::default(),
//! }));
//! let observer: Observer<Clinic> = Default::default();
//! let user = UserContext::new(
//!     0,
//!     Seed(1).stream("user"),
//!     data,
//!     settings,
//!     ClientPolicy::default(),
//!     Arc::new(clock.clone()),
//!     Box::new(DirectTransport::<Clinic>::new(server)),
//!     observer.clone(),
//! );
//! block_on(Clinic.user(user));
//! let seen = observer.lock().unwrap();
//! assert_eq!(seen.exchanges.len(), 1);
//! assert!(seen.exchanges[0].response.as_ref().is_ok_and(|r| r.status == 201));
//! ```
//!
//! Wiring one server by hand (the world does the same on each API host):
//!
//! ```
//! use overbook_clinic::invariant::Checker;
//! use overbook::seed::Seed;
//! use overbook_clinic::service::*;
//! use overbook::sql::SqlDb;
//! use overbook::store::{block_on, PauseFuture, Pool, Schema, Store, StoreConfig};
//! use std::sync::Arc;
//!
//! struct Clockless;
//! impl Env for Clockless {
//!     fn now_ms(&self) -> u64 { 0 }
//!     fn sleep_ms(&self, _ms: u64) -> PauseFuture { Box::pin(std::future::ready(())) }
//! }
//!
//! let seed = Seed(42);
//! let dataset = Arc::new(Dataset::generate(&DataConfig::default(), seed));
//! let config = StoreConfig { record_commits: true, ..StoreConfig::default() };
//! let store = Store::new(Schema::default(), config, seed);
//! SqlDb::attach(&store).install(&sql_schema(Variant::Correct)).unwrap();
//! dataset.load_into(&store);
//! let api = Api::new(
//!     Pool::new(store.clone(), 8, 64),
//!     Arc::new(Clockless),
//!     ServiceConfig::default(),
//!     Variant::Correct,
//!     dataset.clone(),
//!     seed.stream_indexed("api", 0),
//! );
//! let request = Request {
//!     request_id: 1,
//!     client: 7,
//!     token: Some(Token { organization: 0, role: Role::Scheduler, expires_at_ms: 60_000 }),
//!     idempotency_key: Some("reserve-1".into()),
//!     body: RequestBody::Reserve { authorization: 0, units: 5 },
//! };
//! let response = block_on(api.handle(request.clone(), 0));
//! assert_eq!(response.status, 201);
//!
//! let mut checker = Checker::new(dataset);
//! for event in store.drain_commits() {
//!     checker.on_commit(&event).unwrap();
//! }
//! checker.on_response(&request, &response, 0).unwrap();
//! checker.at_end(&store).unwrap();
//! ```

pub(crate) mod access;
pub mod api;
mod board;
pub mod clinic;
pub mod config;
pub mod data;
mod explore_clients;
mod idempotency;

mod retry;
pub mod rooms;
mod server;
pub mod settings;
pub(crate) mod units;
mod user;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

pub use api::*;
pub use clinic::Clinic;
pub use config::{Jitter, RateLimitConfig, RateLimitKey, RetryConfig, ServiceConfig};
pub use data::{
    AppointmentInfo, AuthorizationGroup, AuthorizationInfo, DataConfig, Dataset, PatientInfo,
    PractitionerInfo, RoomInfo,
};
pub use rooms::{HARD_CONSTRAINTS, SOFT_PREFERENCES};
pub use server::{Api, ApiStats};
pub use settings::{ClinicSettings, Mix, Workload};
pub use user::User;

pub use overbook::system::Env;

/// The SQL schema a variant runs on, as the reports' services declared
/// it (the same script runs on the simulated store and on PostgreSQL).
///
/// The correct service has three exclusion constraints: bookings may not
/// overlap per room over `[start, end + cleaning buffer)`, and slots may
/// not overlap per practitioner and per patient over `[start, end)`
/// (spans in absolute minutes, so one constraint covers every day). The
/// three rooms bug variants drop the room constraint, so their bug is the
/// only thing between them and a double-booked room; the practitioner and
/// patient constraints stay, so that the violation found is the one
/// planted.
pub fn sql_schema(variant: Variant) -> String {
    let room_constraint = if has_room_constraint(variant) {
        ",\n    EXCLUDE USING gist (room WITH =, span WITH &&)"
    } else {
        ""
    };
    format!(
        "{SCHEMA_BEFORE_BOOKINGS}
CREATE TABLE bookings (
    booking bigint PRIMARY KEY,
    room integer NOT NULL,
    practitioner integer NOT NULL,
    patient integer NOT NULL,
    day integer NOT NULL,
    start_min integer NOT NULL,
    end_min integer NOT NULL,
    busy_until_min integer NOT NULL,
    span int4range NOT NULL,
    party_size integer NOT NULL,
    equipment text NOT NULL{room_constraint}
);
{SCHEMA_AFTER_BOOKINGS}"
    )
}

/// Whether `variant`'s schema keeps the exclusion constraint on bookings
/// per room (every variant but the three rooms bugs).
pub(crate) fn has_room_constraint(variant: Variant) -> bool {
    !matches!(
        variant,
        Variant::RoomsCheckThenInsertRepeatableRead
            | Variant::RoomsInclusiveEnd
            | Variant::RoomsStaleAvailabilityCache
    )
}

const SCHEMA_BEFORE_BOOKINGS: &str = "CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE authorizations (
    id integer PRIMARY KEY,
    organization integer NOT NULL,
    units_total integer NOT NULL CHECK (units_total >= 0),
    units_used integer NOT NULL DEFAULT 0,
    units_scheduled integer NOT NULL DEFAULT 0
);
-- No REFERENCES on authorization_id: every write of a reservation
-- already locks its authorization FOR UPDATE, and a foreign key would make
-- each statement on either table touch both, which costs the model
-- checker its partial-order reduction.
CREATE TABLE reservations (
    id bigint PRIMARY KEY,
    authorization_id integer NOT NULL,
    units integer NOT NULL CHECK (units > 0),
    state text NOT NULL,
    client bigint NOT NULL,
    idempotency_key text NOT NULL
);
CREATE TABLE appointments (
    id integer PRIMARY KEY,
    organization integer NOT NULL,
    status text NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX appointments_organization ON appointments (organization, id);
-- One row per room, for its lock: a booking locks its room's row before
-- inserting into bookings, so concurrent bookings of one room queue there.
-- Without it they meet in the room's exclusion check, where each has its
-- index entry in place and waits for the others' transactions: when the
-- one they all waited for rolls back, they deadlock.
CREATE TABLE rooms (
    id integer PRIMARY KEY
);
CREATE TABLE idempotency_records (
    client bigint NOT NULL,
    key text NOT NULL,
    request text NOT NULL,
    status integer NOT NULL,
    response text NOT NULL,
    PRIMARY KEY (client, key)
);";

const SCHEMA_AFTER_BOOKINGS: &str =
    "CREATE INDEX bookings_room_day ON bookings (room, day, start_min);
CREATE TABLE practitioner_slots (
    booking bigint PRIMARY KEY,
    practitioner integer NOT NULL,
    day integer NOT NULL,
    room integer NOT NULL,
    start_min integer NOT NULL,
    end_min integer NOT NULL,
    span int4range NOT NULL,
    EXCLUDE USING gist (practitioner WITH =, span WITH &&)
);
CREATE INDEX practitioner_slots_day ON practitioner_slots (practitioner, day, start_min);
CREATE TABLE patient_slots (
    booking bigint PRIMARY KEY,
    patient integer NOT NULL,
    day integer NOT NULL,
    room integer NOT NULL,
    start_min integer NOT NULL,
    end_min integer NOT NULL,
    span int4range NOT NULL,
    EXCLUDE USING gist (patient WITH =, span WITH &&)
);
CREATE INDEX patient_slots_day ON patient_slots (patient, day, start_min);
";

/// Every table of [`sql_schema`], children before parents (the order to
/// drop or empty them in).
pub const TABLES: &[&str] = &[
    "reservations",
    "authorizations",
    "appointments",
    "idempotency_records",
    "bookings",
    "practitioner_slots",
    "patient_slots",
    "rooms",
];

/// A service implementation: the correct one or a named planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Every service as it should be written.
    Correct,
    /// `units/read-committed`: read-then-write of the unit counters at Read
    /// Committed without a row lock: concurrent reserves overbook.
    UnitsReadCommitted,
    /// `units/no-idempotency`: the idempotency key is ignored, so a client's
    /// retry after a lost response reserves twice.
    UnitsNoIdempotency,
    /// `board/no-version-check`: moves ignore `expected_version`: lost updates.
    BoardNoVersionCheck,
    /// `board/version-not-incremented`: a move forgets to bump the version.
    BoardVersionNotIncremented,
    /// `rooms/check-then-insert-repeatable-read`: availability check and
    /// insert at Repeatable Read with no exclusion constraint: write skew,
    /// double booking.
    RoomsCheckThenInsertRepeatableRead,
    /// `rooms/inclusive-end`: the overlap test gets touching intervals and
    /// the cleaning buffer wrong, with no exclusion constraint behind it.
    RoomsInclusiveEnd,
    /// `rooms/stale-availability-cache`: availability is read from a
    /// per-server cache outside the booking transaction.
    RoomsStaleAvailabilityCache,
}

impl Variant {
    /// Every variant, the correct one first.
    pub const ALL: [Variant; 8] = [
        Variant::Correct,
        Variant::UnitsReadCommitted,
        Variant::UnitsNoIdempotency,
        Variant::BoardNoVersionCheck,
        Variant::BoardVersionNotIncremented,
        Variant::RoomsCheckThenInsertRepeatableRead,
        Variant::RoomsInclusiveEnd,
        Variant::RoomsStaleAvailabilityCache,
    ];

    /// The name used on the command line and in corpus entries.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Correct => "correct",
            Variant::UnitsReadCommitted => "units/read-committed",
            Variant::UnitsNoIdempotency => "units/no-idempotency",
            Variant::BoardNoVersionCheck => "board/no-version-check",
            Variant::BoardVersionNotIncremented => "board/version-not-incremented",
            Variant::RoomsCheckThenInsertRepeatableRead => {
                "rooms/check-then-insert-repeatable-read"
            }
            Variant::RoomsInclusiveEnd => "rooms/inclusive-end",
            Variant::RoomsStaleAvailabilityCache => "rooms/stale-availability-cache",
        }
    }

    /// Looks a variant up by name.
    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// One line on what the variant does wrong.
    pub fn description(self) -> &'static str {
        match self {
            Variant::Correct => "all services correct",
            Variant::UnitsReadCommitted => {
                "reserve reads then writes counters at Read Committed without FOR UPDATE"
            }
            Variant::UnitsNoIdempotency => {
                "idempotency keys ignored: a retried reserve reserves twice"
            }
            Variant::BoardNoVersionCheck => "moves ignore expected_version (lost update)",
            Variant::BoardVersionNotIncremented => "a move does not bump the version",
            Variant::RoomsCheckThenInsertRepeatableRead => {
                "check-then-insert at Repeatable Read, no exclusion constraint (write skew)"
            }
            Variant::RoomsInclusiveEnd => {
                "overlap test treats touching intervals as free and drops the cleaning buffer"
            }
            Variant::RoomsStaleAvailabilityCache => {
                "availability read from a per-server cache outside the transaction"
            }
        }
    }
}
