//! Virtual clients: when they arrive (Artillery-style phases), what they
//! do (the operation mix), and how they behave on timeouts, conflicts,
//! expired tokens and rate limits (the client policy).
//!
//! A user is a task, generic over a [`Transport`], so the same client code
//! drives the turmoil world and could drive any other engine.

pub mod arrivals;

pub use arrivals::arrival_times_ms;

use crate::scenario::{ClientPolicy, Workload};
use crate::seed::Rng64;
use crate::service::{
    AppointmentStatus, AppointmentView, Dataset, Env, Request, RequestBody, Response, ResponseBody,
    Role, Token,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Why a call got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No response within the client's timeout.
    Timeout,
    /// The connection failed or was closed before a response.
    ConnectionLost,
}

/// Carries one request to an API server and its response back.
pub trait Transport {
    /// Sends `request` and waits at most `timeout_ms` for the response.
    fn call(
        &mut self,
        request: &Request,
        timeout_ms: u64,
    ) -> impl Future<Output = Result<Response, CallError>>;
}

/// One request's round trip, as the client saw it.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The request sent.
    pub request: Request,
    /// The response, or why none came.
    pub response: Result<Response, CallError>,
    /// Simulated time the request was sent.
    pub sent_ms: u64,
    /// Simulated time the response (or the timeout) arrived.
    pub received_ms: u64,
}

/// A user's life events, for liveness.
#[derive(Clone, Debug)]
pub enum UserEvent {
    /// The user arrived.
    Started {
        /// User index.
        user: u32,
    },
    /// The user finished all operations (or gave up).
    Finished {
        /// User index.
        user: u32,
    },
}

/// Where users report what they saw; the world drains it every step.
#[derive(Debug, Default)]
pub struct Observations {
    /// Completed round trips, in the order they completed.
    pub exchanges: Vec<Exchange>,
    /// Arrivals and departures.
    pub users: Vec<UserEvent>,
    /// Client-side resends since the last drain.
    pub client_retries: u64,
}

/// A shared sink of observations.
pub type Observer = Arc<Mutex<Observations>>;

/// The operations of the mix, in [`crate::scenario::Mix::weights`] order.
const OPS: [&str; 6] = ["get-board", "move", "reserve", "release", "consume", "book"];

/// Everything one user needs.
pub struct User<T: Transport> {
    /// User index (also its client id).
    pub index: u32,
    /// The user's own random stream.
    pub rng: Rng64,
    /// The carrier to the API.
    pub transport: T,
    /// Time and sleep.
    pub env: Arc<dyn Env>,
    /// The data set (ids of authorizations, appointments, people).
    pub dataset: Arc<Dataset>,
    /// What to do.
    pub workload: Arc<Workload>,
    /// How to behave.
    pub policy: ClientPolicy,
    /// Where to report.
    pub observer: Observer,
    next_request: u32,
    tokens: BTreeMap<u32, Token>,
    reservations: Vec<u64>,
    reservation_orgs: BTreeMap<u64, u32>,
    board: Option<BTreeMap<u32, AppointmentView>>,
    operations_done: u32,
}

impl<T: Transport> User<T> {
    /// A user about to arrive.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: u32,
        rng: Rng64,
        transport: T,
        env: Arc<dyn Env>,
        dataset: Arc<Dataset>,
        workload: Arc<Workload>,
        policy: ClientPolicy,
        observer: Observer,
    ) -> User<T> {
        User {
            index,
            rng,
            transport,
            env,
            dataset,
            workload,
            policy,
            observer,
            next_request: 0,
            tokens: BTreeMap::new(),
            reservations: Vec::new(),
            reservation_orgs: BTreeMap::new(),
            board: None,
            operations_done: 0,
        }
    }

    /// Runs the user's operations to the end.
    pub async fn run(mut self) {
        self.observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .push(UserEvent::Started { user: self.index });
        let weights = self.workload.mix.weights();
        for op_index in 0..self.workload.ops_per_user {
            if op_index > 0 && self.workload.think_ms_max > 0 {
                let think = self
                    .rng
                    .between(self.workload.think_ms_min, self.workload.think_ms_max);
                self.env.sleep_ms(think).await;
            }
            let op = OPS[self.rng.weighted(&weights)];
            self.operation(op).await;
            self.operations_done += 1;
        }
        self.observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .push(UserEvent::Finished { user: self.index });
    }

    async fn operation(&mut self, op: &str) {
        let key = format!("u{}-op{}", self.index, self.operations_done);
        match op {
            "get-board" => {
                let organization = self.pick_organization();
                self.fetch_board(organization).await;
            }
            "move" => self.move_appointment(&key).await,
            "reserve" => self.reserve(&key).await,
            "release" | "consume" => match self.pick_reservation() {
                Some(reservation) => {
                    let body = if op == "release" {
                        RequestBody::Release { reservation }
                    } else {
                        RequestBody::Consume { reservation }
                    };
                    let organization = self.reservation_org(reservation);
                    let response = self.send(body, organization, Some(&key)).await;
                    if let Some(r) = response {
                        if r.status < 300 || r.status == 404 {
                            self.reservations.retain(|&held| held != reservation);
                        }
                    }
                }
                // Nothing to release yet: a real client would reserve first.
                None => self.reserve(&key).await,
            },
            "book" => self.book(&key).await,
            other => unreachable!("unknown operation {other}"),
        }
    }

    fn pick_organization(&mut self) -> u32 {
        // Organizations are numbered from 0, like every id in the data set.
        let organizations = self.dataset.config.organizations.max(1);
        self.index % organizations
    }

    fn reservation_org(&self, reservation: u64) -> u32 {
        // Reservation ids do not say which authorization they belong to;
        // the user remembers the organization it reserved under.
        self.reservation_orgs
            .get(&reservation)
            .copied()
            .unwrap_or(1)
    }

    async fn reserve(&mut self, key: &str) {
        let authorization = self.pick_authorization();
        let Some(info) = self
            .dataset
            .authorizations
            .iter()
            .find(|a| a.id == authorization)
        else {
            return;
        };
        let organization = info.organization;
        let units = self.rng.between(
            self.workload.units_min as u64,
            self.workload.units_max as u64,
        ) as i64;
        let response = self
            .send(
                RequestBody::Reserve {
                    authorization,
                    units,
                },
                organization,
                Some(key),
            )
            .await;
        if let Some(Response {
            body: ResponseBody::Reserved { reservation, .. },
            ..
        }) = response
        {
            self.reservations.push(reservation);
            self.reservation_orgs.insert(reservation, organization);
        }
    }

    fn pick_authorization(&mut self) -> u32 {
        if self.workload.hot_fraction > 0.0 && self.rng.chance(self.workload.hot_fraction) {
            return self.workload.hot_authorization;
        }
        let pool: Vec<u32> = if self.workload.authorizations.is_empty() {
            self.dataset.authorizations.iter().map(|a| a.id).collect()
        } else {
            self.workload.authorizations.clone()
        };
        if pool.is_empty() {
            return self.workload.hot_authorization;
        }
        pool[self.rng.below(pool.len() as u64) as usize]
    }

    fn pick_reservation(&mut self) -> Option<u64> {
        if self.reservations.is_empty() {
            None
        } else {
            let index = self.rng.below(self.reservations.len() as u64) as usize;
            Some(self.reservations[index])
        }
    }

    async fn fetch_board(&mut self, organization: u32) -> bool {
        let response = self.send(RequestBody::GetBoard, organization, None).await;
        match response {
            Some(Response {
                body: ResponseBody::Board { appointments },
                ..
            }) => {
                self.board = Some(appointments.into_iter().map(|a| (a.id, a)).collect());
                true
            }
            _ => false,
        }
    }

    async fn move_appointment(&mut self, key: &str) {
        let organization = self.pick_organization();
        if (self.board.is_none() || !self.policy.stale_version)
            && !self.fetch_board(organization).await
        {
            return;
        }
        let mut conflicts_left = self.policy.retries_on_409;
        loop {
            let Some(board) = &self.board else { return };
            let candidates: Vec<(u32, AppointmentStatus, AppointmentStatus, i64)> = board
                .values()
                .filter_map(|a| {
                    AppointmentStatus::ALL
                        .into_iter()
                        .find(|&to| a.status.can_move_to(to) && to != AppointmentStatus::Cancelled)
                        .map(|to| (a.id, a.status, to, a.version))
                })
                .collect();
            if candidates.is_empty() {
                return;
            }
            let (appointment, from, to, expected_version) =
                candidates[self.rng.below(candidates.len() as u64) as usize];
            let response = self
                .send(
                    RequestBody::Move {
                        appointment,
                        from,
                        to,
                        expected_version,
                    },
                    organization,
                    Some(key),
                )
                .await;
            match response {
                Some(Response {
                    body: ResponseBody::Moved { version, .. },
                    ..
                }) => {
                    if let Some(view) = self.board.as_mut().and_then(|b| b.get_mut(&appointment)) {
                        view.status = to;
                        view.version = version;
                    }
                    return;
                }
                Some(Response { status: 409, .. }) if conflicts_left > 0 => {
                    conflicts_left -= 1;
                    self.count_client_retry();
                    // The stale client of the k6 report keeps its old board.
                    if !self.policy.stale_version && !self.fetch_board(organization).await {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    async fn book(&mut self, key: &str) {
        let dataset = self.dataset.clone();
        if dataset.practitioners.is_empty() || dataset.patients.is_empty() {
            return;
        }
        let practitioner = if self.workload.distinct_people {
            &dataset.practitioners[self.index as usize % dataset.practitioners.len()]
        } else {
            &dataset.practitioners[self.rng.below(dataset.practitioners.len() as u64) as usize]
        };
        let same_org: Vec<_> = dataset
            .patients
            .iter()
            .filter(|p| p.organization == practitioner.organization)
            .collect();
        let patient = if self.workload.distinct_people {
            &dataset.patients[self.index as usize % dataset.patients.len()]
        } else if same_org.is_empty() {
            &dataset.patients[self.rng.below(dataset.patients.len() as u64) as usize]
        } else {
            same_org[self.rng.below(same_org.len() as u64) as usize]
        };
        let durations = &self.workload.durations_min;
        let duration_min = durations[self.rng.below(durations.len() as u64) as usize];
        let config = &dataset.config;
        let (day, start_min) = if self.workload.hot_slot_fraction > 0.0
            && self.rng.chance(self.workload.hot_slot_fraction)
        {
            (
                0,
                self.workload.hot_slot_min
                    + self.workload.hot_slot_stagger_min * i64::from(self.index % 2),
            )
        } else {
            let day = self.rng.below(u64::from(config.days.max(1))) as u32;
            let latest_start = (config.clinic_close_min - duration_min).max(config.clinic_open_min);
            let slots = ((latest_start - config.clinic_open_min) / 15).max(0) as u64 + 1;
            (
                day,
                config.clinic_open_min + 15 * self.rng.below(slots) as i64,
            )
        };
        let equipment = if !dataset.equipment_names.is_empty()
            && self.rng.chance(self.workload.equipment_probability)
        {
            vec![dataset.equipment_names
                [self.rng.below(dataset.equipment_names.len() as u64) as usize]
                .clone()]
        } else {
            Vec::new()
        };
        let party_size =
            self.rng
                .between(1, u64::from(self.workload.party_size_max.max(1))) as u32;
        let body = RequestBody::Book {
            practitioner: practitioner.id,
            patient: patient.id,
            day,
            start_min,
            duration_min,
            equipment,
            party_size,
        };
        self.send(body, practitioner.organization, Some(key)).await;
    }

    fn count_client_retry(&self) {
        self.observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .client_retries += 1;
    }

    fn token(&mut self, organization: u32, refresh: bool) -> Token {
        let now = self.env.now_ms();
        if refresh {
            self.tokens.remove(&organization);
        }
        let ttl_ms = self.policy.token_ttl_s.saturating_mul(1000);
        *self.tokens.entry(organization).or_insert(Token {
            organization,
            role: Role::Scheduler,
            expires_at_ms: now.saturating_add(ttl_ms),
        })
    }

    /// Sends one logical request under the client policy: resends after a
    /// timeout (same idempotency key), after a 401 with a fresh token, and
    /// after a 429 once the server's retry-after has passed. Returns the
    /// final response, if any.
    async fn send(
        &mut self,
        body: RequestBody,
        organization: u32,
        key: Option<&str>,
    ) -> Option<Response> {
        let mut timeouts_left = self.policy.retries_on_timeout;
        let mut refreshed = false;
        let mut rate_limited = false;
        let mut attempt = 0u32;
        loop {
            let token = self.token(organization, false);
            let request = Request {
                request_id: (u64::from(self.index) << 32) | u64::from(self.next_request),
                client: self.index,
                token: Some(token),
                idempotency_key: if self.policy.idempotency_keys {
                    key.map(str::to_string)
                } else {
                    None
                },
                body: body.clone(),
            };
            self.next_request += 1;
            if attempt > 0 {
                self.count_client_retry();
            }
            attempt += 1;
            let sent_ms = self.env.now_ms();
            let result = self.transport.call(&request, self.policy.timeout_ms).await;
            let received_ms = self.env.now_ms();
            self.observer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .exchanges
                .push(Exchange {
                    request,
                    response: result.clone(),
                    sent_ms,
                    received_ms,
                });
            match result {
                Err(_) if timeouts_left > 0 => timeouts_left -= 1,
                Err(_) => return None,
                Ok(response)
                    if response.status == 401 && self.policy.refresh_token_on_401 && !refreshed =>
                {
                    refreshed = true;
                    self.token(organization, true);
                }
                Ok(Response {
                    body: ResponseBody::RateLimited { retry_after_ms },
                    ..
                }) if self.policy.retry_after_429 && !rate_limited => {
                    rate_limited = true;
                    self.env.sleep_ms(retry_after_ms.max(1)).await;
                }
                Ok(response) => return Some(response),
            }
        }
    }
}
