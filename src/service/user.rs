//! The bundled services' virtual user: what one client of the load-test
//! reports does (the operation mix), and how it behaves on timeouts,
//! conflicts, expired tokens and rate limits (the client policy).

use super::clinic::Clinic;
use super::settings::Workload;
use super::{
    AppointmentStatus, AppointmentView, Request, RequestBody, Response, ResponseBody, Role, Token,
};
use overbook::system::UserContext;
use std::collections::BTreeMap;

/// The operations of the mix, in [`super::Mix::weights`] order.
const OPS: [&str; 6] = ["get-board", "move", "reserve", "release", "consume", "book"];

/// One virtual user of the bundled services.
pub struct User {
    ctx: UserContext<Clinic>,
    tokens: BTreeMap<u32, Token>,
    reservations: Vec<u64>,
    reservation_orgs: BTreeMap<u64, u32>,
    board: Option<BTreeMap<u32, AppointmentView>>,
    operations_done: u32,
}

impl User {
    /// A user about to arrive.
    pub fn new(ctx: UserContext<Clinic>) -> User {
        User {
            ctx,
            tokens: BTreeMap::new(),
            reservations: Vec::new(),
            reservation_orgs: BTreeMap::new(),
            board: None,
            operations_done: 0,
        }
    }

    fn workload(&self) -> &Workload {
        &self.ctx.settings.workload
    }

    /// Runs the user's operations to the end.
    pub async fn run(mut self) {
        let weights = self.workload().mix.weights();
        for op_index in 0..self.workload().ops_per_user {
            if op_index > 0 && self.workload().think_ms_max > 0 {
                let (low, high) = (self.workload().think_ms_min, self.workload().think_ms_max);
                self.ctx.think_ms(low, high).await;
            }
            let op = OPS[self.ctx.rng.weighted(&weights)];
            self.operation(op).await;
            self.operations_done += 1;
        }
    }

    async fn operation(&mut self, op: &str) {
        let key = format!("u{}-op{}", self.ctx.index, self.operations_done);
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
        let organizations = self.ctx.data.config.organizations.max(1);
        self.ctx.index % organizations
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
            .ctx
            .data
            .authorizations
            .iter()
            .find(|a| a.id == authorization)
        else {
            return;
        };
        let organization = info.organization;
        let (low, high) = (self.workload().units_min, self.workload().units_max);
        let units = self.ctx.rng.between(low as u64, high as u64) as i64;
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
        let hot_fraction = self.workload().hot_fraction;
        if hot_fraction > 0.0 && self.ctx.rng.chance(hot_fraction) {
            return self.workload().hot_authorization;
        }
        let pool: Vec<u32> = if self.workload().authorizations.is_empty() {
            self.ctx.data.authorizations.iter().map(|a| a.id).collect()
        } else {
            self.workload().authorizations.clone()
        };
        if pool.is_empty() {
            return self.workload().hot_authorization;
        }
        pool[self.ctx.rng.below(pool.len() as u64) as usize]
    }

    fn pick_reservation(&mut self) -> Option<u64> {
        if self.reservations.is_empty() {
            None
        } else {
            let index = self.ctx.rng.below(self.reservations.len() as u64) as usize;
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
        if (self.board.is_none() || !self.ctx.policy.stale_version)
            && !self.fetch_board(organization).await
        {
            return;
        }
        let mut conflicts_left = self.ctx.policy.retries_on_409;
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
                candidates[self.ctx.rng.below(candidates.len() as u64) as usize];
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
                    if !self.ctx.policy.stale_version && !self.fetch_board(organization).await {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    async fn book(&mut self, key: &str) {
        let dataset = self.ctx.data.clone();
        let settings = self.ctx.settings.clone();
        let workload = &settings.workload;
        if dataset.practitioners.is_empty() || dataset.patients.is_empty() {
            return;
        }
        let practitioner = if workload.distinct_people {
            &dataset.practitioners[self.ctx.index as usize % dataset.practitioners.len()]
        } else {
            &dataset.practitioners[self.ctx.rng.below(dataset.practitioners.len() as u64) as usize]
        };
        let same_org: Vec<_> = dataset
            .patients
            .iter()
            .filter(|p| p.organization == practitioner.organization)
            .collect();
        let patient = if workload.distinct_people {
            &dataset.patients[self.ctx.index as usize % dataset.patients.len()]
        } else if same_org.is_empty() {
            &dataset.patients[self.ctx.rng.below(dataset.patients.len() as u64) as usize]
        } else {
            same_org[self.ctx.rng.below(same_org.len() as u64) as usize]
        };
        let durations = &workload.durations_min;
        let duration_min = durations[self.ctx.rng.below(durations.len() as u64) as usize];
        let config = &dataset.config;
        let (day, start_min) = if workload.hot_slot_fraction > 0.0
            && self.ctx.rng.chance(workload.hot_slot_fraction)
        {
            (
                0,
                workload.hot_slot_min
                    + workload.hot_slot_stagger_min * i64::from(self.ctx.index % 2),
            )
        } else {
            let day = self.ctx.rng.below(u64::from(config.days.max(1))) as u32;
            let latest_start = (config.clinic_close_min - duration_min).max(config.clinic_open_min);
            let slots = ((latest_start - config.clinic_open_min) / 15).max(0) as u64 + 1;
            (
                day,
                config.clinic_open_min + 15 * self.ctx.rng.below(slots) as i64,
            )
        };
        let equipment = if !dataset.equipment_names.is_empty()
            && self.ctx.rng.chance(workload.equipment_probability)
        {
            vec![dataset.equipment_names
                [self.ctx.rng.below(dataset.equipment_names.len() as u64) as usize]
                .clone()]
        } else {
            Vec::new()
        };
        let party_size = self
            .ctx
            .rng
            .between(1, u64::from(workload.party_size_max.max(1))) as u32;
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
        self.ctx.count_client_retry();
    }

    fn token(&mut self, organization: u32, refresh: bool) -> Token {
        let now = self.ctx.now_ms();
        if refresh {
            self.tokens.remove(&organization);
        }
        let ttl_ms = self.ctx.policy.token_ttl_s.saturating_mul(1000);
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
        let mut timeouts_left = self.ctx.policy.retries_on_timeout;
        let mut refreshed = false;
        let mut rate_limited = false;
        let mut attempt = 0u32;
        loop {
            let token = self.token(organization, false);
            let request = Request {
                request_id: self.ctx.next_request_id(),
                client: self.ctx.index,
                token: Some(token),
                idempotency_key: if self.ctx.policy.idempotency_keys {
                    key.map(str::to_string)
                } else {
                    None
                },
                body: body.clone(),
            };
            if attempt > 0 {
                self.count_client_retry();
            }
            attempt += 1;
            let result = self.ctx.call(request).await;
            match result {
                Err(_) if timeouts_left > 0 => timeouts_left -= 1,
                Err(_) => return None,
                Ok(response)
                    if response.status == 401
                        && self.ctx.policy.refresh_token_on_401
                        && !refreshed =>
                {
                    refreshed = true;
                    self.token(organization, true);
                }
                Ok(Response {
                    body: ResponseBody::RateLimited { retry_after_ms },
                    ..
                }) if self.ctx.policy.retry_after_429 && !rate_limited => {
                    rate_limited = true;
                    self.ctx.sleep_ms(retry_after_ms.max(1)).await;
                }
                Ok(response) => return Some(response),
            }
        }
    }
}
