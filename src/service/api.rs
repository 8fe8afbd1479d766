//! Requests and responses of the booking API, with HTTP-like statuses.
//! These cross the simulated network as JSON lines (see `wire`), and the
//! invariant checker reads them as the client-visible history.

use serde::{Deserialize, Serialize};

/// A caller's role inside its organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Front-desk staff: may read the board and book rooms.
    Staff,
    /// Schedulers: may also move appointments and manage units.
    Scheduler,
    /// Read-only auditors: every write is forbidden.
    Auditor,
}

/// A bearer token as the services see it after signature checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The organization the caller belongs to.
    pub organization: u32,
    /// The caller's role.
    pub role: Role,
    /// Simulated time (ms since the run's start) after which the token is
    /// expired (401).
    pub expires_at_ms: u64,
}

/// Appointment status on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppointmentStatus {
    /// Booked, patient not arrived.
    Scheduled,
    /// Patient checked in, ready to be seen.
    Ready,
    /// Being seen.
    InProgress,
    /// Done.
    Completed,
    /// Cancelled.
    Cancelled,
}

impl AppointmentStatus {
    /// Every status.
    pub const ALL: [AppointmentStatus; 5] = [
        AppointmentStatus::Scheduled,
        AppointmentStatus::Ready,
        AppointmentStatus::InProgress,
        AppointmentStatus::Completed,
        AppointmentStatus::Cancelled,
    ];

    /// The kebab-case name, as stored in the `status` column.
    pub fn name(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Ready => "ready",
            AppointmentStatus::InProgress => "in-progress",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<AppointmentStatus> {
        AppointmentStatus::ALL
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// Whether the board allows moving from `self` to `to`:
    /// scheduled -> ready -> in-progress -> completed, back from ready to
    /// scheduled, and cancel from scheduled or ready.
    pub fn can_move_to(self, to: AppointmentStatus) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, to),
            (Scheduled, Ready)
                | (Ready, Scheduled)
                | (Ready, InProgress)
                | (InProgress, Completed)
                | (Scheduled, Cancelled)
                | (Ready, Cancelled)
        )
    }
}

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum RequestBody {
    /// `GET /board`: every appointment with status and version.
    GetBoard,
    /// `POST /appointments/{id}/move` with optimistic concurrency.
    Move {
        /// Appointment id.
        appointment: u32,
        /// The status the client believes it has.
        from: AppointmentStatus,
        /// The status to move to.
        to: AppointmentStatus,
        /// The version the client last saw.
        expected_version: i64,
    },
    /// `POST /authorizations/{id}/reservations`: reserve units.
    Reserve {
        /// Authorization id.
        authorization: u32,
        /// Units to reserve.
        units: i64,
    },
    /// `DELETE /reservations/{id}`: give a reservation's units back.
    Release {
        /// Reservation id (from the reserve response).
        reservation: u64,
    },
    /// `POST /reservations/{id}/consume`: the visit happened; the
    /// reservation's units move from scheduled to used.
    Consume {
        /// Reservation id.
        reservation: u64,
    },
    /// `POST /bookings`: book a room automatically.
    Book {
        /// Practitioner id.
        practitioner: u32,
        /// Patient id.
        patient: u32,
        /// Day index (0 = first day of the run).
        day: u32,
        /// Start, minutes since midnight.
        start_min: i64,
        /// Length in minutes.
        duration_min: i64,
        /// Equipment the visit needs (names from the data set).
        equipment: Vec<String>,
        /// People in the room (patient, companions, students).
        party_size: u32,
    },
}

impl RequestBody {
    /// The operation's name for reports (`get-board`, `move`, `reserve`...).
    pub fn op_name(&self) -> &'static str {
        match self {
            RequestBody::GetBoard => "get-board",
            RequestBody::Move { .. } => "move",
            RequestBody::Reserve { .. } => "reserve",
            RequestBody::Release { .. } => "release",
            RequestBody::Consume { .. } => "consume",
            RequestBody::Book { .. } => "book",
        }
    }
}

/// A request as it arrives at an API server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Unique per attempt (client id in the high bits); for traces.
    pub request_id: u64,
    /// The virtual client sending it.
    pub client: u32,
    /// The bearer token, if any (`None`: 401).
    pub token: Option<Token>,
    /// The client's idempotency key: equal for every retry of one logical
    /// operation, different across operations.
    pub idempotency_key: Option<String>,
    /// What is asked.
    pub body: RequestBody,
}

/// One appointment as the board shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentView {
    /// Appointment id.
    pub id: u32,
    /// Current status.
    pub status: AppointmentStatus,
    /// Current version.
    pub version: i64,
}

/// A free alternative offered with a 409 from room booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// Room id.
    pub room: u32,
    /// Start, minutes since midnight.
    pub start_min: i64,
}

/// What the API answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ResponseBody {
    /// The board.
    Board {
        /// Appointments in id order.
        appointments: Vec<AppointmentView>,
    },
    /// A move succeeded.
    Moved {
        /// The version before the move (the one the move was made from).
        from_version: i64,
        /// The version after the move.
        version: i64,
    },
    /// A stale version or status (409).
    VersionConflict {
        /// The appointment's current status.
        status: AppointmentStatus,
        /// The appointment's current version.
        current_version: i64,
    },
    /// The move is not allowed from the current status (422).
    InvalidTransition {
        /// The current status.
        status: AppointmentStatus,
    },
    /// Units reserved.
    Reserved {
        /// The new reservation's id.
        reservation: u64,
        /// Units reserved.
        units: i64,
        /// Units still available on the authorization after this.
        units_available: i64,
    },
    /// A reservation released.
    Released {
        /// Units given back.
        units: i64,
    },
    /// A reservation consumed.
    Consumed {
        /// Units moved from scheduled to used.
        units: i64,
    },
    /// Not enough units (409).
    NotEnoughUnits {
        /// Units available.
        units_available: i64,
    },
    /// A room booked.
    Booked {
        /// Booking id.
        booking: u64,
        /// The room chosen.
        room: u32,
        /// The soft-preference score of the chosen room.
        score: i64,
    },
    /// No room fits (409), with alternatives.
    NoRoom {
        /// Why no room fits, in words.
        reason: String,
        /// Other rooms or the next free slots.
        alternatives: Vec<Alternative>,
    },
    /// Not found (404).
    NotFound,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 429.
    RateLimited {
        /// When to retry.
        retry_after_ms: u64,
    },
    /// 503 after the retry budget for 40001/40P01 was spent.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last SQLSTATE.
        sqlstate: String,
    },
    /// 500: an unexpected database error.
    ServerError {
        /// What went wrong.
        message: String,
    },
}

/// A response with its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// HTTP-like status: 200, 201, 401, 403, 404, 409, 422, 429, 500, 503.
    pub status: u16,
    /// Attempts the server made (1 + retries on 40001/40P01).
    pub attempts: u32,
    /// The body.
    pub body: ResponseBody,
}
